"""Time-distributed 2D convolutional autoencoders (CAE): dual-stream (gray + flow) and
single-stream.

Paper section 2.1 / Figure 2: every frame of the 8-frame sequence goes through the same 2D convs;
each stream has its own encoder with non-homogeneous kernels (5x5 then 3x3) and dilation 2 in the
last two layers; the streams are concatenated at the bottleneck, pass a shared conv, and split into
one decoder per stream that mirrors its encoder with stride-2 transposed convs. Layer table:
README.md.
"""

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mouseflax import streams
from mouseflax.models import common
from mouseflax.models import layers

# The encoder of Table 1 (the CAE's, and the supervised baseline's): channels of the first layer,
# then per layer its kernel size, stride and dilation.
WIDTH = 32
KERNELS = (5, 5, 3, 3, 3)
STRIDES = (1, 2, 2, 1, 1)
DILATIONS = (1, 1, 1, 2, 2)


class CAEEncoder(nn.Module):
  """One stream's encoder: [B,T,H,W,C] -> [B,T,H/4,W/4,width*4] (for two stride-2 layers)."""

  width: int
  kernels: tuple[int, ...]
  strides: tuple[int, ...]
  dilations: tuple[int, ...]
  conv_impl: str
  dtype: Any

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = self.width
    for kernel, stride, dilation in zip(self.kernels, self.strides, self.dilations):
      # Channels double whenever the resolution halves, so each layer costs about the same.
      features *= stride
      x = layers.Conv(
          features,
          (kernel, kernel),
          (stride, stride),
          dilation,
          conv_impl=self.conv_impl,
          dtype=self.dtype,
      )(x)
      x = nn.relu(x)
    return x


class CAEDecoder(nn.Module):
  """One stream's decoder: mirrors the encoder's strided layers with stride-2 transposed convs."""

  width: int
  kernels: tuple[int, ...]
  strides: tuple[int, ...]
  out_channels: int
  conv_impl: str
  dtype: Any

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = x.shape[-1]
    for kernel, stride in reversed(list(zip(self.kernels, self.strides))):
      if stride == 1:
        continue
      features //= stride
      x = layers.Conv(
          features,
          (kernel, kernel),
          (stride, stride),
          transpose=True,
          conv_impl=self.conv_impl,
          dtype=self.dtype,
      )(x)
      x = nn.relu(x)
    x = layers.Conv(
        self.out_channels, (self.kernels[0],) * 2, conv_impl=self.conv_impl, dtype=self.dtype
    )(x)
    return common.to_output(x)


# How the streams meet at the bottleneck (`CAE.fusion`; models README: why "cross").
SHARED_FUSION = "shared"  # The paper's: one shared conv (and dense code) over both codes.
CROSS_FUSION = "cross"  # Each decoder reads every code but trains only its own stream's.
FUSIONS = (SHARED_FUSION, CROSS_FUSION)


def flatten_frames(x: jax.Array) -> jax.Array:
  """[..., H, W, C] -> [..., H*W*C]: each frame's feature map as one vector."""
  return x.reshape(*x.shape[:-3], math.prod(x.shape[-3:]))


class DenseCode(nn.Module):
  """Each frame's fused feature map through a dense code of `size` units and back.

  The paper's bottleneck is convolutional: every decoder output sees a few cells of the code, so a
  familiar local shape in an unfamiliar place (a dark body under the lid) reconstructs as well as
  anywhere. A dense code sees the whole frame at once, like the PCA baseline, and is nonlinear.
  """

  size: int
  dtype: Any

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    frame_shape = x.shape[-3:]
    flat = flatten_frames(x)
    code = nn.relu(layers.Dense(self.size, self.dtype, name="encode")(flat))
    flat = nn.relu(layers.Dense(flat.shape[-1], self.dtype, name="decode")(code))
    return flat.reshape(*x.shape[:-3], *frame_shape)


class CrossFusion(nn.Module):
  """Per stream: its own code (dense when `code_size`), and its decoder's input from all codes.

  A decoder reads the other streams' codes through `stop_gradient`, so every trained parameter
  serves one stream's reconstruction. In the shared fusion the gray stream's gradients, far larger
  early in training, took over the shared layers and the flow stream learnt nothing (models README).
  """

  streams: tuple[str, ...]
  code_size: int
  kernel: int
  conv_impl: str
  dtype: Any

  @nn.compact
  def __call__(self, codes: dict[str, jax.Array]) -> dict[str, jax.Array]:
    frame_shape = next(iter(codes.values())).shape[-3:]
    if self.code_size:
      codes = {
          s: nn.relu(
              layers.Dense(self.code_size, self.dtype, name=f"{s}_encode")(flatten_frames(c))
          )
          for s, c in codes.items()
      }
    decoder_inputs = {}
    for stream in self.streams:
      read = jnp.concatenate(
          [c if s == stream else jax.lax.stop_gradient(c) for s, c in codes.items()], axis=-1
      )
      if self.code_size:
        x = layers.Dense(math.prod(frame_shape), self.dtype, name=f"{stream}_decode")(read)
        x = x.reshape(*x.shape[:-1], *frame_shape)
      else:
        x = layers.Conv(
            frame_shape[-1],
            (self.kernel,) * 2,
            conv_impl=self.conv_impl,
            dtype=self.dtype,
            name=f"{stream}_fusion",
        )(read)
      decoder_inputs[stream] = nn.relu(x)
    return decoder_inputs


def validate_layers(kernels, strides, dilations) -> None:
  """The per-layer tuples must align; strides must be 1 or 2 (2 halves the frame)."""
  if not len(kernels) == len(strides) == len(dilations):
    raise ValueError(
        f"config.model.kernels/strides/dilations must have equal lengths; got "
        f"{len(kernels)}, {len(strides)}, {len(dilations)}."
    )
  if any(s not in (1, 2) for s in strides):
    raise ValueError(f"config.model.strides={strides}: each stride must be 1 or 2.")


class CAE(nn.Module):
  """Dual-stream CAE: gray and flow encoders, fused bottleneck, one decoder per stream."""

  width: int = WIDTH
  kernels: tuple[int, ...] = KERNELS
  strides: tuple[int, ...] = STRIDES
  dilations: tuple[int, ...] = DILATIONS
  conv_impl: str = "auto"
  dtype: str = "float32"
  # Units of a dense code between the fusion layer and the decoders; 0 = none (the paper's fully
  # convolutional bottleneck). See `DenseCode`.
  code_size: int = 0
  # Inputs shifted to [-0.5, 0.5] (no motion = 0); False = the raw [0, 1] inputs (runs made before
  # this option). See the models README.
  centre_inputs: bool = False
  # SHARED_FUSION (the paper's; runs made before this option) or CROSS_FUSION (`CrossFusion`).
  fusion: str = SHARED_FUSION
  streams: tuple[str, ...] = ("gray", "flow")

  @nn.compact
  def __call__(self, inputs: dict, *, train: bool = False) -> dict:
    del train  # No dropout or normalisation: train and eval are the same function.
    validate_layers(self.kernels, self.strides, self.dilations)
    common.check_inputs(inputs, self.streams, spatial_rank=3)
    dtype = common.compute_dtype(self.dtype)
    if self.fusion not in FUSIONS:
      raise ValueError(f"config.model.fusion={self.fusion!r}: expected one of {list(FUSIONS)}.")
    codes = {}
    for stream in self.streams:
      x = common.stream_input(inputs, stream, dtype, self.centre_inputs)
      codes[stream] = CAEEncoder(
          self.width,
          self.kernels,
          self.strides,
          self.dilations,
          self.conv_impl,
          dtype,
          name=f"{stream}_encoder",
      )(x)
    if self.fusion == CROSS_FUSION:
      decoder_inputs = CrossFusion(
          self.streams, self.code_size, self.kernels[-1], self.conv_impl, dtype, name="fusion"
      )(codes)
    else:
      fused = jnp.concatenate(list(codes.values()), axis=-1)
      # The shared bottleneck layer: each decoder sees both streams' features.
      fused = layers.Conv(
          fused.shape[-1] // len(codes),
          (self.kernels[-1],) * 2,
          conv_impl=self.conv_impl,
          dtype=dtype,
          name="fusion",
      )(fused)
      fused = nn.relu(fused)
      if self.code_size:
        fused = DenseCode(self.code_size, dtype, name="code")(fused)
      decoder_inputs = {stream: fused for stream in self.streams}
    return {
        stream: CAEDecoder(
            self.width,
            self.kernels,
            self.strides,
            streams.STREAM_CHANNELS[stream],
            self.conv_impl,
            dtype,
            name=f"{stream}_decoder",
        )(decoder_inputs[stream])
        for stream in self.streams
    }


class SingleCAE(CAE):
  """The CAE on grayscale only (paper's single-stream baseline)."""

  streams: tuple[str, ...] = ("gray",)
