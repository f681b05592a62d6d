"""Models: shapes, [0,1] outputs, documented parameter counts, real fusion, gradients,
determinism."""

import functools
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mouseflax import models
from mouseflax.models import cae
from mouseflax.models import common
from mouseflax.models import stats

README = pathlib.Path(models.__file__).parent / "README.md"
TINY = {"width": 4, "res_blocks": 1}  # Tiny variant: same layers, 4 base channels.
BATCH = 2


def _inputs(seed: int = 0) -> dict:
  gray_key, flow_key = jax.random.split(jax.random.PRNGKey(seed))
  return {
      "gray": jax.random.uniform(gray_key, (BATCH, *stats.SEQUENCE_SHAPE, 1)),
      "flow": jax.random.uniform(flow_key, (BATCH, *stats.SEQUENCE_SHAPE, 2)),
  }


# Initialisers drawn with threefry compile 5-8x slower on XLA:CPU than with rbg (as in train.py).
INIT_KEY_IMPL = "rbg"


def _tiny(name: str, **overrides):
  model = models.create_model(stats.model_config(name, **{**TINY, **overrides}))
  return model, jax.jit(model.init)(jax.random.key(0, impl=INIT_KEY_IMPL), _inputs())


@pytest.mark.parametrize("name", stats.MODEL_NAMES)
def test_output_shapes_and_range(name):
  model, params = _tiny(name)
  inputs = _inputs()
  outputs = jax.jit(model.apply)(params, inputs)
  if name == "supervised":
    assert outputs["logits"].shape == (BATCH, stats.SEQUENCE_SHAPE[0], 2)
    return
  expected = ("gray",) if name == "cae_single" else ("gray", "flow")
  assert sorted(outputs) == sorted(expected)
  for stream in expected:
    out = outputs[stream]
    assert out.shape == inputs[stream].shape and out.dtype == jnp.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def _readme_param_counts() -> dict[str, int]:
  rows = re.findall(r"^\| (\w+) \| ([\d,]+) \|", README.read_text(), flags=re.M)
  return {name: int(count.replace(",", "")) for name, count in rows}


def test_parameter_counts_match_readme():
  documented = _readme_param_counts()
  for name in stats.MODEL_NAMES:
    assert documented[name] == stats.param_count(name), f"{name}: README.md table is stale"


@pytest.mark.parametrize("name", ["cae", "rae"])
def test_flow_input_changes_gray_reconstruction(name):
  model, params = _tiny(name)
  inputs = _inputs()
  changed = dict(inputs, flow=1.0 - inputs["flow"])
  apply = jax.jit(model.apply)
  gray, gray_changed = apply(params, inputs)["gray"], apply(params, changed)["gray"]
  assert float(jnp.max(jnp.abs(gray - gray_changed))) > 0.0


@pytest.mark.parametrize("name", ["cae", "rae"])
def test_gradients_reach_both_encoders(name):
  model, params = _tiny(name)
  inputs = _inputs()

  def loss(p):
    out = model.apply(p, inputs)
    return sum(jnp.mean((out[s] - inputs[s]) ** 2) for s in out)

  grads = jax.jit(jax.grad(loss))(params)["params"]
  for stream in ("gray", "flow"):
    stream_grads = [
        g
        for k, g in grads.items()
        if k.startswith(f"{stream}_") and "decoder" not in k and "_up" not in k and "_out" not in k
    ]
    assert stream_grads, f"no {stream} encoder parameters"
    assert sum(float(jnp.sum(jnp.abs(x))) for x in jax.tree.leaves(stream_grads)) > 0.0


@pytest.mark.parametrize("name", ["cae", "rae"])
def test_native_and_fast_share_parameters_and_outputs(name):
  native, params = _tiny(name, conv_impl="native")
  fast, fast_params = _tiny(name, conv_impl="fast")
  assert jax.tree.structure(params) == jax.tree.structure(fast_params)
  assert [x.shape for x in jax.tree.leaves(params)] == [
      x.shape for x in jax.tree.leaves(fast_params)
  ]
  inputs = _inputs()
  with jax.default_matmul_precision("highest"):
    a, b = jax.jit(native.apply)(params, inputs), jax.jit(fast.apply)(params, inputs)
  for stream in a:
    np.testing.assert_allclose(a[stream], b[stream], atol=1e-5)


def test_deterministic_for_a_fixed_seed():
  model, params = _tiny("cae")
  _, params_again = _tiny("cae")
  jax.tree.map(np.testing.assert_array_equal, params, params_again)
  np.testing.assert_array_equal(
      model.apply(params, _inputs())["gray"], model.apply(params_again, _inputs())["gray"]
  )


def test_dense_code_is_per_frame_and_sized_by_the_config():
  code_size = 16
  model, params = _tiny("cae", code_size=code_size)
  fused_cells = np.prod(stats.SEQUENCE_SHAPE[1:]) // 16 * TINY["width"] * 4  # 6x8 cells, width*4.
  code = params["params"]["code"]
  assert code["encode"]["kernel"].shape == (fused_cells, code_size)
  assert code["decode"]["kernel"].shape == (code_size, fused_cells)
  inputs = _inputs()
  # One pixel of frame 0 changed: frame 0's reconstruction moves far from it, frame 1's does not.
  changed = dict(
      inputs, gray=inputs["gray"].at[:, 0, 0, 0, 0].set(1.0 - inputs["gray"][:, 0, 0, 0, 0])
  )
  apply = jax.jit(model.apply)
  gray, gray_changed = apply(params, inputs)["gray"], apply(params, changed)["gray"]
  assert float(jnp.max(jnp.abs(gray[:, 0, -1, -1] - gray_changed[:, 0, -1, -1]))) > 0.0
  np.testing.assert_array_equal(gray[:, 1:], gray_changed[:, 1:])
  assert stats.param_count("cae", code_size=code_size) > stats.param_count("cae")


def _stream_params(params: dict, stream: str) -> list:
  """The leaves whose path names `stream` (its encoder, decoder and its parts of the fusion)."""
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  return [leaf for path, leaf in flat if stream in jax.tree_util.keystr(path)]


@pytest.mark.parametrize("code_size", [0, 16])
def test_cross_fusion_trains_each_streams_parameters_on_its_own_loss_only(code_size):
  model, params = _tiny("cae", code_size=code_size, fusion=cae.CROSS_FUSION)
  shared, shared_params = _tiny("cae", code_size=code_size)
  inputs = _inputs()

  def gray_loss(model, params):
    return jnp.mean((model.apply(params, inputs)["gray"] - inputs["gray"]) ** 2)

  grads = jax.grad(functools.partial(gray_loss, model))(params)
  assert all(not np.any(g) for g in _stream_params(grads, "flow"))
  assert all(np.any(g) for g in _stream_params(grads, "gray"))
  shared_grads = jax.grad(functools.partial(gray_loss, shared))(shared_params)
  assert any(np.any(g) for g in _stream_params(shared_grads, "flow_encoder"))
  # The streams still meet: the flow decoder reads the gray code.
  dimmed = dict(inputs, gray=inputs["gray"] * 0.5)
  apply = jax.jit(model.apply)
  assert float(jnp.max(jnp.abs(apply(params, inputs)["flow"] - apply(params, dimmed)["flow"]))) > 0


def test_an_unknown_fusion_is_refused_by_name():
  with pytest.raises(ValueError, match="config.model.fusion='late'"):
    _tiny("cae", fusion="late")


@pytest.mark.parametrize("name", ["cae", "rae"])
def test_centred_inputs_are_the_raw_inputs_minus_the_centre(name):
  centred, params = _tiny(name, centre_inputs=True)
  raw, _ = _tiny(name, centre_inputs=False)
  inputs = _inputs()
  shifted = jax.tree.map(lambda x: x - common.INPUT_CENTRE, inputs)
  a, b = jax.jit(centred.apply)(params, inputs), jax.jit(raw.apply)(params, shifted)
  for stream in a:
    np.testing.assert_allclose(a[stream], b[stream], atol=1e-6)
  assert float(jnp.max(jnp.abs(a["flow"] - raw.apply(params, inputs)["flow"]))) > 0.0


def test_bfloat16_compute_keeps_float32_parameters():
  model, params = _tiny("cae", dtype="bfloat16")
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(params))
  out = jax.jit(model.apply)(params, _inputs())["gray"]
  assert out.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(out)))


def test_supervised_encoder_matches_cae_parameter_names():
  _, cae_params = _tiny("cae")
  _, sup_params = _tiny("supervised", num_classes=8)
  assert jax.tree.structure(cae_params["params"]["gray_encoder"]) == jax.tree.structure(
      sup_params["params"]["gray_encoder"]
  )
  assert sup_params["params"]["logits"]["kernel"].shape[-1] == 8


def test_create_model_accepts_json_lists():
  model = models.create_model(stats.model_config("cae", kernels=[5, 5, 3, 3, 3], width=4))
  assert model.kernels == (5, 5, 3, 3, 3)


def test_unknown_model_lists_valid_names():
  with pytest.raises(ValueError, match="cae_single.*rae.*supervised"):
    models.get_model("nope")


@pytest.mark.parametrize(
    "backend, dtype", [("cpu", "float32"), ("gpu", "bfloat16"), ("tpu", "bfloat16")]
)
def test_auto_dtype_fits_the_backend(backend, dtype):
  picked, why = common.resolve_dtype("auto", backend)
  assert picked == dtype and f"auto on {backend}" in why
  assert common.resolve_dtype("bfloat16", "cpu") == ("bfloat16", "set by config.model.dtype")
  assert common.resolve_dtype("float32", "gpu")[0] == "float32"


def test_bad_config_values_raise_naming_the_field():
  with pytest.raises(ValueError, match="config.model.kernels"):
    _tiny("cae", kernels=(5, 3))
  with pytest.raises(ValueError, match="config.model.dtype"):
    _tiny("cae", dtype="float8")
