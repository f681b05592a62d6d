"""Named anomaly scores: how per-stream, per-frame reconstruction errors become one score per frame.

A score is an error kind (`streams.ERROR_KINDS`) and a way of combining the model's streams:

| name      | error per stream (frame t)                         | streams combined by            |
|-----------|----------------------------------------------------|--------------------------------|
| `paper`   | 'l2': sqrt of the sum over H,W,C of (x - x_hat)^2  | raw mean (the paper, 2.5)      |
| `mse`     | 'mse': mean over H,W,C of (x - x_hat)^2            | raw mean                       |
| `mse_z`   | 'mse'                                              | mean of validation z-scores    |
| `patch_z` | 'patch': largest 8x8 patch mean of (x - x_hat)^2   | mean of validation z-scores    |

A z-score is z_s(t) = (e_s(t) - mean_s) / std_s with mean_s, std_s of stream s's error over the
NORMAL VALIDATION frames (`statistics`; never test frames). The raw mean lets the stream whose error
varies most dominate (on the mouse data the flow error's spread is several times the gray's); the
z-scores weight each stream by how unusual its error is for that stream. 'patch' keeps a small
anomaly (a foreign object, one limb) from being averaged over the whole frame.

Errors travel as columns named by `error_column(kind, stream)`: `error_gray`/`error_flow` (mse, the
columns every CSV always had), `error_l2_<stream>`, `error_patch_<stream>`; a stream the model does
not reconstruct is all NaN. The evaluator, `mouseflax.score` and anything built on them compute the
score with `compute(name, columns, stats)`, so a score read back from any CSV can be recomputed.

A run can score a subset of its streams (`eval.score_streams='learnt'`: those that learnt,
`learning_check.score_streams`, so a stream that learnt nothing does not pass its input's size off
as an error); threshold.json's `score_streams` names them (null: all), and every consumer passes
them on as `scored`.

Runs made before `eval.score` existed name their rule in `eval.stream_normalisation`:
'none' -> 'mse', 'validation' -> 'mse_z' (`LEGACY_NORMALISATIONS`); no key at all -> 'mse'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import dataclasses
from typing import Any

import numpy as np

from mouseflax import streams

MSE, L2, PATCH = streams.ERROR_KINDS
# {error column: {"mean": float, "std": float, "n_frames": int}} over normal validation frames.
Stats = Mapping[str, Mapping[str, float]]


@dataclasses.dataclass(frozen=True)
class NamedScore:
  """An error kind and whether each stream's error is z-scored before the streams' mean."""

  name: str
  kind: str
  standardised: bool
  note: str


SCORES = {
    s.name: s
    for s in (
        NamedScore(
            "paper",
            L2,
            False,
            "the paper's score: mean over the model's streams of the l2 norm of the frame's "
            "reconstruction error (sqrt of the sum over H,W,C of the squared error)",
        ),
        NamedScore(
            "mse",
            MSE,
            False,
            "mean over the model's streams of the per-frame MSE (mean over H,W,C)",
        ),
        NamedScore(
            "mse_z",
            MSE,
            True,
            "mean over the model's streams of z_s = (e_s - mean_s) / std_s, e_s the per-frame MSE, "
            "mean_s and std_s over the normal validation frames",
        ),
        NamedScore(
            "patch_z",
            PATCH,
            True,
            f"mean over the model's streams of the z-scored patch error: the largest mean squared "
            f"error over {streams.PATCH_SIZE}x{streams.PATCH_SIZE} patches every "
            f"{streams.PATCH_STRIDE} pixels, z-scored with the normal validation frames' mean/std",
        ),
    )
}
LEGACY_NORMALISATIONS = {"none": "mse", "validation": "mse_z"}
LEGACY_DEFAULT = "mse"  # Runs older than eval.stream_normalisation scored the raw MSE mean.
NOTE_WINDOWS = "; a frame in several windows gets the mean of its errors over them"


def error_column(kind: str, stream: str) -> str:
  """The column of `kind`'s error of `stream`: `error_gray` (mse), `error_l2_flow`, ..."""
  return f"error_{stream}" if kind == MSE else f"error_{kind}_{stream}"


ERROR_COLUMNS = tuple(error_column(k, s) for k in streams.ERROR_KINDS for s in streams.STREAMS)


def score_name(eval_config: Mapping[str, Any]) -> str:
  """`eval.score`, or the name an old run's `eval.stream_normalisation` stands for."""
  if "score" in eval_config:
    name = eval_config["score"]
    if name not in SCORES:
      raise ValueError(f"config.eval.score={name!r}: expected one of {list(SCORES)}")
    return name
  rule = eval_config.get("stream_normalisation")
  if rule is None:
    return LEGACY_DEFAULT
  if rule not in LEGACY_NORMALISATIONS:
    raise ValueError(
        f"config.eval.stream_normalisation={rule!r} (a run made before eval.score): expected one "
        f"of {list(LEGACY_NORMALISATIONS)}"
    )
  return LEGACY_NORMALISATIONS[rule]


def model_streams(columns: Mapping[str, np.ndarray]) -> list[str]:
  """The streams with an mse error column that is not all NaN (the model reconstructs them)."""
  return [
      s
      for s in streams.STREAMS
      if error_column(MSE, s) in columns and not np.all(np.isnan(columns[error_column(MSE, s)]))
  ]


def statistics(columns: Mapping[str, np.ndarray], normal: np.ndarray) -> dict[str, dict]:
  """Mean and standard deviation (ddof 0) of every error column over the `normal` rows.

  Pass VALIDATION frames. A column constant over them (std 0) is left out: the z-scored scores of
  that kind are then undefined (`compute` raises naming it).
  """
  normal = np.asarray(normal, bool)
  if not np.any(normal):
    raise ValueError("error statistics need normal frames (label 0): pass the validation split")
  stats = {}
  for stream in model_streams(columns):
    for kind in streams.ERROR_KINDS:
      values = np.asarray(columns[error_column(kind, stream)], np.float64)[normal]
      std = float(np.std(values))
      if std > 0:
        stats[error_column(kind, stream)] = {
            "mean": float(np.mean(values)),
            "std": std,
            "n_frames": int(values.size),
        }
  return stats


def stream_terms(
    name: str,
    columns: Mapping[str, np.ndarray],
    stats: Stats | None = None,
    scored: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
  """{stream: [N]} each stream's term of the named score (its error, or its z-score): the score is
  their mean, and the largest one says which stream drove a frame's score.

  `scored`: the streams the score uses (a run's `score_streams`); None = every stream the model
  reconstructs.
  """
  if name not in SCORES:
    raise ValueError(f"score {name!r}: expected one of {list(SCORES)}")
  spec = SCORES[name]
  names = model_streams(columns)
  if not names:
    raise ValueError("no stream error columns: the named scores need a reconstruction model")
  if scored is not None:
    missing = [s for s in scored if s not in names]
    if missing or not scored:
      raise ValueError(
          f"the score's streams {list(scored)} must be a non-empty subset of the model's {names}"
      )
    names = [s for s in names if s in scored]
  errors = {s: np.asarray(columns[error_column(spec.kind, s)], np.float64) for s in names}
  if not spec.standardised:
    return errors
  keys = {s: error_column(spec.kind, s) for s in names}
  missing = [k for k in keys.values() if k not in (stats or {})]
  if missing:
    raise ValueError(
        f"score {name!r} z-scores with validation statistics, but {missing} have none (absent, or "
        "constant over the normal validation frames): compute them with "
        "named_scores.statistics on the same model's validation frames, or use a raw score "
        f"({[n for n, s in SCORES.items() if not s.standardised]})"
    )
  return {s: (e - stats[keys[s]]["mean"]) / stats[keys[s]]["std"] for s, e in errors.items()}


def compute(
    name: str,
    columns: Mapping[str, np.ndarray],
    stats: Stats | None = None,
    scored: Sequence[str] | None = None,
) -> np.ndarray:
  """The named score [N] from the error columns (and, for a z-scored score, their statistics),
  over the `scored` streams (default: all the model reconstructs)."""
  return np.mean(list(stream_terms(name, columns, stats, scored).values()), axis=0)


def pixel_scale(name: str, stream: str, stats: Stats | None = None) -> float:
  """What a stream's per-pixel squared error is divided by in a heat map of score `name`: the
  validation standard deviation of the stream's MSE for a z-scored score, else 1 (raw errors)."""
  if not SCORES[name].standardised:
    return 1.0
  return float((stats or {}).get(error_column(MSE, stream), {}).get("std", 1.0))


def legacy_stats(stream_stats: Mapping[str, Any] | None) -> dict[str, Any]:
  """An old threshold.json's `stream_stats` ({stream: {...}} of the mse) as error-column stats."""
  return {error_column(MSE, s): dict(v) for s, v in (stream_stats or {}).items()}
