"""Reconstruction errors -> per-frame anomaly scores -> frame-level ROC AUCs, score CSVs and plots.

The paper (section 2.5) scores a frame by the reconstruction MSE of each stream, averaged across the
streams, turns it into a regularity score and reports the frame-level ROC AUC. Definitions used here:

- e_s(t): mean over H, W, C of (x - x_hat)^2 for stream s (`gray`, `flow`) of frame t, inputs in [0,1].
  Test windows may overlap (the last window of a video), so a frame seen in several windows gets the mean
  over those windows.
- score(t): unweighted mean of e_s(t) over the streams the model reconstructs (single-stream: e_gray).
  The supervised baseline has no reconstruction: score(t) = softmax probability of the held-out class.
- regularity s(t) = 1 - (score(t) - min score) / (max score - min score) within one video (Hasan et al.
  2016); reported in the CSVs and plotted, not used by the headline AUC.
- `auc`, the headline: ROC AUC of score against the anomaly label, every test frame pooled, no test-set
  normalisation. Variants used by peers are named and described in `metrics_notes`.
"""

import csv
import dataclasses
import io
import os
import pathlib
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ml_collections
import numpy as np
from scipy import ndimage
from scipy import special
from sklearn import metrics as sk_metrics

from mouseflax import plots

PredictFn = Callable[[dict[str, np.ndarray]], Mapping[str, Any]]
InputsFn = Callable[[dict[str, np.ndarray]], Mapping[str, Any]]

STREAMS = ("gray", "flow")
LOGITS_KEY = "logits"
ERROR_AXES = (2, 3, 4)  # H, W, C of a [B, T, H, W, C] stream.
CSV_COLUMNS = ("frame", "label", "behavior", "error_gray", "error_flow", "score", "regularity")
CSV_FLOAT_FORMAT = "{:.9g}"
SCORES_DIR = "scores"
ROC_FILE = "roc.png"
TIMELINE_FILE = "timeline.png"
REQUIRED_FIELDS = ("gray", "flow", "video", "frame_index", "anomaly", "behavior")
# Container suffixes dropped from video names in CSV file names (`01.avi` -> `scores/01.csv`).
VIDEO_SUFFIXES = (".avi", ".mpg", ".mpeg", ".mp4", ".mov", ".mkv")

METRICS_NOTES = {
    "auc": "headline: frame-level ROC AUC of score, all test frames pooled, no test-set normalisation",
    "auc_macro": "mean of per-video AUCs over videos holding both classes (others listed as skipped)",
    "auc_minmax_per_video": "pooled AUC after min-max normalising score inside each test video "
                            "(USES TEST-SET INFORMATION; common in peers' Avenue code)",
    "auc_smoothed": "pooled AUC of score smoothed in time per video by a Gaussian, sigma = {sigma:g} "
                    "frames (scipy gaussian_filter1d, mode nearest)",
    "auc_gray": "pooled AUC of the grayscale reconstruction error alone",
    "auc_flow": "pooled AUC of the optical-flow reconstruction error alone",
    "score": "{score}",
}
SCORE_NOTE_AE = "mean over the model's streams of per-frame MSE (mean over H,W,C; mean over windows)"
SCORE_NOTE_SUPERVISED = "softmax probability of the held-out class (mean over windows)"


@dataclasses.dataclass(frozen=True)
class FrameTable:
  """Per-frame results, one row per distinct (video, frame_index), sorted by video then frame.

  Attributes:
    video: int64 [N] index into the dataset's `video_names`.
    frame_index: int64 [N] 0-based frame index in the source video.
    label: int64 [N] 1 = anomalous frame (held-out behaviour / Avenue mask).
    behavior: int64 [N] behaviour id (-1 = none).
    error_gray: float64 [N] grayscale MSE, NaN when the model does not reconstruct gray.
    error_flow: float64 [N] flow MSE, NaN when the model does not reconstruct flow.
    score: float64 [N] anomaly score, higher = more anomalous.
  """
  video: np.ndarray
  frame_index: np.ndarray
  label: np.ndarray
  behavior: np.ndarray
  error_gray: np.ndarray
  error_flow: np.ndarray
  score: np.ndarray

  def __len__(self) -> int:
    return int(self.score.shape[0])

  def rows(self, mask: np.ndarray | slice) -> "FrameTable":
    """Returns the table restricted to `mask` (boolean array or slice)."""
    return FrameTable(**{f.name: getattr(self, f.name)[mask] for f in dataclasses.fields(self)})


# ----------------------------------------------------------------------------------------------
# Per-window errors -> per-frame table.


def _default_inputs_fn() -> InputsFn:
  # Imported on use: the input pipeline pulls in TFDS, which report-only users need not load.
  from mouseflax import input_pipeline  # pylint: disable=g-import-not-at-top
  return input_pipeline.to_model_inputs


def _check_arrays(arrays: Mapping[str, np.ndarray]) -> int:
  """Validates the split's fields and returns its number of sequences."""
  missing = [k for k in REQUIRED_FIELDS if k not in arrays]
  if missing:
    raise ValueError(f"evaluation arrays lack fields {missing}; pass the split as loaded by "
                     f"DatasetHandle.load (fields {list(REQUIRED_FIELDS)})")
  num = arrays["gray"].shape[0]
  if num == 0:
    raise ValueError("evaluation split is empty: build the dataset's test split first")
  return num


def _padded_batch(arrays: Mapping[str, np.ndarray], start: int,
                  batch_size: int) -> dict[str, np.ndarray]:
  """Model streams of sequences [start, start + batch_size), the last one repeated to fill the batch.

  A constant batch shape means a jitted predict_fn compiles once.
  """
  num = arrays["gray"].shape[0]
  index = np.minimum(np.arange(start, start + batch_size), num - 1)
  return {k: np.asarray(arrays[k][index]) for k in STREAMS}


def _window_outputs(outputs: Mapping[str, Any], inputs: Mapping[str, Any],
                    anomaly_class: int | None) -> dict[str, np.ndarray]:
  """Per-window per-frame values [B, T]: stream errors, or the held-out class probability."""
  if LOGITS_KEY in outputs:
    if anomaly_class is None:
      raise ValueError("predict_fn returned logits (supervised model): pass anomaly_class, the "
                       "behaviour id held out (raw_formats.BEHAVIORS.index(name))")
    logits = np.asarray(outputs[LOGITS_KEY], np.float64)
    if not 0 <= anomaly_class < logits.shape[-1]:
      raise ValueError(f"anomaly_class={anomaly_class} but the model outputs {logits.shape[-1]} "
                       f"classes: set config.model.num_classes to the number of behaviours")
    return {"prob": special.softmax(logits, axis=-1)[..., anomaly_class]}
  streams = [s for s in STREAMS if s in outputs]
  if not streams:
    raise ValueError(f"predict_fn returned keys {sorted(outputs)}; expected reconstructions "
                     f"{list(STREAMS)} or {LOGITS_KEY!r}")
  return {s: np.mean((np.asarray(inputs[s], np.float64) - np.asarray(outputs[s], np.float64)) ** 2,
                     axis=ERROR_AXES) for s in streams}


def _group_mean(values: np.ndarray, inverse: np.ndarray, counts: np.ndarray) -> np.ndarray:
  return np.bincount(inverse, weights=values, minlength=counts.size) / counts


def _aggregate(per_window: dict[str, np.ndarray], arrays: Mapping[str, np.ndarray]) -> FrameTable:
  """Averages window values per (video, frame_index); checks labels agree across windows."""
  seq_len = arrays["frame_index"].shape[1]
  video = np.repeat(np.asarray(arrays["video"], np.int64).reshape(-1), seq_len)
  frame = np.asarray(arrays["frame_index"], np.int64).reshape(-1)
  keys, first, inverse = np.unique(np.stack([video, frame], axis=1), axis=0, return_index=True,
                                   return_inverse=True)
  inverse = inverse.reshape(-1)
  counts = np.bincount(inverse).astype(np.float64)
  label = np.asarray(arrays["anomaly"], np.int64).reshape(-1)
  if not np.array_equal(_group_mean(label, inverse, counts)[inverse], label):
    raise ValueError("a frame has different `anomaly` labels in two overlapping windows: the test "
                     "records are inconsistent; rebuild the dataset")
  nan = np.full(keys.shape[0], np.nan)
  errors = {s: _group_mean(per_window[s].reshape(-1), inverse, counts) if s in per_window else nan
            for s in STREAMS}
  if "prob" in per_window:
    score = _group_mean(per_window["prob"].reshape(-1), inverse, counts)
  else:
    score = np.mean([errors[s] for s in STREAMS if s in per_window], axis=0)
  if not np.all(np.isfinite(score)):
    raise FloatingPointError("non-finite anomaly scores: the model's outputs hold NaN/inf (diverged?)")
  return FrameTable(video=keys[:, 0], frame_index=keys[:, 1], label=label[first],
                    behavior=np.asarray(arrays["behavior"], np.int64).reshape(-1)[first],
                    error_gray=errors["gray"], error_flow=errors["flow"], score=score)


def frame_errors(predict_fn: PredictFn, arrays: Mapping[str, np.ndarray], batch_size: int, *,
                 anomaly_class: int | None = None, inputs_fn: InputsFn | None = None) -> FrameTable:
  """Runs the model over a split and returns per-frame errors and scores (see the module docstring).

  Args:
    predict_fn: model inputs {'gray','flow'} float [B,T,H,W,C] in [0,1] -> reconstructions with the
      same keys (single-stream: 'gray' only) or {'logits': [B,T,num_classes]}.
    arrays: the split as loaded: `gray`, `flow` [S,T,H,W,C], `video` [S], `frame_index`, `anomaly`,
      `behavior` [S,T].
    batch_size: sequences per predict_fn call (the last batch is padded to this size).
    anomaly_class: behaviour id whose probability is the score of a supervised model.
    inputs_fn: record batch -> model inputs; defaults to `input_pipeline.to_model_inputs`.

  Returns:
    A `FrameTable` sorted by (video, frame_index).
  """
  num = _check_arrays(arrays)
  if batch_size <= 0:
    raise ValueError(f"config.eval.batch_size must be positive, got {batch_size}")
  inputs_fn = inputs_fn or _default_inputs_fn()
  chunks: dict[str, list[np.ndarray]] = {}
  for start in range(0, num, batch_size):
    inputs = inputs_fn(_padded_batch(arrays, start, batch_size))
    values = _window_outputs(predict_fn(dict(inputs)), inputs, anomaly_class)
    for key, value in values.items():
      chunks.setdefault(key, []).append(value[:num - start])
  per_window = {k: np.concatenate(v, axis=0) for k, v in chunks.items()}
  return _aggregate(per_window, arrays)


# ----------------------------------------------------------------------------------------------
# Scores -> metrics.


def video_slices(table: FrameTable) -> list[tuple[int, slice]]:
  """Returns [(video_id, rows)] for each video of the (sorted) table."""
  ids, starts = np.unique(table.video, return_index=True)
  ends = list(starts[1:]) + [len(table)]
  return [(int(v), slice(int(a), int(b))) for v, a, b in zip(ids, starts, ends)]


def _minmax(values: np.ndarray) -> np.ndarray:
  """Maps values to [0, 1]; a constant sequence maps to zeros."""
  span = np.max(values) - np.min(values)
  return (values - np.min(values)) / span if span > 0 else np.zeros_like(values, np.float64)


def per_video(table: FrameTable, fn: Callable[[np.ndarray], np.ndarray],
              values: np.ndarray | None = None) -> np.ndarray:
  """Applies `fn` to `values` (default: the score) inside each video separately."""
  values = table.score if values is None else values
  out = np.empty_like(values, dtype=np.float64)
  for _, rows in video_slices(table):
    out[rows] = fn(values[rows])
  return out


def regularity(table: FrameTable) -> np.ndarray:
  """Regularity s(t) = 1 - (e - min e) / (max e - min e) within each video (1 where e is constant)."""
  return 1.0 - per_video(table, _minmax)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
  """ROC AUC, or None when undefined (one class only, or a stream the model lacks)."""
  if np.unique(labels).size < 2 or np.any(np.isnan(scores)):
    return None
  return float(sk_metrics.roc_auc_score(labels, scores))


def smooth_scores(table: FrameTable, sigma: float) -> np.ndarray:
  """Gaussian smoothing of the score along frames inside each video (rows treated as contiguous)."""
  if sigma <= 0:
    raise ValueError(f"config.eval.smoothing_sigma must be > 0 frames, got {sigma}")
  return per_video(table, lambda v: ndimage.gaussian_filter1d(v, sigma, mode="nearest"))


def _macro_auc(table: FrameTable, video_names: Sequence[str] | None) -> tuple[float | None, list[str]]:
  aucs, skipped = [], []
  for video, rows in video_slices(table):
    auc = roc_auc(table.label[rows], table.score[rows])
    if auc is None:
      skipped.append(video_name(video, video_names))
    else:
      aucs.append(auc)
  return (float(np.mean(aucs)) if aucs else None), skipped


def compute_metrics(table: FrameTable, eval_config: ml_collections.ConfigDict,
                    video_names: Sequence[str] | None = None) -> dict[str, Any]:
  """Returns the metrics dict (JSON-serialisable; undefined AUCs are None), notes included."""
  sigma = float(eval_config.smoothing_sigma)
  auc_macro, skipped = _macro_auc(table, video_names)
  supervised = np.all(np.isnan(table.error_gray)) and np.all(np.isnan(table.error_flow))
  notes = dict(METRICS_NOTES)
  notes["auc_smoothed"] = notes["auc_smoothed"].format(sigma=sigma)
  notes["score"] = SCORE_NOTE_SUPERVISED if supervised else SCORE_NOTE_AE
  return {
      "auc": roc_auc(table.label, table.score),
      "auc_macro": auc_macro,
      "auc_macro_skipped_videos": skipped,
      "auc_minmax_per_video": roc_auc(table.label, per_video(table, _minmax)),
      "auc_smoothed": roc_auc(table.label, smooth_scores(table, sigma)),
      "auc_gray": roc_auc(table.label, table.error_gray),
      "auc_flow": roc_auc(table.label, table.error_flow),
      "n_test_frames": len(table),
      "n_anomalous_frames": int(np.sum(table.label)),
      "n_videos": len(video_slices(table)),
      "smoothing_sigma": sigma,
      "metrics_notes": notes,
  }


def calibrate_threshold(normal_scores: np.ndarray, false_alarm_rate: float) -> float:
  """Threshold so that at most `false_alarm_rate` of the normal scores lie strictly above it.

  Rule: the `higher` empirical quantile of `normal_scores` at 1 - false_alarm_rate (an actual score,
  rounded up); flag a frame when score > threshold. Calibrate on validation (normal) frames.
  """
  scores = np.asarray(normal_scores, np.float64).reshape(-1)
  if not 0.0 < false_alarm_rate < 1.0:
    raise ValueError(f"config.eval.false_alarm_rate must be in (0, 1), got {false_alarm_rate}")
  if scores.size == 0 or not np.all(np.isfinite(scores)):
    raise ValueError("calibrate_threshold needs a non-empty set of finite normal scores")
  return float(np.quantile(scores, 1.0 - false_alarm_rate, method="higher"))


# ----------------------------------------------------------------------------------------------
# Outputs: CSVs and plots, written atomically.


def write_text_atomic(path: str | os.PathLike[str], text: str) -> pathlib.Path:
  """Writes `text` to `path` through a temporary file in the same folder and a rename."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
  try:
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
      f.write(text)
    os.replace(tmp, path)
  except BaseException:
    pathlib.Path(tmp).unlink(missing_ok=True)
    raise
  return path


def video_name(video: int, video_names: Sequence[str] | None) -> str:
  """The name of video `video` (a file-name-safe stem), or `video_<id>` without names."""
  if video_names is None:
    return f"video_{video:03d}"
  if not 0 <= video < len(video_names):
    raise ValueError(f"test record names video {video}, but the dataset's video_names has "
                     f"{len(video_names)} entries: the records and the metadata disagree")
  name = pathlib.PurePath(str(video_names[video]))
  return name.stem if name.suffix.lower() in VIDEO_SUFFIXES else name.name


def _csv_text(table: FrameTable, reg: np.ndarray) -> str:
  buf = io.StringIO()
  writer = csv.writer(buf, lineterminator="\n")
  writer.writerow(CSV_COLUMNS)
  fmt = CSV_FLOAT_FORMAT.format
  for i in range(len(table)):
    writer.writerow([int(table.frame_index[i]), int(table.label[i]), int(table.behavior[i]),
                     fmt(table.error_gray[i]), fmt(table.error_flow[i]), fmt(table.score[i]),
                     fmt(reg[i])])
  return buf.getvalue()


def write_score_csvs(table: FrameTable, workdir: str | os.PathLike[str],
                     video_names: Sequence[str] | None = None) -> list[pathlib.Path]:
  """Writes `scores/<video_name>.csv` per video (columns `CSV_COLUMNS`); returns the paths."""
  reg = regularity(table)
  paths = []
  for video, rows in video_slices(table):
    path = pathlib.Path(workdir) / SCORES_DIR / f"{video_name(video, video_names)}.csv"
    paths.append(write_text_atomic(path, _csv_text(table.rows(rows), reg[rows])))
  return paths


def read_score_csv(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
  """Reads a `scores/<video>.csv` back into columns (ints for frame/label/behavior, floats else)."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"score CSV not found: {path} (run the evaluation to write it)")
  with path.open(encoding="utf-8", newline="") as f:
    rows = list(csv.DictReader(f))
  if not rows or set(CSV_COLUMNS) - set(rows[0]):
    raise ValueError(f"{path} is empty or lacks columns {list(CSV_COLUMNS)}")
  ints = ("frame", "label", "behavior")
  return {c: np.array([int(r[c]) if c in ints else float(r[c]) for r in rows]) for c in CSV_COLUMNS}


def write_plots(table: FrameTable, eval_config: ml_collections.ConfigDict,
                workdir: str | os.PathLike[str], video_names: Sequence[str] | None = None) -> None:
  """Writes `roc.png` (score, per-stream, smoothed) and `timeline.png` (regularity, truth shaded)."""
  curves = {"score (headline)": (table.label, table.score),
            f"smoothed, sigma {eval_config.smoothing_sigma:g}": (
                table.label, smooth_scores(table, eval_config.smoothing_sigma))}
  for stream in STREAMS:
    errors = getattr(table, f"error_{stream}")
    if not np.any(np.isnan(errors)):
      curves[f"{stream} error"] = (table.label, errors)
  plots.plot_roc(curves, pathlib.Path(workdir) / ROC_FILE)
  reg = regularity(table)
  panels = [plots.TimelinePanel(title=video_name(video, video_names), frame=table.frame_index[rows],
                                value=reg[rows], label=table.label[rows])
            for video, rows in video_slices(table)[:eval_config.timeline_max_videos]]
  plots.plot_timelines(panels, pathlib.Path(workdir) / TIMELINE_FILE)


def evaluate(predict_fn: PredictFn, arrays: Mapping[str, np.ndarray], *,
             eval_config: ml_collections.ConfigDict, workdir: str | os.PathLike[str],
             video_names: Sequence[str] | None = None, anomaly_class: int | None = None,
             inputs_fn: InputsFn | None = None) -> dict[str, Any]:
  """Scores a test split, writes CSVs and plots into `workdir`, returns the metrics dict.

  Args:
    predict_fn: see `frame_errors`.
    arrays: the test split as loaded by `DatasetHandle.load('test')`.
    eval_config: `config.eval` (batch_size, smoothing_sigma, timeline_max_videos).
    workdir: run folder; receives `scores/<video>.csv`, `roc.png`, `timeline.png`.
    video_names: the dataset metadata's `video_names` (indexed by the records' `video`).
    anomaly_class: held-out behaviour id, required for the supervised model.
    inputs_fn: see `frame_errors`.

  Returns:
    `compute_metrics(...)`: JSON-serialisable, for the trainer to merge into results.json.
  """
  table = frame_errors(predict_fn, arrays, eval_config.batch_size, anomaly_class=anomaly_class,
                       inputs_fn=inputs_fn)
  results = compute_metrics(table, eval_config, video_names)
  write_score_csvs(table, workdir, video_names)
  write_plots(table, eval_config, workdir, video_names)
  return results
