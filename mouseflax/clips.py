"""Short video clips that every browser plays: VP8 in WebM, written atomically.

Used by the review page of `mouseflax.score` (a clip around each top flagged segment) and by
`mouseflax.monitor` (a clip of each live event). Why VP8/WebM: the pip OpenCV wheels cannot encode
H.264 (no licensed encoder), while their FFmpeg has libvpx, and VP8/VP9 in WebM play in Chrome,
Firefox, Safari and Edge. VP8 rather than VP9: on a 2-core CPU OpenCV's VP9 encodes 640x480 at
~22 frames/s, VP8 at ~150 (a synthetic scene, measured 2026-12-02). On real cage video VP8 is
slower (640x480 frames of the open-field recording scaled to 480x360: 40-65 frames/s; to 320x240:
140-180 frames/s, under load 4 of other jobs), and OpenCV's writer ignores libvpx's speed options
(OPENCV_FFMPEG_WRITER_OPTIONS has no effect on this encoder), so frames wider than `MAX_WIDTH_PX`
are scaled down first: a page shows clips small, and the monitor's ring buffer of frames costs less.
OpenCV prints one harmless notice per clip ("tag 0x30385056/'VP80' is not supported with codec id
139 and format 'webm / WebM'"): WebM declares no codec tags, and it writes the right stream anyway.
"""

from __future__ import annotations

import contextlib
import pathlib
import queue
import tempfile
import threading

import cv2
import numpy as np

from mouseflax import fileio

FOURCC = "VP80"
SUFFIX = ".webm"
MAX_WIDTH_PX = 320
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


class BackgroundClipWriter:
  """A ClipWriter in its own thread, so encoding (slow: module docstring) does not hold up the
  caller, and several clips encode at once on several cores.

  `write` queues a frame: with `block`, it waits while `max_queued` frames are waiting; without, the
  frame is left out (counted in `left_out`; the monitor must not fall behind its camera).
  `close()` ends the clip; `join()` waits for it and returns the error that stopped it, if any.
  """

  _END = None

  def __init__(
      self,
      path: str | pathlib.Path,
      fps: float,
      frame_size: tuple[int, int],
      max_queued: int,
      block: bool,
  ):
    self.path = pathlib.Path(path)
    self.block = block
    self.left_out = 0
    self.error: BaseException | None = None
    self._frames: queue.Queue = queue.Queue(max(1, max_queued))
    self._thread = threading.Thread(
        target=self._run, args=(fps, frame_size), name="mouseflax-clip", daemon=True
    )
    self._thread.start()

  def write(self, frame: np.ndarray) -> None:
    if self.block:
      self._frames.put(frame)
      return
    try:
      self._frames.put_nowait(frame)
    except queue.Full:
      self.left_out += 1

  def _run(self, fps: float, frame_size: tuple[int, int]) -> None:
    try:
      with ClipWriter(self.path, fps, frame_size) as writer:
        while (frame := self._frames.get()) is not self._END:
          writer.write(frame)
    except (OSError, ClipEncoderError) as e:
      self.error = e
      while self._frames.get() is not self._END:  # Keep the writers of frames from blocking.
        pass

  def close(self) -> None:
    """Ends the clip (the frames queued are still written)."""
    self._frames.put(self._END)

  def join(self, timeout: float | None = None) -> BaseException | None:
    self._thread.join(timeout)
    return self.error

  def is_alive(self) -> bool:
    return self._thread.is_alive()
