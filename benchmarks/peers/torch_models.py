"""PyTorch reference implementations of mouseflax's CAE, single-stream CAE and RAE (benchmark
peers).

Same layers, kernel sizes, strides, dilations, widths and parameter counts as `mouseflax.models`
(layer tables in mouseflax/models/README.md); `benchmarks.throughput` asserts the counts are equal.
Only the speed is compared, not the numbers: SAME padding is written as PyTorch's symmetric padding
(same output shapes and FLOPs; XLA puts the odd pixel of a stride-2 layer's padding at the end).

Inputs and outputs follow the mouseflax tensor conventions, `{'gray': [B,T,H,W,1], 'flow':
[B,T,H,W,2]}` in [0,1]. Permuting such a contiguous tensor to N(C)(T)HW gives exactly PyTorch's
channels-last strides, so `memory_format=torch.channels_last` costs no copy; `contiguous_format`
copies to NCHW.

Needs the optional extra: `pip install -e .[bench]` (torch).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mouseflax import streams
from mouseflax.models import cae
from mouseflax.models import rae

# The architecture constants are mouseflax's own (the peers must match them layer for layer).
STREAM_CHANNELS = streams.STREAM_CHANNELS
CAE_KERNELS = cae.KERNELS
CAE_STRIDES = cae.STRIDES
CAE_DILATIONS = cae.DILATIONS
RAE_TIME_STRIDES = (1, 2)  # As configs/default.py model.time_strides.
RAE_KERNEL = rae.KERNEL[0]  # The paper's homogeneous 3x3x3 kernel.
SPATIAL_STRIDE = rae.SPATIAL_STRIDE


def _conv2d(cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
  """A conv whose output is input/stride (SAME for odd kernels)."""
  return nn.Conv2d(
      cin, cout, kernel, stride, padding=dilation * (kernel - 1) // 2, dilation=dilation
  )


def _conv_transpose2d(cin: int, cout: int, kernel: int, stride: int) -> nn.ConvTranspose2d:
  """A transposed conv whose output is input*stride (odd kernel)."""
  return nn.ConvTranspose2d(
      cin, cout, kernel, stride, padding=kernel // 2, output_padding=stride - 1
  )


class CAEEncoder(nn.Sequential):
  """One stream's 2D encoder; channels double whenever the resolution halves."""

  def __init__(self, cin: int, width: int):
    layers, features = [], width
    for kernel, stride, dilation in zip(CAE_KERNELS, CAE_STRIDES, CAE_DILATIONS):
      features *= stride
      layers += [_conv2d(cin, features, kernel, stride, dilation), nn.ReLU()]
      cin = features
    super().__init__(*layers)


class CAEDecoder(nn.Sequential):
  """Mirrors the encoder's strided layers with transposed convs, then a conv to the stream's
  channels."""

  def __init__(self, features: int, cout: int, width: int):
    del width  # The decoder halves `features` at every transposed layer.
    layers = []
    for kernel, stride in reversed(list(zip(CAE_KERNELS, CAE_STRIDES))):
      if stride == 1:
        continue
      layers += [_conv_transpose2d(features, features // stride, kernel, stride), nn.ReLU()]
      features //= stride
    layers += [_conv2d(features, cout, CAE_KERNELS[0]), nn.Sigmoid()]
    super().__init__(*layers)


class _StreamsModel(nn.Module):
  """Shared plumbing: [B,T,H,W,C] dicts in and out, the chosen memory format inside."""

  def __init__(self, streams: Sequence[str], memory_format: torch.memory_format):
    super().__init__()
    self.streams = tuple(streams)
    self.memory_format = memory_format


class CAE(_StreamsModel):
  """Dual-stream (or, with streams=('gray',), single-stream) time-distributed 2D CAE."""

  def __init__(
      self,
      width: int = 32,
      streams: Sequence[str] = ("gray", "flow"),
      memory_format: torch.memory_format = torch.channels_last,
  ):
    super().__init__(streams, memory_format)
    code = width * 4  # Two stride-2 layers.
    self.encoders = nn.ModuleDict({s: CAEEncoder(STREAM_CHANNELS[s], width) for s in self.streams})
    self.fusion = nn.Sequential(_conv2d(code * len(self.streams), code, CAE_KERNELS[-1]), nn.ReLU())
    self.decoders = nn.ModuleDict(
        {s: CAEDecoder(code, STREAM_CHANNELS[s], width) for s in self.streams}
    )

  def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    batch, frames, height, width, _ = inputs[self.streams[0]].shape
    codes = []
    for s in self.streams:
      # Frames fold into the batch (time-distributed); NHWC -> logical NCHW is a free permute.
      x = inputs[s].reshape(batch * frames, height, width, -1).permute(0, 3, 1, 2)
      codes.append(self.encoders[s](x.contiguous(memory_format=self.memory_format)))
    fused = self.fusion(torch.cat(codes, dim=1))
    return {
        s: self.decoders[s](fused).permute(0, 2, 3, 1).reshape(batch, frames, height, width, -1)
        for s in self.streams
    }


class ResBlock3d(nn.Module):
  """relu(x + conv(relu(conv(x)))) with 3x3x3 convs of x's width."""

  def __init__(self, features: int):
    super().__init__()
    self.conv0 = nn.Conv3d(features, features, RAE_KERNEL, padding=RAE_KERNEL // 2)
    self.conv1 = nn.Conv3d(features, features, RAE_KERNEL, padding=RAE_KERNEL // 2)

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x + self.conv1(torch.relu(self.conv0(x))))


class Stage3d(nn.Sequential):
  """A 3x3x3 conv (strided, or transposed when upsampling), ReLU, then `res_blocks` residual
  blocks."""

  def __init__(
      self,
      cin: int,
      cout: int,
      strides: tuple[int, int, int],
      res_blocks: int,
      transpose: bool = False,
  ):
    pad = RAE_KERNEL // 2
    if transpose:
      conv = nn.ConvTranspose3d(
          cin, cout, RAE_KERNEL, strides, padding=pad, output_padding=tuple(s - 1 for s in strides)
      )
    else:
      conv = nn.Conv3d(cin, cout, RAE_KERNEL, strides, padding=pad)
    super().__init__(conv, nn.ReLU(), *[ResBlock3d(cout) for _ in range(res_blocks)])


class RAE(_StreamsModel):
  """Dual-stream 3D residual autoencoder."""

  def __init__(
      self,
      width: int = 32,
      res_blocks: int = 1,
      streams: Sequence[str] = ("gray", "flow"),
      memory_format: torch.memory_format = torch.channels_last_3d,
  ):
    super().__init__(streams, memory_format)
    strides = [(t, SPATIAL_STRIDE, SPATIAL_STRIDE) for t in RAE_TIME_STRIDES]
    depth = len(strides)
    self.encoders = nn.ModuleDict()
    self.decoders = nn.ModuleDict()
    for s in self.streams:
      enc = [Stage3d(STREAM_CHANNELS[s], width, (1, 1, 1), res_blocks)]
      enc += [
          Stage3d(width * 2**i, width * 2 ** (i + 1), st, res_blocks)
          for i, st in enumerate(strides)
      ]
      self.encoders[s] = nn.Sequential(*enc)
      dec = [
          Stage3d(width * 2 ** (i + 1), width * 2**i, strides[i], res_blocks, transpose=True)
          for i in reversed(range(depth))
      ]
      dec += [
          nn.Conv3d(width, STREAM_CHANNELS[s], RAE_KERNEL, padding=RAE_KERNEL // 2),
          nn.Sigmoid(),
      ]
      self.decoders[s] = nn.Sequential(*dec)
    code = width * 2**depth
    self.fusion = Stage3d(code * len(self.streams), code, (1, 1, 1), res_blocks)

  def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    codes = []
    for s in self.streams:
      x = inputs[s].permute(0, 4, 1, 2, 3)  # [B,T,H,W,C] -> logical [B,C,T,H,W], free permute.
      codes.append(self.encoders[s](x.contiguous(memory_format=self.memory_format)))
    fused = self.fusion(torch.cat(codes, dim=1))
    return {s: self.decoders[s](fused).permute(0, 2, 3, 4, 1) for s in self.streams}


def create(name: str, width: int = 32, channels_last: bool = True) -> nn.Module:
  """The peer of mouseflax model `name` ('cae', 'cae_single', 'rae') in the chosen memory format."""
  if name in ("cae", "cae_single"):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    streams = ("gray", "flow") if name == "cae" else ("gray",)
    model = CAE(width, streams, fmt)
  elif name == "rae":
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    model = RAE(width, memory_format=fmt)
  else:
    raise ValueError(f"No PyTorch peer for model {name!r}; peers exist for cae, cae_single, rae.")
  return model.to(memory_format=fmt)


def conv_layer(
    cin: int,
    cout: int,
    kernel_size: Sequence[int],
    strides: Sequence[int],
    dilation: int,
    transpose: bool,
) -> tuple[nn.Module, torch.memory_format]:
  """One layer's peer (2D or 3D by len(kernel_size), odd kernels), channels-last, for per-layer
  timing."""
  nd, kernel = len(kernel_size), kernel_size[0]
  if any(k != kernel for k in kernel_size):
    raise ValueError(f"Peer layers need cubic kernels; got {tuple(kernel_size)}.")
  fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
  pad = dilation * (kernel - 1) // 2
  if transpose:
    cls = nn.ConvTranspose2d if nd == 2 else nn.ConvTranspose3d
    layer = cls(
        cin,
        cout,
        kernel,
        tuple(strides),
        padding=kernel // 2,
        output_padding=tuple(s - 1 for s in strides),
    )
  else:
    cls = nn.Conv2d if nd == 2 else nn.Conv3d
    layer = cls(cin, cout, kernel, tuple(strides), padding=pad, dilation=dilation)
  return layer.to(memory_format=fmt), fmt


def param_count(model: nn.Module) -> int:
  return sum(p.numel() for p in model.parameters())
