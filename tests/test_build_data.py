"""build_data (names, the CLI, a parallel build) and the builders' shared machinery."""

import pathlib
import subprocess
import sys
import tracemalloc

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np
import pytest

from data_builders import video_builder
from data_builders import video_cache
from data_builders.mouse_behavior import mouse_behavior_dataset_builder as mb
from mouseflax import build_data
from mouseflax import preprocess
from mouseflax import streams
from mouseflax import synthetic

MPEG_HW = (48, 64)  # (height, width) of the test MPEG-1 clips.
MPEG_FPS = 30.0


def test_empty_splits_are_named():
  video_builder.check_not_empty({"train": [1], "test": [2]}, "d", "fix")
  with pytest.raises(ValueError, match=r"\['validation'\].*fix"):
    video_builder.check_not_empty({"train": [1], "validation": []}, "d", "fix")


def test_parse_dataset_and_unknown_names():
  assert build_data.parse_dataset("mouse_behavior/hang") == ("mouse_behavior", "hang")
  assert build_data.parse_dataset("cuhk_avenue") == ("cuhk_avenue", None)
  with pytest.raises(ValueError, match="mouse_behavior"):
    build_data.builder_module("ucf101")


def write_mpeg1(path: pathlib.Path, num_frames: int) -> pathlib.Path:
  """A moving-texture MPEG-1 program stream, as cv2 writes the home-cage videos ('PIM1' .mpg)."""
  frames = fakes.rolling_texture(num_frames, *MPEG_HW)
  return fakes.write_video(path, frames, "PIM1", MPEG_FPS)


def test_preprocess_videos_keeps_every_frame_of_an_mpeg1_stream(tmp_path):
  # The container's count is short for cv2-written .mpg files; the arrays must hold every frame.
  num_frames = 120
  path = write_mpeg1(tmp_path / "cage.mpg", num_frames)
  cfg = preprocess.PreprocessConfig()
  arrays = video_cache.preprocess_videos(
      [video_cache.VideoJob("cage", str(path))], cfg.to_dict(), cache_dir=tmp_path / "cache"
  )
  gray, flow = arrays["cage"]
  assert gray.shape == (num_frames, 24, 32, 1) and flow.shape == (num_frames, 24, 32, 2)
  assert flow.dtype == streams.FLOW_DTYPE
  expected = list(preprocess.preprocess_video(path, cfg))
  np.testing.assert_array_equal(gray, np.stack([g for _, g, _ in expected]))
  np.testing.assert_array_equal(flow, np.stack([f for _, _, f in expected]).astype(np.float16))
  assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
      "cage" + video_cache.FLOW_SUFFIX,
      "cage" + video_cache.GRAY_SUFFIX,
  ]  # No temporary left.


def test_preprocessing_memory_does_not_grow_with_the_video(tmp_path, monkeypatch):
  # Python-side peak (numpy allocations are traced) must stay far below the video's arrays: frames
  # stream to disk in chunks instead of piling up in lists that are then stacked.
  num_frames, chunk = 1200, 32
  path = write_mpeg1(tmp_path / "long.mpg", num_frames)
  monkeypatch.setattr(video_cache, "WRITE_CHUNK_FRAMES", chunk)
  monkeypatch.setattr(video_cache, "COPY_BUFFER_BYTES", chunk * 2**10)
  job = video_cache.VideoJob("long", str(path))
  tracemalloc.start()
  try:
    arrays = video_cache.preprocess_videos(
        [job], preprocess.PreprocessConfig().to_dict(), cache_dir=tmp_path
    )
    peak = tracemalloc.get_traced_memory()[1]
  finally:
    tracemalloc.stop()
  assert len(arrays["long"][0]) == num_frames
  stored = sum(
      (tmp_path / ("long" + suffix)).stat().st_size
      for suffix in (video_cache.GRAY_SUFFIX, video_cache.FLOW_SUFFIX)
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
  assert "Preprocessed 3/3 chunks" in result.stderr  # The progress log (.mpg: one chunk each).
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
