"""build_data: sequence cutting, the train/validation split, the CLI (parallel, missing data)."""

import pathlib
import subprocess
import sys
import tracemalloc

import cv2
import numpy as np
import pytest

from data_builders.mouse_behavior import mouse_behavior_dataset_builder as mb
from mouseflax import build_data
from mouseflax import preprocess
from mouseflax import synthetic

MPEG_HW = (48, 64)  # (height, width) of the test MPEG-1 clips.


def test_strided_windows_take_every_stride_th_frame_without_overlap():
  windows = build_data.strided_windows(100, length=8, stride=5, hop=40)
  np.testing.assert_array_equal(windows[:, 0], [0, 40])  # 80 + 35 > 99: no third window.
  assert (np.diff(windows, axis=1) == 5).all()
  assert build_data.strided_windows(35, length=8, stride=5, hop=40).shape == (0, 8)
  np.testing.assert_array_equal(
      build_data.strided_windows(36, length=8, stride=5, hop=40), [np.arange(0, 36, 5)]
  )
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


def write_mpeg1(path: pathlib.Path, num_frames: int) -> pathlib.Path:
  """A moving-texture MPEG-1 program stream, as cv2 writes the home-cage videos ('PIM1' .mpg)."""
  rng = np.random.default_rng(0)
  base = cv2.GaussianBlur(rng.integers(0, 256, (MPEG_HW[0], MPEG_HW[1], 3), np.uint8), (7, 7), 2)
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"PIM1"), 30.0, MPEG_HW[::-1])
  for t in range(num_frames):
    writer.write(np.roll(base, t, axis=1))
  writer.release()
  return path


def test_preprocess_videos_keeps_every_frame_of_an_mpeg1_stream(tmp_path):
  # The container's count is short for cv2-written .mpg files; the arrays must hold every frame.
  num_frames = 120
  path = write_mpeg1(tmp_path / "cage.mpg", num_frames)
  cfg = preprocess.PreprocessConfig()
  arrays = build_data.preprocess_videos(
      [build_data.VideoJob("cage", str(path))], cfg.to_dict(), cache_dir=tmp_path / "cache"
  )
  gray, flow = arrays["cage"]
  assert gray.shape == (num_frames, 24, 32, 1) and flow.shape == (num_frames, 24, 32, 2)
  assert flow.dtype == build_data.FLOW_DTYPE
  expected = list(preprocess.preprocess_video(path, cfg))
  np.testing.assert_array_equal(gray, np.stack([g for _, g, _ in expected]))
  np.testing.assert_array_equal(flow, np.stack([f for _, _, f in expected]).astype(np.float16))
  assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
      "cage" + build_data.FLOW_SUFFIX,
      "cage" + build_data.GRAY_SUFFIX,
  ]  # No temporary left.


def test_preprocessing_memory_does_not_grow_with_the_video(tmp_path, monkeypatch):
  # Python-side peak (numpy allocations are traced) must stay far below the video's arrays: frames
  # stream to disk in chunks instead of piling up in lists that are then stacked.
  num_frames, chunk = 1200, 32
  path = write_mpeg1(tmp_path / "long.mpg", num_frames)
  monkeypatch.setattr(build_data, "WRITE_CHUNK_FRAMES", chunk)
  monkeypatch.setattr(build_data, "COPY_BUFFER_BYTES", chunk * 2**10)
  job = (
      build_data.VideoJob("long", str(path)),
      preprocess.PreprocessConfig().to_dict(),
      str(tmp_path),
  )
  tracemalloc.start()
  try:
    _, frames, _ = build_data._preprocess_job(job)  # pylint: disable=protected-access
    peak = tracemalloc.get_traced_memory()[1]
  finally:
    tracemalloc.stop()
  assert frames == num_frames
  stored = sum(
      (tmp_path / ("long" + suffix)).stat().st_size
      for suffix in (build_data.GRAY_SUFFIX, build_data.FLOW_SUFFIX)
  )
  assert peak < stored / 4, f"peak {peak} B while preprocessing {stored} B of arrays"


def run_cli(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run(
      [sys.executable, "-m", "mouseflax.build_data", *args],
      capture_output=True,
      text=True,
      check=False,
  )


def test_cli_missing_manual_dir_names_expected_files(tmp_path):
  result = run_cli(
      "--dataset=mouse_behavior/hang",
      f"--manual_dir={tmp_path / 'nowhere'}",
      f"--data_dir={tmp_path / 'data'}",
  )
  assert result.returncode != 0
  assert "Annotator_group_1" in result.stderr and "nowhere" in result.stderr


def test_cli_parallel_build_equals_in_process_build(tmp_path):
  raw = synthetic.write_home_cage(
      tmp_path / "raw", seed=0, num_videos=3, frames_per_video=120, width=160, height=120
  )
  # Video overrides on the command line give a hashed config; the same one is built in process.
  result = run_cli(
      "--dataset=mouse_behavior/groom",
      f"--manual_dir={raw}",
      f"--data_dir={tmp_path / 'cli'}",
      "--num_workers=2",
      "--test_video=synth_cage_03",
      "--train_videos=synth_cage_01,synth_cage_02",
  )
  assert result.returncode == 0, result.stderr[-2000:]
  assert "Preprocessed 3/3 videos" in result.stderr  # The progress log.
  config = mb.make_config(
      "groom", test_video="synth_cage_03", train_videos=("synth_cage_01", "synth_cage_02")
  )
  builder = build_data.build(
      "mouse_behavior", manual_dir=raw, data_dir=tmp_path / "local", config=config
  )
  assert builder.info.metadata["test_video"] == "synth_cage_03"
  local = sorted(pathlib.Path(builder.data_dir).glob("*.array_record*"))
  cli_dir = tmp_path / "cli" / "mouse_behavior" / config.name / str(mb.Builder.VERSION)
  cli = sorted(cli_dir.glob("*.array_record*"))
  assert [p.name for p in local] == [p.name for p in cli] and local
  for a, b in zip(local, cli):
    assert a.read_bytes() == b.read_bytes(), a.name
