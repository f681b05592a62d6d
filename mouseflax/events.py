"""The event rule: flagged frames -> events a person reviews (one rule for calibration and scoring).

A frame is flagged when its score > threshold. An event is a run of flagged frames in which
consecutive flagged frames are separated by a gap of fewer than `merge_gap_s` seconds of
unflagged frames (hysteresis in time: a score flickering around the threshold makes one event, not
many), spanning from its first to its last flagged frame; events shorter than `min_duration_s`
seconds are dropped (single-frame blips). In frames at `fps` frames per second:
link distance D = max(1, round(merge_gap_s * fps)) (flagged frames q < r belong to one event when
r - q <= D), minimum length L = max(1, round(min_duration_s * fps)) frames (end - start + 1 >= L).

`EventRule(0, 0)` (`PLAIN_RUNS`) gives the plain runs of consecutive flagged frames: the segments of
runs made before the rule existed, and the bouts of the ground truth (runs of anomalous frames).

Users: the evaluator and the trainer's calibration (`mouseflax.calibration`), `mouseflax.score`'s
`<stem>_segments.csv`, and anything that shows or monitors events (import `find_events`).
The defaults (`configs/default.py`: `eval.event_merge_gap_s`, `eval.event_min_duration_s`) and why
are documented there.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from typing import Any

from absl import logging
import numpy as np

# The frame rate assumed when a video's is unknown (a container without one, or records built before
# datasets stored `video_fps`): the rate of the Jhuang recordings and of the synthetic home cage.
FALLBACK_FPS = 30.0
SECONDS_PER_HOUR = 3600.0


@dataclasses.dataclass(frozen=True)
class EventRule:
  """Merges flagged frames less than `merge_gap_s` apart; drops events under `min_duration_s`."""

  merge_gap_s: float
  min_duration_s: float

  def link_frames(self, fps: float) -> int:
    """D: flagged frames at most D frames apart belong to one event (1: only adjacent frames)."""
    return max(1, int(round(self.merge_gap_s * fps)))

  def min_frames(self, fps: float) -> int:
    """L: the shortest event kept, in frames."""
    return max(1, int(round(self.min_duration_s * fps)))

  def to_dict(self) -> dict[str, float]:
    return dataclasses.asdict(self)


PLAIN_RUNS = EventRule(0.0, 0.0)


def rule_from_config(eval_config: Mapping[str, Any]) -> EventRule:
  """`eval.event_merge_gap_s` and `eval.event_min_duration_s`; PLAIN_RUNS for runs made before."""
  if "event_merge_gap_s" not in eval_config:
    return PLAIN_RUNS
  rule = EventRule(
      float(eval_config["event_merge_gap_s"]), float(eval_config["event_min_duration_s"])
  )
  for field, value in rule.to_dict().items():
    if not value >= 0:
      raise ValueError(f"config.eval.event_{field}={value}: must be >= 0 seconds")
  return rule


def checked_fps(fps: float | None, where: str) -> float:
  """`fps` when it is a positive number, else FALLBACK_FPS with a warning naming `where`."""
  if fps is not None and np.isfinite(fps) and fps > 0:
    return float(fps)
  logging.warning(
      "%s: no frame rate known; events and rates per hour assume %g fps.", where, FALLBACK_FPS
  )
  return FALLBACK_FPS


def find_events(frame: np.ndarray, flagged: np.ndarray, rule: EventRule, fps: float) -> np.ndarray:
  """[K, 2] (first frame, last frame) of the events of ONE video, in time order.

  Args:
    frame: int [N] frame indices, increasing (missing indices count as unflagged frames).
    flagged: bool [N] score > threshold.
    rule: the event rule.
    fps: the video's frame rate.
  """
  frame = np.asarray(frame, np.int64)
  hits = frame[np.asarray(flagged, bool)]
  if hits.size == 0:
    return np.zeros((0, 2), np.int64)
  breaks = np.flatnonzero(np.diff(hits) > rule.link_frames(fps))
  starts = hits[np.concatenate([[0], breaks + 1])]
  ends = hits[np.concatenate([breaks, [hits.size - 1]])]
  keep = ends - starts + 1 >= rule.min_frames(fps)
  return np.stack([starts[keep], ends[keep]], axis=1)


def overlaps(events: np.ndarray, frame: np.ndarray, label: np.ndarray) -> np.ndarray:
  """bool [K]: whether each event [first, last] holds a frame with label 1."""
  positives = np.asarray(frame, np.int64)[np.asarray(label) > 0]
  if positives.size == 0:
    return np.zeros(len(events), bool)
  first_after_start = np.searchsorted(positives, events[:, 0], side="left")
  return (first_after_start < positives.size) & (
      positives[np.minimum(first_after_start, positives.size - 1)] <= events[:, 1]
  )
