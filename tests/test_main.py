"""End-to-end: `python -m mouseflax.main` on the tiny config with the real input pipeline.

Builds tiny synthetic records once (module-scoped data dir), trains one epoch, evaluates, and checks
the workdir; a rerun of the same command resumes (nothing left to train) and gives the same results.
"""

import json
import os
import pathlib
import subprocess
import sys

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import pytest

RUN_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return tmp_path_factory.mktemp("records")


def run_main(workdir: pathlib.Path, data_dir: pathlib.Path, *overrides: str):
  cmd = [
      sys.executable,
      "-m",
      "mouseflax.main",
      f"--config={fakes.REPO / 'configs' / 'tiny.py'}",
      f"--workdir={workdir}",
      f"--config.data.data_dir={data_dir}",
      *overrides,
  ]
  return subprocess.run(
      cmd,
      cwd=fakes.REPO,
      capture_output=True,
      text=True,
      timeout=RUN_TIMEOUT_S,
      env={**os.environ, "JAX_PLATFORMS": "cpu"},
      check=False,
  )


def test_main_trains_evaluates_and_resumes(tmp_path, data_dir):
  workdir = tmp_path / "run"
  first = run_main(workdir, data_dir, "--config.train.log_every_steps=2")
  assert first.returncode == 0, first.stderr[-3000:]
  results = json.loads((workdir / "results.json").read_text())
  assert results["epochs"] == 1 and results["config"]["train"]["log_every_steps"] == 2
  # The tiny synthetic data (seeded) puts held-out frames in the test half: the AUC is defined.
  assert results["n_test_frames"] > results["n_anomalous_frames"] > 0
  assert isinstance(results["auc"], float) and 0.0 <= results["auc"] <= 1.0, results["auc"]
  assert '"auc"' in first.stdout
  for name in ("config.json", "preprocess.json", "threshold.json", "metrics.jsonl", "roc.png"):
    assert (workdir / name).is_file(), name
  assert list((workdir / "scores").glob("*.csv"))
  second = run_main(workdir, data_dir, "--config.train.log_every_steps=2")
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Resumed from step" in second.stderr
  again = json.loads((workdir / "results.json").read_text())
  assert again["auc"] == results["auc"] and again["final_val_loss"] == results["final_val_loss"]


def test_main_rejects_missing_manual_dir_and_unknown_keys(tmp_path, data_dir):
  missing = tmp_path / "no_such_dir"
  proc = run_main(tmp_path / "a", data_dir, f"--config.data.manual_dir={missing}")
  assert proc.returncode != 0 and str(missing) in proc.stderr
  proc = run_main(tmp_path / "b", data_dir, "--config.train.epochz=3")
  assert proc.returncode != 0 and "epochz" in proc.stderr
