"""Tests of mouseflax.train: steps, both loop forms, resume, divergence, 1 vs 2 devices, end to end.

Most tests replace `input_pipeline.prepare` with random arrays of the record shapes (fast, no
records); the end-to-end test at the bottom runs the real pipeline on tiny synthetic data.
"""

import json
import os
import pathlib
import subprocess
import sys
import types

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import jax
import numpy as np
import pytest

from mouseflax import checkpointing
from mouseflax import evaluate
from mouseflax import input_pipeline
from mouseflax import learning_check
from mouseflax import metric_writers
from mouseflax import named_scores
from mouseflax import steps
from mouseflax import train

T, H, W = fakes.T, fakes.H, fakes.W
pytestmark = pytest.mark.usefixtures("compilation_cache")


def test_run_writes_workdir_files(fake_data, tmp_path):
  results = train.train_and_evaluate(fakes.tiny_config(), tmp_path)
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
  # model.dtype "auto" picks float32 on the CPU and says so; config.json holds the pick.
  assert results["precision"]["requested"] == "auto" and results["precision"]["dtype"] == "float32"
  assert json.loads((tmp_path / "config.json").read_text())["model"]["dtype"] == "float32"
  # Each reconstructed stream's validation loss against the mean frame's.
  assert set(results["stream_learning"]) == {"gray", "flow"}
  for stream, check in results["stream_learning"].items():
    assert check["mean_frame_loss"] > 0 and check["val_loss"] > 0, stream
    assert check["learnt"] == pytest.approx(1 - check["val_loss"] / check["mean_frame_loss"])
  assert "learning_warning" in results
  assert results["loss_weights"] == {"gray": 1.0, "flow": 1.0}  # Not balanced by default.
  assert results["n_test_frames"] == fakes.SPLIT_SIZES["test"] * T
  assert len(fakes.train_losses(tmp_path)) == fakes.SPLIT_SIZES["train"] // 4
  threshold = json.loads((tmp_path / "threshold.json").read_text())
  assert threshold["calibrate_to"] == "events_per_hour" and np.isfinite(threshold["threshold"])
  assert threshold["false_events_per_hour"] == 2.0 and threshold["false_alarm_rate"] is None
  # 80 validation frames at 25 fps cannot support 2 false events per hour: the run says so.
  assert "too short" in threshold["warning"] and results["calibration_warning"]
  assert threshold["event_rule"] == {"merge_gap_s": 1.0, "min_duration_s": 0.5}
  # The paper's score by default: raw mean of the l2 errors; every error's statistics stored.
  assert results["score"] == threshold["score"] == "paper"
  assert results["auc"] == results["auc_paper_average"] == results["auc_scores"]["paper"]
  assert set(results["auc_scores"]) == {"paper", "mse", "mse_z", "patch_z"}
  assert threshold["stream_stats"] is None and len(threshold["error_stats"]) == 6
  # Baselines on the same test frames, and the false alarms realised at the threshold.
  assert set(results["baselines"]) == {"motion_energy", "flow_magnitude", "pca"}
  for baseline in results["baselines"].values():
    assert 0.0 <= baseline["auc"] <= 1.0 and baseline["model_beats"] in (True, False)
  assert 0.0 <= results["false_alarm_rate_test"] <= 1.0
  assert results["false_events_per_hour_test"] >= 0.0 and results["bout_detection"]["bouts"] > 0
  assert results["calibration"]["heldout"]["frames"] == threshold["n_calibration_frames"]
  assert (results["model"], results["synthetic"], results["epochs"]) == (
      "cae",
      True,
      fakes.tiny_config().train.epochs,
  )
  # A rerun of the finished workdir trains nothing but keeps the last epoch's train loss.
  rerun = train.train_and_evaluate(fakes.tiny_config(), tmp_path)
  assert rerun["final_train_loss"] == results["final_train_loss"] is not None
  assert rerun["final_val_loss"] == pytest.approx(results["final_val_loss"], rel=1e-6)


def test_supervised_held_out_class_comes_from_the_dataset_metadata(monkeypatch, tmp_path):
  config = fakes.tiny_config(model__name="supervised", model__num_classes=8)
  handle = types.SimpleNamespace(info=types.SimpleNamespace(metadata={"held_out": "groom"}))
  assert train.score_class(config, handle) == 2
  # No held-out behaviour in the built dataset: refused before any training.
  monkeypatch.setattr(input_pipeline, "prepare", lambda data_config, seed=0: fakes.FakeHandle())
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


@pytest.mark.parametrize("name", ["mse_z", "patch_z"])
def test_z_scored_score_stores_statistics_and_scores_with_them(fake_data, tmp_path, name):
  config = fakes.tiny_config(eval__score=name, eval__calibrate_to="frame_rate")
  results = train.train_and_evaluate(config, tmp_path)
  threshold = json.loads((tmp_path / "threshold.json").read_text())
  stats = threshold["error_stats"]
  assert results["score"] == threshold["score"] == name
  assert threshold["false_alarm_rate"] == 0.01 and threshold["false_events_per_hour"] is None
  kind = named_scores.SCORES[name].kind
  assert threshold["stream_stats"] == {
      s: stats[named_scores.error_column(kind, s)] for s in ("gray", "flow")
  }
  # Statistics of the validation split's normal frames (the fake split: ~70% of its frames).
  n_val = fakes.SPLIT_SIZES["validation"] * T
  assert stats["error_gray"]["n_frames"] == threshold["n_calibration_frames"] < n_val
  assert all(v["std"] > 0 for v in stats.values())
  # The test CSVs hold the z-scored score of their raw errors, and the flags at the threshold.
  for video_name in ("video_a", "video_b"):
    csv = evaluate.read_score_csv(tmp_path / "scores" / f"{video_name}.csv")
    np.testing.assert_allclose(
        csv["score"], named_scores.compute(name, csv, stats), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_array_equal(csv["flagged"], csv["score"] > threshold["threshold"])
  assert (
      "z_s" in results["metrics_notes"]["score"] or "z-scored" in results["metrics_notes"]["score"]
  )


def test_a_stream_that_learnt_nothing_is_left_out_of_a_learnt_score(
    fake_data, tmp_path, monkeypatch
):
  learning = {"gray": {"learnt": 0.6}, "flow": {"learnt": -0.02}}  # The demo's dead flow stream.
  monkeypatch.setattr(
      learning_check, "stream_learning", lambda val_losses, data: (learning, "flow learnt little")
  )
  config = fakes.tiny_config(eval__score="mse_z", eval__score_streams="learnt")
  results = train.train_and_evaluate(config, tmp_path)
  threshold = json.loads((tmp_path / "threshold.json").read_text())
  assert results["score_streams"] == threshold["score_streams"] == ["gray"]
  assert "leaves the flow stream out" in results["learning_warning"]
  assert list(threshold["stream_stats"]) == ["gray"]
  csv = evaluate.read_score_csv(tmp_path / "scores" / "video_a.csv")
  gray = threshold["error_stats"]["error_gray"]
  np.testing.assert_allclose(
      csv["score"], (csv["error_gray"] - gray["mean"]) / gray["std"], rtol=1e-6, atol=1e-6
  )
  # The default ("all", the paper's) scores every stream.
  assert train.train_and_evaluate(fakes.tiny_config(), tmp_path / "all")["score_streams"] is None


def test_create_optimizer_follows_the_config():
  params = {"w": np.array([0.5, -2.0], np.float32)}
  grads = {"w": np.array([0.1, -0.3], np.float32)}
  # Adam's first update is -lr * g / (|g| + eps): a step of lr against the gradient's sign.
  adam = steps.create_optimizer({"name": "adam", "learning_rate": 1e-3, "b1": 0.5, "b2": 0.9})
  updates, _ = adam.update(grads, adam.init(params), params)
  np.testing.assert_allclose(updates["w"], [-1e-3, 1e-3], rtol=1e-4)
  # SGD with momentum m: the second update of a constant gradient is -lr * (1 + m) * g.
  sgd = steps.create_optimizer({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9})
  state = sgd.init(params)
  for _ in range(2):
    updates, state = sgd.update(grads, state, params)
  np.testing.assert_allclose(updates["w"], -0.1 * 1.9 * grads["w"], rtol=1e-6)
  with pytest.raises(ValueError, match="config.optim.name"):
    steps.create_optimizer({"name": "lion", "learning_rate": 1e-3})


@pytest.mark.parametrize(
    "factory, device_resident", [("make_multi_step", True), ("make_batches_step", False)]
)
def test_training_step_is_jitted_once_with_the_state_donated(
    fake_data, tmp_path, monkeypatch, factory, device_resident
):
  """The trainer's step compiles once for all steps and consumes its input state's buffers.

  A step that lost `jit` traces its body on every call; one that lost `donate_argnums` leaves the
  input state alive (a second copy of parameters and optimiser state per step).
  """
  make_step, traces, donated = getattr(steps, factory), [], []

  def recording(mesh, step_fn):
    def traced(state, batch):
      traces.append(1)  # Runs when the step is traced, not when the compiled step runs.
      return step_fn(state, batch)

    jitted = make_step(mesh, traced)

    def call(state, *args):
      leaves = jax.tree.leaves(state)
      out = jitted(state, *args)
      donated.append(all(leaf.is_deleted() for leaf in leaves))
      return out

    return call

  monkeypatch.setattr(steps, factory, recording)
  config = fakes.tiny_config(data__device_resident=device_resident)
  train.train_and_evaluate(config, tmp_path)
  assert len(donated) == fakes.SPLIT_SIZES["train"] // config.train.batch_size
  assert len(traces) == 1, f"the step was traced {len(traces)} times in {len(donated)} calls"
  assert all(donated), "the train state was not donated to the step"


def test_training_lowers_the_loss(fake_data, tmp_path):
  train.train_and_evaluate(fakes.tiny_config(train__epochs=3, optim__learning_rate=3e-3), tmp_path)
  losses = fakes.train_losses(tmp_path)
  assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_balanced_losses_weigh_each_stream_by_its_mean_frame_loss(fake_data, tmp_path):
  config = fakes.tiny_config(train__epochs=1, train__balance_losses=True)
  results = train.train_and_evaluate(config, tmp_path)
  val = fakes.FakeHandle().load(config.train.val_split)
  expected = learning_check.balanced_loss_weights(dict(config.train.loss_weights), val)
  assert results["loss_weights"] == pytest.approx(expected)
  # The validation loss is the balanced sum: each stream's loss over its mean frame's.
  checks = results["stream_learning"]
  assert results["final_val_loss"] == pytest.approx(
      sum(checks[s]["val_loss"] / checks[s]["mean_frame_loss"] for s in checks), rel=1e-4
  )


def test_resume_matches_uninterrupted_run(fake_data, tmp_path):
  config = fakes.tiny_config(train__epochs=2)
  train.train_and_evaluate(config, tmp_path / "straight")
  # 6 steps per epoch: stop mid-epoch 0, then mid-epoch 1, then finish.
  for stop in (4, 5, 0):
    result = train.train_and_evaluate(
        fakes.tiny_config(train__epochs=2, train__stop_after_steps=stop), tmp_path / "resumed"
    )
  assert "auc" in result
  fakes.assert_trees_close(
      fakes.final_params(tmp_path / "straight", config),
      fakes.final_params(tmp_path / "resumed", config),
      atol=0,
  )
  assert fakes.train_losses(tmp_path / "straight") == fakes.train_losses(tmp_path / "resumed")


def test_resume_with_other_batch_size_is_refused(fake_data, tmp_path):
  train.train_and_evaluate(fakes.tiny_config(train__stop_after_steps=2), tmp_path)
  # Refused before anything is written (mouseflax.run_guard), not after restoring the checkpoint.
  with pytest.raises(ValueError, match="train.batch_size: 4 in the run, 2 now"):
    train.train_and_evaluate(fakes.tiny_config(train__batch_size=2), tmp_path)


def test_scan_form_matches_python_loop(fake_data, tmp_path):
  loop = train.train_and_evaluate(fakes.tiny_config(train__steps_per_call=1), tmp_path / "loop")
  scan = train.train_and_evaluate(fakes.tiny_config(train__steps_per_call=3), tmp_path / "scan")
  assert (
      len(fakes.train_losses(tmp_path / "scan")) == len(fakes.train_losses(tmp_path / "loop")) // 3
  )
  assert scan["final_train_loss"] == pytest.approx(loop["final_train_loss"], abs=1e-6)
  fakes.assert_trees_close(
      fakes.final_params(tmp_path / "loop", fakes.tiny_config()),
      fakes.final_params(tmp_path / "scan", fakes.tiny_config()),
      atol=1e-5,
  )


def test_host_resident_matches_device_resident(fake_data, tmp_path):
  train.train_and_evaluate(fakes.tiny_config(), tmp_path / "device")
  train.train_and_evaluate(fakes.tiny_config(data__device_resident=False), tmp_path / "host")
  np.testing.assert_allclose(
      fakes.train_losses(tmp_path / "device"),
      fakes.train_losses(tmp_path / "host"),
      atol=1e-6,
      rtol=0,
  )


def test_nan_loss_stops_with_clear_error(monkeypatch, tmp_path):
  monkeypatch.setattr(
      input_pipeline, "prepare", lambda data_config, seed=0: fakes.FakeHandle(nan_flow=True)
  )
  with pytest.raises(train.TrainingDivergedError, match="loss is nan at step"):
    train.train_and_evaluate(fakes.tiny_config(data__hflip=False), tmp_path)


@pytest.mark.parametrize(
    "group, field, value, message",
    [
        ("model", "name", "transformer", "config.model.name"),
        ("train", "epochs", -1, "config.train.epochs"),
        ("train", "batch_size", 0, "config.train.batch_size"),
        ("train", "steps_per_call", -1, "config.train.steps_per_call"),
        ("optim", "name", "rmsprop", "config.optim.name"),
        ("mesh", "data_parallelism", 64, "config.mesh.data_parallelism"),
        ("eval", "score", "zscore", "config.eval.score"),
        ("eval", "calibrate_to", "frames", "config.eval.calibrate_to"),
        ("eval", "false_events_per_hour", 0.0, "config.eval.false_events_per_hour"),
        ("eval", "event_merge_gap_s", -1.0, "config.eval.event_merge_gap_s"),
    ],
)
def test_bad_config_values_raise(fake_data, tmp_path, group, field, value, message):
  config = fakes.tiny_config()
  config[group][field] = value
  with pytest.raises(ValueError, match=message):
    train.train_and_evaluate(config, tmp_path)


def test_batch_size_fits_a_short_training_split(caplog):
  assert train.fitting_batch_size(32, 500, 2) == 32
  assert train.fitting_batch_size(32, 32, 2) == 32
  with caplog.at_level("WARNING"):
    assert train.fitting_batch_size(32, 23, 2) == 22  # The largest multiple of 2 devices.
  assert "fewer than config.train.batch_size=32" in caplog.text
  assert train.fitting_batch_size(32, 23, 1) == 23
  with pytest.raises(ValueError, match="fewer than the 2 devices"):
    train.fitting_batch_size(32, 1, 2)


def test_a_split_smaller_than_the_batch_trains_on_the_batch_that_fits(fake_data, tmp_path):
  num_train = len(fakes.FakeHandle().load("train")["gray"])
  results = train.train_and_evaluate(fakes.tiny_config(train__batch_size=64), tmp_path)
  fitted = num_train // jax.device_count() * jax.device_count()
  assert results["steps"] == num_train // fitted


def test_loss_weights_weight_each_stream():
  outputs = {"gray": np.zeros((2, T, H, W, 1)), "flow": np.zeros((2, T, H, W, 2))}
  inputs = {"gray": np.ones((2, T, H, W, 1)), "flow": np.full((2, T, H, W, 2), 0.5)}
  losses = steps.per_example_losses(outputs, {}, inputs, {"gray": 0.75, "flow": 1.0})
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
import fakes
from mouseflax import input_pipeline, train
input_pipeline.prepare = lambda data_config, seed=0: fakes.FakeHandle()
for workdir, stop, devices in {runs!r}:
  train.train_and_evaluate(fakes.tiny_config(
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
  code = _DEVICE_RUN.format(tests=str(fakes.TESTS), runs=runs)
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
  np.testing.assert_allclose(fakes.train_losses(one), fakes.train_losses(two), atol=1e-5, rtol=0)
  config = fakes.tiny_config(train__epochs=2)
  reference = fakes.final_params(pathlib.Path(one), config)
  for workdir in (two, cross_12, cross_21):
    fakes.assert_trees_close(
        reference, fakes.final_params(pathlib.Path(workdir), config), atol=1e-5
    )
  for workdir, devices in ((one, 1), (two, 2), (cross_12, 2), (cross_21, 1)):
    assert (
        json.loads((pathlib.Path(workdir) / "results.json").read_text())["num_devices"] == devices
    )


def test_orbax_info_logs_are_dropped_but_warnings_kept():
  import logging as std_logging  # pylint: disable=g-import-not-at-top

  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top

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
