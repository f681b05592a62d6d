"""Convolutions with a fast formulation for XLA:CPU, exactly equal to the native one.

Why (measured in benchmarks/README.md, "XLA:CPU convolutions: why they are slow and what helps"):
on XLA:CPU native 3D convolutions run ~15x slower than the same work as 2D convolutions, the weight
gradient of a transposed conv is a naive loop (~0.9 GFLOP/s), and the input gradient of a strided
conv (any lowering that inserts zeros into its input) is slow too (2D 26 GFLOP/s, 3D 0.6-1.3
GFLOP/s). The fast formulation therefore:

- folds the time axis of a 3D conv into channels (kt shifted frames stacked) and runs one 2D conv;
  where the conv changes resolution with time stride 1, the fold sits on the low-resolution side
  (the taps become output channels of a strided conv, or input channels of a transposed one);
- writes a stride-2 transposed conv as one stride-1 conv per output phase (each with only the taps
  that phase uses), interleaved, with a custom VJP whose gradients use the strided conv's forward
  and weight-gradient paths (a transposed conv is the adjoint of a strided conv);
- gives the strided conv a custom VJP whose input gradient is that per-phase transposed conv;
- computes convs with 1-2 output channels (a decoder's last layer) as per-tap matrix products.

Conventions: channels last (NHWC / NDHWC). A conv kernel is [*k, in, out]. A transposed conv kernel
is also [*k, in, out] and the transposed conv is, by definition, the exact adjoint of the
SAME-padded strided conv whose kernel is the same array with in/out swapped ([*k, out, in]).
Padding is always SAME (XLA's split: the smaller half before). Parameters are identical whichever
formulation runs.
"""

from collections.abc import Sequence
import functools
from typing import Any

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

CONV_IMPLS = ("auto", "native", "fast")
DIMENSION_NUMBERS = {2: ("NHWC", "HWIO", "NHWC"), 3: ("NDHWC", "DHWIO", "NDHWC")}
# Backends whose convolutions are slow enough to need the rewrite (see module docstring).
_FAST_BACKENDS = ("cpu",)
# Stride-1 convs with at most this many output channels (the 1-2 channel streams) take the per-tap
# matrix-product path (measured faster for 1 and 2; not measured above).
FEW_OUTPUT_CHANNELS = 2

Pads = tuple[tuple[int, int], ...]


def resolve_conv_impl(conv_impl: str) -> str:
  """Maps 'auto' to 'fast' on the CPU and 'native' elsewhere; validates the name."""
  if conv_impl not in CONV_IMPLS:
    raise ValueError(f"config.model.conv_impl={conv_impl!r} is not one of {CONV_IMPLS}.")
  if conv_impl == "auto":
    return "fast" if jax.default_backend() in _FAST_BACKENDS else "native"
  return conv_impl


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
  """XLA's SAME padding (low, high) of one axis."""
  span = dilation * (kernel - 1) + 1
  out = -(-size // stride)
  total = max((out - 1) * stride + span - size, 0)
  return total // 2, total - total // 2


# --------------------------------------------------------------------------------------------------
# Native (reference) formulations: lax.conv_general_dilated.


def native_conv(
    x: jax.Array, kernel: jax.Array, strides: Sequence[int], dilation: int = 1
) -> jax.Array:
  """SAME conv of x [B, *spatial, C] with kernel [*k, C, O]."""
  nd = kernel.ndim - 2
  pads = [
      same_pads(n, k, s, dilation) for n, k, s in zip(x.shape[1:-1], kernel.shape[:nd], strides)
  ]
  return lax.conv_general_dilated(
      x,
      kernel,
      tuple(strides),
      pads,
      rhs_dilation=(dilation,) * nd,
      dimension_numbers=DIMENSION_NUMBERS[nd],
  )


def native_conv_transpose(y: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
  """Adjoint of the SAME strided conv with kernel.swapaxes(-1, -2): y [B,*n,C] -> [B,*(n*s),O]."""
  nd = kernel.ndim - 2
  pads = []
  for n, k, s in zip(y.shape[1:-1], kernel.shape[:nd], strides):
    lo, hi = same_pads(n * s, k, s)
    # The adjoint's padding: the zeros inserted by lhs dilation shift the window by the forward
    # pads.
    pads.append((k - 1 - lo, k - 1 - hi + (n * s + lo + hi - k) % s))
  flipped = jnp.flip(kernel, axis=tuple(range(nd)))
  return lax.conv_general_dilated(
      y,
      flipped,
      (1,) * nd,
      pads,
      lhs_dilation=tuple(strides),
      dimension_numbers=DIMENSION_NUMBERS[nd],
  )


# --------------------------------------------------------------------------------------------------
# Fast 2D building blocks: per-phase transposed conv and custom VJPs.


def _phase_taps(kernel: int, stride: int, pad_lo: int) -> list[tuple[list[int], int, int]]:
  """Per output phase: the taps it uses (ordered by input offset), and the lowest and highest
  offset."""
  phases = []
  for phase in range(stride):
    used = sorted(
        ((phase + pad_lo - tap) // stride, tap)
        for tap in range(kernel)
        if (phase + pad_lo - tap) % stride == 0
    )
    if not used:
      raise ValueError(
          f"A transposed conv with kernel {kernel} < stride {stride} leaves output phase "
          f"{phase} without taps; use a kernel at least as large as the stride."
      )
    phases.append(([tap for _, tap in used], used[0][0], used[-1][0]))
  return phases


def phase_conv_transpose2d(y: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
  """Same result as native_conv_transpose (2D): one stride-1 conv per output phase with only the
  taps that phase uses (no structural zeros), the phases interleaved."""
  (kh, kw, _, cout), (sh, sw) = kernel.shape, strides
  batch, h, w, _ = y.shape
  phases_h = _phase_taps(kh, sh, same_pads(h * sh, kh, sh)[0])
  phases_w = _phase_taps(kw, sw, same_pads(w * sw, kw, sw)[0])
  rows = []
  for taps_h, lo_h, hi_h in phases_h:
    row = []
    for taps_w, lo_w, hi_w in phases_w:
      sub = kernel[np.array(taps_h)][:, np.array(taps_w)]
      row.append(
          lax.conv_general_dilated(
              y,
              sub,
              (1, 1),
              [(-lo_h, hi_h), (-lo_w, hi_w)],
              dimension_numbers=DIMENSION_NUMBERS[2],
          )
      )
    rows.append(jnp.stack(row, axis=3))  # [B, h, w, phase_w, O]
  out = jnp.stack(rows, axis=2)  # [B, h, phase_h, w, phase_w, O]
  return out.reshape(batch, h * sh, w * sw, cout)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def strided_conv2d(x: jax.Array, kernel: jax.Array, strides: tuple[int, int]) -> jax.Array:
  """SAME strided 2D conv whose input gradient is a per-phase transposed conv."""
  return native_conv(x, kernel, strides)


def _strided_conv2d_fwd(x, kernel, strides):
  return native_conv(x, kernel, strides), (x, kernel)


def _strided_conv2d_bwd(strides, residuals, g):
  x, kernel = residuals
  dx = phase_conv_transpose2d(g, kernel.swapaxes(-1, -2), strides)
  _, weight_vjp = jax.vjp(lambda k: native_conv(x, k, strides), kernel)
  return dx, weight_vjp(g)[0]


strided_conv2d.defvjp(_strided_conv2d_fwd, _strided_conv2d_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_transpose2d(y: jax.Array, kernel: jax.Array, strides: tuple[int, int]) -> jax.Array:
  """Per-phase transposed conv; gradients via the adjoint strided conv's fast paths."""
  return phase_conv_transpose2d(y, kernel, strides)


def _conv_transpose2d_fwd(y, kernel, strides):
  return phase_conv_transpose2d(y, kernel, strides), (y, kernel)


def _conv_transpose2d_bwd(strides, residuals, g):
  y, kernel = residuals
  adjoint = kernel.swapaxes(-1, -2)
  dy = native_conv(g, adjoint, strides)
  # <g, A^T y> = <A g, y>: the kernel gradient is the strided conv's weight gradient at input g.
  _, weight_vjp = jax.vjp(lambda k: native_conv(g, k, strides), adjoint)
  return dy, weight_vjp(y)[0].swapaxes(-1, -2)


conv_transpose2d.defvjp(_conv_transpose2d_fwd, _conv_transpose2d_bwd)


def fast_conv2d(
    x: jax.Array, kernel: jax.Array, strides: Sequence[int], dilation: int = 1
) -> jax.Array:
  """2D SAME conv; strided ones get the custom VJP (stride 1 is already fast natively)."""
  if tuple(strides) == (1, 1) or dilation != 1:
    return native_conv(x, kernel, strides, dilation)
  return strided_conv2d(x, kernel, tuple(strides))


def fast_conv_transpose2d(y: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
  """2D transposed conv (stride 1 is a plain conv: the native path is already fast)."""
  if tuple(strides) == (1, 1):
    return native_conv_transpose(y, kernel, strides)
  return conv_transpose2d(y, kernel, tuple(strides))


# --------------------------------------------------------------------------------------------------
# Shifted windows: each kernel tap's window of the input as a block of channels, and its adjoint.


def _taps(kernel_shape: Sequence[int]) -> list[tuple[int, ...]]:
  """Kernel taps in row-major order (the order of kernel.reshape(-1, in, out))."""
  return list(np.ndindex(*kernel_shape))


def _im2col(y: jax.Array, kernel_shape: Sequence[int], dilation: int, pads: Pads) -> jax.Array:
  """cols[q, (tap, c)] = pad(y)[q + dilation * tap, c]: [B, *n, C] -> [B, *n, taps * C]."""
  spatial = y.shape[1:-1]
  padded = jnp.pad(y, ((0, 0), *pads, (0, 0)))
  windows = [
      padded[(slice(None), *(slice(dilation * t, dilation * t + n) for t, n in zip(tap, spatial)))]
      for tap in _taps(kernel_shape)
  ]
  return jnp.concatenate(windows, axis=-1)


def _sum_over_taps(
    z: jax.Array, kernel_shape: Sequence[int], dilation: int, pads: Pads
) -> jax.Array:
  """out[p] = sum_tap pad(z)[p + dilation * tap, tap block]: the adjoint of _im2col's windows."""
  spatial, taps = z.shape[1:-1], _taps(kernel_shape)
  channels = z.shape[-1] // len(taps)
  padded = jnp.pad(z, ((0, 0), *pads, (0, 0)))
  windows = [
      padded[
          (
              slice(None),
              *(slice(dilation * t, dilation * t + n) for t, n in zip(tap, spatial)),
              slice(i * channels, (i + 1) * channels),
          )
      ]
      for i, tap in enumerate(taps)
  ]
  return functools.reduce(jnp.add, windows)


# --------------------------------------------------------------------------------------------------
# Fast 3D: the time axis folded into channels, then the fast 2D paths.


def _unfold_time(x: jax.Array, kernel_t: int, stride_t: int) -> jax.Array:
  """[B,T,H,W,C] -> [B,T_out,H,W,kt*C]: the kt (SAME-padded) frames each output frame sees."""
  lo, hi = same_pads(x.shape[1], kernel_t, stride_t)
  padded = jnp.pad(x, ((0, 0), (lo, hi), (0, 0), (0, 0), (0, 0)))
  t_out = -(-x.shape[1] // stride_t)
  span = stride_t * (t_out - 1) + 1
  return jnp.concatenate([padded[:, dt : dt + span : stride_t] for dt in range(kernel_t)], axis=-1)


def _time_taps(kernel_t: int, pads: tuple[int, int]) -> tuple[tuple[int, ...], Pads]:
  """The (kt, 1, 1) window shape and pads that make the shifted-window helpers act on time only."""
  return (kernel_t, 1, 1), (pads, (0, 0), (0, 0))


def fast_conv3d(x: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
  """3D SAME conv (dilation 1) as 2D convs over frames, the time taps folded into channels.

  Spatially strided, time stride 1: the taps become output channels of one strided 2D conv and are
  summed at the (4x smaller) output resolution. Otherwise the input frames are unfolded (kt shifted
  frames stacked on channels) into one 2D conv.
  """
  kt, kh, kw, cin, cout = kernel.shape
  if strides[0] == 1 and tuple(strides[1:]) != (1, 1):
    batch, frames = x.shape[:2]
    kernel2d = kernel.transpose(1, 2, 3, 0, 4).reshape(kh, kw, cin, kt * cout)
    taps = fast_conv2d(x.reshape(batch * frames, *x.shape[2:]), kernel2d, strides[1:])
    # out[t] = sum_dt taps[t + dt - lo, block dt]: the time taps summed at the output resolution.
    window, pads = _time_taps(kt, same_pads(frames, kt, 1))
    return _sum_over_taps(taps.reshape(batch, frames, *taps.shape[1:]), window, 1, pads)
  unfolded = _unfold_time(x, kt, strides[0])
  batch, t_out, h, w, _ = unfolded.shape
  kernel2d = kernel.transpose(1, 2, 0, 3, 4).reshape(kh, kw, kt * cin, cout)
  out = fast_conv2d(unfolded.reshape(batch * t_out, h, w, kt * cin), kernel2d, strides[1:])
  return out.reshape(batch, t_out, *out.shape[1:])


def fast_conv_transpose3d(y: jax.Array, kernel: jax.Array, strides: Sequence[int]) -> jax.Array:
  """Adjoint of fast_conv3d as 2D transposed convs over frames.

  Time stride 1: the input frames are unfolded (at the low input resolution) and the time taps
  flipped, so one 2D transposed conv produces the output. Otherwise a 2D transposed conv to kt*O
  channels, then the adjoint of the time unfold.
  """
  kt, kh, kw, cin, cout = kernel.shape
  batch, t_in, h, w, _ = y.shape
  if strides[0] == 1:
    # Block j holds y[t + j - hi], which the adjoint pairs with the flipped time tap kt-1-j.
    lo, hi = same_pads(t_in, kt, 1)
    window, pads = _time_taps(kt, (hi, lo))
    unfolded = _im2col(y, window, 1, pads)
    kernel2d = jnp.flip(kernel, axis=0).transpose(1, 2, 0, 3, 4).reshape(kh, kw, kt * cin, cout)
    out = fast_conv_transpose2d(
        unfolded.reshape(batch * t_in, h, w, kt * cin), kernel2d, strides[1:]
    )
    return out.reshape(batch, t_in, *out.shape[1:])
  kernel2d = kernel.transpose(1, 2, 3, 0, 4).reshape(kh, kw, cin, kt * cout)
  frames = fast_conv_transpose2d(y.reshape(batch * t_in, h, w, cin), kernel2d, strides[1:])
  frames = frames.reshape(batch, t_in, *frames.shape[1:])
  out_shape = jax.ShapeDtypeStruct((batch, t_in * strides[0], *frames.shape[2:4], cout), y.dtype)
  fold_adjoint = jax.linear_transpose(lambda z: _unfold_time(z, kt, strides[0]), out_shape)
  return fold_adjoint(frames)[0]


# --------------------------------------------------------------------------------------------------
# Few output channels (a decoder's last conv, 1 or 2 channels): XLA:CPU's conv kernels run such
# layers at 5-15 GFLOP/s (their GEMM is one or two columns wide). Written with matrix products over
# the taps instead, measured on the CAE's 5x5 32->2 layer (256 frames of 24x32, forward + both
# gradients): 178 -> 66 ms.


def _few_output_pads(x: jax.Array, kernel: jax.Array, dilation: int) -> tuple[Pads, Pads]:
  """SAME pads of the forward, and the adjoint's (high and low swapped)."""
  pads = tuple(same_pads(n, k, 1, dilation) for n, k in zip(x.shape[1:-1], kernel.shape[:-2]))
  return pads, tuple((hi, lo) for lo, hi in pads)


def _flipped_rows(kernel: jax.Array) -> jax.Array:
  """[*k, C, O] -> [(flipped tap, O), C]: the rows that map im2col(g) to the input gradient."""
  nd = kernel.ndim - 2
  flipped = jnp.flip(kernel, axis=tuple(range(nd))).swapaxes(-1, -2)
  return flipped.reshape(-1, kernel.shape[-2])


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def few_output_conv(x: jax.Array, kernel: jax.Array, dilation: int) -> jax.Array:
  """Stride-1 SAME conv (any rank) as x @ [C, taps*O] then a sum of shifted tap blocks."""
  pads, _ = _few_output_pads(x, kernel, dilation)
  kernel_shape, (cin, cout) = kernel.shape[:-2], kernel.shape[-2:]
  per_tap = kernel.reshape(-1, cin, cout).swapaxes(0, 1).reshape(cin, -1)
  return _sum_over_taps(x @ per_tap, kernel_shape, dilation, pads)


def _few_output_conv_fwd(x, kernel, dilation):
  return few_output_conv(x, kernel, dilation), (x, kernel)


def _few_output_conv_bwd(dilation, residuals, g):
  x, kernel = residuals
  _, adjoint_pads = _few_output_pads(x, kernel, dilation)
  kernel_shape, (cin, cout) = kernel.shape[:-2], kernel.shape[-2:]
  # Column (flipped tap t', o) of g's windows pairs output p with input p + tap - lo (tap = k-1-t').
  g_cols = _im2col(g, kernel_shape, dilation, adjoint_pads)
  dx = g_cols @ _flipped_rows(kernel)
  flipped_grad = jnp.einsum("...c,...t->tc", x, g_cols).reshape(*kernel_shape, cout, cin)
  dkernel = jnp.flip(flipped_grad, axis=tuple(range(len(kernel_shape)))).swapaxes(-1, -2)
  return dx, dkernel


few_output_conv.defvjp(_few_output_conv_fwd, _few_output_conv_bwd)


def conv(
    x: jax.Array, kernel: jax.Array, strides: Sequence[int], dilation: int, impl: str
) -> jax.Array:
  """SAME conv (2D or 3D by the kernel's rank) in the chosen formulation ('native' or 'fast')."""
  if impl == "native" or (kernel.ndim == 5 and dilation != 1):
    return native_conv(x, kernel, strides, dilation)
  if kernel.shape[-1] <= FEW_OUTPUT_CHANNELS and all(s == 1 for s in strides):
    return few_output_conv(x, kernel, dilation)
  if kernel.ndim == 4:
    return fast_conv2d(x, kernel, strides, dilation)
  return fast_conv3d(x, kernel, strides)


def conv_transpose(y: jax.Array, kernel: jax.Array, strides: Sequence[int], impl: str) -> jax.Array:
  """SAME transposed conv (2D or 3D by the kernel's rank) in the chosen formulation."""
  if impl == "native":
    return native_conv_transpose(y, kernel, strides)
  if kernel.ndim == 4:
    return fast_conv_transpose2d(y, kernel, strides)
  return fast_conv_transpose3d(y, kernel, strides)


# --------------------------------------------------------------------------------------------------
# Flax module.


# --------------------------------------------------------------------------------------------------
# Biases and dense layers whose gradients are exact in bfloat16.


def add_bias(x: jax.Array, bias: jax.Array) -> jax.Array:
  """x + bias over the last axis, in x's dtype; the bias gradient sums in float32.

  Autodiff's bias gradient is a sum over every other axis (batch x frames x pixels, ~10^5 terms) in
  the cotangent's dtype, and XLA:CPU accumulates a bfloat16 sum in bfloat16: 15% relative error
  on a 16x24x32x16 batch (models README, "bfloat16"). Float32 keeps autodiff's own sum.
  """
  if x.dtype == jnp.float32:
    return x + bias
  return _add_bias_float32_grad(x, bias)


@jax.custom_vjp
def _add_bias_float32_grad(x: jax.Array, bias: jax.Array) -> jax.Array:
  return x + bias.astype(x.dtype)


def _add_bias_fwd(x, bias):
  return _add_bias_float32_grad(x, bias), bias


def _add_bias_bwd(bias, g):
  lead_axes = tuple(range(g.ndim - 1))
  return g, jnp.sum(g, axis=lead_axes, dtype=jnp.float32).astype(bias.dtype)


_add_bias_float32_grad.defvjp(_add_bias_fwd, _add_bias_bwd)


class Dense(nn.Module):
  """flax.linen.Dense's parameters (`kernel` [in, out], `bias` [out], float32, same initialisers)
  with the bias gradient of `add_bias`."""

  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param(
        "kernel", nn.initializers.lecun_normal(), (x.shape[-1], self.features), jnp.float32
    )
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
    return add_bias(jnp.dot(x.astype(self.dtype), kernel.astype(self.dtype)), bias)


class Conv(nn.Module):
  """SAME conv or transposed conv, 2D or 3D by len(kernel_size), on any number of leading axes.

  Parameters (`kernel` [*k, in, out], `bias` [out]) are float32 and the same for every
  formulation, so a checkpoint trained with one loads with the other.
  """

  features: int
  kernel_size: tuple[int, ...]
  strides: tuple[int, ...] | None = None
  dilation: int = 1
  transpose: bool = False
  conv_impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    nd = len(self.kernel_size)
    strides = self.strides or (1,) * nd
    kernel = self.param(
        "kernel",
        nn.initializers.lecun_normal(),
        (*self.kernel_size, x.shape[-1], self.features),
        jnp.float32,
    )
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
    lead = x.shape[: -nd - 1]
    flat = x.reshape(-1, *x.shape[-nd - 1 :]).astype(self.dtype)
    impl = resolve_conv_impl(self.conv_impl)
    if self.transpose:
      out = conv_transpose(flat, kernel.astype(self.dtype), strides, impl)
    else:
      out = conv(flat, kernel.astype(self.dtype), strides, self.dilation, impl)
    out = add_bias(out, bias)
    return out.reshape(*lead, *out.shape[1:])
