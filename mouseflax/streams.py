"""The tensor conventions of ARCHITECTURE.md: stream names and channels, scales, window length.

Every module that builds, reads or scores sequences imports these instead of writing them again:
records hold `gray` as uint8 and `flow` as `FLOW_DTYPE`, both [T, H, W, C] with T =
`SEQUENCE_LENGTH`; the models see both in [0, 1] as float32 (`to_model_inputs`); a frame's error
per stream is the mean over H, W, C of the squared reconstruction error (`per_frame_errors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

STREAMS = ("gray", "flow")
STREAM_CHANNELS = {"gray": 1, "flow": 2}
GRAY_SCALE = 255.0  # uint8 gray -> [0, 1].
GRAY_LEVELS = 256  # Entries of a uint8 lookup table.
SEQUENCE_LENGTH = 8  # T: frames per sequence (the paper's window).
# H, W of a model frame: the paper's centre crop of the 32x32 resize (PreprocessConfig.crop_hw).
FRAME_HW = (24, 32)
ERROR_AXES = (2, 3, 4)  # H, W, C of a [B, T, H, W, C] stream.
# Flow is stored as float16 (values in [0, 1], resolution ~5e-4 there): half the bytes of float32.
FLOW_DTYPE = np.float16


def to_model_inputs(batch: Mapping[str, Any]) -> dict[str, Any]:
  """{'gray': float32 [B,T,H,W,1], 'flow': float32 [B,T,H,W,2]} in [0, 1]; jax-traceable."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top  # Report-only users skip jax.

  return {
      "gray": jnp.asarray(batch["gray"], jnp.float32) / GRAY_SCALE,
      "flow": jnp.asarray(batch["flow"], jnp.float32),
  }


def per_frame_errors(
    inputs: Mapping[str, Any], outputs: Mapping[str, Any], *, dtype: Any, xp: Any = np
) -> dict[str, Any]:
  """{stream: [B, T]} mean over H, W, C of (x - x_hat)^2, for each stream `outputs` reconstructs.

  Args:
    inputs: model inputs {stream: [B, T, H, W, C]} in [0, 1].
    outputs: the model's reconstructions (same keys, or a subset; other keys are ignored).
    dtype: the precision of the computation (the evaluator: float64 on the host; scoring: float32
      inside its jitted step).
    xp: the array module, `numpy` or `jax.numpy` (inside jit).
  """
  return {
      s: xp.mean(
          (xp.asarray(inputs[s], dtype) - xp.asarray(outputs[s], dtype)) ** 2, axis=ERROR_AXES
      )
      for s in STREAMS
      if s in outputs
  }
