"""Short video clips that every browser plays: VP8 in WebM, written atomically.

Used by the review page of `mouseflax.score` (a clip around each top flagged segment) and by
`mouseflax.monitor` (a clip of each live event). Why VP8/WebM: the pip OpenCV wheels cannot encode
H.264 (no licensed encoder), while their FFmpeg has libvpx, and VP8/VP9 in WebM play in Chrome,
Firefox, Safari and Edge. VP8 rather than VP9: on a 2-core CPU OpenCV's VP9 encodes 640x480 at
~22 frames/s, slower than a camera, while VP8 encodes it at ~150 frames/s (measured 2026-12-02).
Frames wider than `MAX_WIDTH_PX` are scaled down first (a page shows clips small; encoding and the
monitor's ring buffer of frames cost less).
"""

from __future__ import annotations

import contextlib
import pathlib
import tempfile

import cv2
import numpy as np

from mouseflax import fileio

FOURCC = "VP80"
SUFFIX = ".webm"
MAX_WIDTH_PX = 480
# libvpx works on whole 2x2 chroma blocks: even sizes avoid a padded, shifted picture.
SIZE_MULTIPLE = 2


class ClipEncoderError(RuntimeError):
  """This OpenCV build cannot encode WebM (no libvpx in its FFmpeg)."""


def clip_size(width: int, height: int) -> tuple[int, int]:
  """(width, height) of a clip of width x height frames: at most MAX_WIDTH_PX wide, even sizes."""
  scale = min(1.0, MAX_WIDTH_PX / width)
  even = lambda v: max(SIZE_MULTIPLE, int(round(v * scale)) // SIZE_MULTIPLE * SIZE_MULTIPLE)
  return even(width), even(height)


def fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  """A BGR (or gray) frame resized to `size` (width, height) when it is not that size already."""
  if frame.ndim == 2:
    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
  if (frame.shape[1], frame.shape[0]) == size:
    return frame
  return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


class _Aborted(Exception):
  """Thrown into the atomic write to make it discard the temporary file."""


class ClipWriter:
  """Writes BGR frames to `path` (a .webm) through a temporary sibling, renamed on `close()`.

  `abort()` (or an exception inside a `with` block) removes the temporary file: no half-written
  clip is ever seen at `path`.
  """

  def __init__(self, path: str | pathlib.Path, fps: float, frame_size: tuple[int, int]):
    """`frame_size` is the (width, height) of the frames given; the clip's is `clip_size` of it."""
    self.path = pathlib.Path(path)
    self.size = clip_size(*frame_size)
    self.frames = 0
    self._stack = contextlib.ExitStack()
    tmp = self._stack.enter_context(fileio.atomic_path(self.path))
    self._writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*FOURCC), fps, self.size)
    if not self._writer.isOpened():
      self.abort()
      raise ClipEncoderError(
          f"Cannot write {self.path}: this OpenCV has no {FOURCC} (WebM) encoder. Install "
          "opencv-python-headless from PyPI (its FFmpeg includes libvpx)."
      )

  def write(self, frame: np.ndarray) -> None:
    self._writer.write(fit(frame, self.size))
    self.frames += 1

  def close(self) -> pathlib.Path:
    """Finishes the file and renames it onto `path`."""
    self._writer.release()
    self._stack.close()
    return self.path

  def abort(self) -> None:
    """Stops writing and removes the temporary file; nothing appears at `path`."""
    self._writer.release()
    self._stack.__exit__(_Aborted, _Aborted(), None)

  def __enter__(self) -> ClipWriter:
    return self

  def __exit__(self, exc_type, exc, tb) -> None:
    if exc_type is None:
      self.close()
    else:
      self.abort()


def encoder_available() -> bool:
  """Whether this OpenCV can write clips (probed with a one-frame clip in a temporary folder)."""
  with tempfile.TemporaryDirectory(prefix="mouseflax-clip-probe-") as tmp:
    try:
      with ClipWriter(pathlib.Path(tmp) / f"probe{SUFFIX}", 1.0, (16, 16)) as clip:
        clip.write(np.zeros((16, 16, 3), np.uint8))
    except ClipEncoderError:
      return False
  return True
