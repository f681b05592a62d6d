"""build_data: sequence cutting, the train/validation split, the CLI (parallel, missing data)."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from data_builders.mouse_behavior import mouse_behavior_dataset_builder as mb
from mouseflax import build_data
from mouseflax import synthetic


def test_strided_windows_take_every_stride_th_frame_without_overlap():
  windows = build_data.strided_windows(100, length=8, stride=5, hop=40)
  np.testing.assert_array_equal(windows[:, 0], [0, 40])  # 80 + 35 > 99: no third window.
  assert (np.diff(windows, axis=1) == 5).all()
  assert build_data.strided_windows(35, length=8, stride=5, hop=40).shape == (0, 8)
  np.testing.assert_array_equal(build_data.strided_windows(36, length=8, stride=5, hop=40),
                                [np.arange(0, 36, 5)])
  with pytest.raises(ValueError, match="stride"):
    build_data.strided_windows(100, length=8, stride=0, hop=40)


def test_covering_windows_cover_every_frame_with_an_end_aligned_tail():
  windows = build_data.covering_windows(20, length=8)
  np.testing.assert_array_equal(windows[:, 0], [0, 8, 12])
  np.testing.assert_array_equal(np.unique(windows), np.arange(20))
  np.testing.assert_array_equal(build_data.covering_windows(16, length=8)[:, 0], [0, 8])
  with pytest.raises(ValueError, match="Cannot cover"):
    build_data.covering_windows(7, length=8)


def test_split_is_deterministic_disjoint_and_exact():
  train, validation = build_data.split_train_validation(50, validation_fraction=0.2, seed=0)
  again = build_data.split_train_validation(50, validation_fraction=0.2, seed=0)
  np.testing.assert_array_equal(train, again[0])
  assert len(validation) == 10 and not set(train) & set(validation)
  np.testing.assert_array_equal(np.sort(np.concatenate([train, validation])), np.arange(50))
  other = build_data.split_train_validation(50, validation_fraction=0.2, seed=1)[1]
  assert not np.array_equal(validation, other)


def test_empty_splits_are_named():
  build_data.check_not_empty({"train": [1], "test": [2]}, "d", "fix")
  with pytest.raises(ValueError, match=r"\['validation'\].*fix"):
    build_data.check_not_empty({"train": [1], "validation": []}, "d", "fix")


def test_parse_dataset_and_unknown_names():
  assert build_data.parse_dataset("mouse_behavior/hang") == ("mouse_behavior", "hang")
  assert build_data.parse_dataset("cuhk_avenue") == ("cuhk_avenue", None)
  with pytest.raises(ValueError, match="mouse_behavior"):
    build_data.builder_module("ucf101")


def run_cli(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "mouseflax.build_data", *args],
                        capture_output=True, text=True, check=False)


def test_cli_missing_manual_dir_names_expected_files(tmp_path):
  result = run_cli("--dataset=mouse_behavior/hang", f"--manual_dir={tmp_path / 'nowhere'}",
                   f"--data_dir={tmp_path / 'data'}")
  assert result.returncode != 0
  assert "Annotator_group_1" in result.stderr and "nowhere" in result.stderr


def test_cli_parallel_build_equals_in_process_build(tmp_path):
  raw = synthetic.write_home_cage(tmp_path / "raw", seed=0, num_videos=3, frames_per_video=120,
                                  width=160, height=120)
  # Video overrides on the command line give a hashed config; the same one is built in process.
  result = run_cli("--dataset=mouse_behavior/groom", f"--manual_dir={raw}",
                   f"--data_dir={tmp_path / 'cli'}", "--num_workers=2",
                   "--test_video=synth_cage_03", "--train_videos=synth_cage_01,synth_cage_02")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "Preprocessed 3/3 videos" in result.stderr  # The progress log.
  config = mb.make_config("groom", test_video="synth_cage_03",
                          train_videos=("synth_cage_01", "synth_cage_02"))
  builder = build_data.build("mouse_behavior", manual_dir=raw, data_dir=tmp_path / "local",
                             config=config)
  assert builder.info.metadata["test_video"] == "synth_cage_03"
  local = sorted(pathlib.Path(builder.data_dir).glob("*.array_record*"))
  cli_dir = tmp_path / "cli" / "mouse_behavior" / config.name / "1.0.0"
  cli = sorted(cli_dir.glob("*.array_record*"))
  assert [p.name for p in local] == [p.name for p in cli] and local
  for a, b in zip(local, cli):
    assert a.read_bytes() == b.read_bytes(), a.name
