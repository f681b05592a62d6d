"""Reconstruction errors -> per-frame anomaly scores -> AUCs, baselines, false alarms, CSVs, plots.

The paper (section 2.5) scores a frame by each stream's reconstruction error, averaged across the
streams, and reports the frame-level ROC AUC. Definitions used here:

- Errors: per frame and stream, every kind of `streams.ERROR_KINDS` ('mse', 'l2', 'patch'; see
  `streams.per_frame_errors`), computed in float64. Test windows may overlap (the last window of a
  video), so a frame seen in several windows gets the mean over those windows. Columns are named by
  `named_scores.error_column` (`error_gray`, `error_flow` are the MSE).
- score(t): the named score `config.eval.score` (`named_scores`: 'paper', 'mse', 'mse_z',
  'patch_z'); the z-scored ones use the mean/std of each error column over the NORMAL VALIDATION
  frames (`named_scores.statistics`, computed by the trainer; never test-set statistics). Every
  named score's AUC is reported (`auc_scores`), so the choice is visible. The supervised baseline
  has no reconstruction: score(t) = softmax probability of the held-out class.
- regularity s(t) = 1 - (score(t) - min score) / (max score - min score) within one video (Hasan et
  al. 2016); reported in the CSVs and plotted, not used by the headline AUC.
- `auc`, the headline: ROC AUC of score against the anomaly label, every test frame pooled, no
  test-set normalisation. Variants used by peers are named and described in `metrics_notes`.
- Baselines (`mouseflax.baselines`: motion energy, flow magnitude, PCA of the training frames) are
  scored on the same test frames, each with its AUC and whether the model beats it.
- With the calibrated threshold (`mouseflax.calibration`, fitted by the trainer on validation):
  the false alarms realised on the NORMAL test frames (`false_alarm_rate_test`: share of normal
  frames flagged; `false_events_per_hour_test`: events (`mouseflax.events`) on the test timeline
  that overlap no anomalous frame, per hour of normal test frames at the video's frame rate), and
  per-bout detection (`bout_detection`: the share of anomalous bouts, runs of label 1 per video,
  with at least one flagged frame).
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

from mouseflax import baselines
from mouseflax import calibration
from mouseflax import events
from mouseflax import fileio
from mouseflax import named_scores
from mouseflax import plots
from mouseflax import streams
from mouseflax import video
from mouseflax import windows

PredictFn = Callable[[dict[str, np.ndarray]], Mapping[str, Any]]
InputsFn = Callable[[dict[str, np.ndarray]], Mapping[str, Any]]

LOGITS_KEY = "logits"
PROB_KEY = "prob"
# The columns every score CSV has had (read_score_csv requires them), then the ones added since:
# every error column (so every named score can be recomputed), the flag at the calibrated threshold
# (empty without one) and the baselines' scores.
BASE_CSV_COLUMNS = ("frame", "label", "behavior", "error_gray", "error_flow", "score", "regularity")
EXTRA_ERROR_COLUMNS = tuple(c for c in named_scores.ERROR_COLUMNS if c not in BASE_CSV_COLUMNS)
CSV_COLUMNS = BASE_CSV_COLUMNS + EXTRA_ERROR_COLUMNS + ("flagged",) + baselines.NAMES
INT_COLUMNS = ("frame", "label", "behavior", "flagged")
CSV_FLOAT_FORMAT = "{:.9g}"
SCORES_DIR = "scores"
ROC_FILE = "roc.png"
TIMELINE_FILE = "timeline.png"
REQUIRED_FIELDS = ("gray", "flow", "video", "frame_index", "anomaly", "behavior")
# Replaces path separators in video names (`day1/cam.mp4` -> `scores/day1__cam.csv`).
NAME_SEPARATOR = "__"

METRICS_NOTES = {
    "auc": (
        "headline: frame-level ROC AUC of score, all test frames pooled, no test-set "
        "normalisation"
    ),
    "auc_scores": "pooled AUC of every named score (named_scores.SCORES; None where undefined)",
    "auc_macro": (
        "mean of per-video AUCs over videos holding both classes (others listed as skipped)"
    ),
    "auc_minmax_per_video": "pooled AUC after min-max normalising score inside each test video "
    "(USES TEST-SET INFORMATION; common in peers' Avenue code)",
    "auc_smoothed": "pooled AUC of score smoothed in time per video by a Gaussian, sigma = "
    "{sigma:g} frames (scipy gaussian_filter1d, mode nearest)",
    "auc_paper_average": "pooled AUC of the paper's score (auc_scores['paper']: the streams' l2 "
    "norms of the error averaged; None for the supervised model)",
    "auc_gray": "pooled AUC of the grayscale reconstruction MSE alone",
    "auc_flow": "pooled AUC of the optical-flow reconstruction MSE alone",
    "baselines": "AUCs of cheap baselines on the same test frames; model_beats: auc > theirs",
    "false_alarm_rate_test": "share of the NORMAL test frames with score > the threshold",
    "false_events_per_hour_test": "events on the test timeline (event rule of threshold.json) that "
    "overlap no anomalous frame, per hour of normal test frames",
    "bout_detection": "anomalous bouts (runs of label 1 per video) with at least one frame flagged "
    "at the calibrated threshold",
    "score": "{score}",
}
SCORE_NOTE_SUPERVISED = "softmax probability of the held-out class (mean over windows)"
Stats = named_scores.Stats


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
    error_l2_gray, error_l2_flow, error_patch_gray, error_patch_flow: float64 [N] the other error
      kinds (`streams.ERROR_KINDS`); None (the default) is filled with NaN.
  """

  video: np.ndarray
  frame_index: np.ndarray
  label: np.ndarray
  behavior: np.ndarray
  error_gray: np.ndarray
  error_flow: np.ndarray
  score: np.ndarray
  error_l2_gray: np.ndarray | None = None
  error_l2_flow: np.ndarray | None = None
  error_patch_gray: np.ndarray | None = None
  error_patch_flow: np.ndarray | None = None

  def __post_init__(self):
    for column in EXTRA_ERROR_COLUMNS:
      if getattr(self, column) is None:
        object.__setattr__(self, column, np.full(len(self.score), np.nan))

  def __len__(self) -> int:
    return int(self.score.shape[0])

  def rows(self, mask: np.ndarray | slice) -> "FrameTable":
    """Returns the table restricted to `mask` (boolean array or slice)."""
    return FrameTable(**{f.name: getattr(self, f.name)[mask] for f in dataclasses.fields(self)})

  def error_columns(self) -> dict[str, np.ndarray]:
    """{error column: [N]} (`named_scores.ERROR_COLUMNS`)."""
    return {c: getattr(self, c) for c in named_scores.ERROR_COLUMNS}


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
  """Per-window per-frame values [B, T]: every error column, or the held-out class probability."""
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
    return {PROB_KEY: special.softmax(logits, axis=-1)[..., anomaly_class]}
  if not any(s in outputs for s in streams.STREAMS):
    raise ValueError(
        f"predict_fn returned keys {sorted(outputs)}; expected reconstructions "
        f"{list(streams.STREAMS)} or {LOGITS_KEY!r}"
    )
  values = {}
  for kind in streams.ERROR_KINDS:
    errors = streams.per_frame_errors(inputs, outputs, dtype=np.float64, kind=kind)
    values.update({named_scores.error_column(kind, s): v for s, v in errors.items()})
  return values


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
  columns = {
      c: _group_mean(per_window[c].reshape(-1), inverse, counts) if c in per_window else nan
      for c in named_scores.ERROR_COLUMNS
  }
  if PROB_KEY in per_window:
    score = _group_mean(per_window[PROB_KEY].reshape(-1), inverse, counts)
  else:  # The raw MSE mean ('mse') until `scored_table` applies the configured named score.
    mse = [named_scores.error_column(named_scores.MSE, s) for s in streams.STREAMS]
    score = np.mean([columns[c] for c in mse if c in per_window], axis=0)
  if not np.all(np.isfinite(score)):
    raise FloatingPointError(
        "non-finite anomaly scores: the model's outputs hold NaN/inf (diverged?)"
    )
  return FrameTable(
      video=keys[:, 0],
      frame_index=keys[:, 1],
      label=label[first],
      behavior=np.asarray(arrays["behavior"], np.int64).reshape(-1)[first],
      score=score,
      **columns,
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

  The table's `score` is the raw MSE mean of the streams ('mse'); `scored_table` applies the
  configured named score. The supervised model's score is its held-out class probability.

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
# Errors -> the named score.


def table_streams(table: FrameTable) -> list[str]:
  """The streams the model reconstructs (error columns not all NaN); [] for the supervised model."""
  return named_scores.model_streams(table.error_columns())


def error_statistics(table: FrameTable) -> dict[str, dict[str, float]]:
  """`named_scores.statistics` of the table's normal frames: pass the VALIDATION table.

  Statistics of the test split would leak its labels' distribution into the score. Empty for the
  supervised model (no stream errors).
  """
  if not table_streams(table):
    return {}
  return named_scores.statistics(table.error_columns(), table.label == 0)


def scored_table(
    table: FrameTable,
    eval_config: Mapping[str, Any],
    error_stats: Stats | None = None,
    scored: Sequence[str] | None = None,
) -> FrameTable:
  """The table with `score` = the configured named score (idempotent: recomputed from the errors).

  The z-scored scores need `error_stats` (`error_statistics` of the validation table); `scored`:
  the streams the score uses (None: all). The supervised model's score (a probability) is left as
  it is.
  """
  name = named_scores.score_name(eval_config)
  if not table_streams(table):
    return table
  return dataclasses.replace(
      table, score=named_scores.compute(name, table.error_columns(), error_stats, scored)
  )


def all_named_scores(
    table: FrameTable, error_stats: Stats | None, scored: Sequence[str] | None = None
) -> dict[str, np.ndarray | None]:
  """{name: [N] score} of every named score over the `scored` streams; None where it is undefined
  (stats missing)."""
  scores = {}
  for name in named_scores.SCORES:
    try:
      scores[name] = named_scores.compute(name, table.error_columns(), error_stats, scored)
    except ValueError:
      scores[name] = None
  return scores


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


def roc_auc(labels: np.ndarray, scores: np.ndarray | None) -> float | None:
  """ROC AUC, or None when undefined (one class only, no scores, or a stream the model lacks)."""
  if scores is None or np.unique(labels).size < 2 or np.any(np.isnan(scores)):
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


def _score_stats(
    name: str, table: FrameTable, error_stats: Stats | None, scored: Sequence[str] | None
) -> dict | None:
  """{stream: stats} the configured score z-scores with (threshold.json's `stream_stats`)."""
  spec = named_scores.SCORES[name]
  if not spec.standardised or not table_streams(table):
    return None
  return {
      s: dict(error_stats[named_scores.error_column(spec.kind, s)])
      for s in table_streams(table)
      if scored is None or s in scored
  }


def compute_metrics(
    table: FrameTable,
    eval_config: ml_collections.ConfigDict,
    video_names: Sequence[str] | None = None,
    error_stats: Stats | None = None,
    scored: Sequence[str] | None = None,
) -> dict[str, Any]:
  """Returns the metrics dict (JSON-serialisable; undefined AUCs are None), notes included.

  The score is recomputed as the configured named score over the `scored` streams (`scored_table`;
  the z-scored ones need `error_stats`), so the table's own score column is not used for
  autoencoders.
  """
  sigma = float(eval_config.smoothing_sigma)
  name = named_scores.score_name(eval_config)
  table = scored_table(table, eval_config, error_stats, scored)
  reconstructs = bool(table_streams(table))
  auc_scores = (
      {n: roc_auc(table.label, v) for n, v in all_named_scores(table, error_stats, scored).items()}
      if reconstructs
      else None
  )
  auc_macro, skipped = _macro_auc(table, video_names)
  notes = dict(METRICS_NOTES)
  notes["auc_smoothed"] = notes["auc_smoothed"].format(sigma=sigma)
  notes["score"] = (
      f"{name}: {named_scores.SCORES[name].note}{named_scores.NOTE_WINDOWS}"
      if reconstructs
      else SCORE_NOTE_SUPERVISED
  )
  notes.update({f"score {n}": s.note for n, s in named_scores.SCORES.items()})
  return {
      "auc": roc_auc(table.label, table.score),
      "score": name if reconstructs else PROB_KEY,
      "auc_scores": auc_scores,
      "auc_paper_average": auc_scores["paper"] if auc_scores else None,
      "score_streams": list(scored) if scored is not None and reconstructs else None,
      "stream_stats": _score_stats(name, table, error_stats, scored),
      "error_stats": {c: dict(v) for c, v in (error_stats or {}).items()} if reconstructs else None,
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


def baseline_metrics(
    table: FrameTable, scores: Mapping[str, np.ndarray], model_auc: float | None
) -> dict[str, dict[str, Any]]:
  """{baseline: {'auc', 'model_beats' (model_auc > auc; None when either is undefined), 'note'}}."""
  out = {}
  for name, values in scores.items():
    auc = roc_auc(table.label, values)
    beats = None if auc is None or model_auc is None else bool(model_auc > auc)
    out[name] = {"auc": auc, "model_beats": beats, "note": baselines.NOTES[name]}
  return out


def fps_by_video(
    video_fps: Sequence[float] | None, video_ids: Sequence[int], where: str
) -> dict[int, float]:
  """{video id: fps} from the dataset's `video_fps` metadata (FALLBACK_FPS, warned, without it)."""
  if video_fps is None or len(video_fps) == 0:
    fps = events.checked_fps(None, f"{where} (no video_fps in the dataset's metadata)")
    return {int(v): fps for v in video_ids}
  return {
      int(v): events.checked_fps(video_fps[int(v)], f"{where} video {int(v)}") for v in video_ids
  }


def detection_metrics(
    table: FrameTable, threshold: float, rule: events.EventRule, fps: Mapping[int, float]
) -> dict[str, Any]:
  """False alarms on the NORMAL test frames and per-bout detection at `threshold`.

  False events: events of the whole test timeline of each video (every frame, `rule`) that overlap
  no anomalous frame; hours: normal test frames / fps. Bouts: runs of consecutive anomalous frames
  of a video (`events.PLAIN_RUNS` on the labels); detected when one of their frames is flagged.
  """
  flagged = table.score > threshold
  normal = table.label == 0
  false_events, bouts, detected = 0, 0, 0
  for video_id, rows in video_slices(table):
    frame, label, rate = table.frame_index[rows], table.label[rows], fps[video_id]
    found = events.find_events(frame, flagged[rows], rule, rate)
    false_events += int(np.sum(~events.overlaps(found, frame, label)))
    truth = events.find_events(frame, label > 0, events.PLAIN_RUNS, rate)
    bouts += len(truth)
    detected += int(np.sum(events.overlaps(truth, frame, flagged[rows])))
  hours = (
      sum(np.sum(normal[rows]) / fps[v] for v, rows in video_slices(table))
      / events.SECONDS_PER_HOUR
  )
  return {
      "false_alarm_rate_test": float(np.mean(flagged[normal])) if np.any(normal) else None,
      "false_events_test": false_events,
      "test_normal_hours": float(hours),
      "false_events_per_hour_test": false_events / hours if hours > 0 else None,
      "bout_detection": {
          "bouts": bouts,
          "detected": detected,
          "share": detected / bouts if bouts else None,
      },
  }


def check_eval_config(eval_config: Mapping[str, Any]) -> None:
  """Raises ValueError naming the field when the score, the calibration target or the event rule
  of `config.eval` is invalid (the trainer calls it before training, not after)."""
  named_scores.score_name(eval_config)
  calibration.Target.from_config(eval_config)
  events.rule_from_config(eval_config)


def normal_timeline(table: FrameTable, fps: Mapping[int, float]) -> calibration.Timeline:
  """The table's normal frames as a calibration timeline (the threshold's fitting data)."""
  normal = table.label == 0
  return calibration.timeline(
      table.video[normal], table.frame_index[normal], table.score[normal], fps
  )


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


def _csv_text(columns: Mapping[str, np.ndarray]) -> str:
  """CSV_COLUMNS of one video's rows; a missing column (or a NaN flag) is written empty."""
  buf = io.StringIO()
  writer = csv.writer(buf, lineterminator="\n")
  writer.writerow(CSV_COLUMNS)
  fmt = CSV_FLOAT_FORMAT.format
  n = len(columns["frame"])
  cells = []
  for name in CSV_COLUMNS:
    values = columns.get(name)
    if values is None:
      cells.append([""] * n)
    elif name in INT_COLUMNS:
      cells.append([str(int(v)) for v in values])
    else:
      cells.append([fmt(v) for v in values])
  writer.writerows(zip(*cells))
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
    table: FrameTable,
    workdir: str | os.PathLike[str],
    video_names: Sequence[str] | None = None,
    *,
    threshold: float | None = None,
    baseline_values: Mapping[str, np.ndarray] | None = None,
) -> list[pathlib.Path]:
  """Writes `scores/<video_name>.csv` per video (columns `CSV_COLUMNS`); returns the paths.

  `flagged` is score > threshold (empty without one); baseline columns are empty when not given.
  Raises ValueError, before writing anything, when two videos would write the same file.
  """
  columns = {
      "frame": table.frame_index,
      "label": table.label,
      "behavior": table.behavior,
      "score": table.score,
      "regularity": regularity(table),
      **table.error_columns(),
      **(baseline_values or {}),
  }
  if threshold is not None:
    columns["flagged"] = table.score > threshold
  names = _csv_names(table, video_names)
  paths = []
  for video_id, rows in video_slices(table):
    path = pathlib.Path(workdir) / SCORES_DIR / names[video_id]
    text = _csv_text({k: v[rows] for k, v in columns.items()})
    paths.append(fileio.write_text_atomic(path, text))
  return paths


def read_score_csv(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
  """Reads a `scores/<video>.csv` back into columns (ints for INT_COLUMNS, floats else).

  Older runs' CSVs hold only BASE_CSV_COLUMNS; a column present but empty reads as NaN (-1 for
  `flagged`).
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"score CSV not found: {path} (run the evaluation to write it)")
  with path.open(encoding="utf-8", newline="") as f:
    rows = list(csv.DictReader(f))
  if not rows or set(BASE_CSV_COLUMNS) - set(rows[0]):
    raise ValueError(f"{path} is empty or lacks columns {list(BASE_CSV_COLUMNS)}")
  present = [c for c in CSV_COLUMNS if c in rows[0]]

  def parse(column: str, text: str) -> float:
    if column in INT_COLUMNS:
      return int(text) if text else -1
    return float(text) if text else np.nan

  return {c: np.array([parse(c, r[c]) for r in rows]) for c in present}


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
  for stream in table_streams(table):
    curves[f"{stream} error"] = (table.label, getattr(table, f"error_{stream}"))
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


@dataclasses.dataclass(frozen=True)
class Calibrated:
  """What the trainer learnt on validation and training frames, for the test evaluation.

  Attributes:
    error_stats: `error_statistics` of the normal validation frames (z-scored named scores).
    threshold: the calibrated threshold (None: no false-alarm or bout metrics).
    event_rule: the event rule the threshold was calibrated with.
    video_fps: the dataset's `video_fps` metadata (indexed like `video_names`), or None.
    pca: the PCA baseline fitted on training frames (None: no PCA baseline).
    score_streams: the streams the score uses (None: all; `learning_check.score_streams`).
  """

  error_stats: Stats | None = None
  threshold: float | None = None
  event_rule: events.EventRule = events.PLAIN_RUNS
  video_fps: Sequence[float] | None = None
  pca: baselines.PcaModel | None = None
  score_streams: Sequence[str] | None = None


def evaluate(
    predict_fn: PredictFn,
    arrays: Mapping[str, np.ndarray],
    *,
    eval_config: ml_collections.ConfigDict,
    workdir: str | os.PathLike[str],
    video_names: Sequence[str] | None = None,
    anomaly_class: int | None = None,
    inputs_fn: InputsFn | None = None,
    calibrated: Calibrated = Calibrated(),
) -> dict[str, Any]:
  """Scores a test split, writes CSVs and plots into `workdir`, returns the metrics dict.

  Args:
    predict_fn: see `frame_errors`.
    arrays: the test split as loaded by `DatasetHandle.load('test')`.
    eval_config: `config.eval` (batch_size, smoothing_sigma, timeline_max_videos, score).
    workdir: run folder; receives `scores/<video>.csv`, `roc.png`, `timeline.png`.
    video_names: the dataset metadata's `video_names` (indexed by the records' `video`).
    anomaly_class: held-out behaviour id, required for the supervised model.
    inputs_fn: see `frame_errors`.
    calibrated: validation statistics, threshold and event rule, frame rates, PCA baseline.

  Returns:
    `compute_metrics(...)` plus `baselines`, `model_beats_baselines` and, with a threshold,
    `detection_metrics(...)`: JSON-serialisable, for the trainer to merge into results.json.
  """
  table = frame_errors(
      predict_fn, arrays, eval_config.batch_size, anomaly_class=anomaly_class, inputs_fn=inputs_fn
  )
  scored = calibrated.score_streams
  table = scored_table(table, eval_config, calibrated.error_stats, scored)  # CSVs: the headline.
  results = compute_metrics(table, eval_config, video_names, calibrated.error_stats, scored)
  frames = baselines.unique_frames(arrays)
  baseline_values = baselines.baseline_scores(
      frames["video"], frames["frame_index"], frames["gray"], frames["flow"], calibrated.pca
  )
  results["baselines"] = baseline_metrics(table, baseline_values, results["auc"])
  beats = [b["model_beats"] for b in results["baselines"].values()]
  results["model_beats_baselines"] = None if None in beats else all(beats)
  if calibrated.threshold is not None:
    fps = fps_by_video(calibrated.video_fps, np.unique(table.video), "test split")
    results.update(detection_metrics(table, calibrated.threshold, calibrated.event_rule, fps))
  write_score_csvs(
      table,
      workdir,
      video_names,
      threshold=calibrated.threshold,
      baseline_values=baseline_values,
  )
  write_plots(table, eval_config, workdir, video_names)
  return results
