"""The tensor conventions of ARCHITECTURE.md: stream names and channels, scales, window length.

Every module that builds, reads or scores sequences imports these instead of writing them again:
records hold `gray` as uint8 and `flow` as `FLOW_DTYPE`, both [T, H, W, C] with T =
`SEQUENCE_LENGTH`; the models see both in [0, 1] as float32 (`to_model_inputs`); a frame's error
per stream is the mean over H, W, C of the squared reconstruction error (`per_frame_errors`, kind
'mse'), or one of the other `ERROR_KINDS` the named scores of `mouseflax.named_scores` use: 'l2'
(the paper's "l2 norm of the error", the square root of the SUM over H, W, C of the squared error)
and 'patch' (localised: the largest mean squared error over PATCH_SIZE x PATCH_SIZE patches every
PATCH_STRIDE pixels, so a small anomaly is not averaged over the whole frame).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

STREAMS = ("gray", "flow")
STREAM_CHANNELS = {"gray": 1, "flow": 2}
GRAY_SCALE = 255.0  # uint8 gray -> [0, 1].
FLOW_ZERO = 0.5  # The encoded flow of no motion (preprocess.encode_flow), mid-[0, 1].
GRAY_LEVELS = 256  # Entries of a uint8 lookup table.
SEQUENCE_LENGTH = 8  # T: frames per sequence (the paper's window).
# H, W of a model frame: the paper's centre crop of the 32x32 resize (PreprocessConfig.crop_hw).
FRAME_HW = (24, 32)
ERROR_AXES = (2, 3, 4)  # H, W, C of a [B, T, H, W, C] stream.
# Flow is stored as float16 (values in [0, 1], resolution ~5e-4 there): half the bytes of float32.
FLOW_DTYPE = np.float16
# Per-frame error kinds (`per_frame_errors(kind=...)`); 'mse' is the training loss's error.
ERROR_KINDS = ("mse", "l2", "patch")
# The 'patch' error's patches: 8x8 pixels every 4 pixels, 5 x 7 = 35 overlapping patches of a 24x32
# frame, each an eighth of the frame's height (a foreign object or a limb fills a good part of one).
PATCH_SIZE = 8
PATCH_STRIDE = 4


def to_model_inputs(batch: Mapping[str, Any]) -> dict[str, Any]:
  """{'gray': float32 [B,T,H,W,1], 'flow': float32 [B,T,H,W,2]} in [0, 1]; jax-traceable."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top  # Report-only users skip jax.

  return {
      "gray": jnp.asarray(batch["gray"], jnp.float32) / GRAY_SCALE,
      "flow": jnp.asarray(batch["flow"], jnp.float32),
  }


def _patch_max(squared: Any, xp: Any) -> Any:
  """[B, T, H, W, C] squared errors -> [B, T]: the largest patch mean (PATCH_SIZE, PATCH_STRIDE).

  Patch sums from an integral image (cumulative sums), which numpy and jax.numpy both trace; a
  frame smaller than a patch is one patch.
  """
  pixel = xp.mean(squared, axis=-1)  # [B, T, H, W]
  height, width = pixel.shape[-2:]
  ph, pw = min(PATCH_SIZE, height), min(PATCH_SIZE, width)
  padding = [(0, 0)] * (pixel.ndim - 2) + [(1, 0), (1, 0)]
  integral = xp.pad(xp.cumsum(xp.cumsum(pixel, axis=-2), axis=-1), padding)
  top, left = slice(0, height - ph + 1, PATCH_STRIDE), slice(0, width - pw + 1, PATCH_STRIDE)
  bottom = slice(ph, height + 1, PATCH_STRIDE)
  right = slice(pw, width + 1, PATCH_STRIDE)
  sums = (
      integral[..., bottom, right]
      - integral[..., top, right]
      - integral[..., bottom, left]
      + integral[..., top, left]
  )
  return xp.max(sums, axis=(-2, -1)) / (ph * pw)


def per_frame_errors(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    dtype: Any,
    xp: Any = np,
    kind: str = "mse",
) -> dict[str, Any]:
  """{stream: [B, T]} per-frame reconstruction error of `kind`, for each stream `outputs` holds.

  Kinds (`ERROR_KINDS`), from the squared error (x - x_hat)^2 of a frame [H, W, C]:
  'mse' its mean; 'l2' the square root of its sum (the paper's l2 norm of the error); 'patch' the
  largest mean over PATCH_SIZE x PATCH_SIZE patches every PATCH_STRIDE pixels.

  Args:
    inputs: model inputs {stream: [B, T, H, W, C]} in [0, 1].
    outputs: the model's reconstructions (same keys, or a subset; other keys are ignored).
    dtype: the precision of the computation (the evaluator: float64 on the host; scoring: float32
      inside its jitted step).
    xp: the array module, `numpy` or `jax.numpy` (inside jit).
    kind: one of ERROR_KINDS.
  """
  if kind not in ERROR_KINDS:
    raise ValueError(f"error kind {kind!r}: expected one of {list(ERROR_KINDS)}")
  errors = {}
  for s in STREAMS:
    if s not in outputs:
      continue
    squared = (xp.asarray(inputs[s], dtype) - xp.asarray(outputs[s], dtype)) ** 2
    if kind == "mse":
      errors[s] = xp.mean(squared, axis=ERROR_AXES)
    elif kind == "l2":
      errors[s] = xp.sqrt(xp.sum(squared, axis=ERROR_AXES))
    else:
      errors[s] = _patch_max(squared, xp)
  return errors
