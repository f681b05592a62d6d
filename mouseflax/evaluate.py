"""Reconstruction errors -> per-frame anomaly scores -> frame-level ROC AUCs, score CSVs and plots.

The paper (section 2.5) scores a frame by the reconstruction MSE of each stream, averaged across the
streams, turns it into a regularity score and reports the frame-level ROC AUC. Definitions used
here:

- e_s(t): mean over H, W, C of (x - x_hat)^2 for stream s (`gray`, `flow`) of frame t, inputs in
  [0, 1] (`streams.per_frame_errors`, in float64). Test windows may overlap (the last window of a
  video), so a frame seen in several windows gets the mean over those windows.
- score(t), `config.eval.stream_normalisation`:
  'none' (the paper): unweighted mean of e_s(t) over the streams the model reconstructs
  (single-stream: e_gray);
  'validation' (ours, opt-in): unweighted mean of z_s(t) = (e_s(t) - mean_s) / std_s, with mean_s
  and std_s the mean and standard deviation of stream s's e_s over the NORMAL validation frames
  (`stream_statistics`, computed by the trainer; never test-set statistics). On the mouse data the
  flow error varies far more than the gray error over normal frames, so the raw mean is mostly the
  flow error; z-scoring weights the streams by how unusual each error is for that stream.
  `auc_paper_average` always reports the paper's raw mean, so both are visible.
  The supervised baseline has no reconstruction: score(t) = softmax probability of the held-out
  class.
- regularity s(t) = 1 - (score(t) - min score) / (max score - min score) within one video (Hasan et
  al. 2016); reported in the CSVs and plotted, not used by the headline AUC.
- `auc`, the headline: ROC AUC of score against the anomaly label, every test frame pooled, no
  test-set normalisation. Variants used by peers are named and described in `metrics_notes`.
"""

from collections.abc import Callable, Mapping, Sequence
import csv
import dataclasses
import io
import os
import pathlib
from typing import Any

import ml_collections
import numpy as np
from scipy import ndimage
from scipy import special
from sklearn import metrics as sk_metrics

from mouseflax import fileio
from mouseflax import plots
from mouseflax import streams
from mouseflax import video
from mouseflax import windows

PredictFn = Callable[[dict[str, np.ndarray]], Mapping[str, Any]]
InputsFn = Callable[[dict[str, np.ndarray]], Mapping[str, Any]]

LOGITS_KEY = "logits"
CSV_COLUMNS = ("frame", "label", "behavior", "error_gray", "error_flow", "score", "regularity")
CSV_FLOAT_FORMAT = "{:.9g}"
SCORES_DIR = "scores"
ROC_FILE = "roc.png"
TIMELINE_FILE = "timeline.png"
REQUIRED_FIELDS = ("gray", "flow", "video", "frame_index", "anomaly", "behavior")
# config.eval.stream_normalisation: how the per-stream errors are combined into the score.
NORMALISATION_NONE = "none"  # The paper: the raw mean over the streams.
NORMALISATION_VALIDATION = "validation"  # Mean of per-stream z-scores (normal validation frames).
NORMALISATIONS = (NORMALISATION_NONE, NORMALISATION_VALIDATION)
# {stream: {"mean": float, "std": float, "n_frames": int}} of the normal validation frames.
StreamStats = Mapping[str, Mapping[str, float]]
# Replaces path separators in video names (`day1/cam.mp4` -> `scores/day1__cam.csv`).
NAME_SEPARATOR = "__"

METRICS_NOTES = {
    "auc": (
        "headline: frame-level ROC AUC of score, all test frames pooled, no test-set "
        "normalisation"
    ),
    "auc_macro": (
        "mean of per-video AUCs over videos holding both classes (others listed as skipped)"
    ),
    "auc_minmax_per_video": "pooled AUC after min-max normalising score inside each test video "
    "(USES TEST-SET INFORMATION; common in peers' Avenue code)",
    "auc_smoothed": "pooled AUC of score smoothed in time per video by a Gaussian, sigma = "
    "{sigma:g} "
    "frames (scipy gaussian_filter1d, mode nearest)",
    "auc_paper_average": "pooled AUC of the paper's score, the unweighted mean of the raw "
    "per-stream errors (equals auc when stream_normalisation is 'none'; None "
    "for the supervised model)",
    "auc_gray": "pooled AUC of the grayscale reconstruction error alone",
    "auc_flow": "pooled AUC of the optical-flow reconstruction error alone",
    "score": "{score}",
}
SCORE_NOTE_AE = (
    "mean over the model's streams of per-frame MSE (mean over H,W,C; mean over windows)"
)
SCORE_NOTE_AE_VALIDATION = (
    "mean over the model's streams of z_s = (e_s - mean_s) / std_s, e_s the per-frame MSE (mean "
    "over "
    "H,W,C; mean over windows), mean_s and std_s over the normal validation frames (stream_stats; "
    "config.eval.stream_normalisation='validation', not the paper's rule)"
)
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


def _check_arrays(arrays: Mapping[str, np.ndarray]) -> int:
  """Validates the split's fields and returns its number of sequences."""
  missing = [k for k in REQUIRED_FIELDS if k not in arrays]
  if missing:
    raise ValueError(
        f"evaluation arrays lack fields {missing}; pass the split as loaded by "
        f"DatasetHandle.load (fields {list(REQUIRED_FIELDS)})"
    )
  num = arrays["gray"].shape[0]
  if num == 0:
    raise ValueError("evaluation split is empty: build the dataset's test split first")
  return num


def _window_outputs(
    outputs: Mapping[str, Any], inputs: Mapping[str, Any], anomaly_class: int | None
) -> dict[str, np.ndarray]:
  """Per-window per-frame values [B, T]: stream errors, or the held-out class probability."""
  if LOGITS_KEY in outputs:
    if anomaly_class is None:
      raise ValueError(
          "predict_fn returned logits (supervised model): pass anomaly_class, the "
          "behaviour id held out (raw_formats.BEHAVIORS.index(name))"
      )
    logits = np.asarray(outputs[LOGITS_KEY], np.float64)
    if not 0 <= anomaly_class < logits.shape[-1]:
      raise ValueError(
          f"anomaly_class={anomaly_class} but the model outputs {logits.shape[-1]} "
          f"classes: set config.model.num_classes to the number of behaviours"
      )
    return {"prob": special.softmax(logits, axis=-1)[..., anomaly_class]}
  if not any(s in outputs for s in streams.STREAMS):
    raise ValueError(
        f"predict_fn returned keys {sorted(outputs)}; expected reconstructions "
        f"{list(streams.STREAMS)} or {LOGITS_KEY!r}"
    )
  return streams.per_frame_errors(inputs, outputs, dtype=np.float64)


def _group_mean(values: np.ndarray, inverse: np.ndarray, counts: np.ndarray) -> np.ndarray:
  return np.bincount(inverse, weights=values, minlength=counts.size) / counts


def _aggregate(per_window: dict[str, np.ndarray], arrays: Mapping[str, np.ndarray]) -> FrameTable:
  """Averages window values per (video, frame_index); checks labels agree across windows."""
  seq_len = arrays["frame_index"].shape[1]
  video_ids = np.repeat(np.asarray(arrays["video"], np.int64).reshape(-1), seq_len)
  frame = np.asarray(arrays["frame_index"], np.int64).reshape(-1)
  keys, first, inverse = np.unique(
      np.stack([video_ids, frame], axis=1), axis=0, return_index=True, return_inverse=True
  )
  inverse = inverse.reshape(-1)
  counts = np.bincount(inverse).astype(np.float64)
  label = np.asarray(arrays["anomaly"], np.int64).reshape(-1)
  if not np.array_equal(_group_mean(label, inverse, counts)[inverse], label):
    raise ValueError(
        "a frame has different `anomaly` labels in two overlapping windows: the test "
        "records are inconsistent; rebuild the dataset"
    )
  nan = np.full(keys.shape[0], np.nan)
  errors = {
      s: _group_mean(per_window[s].reshape(-1), inverse, counts) if s in per_window else nan
      for s in streams.STREAMS
  }
  if "prob" in per_window:
    score = _group_mean(per_window["prob"].reshape(-1), inverse, counts)
  else:
    score = combine_streams({s: errors[s] for s in streams.STREAMS if s in per_window})
  if not np.all(np.isfinite(score)):
    raise FloatingPointError(
        "non-finite anomaly scores: the model's outputs hold NaN/inf (diverged?)"
    )
  return FrameTable(
      video=keys[:, 0],
      frame_index=keys[:, 1],
      label=label[first],
      behavior=np.asarray(arrays["behavior"], np.int64).reshape(-1)[first],
      error_gray=errors["gray"],
      error_flow=errors["flow"],
      score=score,
  )


def frame_errors(
    predict_fn: PredictFn,
    arrays: Mapping[str, np.ndarray],
    batch_size: int,
    *,
    anomaly_class: int | None = None,
    inputs_fn: InputsFn | None = None,
) -> FrameTable:
  """Runs the model over a split and returns per-frame errors and scores (see the module docstring).

  Args:
    predict_fn: model inputs {'gray','flow'} float [B,T,H,W,C] in [0,1] -> reconstructions with the
      same keys (single-stream: 'gray' only) or {'logits': [B,T,num_classes]}.
    arrays: the split as loaded: `gray`, `flow` [S,T,H,W,C], `video` [S], `frame_index`, `anomaly`,
      `behavior` [S,T].
    batch_size: sequences per predict_fn call (the last batch is padded to this size).
    anomaly_class: behaviour id whose probability is the score of a supervised model.
    inputs_fn: record batch -> model inputs; defaults to `streams.to_model_inputs` (the trainer's).

  Returns:
    A `FrameTable` sorted by (video, frame_index).
  """
  _check_arrays(arrays)
  if batch_size <= 0:
    raise ValueError(f"config.eval.batch_size must be positive, got {batch_size}")
  inputs_fn = inputs_fn or streams.to_model_inputs
  chunks: dict[str, list[np.ndarray]] = {}
  for batch, count in windows.padded_batches(arrays, batch_size, keys=streams.STREAMS):
    inputs = inputs_fn(batch)
    values = _window_outputs(predict_fn(dict(inputs)), inputs, anomaly_class)
    for key, value in values.items():
      chunks.setdefault(key, []).append(value[:count])
  per_window = {k: np.concatenate(v, axis=0) for k, v in chunks.items()}
  return _aggregate(per_window, arrays)


# ----------------------------------------------------------------------------------------------
# Streams -> score: the paper's raw mean, or the mean of z-scores from normal validation frames.


def combine_streams(
    errors: Mapping[str, np.ndarray], stream_stats: StreamStats | None = None
) -> np.ndarray:
  """The score from per-stream errors {stream: [N]}: their mean, or (with stats) their z-scores'
  mean.

  The one definition the evaluator and mouseflax.score share (see the module docstring).
  """
  if stream_stats is None:
    return np.mean([errors[s] for s in errors], axis=0)
  missing = sorted(set(errors) - set(stream_stats))
  if missing:
    raise ValueError(
        f"stream statistics lack streams {missing} (have {sorted(stream_stats)}): "
        "compute them with stream_statistics on the same model's validation frames"
    )
  return np.mean(
      [(errors[s] - stream_stats[s]["mean"]) / stream_stats[s]["std"] for s in errors], axis=0
  )


def table_streams(table: FrameTable) -> list[str]:
  """The streams the model reconstructs (error columns not all NaN); [] for the supervised model."""
  return [s for s in streams.STREAMS if not np.all(np.isnan(getattr(table, f"error_{s}")))]


def _stream_errors(table: FrameTable) -> dict[str, np.ndarray]:
  return {s: getattr(table, f"error_{s}") for s in table_streams(table)}


def stream_statistics(table: FrameTable) -> dict[str, dict[str, float]]:
  """Mean and standard deviation (ddof 0) of each stream's error over the table's normal frames.

  Pass the VALIDATION split's table (normal frames): statistics of the test split would leak its
  labels' distribution into the score. Empty for the supervised model (no stream errors).
  """
  normal = table.label == 0
  if not np.any(normal):
    raise ValueError("stream_statistics needs normal frames (label 0): pass the validation split")
  stats = {}
  for stream, errors in _stream_errors(table).items():
    std = float(np.std(errors[normal]))
    if not std > 0:
      raise ValueError(
          f"the {stream} error is constant over the {int(normal.sum())} normal "
          "validation frames, so it cannot be standardised: set "
          "config.eval.stream_normalisation='none'"
      )
    stats[stream] = {
        "mean": float(np.mean(errors[normal])),
        "std": std,
        "n_frames": int(normal.sum()),
    }
  return stats


def normalisation_rule(eval_config: Mapping[str, Any]) -> str:
  """`config.eval.stream_normalisation` ('none' when absent: runs made before the field existed)."""
  rule = eval_config.get("stream_normalisation", NORMALISATION_NONE)
  if rule not in NORMALISATIONS:
    raise ValueError(
        f"config.eval.stream_normalisation={rule!r}: expected one of {list(NORMALISATIONS)}"
    )
  return rule


def scored_table(
    table: FrameTable, eval_config: Mapping[str, Any], stream_stats: StreamStats | None = None
) -> FrameTable:
  """The table with `score` under the configured rule (idempotent: recomputed from the errors).

  'validation' needs `stream_stats` (from `stream_statistics` on the validation table); the
  supervised model's score (a probability) is left as it is.
  """
  streams = _stream_errors(table)
  if normalisation_rule(eval_config) == NORMALISATION_NONE or not streams:
    return table
  if stream_stats is None:
    raise ValueError(
        "config.eval.stream_normalisation='validation' needs stream_stats: "
        "evaluate.stream_statistics of the normal validation frames"
    )
  return dataclasses.replace(table, score=combine_streams(streams, stream_stats))


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


def per_video(
    table: FrameTable, fn: Callable[[np.ndarray], np.ndarray], values: np.ndarray | None = None
) -> np.ndarray:
  """Applies `fn` to `values` (default: the score) inside each video separately."""
  values = table.score if values is None else values
  out = np.empty_like(values, dtype=np.float64)
  for _, rows in video_slices(table):
    out[rows] = fn(values[rows])
  return out


def regularity(table: FrameTable) -> np.ndarray:
  """Regularity s(t) = 1 - (e - min e) / (max e - min e) within each video (1 where e is
  constant)."""
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


def _macro_auc(
    table: FrameTable, video_names: Sequence[str] | None
) -> tuple[float | None, list[str]]:
  aucs, skipped = [], []
  for video_id, rows in video_slices(table):
    auc = roc_auc(table.label[rows], table.score[rows])
    if auc is None:
      skipped.append(video_name(video_id, video_names))
    else:
      aucs.append(auc)
  return (float(np.mean(aucs)) if aucs else None), skipped


def _score_note(table: FrameTable, rule: str) -> str:
  if not table_streams(table):
    return SCORE_NOTE_SUPERVISED
  return SCORE_NOTE_AE_VALIDATION if rule == NORMALISATION_VALIDATION else SCORE_NOTE_AE


def compute_metrics(
    table: FrameTable,
    eval_config: ml_collections.ConfigDict,
    video_names: Sequence[str] | None = None,
    stream_stats: StreamStats | None = None,
) -> dict[str, Any]:
  """Returns the metrics dict (JSON-serialisable; undefined AUCs are None), notes included.

  The score is recomputed under `config.eval.stream_normalisation` (`scored_table`; 'validation'
  needs `stream_stats`), so the table's own score column is not used for autoencoders.
  """
  sigma = float(eval_config.smoothing_sigma)
  rule = normalisation_rule(eval_config)
  raw = _stream_errors(table)
  table = scored_table(table, eval_config, stream_stats)
  auc_macro, skipped = _macro_auc(table, video_names)
  notes = dict(METRICS_NOTES)
  notes["auc_smoothed"] = notes["auc_smoothed"].format(sigma=sigma)
  notes["score"] = _score_note(table, rule)
  used_stats = stream_stats if rule == NORMALISATION_VALIDATION and raw else None
  return {
      "auc": roc_auc(table.label, table.score),
      "auc_paper_average": roc_auc(table.label, combine_streams(raw)) if raw else None,
      "stream_normalisation": rule,
      "stream_stats": None if used_stats is None else {s: dict(v) for s, v in used_stats.items()},
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


def video_name(video_id: int, video_names: Sequence[str] | None) -> str:
  """A file-name-safe name of video `video_id`, or `video_<id>` without names.

  The whole relative path counts (own_videos searches subfolders, so `day1/cam.mp4` and
  `day2/cam.mp4` are different videos): a container suffix in `video.VIDEO_SUFFIXES` is dropped and
  the path's parts are joined by `NAME_SEPARATOR` (`day1/cam.mp4` -> `day1__cam`).
  """
  if video_names is None:
    return f"video_{video_id:03d}"
  if not 0 <= video_id < len(video_names):
    raise ValueError(
        f"test record names video {video_id}, but the dataset's video_names has "
        f"{len(video_names)} entries: the records and the metadata disagree"
    )
  name = pathlib.PurePath(str(video_names[video_id]))
  if name.suffix.lower() in video.VIDEO_SUFFIXES:
    name = name.with_suffix("")
  return NAME_SEPARATOR.join(part for part in name.parts if part != name.anchor)


def _csv_text(table: FrameTable, reg: np.ndarray) -> str:
  buf = io.StringIO()
  writer = csv.writer(buf, lineterminator="\n")
  writer.writerow(CSV_COLUMNS)
  fmt = CSV_FLOAT_FORMAT.format
  for i in range(len(table)):
    writer.writerow(
        [
            int(table.frame_index[i]),
            int(table.label[i]),
            int(table.behavior[i]),
            fmt(table.error_gray[i]),
            fmt(table.error_flow[i]),
            fmt(table.score[i]),
            fmt(reg[i]),
        ]
    )
  return buf.getvalue()


def _csv_names(table: FrameTable, video_names: Sequence[str] | None) -> dict[int, str]:
  """{video id: CSV file name} of the table's videos; raises ValueError when two names clash."""
  names = {
      video_id: f"{video_name(video_id, video_names)}.csv" for video_id, _ in video_slices(table)
  }
  by_name: dict[str, list[int]] = {}
  for video_id, name in names.items():
    by_name.setdefault(name, []).append(video_id)
  clashes = {
      name: [v if video_names is None else str(video_names[v]) for v in ids]
      for name, ids in by_name.items()
      if len(ids) > 1
  }
  if clashes:
    raise ValueError(
        f"videos would write the same score CSV {clashes}: their names differ only by "
        f"the container suffix or by {NAME_SEPARATOR!r} versus a folder; rename them"
    )
  return names


def write_score_csvs(
    table: FrameTable, workdir: str | os.PathLike[str], video_names: Sequence[str] | None = None
) -> list[pathlib.Path]:
  """Writes `scores/<video_name>.csv` per video (columns `CSV_COLUMNS`); returns the paths.

  Raises ValueError, before writing anything, when two videos would write the same file.
  """
  reg = regularity(table)
  names = _csv_names(table, video_names)
  paths = []
  for video_id, rows in video_slices(table):
    path = pathlib.Path(workdir) / SCORES_DIR / names[video_id]
    paths.append(fileio.write_text_atomic(path, _csv_text(table.rows(rows), reg[rows])))
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


def write_plots(
    table: FrameTable,
    eval_config: ml_collections.ConfigDict,
    workdir: str | os.PathLike[str],
    video_names: Sequence[str] | None = None,
) -> None:
  """Writes `roc.png` (score, per-stream, smoothed) and `timeline.png` (regularity, truth
  shaded)."""
  curves = {
      "score (headline)": (table.label, table.score),
      f"smoothed, sigma {eval_config.smoothing_sigma:g}": (
          table.label,
          smooth_scores(table, eval_config.smoothing_sigma),
      ),
  }
  for stream, errors in _stream_errors(table).items():
    curves[f"{stream} error"] = (table.label, errors)
  plots.plot_roc(curves, pathlib.Path(workdir) / ROC_FILE)
  reg = regularity(table)
  panels = [
      plots.TimelinePanel(
          title=video_name(video_id, video_names),
          frame=table.frame_index[rows],
          value=reg[rows],
          label=table.label[rows],
      )
      for video_id, rows in video_slices(table)[: eval_config.timeline_max_videos]
  ]
  plots.plot_timelines(panels, pathlib.Path(workdir) / TIMELINE_FILE)


def evaluate(
    predict_fn: PredictFn,
    arrays: Mapping[str, np.ndarray],
    *,
    eval_config: ml_collections.ConfigDict,
    workdir: str | os.PathLike[str],
    video_names: Sequence[str] | None = None,
    anomaly_class: int | None = None,
    inputs_fn: InputsFn | None = None,
    stream_stats: StreamStats | None = None,
) -> dict[str, Any]:
  """Scores a test split, writes CSVs and plots into `workdir`, returns the metrics dict.

  Args:
    predict_fn: see `frame_errors`.
    arrays: the test split as loaded by `DatasetHandle.load('test')`.
    eval_config: `config.eval` (batch_size, smoothing_sigma, timeline_max_videos,
      stream_normalisation).
    workdir: run folder; receives `scores/<video>.csv`, `roc.png`, `timeline.png`.
    video_names: the dataset metadata's `video_names` (indexed by the records' `video`).
    anomaly_class: held-out behaviour id, required for the supervised model.
    inputs_fn: see `frame_errors`.
    stream_stats: `stream_statistics` of the validation table (stream_normalisation='validation').

  Returns:
    `compute_metrics(...)`: JSON-serialisable, for the trainer to merge into results.json.
  """
  table = frame_errors(
      predict_fn, arrays, eval_config.batch_size, anomaly_class=anomaly_class, inputs_fn=inputs_fn
  )
  table = scored_table(table, eval_config, stream_stats)  # CSVs and plots show the headline score.
  results = compute_metrics(table, eval_config, video_names, stream_stats)
  write_score_csvs(table, workdir, video_names)
  write_plots(table, eval_config, workdir, video_names)
  return results
