"""Training: the epoch loop over jitted data-parallel steps, checkpoints and the final evaluation.

`train_and_evaluate(config, workdir)` is the whole job. The training split is held on the device
when it fits and batches are gathered there; `config.train.steps_per_call` steps run per compiled
call (a `lax.scan` when > 1). On XLA:CPU a scan loses the fast convolution path (8.7x slower per
step; benchmarks/README.md, "XLA:CPU convolutions: why they are slow and what helps"), so `auto`
means 1 step per call on the CPU and many elsewhere. Parameters and optimiser state are replicated
over a `data` mesh axis; batches are sharded along it. With several processes (multi-host,
`mouseflax.distributed`) the mesh spans every process's devices, each process reads only its rows of
each global batch, and only the primary process writes files (checkpoints are written by all of them
together, through orbax). The train state, losses and jitted steps are in `mouseflax.steps`, which
the benchmarks import without TFDS.
"""

from collections.abc import Callable, Mapping
import dataclasses
import functools
import json
import os
import pathlib
import subprocess
import time
from typing import Any

from absl import logging
import flax
import jax
import ml_collections
import numpy as np
import optax

from mouseflax import checkpointing
from mouseflax import config_checks
from mouseflax import distributed
from mouseflax import fileio
from mouseflax import input_pipeline
from mouseflax import learning_check
from mouseflax import metric_writers
from mouseflax import models
from mouseflax import run_files
from mouseflax import run_guard
from mouseflax import steps
from mouseflax import streams
from mouseflax import windows
from mouseflax.models import common as model_common

# Fields of a record the train step reads (the rest stay on the host).
TRAIN_FIELDS = ("gray", "flow", "behavior", "anomaly")
AUTO_STEPS_PER_CALL = 0  # `config.train.steps_per_call` value that lets the backend choose.
# `steps_per_call=0` (auto) off the CPU: enough steps per call to hide dispatch for these models.
AUTO_ACCELERATOR_STEPS_PER_CALL = 50


def fitting_batch_size(batch_size: int, num_examples: int, num_devices: int) -> int:
  """`config.train.batch_size`, or the largest multiple of the device count the split fills.

  A short recording (own videos: under a minute) can hold fewer training sequences than the batch
  size; training then runs one step per epoch on the largest batch that fits, with a logged note,
  instead of stopping.
  """
  if num_examples >= batch_size:
    return batch_size
  fitted = num_examples // num_devices * num_devices
  if fitted < 1:
    raise ValueError(
        f"The training split has {num_examples} sequences, fewer than the {num_devices} devices "
        "on the mesh: use longer or more videos, a smaller data.train_hop, or fewer devices "
        "(config.mesh.data_parallelism)."
    )
  logging.warning(
      "Note: the training split has %d sequences, fewer than config.train.batch_size=%d: "
      "training with batches of %d (the largest multiple of the %d devices that fits). More "
      "video, or a smaller data.train_hop, gives more sequences.",
      num_examples,
      batch_size,
      fitted,
      num_devices,
  )
  return fitted


class TrainingDivergedError(FloatingPointError):
  """Raised when the loss or the gradient norm is NaN or infinite."""


def resolve_steps_per_call(value: int) -> int:
  """`config.train.steps_per_call`: 0 (auto) -> 1 on the CPU, many elsewhere; else itself."""
  if isinstance(value, bool) or not isinstance(value, int) or value < 0:
    raise ValueError(
        f"config.train.steps_per_call={value!r}: expected {AUTO_STEPS_PER_CALL} (auto: 1 on the "
        "CPU, many on accelerators) or a positive integer."
    )
  if value == AUTO_STEPS_PER_CALL:
    return 1 if jax.default_backend() == "cpu" else AUTO_ACCELERATOR_STEPS_PER_CALL
  return value


def validation_losses(
    eval_step: Callable, state: steps.TrainState, data: Mapping[str, np.ndarray], batch_size: int
) -> dict[str, float]:
  """Mean per-example validation losses, prefixed `val_` (padding rows masked out)."""
  totals, n = {}, 0
  for batch, count in windows.padded_batches(data, batch_size):
    sums = eval_step(state, batch, np.arange(batch_size) < count)
    for k, v in sums.items():
      totals[k] = totals.get(k, 0.0) + float(v)
    n += count
  return {f"val_{k}": v / max(n, 1) for k, v in totals.items()}


def _check_finite(metrics: Mapping[str, np.ndarray], first_step: int) -> None:
  """Raises TrainingDivergedError naming the first step whose loss or gradient norm is inf/NaN."""
  for key in ("loss", "grad_norm"):
    bad = np.flatnonzero(~np.isfinite(metrics[key]))
    if bad.size:
      raise TrainingDivergedError(
          f"{key} is {metrics[key][bad[0]]} at step {first_step + bad[0] + 1}: training diverged. "
          "Lower config.optim.learning_rate or check the data; the last good checkpoint is kept."
      )


@dataclasses.dataclass(frozen=True)
class TrainRecords:
  """The training split as the trainer reads it: `take(indices)` -> the TRAIN_FIELDS of those rows.

  One process loads the split whole (`arrays`, which device-resident mode puts on the device); a
  process of a multi-host run reads only its rows of each batch from the records (`arrays` None).
  """

  num_examples: int
  take: Callable[[np.ndarray], dict[str, np.ndarray]]
  arrays: Mapping[str, np.ndarray] | None = None


def train_records(handle: Any, split: str) -> TrainRecords:
  """The split loaded whole (one process) or read by index (several processes)."""
  if jax.process_count() == 1:
    arrays = {k: v for k, v in handle.load(split).items() if k in TRAIN_FIELDS}
    return TrainRecords(
        len(arrays["gray"]), lambda idx: {k: v[idx] for k, v in arrays.items()}, arrays
    )
  return TrainRecords(handle.num_examples(split), lambda idx: handle.read(split, idx, TRAIN_FIELDS))


class _Trainer:
  """Holds what the epoch loop needs: data, compiled steps, the mesh and the schedule."""

  def __init__(
      self,
      config: ml_collections.ConfigDict,
      mesh: jax.sharding.Mesh,
      train: TrainRecords,
      val: Mapping[str, np.ndarray],
  ):
    self.config = config
    self.mesh = mesh
    tc = config.train  # Checked by config_checks.validate (epochs, batch size over the mesh).
    self.num_examples = train.num_examples
    self.batch_size = fitting_batch_size(tc.batch_size, self.num_examples, mesh.size)
    self.steps_per_epoch = self.num_examples // self.batch_size
    self.total_steps = tc.epochs * self.steps_per_epoch
    self.steps_per_call = resolve_steps_per_call(tc.steps_per_call)
    self.records = train
    self.on_device = train.arrays is not None and input_pipeline.fits_on_device(
        train.arrays, config.data
    )
    self.device_data = (
        jax.device_put(train.arrays, steps.replicated(mesh)) if self.on_device else None
    )
    self.val = {k: val[k] for k in TRAIN_FIELDS}
    weights = dict(tc.loss_weights)
    if tc.balance_losses:
      weights = learning_check.balanced_loss_weights(weights, self.val)
      logging.info("Balanced loss weights (config weight / mean-frame loss): %s", weights)
    self.loss_weights = weights
    step = functools.partial(steps.train_step, loss_weights=weights, hflip=config.data.hflip)
    self.multi_step = steps.make_multi_step(mesh, step)
    self.batches_step = steps.make_batches_step(mesh, step)
    self.eval_step = steps.make_eval_step(mesh, weights)
    logging.info(
        "Training on %d sequences, %d steps/epoch, %d steps/call, data on %s.",
        self.num_examples,
        self.steps_per_epoch,
        self.steps_per_call,
        "device" if self.on_device else "host",
    )

  def run_chunk(self, state: steps.TrainState, idx: np.ndarray) -> tuple[steps.TrainState, dict]:
    """Runs idx.shape[0] steps on the global batches idx[K, B].

    Host mode: this process reads only its rows of each batch (its devices' share) and ships them.
    """
    if self.on_device:
      return self.multi_step(state, self.device_data, idx)
    sharding = steps.steps_sharded(self.mesh)
    rows = distributed.local_rows(sharding, idx.shape, axis=1)
    local_idx = idx[:, rows]
    local = {
        k: v.reshape(*local_idx.shape, *v.shape[1:])
        for k, v in self.records.take(local_idx.ravel()).items()
    }
    batches = distributed.global_from_local(
        sharding, local, lambda v: (*idx.shape, *v.shape[len(idx.shape) :])
    )
    return self.batches_step(state, batches)

  def epoch_order(self, epoch: int) -> np.ndarray:
    """[steps_per_epoch, batch_size] example indices: a pure function of (seed, epoch)."""
    perm = input_pipeline.epoch_permutation(self.num_examples, self.config.seed, epoch)
    used = self.steps_per_epoch * self.batch_size
    return np.asarray(perm[:used]).reshape(self.steps_per_epoch, -1)

  def validate(self, state: steps.TrainState) -> dict[str, float]:
    return validation_losses(self.eval_step, state, self.val, self.config.eval.batch_size)


def _progress(trainer: _Trainer, step: int, train_seconds: float) -> dict[str, Any]:
  epoch, step_in_epoch = divmod(step, trainer.steps_per_epoch)
  return {
      "epoch": epoch,
      "step_in_epoch": step_in_epoch,
      "steps_per_epoch": trainer.steps_per_epoch,
      "batch_size": trainer.batch_size,
      "num_train_examples": trainer.num_examples,
      "train_seconds": train_seconds,
  }


def _check_resumable(saved: Mapping[str, Any], trainer: _Trainer, workdir: pathlib.Path) -> None:
  """A resumed run must see the same data schedule, or the data position means nothing."""
  expected = _progress(trainer, 0, 0.0)
  for key in ("steps_per_epoch", "batch_size", "num_train_examples"):
    if saved[key] != expected[key]:
      raise ValueError(
          f"Checkpoint in {workdir / checkpointing.CHECKPOINT_DIR} was written with {key}="
          f"{saved[key]}, this run has {expected[key]}: use a new --workdir or the same config."
      )


class _ProgressLog:
  """Logs sequences/s and ETA every `log_every_steps` steps, and writes the train scalars."""

  def __init__(self, trainer: _Trainer, writer: metric_writers.MetricWriter, step: int):
    self.trainer, self.writer = trainer, writer
    self.last_step, self.last_time = step, time.perf_counter()
    self.sums, self.count = {}, 0

  def add(self, step: int, metrics: Mapping[str, np.ndarray]) -> None:
    for k, v in metrics.items():
      self.sums[k] = self.sums.get(k, 0.0) + float(v.sum())
    self.count += len(metrics["loss"])
    if step - self.last_step >= self.trainer.config.train.log_every_steps:
      self.flush(step)

  def flush(self, step: int) -> dict[str, float]:
    """Writes the means since the last flush; returns them (empty when nothing ran)."""
    if not self.count:
      return {}
    now = time.perf_counter()
    rate = (step - self.last_step) * self.trainer.batch_size / (now - self.last_time)
    eta = (self.trainer.total_steps - step) * self.trainer.batch_size / rate
    means = {f"train_{k}": v / self.count for k, v in self.sums.items()}
    self.writer.write_scalars(step, {**means, "sequences_per_second": rate})
    logging.info(
        "step %d/%d epoch %d: loss %.5f, %.1f sequences/s, ETA %.0f s",
        step,
        self.trainer.total_steps,
        step // self.trainer.steps_per_epoch,
        means["train_loss"],
        rate,
        eta,
    )
    self.last_step, self.last_time, self.sums, self.count = step, now, {}, 0
    return means


def _train_loop(
    trainer: _Trainer, state: steps.TrainState, manager, writer, train_seconds: float
) -> tuple[steps.TrainState, dict[str, float], float, bool]:
  """Runs the remaining epochs; returns (state, last epoch's metrics, seconds, finished)."""
  tc, spe = trainer.config.train, trainer.steps_per_epoch
  step = int(state.step)
  stop_step = step + tc.stop_after_steps if tc.stop_after_steps > 0 else trainer.total_steps
  log, epoch_metrics, start = _ProgressLog(trainer, writer, step), {}, time.perf_counter()
  epoch_sums, epoch_steps = {}, 0  # After a mid-epoch resume, the epoch's remaining steps.
  while step < min(stop_step, trainer.total_steps):
    epoch, pos = divmod(step, spe)
    k = min(trainer.steps_per_call, spe - pos, stop_step - step)
    state, metrics = trainer.run_chunk(state, trainer.epoch_order(epoch)[pos : pos + k])
    metrics = jax.tree.map(np.asarray, metrics)
    _check_finite(metrics, step)
    log.add(step + k, metrics)
    for key, v in metrics.items():
      epoch_sums[key] = epoch_sums.get(key, 0.0) + float(v.sum())
    step, epoch_steps = step + k, epoch_steps + k
    seconds = train_seconds + time.perf_counter() - start
    if step % spe == 0:
      log.flush(step)
      epoch_metrics = {f"epoch_train_{k}": v / epoch_steps for k, v in epoch_sums.items()}
      epoch_metrics.update(trainer.validate(state), epoch=step // spe)
      writer.write_scalars(step, epoch_metrics)
      logging.info("epoch %d: %s", step // spe, epoch_metrics)
      checkpointing.save(
          manager, step, state, _progress(trainer, step, seconds), epoch_metrics["val_loss"]
      )
      epoch_sums, epoch_steps = {}, 0
    elif step == stop_step:
      checkpointing.save(manager, step, state, _progress(trainer, step, seconds))
  writer.flush()
  seconds = train_seconds + time.perf_counter() - start
  return state, epoch_metrics, seconds, step >= trainer.total_steps


def score_class(config: ml_collections.ConfigDict, handle: Any) -> int | None:
  """The supervised model's score class: 1 (binary) or the held-out behaviour's id; else None.

  The held-out behaviour is the built dataset's (its metadata), which is also right when
  `data.dataset` names none ('mouse_behavior' builds the builder's default).
  """
  if config.model.name != "supervised":
    return None
  if config.model.num_classes == steps.BINARY_CLASSES:
    return 1
  held_out = handle.info.metadata.get("held_out")
  if held_out is None:
    raise ValueError(
        f"config.model.num_classes={config.model.num_classes} scores the held-out behaviour, but "
        f"data.dataset={config.data.dataset!r} holds out none: use a mouse_behavior dataset or "
        f"config.model.num_classes={steps.BINARY_CLASSES}."
    )
  from mouseflax import raw_formats  # pylint: disable=g-import-not-at-top

  return raw_formats.behavior_id(held_out, f"the held_out metadata of {config.data.dataset!r}")


def _threshold_record(
    config: ml_collections.ConfigDict,
    calibrated: Mapping[str, Any],
    results: Mapping[str, Any],
    num_normal: int,
) -> dict[str, Any]:
  """threshold.json: the threshold, how it was fitted, its estimate and the score's statistics."""
  from mouseflax import calibration  # pylint: disable=g-import-not-at-top

  events_mode = calibrated["calibrate_to"] == calibration.EVENTS_PER_HOUR
  return {
      **calibrated,
      "false_events_per_hour": calibrated["target"] if events_mode else None,
      "false_alarm_rate": None if events_mode else calibrated["target"],
      "score": results["score"],
      "score_streams": results["score_streams"],
      "calibration_split": config.train.val_split,
      "n_calibration_frames": num_normal,
      "stream_stats": results["stream_stats"],
      "error_stats": results["error_stats"],
      "rule": "flag a frame when score > threshold (score: see results.json metrics_notes); "
      "events: mouseflax.events with event_rule",
  }


def _calibration_summary(record: Mapping[str, Any]) -> dict[str, Any]:
  """results.json's copy of the calibration: nominal rate, estimate, held-out realisation."""
  heldout = record["heldout"]
  return {
      "false_events_per_hour": record["false_events_per_hour"],
      "false_alarm_rate": record["false_alarm_rate"],
      "false_alarm_rate_heldout": heldout.get("frame_rate"),
      "false_events_per_hour_heldout": heldout.get("events_per_hour"),
      "calibration": {
          k: record[k]
          for k in ("threshold", "calibrate_to", "target", "event_rule", "validation", "heldout")
      },
      "calibration_warning": record["warning"],
  }


def evaluate_and_calibrate(
    config: ml_collections.ConfigDict,
    state: steps.TrainState,
    mesh: jax.sharding.Mesh,
    handle: Any,
    val: Mapping[str, np.ndarray],
    workdir: pathlib.Path,
    train: TrainRecords,
    score_streams: list[str] | None = None,
) -> dict[str, Any]:
  """Calibrates the threshold on the validation split, then scores the test split.

  `score_streams`: the streams the score uses (None: all; `learning_check.score_streams`).

  The validation split is predicted once: its frame errors give the error statistics of the
  z-scored named scores and the threshold (`mouseflax.calibration`, on the same score as the
  test). The test evaluation (CSVs, plots, AUCs, baselines, false alarms at the threshold) follows;
  threshold.json records the threshold and its estimate.
  """
  # pylint: disable=g-import-not-at-top
  from mouseflax import baselines
  from mouseflax import calibration
  from mouseflax import evaluate
  from mouseflax import events
  # pylint: enable=g-import-not-at-top

  ec = config.eval
  target = calibration.Target.from_config(ec)  # Config errors before any prediction.
  rule = events.rule_from_config(ec)
  predict_fn = steps.make_predict_fn(state.apply_fn, state.params, mesh)
  anomaly_class = score_class(config, handle)
  # Every process makes the same predict calls in the same order (they are collectives).
  normal = evaluate.frame_errors(predict_fn, val, ec.batch_size, anomaly_class=anomaly_class)
  test = handle.load(ec.test_split)
  if not distributed.is_primary():  # The same predict calls, without writing anything.
    evaluate.frame_errors(predict_fn, test, ec.batch_size, anomaly_class=anomaly_class)
    return {}
  stats = evaluate.error_statistics(normal)
  normal = evaluate.scored_table(normal, ec, stats, score_streams)
  video_fps = handle.info.metadata.get("video_fps")
  fps = evaluate.fps_by_video(video_fps, np.unique(normal.video), "validation split")
  calibrated = calibration.calibrate(evaluate.normal_timeline(normal, fps), rule, target)
  if calibrated["warning"]:
    logging.warning("Calibration: %s", calibrated["warning"])
  pca = baselines.fit_pca(
      baselines.sample_training_gray(train.take, train.num_examples, config.seed)
  )
  results = evaluate.evaluate(
      predict_fn,
      test,
      eval_config=ec,
      workdir=workdir,
      video_names=handle.video_names,
      anomaly_class=anomaly_class,
      calibrated=evaluate.Calibrated(
          stats, calibrated["threshold"], rule, video_fps, pca, score_streams
      ),
  )
  record = _threshold_record(config, calibrated, results, int(np.sum(normal.label == 0)))
  fileio.write_json_atomic(workdir / run_files.THRESHOLD_FILE, record)
  results.update(_calibration_summary(record))
  return results


def _versions() -> dict[str, str]:
  import orbax.checkpoint  # pylint: disable=g-import-not-at-top

  return {
      "jax": jax.__version__,
      "flax": flax.__version__,
      "optax": optax.__version__,
      "orbax_checkpoint": orbax.checkpoint.__version__,
      "numpy": np.__version__,
  }


def _git_commit() -> str:
  """The source tree's commit (with '-dirty' when modified), or 'unknown' outside a git clone."""
  repo = pathlib.Path(__file__).resolve().parents[1]
  try:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return "unknown"
  return commit + ("-dirty" if dirty else "")


def _restore_or_init(
    config, trainer, manager, workdir, model, tx, mesh
) -> tuple[steps.TrainState, float]:
  """The newest readable checkpoint if any (resume), else a fresh state; plus seconds trained.

  Unreadable newer checkpoints are skipped with a warning and set aside (`checkpointing`).
  """
  example = streams.to_model_inputs(trainer.records.take(np.zeros(1, np.int64)))
  state = steps.create_train_state(model, tx, example, config.seed, mesh)
  newest_first = sorted(manager.all_steps(), reverse=True)
  if not newest_first:
    return state, 0.0
  state, progress, step, skipped = checkpointing.restore_newest_readable(
      manager, newest_first, state
  )
  if skipped:  # Those steps are trained again: their folders must make room.
    checkpointing.set_aside(manager, skipped)
  _check_resumable(progress, trainer, workdir)
  logging.info(
      "Resumed from step %d (epoch %d, step %d in the epoch).",
      step,
      progress["epoch"],
      progress["step_in_epoch"],
  )
  return state, float(progress["train_seconds"])


class _NullWriter:
  """The metric writer of the processes that do not write (all but the primary)."""

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    del step, scalars

  def flush(self) -> None:
    pass

  def close(self) -> None:
    pass


def _final_losses(
    trainer: _Trainer, state: steps.TrainState, workdir: pathlib.Path
) -> dict[str, float]:
  """The last epoch's losses of a run that finished earlier: validation recomputed, train read back.

  The train loss is a mean over the epoch's steps, so it cannot be recomputed from the final state:
  it comes from the last epoch record of metrics.jsonl (absent there: None).
  """
  records = [r for r in metric_writers.read_metrics(workdir) if "epoch_train_loss" in r]
  last = {"epoch_train_loss": records[-1]["epoch_train_loss"]} if records else {}
  return {**last, **trainer.validate(state)}


def _write_run_files(config: ml_collections.ConfigDict, handle: Any, workdir: pathlib.Path) -> None:
  if not distributed.is_primary():
    return
  fileio.write_json_atomic(
      workdir / run_files.CONFIG_FILE, json.loads(config.to_json_best_effort())
  )
  fileio.write_json_atomic(workdir / run_files.PREPROCESS_FILE, handle.preprocess.to_dict())


def resolve_precision(
    config: ml_collections.ConfigDict, workdir: pathlib.Path, *, overwrite: bool = False
) -> dict[str, str]:
  """Resolves config.model.dtype "auto" in place; returns the pick for results.json.

  "auto" resumes a run in the dtype it was trained in (config.json holds the resolved dtype, so a
  run started on a GPU resumes on a CPU in bfloat16 rather than being refused); otherwise the
  machine's pick (`models.common.resolve_dtype`). In place, so the config's nodes stay the
  caller's (tests/test_configs.py records which keys a run reads).
  """
  requested = config.model.dtype
  stored = None if overwrite else run_guard.stored_config(workdir)
  run_dtype = (stored or {}).get("model", {}).get("dtype")
  if requested == model_common.AUTO_DTYPE and run_dtype in model_common.DTYPES:
    dtype, reason = run_dtype, f"auto: the run in the workdir was trained in {run_dtype}"
  else:
    dtype, reason = model_common.resolve_dtype(requested)
  config.model.dtype = dtype
  logging.info("model.dtype=%s -> %s (%s).", requested, dtype, reason)
  return {"requested": requested, "dtype": dtype, "reason": reason}


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str | os.PathLike, *, overwrite: bool = False
) -> dict:
  """Trains (resuming from the latest checkpoint in `workdir`), evaluates, writes results.json.

  Nothing is written before the config, the workdir (`run_guard`: a run already there must fit the
  config; `overwrite` removes it instead) and the data have been checked.

  Returns the results.json content, or {'stopped_at_step': n} when `config.train.stop_after_steps`
  ended the run early (a debugging aid for the resume path; nothing is evaluated then).
  """
  config_checks.validate(config)
  workdir = pathlib.Path(workdir)
  precision = resolve_precision(config, workdir, overwrite=overwrite)
  run_guard.prepare_workdir(config, workdir, overwrite=overwrite)
  mesh = steps.make_mesh(config.mesh)
  model = models.create_model(config.model)
  tx = steps.create_optimizer(config.optim)
  # The primary builds the records if needed; the others then open the same (shared) data_dir.
  handle = distributed.primary_first(
      lambda: input_pipeline.prepare(config.data, seed=config.seed), "prepare_data"
  )
  score_class(config, handle)  # Fails here, not after training, when nothing can be scored.
  run_guard.check_preprocess(handle.preprocess.to_dict(), workdir)
  train = train_records(handle, config.train.train_split)
  val = handle.load(config.train.val_split)
  trainer = _Trainer(config, mesh, train, val)
  workdir.mkdir(parents=True, exist_ok=True)
  _write_run_files(config, handle, workdir)
  manager = checkpointing.create_manager(workdir, config.ckpt)
  try:  # The manager is closed after an error too: orbax's threads end before the interpreter.
    state, seconds = _restore_or_init(config, trainer, manager, workdir, model, tx, mesh)
    writer = (
        metric_writers.MetricWriter(workdir, resume_step=int(state.step))
        if distributed.is_primary()
        else _NullWriter()
    )
    try:
      state, last, seconds, finished = _train_loop(trainer, state, manager, writer, seconds)
    finally:
      writer.close()
    if not finished:
      return {"stopped_at_step": int(state.step)}
    if not last:  # Finished in an earlier run: the final losses for results.json.
      last = _final_losses(trainer, state, workdir)
    num_steps = int(state.step)
    state, _ = checkpointing.restore_for_eval(
        manager, state, use_best=config.eval.use_best_checkpoint
    )
    learning, learning_warning = learning_check.stream_learning(last, val)
    scored = learning_check.score_streams(config.eval.score_streams, learning)
    learning_warning = learning_check.with_score_note(learning_warning, learning, scored)
    if learning_warning:
      logging.warning("%s", learning_warning)
    results = evaluate_and_calibrate(config, state, mesh, handle, val, workdir, train, scored)
  finally:
    manager.close()
  results.update(
      final_train_loss=last.get("epoch_train_loss"),
      final_val_loss=last["val_loss"],
      num_devices=mesh.size,
      precision=precision,
      loss_weights=trainer.loss_weights,
      stream_learning=learning,
      learning_warning=learning_warning,
      config=json.loads(config.to_json_best_effort()),
      dataset=config.data.dataset,
      model=config.model.name,
      synthetic=input_pipeline.is_synthetic(config.data),
      train_seconds=seconds,
      epochs=num_steps // trainer.steps_per_epoch,
      steps=num_steps,
      versions=_versions(),
      git_commit=_git_commit(),
      num_processes=jax.process_count(),
  )
  if distributed.is_primary():
    fileio.write_json_atomic(workdir / run_files.RESULTS_FILE, results)
  logging.info(
      "AUC %s (frame level, pooled) on %s; results in %s",
      results.get("auc"),
      config.data.dataset,
      workdir / run_files.RESULTS_FILE,
  )
  return results
