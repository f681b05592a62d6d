"""Report checks: the paper-style table and figure built from two fake run folders."""

import dataclasses
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from mouseflax import evaluate
from mouseflax import report

NUM_FRAMES = 40


def _write_scores(workdir: pathlib.Path, seed: int) -> None:
  rng = np.random.default_rng(seed)
  label = (np.arange(NUM_FRAMES) >= NUM_FRAMES // 2).astype(np.int64)
  error = rng.random(NUM_FRAMES) + label
  table = evaluate.FrameTable(
      video=np.zeros(NUM_FRAMES, np.int64),
      frame_index=np.arange(NUM_FRAMES, dtype=np.int64),
      label=label,
      behavior=np.full(NUM_FRAMES, 3, np.int64),
      error_gray=error,
      error_flow=error,
      score=error,
  )
  evaluate.write_score_csvs(table, workdir, ["test_half.mpg"])


def _make_run(root: pathlib.Path, name: str, results: dict, config: dict | None) -> pathlib.Path:
  workdir = root / name
  workdir.mkdir()
  (workdir / "results.json").write_text(json.dumps(results))
  if config is not None:
    (workdir / "config.json").write_text(json.dumps(config))
  _write_scores(workdir, seed=len(name))
  return workdir


@pytest.fixture
def two_runs(tmp_path) -> list[pathlib.Path]:
  notes = {"auc": "headline: pooled", "score": "mean of the streams' MSE"}
  # Run 1: the trainer's results.json fields; real data (manual_dir given), CAE on hang.
  cae = _make_run(
      tmp_path,
      "cae_hang",
      {
          "auc": 0.91234,
          "auc_macro": 0.9,
          "auc_smoothed": 0.95,
          "auc_minmax_per_video": 0.93,
          "auc_gray": 0.88,
          "auc_flow": None,
          "n_test_frames": 56000,
          "metrics_notes": notes,
          "dataset": "mouse_behavior/hang",
          "epochs": 60,
          "config": {"data": {"manual_dir": "/data/jhuang"}, "model": {"name": "cae"}},
      },
      None,
  )
  # Run 2: metadata only in config.json (fallback); synthetic data, RAE on groom.
  rae = _make_run(
      tmp_path,
      "rae_groom",
      {"auc": 0.5612, "n_test_frames": 900},
      {
          "data": {"dataset": "mouse_behavior/groom:1.0.0", "manual_dir": ""},
          "model": {"name": "rae"},
          "train": {"epochs": 2},
      },
  )
  return [cae, rae]


def test_load_run_reads_results_and_falls_back_to_config(two_runs):
  cae, rae = (report.load_run(w) for w in two_runs)
  assert (cae.dataset, cae.model, cae.epochs, cae.synthetic) == (
      "mouse_behavior/hang",
      "cae",
      60,
      False,
  )
  assert (rae.dataset, rae.model, rae.epochs, rae.synthetic) == (
      "mouse_behavior/groom",
      "rae",
      2,
      True,
  )


def test_synthetic_is_the_written_field_else_own_videos_is_real(tmp_path):
  # The written field wins over the config (a generated dataset, whatever manual_dir says).
  written = _make_run(
      tmp_path,
      "written",
      {
          "auc": 0.7,
          "synthetic": True,
          "config": {"data": {"dataset": "mouse_behavior/hang", "manual_dir": "/data"}},
      },
      None,
  )
  # Older runs without the field: own_videos reads real videos from data.video_dir.
  own = _make_run(
      tmp_path,
      "own",
      {"auc": 0.7, "dataset": "own_videos"},
      {"data": {"dataset": "own_videos", "manual_dir": "", "video_dir": "/videos"}},
  )
  assert report.load_run(written).synthetic is True
  assert report.load_run(own).synthetic is False


def _rows(text: str) -> dict[str, str]:
  """{dataset label: row} of the mouse rows of a markdown table."""
  return {
      line.split(" | ")[0].strip("| "): line
      for line in text.splitlines()
      if line.startswith("| mouse")
  }


def test_table_puts_our_aucs_beside_the_papers(two_runs):
  table = report.build_table([report.load_run(w) for w in two_runs])
  rows = _rows(table.split("## Beside the baselines")[0])
  hang, groom = rows["mouse, hang held out"], rows["mouse, groom held out"]
  assert (
      "| real | two-stream CAE | 60 | 0.912 | 0.900 | 0.950 | 0.930 | 0.880 | n/a | 56000 |" in hang
  )
  assert "> 0.9 | section 3.3" in hang
  assert "| **SYNTHETIC** | two-stream 3D RAE | 2 | 0.561 | ? |" in groom
  assert "> 0.5 | section 3.2" in groom
  assert "`auc`: headline: pooled" in table
  assert "SYNTHETIC** rows ran on generated recordings" in table
  assert "DSTN" not in table  # Avenue peers appear only with an Avenue run.


def test_baselines_beside_the_model_and_marked_when_not_beaten(two_runs):
  results = json.loads((two_runs[0] / "results.json").read_text())
  results.update(
      baselines={
          "motion_energy": {"auc": 0.7, "model_beats": True},
          "flow_magnitude": {"auc": 0.8, "model_beats": True},
          "pca": {"auc": 0.95, "model_beats": False},
      },
      bout_detection={"bouts": 5, "detected": 4, "share": 0.8},
      calibration={"calibrate_to": "events_per_hour", "target": 2.0},
      false_events_per_hour_test=3.5,
      calibration_warning="too short",
      stream_learning={
          "gray": {"val_loss": 0.001, "mean_frame_loss": 0.004, "learnt": 0.75},
          "flow": {"val_loss": 0.002, "mean_frame_loss": 0.002, "learnt": -0.01},
      },
  )
  (two_runs[0] / "results.json").write_text(json.dumps(results))
  table = report.build_table([report.load_run(w) for w in two_runs])
  paper_table, baseline_table = table.split("## Beside the baselines")
  assert "| 60 | 0.912! | 0.900 |" in _rows(paper_table)["mouse, hang held out"]
  hang = _rows(baseline_table)["mouse, hang held out"]
  assert (
      "| 0.912! | 0.700 | 0.800 | **0.950** | 4/5 | 3.5/h (nominal 2/h) W "
      "| gray 0.75, flow **-0.01** | cae_hang |"
  ) in hang
  groom = _rows(baseline_table)["mouse, groom held out"]  # A run from before the baselines.
  assert "| 0.561 | ? | ? | ? | ? | ? | ? | rae_groom |" in groom


def test_paper_constants_cover_every_number_the_paper_states():
  expected = {
      ("cuhk_avenue", "cae_single"): 0.784,
      ("cuhk_avenue", "rae"): 0.826,
      ("cuhk_avenue", "cae"): 0.832,
      ("mouse_behavior/hang", "supervised"): 0.99,
      ("mouse_behavior/hang", "cae_single"): 0.959,
      ("mouse_behavior/groom", "supervised"): 0.66,
      ("mouse_behavior/groom", "cae_single"): 0.644,
  }
  for key, auc in expected.items():
    assert (report.PAPER_RESULTS[key].auc, report.PAPER_RESULTS[key].relation) == (auc, "=")
  assert all(r.source for r in report.PAPER_RESULTS.values())


def test_cli_writes_report_and_figure_from_a_glob(two_runs, tmp_path):
  out, fig = tmp_path / "report.md", tmp_path / "fig.png"
  cmd = [
      sys.executable,
      "-m",
      "mouseflax.report",
      f"--workdirs={tmp_path}/*_*",
      f"--output={out}",
      f"--figure={fig}",
  ]
  proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
  assert proc.returncode == 0, proc.stderr
  text = out.read_text()
  assert text in proc.stdout
  assert text.count("| mouse,") == 4  # The paper table and the baseline table.
  assert fig.read_bytes().startswith(b"\x89PNG")


def test_missing_results_names_the_file(tmp_path):
  with pytest.raises(FileNotFoundError, match="results.json"):
    report.load_run(tmp_path)
  with pytest.raises(FileNotFoundError, match="matches no folder"):
    report.expand_workdirs([str(tmp_path / "nothing*")])


def test_figure_needs_a_two_stream_mouse_run(two_runs, tmp_path):
  runs = [report.load_run(w) for w in two_runs]
  path = report.plot_paper_figure(runs, tmp_path / "f.png")
  assert path.read_bytes().startswith(b"\x89PNG")
  with pytest.raises(ValueError, match="two-stream"):
    report.plot_paper_figure([dataclasses.replace(runs[0], model="supervised")], tmp_path / "g.png")
