"""FLOPs of a model's convolutions, counted from its layer shapes (no compile).

Used by `benchmarks.throughput` and `benchmarks.gpu_paper_schedule`; imports nothing beyond flax,
jax, numpy and mouseflax.models (so it runs where tensorflow-datasets / ml_collections are absent).
Counts 2 x multiply-adds on real (non-padding) taps, as XLA's cost analysis counts the native
forward (mouseflax/models/README.md; within 0.3% of it: XLA adds the elementwise ops). It is the
model's arithmetic whatever formulation runs (the fast CPU one computes some structural zeros on
top).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mouseflax import streams
from mouseflax.models import layers

SEQUENCE_SHAPE = (streams.SEQUENCE_LENGTH, *streams.FRAME_HW)  # T, H, W of one example.
TRAIN_FLOPS_PER_FORWARD = 3  # A training step: forward + input gradient + weight gradient.


def example_inputs(batch: int) -> dict[str, jax.Array]:
  return {s: jnp.zeros((batch, *SEQUENCE_SHAPE, c)) for s, c in streams.STREAM_CHANNELS.items()}


def conv_calls(model: nn.Module, batch: int) -> list[tuple[str, layers.Conv, tuple[int, ...]]]:
  """(path, unbound module, input shape) of every layers.Conv call in one forward pass."""
  calls = []

  def record(next_fun, args, kwargs, context):
    if context.method_name == "__call__" and isinstance(context.module, layers.Conv):
      calls.append(
          (
              "/".join(context.module.path),
              context.module.clone(parent=None, name=None),
              args[0].shape,
          )
      )
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    jax.eval_shape(model.init, jax.random.PRNGKey(0), example_inputs(batch))
  return calls


def _valid_taps(size: int, kernel: int, stride: int, dilation: int) -> int:
  """(output pixel, tap) pairs of one SAME conv axis whose tap falls inside the input (not
  padding)."""
  lo, _ = layers.same_pads(size, kernel, stride, dilation)
  return sum(
      1
      for o in range(-(-size // stride))
      for t in range(kernel)
      if 0 <= o * stride - lo + t * dilation < size
  )


def conv_flops(module: layers.Conv, shape: tuple[int, ...]) -> int:
  """2 x multiply-adds of one conv call; a transposed conv does those of the strided conv it is the
  adjoint of (whose input is the transposed conv's output)."""
  nd = len(module.kernel_size)
  strides = module.strides or (1,) * nd
  spatial = shape[-nd - 1 : -1]
  if module.transpose:
    spatial = [n * s for n, s in zip(spatial, strides)]
  pairs = np.prod(
      [
          _valid_taps(n, k, s, module.dilation)
          for n, k, s in zip(spatial, module.kernel_size, strides)
      ]
  )
  return 2 * int(np.prod(shape[: -nd - 1])) * int(pairs) * shape[-1] * module.features


def forward_flops_per_sequence(model: nn.Module) -> float:
  """FLOPs of every conv of one 8-frame sequence (elementwise ops are negligible here)."""
  return float(sum(conv_flops(m, shape) for _, m, shape in conv_calls(model, 1)))
