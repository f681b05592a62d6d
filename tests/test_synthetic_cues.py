"""Smoke test of benchmarks/synthetic_cues.py on a tiny run trained on the fake records."""

import json

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import pytest

from benchmarks import synthetic_cues
from mouseflax import train

pytestmark = pytest.mark.usefixtures("compilation_cache")


def test_every_cue_has_an_auc_overall_and_against_each_normal_behavior(fake_data, tmp_path):
  train.train_and_evaluate(fakes.tiny_config(), tmp_path)
  output = tmp_path / "cues.json"
  result = synthetic_cues.main(
      ["synthetic_cues", f"--workdir={tmp_path}", "--top_rows=3", f"--output={output}"]
  )
  assert set(result["cues"]) == set(synthetic_cues.CUES)
  assert all(0.0 <= result["all"][c] <= 1.0 for c in result["cues"])
  assert result["against"], "no normal behaviour in the test split"
  for row in result["against"].values():
    assert set(row) == set(result["cues"])
  assert json.loads(output.read_text())["top_rows"] == 3
