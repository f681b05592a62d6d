"""Score any recording with a trained run: per-frame anomaly scores, flagged events, plots.

  python -m mouseflax.score --workdir=W --video=PATH [--video=PATH2 ...] --output_dir=O \
      [--false_events_per_hour=2 | --false_alarm_rate=0.01 | --threshold=X] [--annotated_video]

For each video `<stem>` it writes into O:
- `<stem>_scores.csv`: one row per decoded frame (every frame, the first ones included), columns
  `frame,time_s,error_gray,error_flow,score,flagged` then `in_event` (the frame lies inside a
  reported event) and the other error columns `error_l2_<stream>`, `error_patch_<stream>` (so any
  named score can be recomputed); higher `score` = more anomalous.
- `<stem>_segments.csv`: the events (`mouseflax.events`, the run's event rule),
  `start_frame,end_frame,start_s,end_s,peak_score` (end inclusive) then
  `peak_frame,duration_s,flagged_frames`.
- `<stem>_timeline.png`: score over time, the threshold, the events shaded.
- `<stem>_annotated.mp4` (with --annotated_video): the recording with a score bar; flagged frames
  get a red frame and bar.

What is computed (the same as the evaluator's test split, mouseflax.evaluate):
- Preprocessing: the run's own `preprocess.json` (resize, gamma, Farneback, crop), any input size
  and frame rate; flow stored as `streams.FLOW_DTYPE` like the training records.
- Windows: consecutive non-overlapping windows of T = 8 frames (0-7, 8-15, ...); when the number of
  frames N is not a multiple of T, one more window aligned to the end (N-8 .. N-1), so the first
  frames of that window are seen twice and get the mean of their two errors (the rule of
  `windows.covering_windows`, applied while streaming). A video shorter than T frames cannot be
  scored (`VideoTooShortError`).
- Errors per stream of every kind (`streams.per_frame_errors`: 'mse', 'l2', 'patch'), computed in
  float32 inside the jitted step (the evaluator uses float64 on the host: ~1e-7 relative
  difference); score(t) is the run's named score (`config.eval.score`, `named_scores.compute`;
  runs made before it: `eval.stream_normalisation` 'none' -> 'mse', 'validation' -> 'mse_z'), the
  z-scored ones with the validation statistics stored in threshold.json (`error_stats`), so the
  score is the one the threshold was calibrated on.
- Frame 0 has no previous frame, so its flow input is the zero-motion field (0.5 everywhere), as in
  the training records: its flow error measures how well the model reproduces "no motion", not the
  animal's motion, and can be high for a clip that starts mid-movement.
- Threshold: flagged = score > threshold; events by the run's event rule (`eval.event_merge_gap_s`,
  `eval.event_min_duration_s`; runs made before it: plain runs of flagged frames). Default:
  `<workdir>/threshold.json`, written by training from the validation (normal) frames
  (`mouseflax.calibration`: `eval.false_events_per_hour` false events per hour, or
  `eval.false_alarm_rate` of the frames). `--threshold=X` overrides it; `--false_events_per_hour=R`
  or `--false_alarm_rate=r` (another target) recalibrates from the run's validation errors,
  computed once from the run's validation split and cached in
  `<workdir>/validation_errors_step<S>.npz` (S the checkpoint step scored; every error column, so
  any named score can be recalibrated: a resumed run's new checkpoint gets its own errors).

Speed and memory: decoding, preprocessing and the model run in three overlapping stages (two
`threads.background` threads plus the caller's; OpenCV and XLA release the GIL), joined by bounded
queues, so memory does not grow with the length of the video (beyond a few numbers per frame) and
the pipeline runs near the rate of its slowest stage. A failure in any stage (a file that probes
fine but fails mid-decode) reaches the caller; no stage waits forever. The model call is dispatched
asynchronously, so the host prepares the next batch while the previous one computes.

Chunks and workers: a video is scored in chunks of `--chunk_frames` frames (`mouseflax.chunks`:
boundaries on window multiples, each chunk decoding the window before it), so `--num_workers=N`
processes (each loading the model once) or Beam workers (`--beam_runner`, `mouseflax.score_beam`)
share even one long recording; the per-frame sums are assembled in frame order, so the scores equal
one pass's. `--video` takes glob patterns (`**` for subfolders). Every call also writes
`summary.csv`: `video,frames,flagged_frames,segments,max_score,error`, one row per video.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator, Sequence
import csv
import dataclasses
import glob
import io
import itertools
import json
import math
import multiprocessing
import os
import pathlib
import sys
import tempfile
import threading
import time
from typing import Any

from absl import app
from absl import flags
from absl import logging
import cv2
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mouseflax import beam_runner
from mouseflax import calibration
from mouseflax import checkpointing
from mouseflax import chunks
from mouseflax import cli
from mouseflax import evaluate
from mouseflax import events
from mouseflax import fileio
from mouseflax import models
from mouseflax import named_scores
from mouseflax import plots
from mouseflax import preprocess
from mouseflax import run_files
from mouseflax import steps
from mouseflax import streams
from mouseflax import threads
from mouseflax import video

# Keyed by checkpoint step, so another checkpoint never reuses stale errors; every error column is
# kept, so every named score can be recalibrated from it.
VALIDATION_ERRORS_FILE = "validation_errors_step{step}.npz"
SCORES_SUFFIX = "_scores.csv"
SEGMENTS_SUFFIX = "_segments.csv"
TIMELINE_SUFFIX = "_timeline.png"
ANNOTATED_SUFFIX = "_annotated.mp4"
# The columns every scores CSV has had, then those added since (the other error columns).
SCORE_COLUMNS = ("frame", "time_s", "error_gray", "error_flow", "score", "flagged", "in_event") + (
    tuple(c for c in named_scores.ERROR_COLUMNS if c not in ("error_gray", "error_flow"))
)
SEGMENT_COLUMNS = (
    "start_frame",
    "end_frame",
    "start_s",
    "end_s",
    "peak_score",
    "peak_frame",
    "duration_s",
    "flagged_frames",
)
FLOAT_FORMAT = evaluate.CSV_FLOAT_FORMAT
TIME_FORMAT = "{:.4f}"
# Bounded queues between the stages: decoded frames, and batches of preprocessed windows.
QUEUE_FRAMES = 256
QUEUE_BATCHES = 4
# The scoring mesh: one device (a video's batches are small; the step is compiled once).
SCORING_MESH = {"data_parallelism": 1}
# Timeline figure.
TIMELINE_SIZE_INCHES = (10.0, 3.0)
# Annotated video: a bar at the bottom whose length is score / (BAR_FULL_SCALE * threshold).
ANNOTATED_FOURCC = "mp4v"
BAR_HEIGHT_FRACTION = 0.05
BAR_FULL_SCALE = 2.0
COLOR_NORMAL = (80, 200, 80)  # BGR.
COLOR_FLAGGED = (40, 40, 230)  # BGR.
COLOR_BAR_BACKGROUND = (0, 0, 0)  # BGR.
COLOR_THRESHOLD_MARK = (255, 255, 255)  # BGR.
FLAGGED_BORDER_PX = 4
THRESHOLD_MARK_PX = 1
TEXT_SCALE = 0.5
TEXT_THICKNESS_PX = 1
TEXT_MARGIN_X_PX = 2 * FLAGGED_BORDER_PX  # Clear of the red border.
TEXT_GAP_ABOVE_BAR_PX = 4
FILLED = -1  # cv2.rectangle thickness that fills the rectangle.


class RunNotFoundError(FileNotFoundError):
  """The workdir does not hold a trained run (config, preprocessing, checkpoint, threshold)."""


class VideoTooShortError(video.VideoError):
  """The video has fewer frames than one model window."""


class OutputDirError(PermissionError):
  """The output directory cannot be created or written."""


# --------------------------------------------------------------------------------------------------
# The trained run.


@dataclasses.dataclass(frozen=True)
class Threshold:
  """The flagging rule: score > value, frames grouped into events by `event_rule`.

  Attributes:
    value: flag a frame when its score > value.
    false_alarm_rate: the share of normal validation frames it was calibrated to (frame mode).
    source: where the value came from.
    false_events_per_hour: the false events per hour it was calibrated to (events mode).
    event_rule: how flagged frames make events (`segments`; the run's rule).
    warning: the calibration's warning (validation video too short for the rate), or None.
  """

  value: float
  false_alarm_rate: float | None
  source: str
  false_events_per_hour: float | None = None
  event_rule: events.EventRule = events.PLAIN_RUNS
  warning: str | None = None


@dataclasses.dataclass(frozen=True)
class ScoringRun:
  """What scoring needs from a run's workdir."""

  workdir: pathlib.Path
  config: ml_collections.ConfigDict
  preprocess: preprocess.PreprocessConfig
  model: Any  # flax.linen.Module
  params: Any
  step: int
  streams: tuple[str, ...]  # Streams the model reconstructs (and that get an error).
  stored_threshold: dict[str, Any] | None  # threshold.json, None if absent.


def _read_json(path: pathlib.Path, what: str) -> Any:
  if not path.is_file():
    raise RunNotFoundError(
        f"{path} not found: {path.parent} is not a finished training run ({what}). "
        "Train first: python -m mouseflax.main --config=... --workdir=DIR."
    )
  return json.loads(path.read_text(encoding="utf-8"))


def _restore(
    config: ml_collections.ConfigDict, workdir: pathlib.Path, crop_hw: tuple[int, int]
) -> tuple[Any, Any, int, tuple[str, ...]]:
  """(model, params, step, streams) of the checkpoint training evaluated (best or latest)."""
  if not any((workdir / checkpointing.CHECKPOINT_DIR).glob("*")):
    raise RunNotFoundError(
        f"No checkpoint in {workdir / checkpointing.CHECKPOINT_DIR}: train the "
        f"run first (python -m mouseflax.main ... --workdir={workdir})."
    )
  model = models.create_model(config.model)
  if config.model.name == "supervised":
    raise ValueError(
        f"{workdir}: config.model.name='supervised' has no reconstruction error; "
        "score a run of an autoencoder (cae, rae, cae_single)."
    )
  mesh = steps.make_mesh(SCORING_MESH)
  h, w = crop_hw
  example = {
      s: jnp.zeros((1, streams.SEQUENCE_LENGTH, h, w, c))
      for s, c in streams.STREAM_CHANNELS.items()
  }
  target = steps.create_train_state(
      model, steps.create_optimizer(config.optim), example, config.seed, mesh
  )
  manager = checkpointing.create_manager(workdir, config.ckpt)
  try:
    state, step = checkpointing.restore_for_eval(
        manager, target, use_best=config.eval.use_best_checkpoint
    )
  except checkpointing.CheckpointNotFoundError as e:
    raise RunNotFoundError(str(e)) from e
  finally:
    manager.close()
  outputs = steps.predict(model.apply, state.params, example)
  return model, state.params, step, tuple(s for s in streams.STREAMS if s in outputs)


def load_run(workdir: str | pathlib.Path) -> ScoringRun:
  """Reads config.json, preprocess.json, threshold.json and the evaluated checkpoint of a run."""
  workdir = pathlib.Path(workdir).expanduser()
  if not workdir.is_dir():
    raise RunNotFoundError(f"--workdir={workdir} does not exist: pass the folder of a trained run.")
  config = ml_collections.ConfigDict(_read_json(workdir / run_files.CONFIG_FILE, "no config"))
  cfg = preprocess.PreprocessConfig.from_dict(
      _read_json(workdir / run_files.PREPROCESS_FILE, "no preprocessing record")
  )
  model, params, step, model_streams = _restore(config, workdir, cfg.crop_hw)
  threshold_path = workdir / run_files.THRESHOLD_FILE
  stored = json.loads(threshold_path.read_text()) if threshold_path.is_file() else None
  run = ScoringRun(
      workdir=workdir,
      config=config,
      preprocess=cfg,
      model=model,
      params=params,
      step=step,
      streams=model_streams,
      stored_threshold=stored,
  )
  error_stats(run)  # A z-scored run without its statistics fails here, before any video.
  return run


def make_window_errors_fn(run: ScoringRun) -> Callable[[np.ndarray, np.ndarray], dict]:
  """Jitted (gray uint8 [B,T,H,W,1], flow [B,T,H,W,2]) -> {error column: float32 [B,T]}."""

  @jax.jit
  def window_errors(params, gray, flow):
    inputs = streams.to_model_inputs({"gray": gray, "flow": flow})
    outputs = steps.predict(run.model.apply, params, inputs)
    columns = {}
    for kind in streams.ERROR_KINDS:
      errors = streams.per_frame_errors(inputs, outputs, dtype=jnp.float32, xp=jnp, kind=kind)
      columns.update({named_scores.error_column(kind, s): v for s, v in errors.items()})
    return columns

  return lambda gray, flow: window_errors(run.params, gray, flow)


# --------------------------------------------------------------------------------------------------
# Threshold.


def score_name(run: ScoringRun) -> str:
  """The run's named score (`config.eval.score`, or what an old run's normalisation stands for)."""
  return named_scores.score_name(run.config.eval)


def score_streams(run: ScoringRun) -> list[str] | None:
  """The streams the run's score combines (threshold.json's `score_streams`); None = all of them
  (`eval.score_streams='all'`, and runs made before it)."""
  scored = (run.stored_threshold or {}).get("score_streams")
  if scored is not None and (
      not isinstance(scored, list) or not scored or not set(scored) <= set(run.streams)
  ):
    raise RunNotFoundError(
        f"{run.workdir / run_files.THRESHOLD_FILE}: score_streams={scored!r} must be a non-empty "
        f"list of the model's streams {list(run.streams)} (or null for all of them): restore the "
        "file the run wrote, or rerun the run's evaluation."
    )
  return scored


def error_stats(run: ScoringRun) -> dict[str, Any] | None:
  """The validation error statistics (threshold.json) the run's score needs; None for a raw score.

  threshold.json's `error_stats` (every error column), or an old run's `stream_stats` (the MSE's).
  """
  stored = run.stored_threshold or {}
  stats = stored.get("error_stats") or named_scores.legacy_stats(stored.get("stream_stats"))
  if not named_scores.SCORES[score_name(run)].standardised:
    return stats or None
  if not stats:
    raise RunNotFoundError(
        f"{run.workdir / run_files.THRESHOLD_FILE} lacks the error statistics that "
        f"config.eval.score={score_name(run)!r} z-scores with: finish the run's training and "
        f"evaluation (python -m mouseflax.main ... --workdir={run.workdir})."
    )
  return stats


def event_rule(run: ScoringRun) -> events.EventRule:
  """The run's event rule (plain runs of flagged frames for runs made before it existed)."""
  return events.rule_from_config(run.config.eval)


def validation_errors_path(run: ScoringRun) -> pathlib.Path:
  """The cache of the validation errors of the run's scored checkpoint."""
  return run.workdir / VALIDATION_ERRORS_FILE.format(step=run.step)


def _compute_validation_errors(run: ScoringRun) -> dict[str, np.ndarray]:
  """The validation split's per-frame columns: video, frame, label, fps and every error column."""
  from mouseflax import input_pipeline  # pylint: disable=g-import-not-at-top  # Loads TFDS.

  try:
    handle = input_pipeline.prepare(run.config.data, seed=run.config.seed)
    arrays = handle.load(run.config.train.val_split)
  except (FileNotFoundError, ValueError) as e:
    raise ValueError(
        f"Cannot recalibrate: the validation records of {run.workdir} are not "
        f"available ({e}). Pass --threshold=X instead."
    ) from e
  predict_fn = steps.make_predict_fn(run.model.apply, run.params, steps.make_mesh(SCORING_MESH))
  table = evaluate.frame_errors(predict_fn, arrays, run.config.eval.batch_size)
  fps = evaluate.fps_by_video(
      handle.info.metadata.get("video_fps"), np.unique(table.video), "validation split"
  )
  return {
      "video": table.video,
      "frame": table.frame_index,
      "label": table.label,
      "fps": np.array([fps[int(v)] for v in table.video]),
      **table.error_columns(),
  }


def validation_errors(run: ScoringRun) -> dict[str, np.ndarray]:
  """Per-frame errors of the run's validation split (cached in the workdir after the first call)."""
  cache = validation_errors_path(run)
  if cache.is_file():
    with np.load(cache) as stored:
      return dict(stored)
  columns = _compute_validation_errors(run)
  with fileio.atomic_path(cache) as tmp:
    np.savez(tmp, **columns)
  return columns


def validation_timeline(run: ScoringRun) -> calibration.Timeline:
  """The normal validation frames under the run's score, as `calibration` fits thresholds on."""
  columns = validation_errors(run)
  normal = columns["label"] == 0
  score = named_scores.compute(score_name(run), columns, error_stats(run), score_streams(run))
  fps = dict(zip(columns["video"].tolist(), columns["fps"].tolist()))
  return calibration.timeline(
      columns["video"][normal], columns["frame"][normal], score[normal], fps
  )


def _stored_target(stored: dict[str, Any]) -> calibration.Target:
  """The target threshold.json was calibrated to (old runs: a frame rate)."""
  mode = stored.get("calibrate_to", calibration.FRAME_RATE)
  key = "false_events_per_hour" if mode == calibration.EVENTS_PER_HOUR else "false_alarm_rate"
  return calibration.Target(mode, float(stored[key]))


def _threshold(value: float, target: calibration.Target, source: str, **kwargs) -> Threshold:
  events_mode = target.mode == calibration.EVENTS_PER_HOUR
  return Threshold(
      value,
      None if events_mode else target.value,
      source,
      false_events_per_hour=target.value if events_mode else None,
      **kwargs,
  )


def check_threshold_flags(
    threshold: float | None,
    false_alarm_rate: float | None,
    false_events_per_hour: float | None = None,
) -> None:
  """Raises ValueError unless the threshold flags make one valid rule.

  --threshold must be a finite number, --false_alarm_rate a share in (0, 1),
  --false_events_per_hour a positive rate, and at most one of them is given (another would be
  ignored). The one place the flags are checked: extend it here.
  """
  given = {
      name: value
      for name, value in (
          ("--threshold", threshold),
          ("--false_alarm_rate", false_alarm_rate),
          ("--false_events_per_hour", false_events_per_hour),
      )
      if value is not None
  }
  if len(given) > 1:
    flags_given = " and ".join(f"{name}={value}" for name, value in given.items())
    raise ValueError(f"{flags_given} all set the threshold: pass one of them.")
  if threshold is not None and not math.isfinite(threshold):
    raise ValueError(f"--threshold={threshold}: must be a finite number (scores are).")
  if false_alarm_rate is not None and not 0.0 < false_alarm_rate < 1.0:
    raise ValueError(
        f"--false_alarm_rate={false_alarm_rate}: must be a share of frames in (0, 1), e.g. 0.01."
    )
  if false_events_per_hour is not None and not (
      math.isfinite(false_events_per_hour) and false_events_per_hour > 0
  ):
    raise ValueError(
        f"--false_events_per_hour={false_events_per_hour}: must be a positive number of false "
        "events per hour of normal video, e.g. 2."
    )


def resolve_threshold(
    run: ScoringRun,
    threshold: float | None = None,
    false_alarm_rate: float | None = None,
    false_events_per_hour: float | None = None,
) -> Threshold:
  """--threshold, else the stored threshold (same target), else a recalibration for the new one.

  The returned Threshold carries the run's event rule: pass it to `segments` to get the events
  calibration counted.
  """
  check_threshold_flags(threshold, false_alarm_rate, false_events_per_hour)
  rule = event_rule(run)
  if threshold is not None:
    return Threshold(float(threshold), None, "--threshold", event_rule=rule)
  if false_events_per_hour is not None:
    wanted = calibration.Target(calibration.EVENTS_PER_HOUR, float(false_events_per_hour))
  elif false_alarm_rate is not None:
    wanted = calibration.Target(calibration.FRAME_RATE, float(false_alarm_rate))
  else:
    wanted = None
  stored = run.stored_threshold
  if stored is not None:
    target = _stored_target(stored)
    if wanted is None or (wanted.mode == target.mode and np.isclose(wanted.value, target.value)):
      source = str(run.workdir / run_files.THRESHOLD_FILE)
      return _threshold(
          float(stored["threshold"]), target, source, event_rule=rule, warning=stored.get("warning")
      )
  if wanted is None:
    raise RunNotFoundError(
        f"{run.workdir / run_files.THRESHOLD_FILE} not found (training did not finish its "
        "evaluation): pass --threshold=X, --false_events_per_hour=R or --false_alarm_rate=R."
    )
  fitted = calibration.calibrate(validation_timeline(run), rule, wanted)
  if fitted["warning"]:
    logging.warning("Recalibration: %s", fitted["warning"])
  return _threshold(
      fitted["threshold"],
      wanted,
      "recalibrated on the validation split",
      event_rule=rule,
      warning=fitted["warning"],
  )


# --------------------------------------------------------------------------------------------------
# Streaming pipeline: decode -> preprocess + windows -> model, overlapped.


@dataclasses.dataclass
class WindowBatch:
  """`count` windows (rows beyond are padding): gray [B,T,H,W,1] uint8, flow float16, starts [B].

  `end` is set on the last batch of a stream only: one past the last frame decoded.
  """

  gray: np.ndarray
  flow: np.ndarray
  starts: np.ndarray
  count: int
  end: int | None = None


def empty_batch(cfg: preprocess.PreprocessConfig, batch_size: int) -> WindowBatch:
  """A batch of `batch_size` zero windows (count 0) in the stored dtypes, at cfg's crop size."""
  h, w = cfg.crop_hw
  return WindowBatch(
      gray=np.zeros(
          (batch_size, streams.SEQUENCE_LENGTH, h, w, streams.STREAM_CHANNELS["gray"]), np.uint8
      ),
      flow=np.zeros(
          (batch_size, streams.SEQUENCE_LENGTH, h, w, streams.STREAM_CHANNELS["flow"]),
          streams.FLOW_DTYPE,
      ),
      starts=np.zeros(batch_size, np.int64),
      count=0,
  )


WHOLE_VIDEO = chunks.Chunk(0, 0, None)


def holds_end(chunk: chunks.Chunk, end: int) -> bool:
  """Whether a chunk whose decoding stopped at frame `end` (exclusive) holds the video's end."""
  return end > chunk.start and (chunk.stop is None or end < chunk.stop)


def window_batches(
    frames: Iterator[np.ndarray],
    cfg: preprocess.PreprocessConfig,
    batch_size: int,
    path: pathlib.Path | str = "",
    *,
    chunk: chunks.Chunk = WHOLE_VIDEO,
    first: int = 0,
) -> Iterator[WindowBatch]:
  """Preprocesses decoded frames and packs the windows of `chunk` into batches (module docstring).

  Windows: consecutive, non-overlapping, plus one aligned to the end when N % T != 0 (the rule of
  `windows.covering_windows`); a chunk gets the windows that start in it and, when the video ends in
  it, the end-aligned one. Only the last T preprocessed frames are kept, so memory does not depend
  on N. The last batch (possibly empty) carries `end`.

  Args:
    frames: decoded frames from index `first` on; when `first` > 0, frame `first` only gives the
      next frame its flow (`chunks.scoring_context`).
    cfg: the run's preprocessing.
    batch_size: windows per batch.
    path: the video, for messages.
    chunk: the frames whose windows are wanted; its start is a multiple of T.
    first: the index of the first frame in `frames`.
  """
  preprocessor = preprocess.FramePreprocessor(cfg)
  recent = collections.deque(maxlen=streams.SEQUENCE_LENGTH)
  batch, index = empty_batch(cfg, batch_size), first - 1

  def add_window(start: int) -> None:
    batch.gray[batch.count] = np.stack([g for g, _ in recent])
    batch.flow[batch.count] = np.stack([f for _, f in recent])
    batch.starts[batch.count] = start
    batch.count += 1

  for index, frame in enumerate(frames, start=first):
    processed = preprocessor(frame)
    if index == first > 0:
      continue  # The flow predecessor only: its own flow would be the zero field.
    recent.append(processed)
    if (index + 1) % streams.SEQUENCE_LENGTH == 0 and index >= chunk.start:
      add_window(index + 1 - streams.SEQUENCE_LENGTH)
      if batch.count == batch_size:
        yield batch
        batch = empty_batch(cfg, batch_size)
  end = index + 1
  if holds_end(chunk, end):
    if end < streams.SEQUENCE_LENGTH:
      raise VideoTooShortError(
          f"{path} has {end} frames, fewer than one model window of "
          f"{streams.SEQUENCE_LENGTH}: score a longer recording."
      )
    if end % streams.SEQUENCE_LENGTH:
      add_window(end - streams.SEQUENCE_LENGTH)  # `recent` holds the last T frames.
  batch.end = end
  yield batch


class _FrameSums:
  """Per-frame sums and counts of window errors; grows with the video (a few numbers per frame)."""

  def __init__(self, columns: Sequence[str], capacity: int):
    self.sums = {c: np.zeros(capacity) for c in columns}
    self.counts = np.zeros(capacity)
    self.num_frames = 0

  def _grow(self, needed: int) -> None:
    """The container's frame count can be an estimate: grow (doubling) past it when needed."""
    size = max(needed, 2 * len(self.counts))
    self.counts = np.pad(self.counts, (0, size - len(self.counts)))
    self.sums = {s: np.pad(v, (0, size - len(v))) for s, v in self.sums.items()}

  def add(self, starts: np.ndarray, errors: dict[str, np.ndarray]) -> None:
    if not len(starts):
      return
    frames = (starts[:, None] + np.arange(streams.SEQUENCE_LENGTH)[None, :]).reshape(-1)
    end = int(frames.max()) + 1
    if end > len(self.counts):
      self._grow(end)
    np.add.at(self.counts, frames, 1.0)
    for s, v in errors.items():
      np.add.at(self.sums[s], frames, np.asarray(v, np.float64).reshape(-1))
    self.num_frames = max(self.num_frames, end)

  def means(self) -> dict[str, np.ndarray]:
    n = self.num_frames
    return {s: v[:n] / self.counts[:n] for s, v in self.sums.items()}


@dataclasses.dataclass(frozen=True)
class VideoScores:
  """Per-frame results of one video (arrays [N]); error_flow is NaN for a single-stream model.

  `errors` holds every error column (`named_scores.ERROR_COLUMNS`, error_gray/error_flow
  included; NaN for a stream the model lacks).
  """

  path: pathlib.Path
  fps: float
  error_gray: np.ndarray
  error_flow: np.ndarray
  score: np.ndarray
  errors: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

  @property
  def frame(self) -> np.ndarray:
    return np.arange(len(self.score))

  @property
  def time_s(self) -> np.ndarray:
    return self.frame / self.fps


@dataclasses.dataclass(frozen=True)
class ChunkErrors:
  """The window errors of one chunk: starts [W], {error column: [W, T]}, and its frame count.

  `num_frames` counts the chunk's own frames (from `chunk.start`), 0 for a chunk past the end.
  """

  chunk: chunks.Chunk
  starts: np.ndarray
  errors: dict[str, np.ndarray]
  num_frames: int


@dataclasses.dataclass(frozen=True)
class ScoreRule:
  """How window errors become a video's scores: the run's named score and its statistics.

  Small and picklable: what a worker assembling scores needs from the run (not its parameters).
  """

  name: str
  stats: dict[str, Any] | None
  columns: tuple[str, ...]  # The error columns the run's streams produce.
  scored: tuple[str, ...] | None = None  # The streams the score combines (None: all).

  @classmethod
  def of(cls, run: ScoringRun) -> ScoreRule:
    columns = tuple(
        named_scores.error_column(k, s) for k in streams.ERROR_KINDS for s in run.streams
    )
    scored = score_streams(run)
    return cls(
        score_name(run), error_stats(run), columns, None if scored is None else tuple(scored)
    )


def _progress_bar(total: int, path: pathlib.Path | str, enabled: bool):
  from tqdm import auto as tqdm_auto  # pylint: disable=g-import-not-at-top  # Only when drawn.

  return tqdm_auto.tqdm(
      total=total,
      desc=pathlib.Path(path).name,
      unit="frame",
      disable=not enabled,
      file=sys.stderr,
      dynamic_ncols=True,
  )


def video_chunks(path: str | pathlib.Path, chunk_frames: int) -> list[chunks.Chunk]:
  """The scoring chunks of `path`: boundaries on multiples of the window (`mouseflax.chunks`)."""
  return chunks.plan_video(path, chunk_frames, multiple=streams.SEQUENCE_LENGTH)


def score_chunk(
    run: ScoringRun,
    path: str | pathlib.Path,
    chunk: chunks.Chunk = WHOLE_VIDEO,
    *,
    batch_size: int | None = None,
    errors_fn: Callable | None = None,
    on_frames: Callable[[int], None] | None = None,
) -> ChunkErrors:
  """Streams one chunk of `path` through decode -> preprocessing -> model; its window errors.

  Args:
    run: from `load_run`.
    path: any video OpenCV's FFmpeg backend reads.
    chunk: which frames (`video_chunks`); the default is the whole video.
    batch_size: windows per model call (default `config.eval.batch_size`); fixed, so one compile.
    errors_fn: from `make_window_errors_fn(run)` (pass it to reuse the compiled function).
    on_frames: called with the frames done so far, for progress.

  Raises:
    video.VideoError: unreadable / non-video / truncated file; VideoTooShortError below T frames.
  """
  path = pathlib.Path(path)
  batch_size = batch_size or run.config.eval.batch_size
  errors_fn = errors_fn or make_window_errors_fn(run)
  first = max(chunk.start - chunks.scoring_context(streams.SEQUENCE_LENGTH), 0)
  mode = video.gray_mode(path)
  stop = threading.Event()  # Shared by both stages: the first to stop stops the other.
  frames = threads.background(
      lambda: video.iter_gray_frames(path, first, chunk.stop, mode=mode), QUEUE_FRAMES, stop
  )
  batches = threads.background(
      lambda: window_batches(frames, run.preprocess, batch_size, path, chunk=chunk, first=first),
      QUEUE_BATCHES,
      stop,
  )
  starts, errors, pending, end = [], collections.defaultdict(list), None, first
  width = streams.SEQUENCE_LENGTH
  try:
    for batch in itertools.chain(batches, [None]):  # None: collect the last batch.
      result = None if batch is None else (errors_fn(batch.gray, batch.flow), batch)
      if pending is not None:  # Collect the previous batch while this one computes.
        done_errors, done = pending
        starts.append(done.starts[: done.count])
        for column, values in done_errors.items():
          errors[column].append(np.asarray(values)[: done.count])
        end = done.end if done.end is not None else int(done.starts[done.count - 1]) + width
        if on_frames:
          on_frames(max(end - chunk.start, 0))
      pending = result
  except video.StartPastEndError:
    if not chunk.start:
      raise
  finally:
    batches.close()  # After an error here, stops and joins both stages: no thread is left behind.
  return ChunkErrors(
      chunk=chunk,
      starts=np.concatenate(starts) if starts else np.zeros(0, np.int64),
      errors={
          c: np.concatenate(v) if v else np.zeros((0, width), np.float32) for c, v in errors.items()
      },
      num_frames=max(end - chunk.start, 0),
  )


def assemble_scores(
    path: str | pathlib.Path, fps: float, parts: Sequence[ChunkErrors], rule: ScoreRule
) -> VideoScores:
  """A video's per-frame scores from its chunks' window errors (any order; checked complete)."""
  path = pathlib.Path(path)
  parts = sorted(parts, key=lambda p: p.chunk.index)
  total = chunks.check_chunk_counts(
      [p.chunk for p in parts], [p.num_frames for p in parts], str(path)
  )
  sums = _FrameSums(rule.columns, total)
  for part in parts:  # In frame order: the same sums, in the same order, as one pass.
    sums.add(part.starts, {c: part.errors[c] for c in rule.columns} if len(part.starts) else {})
  return _video_scores(path, fps, sums, rule)


def score_video(
    run: ScoringRun,
    path: str | pathlib.Path,
    *,
    batch_size: int | None = None,
    errors_fn: Callable | None = None,
    progress: bool = True,
    chunk_frames: int = chunks.DEFAULT_CHUNK_FRAMES,
) -> VideoScores:
  """Scores `path` chunk after chunk in this process; per-frame errors and scores.

  Args:
    run: from `load_run`.
    path: any video OpenCV's FFmpeg backend reads.
    batch_size: windows per model call (default `config.eval.batch_size`); fixed, so one compile.
    errors_fn: from `make_window_errors_fn(run)` (pass it to reuse the compiled function).
    progress: draw a progress bar on stderr.
    chunk_frames: frames per chunk (`video_chunks`); the scores do not depend on it.

  Raises:
    video.VideoError: unreadable / non-video / truncated file; VideoTooShortError below T frames.
  """
  path = pathlib.Path(path)
  errors_fn = errors_fn or make_window_errors_fn(run)
  planned = video_chunks(path, chunk_frames)
  info = video.quick_probe(path)
  parts = []
  with _progress_bar(info.num_frames, path, progress) as bar:
    for chunk in planned:
      done = bar.n
      parts.append(
          score_chunk(
              run,
              path,
              chunk,
              batch_size=batch_size,
              errors_fn=errors_fn,
              on_frames=lambda n, done=done: bar.update(done + n - bar.n),
          )
      )
  return assemble_scores(path, info.fps, parts, ScoreRule.of(run))


def _video_scores(
    path: pathlib.Path,
    fps: float,
    sums: _FrameSums,
    rule: ScoreRule,
) -> VideoScores:
  fps = events.checked_fps(fps, f"{path} (the container gives no frame rate)")
  means = sums.means()
  nan = np.full(sums.num_frames, np.nan)
  errors = {c: means.get(c, nan) for c in named_scores.ERROR_COLUMNS}
  score = named_scores.compute(rule.name, errors, rule.stats, rule.scored)
  if not np.all(np.isfinite(score)):
    raise FloatingPointError(f"{path}: non-finite scores; the run's parameters hold NaN/inf.")
  return VideoScores(
      path=path,
      fps=fps,
      error_gray=errors["error_gray"],
      error_flow=errors["error_flow"],
      score=score,
      errors=errors,
  )


# --------------------------------------------------------------------------------------------------
# Outputs.


def _value_and_rule(
    threshold: Threshold | float, rule: events.EventRule | None
) -> tuple[float, events.EventRule]:
  if isinstance(threshold, Threshold):
    return threshold.value, rule or threshold.event_rule
  return float(threshold), rule or events.PLAIN_RUNS


def segments(
    scores: VideoScores, threshold: Threshold | float, rule: events.EventRule | None = None
) -> list[tuple[int, int]]:
  """[(first_frame, last_frame)] of each event: flagged frames (score > threshold) grouped by rule.

  Pass the `Threshold` of `resolve_threshold`: its event rule is the run's, the one calibration
  counted (`mouseflax.events`). A bare number gives plain runs of flagged frames unless `rule` is
  given.
  """
  value, rule = _value_and_rule(threshold, rule)
  found = events.find_events(scores.frame, scores.score > value, rule, scores.fps)
  return [(int(a), int(b)) for a, b in found]


def _csv(header: Sequence[str], rows: Iterator[Sequence[Any]]) -> str:
  buf = io.StringIO()
  writer = csv.writer(buf, lineterminator="\n")
  writer.writerow(header)
  writer.writerows(rows)
  return buf.getvalue()


def _num(value: float) -> str:
  return "" if np.isnan(value) else FLOAT_FORMAT.format(value)


def scores_csv(scores: VideoScores, threshold: Threshold | float) -> str:
  """The `<stem>_scores.csv` text (SCORE_COLUMNS; a stream the model lacks has empty errors)."""
  value, _ = _value_and_rule(threshold, None)
  in_event = np.zeros(len(scores.score), bool)
  for a, b in segments(scores, threshold):
    in_event[a : b + 1] = True
  nan = np.full(len(scores.score), np.nan)
  columns = {
      "frame": scores.frame,
      "time_s": [TIME_FORMAT.format(t) for t in scores.time_s],
      "error_gray": [_num(v) for v in scores.error_gray],
      "error_flow": [_num(v) for v in scores.error_flow],
      "score": [_num(v) for v in scores.score],
      "flagged": (scores.score > value).astype(int),
      "in_event": in_event.astype(int),
  }
  for column in SCORE_COLUMNS[len(columns) :]:
    columns[column] = [_num(v) for v in scores.errors.get(column, nan)]
  return _csv(SCORE_COLUMNS, zip(*(columns[c] for c in SCORE_COLUMNS)))


def segments_csv(scores: VideoScores, threshold: Threshold | float) -> str:
  """The `<stem>_segments.csv` text (SEGMENT_COLUMNS; frames inclusive, end_s = end of last
  frame)."""
  value, _ = _value_and_rule(threshold, None)
  rows = []
  for a, b in segments(scores, threshold):
    span = scores.score[a : b + 1]
    rows.append(
        (
            a,
            b,
            TIME_FORMAT.format(a / scores.fps),
            TIME_FORMAT.format((b + 1) / scores.fps),
            _num(span.max()),
            a + int(np.argmax(span)),
            TIME_FORMAT.format((b + 1 - a) / scores.fps),
            int(np.sum(span > value)),
        )
    )
  return _csv(SEGMENT_COLUMNS, iter(rows))


def plot_timeline(scores: VideoScores, threshold: Threshold, path: pathlib.Path) -> pathlib.Path:
  """Score over time, the threshold as a dashed line, events shaded."""
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top  # plots set the backend.

  fig, ax = plt.subplots(figsize=TIMELINE_SIZE_INCHES)
  frame_s = 1.0 / scores.fps
  for a, b in segments(scores, threshold):
    ax.axvspan(a * frame_s, (b + 1) * frame_s, **plots.ANOMALY_SHADE)
  ax.plot(scores.time_s, scores.score, linewidth=plots.LINE_WIDTH, color="tab:blue", label="score")
  rate = describe_target(threshold)
  rate = f", {rate}" if rate else ""
  ax.axhline(
      threshold.value,
      color="black",
      linestyle="--",
      linewidth=plots.LINE_WIDTH,
      label=f"threshold {threshold.value:.4g}{rate}",
  )
  flagged = int(np.sum(scores.score > threshold.value))
  ax.set_title(
      f"{scores.path.name}: {flagged} of {len(scores.score)} frames flagged, "
      f"{len(segments(scores, threshold))} events (shaded)",
      fontsize="small",
  )
  ax.set_xlabel("time (s)")
  ax.set_ylabel("anomaly score")
  ax.set_xlim(0, len(scores.score) * frame_s)
  if np.all(scores.score > 0):  # Log: the threshold stays visible beside anomalies 100x above it.
    ax.set_yscale("log")
  ax.legend(loc="upper right", fontsize="small")
  fig.tight_layout()
  return plots.save_figure(fig, path)


def describe_target(threshold: Threshold) -> str:
  """'2 false events/h' or '1.0% FA' (what the threshold was calibrated to), '' for --threshold."""
  if threshold.false_events_per_hour is not None:
    return f"{threshold.false_events_per_hour:g} false events/h"
  if threshold.false_alarm_rate is not None:
    return f"{threshold.false_alarm_rate:.1%} FA"
  return ""


def draw_overlay(frame: np.ndarray, score: float, threshold: float) -> np.ndarray:
  """Draws the score bar (and a red border when flagged) on a BGR frame, in place."""
  height, width = frame.shape[:2]
  flagged = score > threshold
  color = COLOR_FLAGGED if flagged else COLOR_NORMAL
  bar_h = max(int(height * BAR_HEIGHT_FRACTION), 1)
  fill = int(width * min(score / (BAR_FULL_SCALE * threshold), 1.0)) if threshold > 0 else width
  cv2.rectangle(frame, (0, height - bar_h), (width - 1, height - 1), COLOR_BAR_BACKGROUND, FILLED)
  cv2.rectangle(frame, (0, height - bar_h), (fill, height - 1), color, FILLED)
  mark = int(width / BAR_FULL_SCALE)  # Where the threshold lies on the bar.
  cv2.line(
      frame, (mark, height - bar_h), (mark, height - 1), COLOR_THRESHOLD_MARK, THRESHOLD_MARK_PX
  )
  cv2.putText(
      frame,
      f"score {score:.4g}",
      (TEXT_MARGIN_X_PX, height - bar_h - TEXT_GAP_ABOVE_BAR_PX),
      cv2.FONT_HERSHEY_SIMPLEX,
      TEXT_SCALE,
      color,
      TEXT_THICKNESS_PX,
      cv2.LINE_AA,
  )
  if flagged:
    cv2.rectangle(frame, (0, 0), (width - 1, height - 1), COLOR_FLAGGED, FLAGGED_BORDER_PX)
  return frame


def write_annotated_video(
    scores: VideoScores, threshold: float, path: pathlib.Path
) -> pathlib.Path:
  """Writes the recording (colour) with the overlay of `draw_overlay`, through a temporary file."""
  cap = cv2.VideoCapture(str(scores.path), cv2.CAP_FFMPEG)
  if not cap.isOpened():
    raise video.VideoError(f"Cannot reopen {scores.path} to write the annotated video.")
  width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
  try:
    with fileio.atomic_path(path) as tmp:  # Keeps the suffix, which picks the container.
      writer = cv2.VideoWriter(
          str(tmp), cv2.VideoWriter_fourcc(*ANNOTATED_FOURCC), scores.fps, (width, height)
      )
      try:
        if not writer.isOpened():
          raise OutputDirError(f"OpenCV has no {ANNOTATED_FOURCC} encoder here.")
        for score in scores.score:
          ok, frame = cap.read()
          if not ok:
            break
          writer.write(draw_overlay(frame, float(score), threshold))
      finally:
        writer.release()
  finally:
    cap.release()
  return path


@dataclasses.dataclass(frozen=True)
class ScoredVideo:
  """The result of one video: its scores, the files written, and the timing."""

  scores: VideoScores
  files: dict[str, pathlib.Path]
  seconds: float

  @property
  def frames_per_second(self) -> float:
    return len(self.scores.score) / self.seconds


def write_outputs(
    scores: VideoScores,
    threshold: Threshold,
    output_dir: pathlib.Path,
    stem: str,
    annotated_video: bool = False,
) -> dict[str, pathlib.Path]:
  """Writes the CSVs, the timeline (and the annotated video) of one video; returns their paths."""
  files = {
      "scores": fileio.write_text_atomic(
          output_dir / f"{stem}{SCORES_SUFFIX}", scores_csv(scores, threshold)
      ),
      "segments": fileio.write_text_atomic(
          output_dir / f"{stem}{SEGMENTS_SUFFIX}", segments_csv(scores, threshold)
      ),
      "timeline": plot_timeline(scores, threshold, output_dir / f"{stem}{TIMELINE_SUFFIX}"),
  }
  if annotated_video:
    files["annotated"] = write_annotated_video(
        scores, threshold.value, output_dir / f"{stem}{ANNOTATED_SUFFIX}"
    )
  return files


# --------------------------------------------------------------------------------------------------
# Many videos, with per-video failures.


def check_output_dir(output_dir: str | pathlib.Path) -> pathlib.Path:
  """Creates `output_dir` and checks it is writable, or raises OutputDirError naming it."""
  output_dir = pathlib.Path(output_dir).expanduser()
  try:
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output_dir, prefix=".write-test-"):
      pass
  except OSError as e:
    raise OutputDirError(
        f"--output_dir={output_dir} cannot be written ({e.strerror or e}): choose "
        "a folder you can write to."
    ) from e
  return output_dir


GLOB_CHARACTERS = frozenset("*?[")


def expand_videos(patterns: Sequence[str | pathlib.Path]) -> list[str]:
  """Paths as given, glob patterns (`**` recursive) expanded to the video files they match, sorted.

  A pattern that matches no video raises ValueError naming it (a typo must not score nothing).
  """
  paths = []
  for pattern in map(str, patterns):
    if not GLOB_CHARACTERS & set(pattern):
      paths.append(pattern)
      continue
    matches = sorted(p for p in glob.glob(os.path.expanduser(pattern), recursive=True))
    found = [p for p in matches if video.is_video_file(p)]
    if not found:
      raise ValueError(
          f"--video={pattern!r} matches no video file (suffixes {', '.join(video.VIDEO_SUFFIXES)})."
      )
    paths.extend(found)
  return paths


def output_stems(videos: Sequence[str | pathlib.Path]) -> list[str]:
  """File stems of the outputs; two videos with the same stem would overwrite each other: error."""
  stems = [pathlib.Path(v).stem for v in videos]
  duplicates = sorted({s for s in stems if stems.count(s) > 1})
  if duplicates:
    raise ValueError(
        f"Videos with the same file stem {duplicates} would write the same outputs: "
        "rename them or score them in separate calls with different --output_dir."
    )
  return stems


# Per-video errors that do not stop the other videos of a call.
VIDEO_ERRORS = (video.VideoError, OSError, ValueError, FloatingPointError)


def score_videos(
    run: ScoringRun,
    videos: Sequence[str | pathlib.Path],
    output_dir: str | pathlib.Path,
    threshold: Threshold,
    *,
    batch_size: int | None = None,
    annotated_video: bool = False,
    progress: bool = True,
    num_workers: int = 1,
    chunk_frames: int = chunks.DEFAULT_CHUNK_FRAMES,
) -> dict[str, ScoredVideo | BaseException]:
  """Scores each video and writes its outputs; a failing video is reported, the others go on.

  Args:
    run: from `load_run`.
    videos: the recordings.
    output_dir: where each video's files go (`write_outputs`).
    threshold: from `resolve_threshold`.
    batch_size: windows per model call (default `config.eval.batch_size`).
    annotated_video: also write `<stem>_annotated.mp4`.
    progress: progress bars (one per video in this process; one over all frames with workers).
    num_workers: > 1 scores the chunks of every video in that many worker processes
      (`score_in_workers`), each loading the model once; the scores are the same.
    chunk_frames: frames per chunk (`video_chunks`).

  Returns:
    For each video path (as given): its ScoredVideo, or the exception that stopped it.
  """
  output_dir = check_output_dir(output_dir)
  stems = output_stems(videos)
  if num_workers > 1:
    return score_in_workers(
        run,
        dict(zip(videos, stems)),
        output_dir,
        threshold,
        batch_size=batch_size,
        annotated_video=annotated_video,
        progress=progress,
        num_workers=num_workers,
        chunk_frames=chunk_frames,
    )
  errors_fn = make_window_errors_fn(run)
  results = {}
  for path, stem in zip(videos, stems):
    started = time.perf_counter()
    try:
      scores = score_video(
          run,
          path,
          batch_size=batch_size,
          errors_fn=errors_fn,
          progress=progress,
          chunk_frames=chunk_frames,
      )
      files = write_outputs(scores, threshold, output_dir, stem, annotated_video)
    except VIDEO_ERRORS as e:
      results[str(path)] = _report_failure(path, e)
      continue
    results[str(path)] = ScoredVideo(scores, files, time.perf_counter() - started)
  return results


def _report_failure(path: str | pathlib.Path, error: BaseException) -> BaseException:
  logging.error("%s", error if str(path) in str(error) else f"{path}: {error}")
  return error


# State of a scoring worker process: the run, its compiled step, the batch size (`_init_worker`).
_WORKER: dict[str, Any] = {}


def _init_worker(workdir: str, batch_size: int | None) -> None:
  """Pool initializer: loads the run and compiles its step once per worker process."""
  checkpointing.quiet_orbax_info_logs()
  run = load_run(workdir)
  _WORKER.update(run=run, errors_fn=make_window_errors_fn(run), batch_size=batch_size)


def _score_chunk_task(
    task: tuple[str, chunks.Chunk],
) -> tuple[str, chunks.Chunk, ChunkErrors | BaseException]:
  """Pool task: one chunk's window errors, or the per-video error that stopped it."""
  path, chunk = task
  try:
    result = score_chunk(
        _WORKER["run"],
        path,
        chunk,
        batch_size=_WORKER["batch_size"],
        errors_fn=_WORKER["errors_fn"],
    )
  except VIDEO_ERRORS as e:
    result = e
  return path, chunk, result


def score_in_workers(
    run: ScoringRun,
    stems: dict[Any, str],
    output_dir: pathlib.Path,
    threshold: Threshold,
    *,
    batch_size: int | None,
    annotated_video: bool,
    progress: bool,
    num_workers: int,
    chunk_frames: int,
) -> dict[str, ScoredVideo | BaseException]:
  """`score_videos` on worker processes: every chunk of every video is one task.

  A video's outputs are written (here) as soon as its last chunk is in; `seconds` of a ScoredVideo
  is then the time from the start of the pool, as the videos share the workers.
  """
  started = time.perf_counter()
  stems = {str(path): stem for path, stem in stems.items()}
  results: dict[str, ScoredVideo | BaseException] = {}
  planned: dict[str, list[chunks.Chunk]] = {}
  fps: dict[str, float] = {}
  for path in stems:
    try:
      planned[str(path)] = video_chunks(path, chunk_frames)
      fps[str(path)] = video.quick_probe(path).fps
    except VIDEO_ERRORS as e:
      results[str(path)] = _report_failure(path, e)
  tasks = [(path, chunk) for path, chunk_list in planned.items() for chunk in chunk_list]
  parts: dict[str, list[ChunkErrors]] = collections.defaultdict(list)
  rule = ScoreRule.of(run)
  context = multiprocessing.get_context("spawn")  # The parent holds XLA threads: no fork.
  with (
      context.Pool(
          min(num_workers, len(tasks)) or 1,
          initializer=_init_worker,
          initargs=(str(run.workdir), batch_size),
      ) as pool,
      _progress_bar(len(tasks), f"{len(planned)} videos (chunks)", progress) as bar,
  ):
    for path, _, result in pool.imap_unordered(_score_chunk_task, tasks):
      bar.update(1)
      if path in results:
        continue  # An earlier chunk of this video failed.
      if isinstance(result, BaseException):
        results[path] = _report_failure(path, result)
        continue
      parts[path].append(result)
      if len(parts[path]) < len(planned[path]):
        continue
      try:
        scores = assemble_scores(path, fps[path], parts.pop(path), rule)
        files = write_outputs(scores, threshold, output_dir, stems[path], annotated_video)
      except VIDEO_ERRORS as e:
        results[path] = _report_failure(path, e)
        continue
      results[path] = ScoredVideo(scores, files, time.perf_counter() - started)
  return {path: results[path] for path in stems}  # In the order given.


SUMMARY_FILE = "summary.csv"
SUMMARY_COLUMNS = ("video", "frames", "flagged_frames", "segments", "max_score", "error")


def summary_row(
    path: str | pathlib.Path,
    scores: VideoScores | None,
    threshold: Threshold,
    error: BaseException | str | None = None,
) -> dict[str, str]:
  """One row of summary.csv: a scored video's counts, or a failed one's error (others empty)."""
  if scores is None:
    return dict.fromkeys(SUMMARY_COLUMNS, "") | {"video": str(path), "error": str(error)}
  return {
      "video": str(path),
      "frames": str(len(scores.score)),
      "flagged_frames": str(int(np.sum(scores.score > threshold.value))),
      "segments": str(len(segments(scores, threshold))),
      "max_score": _num(float(np.max(scores.score))),
      "error": "",
  }


def write_summary_csv(output_dir: pathlib.Path, rows: Sequence[dict[str, str]]) -> pathlib.Path:
  """Writes `summary.csv` (one row per video, sorted by path) atomically."""
  ordered = sorted(rows, key=lambda row: row["video"])
  text = _csv(SUMMARY_COLUMNS, ([row[c] for c in SUMMARY_COLUMNS] for row in ordered))
  return fileio.write_text_atomic(output_dir / SUMMARY_FILE, text)


def summary_rows(
    results: dict[str, ScoredVideo | BaseException], threshold: Threshold
) -> list[dict[str, str]]:
  """The summary.csv rows of `score_videos`' results."""
  return [
      summary_row(path, None, threshold, result)
      if isinstance(result, BaseException)
      else summary_row(path, result.scores, threshold)
      for path, result in results.items()
  ]


def summary(results: dict[str, ScoredVideo | BaseException], threshold: Threshold) -> str:
  """One line per video: frames, flagged frames, events, speed; or the error."""
  target = describe_target(threshold)
  lines = [f"threshold {threshold.value:.6g} ({threshold.source}{', ' + target if target else ''})"]
  if threshold.warning:
    lines.append(f"WARNING: {threshold.warning}")
  for path, result in results.items():
    if isinstance(result, BaseException):
      lines.append(f"FAILED {path}: {type(result).__name__}: {result}")
      continue
    s = result.scores
    lines.append(
        f"ok {path}: {len(s.score)} frames, {int(np.sum(s.score > threshold.value))} "
        f"flagged, {len(segments(s, threshold))} events, "
        f"{result.frames_per_second:.0f} frames/s "
        f"({result.frames_per_second / s.fps:.1f}x real time) -> {result.files['scores']}"
    )
  failed = sum(isinstance(r, BaseException) for r in results.values())
  lines.append(f"{len(results) - failed} of {len(results)} videos scored, {failed} failed.")
  return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# CLI.


def _define_flags() -> None:
  """CLI flags, defined only when run as a script so importing this module defines none."""
  flags.DEFINE_string("workdir", None, "Folder of a trained run (python -m mouseflax.main).")
  flags.DEFINE_multi_string("video", None, "Video to score; repeat for several.")
  flags.DEFINE_string("output_dir", None, "Folder the outputs are written to.")
  flags.DEFINE_float("threshold", None, "Flag frames with score > this (overrides the stored one).")
  flags.DEFINE_float(
      "false_events_per_hour",
      None,
      "False events per hour of normal validation video; default: the target threshold.json was "
      "calibrated to (config.eval.false_events_per_hour, 2). Another rate recalibrates on the "
      "run's validation split.",
  )
  flags.DEFINE_float(
      "false_alarm_rate",
      None,
      "Share of normal validation frames flagged (instead of events per hour); recalibrates on "
      "the run's validation split unless threshold.json was calibrated to this rate.",
  )
  flags.DEFINE_bool("annotated_video", False, "Also write <stem>_annotated.mp4.")
  flags.DEFINE_integer(
      "batch_size", None, "Windows per model call (default config.eval.batch_size)."
  )
  flags.DEFINE_bool("progress", True, "Show a progress bar per video.")
  flags.DEFINE_integer(
      "num_workers",
      1,
      "Processes scoring video chunks in parallel, each loading the model once (1: this one).",
      lower_bound=1,
  )
  flags.DEFINE_integer(
      "chunk_frames",
      chunks.DEFAULT_CHUNK_FRAMES,
      f"Videos are scored in chunks of this many frames (a multiple of {streams.SEQUENCE_LENGTH};"
      " 0: whole videos); the scores do not depend on it.",
      lower_bound=0,
  )
  beam_runner.define_flags("Score the video chunks on Apache Beam with this runner")
  flags.DEFINE_bool(
      "review",
      True,
      "Also write the review page O/index.html (thumbnails, clips; mouseflax.review).",
  )
  from mouseflax import review  # pylint: disable=g-import-not-at-top  # review imports score.

  flags.DEFINE_integer(
      "review_clips",
      review.DEFAULT_TOP_CLIPS,
      "Clips for this many segments, those with the highest peak score (0: none).",
  )


EXIT_SOME_FAILED = 1
EXIT_NO_RUN = 2


def run_cli(
    workdir: str,
    videos: Sequence[str],
    output_dir: str,
    *,
    threshold: float | None = None,
    false_alarm_rate: float | None = None,
    false_events_per_hour: float | None = None,
    annotated_video: bool = False,
    batch_size: int | None = None,
    progress: bool = True,
    review: bool = True,
    review_clips: int | None = None,
    num_workers: int = 1,
    chunk_frames: int = chunks.DEFAULT_CHUNK_FRAMES,
    beam: beam_runner.BeamSpec | None = None,
) -> int:
  """The command line's work; returns its exit status (0, EXIT_SOME_FAILED or EXIT_NO_RUN).

  `videos` are paths or glob patterns (`expand_videos`). `review`: also write the review page
  (`mouseflax.review`), with clips of the `review_clips` segments of highest peak score (default
  `review.DEFAULT_TOP_CLIPS`); not on Beam, whose workers keep the scores (read the CSVs).
  Every path writes `summary.csv`.
  """
  try:
    check_threshold_flags(threshold, false_alarm_rate, false_events_per_hour)
    chunks.check_chunk_frames(chunk_frames, streams.SEQUENCE_LENGTH, "--chunk_frames")
    videos = expand_videos(videos)
    output_stems(videos)
    out = check_output_dir(output_dir)
    run = load_run(workdir)
    rule = resolve_threshold(run, threshold, false_alarm_rate, false_events_per_hour)
  except (OSError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_NO_RUN
  logging.info(
      "Run %s (step %d, streams %s), threshold %.6g (%s).",
      run.workdir,
      run.step,
      run.streams,
      rule.value,
      rule.source,
  )
  if beam is not None:
    from mouseflax import score_beam  # pylint: disable=g-import-not-at-top  # Optional extra.

    rows = score_beam.score_on_beam(
        beam,
        run,
        videos,
        out,
        rule,
        batch_size=batch_size,
        annotated_video=annotated_video,
        chunk_frames=chunk_frames,
    )
    print(score_beam.describe(rows, rule, out))
    if review:
      print("note: no review page on Beam; python -m mouseflax.score on one machine writes it.")
    return EXIT_SOME_FAILED if any(row["error"] for row in rows) else 0
  results = score_videos(
      run,
      videos,
      out,
      rule,
      batch_size=batch_size,
      annotated_video=annotated_video,
      progress=progress,
      num_workers=num_workers,
      chunk_frames=chunk_frames,
  )
  write_summary_csv(out, summary_rows(results, rule))
  print(summary(results, rule))
  failed = any(isinstance(r, BaseException) for r in results.values())
  if review and not _write_review(run, results, rule, out, review_clips):
    failed = True
  return EXIT_SOME_FAILED if failed else 0


def _write_review(run, results, rule, out, review_clips: int | None) -> bool:
  """Writes the review page (mouseflax.review); False (after printing why) when it failed."""
  from mouseflax import review  # pylint: disable=g-import-not-at-top  # review imports score.

  clips = review.DEFAULT_TOP_CLIPS if review_clips is None else review_clips
  try:
    page = review.write_review(run, results, rule, out, top_clips=clips)
  except VIDEO_ERRORS as e:
    print(f"error: the review page could not be written: {e}", file=sys.stderr)
    return False
  print(f"review page: {page}")
  return True


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  checkpointing.quiet_orbax_info_logs()
  f = flags.FLAGS
  if not f.workdir or not f.video or not f.output_dir:
    raise app.UsageError("--workdir, --video (one or more) and --output_dir are required.")
  sys.exit(
      run_cli(
          f.workdir,
          f.video,
          f.output_dir,
          threshold=f.threshold,
          false_alarm_rate=f.false_alarm_rate,
          false_events_per_hour=f.false_events_per_hour,
          annotated_video=f.annotated_video,
          batch_size=f.batch_size,
          progress=f.progress,
          review=f.review,
          review_clips=f.review_clips,
          num_workers=f.num_workers,
          chunk_frames=f.chunk_frames,
          beam=beam_runner.spec_from_flags(f),
      )
  )


if __name__ == "__main__":
  # Run the imported module, not __main__'s copy: review.py uses mouseflax.score's classes
  # (Threshold, VideoScores), which objects made by __main__'s copy would not be instances of.
  from mouseflax import score as _score  # pylint: disable=g-import-not-at-top

  _score._define_flags()  # pylint: disable=protected-access
  cli.run(_score.main)
