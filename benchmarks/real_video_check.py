"""The real-video check: train on the start of a real recording, score its end with anomalies in it.

  python -m benchmarks.real_video_check --video=PATH [--workdir=DIR] [--output=check.json] \
      [--report=check.md] [--variant=NAME:--config.KEY=VALUE ...] [--base_overrides='...']

What users run, end to end: the recording is cut in time; its first `--train_fraction` (default
half) is written as the one video of an own_videos folder, and `python -m mouseflax.main
--config=configs/own_videos.py` trains on it (its own validation: the last 20% of that part, by
time); the rest is written with anomalies injected (below) and scored by `python -m mouseflax.score`
with the run's stored threshold. Then, from the scores CSV (it holds every error column), every
named score (`mouseflax.named_scores`) and the baselines (`mouseflax.baselines`, on the same
frames, the PCA fitted on the training part) get an AUC, overall and per kind of anomaly, and for
every named score the threshold is calibrated on the run's validation frames (events per hour as
configured, and a frame rate, `--frame_rate`) and the false alarms realised on the NORMAL test
frames are measured against the nominal rate. An event-rule sweep shows how many false events and
detected bouts each rule gives. Each `--variant` trains its own run with its config overrides (e.g.
`--variant=softsign:--config.data.flow_encoding=softsign`); `--base_overrides` apply to every
variant (e.g. fewer epochs for time: state them with the numbers).

Injected anomalies (each at a fixed share of the test part, frames labelled from the first injected
frame to one frame after the last: that frame's flow still spans the change), chosen as what welfare
staff want flagged:
- `hand`: a dark arm-shaped object entering from the top wall, resting, leaving (a hand or a foreign
  object in the arena); twice, at two places.
- `immobile`: the picture frozen (an animal that stops moving entirely, or a stalled camera feed).
- `seizure_jitter`: the animal's region shaken by several pixels every frame (convulsion-like).
- `second_animal`: a second mouse (the animal's own pixels from the training part, elsewhere).
- `lights_dim`: the whole picture dimmed to 60% (a lighting failure or flicker).
When the test part is short (a smoke clip), every anomaly's duration shrinks in proportion so that
they fill at most MAX_ANOMALY_SHARE of it.

Prints a markdown table and writes JSON (with `common.environment()`: date, CPU, load) and the
markdown. Not a unit test: on 2 CPU cores a run takes tens of minutes (tests/ runs a smoke version
on a tiny synthetic clip).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
import csv
import dataclasses
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time
from typing import Any

from absl import app
from absl import flags
import cv2
import numpy as np

from benchmarks import common
from data_builders.own_videos import own_videos_dataset_builder as own_videos
from mouseflax import baselines
from mouseflax import calibration
from mouseflax import evaluate
from mouseflax import events
from mouseflax import fileio
from mouseflax import learning_check
from mouseflax import named_scores
from mouseflax import preprocess
from mouseflax import run_files
from mouseflax import video

REPO = pathlib.Path(__file__).resolve().parents[1]
OWN_VIDEOS_CONFIG = REPO / "configs" / "own_videos.py"
CLIP_FOURCC = "MJPG"  # Intra-frame coding: no motion-compensated artefacts around the injections.
CLIP_SUFFIX = ".avi"
TRAIN_CLIP = "train_part"
TEST_CLIP = "test_part"
NORMAL = -1  # Kind index of a normal test frame.
# Background (the empty arena): the median of this many frames sampled from the training part.
BACKGROUND_SAMPLES = 60
FOREGROUND_LEVEL = 40  # Gray levels darker than the background: the (dark) animal.
BLUR_KSIZE = (5, 5)
CROP_MARGIN_PX = 20  # Around the animal's bounding box.
JITTER_PX = 20  # seizure_jitter: largest shift per frame (1 px of the 32x32 model frame at 640).
DIM_FACTOR = 0.6  # lights_dim.
HAND_GRAY = 95  # hand: a dark gray object.
HAND_WIDTH_FRACTION = 0.09  # Of the frame width.
HAND_LENGTH_FRACTION = 0.45  # Of the frame height, fully in.
HAND_MOVE_SHARE = 0.3  # Of its duration spent entering, and again leaving.
SECOND_ANIMAL_SOURCE = 0.3  # Where in the training part the second animal's pixels come from.
MAX_ANOMALY_SHARE = 0.4  # Of the test part.
SPILL_FRAMES = 1  # Frames labelled after an injection (the flow of the return to normal).
EVENT_RULE_SWEEP = (
    events.EventRule(0.0, 0.0),
    events.EventRule(0.5, 0.0),
    events.EventRule(1.0, 0.0),
    events.EventRule(1.0, 0.25),
    events.EventRule(2.0, 0.25),
    events.EventRule(1.0, 0.5),
    events.EventRule(2.0, 0.5),
)
# The sweep's threshold: this share of validation frames flagged (enough flags to compare rules).
SWEEP_FRAME_RATE = 0.05
AUC_DIGITS = 3


@dataclasses.dataclass(frozen=True)
class Anomaly:
  """One injection: its kind, where it starts (share of the test part) and its duration (s)."""

  kind: str
  start_share: float
  seconds: float
  x_share: float = 0.5  # hand: horizontal position (share of the width).


ANOMALIES = (
    Anomaly("hand", 0.06, 2.0, x_share=0.7),
    Anomaly("immobile", 0.20, 3.0),
    Anomaly("seizure_jitter", 0.36, 2.0),
    Anomaly("second_animal", 0.50, 3.0),
    Anomaly("lights_dim", 0.68, 1.5),
    Anomaly("hand", 0.84, 2.0, x_share=0.3),
)
KINDS = tuple(dict.fromkeys(a.kind for a in ANOMALIES))

FLAGS = flags.FlagValues()
flags.DEFINE_string("video", None, "The real recording (required).", flag_values=FLAGS)
flags.DEFINE_string(
    "workdir",
    "",
    "Scratch folder (clips, records, runs); '' = a new temporary one, kept.",
    flag_values=FLAGS,
)
flags.DEFINE_string("output", "", "JSON file to write (atomically).", flag_values=FLAGS)
flags.DEFINE_string("report", "", "Markdown file to write (atomically).", flag_values=FLAGS)
flags.DEFINE_float(
    "train_fraction",
    0.5,
    "Leading share of the recording for training + validation.",
    flag_values=FLAGS,
)
flags.DEFINE_multi_string(
    "variant",
    ["default:"],
    "NAME:OVERRIDES, a run per variant, OVERRIDES = main's --config.* flags separated by spaces.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "base_overrides",
    "",
    "--config.* flags applied to every variant (before its own).",
    flag_values=FLAGS,
)
flags.DEFINE_float(
    "frame_rate",
    0.01,
    "Nominal share of frames for the frame-rate calibration.",
    flag_values=FLAGS,
)
flags.DEFINE_integer("seed", 0, "Seeds the injections (jitter offsets).", flag_values=FLAGS)


# --------------------------------------------------------------------------------------------------
# Writing the clips: the training part as it is, the test part with the injections.


def _frames(path: pathlib.Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
  return video.iter_gray_frames(path, start, stop)


def background(path: pathlib.Path, stop: int) -> np.ndarray:
  """The empty arena: the per-pixel median of BACKGROUND_SAMPLES frames of [0, stop)."""
  picks = set(np.linspace(0, stop - 1, BACKGROUND_SAMPLES).astype(int).tolist())
  sample = [f for i, f in enumerate(_frames(path, 0, stop)) if i in picks]
  return np.median(np.stack(sample), axis=0).astype(np.uint8)


def animal_box(frame: np.ndarray, empty: np.ndarray) -> tuple[slice, slice] | None:
  """(rows, cols) of the largest region darker than the background, with a margin; None if none."""
  darker = cv2.GaussianBlur(empty, BLUR_KSIZE, 0).astype(np.int16) - cv2.GaussianBlur(
      frame, BLUR_KSIZE, 0
  )
  mask = (darker > FOREGROUND_LEVEL).astype(np.uint8)
  count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
  if count < 2:
    return None
  x, y, w, h, _ = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
  height, width = frame.shape
  return (
      slice(max(y - CROP_MARGIN_PX, 0), min(y + h + CROP_MARGIN_PX, height)),
      slice(max(x - CROP_MARGIN_PX, 0), min(x + w + CROP_MARGIN_PX, width)),
  )


@dataclasses.dataclass
class Injector:
  """Applies the anomalies to the test part's frames, in order; keeps the little state they need."""

  empty: np.ndarray
  donor: list[tuple[np.ndarray, np.ndarray]]  # second_animal: (pixels, mask) of the animal.
  rng: np.random.Generator
  frozen: np.ndarray | None = None

  def hand(self, frame: np.ndarray, anomaly: Anomaly, phase: float) -> np.ndarray:
    height, width = frame.shape
    reach = min(phase, 1.0 - phase) / HAND_MOVE_SHARE  # 0 -> 1 entering, 1 resting, -> 0 leaving.
    length = int(min(reach, 1.0) * HAND_LENGTH_FRACTION * height)
    out = frame.copy()
    if length > 0:
      center = (int(anomaly.x_share * width), 0)
      axes = (int(HAND_WIDTH_FRACTION * width / 2), length)
      cv2.ellipse(out, center, axes, 0, 0, 180, HAND_GRAY, -1, cv2.LINE_AA)
    return out

  def immobile(self, frame: np.ndarray, anomaly: Anomaly, phase: float) -> np.ndarray:
    del anomaly
    if self.frozen is None or phase == 0.0:
      self.frozen = frame.copy()
    return self.frozen

  def seizure_jitter(self, frame: np.ndarray, anomaly: Anomaly, phase: float) -> np.ndarray:
    del anomaly, phase
    box = animal_box(frame, self.empty)
    if box is None:
      return frame
    rows, cols = box
    out = frame.copy()
    out[rows, cols] = self.empty[rows, cols]
    dy, dx = self.rng.integers(-JITTER_PX, JITTER_PX + 1, 2)
    height, width = frame.shape
    top, left = int(np.clip(rows.start + dy, 0, height)), int(np.clip(cols.start + dx, 0, width))
    patch = frame[rows, cols][: height - top, : width - left]
    out[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return out

  def second_animal(self, frame: np.ndarray, anomaly: Anomaly, phase: float) -> np.ndarray:
    del anomaly
    pixels, mask = self.donor[min(int(phase * len(self.donor)), len(self.donor) - 1)]
    height, width = frame.shape
    h, w = pixels.shape
    top, left = (height - h) // 2, width - w - (width - w) // 4  # Right of centre, in the arena.
    out = frame.copy()
    region = out[top : top + h, left : left + w]
    region[mask] = pixels[mask]
    return out

  def lights_dim(self, frame: np.ndarray, anomaly: Anomaly, phase: float) -> np.ndarray:
    del anomaly, phase
    return (frame.astype(np.float32) * DIM_FACTOR).astype(np.uint8)

  def apply(self, frame: np.ndarray, anomaly: Anomaly, phase: float) -> np.ndarray:
    return getattr(self, anomaly.kind)(frame, anomaly, phase)


def donor_frames(path: pathlib.Path, empty: np.ndarray, start: int, count: int) -> list:
  """(pixels, mask) of the animal in `count` frames from `start` (the second animal)."""
  donor = []
  for frame in _frames(path, start, start + count):
    box = animal_box(frame, empty)
    if box is not None:
      pixels = frame[box]
      mask = empty[box].astype(np.int16) - pixels > FOREGROUND_LEVEL
      donor.append((pixels, mask))
  if not donor:
    raise ValueError(f"{path}: no animal found (darker than the background) to copy")
  return donor


def schedule(num_frames: int, fps: float) -> list[tuple[Anomaly, int, int]]:
  """[(anomaly, first frame, frames)] in the test part; durations shrink to fit a short part."""
  wanted = sum(a.seconds for a in ANOMALIES) * fps
  scale = min(1.0, MAX_ANOMALY_SHARE * num_frames / wanted)
  return [
      (a, int(a.start_share * num_frames), max(2, int(a.seconds * fps * scale))) for a in ANOMALIES
  ]


def write_clip(path: pathlib.Path, frames: Iterator[np.ndarray], fps: float) -> pathlib.Path:
  """Writes gray frames (as BGR) atomically."""
  with fileio.atomic_path(path) as tmp:
    writer = None
    for frame in frames:
      if writer is None:
        height, width = frame.shape
        writer = cv2.VideoWriter(
            str(tmp), cv2.VideoWriter_fourcc(*CLIP_FOURCC), fps, (width, height)
        )
      writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
  return path


def make_clips(source: pathlib.Path, workdir: pathlib.Path, train_fraction: float, seed: int):
  """Writes the training clip and the test clip; returns (paths, per-frame kinds, the schedule)."""
  info = video.probe(source)
  cut = int(train_fraction * info.num_frames)
  empty = background(source, cut)
  donor_count = int(max(a.seconds for a in ANOMALIES) * info.fps)
  donor = donor_frames(source, empty, int(SECOND_ANIMAL_SOURCE * cut), donor_count)
  plan = schedule(info.num_frames - cut, info.fps)
  kinds = np.full(info.num_frames - cut, NORMAL, np.int64)
  injector = Injector(empty, donor, np.random.default_rng(seed))

  def test_frames() -> Iterator[np.ndarray]:
    for i, frame in enumerate(_frames(source, cut)):
      for anomaly, first, length in plan:
        if first <= i < first + length:
          frame = injector.apply(frame, anomaly, (i - first) / length)
          kinds[i] = KINDS.index(anomaly.kind)
        elif i == first + length:
          kinds[i] = KINDS.index(anomaly.kind)  # SPILL_FRAMES: the flow back to normal.
      yield frame

  train_dir = workdir / "videos"
  train = write_clip(train_dir / f"{TRAIN_CLIP}{CLIP_SUFFIX}", _frames(source, 0, cut), info.fps)
  test = write_clip(workdir / f"{TEST_CLIP}{CLIP_SUFFIX}", test_frames(), info.fps)
  return {"train_dir": train_dir, "train": train, "test": test}, kinds, plan, info


# --------------------------------------------------------------------------------------------------
# Running what users run.


def _run(command: list[str], log: pathlib.Path) -> float:
  """Runs a command with this checkout on PYTHONPATH; its output goes to `log`; returns seconds."""
  env = {**os.environ, "PYTHONPATH": str(REPO)}
  started = time.perf_counter()
  with log.open("w") as out:
    proc = subprocess.run(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
  if proc.returncode:
    tail = log.read_text()[-3000:]
    raise RuntimeError(f"{shlex.join(command)} failed ({proc.returncode}); log {log}:\n{tail}")
  return time.perf_counter() - started


def train_and_score(
    clips: Mapping[str, pathlib.Path], workdir: pathlib.Path, name: str, overrides: Sequence[str]
) -> dict[str, Any]:
  """`mouseflax.main` on the training clip, `mouseflax.score` on the test clip, for one variant."""
  run_dir, scored = workdir / name / "run", workdir / name / "scored"
  run_dir.parent.mkdir(parents=True, exist_ok=True)
  train_s = _run(
      [
          sys.executable,
          "-m",
          "mouseflax.main",
          f"--config={OWN_VIDEOS_CONFIG}",
          f"--workdir={run_dir}",
          f"--config.data.video_dir={clips['train_dir']}",
          f"--config.data.data_dir={workdir / 'data'}",
          *overrides,
      ],
      workdir / name / "train.log",
  )
  score_s = _run(
      [
          sys.executable,
          "-m",
          "mouseflax.score",
          f"--workdir={run_dir}",
          f"--video={clips['test']}",
          f"--output_dir={scored}",
          "--noprogress",
      ],
      workdir / name / "score.log",
  )
  return {
      "run": run_dir,
      "scores_csv": scored / f"{TEST_CLIP}_scores.csv",
      "train_s": train_s,
      "score_s": score_s,
  }


# --------------------------------------------------------------------------------------------------
# Measuring.


def read_scores_csv(path: pathlib.Path) -> dict[str, np.ndarray]:
  with path.open(newline="") as f:
    rows = list(csv.DictReader(f))
  return {k: np.array([float(r[k]) if r[k] else np.nan for r in rows]) for k in rows[0]}


def aucs_by_kind(kinds: np.ndarray, values: np.ndarray) -> dict[str, float | None]:
  """{'all': AUC of all anomalous frames vs the normal ones; kind: that kind's frames vs normal}."""
  normal = kinds == NORMAL
  out = {"all": evaluate.roc_auc((~normal).astype(int), values)}
  for k, kind in enumerate(KINDS):
    rows = normal | (kinds == k)
    out[kind] = evaluate.roc_auc((kinds[rows] == k).astype(int), values[rows])
  return out


def realised(
    values: np.ndarray, kinds: np.ndarray, threshold: float, rule: events.EventRule, fps: float
) -> dict[str, Any]:
  """False alarms on the normal test frames and detected anomalies at `threshold`."""
  frame = np.arange(values.size)
  label = (kinds != NORMAL).astype(int)
  flagged = values > threshold
  found = events.find_events(frame, flagged, rule, fps)
  bouts = events.find_events(frame, label > 0, events.PLAIN_RUNS, fps)
  hours = np.sum(label == 0) / fps / events.SECONDS_PER_HOUR
  false_events = int(np.sum(~events.overlaps(found, frame, label)))
  return {
      "threshold": threshold,
      "frame_rate_test": float(np.mean(flagged[label == 0])),
      "false_events_test": false_events,
      "false_events_per_hour_test": false_events / hours,
      "bouts_detected": int(np.sum(events.overlaps(bouts, frame, flagged))),
      "bouts": len(bouts),
  }


@dataclasses.dataclass(frozen=True)
class Validation:
  """A run's validation frames as `mouseflax.score` recalibrates from them, and its settings."""

  errors: Mapping[str, np.ndarray]  # score.validation_errors: video, frame, label, fps, errors.
  stats: Mapping[str, Any]  # threshold.json's error statistics.
  rule: events.EventRule
  events_per_hour: float  # The run's eval.false_events_per_hour.

  def timeline(self, name: str) -> calibration.Timeline:
    normal = self.errors["label"] == 0
    values = named_scores.compute(name, self.errors, self.stats)
    fps = dict(zip(self.errors["video"].tolist(), self.errors["fps"].tolist()))
    return calibration.timeline(
        self.errors["video"][normal], self.errors["frame"][normal], values[normal], fps
    )


def load_validation(run_dir: pathlib.Path) -> Validation:
  from mouseflax import score  # pylint: disable=g-import-not-at-top  # Loads jax.

  run = score.load_run(run_dir)
  return Validation(
      score.validation_errors(run),
      score.error_stats(run) or {},
      score.event_rule(run),
      float(run.config.eval.false_events_per_hour),
  )


def calibrated_rates(
    validation: Validation,
    name: str,
    values: np.ndarray,
    kinds: np.ndarray,
    fps: float,
    frame_rate: float,
) -> dict[str, Any]:
  """Thresholds of score `name` fitted on validation (both targets), realised on the test frames."""
  tl = validation.timeline(name)
  out = {}
  for target in (
      calibration.Target(calibration.EVENTS_PER_HOUR, validation.events_per_hour),
      calibration.Target(calibration.FRAME_RATE, frame_rate),
  ):
    fitted = calibration.calibrate(tl, validation.rule, target)
    out[target.mode] = {
        "nominal": target.value,
        "validation": fitted["validation"],
        "heldout": {k: v for k, v in fitted["heldout"].items() if k != "folds"},
        "warning": fitted["warning"],
        "test": realised(values, kinds, fitted["threshold"], validation.rule, fps),
    }
  return out


def event_rule_sweep(
    values: np.ndarray, kinds: np.ndarray, threshold: float, fps: float
) -> list[dict[str, Any]]:
  """False events and detected bouts of each rule of EVENT_RULE_SWEEP at one threshold."""
  return [
      {**rule.to_dict(), **realised(values, kinds, threshold, rule, fps)}
      for rule in EVENT_RULE_SWEEP
  ]


def measure_variant(
    result: Mapping[str, Any], clips: Mapping, kinds: np.ndarray, fps: float, frame_rate: float
) -> dict[str, Any]:
  """AUCs of every named score and baseline, calibrated false alarms, the event-rule sweep."""
  run_dir = result["run"]
  columns = read_scores_csv(result["scores_csv"])
  stored = json.loads((run_dir / run_files.THRESHOLD_FILE).read_text())
  config = json.loads((run_dir / run_files.CONFIG_FILE).read_text())
  stats = stored.get("error_stats") or {}
  scores = {n: named_scores.compute(n, columns, stats) for n in named_scores.SCORES}
  run_results = json.loads((run_dir / run_files.RESULTS_FILE).read_text())
  out = {
      "score": stored["score"],
      # How much each stream learnt beyond a constant mean frame (mouseflax.learning_check).
      "stream_learning": run_results.get("stream_learning"),
      "threshold_json": {
          k: stored.get(k)
          for k in ("threshold", "calibrate_to", "target", "warning", "event_rule", "validation")
      },
      "train_seconds": result["train_s"],
      "score_seconds": result["score_s"],
      "config_overrides": {
          "model.width": config["model"]["width"],
          "train.epochs": config["train"]["epochs"],
          "train.batch_size": config["train"]["batch_size"],
          "data.stride": config["data"]["stride"],
          "data.train_hop": config["data"]["train_hop"],
      },
      "auc": {n: aucs_by_kind(kinds, v) for n, v in scores.items()},
      "baselines": {n: aucs_by_kind(kinds, v) for n, v in baseline_scores(run_dir, clips).items()},
  }
  validation = load_validation(run_dir)
  out["calibration"] = {
      n: calibrated_rates(validation, n, v, kinds, fps, frame_rate) for n, v in scores.items()
  }
  sweep_target = calibration.Target(calibration.FRAME_RATE, SWEEP_FRAME_RATE)
  sweep_threshold = calibration.fit_threshold(
      validation.timeline(stored["score"]), validation.rule, sweep_target
  )
  out["event_rule_sweep"] = event_rule_sweep(scores[stored["score"]], kinds, sweep_threshold, fps)
  out["stored_threshold_test"] = realised(
      scores[stored["score"]],
      kinds,
      stored["threshold"],
      events.EventRule(**stored["event_rule"]),
      fps,
  )
  return out


def baseline_scores(run_dir: pathlib.Path, clips: Mapping) -> dict[str, np.ndarray]:
  """The baselines on the test clip, preprocessed as the run does; PCA on its training frames."""
  cfg = preprocess.PreprocessConfig.from_dict(
      json.loads((run_dir / run_files.PREPROCESS_FILE).read_text())
  )
  test = list(preprocess.preprocess_video(clips["test"], cfg))
  gray = np.stack([g for _, g, _ in test])
  flow = np.stack([f for _, _, f in test])
  config = json.loads((run_dir / run_files.CONFIG_FILE).read_text())
  train = list(preprocess.preprocess_video(clips["train"], cfg))
  protocol = own_videos.OwnVideosConfig(
      name="check",
      stride=config["data"]["stride"],
      train_hop=config["data"]["train_hop"],
      validation_fraction=config["data"]["validation_fraction"],
  )
  windows = own_videos.cut_video(TRAIN_CLIP, len(train), protocol)["train"]
  frames = np.unique(np.concatenate([w for _, w in windows]))
  rng = np.random.default_rng(config["seed"])
  if frames.size > baselines.PCA_MAX_FRAMES:
    frames = np.sort(rng.choice(frames, baselines.PCA_MAX_FRAMES, replace=False))
  pca = baselines.fit_pca(np.stack([train[i][1] for i in frames]))
  index = np.arange(len(test))
  return baselines.baseline_scores(np.zeros_like(index), index, gray, flow, pca)


# --------------------------------------------------------------------------------------------------
# Reporting.


def _fmt(value: float | None) -> str:
  return "n/a" if value is None else f"{value:.{AUC_DIGITS}f}"


def _auc_table(variant: Mapping[str, Any]) -> list[str]:
  lines = ["| score | all | " + " | ".join(KINDS) + " |", "|---|" + "---|" * (len(KINDS) + 1)]
  for label, table in (("", variant["auc"]), ("baseline ", variant["baselines"])):
    for name, aucs in table.items():
      cells = [_fmt(aucs["all"])] + [_fmt(aucs[k]) for k in KINDS]
      lines.append(f"| {label}{name} | " + " | ".join(cells) + " |")
  return lines


CALIBRATION_HEADER = (
    "score",
    "target",
    "nominal",
    "validation (fit)",
    "held-out validation",
    "test, normal frames",
    "bouts detected",
    "warned",
)
# Per target: the key of the rate in `measure`, and in `realised`.
RATE_KEYS = {
    calibration.EVENTS_PER_HOUR: ("events_per_hour", "false_events_per_hour_test"),
    calibration.FRAME_RATE: ("frame_rate", "frame_rate_test"),
}


def _calibration_table(variant: Mapping[str, Any]) -> list[str]:
  lines = ["| " + " | ".join(CALIBRATION_HEADER) + " |", "|" + "---|" * len(CALIBRATION_HEADER)]
  for name, targets in variant["calibration"].items():
    for mode, c in targets.items():
      key, test_key = RATE_KEYS[mode]
      held = c["heldout"].get(key)
      cells = [
          name,
          mode,
          f"{c['nominal']:.3g}",
          f"{c['validation'][key]:.3g}",
          "n/a" if held is None else f"{held:.3g}",
          f"{c['test'][test_key]:.3g}",
          f"{c['test']['bouts_detected']}/{c['test']['bouts']}",
          "yes" if c["warning"] else "no",
      ]
      lines.append("| " + " | ".join(cells) + " |")
  return lines


def _sweep_table(variant: Mapping[str, Any]) -> list[str]:
  lines = [
      f"Event rules at the threshold flagging {SWEEP_FRAME_RATE:.0%} of the validation frames "
      f"(score `{variant['score']}`):",
      "",
      "| merge gap s | min duration s | false events/h (test) | bouts detected |",
      "|---|---|---|---|",
  ]
  for row in variant["event_rule_sweep"]:
    lines.append(
        f"| {row['merge_gap_s']:g} | {row['min_duration_s']:g} | "
        f"{row['false_events_per_hour_test']:.0f} | {row['bouts_detected']}/{row['bouts']} |"
    )
  return lines


def _learning_line(variant: Mapping[str, Any]) -> str:
  learning = learning_check.in_stream_order(variant.get("stream_learning"))
  shares = ", ".join(f"{s} {check['learnt']:.2f}" for s, check in learning)
  return f"Streams learnt (1 - validation loss / a constant mean frame's): {shares or 'unknown'}."


def markdown(results: Mapping[str, Any]) -> str:
  """Per variant: AUCs per score and baseline, false alarms vs nominal, the event-rule sweep."""
  m = results["environment"]["machine"]
  lines = [
      f"# Real-video check ({results['video']}, {results['environment']['date']})",
      "",
      f"Machine: {m['cpu']}, {m['cpus']} CPUs, load at start {m['load_average_at_start']}. Test "
      f"part: {results['test_frames']} frames, {results['normal_test_frames']} normal.",
  ]
  for name, variant in results["variants"].items():
    lines += [
        "",
        f"## Variant `{name}` (score `{variant['score']}`; {variant['config_overrides']}; "
        f"trained in {variant['train_seconds']:.0f} s)",
        "",
        _learning_line(variant),
        "",
        *_auc_table(variant),
        "",
        *_calibration_table(variant),
        "",
        *_sweep_table(variant),
    ]
  return "\n".join(lines) + "\n"


def parse_variant(text: str) -> tuple[str, list[str]]:
  """'NAME:--config.a=1 --config.b=2' -> ('NAME', ['--config.a=1', '--config.b=2'])."""
  name, sep, overrides = text.partition(":")
  if not sep or not name:
    raise app.UsageError(f"--variant={text!r}: expected NAME:OVERRIDES (OVERRIDES may be empty)")
  return name, shlex.split(overrides)


def main(argv: Sequence[str]) -> dict[str, Any]:
  common.parse_flags(FLAGS, argv)
  if not FLAGS.video:
    raise app.UsageError("--video is required: the real recording to check on.")
  source = pathlib.Path(FLAGS.video).expanduser()
  if not source.is_file():
    raise app.UsageError(f"--video={source} is not a file.")
  variants = dict(parse_variant(v) for v in FLAGS.variant)
  workdir = pathlib.Path(FLAGS.workdir or tempfile.mkdtemp(prefix="real_video_check_"))
  workdir.mkdir(parents=True, exist_ok=True)
  print(f"Scratch folder: {workdir}")
  results = {"environment": common.environment(), "video": str(source)}
  clips, kinds, plan, info = make_clips(source, workdir, FLAGS.train_fraction, FLAGS.seed)
  results["anomalies"] = [
      {"kind": a.kind, "first_test_frame": first, "frames": length, "seconds": length / info.fps}
      for a, first, length in plan
  ]
  results["test_frames"], results["fps"] = int(kinds.size), info.fps
  results["normal_test_frames"] = int(np.sum(kinds == NORMAL))
  base = shlex.split(FLAGS.base_overrides)
  results["variants"] = {}
  for name, overrides in variants.items():
    ran = train_and_score(clips, workdir, name, base + overrides)
    results["variants"][name] = measure_variant(ran, clips, kinds, info.fps, FLAGS.frame_rate)
    results["variants"][name]["overrides"] = base + overrides
  report = markdown(results)
  print(report)
  if FLAGS.output:
    fileio.write_json_atomic(FLAGS.output, results)
  if FLAGS.report:
    fileio.write_text_atomic(FLAGS.report, report)
  return results


if __name__ == "__main__":
  common.run(main)
