"""The fast CPU conv formulations equal lax.conv_general_dilated (forward and both gradients)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mouseflax.models import layers

TOLERANCE = 1e-5
# (kernel shape [*k, in, out], strides, input spatial shape)
CONV_CASES = {
    "2d_strided_k3": ((3, 3, 3, 4), (2, 2), (12, 16)),
    "2d_strided_k5": ((5, 5, 3, 4), (2, 2), (12, 16)),
    "3d_stride1": ((3, 3, 3, 3, 4), (1, 1, 1), (8, 12, 16)),
    # At most FEW_OUTPUT_CHANNELS outputs: per-tap matrix products (a decoder's last conv).
    "3d_stride1_few_out": ((3, 3, 3, 4, 2), (1, 1, 1), (8, 12, 16)),
    "2d_stride1_few_out_k5": ((5, 5, 6, 1), (1, 1), (12, 16)),
    "2d_stride1_few_out_even_k4": ((4, 4, 5, 2), (1, 1), (7, 9)),
    "3d_strided_122": ((3, 3, 3, 3, 4), (1, 2, 2), (8, 12, 16)),
    "3d_strided_222": ((3, 3, 3, 3, 4), (2, 2, 2), (8, 12, 16)),
}
TRANSPOSE_CASES = {
    "2d_transposed_k3": ((3, 3, 3, 4), (2, 2), (6, 8)),
    "2d_transposed_k5": ((5, 5, 3, 4), (2, 2), (6, 8)),
    "3d_transposed_122": ((3, 3, 3, 3, 4), (1, 2, 2), (4, 6, 8)),
    "3d_transposed_222": ((3, 3, 3, 3, 4), (2, 2, 2), (4, 6, 8)),
}


def _relative_error(a, b):
  return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


def _assert_same_function_and_gradients(fast, native, x, kernel):
  with jax.default_matmul_precision("highest"):
    out_fast, vjp_fast = jax.vjp(fast, x, kernel)
    out_native, vjp_native = jax.vjp(native, x, kernel)
    cotangent = jax.random.normal(jax.random.PRNGKey(3), out_native.shape)
    grads_fast, grads_native = vjp_fast(cotangent), vjp_native(cotangent)
  assert out_fast.shape == out_native.shape
  assert _relative_error(out_fast, out_native) < TOLERANCE
  assert _relative_error(grads_fast[0], grads_native[0]) < TOLERANCE, "input gradient"
  assert _relative_error(grads_fast[1], grads_native[1]) < TOLERANCE, "kernel gradient"


def _random(shape, seed):
  return jax.random.normal(jax.random.PRNGKey(seed), shape)


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_fast_conv_equals_lax_conv(case):
  kernel_shape, strides, spatial = CONV_CASES[case]
  x, kernel = _random((2, *spatial, kernel_shape[-2]), 0), _random(kernel_shape, 1)
  reference = lambda x, k: jax.lax.conv_general_dilated(
      x, k, strides, "SAME", dimension_numbers=layers.DIMENSION_NUMBERS[len(strides)]
  )
  _assert_same_function_and_gradients(
      lambda x, k: layers.conv(x, k, strides, 1, "fast"), reference, x, kernel
  )


@pytest.mark.parametrize("case", sorted(TRANSPOSE_CASES))
def test_fast_conv_transpose_equals_native(case):
  kernel_shape, strides, spatial = TRANSPOSE_CASES[case]
  y, kernel = _random((2, *spatial, kernel_shape[-2]), 0), _random(kernel_shape, 1)
  _assert_same_function_and_gradients(
      lambda y, k: layers.conv_transpose(y, k, strides, "fast"),
      lambda y, k: layers.native_conv_transpose(y, k, strides),
      y,
      kernel,
  )


@pytest.mark.parametrize("case", ["2d_transposed_k3", "2d_transposed_k5", "3d_transposed_222"])
def test_native_conv_transpose_is_adjoint_of_strided_lax_conv(case):
  kernel_shape, strides, spatial = TRANSPOSE_CASES[case]
  y, kernel = _random((2, *spatial, kernel_shape[-2]), 0), _random(kernel_shape, 1)
  out_shape = (2, *(n * s for n, s in zip(spatial, strides)), kernel_shape[-1])
  forward = lambda z: jax.lax.conv_general_dilated(
      z,
      kernel.swapaxes(-1, -2),
      strides,
      "SAME",
      dimension_numbers=layers.DIMENSION_NUMBERS[len(strides)],
  )
  with jax.default_matmul_precision("highest"):
    adjoint = jax.linear_transpose(forward, jax.ShapeDtypeStruct(out_shape, jnp.float32))(y)[0]
    native = layers.native_conv_transpose(y, kernel, strides)
  assert _relative_error(native, adjoint) < TOLERANCE


def test_few_output_dilated_conv_equals_native():
  x, kernel = _random((2, 9, 11, 5), 0), _random((3, 3, 5, 2), 1)
  _assert_same_function_and_gradients(
      lambda x, k: layers.conv(x, k, (1, 1), 2, "fast"),
      lambda x, k: layers.native_conv(x, k, (1, 1), 2),
      x,
      kernel,
  )


def test_dilated_conv_fast_equals_native():
  x, kernel = _random((2, 6, 8, 3), 0), _random((3, 3, 3, 4), 1)
  np.testing.assert_array_equal(
      layers.conv(x, kernel, (1, 1), 2, "fast"), layers.native_conv(x, kernel, (1, 1), 2)
  )


def test_auto_resolves_to_fast_on_cpu_and_rejects_unknown():
  assert layers.resolve_conv_impl("auto") == (
      "fast" if jax.default_backend() == "cpu" else "native"
  )
  with pytest.raises(ValueError, match="conv_impl"):
    layers.resolve_conv_impl("winograd")


def test_transposed_conv_kernel_smaller_than_stride_is_refused():
  y, kernel = _random((1, 3, 4, 2), 0), _random((1, 1, 2, 3), 1)
  with pytest.raises(ValueError, match="kernel 1 < stride 2"):
    layers.conv_transpose(y, kernel, (2, 2), "fast")


def _relative_error(a: jax.Array, reference: jax.Array) -> float:
  a = a.astype(jnp.float32)
  return float(jnp.linalg.norm(a - reference) / jnp.linalg.norm(reference))


def test_bias_gradient_sums_in_float32_under_bfloat16():
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((16, 24, 32, 16)), jnp.float32)
  g = jnp.asarray(rng.standard_normal(x.shape), jnp.float32)
  bias = jnp.zeros(16, jnp.float32)
  reference = jnp.sum(g, axis=(0, 1, 2))

  def bias_grad(add, dtype):
    _, vjp = jax.vjp(lambda b: add(x.astype(dtype), b), bias)
    return vjp(g.astype(dtype))[0]

  naive = bias_grad(lambda y, b: y + b.astype(y.dtype), jnp.bfloat16)
  fixed = bias_grad(layers.add_bias, jnp.bfloat16)
  assert fixed.dtype == jnp.float32
  # bfloat16 inputs carry ~0.4% error each; the sum must not add more (the naive one: ~15%).
  assert _relative_error(fixed, reference) < 0.01 < _relative_error(naive, reference)
  # float32 is autodiff's own sum, bit for bit.
  assert bool(jnp.all(bias_grad(layers.add_bias, jnp.float32) == bias_grad(jnp.add, jnp.float32)))


def test_dense_has_flax_dense_parameters():
  x = jnp.ones((3, 5))
  ours = layers.Dense(4).init(jax.random.PRNGKey(0), x)
  flax_dense = nn.Dense(4).init(jax.random.PRNGKey(0), x)
  assert jax.tree.map(jnp.shape, ours) == jax.tree.map(jnp.shape, flax_dense)
  # Same initialisers, so the same parameters and outputs (a checkpoint of either loads in both).
  assert all(
      bool(jnp.all(a == b)) for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(flax_dense))
  )
  y = jnp.asarray(np.random.default_rng(1).standard_normal((3, 5)), jnp.float32)
  assert bool(jnp.all(layers.Dense(4).apply(ours, y) == nn.Dense(4).apply(ours, y)))
