"""Tests for mouseflax.video: probing, streaming decode, luma path, and loud failures."""

import inspect
import logging
import pathlib

import cv2
import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np
import pytest

from mouseflax import video

WIDTH, HEIGHT, NUM_FRAMES, FPS = 64, 48, 40, fakes.VIDEO_FPS
# Mean |luma - BGR->gray| allowed; chroma subsampling and rounding give ~1 level on colour noise.
LUMA_TOLERANCE = 1.5


def smooth_colour_frames(num_frames: int = NUM_FRAMES, seed: int = 0) -> list[np.ndarray]:
  return fakes.rolling_texture(num_frames, HEIGHT, WIDTH, seed)


@pytest.fixture
def clip(tmp_path) -> pathlib.Path:
  return fakes.write_video(tmp_path / "clip.avi", smooth_colour_frames())


def test_probe_reads_the_file(clip):
  info = video.probe(clip)
  assert (info.width, info.height, info.num_frames) == (WIDTH, HEIGHT, NUM_FRAMES)
  assert info.fps == pytest.approx(FPS)


def test_iter_is_a_streaming_generator(clip):
  # Constant memory by design: frames are produced lazily, one at a time.
  frames = video.iter_gray_frames(clip)
  assert inspect.isgenerator(frames)
  first = next(frames)
  assert first.dtype == np.uint8 and first.shape == (HEIGHT, WIDTH)
  assert sum(1 for _ in frames) == NUM_FRAMES - 1


@pytest.mark.parametrize("fourcc,suffix", [("MJPG", ".avi"), ("mp4v", ".mp4")])
def test_luma_path_matches_bgr_to_gray(tmp_path, fourcc, suffix):
  path = fakes.write_video(tmp_path / f"v{suffix}", smooth_colour_frames(8), fourcc)
  mode = video.gray_mode(path)
  assert mode in (video.GRAY_MODE_LUMA, video.GRAY_MODE_LUMA_LIMITED)
  luma = np.stack(list(video.iter_gray_frames(path, mode=mode))).astype(np.float32)
  bgr = np.stack(list(video.iter_gray_frames(path, mode=video.GRAY_MODE_BGR))).astype(np.float32)
  assert np.abs(luma - bgr).mean() < LUMA_TOLERANCE


def test_real_video_luma_matches_bgr(real_video):
  mode = video.gray_mode(real_video)
  assert mode != video.GRAY_MODE_BGR
  luma = next(video.iter_gray_frames(real_video, mode=mode)).astype(np.float32)
  bgr = next(video.iter_gray_frames(real_video, mode=video.GRAY_MODE_BGR)).astype(np.float32)
  assert np.abs(luma - bgr).mean() < LUMA_TOLERANCE
  info = video.probe(real_video)
  assert (info.width, info.height, info.num_frames) == (640, 480, 2330)


def test_mpeg1_program_stream_frames_are_all_counted_and_decoded(tmp_path):
  # OpenCV's container estimate for a 'PIM1' .mpg is short (119 for 120 frames): decoding must not
  # stop there, and probe must report the decodable count.
  num_frames = 120
  path = fakes.write_video(tmp_path / "cage.mpg", smooth_colour_frames(num_frames), "PIM1")
  estimate = int(cv2.VideoCapture(str(path), cv2.CAP_FFMPEG).get(cv2.CAP_PROP_FRAME_COUNT))
  assert estimate < num_frames, "the short container estimate this test guards against is gone"
  assert video.probe(path).num_frames == num_frames
  frames = list(video.iter_gray_frames(path))
  assert len(frames) == num_frames
  np.testing.assert_array_equal(
      list(video.iter_gray_frames(path, start=num_frames - 2))[-1], frames[-1]
  )
  assert len(list(video.iter_gray_frames(path, start=100, stop=num_frames))) == 20


def test_start_stop_equals_slice_of_full_decode(tmp_path):
  path = fakes.write_video(tmp_path / "v.mp4", smooth_colour_frames(), "mp4v")
  full = list(video.iter_gray_frames(path))
  part = list(video.iter_gray_frames(path, start=17, stop=23))
  assert len(part) == 6
  for a, b in zip(full[17:23], part):
    np.testing.assert_array_equal(a, b)


def test_missing_and_non_video_files_raise(tmp_path):
  with pytest.raises(video.VideoError, match="not found"):
    video.probe(tmp_path / "absent.mp4")
  text = tmp_path / "notes.mp4"
  text.write_text("not a video\n")
  with pytest.raises(video.VideoError, match=r"notes\.mp4"):
    list(video.iter_gray_frames(text))


def test_empty_video_raises(tmp_path):
  path = tmp_path / "empty.avi"
  cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT)).release()
  with pytest.raises(video.VideoError, match=r"empty\.avi"):
    video.probe(path)


def _truncate(src: pathlib.Path, dst: pathlib.Path, fraction: float) -> pathlib.Path:
  data = src.read_bytes()
  dst.write_bytes(data[: int(len(data) * fraction)])
  return dst


def test_truncated_video_raises(clip, tmp_path):
  path = _truncate(clip, tmp_path / "half.avi", 0.5)
  with pytest.raises(video.VideoError, match=r"half\.avi.*truncated"):
    list(video.iter_gray_frames(path))


def test_few_missing_trailing_frames_warn(clip, tmp_path, caplog):
  path = _truncate(clip, tmp_path / "tail.avi", 0.94)
  with caplog.at_level(logging.WARNING):
    frames = list(video.iter_gray_frames(path))
  assert NUM_FRAMES - video.MAX_MISSING_FRAMES <= len(frames) < NUM_FRAMES
  assert "missing" in caplog.text and "tail.avi" in caplog.text


def test_video_files_are_found_by_suffix_hidden_ones_skipped(tmp_path):
  for name in ("a.webm", "b.MP4", "c.mpg", "notes.txt", "._d.mpg"):
    (tmp_path / name).write_bytes(b"")
  (tmp_path / "e.avi").mkdir()  # A folder with a video's suffix is no video.
  found = sorted(p.name for p in tmp_path.iterdir() if video.is_video_file(p))
  assert found == ["a.webm", "b.MP4", "c.mpg"]
  assert all(s == s.lower() and s.startswith(".") for s in video.VIDEO_SUFFIXES)
