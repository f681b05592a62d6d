"""Smoke test of benchmarks/real_video_check.py: the whole check on a tiny synthetic clip.

A dark 'mouse' walks on a light textured floor (the real recording's look, at 160x120); the check
cuts it, injects its anomalies, trains a tiny own_videos run (main), scores the test part (score)
and measures every named score and baseline. The numbers mean nothing at this size; the test checks
that every part ran and reported.
"""

import json

import cv2
import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np

from benchmarks import real_video_check
from mouseflax import baselines
from mouseflax import named_scores

SIZE = (160, 120)  # Width, height.
FRAMES = 360
FPS = 30.0
TINY = (
    "tiny:--config.model.width=4 --config.train.epochs=1 --config.train.batch_size=4 "
    "--config.data.stride=1 --config.data.train_hop=4 --config.eval.batch_size=16 "
    "--config.data.build_workers=1"
)


def open_field(num_frames: int):
  """A light floor with a dark ellipse wandering on it."""
  width, height = SIZE
  rng = np.random.default_rng(0)
  floor = cv2.GaussianBlur(rng.integers(170, 230, (height, width), dtype=np.uint8), (0, 0), 3)
  for t in range(num_frames):
    frame = floor.copy()
    center = (
        int(width / 2 + width / 3 * np.sin(t / 25)),
        int(height / 2 + height / 4 * np.cos(t / 31)),
    )
    cv2.ellipse(frame, center, (12, 7), (3 * t) % 180, 0, 360, 40, -1)
    yield frame


def test_the_check_runs_end_to_end(tmp_path):
  clip = fakes.write_video(tmp_path / "field.avi", open_field(FRAMES), "MJPG", FPS)
  output = tmp_path / "check.json"
  results = real_video_check.main(
      [
          "real_video_check",
          f"--video={clip}",
          f"--workdir={tmp_path / 'work'}",
          f"--output={output}",
          f"--report={tmp_path / 'check.md'}",
          f"--variant={TINY}",
      ]
  )
  assert json.loads(output.read_text())["video"] == str(clip)
  assert results["test_frames"] == FRAMES // 2
  assert {a["kind"] for a in results["anomalies"]} == set(real_video_check.KINDS)
  variant = results["variants"]["tiny"]
  assert set(variant["auc"]) == set(named_scores.SCORES)
  assert set(variant["baselines"]) == set(baselines.NAMES)
  for aucs in [*variant["auc"].values(), *variant["baselines"].values()]:
    assert 0.0 <= aucs["all"] <= 1.0 and set(real_video_check.KINDS) <= set(aucs)
  for targets in variant["calibration"].values():
    assert set(targets) == {"events_per_hour", "frame_rate"}
    assert targets["events_per_hour"]["warning"]  # A few seconds of validation: too short.
  assert len(variant["event_rule_sweep"]) == len(real_video_check.EVENT_RULE_SWEEP)
  assert set(variant["stream_learning"]) == {"gray", "flow"}
  report = (tmp_path / "check.md").read_text()
  assert "baseline pca" in report and "| paper |" in report
  assert "Streams learnt (1 - validation loss / a constant mean frame's): gray " in report
