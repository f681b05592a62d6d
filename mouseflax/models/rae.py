"""Dual-stream 3D residual autoencoder (RAE), paper section 2.1.

Homogeneous 3x3x3 kernels everywhere; a residual block after every stage of both encoders, of the
fused bottleneck and of both decoders ("residual features are enforced at each stage"). Each stream
is encoded by strided 3D convs (spatial stride 2, temporal stride from config.model.time_strides),
the two codes are concatenated and pass shared layers, then one decoder per stream (stride-matched
transposed 3D convs) reconstructs it in [0,1]. Layer table: README.md.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mouseflax import streams
from mouseflax.models import common
from mouseflax.models import layers

KERNEL = (3, 3, 3)  # The paper's homogeneous 3D kernel.
SPATIAL_STRIDE = 2  # Every stage halves height and width.


class ResBlock(nn.Module):
  """relu(x + conv(relu(conv(x)))) with 3x3x3 convs of x's width."""

  conv_impl: str
  dtype: Any

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = x.shape[-1]
    h = nn.relu(layers.Conv(features, KERNEL, conv_impl=self.conv_impl, dtype=self.dtype)(x))
    h = layers.Conv(features, KERNEL, conv_impl=self.conv_impl, dtype=self.dtype)(h)
    return nn.relu(x + h)


class Stage(nn.Module):
  """A 3x3x3 conv (strided, or transposed when upsampling) followed by `res_blocks` residual
  blocks."""

  features: int
  strides: tuple[int, int, int]
  res_blocks: int
  conv_impl: str
  dtype: Any
  transpose: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = layers.Conv(
        self.features,
        KERNEL,
        self.strides,
        transpose=self.transpose,
        conv_impl=self.conv_impl,
        dtype=self.dtype,
    )(x)
    x = nn.relu(x)
    for _ in range(self.res_blocks):
      x = ResBlock(self.conv_impl, self.dtype)(x)
    return x


class RAE(nn.Module):
  """Dual-stream 3D RAE: gray and flow encoders, fused residual bottleneck, one decoder per
  stream."""

  width: int = 32
  time_strides: tuple[int, ...] = (1, 2)
  res_blocks: int = 1
  conv_impl: str = "auto"
  dtype: str = "float32"
  centre_inputs: bool = False  # As the CAE's (cae.CAE.centre_inputs).
  streams: tuple[str, ...] = ("gray", "flow")

  def _stage_strides(self) -> list[tuple[int, int, int]]:
    if any(s not in (1, 2) for s in self.time_strides):
      raise ValueError(f"config.model.time_strides={self.time_strides}: each must be 1 or 2.")
    return [(t, SPATIAL_STRIDE, SPATIAL_STRIDE) for t in self.time_strides]

  @nn.compact
  def __call__(self, inputs: dict, *, train: bool = False) -> dict:
    del train  # No dropout or normalisation.
    common.check_inputs(inputs, self.streams, spatial_rank=3)
    dtype = common.compute_dtype(self.dtype)
    strides = self._stage_strides()
    stage = lambda f, s, name, transpose=False: Stage(  # pylint: disable=g-long-lambda
        f, s, self.res_blocks, self.conv_impl, dtype, transpose, name=name
    )
    codes = []
    for stream in self.streams:
      x = stage(self.width, (1, 1, 1), f"{stream}_stem")(
          common.stream_input(inputs, stream, dtype, self.centre_inputs)
      )
      for i, s in enumerate(strides):
        x = stage(self.width * 2 ** (i + 1), s, f"{stream}_down{i}")(x)
      codes.append(x)
    fused = stage(codes[0].shape[-1], (1, 1, 1), "fusion")(jnp.concatenate(codes, axis=-1))
    outputs = {}
    for stream in self.streams:
      x = fused
      for i, s in reversed(list(enumerate(strides))):
        x = stage(self.width * 2**i, s, f"{stream}_up{i}", transpose=True)(x)
      x = layers.Conv(
          streams.STREAM_CHANNELS[stream],
          KERNEL,
          conv_impl=self.conv_impl,
          dtype=dtype,
          name=f"{stream}_out",
      )(x)
      outputs[stream] = common.to_output(x)
    return outputs
