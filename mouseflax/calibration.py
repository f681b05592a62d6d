"""The anomaly threshold: calibrated on normal validation video, with its uncertainty and a check.

Two targets (`config.eval.calibrate_to`):
- 'events_per_hour' (default): at most `eval.false_events_per_hour` events (`mouseflax.events`) per
  hour of normal validation video. Of the thresholds whose event count is within the budget
  B = floor(rate * hours) for themselves AND every higher threshold, the lowest one
  (`events_threshold`): the count of events is not monotone in the threshold (lowering it can merge
  two events into one), and this definition makes the threshold fall monotonically as the rate
  grows.
- 'frame_rate': at most `eval.false_alarm_rate` of the normal validation frames flagged
  (`frame_rate_threshold`, the 'higher' quantile at 1 - rate).
A frame is flagged when score > threshold.

The estimate: the realised rates on the validation frames (`measure`), with a Poisson 95% interval
of the event rate (Garwood's exact interval; frames are correlated, so events, not frames, are the
independent sample), and the rates realised on held-out validation (`cross_fit`: each video's
validation frames are cut in two halves by time; a threshold fitted on one half is measured on the
other, both ways, pooled; the final threshold uses all of validation). When the validation video
is too short to support the requested rate (fewer than MIN_EXPECTED_EVENTS events expected at it,
or observed at a frame-rate threshold) `shortfall_warning` says so and how much more is needed:
with 10 events the 95% interval of a Poisson rate is about 0.5x-1.8x the estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import math
from typing import Any

import numpy as np
from scipy import stats as sp_stats

from mouseflax import events

EVENTS_PER_HOUR = "events_per_hour"
FRAME_RATE = "frame_rate"
MODES = (EVENTS_PER_HOUR, FRAME_RATE)
# Events needed for a rate promise within about 0.5x-2x (the 95% Poisson interval of 10 counts is
# [4.8, 18.4]).
MIN_EXPECTED_EVENTS = 10
CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Timeline:
  """Per-frame scores of one or more videos, sorted by (video, frame).

  Attributes:
    video: int [N] video ids.
    frame: int [N] frame indices in their video (gaps count as frames not scored).
    score: float [N] anomaly scores.
    fps: {video id: frames per second}.
  """

  video: np.ndarray
  frame: np.ndarray
  score: np.ndarray
  fps: Mapping[int, float]

  def __len__(self) -> int:
    return int(self.score.size)

  def rows(self, mask: np.ndarray) -> Timeline:
    return Timeline(self.video[mask], self.frame[mask], self.score[mask], self.fps)

  def slices(self) -> list[tuple[int, slice]]:
    """[(video id, its rows)] in order."""
    ids, starts = np.unique(self.video, return_index=True)
    ends = list(starts[1:]) + [len(self)]
    return [(int(v), slice(int(a), int(b))) for v, a, b in zip(ids, starts, ends)]

  def hours(self) -> float:
    """Hours of video the frames cover: sum over videos of frames / fps."""
    return (
        sum((rows.stop - rows.start) / self.fps[v] for v, rows in self.slices())
        / events.SECONDS_PER_HOUR
    )


def timeline(
    video: np.ndarray, frame: np.ndarray, score: np.ndarray, fps: Mapping[int, float]
) -> Timeline:
  """A Timeline of the given rows, sorted by (video, frame)."""
  video, frame = np.asarray(video, np.int64), np.asarray(frame, np.int64)
  order = np.lexsort((frame, video))
  return Timeline(video[order], frame[order], np.asarray(score, np.float64)[order], dict(fps))


@dataclasses.dataclass(frozen=True)
class Target:
  """What the threshold promises: `mode` in MODES and its `value` (events per hour or a share)."""

  mode: str
  value: float

  @classmethod
  def from_config(cls, eval_config: Mapping[str, Any]) -> Target:
    """`eval.calibrate_to` and its rate; both rates are checked, whichever is used."""
    rate, per_hour = eval_config["false_alarm_rate"], eval_config["false_events_per_hour"]
    if not 0.0 < rate < 1.0:
      raise ValueError(f"config.eval.false_alarm_rate must be in (0, 1), got {rate}")
    if not per_hour > 0:
      raise ValueError(f"config.eval.false_events_per_hour must be > 0, got {per_hour}")
    mode = eval_config["calibrate_to"]
    if mode not in MODES:
      raise ValueError(f"config.eval.calibrate_to={mode!r}: expected one of {list(MODES)}")
    return cls(mode, float(per_hour if mode == EVENTS_PER_HOUR else rate))

  def describe(self) -> str:
    if self.mode == EVENTS_PER_HOUR:
      return f"{self.value:g} false events per hour"
    return f"{self.value:.3g} of normal frames flagged"


# --------------------------------------------------------------------------------------------------
# Measuring a threshold.


def video_events(tl: Timeline, threshold: float, rule: events.EventRule) -> list[np.ndarray]:
  """The events of each video of `tl` at `threshold` (`events.find_events`), in `slices` order."""
  flagged = tl.score > threshold
  return [
      events.find_events(tl.frame[rows], flagged[rows], rule, tl.fps[v]) for v, rows in tl.slices()
  ]


def measure(tl: Timeline, threshold: float, rule: events.EventRule) -> dict[str, Any]:
  """Flagged frames and events of normal frames `tl` at `threshold`: counts and rates."""
  count = sum(len(e) for e in video_events(tl, threshold, rule))
  hours = tl.hours()
  flagged = int(np.sum(tl.score > threshold))
  return {
      "frames": len(tl),
      "flagged_frames": flagged,
      "frame_rate": flagged / len(tl) if len(tl) else None,
      "hours": hours,
      "events": count,
      "events_per_hour": count / hours if hours > 0 else None,
  }


def poisson_interval(count: int, exposure: float, confidence: float = CONFIDENCE) -> list[float]:
  """Garwood's exact interval [low, high] of a Poisson rate from `count` events in `exposure`."""
  alpha = 1.0 - confidence
  low = 0.0 if count == 0 else sp_stats.chi2.ppf(alpha / 2, 2 * count) / 2
  high = sp_stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
  return [float(low / exposure), float(high / exposure)]


# --------------------------------------------------------------------------------------------------
# Fitting a threshold.


def frame_rate_threshold(normal_scores: np.ndarray, false_alarm_rate: float) -> float:
  """Threshold so that at most `false_alarm_rate` of the normal scores lie strictly above it.

  Rule: the `higher` empirical quantile of `normal_scores` at 1 - false_alarm_rate (an actual score,
  rounded up); flag a frame when score > threshold.
  """
  scores = np.asarray(normal_scores, np.float64).reshape(-1)
  if not 0.0 < false_alarm_rate < 1.0:
    raise ValueError(f"config.eval.false_alarm_rate must be in (0, 1), got {false_alarm_rate}")
  if scores.size == 0 or not np.all(np.isfinite(scores)):
    raise ValueError("calibration needs a non-empty set of finite normal scores")
  return float(np.quantile(scores, 1.0 - false_alarm_rate, method="higher"))


class _EventCounter:
  """Events of every video while frames are flagged one at a time (clusters as intervals)."""

  def __init__(self, tl: Timeline, rule: events.EventRule):
    links = {v: rule.link_frames(tl.fps[v]) for v, _ in tl.slices()}
    self.pad = max(links.values()) + 1  # Between videos: no flagged frame links across.
    offsets, position = {}, 0
    for v, rows in tl.slices():
      offsets[v] = position - int(tl.frame[rows.start])
      position += int(tl.frame[rows.stop - 1] - tl.frame[rows.start]) + 1 + self.pad
    self.position = tl.frame + np.array([offsets[v] for v in tl.video], np.int64)
    self.link = np.array([links[v] for v in tl.video], np.int64)
    self.min_len = np.array([rule.min_frames(tl.fps[v]) for v in tl.video], np.int64)
    self.flagged = np.zeros(position, bool)
    self.start_of = {}  # Last flagged position of a cluster -> its first.
    self.end_of = {}  # First flagged position of a cluster -> its last.
    self.count = 0

  def _nearest(self, p: int, d: int, step: int) -> int | None:
    lo, hi = (max(p - d, 0), p) if step < 0 else (p + 1, min(p + d + 1, self.flagged.size))
    hits = np.flatnonzero(self.flagged[lo:hi])
    if hits.size == 0:
      return None
    return lo + int(hits[-1] if step < 0 else hits[0])

  def add(self, row: int) -> None:
    """Flags the frame of `row`; updates the clusters and the count of long enough ones."""
    p, d, min_len = int(self.position[row]), int(self.link[row]), int(self.min_len[row])
    q, r = self._nearest(p, d, -1), self._nearest(p, d, 1)
    self.flagged[p] = True
    if q is not None and r is not None and r - q <= d:
      return  # Inside an existing event: nothing changes.
    start, end = p, p
    if q is not None:  # q ends the cluster on the left.
      start = self.start_of.pop(q)
      del self.end_of[start]
      self.count -= q - start + 1 >= min_len
    if r is not None:  # r starts the cluster on the right.
      end = self.end_of.pop(r)
      del self.start_of[end]
      self.count -= end - r + 1 >= min_len
    self.start_of[end], self.end_of[start] = start, end
    self.count += end - start + 1 >= min_len


def events_threshold(tl: Timeline, rule: events.EventRule, max_events: int) -> float:
  """The lowest threshold at which it and every higher threshold give <= `max_events` events.

  Exact: frames are flagged in decreasing score order (ties together) while the events are
  counted incrementally; the threshold is the score of the first group that exceeds the budget
  (that group is then not flagged). When no threshold exceeds it, every frame is flagged.
  """
  if len(tl) == 0 or not np.all(np.isfinite(tl.score)):
    raise ValueError("calibration needs a non-empty set of finite normal scores")
  counter = _EventCounter(tl, rule)
  order = np.argsort(-tl.score, kind="stable")
  values = tl.score[order]
  group_starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
  for a, b in zip(group_starts, list(group_starts[1:]) + [len(order)]):
    for row in order[a:b]:
      counter.add(int(row))
    if counter.count > max_events:
      return float(values[a])
  return float(np.nextafter(values[-1], -np.inf))


def fit_threshold(tl: Timeline, rule: events.EventRule, target: Target) -> float:
  """The threshold meeting `target` on the normal frames of `tl`."""
  if target.mode == FRAME_RATE:
    return frame_rate_threshold(tl.score, target.value)
  return events_threshold(tl, rule, math.floor(target.value * tl.hours()))


def halves(tl: Timeline) -> tuple[np.ndarray, np.ndarray]:
  """Masks of the first and second half (by time) of each video's frames."""
  first = np.zeros(len(tl), bool)
  for _, rows in tl.slices():
    first[rows.start : rows.start + (rows.stop - rows.start + 1) // 2] = True
  return first, ~first


def cross_fit(tl: Timeline, rule: events.EventRule, target: Target) -> dict[str, Any]:
  """Rates realised on held-out validation: fit on one half of each video, measure on the other.

  Both directions are pooled (events and frames summed over both held-out halves).
  """
  a, b = halves(tl)
  if not np.any(a) or not np.any(b):
    return {"frames": 0, "note": "too few validation frames to cut in two halves"}
  parts = []
  for fit, held in ((a, b), (b, a)):
    threshold = fit_threshold(tl.rows(fit), rule, target)
    parts.append({"threshold": threshold, **measure(tl.rows(held), threshold, rule)})
  frames = sum(p["frames"] for p in parts)
  flagged = sum(p["flagged_frames"] for p in parts)
  count = sum(p["events"] for p in parts)
  hours = sum(p["hours"] for p in parts)
  return {
      "frames": frames,
      "flagged_frames": flagged,
      "frame_rate": flagged / frames,
      "hours": hours,
      "events": count,
      "events_per_hour": count / hours,
      "events_per_hour_ci95": poisson_interval(count, hours),
      "folds": parts,
  }


def shortfall_warning(target: Target, fitted: Mapping[str, Any]) -> str | None:
  """A warning when the validation video cannot support `target` (None when it can).

  Events mode: fewer than MIN_EXPECTED_EVENTS events expected at the target rate. Frame mode: fewer
  than MIN_EXPECTED_EVENTS events observed at the fitted threshold (the frame share is a mean over
  correlated frames: its sample size is the number of events).
  """
  hours = fitted["hours"]
  minutes = hours * 60
  if target.mode == EVENTS_PER_HOUR:
    expected = target.value * hours
    if expected >= MIN_EXPECTED_EVENTS:
      return None
    needed = MIN_EXPECTED_EVENTS / target.value
    return (
        f"the validation video ({minutes:.3g} min of normal frames) is too short to promise "
        f"{target.describe()}: it expects {expected:.2g} events at that rate, and a rate estimated "
        f"from fewer than {MIN_EXPECTED_EVENTS} events may be off by more than 2x. At least "
        f"{needed:.3g} h of normal validation video are needed ({needed - hours:.3g} h more; with "
        "the default data.validation_fraction of 0.2, five times that of recordings), or ask "
        "for a higher rate."
    )
  observed = fitted["events"]
  if observed >= MIN_EXPECTED_EVENTS:
    return None
  factor = MIN_EXPECTED_EVENTS / max(observed, 1)
  return (
      f"the validation video ({minutes:.3g} min of normal frames) is too short to promise "
      f"{target.describe()}: the flagged validation frames form {observed} event"
      f"{'' if observed == 1 else 's'}, and a rate "
      f"estimated from fewer than {MIN_EXPECTED_EVENTS} may be off by more than 2x. About "
      f"{factor:.3g}x as much normal validation video is needed (at least {factor * hours:.3g} h, "
      f"{(factor - 1) * hours:.3g} h more), or ask for a higher rate."
  )


def calibrate(tl: Timeline, rule: events.EventRule, target: Target) -> dict[str, Any]:
  """Fits the threshold on all of `tl` (normal validation frames): estimate, held-out, warning.

  Returns:
    {'threshold', 'calibrate_to', 'target', 'event_rule', 'validation' (measure at the threshold
    plus 'events_per_hour_ci95'), 'heldout' (cross_fit), 'warning' (str or None)}.
  """
  threshold = fit_threshold(tl, rule, target)
  fitted = measure(tl, threshold, rule)
  fitted["events_per_hour_ci95"] = poisson_interval(fitted["events"], fitted["hours"])
  return {
      "threshold": threshold,
      "calibrate_to": target.mode,
      "target": target.value,
      "event_rule": rule.to_dict(),
      "validation": fitted,
      "heldout": cross_fit(tl, rule, target),
      "warning": shortfall_warning(target, fitted),
  }
