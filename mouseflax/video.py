"""Streaming grayscale video decoding with OpenCV's FFmpeg backend, and what counts as a video.

`iter_gray_frames` yields one uint8 [height, width] frame at a time, so memory does not grow with
the length of a recording (a one-hour home-cage video never sits in memory). `VIDEO_SUFFIXES` and
`is_video_file` decide which files every dataset finder takes for videos.

Grayscale comes straight from the decoded luma (Y) plane when possible: with
`CAP_PROP_CONVERT_RGB=0`, OpenCV 5.0's FFmpeg backend returns the first plane of a planar YUV frame
as 8UC1 instead of converting it to BGR, which skips the YUV->BGR conversion and the BGR->gray step.
(In 5.0, `CAP_PROP_FORMAT=-1` returns the *undecoded* packet, not raw planes, so it is not used.)
The Y plane is not always what BGR->gray gives:

- limited-range ("TV", Y in [16, 235]) streams are expanded to [0, 255] with a LUT, as the BGR
  conversion does; full-range streams (e.g. MJPEG, yuvj420p) are used as they are;
- streams that are not planar YUV (FFV1 as BGRA, 16-bit gray, ...) cannot be read this way.

Which case applies is not reliably exposed by OpenCV (MJPEG reports `I420` like MPEG-4), so
`gray_mode(path)` decides it from the data: it decodes frame 0 both ways and keeps the luma variant
that matches BGR->gray within `LUMA_MATCH_TOLERANCE` grey levels, else falls back to BGR->gray.

Frame counts: the container's count (`CAP_PROP_FRAME_COUNT`) is an estimate for some containers:
on MPEG-1 program streams written by OpenCV ('PIM1' .mpg) it is one to ten frames short (119 for
120 decodable frames, 890 for 900). So `iter_gray_frames` never stops at that count: it decodes to
the end of the stream (or to `stop`), and `probe` counts frames by demuxing them (`grab()`, ~30,000
frames/s at 160x120) for the containers in `ESTIMATED_COUNT_SUFFIXES` and whenever no count is
stored.

Truncated or corrupt files: when decoding ends FEWER frames than the container claims, a few missing
trailing frames only log a warning. More than `max(MAX_MISSING_FRAMES, MAX_MISSING_FRACTION *
num_frames)` missing frames, or no decodable frame at all, raise `VideoError` naming the file. More
frames than claimed is not an error (the estimate was short).
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import dataclasses
import os
import pathlib

from absl import logging
import cv2
import numpy as np

from mouseflax import streams

# Container suffixes of the files taken for videos (lower case), by every finder of every dataset.
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v", ".wmv", ".webm")

# Mean absolute difference (grey levels) between the luma path and BGR->gray on frame 0 below which
# the luma path is used. Chroma subsampling and rounding give ~1 level on colourful content.
LUMA_MATCH_TOLERANCE = 2.0
# Limited-range ("TV") luma: black at 16, white at 235.
LIMITED_RANGE_BLACK = 16
LIMITED_RANGE_WHITE = 235
# Missing trailing frames tolerated (warning, not error): container counts can be estimates.
MAX_MISSING_FRAMES = 3
MAX_MISSING_FRACTION = 0.005
# Containers whose stored frame count is an estimate (MPEG program/transport streams): `probe`
# counts their frames by demuxing them instead.
ESTIMATED_COUNT_SUFFIXES = frozenset({".mpg", ".mpeg", ".vob", ".ts"})

GRAY_MODE_LUMA = "luma"  # Y plane as decoded (full range).
GRAY_MODE_LUMA_LIMITED = "luma_limited"  # Y plane expanded from [16, 235] to [0, 255].
GRAY_MODE_BGR = "bgr"  # Decode to BGR, then cv2.cvtColor(BGR2GRAY).
GRAY_MODES = (GRAY_MODE_LUMA, GRAY_MODE_LUMA_LIMITED, GRAY_MODE_BGR)

_FIX_HINT = "check that the file is a complete video that ffmpeg/ffprobe can play"


class VideoError(ValueError):
  """An unreadable, non-video, empty or truncated video file; the message names the path."""


class StartPastEndError(VideoError):
  """A requested first frame lies past the end of the stream (a chunk after a short video's end)."""


class VideoNotFoundError(VideoError, FileNotFoundError):
  """The video file does not exist."""


def is_video_file(path: str | os.PathLike[str]) -> bool:
  """A file whose suffix is in VIDEO_SUFFIXES and that is not hidden (macOS `._x.mpg` forks)."""
  path = pathlib.Path(path)
  return path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".") and path.is_file()


@dataclasses.dataclass(frozen=True)
class VideoInfo:
  """Size, rate and length of a video, as read from the file itself."""

  path: pathlib.Path
  width: int
  height: int
  fps: float
  num_frames: int


def _limited_to_full_range_lut() -> np.ndarray:
  levels = np.arange(streams.GRAY_LEVELS, dtype=np.float64)
  span = LIMITED_RANGE_WHITE - LIMITED_RANGE_BLACK
  full = (levels - LIMITED_RANGE_BLACK) * streams.GRAY_SCALE / span
  return np.clip(np.rint(full), 0, streams.GRAY_SCALE).astype(np.uint8)


_LIMITED_TO_FULL = _limited_to_full_range_lut()


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
  """Silences OpenCV's warnings on raw-plane capture ("use at your own risk", "treated as 8UC1").

  They repeat on every frame; `gray_mode()` checks the raw planes against BGR->gray instead.
  """
  previous_level = cv2.utils.logging.getLogLevel()
  cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
  try:
    yield
  finally:
    cv2.utils.logging.setLogLevel(previous_level)


def _read(cap: cv2.VideoCapture) -> np.ndarray | None:
  """Next decoded frame, or None at the end or on a decode failure."""
  with _quiet_opencv():
    ok, frame = cap.read()
  return frame if ok else None


def _open(path: pathlib.Path, *, convert_rgb: bool = True) -> cv2.VideoCapture:
  """Opens `path` with the FFmpeg backend or raises VideoError naming the file."""
  if path.is_dir():
    raise VideoError(f"{path} is a folder, not a video file: pass the path of a video.")
  if not path.is_file():
    raise VideoNotFoundError(f"Video file not found: {path}. Check the path (and manual_dir).")
  params = [] if convert_rgb else [cv2.CAP_PROP_CONVERT_RGB, 0]
  with _quiet_opencv():
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params)
  if not cap.isOpened():
    raise VideoError(f"Cannot open {path} as a video (not a video file, or corrupt): {_FIX_HINT}.")
  return cap


def _count_frames(cap: cv2.VideoCapture) -> int:
  """Counts frames by demuxing them, where the container stores no count or only an estimate."""
  count = 0
  while cap.grab():
    count += 1
  return count


def _probe(path: pathlib.Path, *, exact: bool) -> VideoInfo:
  """Size, rate and frame count; `exact=False` trusts the container's count (may be an estimate)."""
  cap = _open(path)
  try:
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    num_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if num_frames <= 0 or (exact and path.suffix.lower() in ESTIMATED_COUNT_SUFFIXES):
      num_frames = _count_frames(cap)
  finally:
    cap.release()
  if num_frames <= 0 or width <= 0 or height <= 0:
    raise VideoError(f"{path} contains no video frames: {_FIX_HINT}.")
  return VideoInfo(path=path, width=width, height=height, fps=fps, num_frames=num_frames)


def quick_probe(path: str | pathlib.Path) -> VideoInfo:
  """`probe` without demuxing: the container's count, maybe a few frames short (module doc)."""
  return _probe(pathlib.Path(path), exact=False)


def probe(path: str | pathlib.Path) -> VideoInfo:
  """Reads width, height, fps and the number of decodable frames of `path`.

  The count is the container's where it is exact; frames are counted by demuxing them where the
  container stores none or only an estimate (`ESTIMATED_COUNT_SUFFIXES`, module docstring).
  """
  return _probe(pathlib.Path(path), exact=True)


def _read_first_frame(path: pathlib.Path, convert_rgb: bool) -> np.ndarray:
  cap = _open(path, convert_rgb=convert_rgb)
  try:
    frame = _read(cap)
  finally:
    cap.release()
  if frame is None:
    raise VideoError(f"No frame of {path} can be decoded: {_FIX_HINT}.")
  return frame


def gray_mode(path: str | pathlib.Path) -> str:
  """Chooses how to get grayscale for `path` (one of GRAY_MODES) by comparing frame 0 both ways."""
  path = pathlib.Path(path)
  reference = cv2.cvtColor(_read_first_frame(path, convert_rgb=True), cv2.COLOR_BGR2GRAY)
  luma = _read_first_frame(path, convert_rgb=False)
  if luma.dtype != np.uint8 or luma.shape != reference.shape:
    return GRAY_MODE_BGR  # Not planar 8-bit YUV (e.g. BGRA, 16-bit gray).
  reference = reference.astype(np.float32)
  candidates = {GRAY_MODE_LUMA: luma, GRAY_MODE_LUMA_LIMITED: cv2.LUT(luma, _LIMITED_TO_FULL)}
  errors = {
      mode: float(np.mean(np.abs(y.astype(np.float32) - reference)))
      for mode, y in candidates.items()
  }
  best = min(errors, key=errors.get)
  return best if errors[best] <= LUMA_MATCH_TOLERANCE else GRAY_MODE_BGR


def _to_gray(frame: np.ndarray, mode: str) -> np.ndarray:
  if mode == GRAY_MODE_LUMA:
    return frame
  if mode == GRAY_MODE_LUMA_LIMITED:
    return cv2.LUT(frame, _LIMITED_TO_FULL)
  return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def _grab_to(cap: cv2.VideoCapture, start: int, path: pathlib.Path) -> None:
  """Restarts and skips frames one by one up to `start` (slow, but exact)."""
  cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
  for index in range(start):
    if not cap.grab():
      raise StartPastEndError(f"{path} ends at frame {index}, before the requested start {start}.")


def has_frame_index(path: str | pathlib.Path) -> bool:
  """Whether `seek` can jump to a frame directly; MPEG program/transport streams have no index.

  Measured on a 400-frame 'PIM1' .mpg: a frame seek lands one frame early on 6 of 57 targets while
  reporting the target, and after a seek the timestamps are off by one on 211 of 379 targets, so
  neither can be trusted: `seek` skips frames one by one from the start in these files.
  """
  return pathlib.Path(path).suffix.lower() not in ESTIMATED_COUNT_SUFFIXES


def seek(cap: cv2.VideoCapture, start: int, path: pathlib.Path) -> None:
  """Positions `cap` at frame `start` exactly (the next read returns frame `start`).

  Containers with a frame index seek directly (checked frame by frame: .mp4, .mov, .mkv, .avi with
  MPEG-4, MJPEG, FFV1); in the others (`has_frame_index`), or when the position read back is not
  `start`, frames are skipped one by one from the start.
  """
  if start == 0:
    return
  if not has_frame_index(path):
    _grab_to(cap, start, path)
    return
  cap.set(cv2.CAP_PROP_POS_FRAMES, start)
  if int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == start:
    return
  _grab_to(cap, start, path)


def _check_missing(path: pathlib.Path, end: int, claimed_end: int) -> None:
  """Applies the truncation rule when decoding ended (at frame `end`) before `claimed_end`."""
  missing = claimed_end - end
  if missing <= 0:
    return
  if end == 0:
    raise VideoError(f"No frame of {path} can be decoded: {_FIX_HINT}.")
  allowed = max(MAX_MISSING_FRAMES, int(MAX_MISSING_FRACTION * claimed_end))
  message = (
      f"{path}: the container claims frames up to {claimed_end - 1} but decoding stopped "
      f"after frame {end - 1} ({missing} missing)"
  )
  if missing > allowed:
    raise VideoError(f"{message}: the file is truncated or corrupt; {_FIX_HINT} or re-encode it.")
  logging.warning("%s; using the %d decodable frames.", message, end)


def iter_gray_frames(
    path: str | pathlib.Path, start: int = 0, stop: int | None = None, *, mode: str | None = None
) -> Iterator[np.ndarray]:
  """Yields uint8 [height, width] grayscale frames start..stop-1 of `path`, one at a time.

  Decoding goes on to the end of the stream (or `stop`), past the container's frame count when that
  is a short estimate; the count only serves the truncation check (module docstring).

  Args:
    path: any container OpenCV's FFmpeg backend reads.
    start: first frame index (0-based).
    stop: one past the last frame index; None = to the end of the stream.
    mode: one of GRAY_MODES; None chooses with `gray_mode(path)` (luma plane when it matches).

  Raises:
    VideoError: missing, non-video, empty or truncated file (see the module docstring's rule).
  """
  path = pathlib.Path(path)
  claimed = _probe(path, exact=False).num_frames
  if start < 0 or (stop is not None and start > stop):
    raise ValueError(f"Invalid frame range [{start}, {stop}) for {path} (about {claimed} frames).")
  mode = gray_mode(path) if mode is None else mode
  if mode not in GRAY_MODES:
    raise ValueError(f"Unknown gray mode {mode!r}; choose one of {GRAY_MODES}.")
  cap = _open(path, convert_rgb=mode == GRAY_MODE_BGR)
  index = start
  try:
    seek(cap, start, path)
    while stop is None or index < stop:
      frame = _read(cap)
      if frame is None:
        break
      index += 1
      yield _to_gray(frame, mode)
  finally:
    cap.release()
  _check_missing(path, index, claimed if stop is None else min(stop, claimed))
