"""Smoke test of benchmarks/calibration_check.py on a tiny run trained on the fake records."""

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import pytest

from benchmarks import calibration_check
from mouseflax import named_scores
from mouseflax import train

pytestmark = pytest.mark.usefixtures("compilation_cache")


def test_every_score_and_target_is_fitted_and_measured(fake_data, tmp_path):
  train.train_and_evaluate(fakes.tiny_config(eval__score="mse_z"), tmp_path)
  result = calibration_check.main(
      [
          "calibration_check",
          f"--workdir={tmp_path}",
          "--events_per_hour=2,60000",
          "--frame_rates=0.1",
          f"--output={tmp_path / 'check.json'}",
      ]
  )
  assert set(result["scores"]) == set(named_scores.SCORES)
  for rows in result["scores"].values():
    assert [r["calibrate_to"] for r in rows] == ["events_per_hour"] * 2 + ["frame_rate"]
    # 80 validation frames at 25 fps (3.2 s): 2 per hour expects no event there, 60,000 per hour
    # expects 53.
    assert rows[0]["warned"] and not rows[1]["warned"]
    for row in rows:
      assert row["test"] >= 0.0 and row["test_normal_hours"] > 0
      assert row["validation"] <= row["nominal"]
  assert (tmp_path / "check.json").is_file()
