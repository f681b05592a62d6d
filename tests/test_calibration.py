"""The event rule (mouseflax.events) and the threshold's calibration (mouseflax.calibration).

Hand-made score series at 10 fps, so seconds and frames are easy to read: a merge gap of 0.3 s
links flagged frames at most 3 frames apart, a minimum duration of 0.2 s keeps events of 2 frames
or more.
"""

import itertools

import numpy as np
import pytest

from mouseflax import calibration
from mouseflax import events

FPS = 10.0
RULE = events.EventRule(merge_gap_s=0.3, min_duration_s=0.2)
# Flags:     frames 0-1 (2 frames), 5 (a blip), 7-8 (2 frames, 2 unflagged frames after 5), 15-16.
FLAGS = np.zeros(20, bool)
FLAGS[[0, 1, 5, 7, 8, 15, 16]] = True


def test_event_rule_merges_gaps_and_drops_short_events():
  frame = np.arange(20)
  np.testing.assert_array_equal(
      events.find_events(frame, FLAGS, RULE, FPS), [[0, 1], [5, 8], [15, 16]]
  )
  # Plain runs: every run of consecutive flagged frames, blips included.
  np.testing.assert_array_equal(
      events.find_events(frame, FLAGS, events.PLAIN_RUNS, FPS),
      [[0, 1], [5, 5], [7, 8], [15, 16]],
  )
  # No merging but a 0.2 s minimum: the blip is dropped.
  no_merge = events.EventRule(0.0, 0.2)
  np.testing.assert_array_equal(
      events.find_events(frame, FLAGS, no_merge, FPS), [[0, 1], [7, 8], [15, 16]]
  )
  # Missing frame indices count as unflagged frames: 15-16 moved to 20-21 stay apart from 7-8.
  assert len(events.find_events(np.r_[0:15, 20:25], FLAGS, RULE, FPS)) == 3
  assert events.find_events(frame, np.zeros(20, bool), RULE, FPS).shape == (0, 2)


def test_event_rule_in_frames_and_from_config():
  assert (RULE.link_frames(FPS), RULE.min_frames(FPS)) == (3, 2)
  assert (events.PLAIN_RUNS.link_frames(30.0), events.PLAIN_RUNS.min_frames(30.0)) == (1, 1)
  config = {"event_merge_gap_s": 1.0, "event_min_duration_s": 0.25}
  assert events.rule_from_config(config) == events.EventRule(1.0, 0.25)
  assert events.rule_from_config({}) == events.PLAIN_RUNS  # A run made before the rule.
  with pytest.raises(ValueError, match="event_min_duration_s"):
    events.rule_from_config({"event_merge_gap_s": 1.0, "event_min_duration_s": -1.0})


def test_overlaps():
  found = np.array([[0, 1], [5, 8], [15, 16]])
  label = np.zeros(20, int)
  label[8] = 1
  np.testing.assert_array_equal(events.overlaps(found, np.arange(20), label), [0, 1, 0])


def _timeline(scores_by_video, fps=FPS):
  video = np.concatenate([np.full(len(s), v) for v, s in enumerate(scores_by_video)])
  frame = np.concatenate([np.arange(len(s)) for s in scores_by_video])
  fps_map = {v: fps for v in range(len(scores_by_video))}
  return calibration.timeline(video, frame, np.concatenate(scores_by_video), fps_map)


def _count(tl, threshold, rule=RULE):
  return sum(len(e) for e in calibration.video_events(tl, threshold, rule))


def test_events_threshold_on_a_hand_made_series():
  # Three bumps of 3 frames (peaks 9, 8, 7) in quiet frames at 1; a lone spike of 10 (one frame,
  # dropped by the 0.2 s minimum).
  scores = np.ones(60)
  scores[[10, 11, 12]] = 9.0
  scores[[30, 31, 32]] = 8.0
  scores[[50, 51, 52]] = 7.0
  scores[40] = 10.0
  tl = _timeline([scores])
  assert calibration.events_threshold(tl, RULE, 0) == 9.0  # Nothing but the spike above it.
  assert calibration.events_threshold(tl, RULE, 1) == 8.0
  assert calibration.events_threshold(tl, RULE, 2) == 7.0
  # Three events at most at any threshold: a budget of 3 flags everything (one long event).
  everything = calibration.events_threshold(tl, RULE, 3)
  assert everything < 1.0 and _count(tl, everything) == 1
  # Frames of two videos never join one event.
  end, start = np.array([1.0, 1.0, 9.0, 9.0]), np.array([9.0, 9.0, 1.0, 1.0])
  assert _count(_timeline([end, start]), 8.5) == 2
  assert _count(_timeline([np.concatenate([end, start])]), 8.5) == 1


def test_events_threshold_against_brute_force_and_monotone_in_the_budget():
  rng = np.random.default_rng(0)
  for trial in range(40):
    videos = [rng.integers(0, 12, rng.integers(5, 40)).astype(float) for _ in range(2)]
    tl = _timeline(videos)
    candidates = np.unique(tl.score)
    thresholds = []
    for budget in range(5):
      t = calibration.events_threshold(tl, RULE, budget)
      # Within the budget at t and at every higher candidate; over it just below t.
      assert all(_count(tl, c) <= budget for c in candidates[candidates >= t]), trial
      below = candidates[candidates < t]
      assert below.size == 0 or _count(tl, below[-1]) > budget, trial
      thresholds.append(t)
    assert all(a >= b for a, b in itertools.pairwise(thresholds)), thresholds


def test_frame_rate_threshold_quantile_rule():
  scores = np.arange(1, 101, dtype=np.float64)
  # 'higher' quantile at 0.95: index ceil(99 * 0.95) = 95 -> the score 96; 4 of 100 lie above it.
  threshold = calibration.frame_rate_threshold(scores, 0.05)
  assert threshold == 96.0
  assert np.mean(scores > threshold) <= 0.05
  assert calibration.frame_rate_threshold(scores[::-1], 0.5) == 51.0
  with pytest.raises(ValueError, match="false_alarm_rate"):
    calibration.frame_rate_threshold(scores, 1.5)
  with pytest.raises(ValueError, match="finite"):
    calibration.frame_rate_threshold(np.array([]), 0.1)


def test_poisson_interval():
  low, high = calibration.poisson_interval(10, 2.0)
  assert (low, high) == pytest.approx((4.795 / 2, 18.39 / 2), rel=1e-3)
  assert calibration.poisson_interval(0, 1.0) == pytest.approx([0.0, 3.689], rel=1e-3)


def _noise_timeline(hours, fps=FPS, seed=0):
  rng = np.random.default_rng(seed)
  return _timeline([rng.random(int(hours * 3600 * fps))], fps)


def test_calibration_warns_when_validation_is_too_short():
  target = calibration.Target(calibration.EVENTS_PER_HOUR, 2.0)
  short = calibration.calibrate(_noise_timeline(0.1), RULE, target)  # 6 min: 0.2 expected.
  assert "too short" in short["warning"] and "5 h of normal validation" in short["warning"]
  assert short["validation"]["events"] == 0  # floor(2 * 0.1) = 0 events allowed.
  long_enough = calibration.calibrate(
      _noise_timeline(0.5), RULE, calibration.Target(calibration.EVENTS_PER_HOUR, 40.0)
  )  # 20 expected.
  assert long_enough["warning"] is None
  assert long_enough["validation"]["events"] <= 20
  low, high = long_enough["validation"]["events_per_hour_ci95"]
  assert low < long_enough["validation"]["events_per_hour"] < high


def test_frame_rate_calibration_counts_events_as_the_sample():
  # Scores that move slowly: flagged frames come in long runs, so 1% of 3,600 frames is a handful
  # of events, too few to promise the rate.
  t = np.arange(3600)
  slow = np.sin(t / 200.0) + 0.01 * np.random.default_rng(1).random(t.size)
  fitted = calibration.calibrate(
      _timeline([slow]), RULE, calibration.Target(calibration.FRAME_RATE, 0.01)
  )
  assert fitted["validation"]["frame_rate"] <= 0.01
  assert fitted["validation"]["events"] < calibration.MIN_EXPECTED_EVENTS
  assert "form" in fitted["warning"] and "events" in fitted["warning"]


def test_cross_fit_measures_on_held_out_halves():
  tl = _noise_timeline(0.5, seed=3)
  target = calibration.Target(calibration.EVENTS_PER_HOUR, 60.0)
  fitted = calibration.calibrate(tl, RULE, target)
  heldout = fitted["heldout"]
  assert heldout["frames"] == len(tl) and len(heldout["folds"]) == 2
  # Fitted on one half (15 events allowed in 15 min), measured on the other: near the target.
  assert 0.5 * 60 <= heldout["events_per_hour"] <= 2 * 60
  first, second = calibration.halves(tl)
  assert first.sum() == second.sum() == len(tl) // 2


def test_target_from_config():
  config = {
      "calibrate_to": "events_per_hour",
      "false_events_per_hour": 2.0,
      "false_alarm_rate": 0.01,
  }
  assert calibration.Target.from_config(config) == calibration.Target("events_per_hour", 2.0)
  config["calibrate_to"] = "frame_rate"
  assert calibration.Target.from_config(config) == calibration.Target("frame_rate", 0.01)
  with pytest.raises(ValueError, match="calibrate_to='frames'"):
    calibration.Target.from_config({**config, "calibrate_to": "frames"})
  with pytest.raises(ValueError, match="false_events_per_hour"):
    calibration.Target.from_config({**config, "false_events_per_hour": 0.0})
  with pytest.raises(ValueError, match="false_alarm_rate"):
    calibration.Target.from_config({**config, "false_alarm_rate": 1.5})
