"""Tests of mouseflax.train: steps, both loop forms, resume, divergence, 1 vs 2 devices, end to end.

Most tests replace `input_pipeline.prepare` with random arrays of the record shapes (fast, no
records);
the end-to-end test at the bottom runs the real pipeline on tiny synthetic data.
"""

import json
import os
import pathlib
import runpy
import subprocess
import sys
import types

import jax
import numpy as np
import pytest

from mouseflax import checkpointing
from mouseflax import evaluate
from mouseflax import input_pipeline
from mouseflax import metric_writers
from mouseflax import models
from mouseflax import steps
from mouseflax import train

REPO = pathlib.Path(__file__).resolve().parents[1]
T, H, W = 8, 24, 32
_CACHE_ENV = "JAX_COMPILATION_CACHE_DIR"
_CACHE_SETTINGS = {
    "jax_compilation_cache_dir": None,
    "jax_persistent_cache_min_compile_time_secs": 0.0,
    "jax_persistent_cache_min_entry_size_bytes": 0,
}
SPLIT_SIZES = {
    "train": 24,
    "validation": 10,
    "test": 12,
    "train_labelled": 24,
    "validation_labelled": 10,
}


def random_split(num: int, seed: int, nan_flow: bool = False) -> dict[str, np.ndarray]:
  """Random arrays with the record fields, shapes and dtypes of ARCHITECTURE.md."""
  rng = np.random.default_rng(seed)
  flow = rng.random((num, T, H, W, 2)).astype(np.float16)
  if nan_flow:
    flow[0, 0, 0, 0, 0] = np.nan
  return {
      "gray": rng.integers(0, 256, (num, T, H, W, 1), dtype=np.uint8),
      "flow": flow,
      "behavior": rng.integers(0, 8, (num, T)).astype(np.int64),
      "anomaly": (rng.random((num, T)) < 0.3).astype(np.int64),
      "frame_index": np.arange(num * T, dtype=np.int64).reshape(num, T),
      "video": np.repeat(np.arange(2, dtype=np.int64), (num + 1) // 2)[:num],
  }


class FakeHandle:
  """Stands in for input_pipeline.DatasetHandle: same interface, random arrays."""

  def __init__(self, nan_flow: bool = False):
    self.nan_flow = nan_flow
    self.video_names = ["video_a", "video_b"]
    self.info = types.SimpleNamespace(metadata={"video_names": self.video_names})
    self.preprocess = types.SimpleNamespace(to_dict=lambda: {"gamma": 0.5})

  def load(self, split: str) -> dict[str, np.ndarray]:
    return random_split(SPLIT_SIZES[split], seed=len(split), nan_flow=self.nan_flow)


def tiny_config(**overrides):
  """configs/tiny.py with `group.field=value` overrides (dots as double underscores)."""
  config = runpy.run_path(str(REPO / "configs" / "tiny.py"))["get_config"]()
  config.train.log_every_steps = 1
  for key, value in overrides.items():
    group, field = key.split("__")
    config[group][field] = value
  return config


@pytest.fixture(scope="module", autouse=True)
def compilation_cache(tmp_path_factory):
  """A persistent XLA cache for this module: each run compiles the same tiny programs again."""
  path = str(tmp_path_factory.mktemp("xla_cache"))
  saved = {k: getattr(jax.config, k) for k in _CACHE_SETTINGS}
  for key, value in {**_CACHE_SETTINGS, "jax_compilation_cache_dir": path}.items():
    jax.config.update(key, value)
  os.environ[_CACHE_ENV] = path  # Inherited by the device-count subprocesses.
  yield path
  del os.environ[_CACHE_ENV]
  for key, value in saved.items():
    jax.config.update(key, value)


@pytest.fixture
def fake_data(monkeypatch):
  monkeypatch.setattr(input_pipeline, "prepare", lambda data_config, seed=0: FakeHandle())


def final_params(workdir: pathlib.Path, config) -> dict:
  """Parameters of the latest checkpoint in `workdir`, as numpy."""
  mesh = train.make_mesh(config.mesh)
  example = input_pipeline.to_model_inputs(random_split(1, 0))
  state = train.create_train_state(
      models.create_model(config.model), train.create_optimizer(config.optim), example, 0, mesh
  )
  manager = checkpointing.create_manager(workdir, config.ckpt)
  state, _ = checkpointing.restore(manager, manager.latest_step(), state)
  return jax.tree.map(np.asarray, state.params)


def train_losses(workdir: pathlib.Path) -> list[float]:
  return [m["train_loss"] for m in metric_writers.read_metrics(workdir) if "train_loss" in m]


def assert_trees_close(a, b, atol):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_allclose(x, y, atol=atol, rtol=0)


def test_run_writes_workdir_files(fake_data, tmp_path):
  results = train.train_and_evaluate(tiny_config(), tmp_path)
  for name in (
      "config.json",
      "preprocess.json",
      "metrics.jsonl",
      "results.json",
      "threshold.json",
      "roc.png",
      "timeline.png",
  ):
    assert (tmp_path / name).is_file(), name
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
  assert json.loads((tmp_path / "results.json").read_text()) == json.loads(json.dumps(results))
  for key in (
      "auc",
      "auc_macro",
      "n_test_frames",
      "n_anomalous_frames",
      "final_train_loss",
      "final_val_loss",
      "num_devices",
      "config",
      "dataset",
      "train_seconds",
      "epochs",
      "versions",
      "git_commit",
  ):
    assert key in results, key
  assert results["num_devices"] == jax.device_count()
  assert results["n_test_frames"] == SPLIT_SIZES["test"] * T
  assert len(train_losses(tmp_path)) == SPLIT_SIZES["train"] // 4
  threshold = json.loads((tmp_path / "threshold.json").read_text())
  assert threshold["false_alarm_rate"] == 0.01 and np.isfinite(threshold["threshold"])
  # The paper's rule by default: the headline is the raw per-stream mean, no statistics stored.
  assert results["auc"] == results["auc_paper_average"]
  assert threshold["stream_normalisation"] == "none" and threshold["stream_stats"] is None
  assert (results["model"], results["synthetic"], results["epochs"]) == (
      "cae",
      True,
      tiny_config().train.epochs,
  )
  # A rerun of the finished workdir trains nothing but keeps the last epoch's train loss.
  rerun = train.train_and_evaluate(tiny_config(), tmp_path)
  assert rerun["final_train_loss"] == results["final_train_loss"] is not None
  assert rerun["final_val_loss"] == pytest.approx(results["final_val_loss"], rel=1e-6)


def test_supervised_held_out_class_comes_from_the_dataset_metadata(monkeypatch, tmp_path):
  config = tiny_config(model__name="supervised", model__num_classes=8)
  handle = types.SimpleNamespace(info=types.SimpleNamespace(metadata={"held_out": "groom"}))
  assert train._score_class(config, handle) == 2  # pylint: disable=protected-access
  # No held-out behaviour in the built dataset: refused before any training.
  monkeypatch.setattr(input_pipeline, "prepare", lambda data_config, seed=0: FakeHandle())
  with pytest.raises(ValueError, match="holds out none"):
    train.train_and_evaluate(config, tmp_path)
  assert not (tmp_path / checkpointing.CHECKPOINT_DIR).exists()


def test_metrics_with_a_partial_last_line_are_read_and_truncated(tmp_path):
  path = tmp_path / metric_writers.METRICS_FILE
  path.write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.5}\n{"step": 3, "lo')
  assert [r["step"] for r in metric_writers.read_metrics(tmp_path)] == [1, 2]
  writer = metric_writers.MetricWriter(tmp_path, resume_step=2)
  writer.write_scalars(3, {"loss": 0.25})
  writer.close()
  assert [r["step"] for r in metric_writers.read_metrics(tmp_path)] == [1, 2, 3]


def test_validation_normalisation_stores_statistics_and_scores_with_them(fake_data, tmp_path):
  results = train.train_and_evaluate(tiny_config(eval__stream_normalisation="validation"), tmp_path)
  threshold = json.loads((tmp_path / "threshold.json").read_text())
  stats = results["stream_stats"]
  assert results["stream_normalisation"] == threshold["stream_normalisation"] == "validation"
  assert threshold["stream_stats"] == stats and set(stats) == {"gray", "flow"}
  # Statistics of the validation split's normal frames (the fake split: ~70% of its frames).
  n_val = SPLIT_SIZES["validation"] * T
  assert stats["gray"]["n_frames"] == threshold["n_calibration_frames"] < n_val
  assert all(v["std"] > 0 for v in stats.values())
  # The test CSVs hold the z-scored score of their raw errors.
  for name in ("video_a", "video_b"):
    csv = evaluate.read_score_csv(tmp_path / "scores" / f"{name}.csv")
    expected = evaluate.combine_streams(
        {"gray": csv["error_gray"], "flow": csv["error_flow"]}, stats
    )
    np.testing.assert_allclose(csv["score"], expected, rtol=1e-6, atol=1e-6)
  assert results["auc_paper_average"] is not None and "z_s" in results["metrics_notes"]["score"]


def test_train_reexports_the_steps_module():
  """train.py's public step names are mouseflax.steps' objects (benchmarks time the same ones)."""
  for name in (
      "TrainState",
      "create_optimizer",
      "create_train_state",
      "per_example_losses",
      "train_step",
      "make_multi_step",
      "make_batches_step",
      "make_eval_step",
      "make_mesh",
  ):
    assert getattr(train, name) is getattr(steps, name), name
  assert input_pipeline.to_model_inputs is steps.to_model_inputs
  assert input_pipeline.random_hflip is steps.random_hflip
  tx = steps.create_optimizer({"name": "adam", "learning_rate": 1e-3, "b1": 0.5, "b2": 0.9})
  assert tx is not None
  with pytest.raises(ValueError, match="config.optim.name"):
    steps.create_optimizer({"name": "lion", "learning_rate": 1e-3})


def test_training_lowers_the_loss(fake_data, tmp_path):
  train.train_and_evaluate(tiny_config(train__epochs=3, optim__learning_rate=3e-3), tmp_path)
  losses = train_losses(tmp_path)
  assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_resume_matches_uninterrupted_run(fake_data, tmp_path):
  config = tiny_config(train__epochs=2)
  train.train_and_evaluate(config, tmp_path / "straight")
  # 6 steps per epoch: stop mid-epoch 0, then mid-epoch 1, then finish.
  for stop in (4, 5, 0):
    result = train.train_and_evaluate(
        tiny_config(train__epochs=2, train__stop_after_steps=stop), tmp_path / "resumed"
    )
  assert "auc" in result
  assert_trees_close(
      final_params(tmp_path / "straight", config),
      final_params(tmp_path / "resumed", config),
      atol=0,
  )
  assert train_losses(tmp_path / "straight") == train_losses(tmp_path / "resumed")


def test_resume_with_other_batch_size_is_refused(fake_data, tmp_path):
  train.train_and_evaluate(tiny_config(train__stop_after_steps=2), tmp_path)
  with pytest.raises(ValueError, match="was written with"):
    train.train_and_evaluate(tiny_config(train__batch_size=2), tmp_path)


def test_scan_form_matches_python_loop(fake_data, tmp_path):
  loop = train.train_and_evaluate(tiny_config(train__steps_per_call=1), tmp_path / "loop")
  scan = train.train_and_evaluate(tiny_config(train__steps_per_call=3), tmp_path / "scan")
  assert len(train_losses(tmp_path / "scan")) == len(train_losses(tmp_path / "loop")) // 3
  assert scan["final_train_loss"] == pytest.approx(loop["final_train_loss"], abs=1e-6)
  assert_trees_close(
      final_params(tmp_path / "loop", tiny_config()),
      final_params(tmp_path / "scan", tiny_config()),
      atol=1e-5,
  )


def test_host_resident_matches_device_resident(fake_data, tmp_path):
  train.train_and_evaluate(tiny_config(), tmp_path / "device")
  train.train_and_evaluate(tiny_config(data__device_resident=False), tmp_path / "host")
  np.testing.assert_allclose(
      train_losses(tmp_path / "device"), train_losses(tmp_path / "host"), atol=1e-6, rtol=0
  )


def test_nan_loss_stops_with_clear_error(monkeypatch, tmp_path):
  monkeypatch.setattr(
      input_pipeline, "prepare", lambda data_config, seed=0: FakeHandle(nan_flow=True)
  )
  with pytest.raises(train.TrainingDivergedError, match="loss is nan at step"):
    train.train_and_evaluate(tiny_config(data__hflip=False), tmp_path)


@pytest.mark.parametrize(
    "group, field, value, message",
    [
        ("model", "name", "transformer", "config.model.name"),
        ("train", "epochs", -1, "config.train.epochs"),
        ("train", "batch_size", 0, "config.train.batch_size"),
        ("train", "steps_per_call", -1, "config.train.steps_per_call"),
        ("optim", "name", "rmsprop", "config.optim.name"),
        ("mesh", "data_parallelism", 64, "config.mesh.data_parallelism"),
    ],
)
def test_bad_config_values_raise(fake_data, tmp_path, group, field, value, message):
  config = tiny_config()
  config[group][field] = value
  with pytest.raises(ValueError, match=message):
    train.train_and_evaluate(config, tmp_path)


def test_loss_weights_weight_each_stream():
  outputs = {"gray": np.zeros((2, T, H, W, 1)), "flow": np.zeros((2, T, H, W, 2))}
  inputs = {"gray": np.ones((2, T, H, W, 1)), "flow": np.full((2, T, H, W, 2), 0.5)}
  losses = train.per_example_losses(outputs, {}, inputs, {"gray": 0.75, "flow": 1.0})
  np.testing.assert_allclose(losses["loss_gray"], [1.0, 1.0])
  np.testing.assert_allclose(losses["loss_flow"], [0.25, 0.25])
  np.testing.assert_allclose(losses["loss"], [0.75 + 0.25] * 2)


def test_steps_per_call_auto_is_one_on_cpu():
  assert train.resolve_steps_per_call(train.AUTO_STEPS_PER_CALL) == (
      1 if jax.default_backend() == "cpu" else train.AUTO_ACCELERATOR_STEPS_PER_CALL
  )
  assert train.resolve_steps_per_call(8) == 8


# ------------------------------------------------------------------------------------------------
# 1 vs 2 devices: the device count is fixed per process, so the runs happen in a subprocess with two
# host devices; `mesh.data_parallelism` picks a 1- or 2-device mesh there.

_DEVICE_RUN = """
import sys
sys.path.insert(0, {tests!r})
import test_train
from mouseflax import input_pipeline, train
input_pipeline.prepare = lambda data_config, seed=0: test_train.FakeHandle()
for workdir, stop, devices in {runs!r}:
  train.train_and_evaluate(test_train.tiny_config(
      train__epochs=2, train__stop_after_steps=stop, mesh__data_parallelism=devices), workdir)
"""


def _run_with_two_devices(runs: list[tuple[str, int, int]]) -> None:
  env = {
      **os.environ,
      "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
      "JAX_PLATFORMS": "cpu",
      "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
      "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
  }
  code = _DEVICE_RUN.format(tests=str(REPO / "tests"), runs=runs)
  proc = subprocess.run(
      [sys.executable, "-c", code],
      env=env,
      capture_output=True,
      text=True,
      timeout=600,
      check=False,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]


def test_two_devices_match_one_and_checkpoints_cross_device_counts(tmp_path):
  one, two = str(tmp_path / "one"), str(tmp_path / "two")
  cross_12, cross_21 = str(tmp_path / "cross_12"), str(tmp_path / "cross_21")
  _run_with_two_devices(
      [
          (one, 0, 1),
          (two, 0, 2),
          (cross_12, 5, 1),
          (cross_12, 0, 2),  # Written on 1 device, resumed on 2,
          (cross_21, 5, 2),
          (cross_21, 0, 1),
      ]
  )  # and the other way round.
  np.testing.assert_allclose(train_losses(one), train_losses(two), atol=1e-5, rtol=0)
  config = tiny_config(train__epochs=2)
  reference = final_params(pathlib.Path(one), config)
  for workdir in (two, cross_12, cross_21):
    assert_trees_close(reference, final_params(pathlib.Path(workdir), config), atol=1e-5)
  for workdir, devices in ((one, 1), (two, 2), (cross_12, 2), (cross_21, 1)):
    assert (
        json.loads((pathlib.Path(workdir) / "results.json").read_text())["num_devices"] == devices
    )


def test_orbax_info_logs_are_dropped_but_warnings_kept():
  import logging as std_logging  # pylint: disable=g-import-not-at-top

  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top

  from mouseflax import checkpointing  # pylint: disable=g-import-not-at-top

  checkpointing.quiet_orbax_info_logs()
  checkpointing.quiet_orbax_info_logs()  # Idempotent: one filter.
  logger = absl_logging.get_absl_logger()
  filters = [f for f in logger.filters if type(f).__name__ == "_DropOrbaxInfo"]
  assert len(filters) == 1

  def record(level, pathname):
    return std_logging.LogRecord("absl", level, pathname, 1, "msg", None, None)

  orbax_path = "/site-packages/orbax/checkpoint/checkpoint_manager.py"
  assert not filters[0].filter(record(std_logging.INFO, orbax_path))
  assert filters[0].filter(record(std_logging.WARNING, orbax_path))
  assert filters[0].filter(record(std_logging.INFO, "/work/mouseflax/train.py"))
