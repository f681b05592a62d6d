"""Index maths: which frames form a window, which windows form a split, which rows form a batch.

The builders cut videos into windows with `strided_windows` (training) and `covering_windows`
(every frame, as scored), and hold validation out by time with `hold_out_by_time` (the end of each
training video, a gap, covering windows); `mouseflax.score` uses the `covering_windows` rule while
it streams; the trainer and the evaluator batch a split with `padded_batches`. Pure numpy, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
import dataclasses

import numpy as np


def strided_windows(num_frames: int, *, length: int, stride: int, hop: int) -> np.ndarray:
  """Frame indices [K, length] of windows taking every `stride`-th frame, starts `hop` apart.

  With hop = length * stride the windows do not overlap (the paper's training sequences).
  """
  if min(length, stride, hop) < 1:
    raise ValueError(f"length, stride and hop must be >= 1, got {length}, {stride}, {hop}.")
  starts = np.arange(0, num_frames - window_span(length, stride) + 1, hop, dtype=np.int64)
  return starts[:, None] + stride * np.arange(length, dtype=np.int64)[None, :]


def covering_windows(num_frames: int, *, length: int) -> np.ndarray:
  """Consecutive non-overlapping windows [K, length] covering every frame of [0, num_frames).

  A tail that does not fill a window is covered by one last window aligned to the end, so its first
  frames appear twice (the evaluator averages per frame).
  """
  if num_frames < length:
    raise ValueError(f"Cannot cover {num_frames} frames with windows of {length} frames.")
  starts = list(range(0, num_frames - length + 1, length))
  if starts[-1] + length < num_frames:
    starts.append(num_frames - length)
  return np.asarray(starts, np.int64)[:, None] + np.arange(length, dtype=np.int64)[None, :]


@dataclasses.dataclass(frozen=True)
class TimeSplit:
  """One video cut by time: training windows first, a gap, then the validation block."""

  train: np.ndarray  # [K, length] frame indices of the training windows (strided).
  validation: np.ndarray  # [M, length] consecutive windows covering [validation_start, stop).
  train_stop: int  # One past the last frame a training window may use.
  validation_start: int  # First frame of the validation block.


def window_span(length: int, stride: int) -> int:
  """Frames from the first to the last frame of a strided window, both included."""
  return (length - 1) * stride + 1


def hold_out_by_time(
    num_frames: int, *, validation_fraction: float, length: int, stride: int, hop: int
) -> TimeSplit:
  """Validation = the last `validation_fraction` of the frames, a block held out the way test is.

  The block [V, num_frames), V = num_frames - round(validation_fraction * num_frames), is cut into
  `covering_windows` (every frame, as the test split and `mouseflax.score` cut a video). Training
  windows (`strided_windows`) use only frames [0, V - span), span = one training window's span, so
  at least a window's span of frames separates the last training frame from the first validation
  frame: no training window is adjacent to the validation block. validation_fraction = 0 gives no
  validation and training windows over the whole video.
  """
  if not 0.0 <= validation_fraction < 1.0:
    raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}.")
  num_validation = int(round(validation_fraction * num_frames))
  validation_start = num_frames - num_validation
  if num_validation:
    if num_validation < length:
      raise ValueError(
          f"The validation block of {num_frames} frames x {validation_fraction} = "
          f"{num_validation} frames is shorter than one window ({length} frames)."
      )
    validation = validation_start + covering_windows(num_validation, length=length)
    train_stop = max(validation_start - window_span(length, stride), 0)
  else:
    validation = np.zeros((0, length), np.int64)
    train_stop = num_frames
  train = strided_windows(train_stop, length=length, stride=stride, hop=hop)
  return TimeSplit(train, validation, train_stop, validation_start)


def padded_batches(
    arrays: Mapping[str, np.ndarray], batch_size: int, keys: Sequence[str] | None = None
) -> Iterator[tuple[dict[str, np.ndarray], int]]:
  """Yields (batch, count): rows in order, every batch `batch_size` rows, `count` of them real.

  The last batch repeats its last real row to fill up, so a jitted function sees one shape and
  compiles once; the caller drops (or masks) the rows from `count` on.

  Args:
    arrays: equally long arrays (numpy or memory-mapped), e.g. a split as loaded.
    batch_size: rows per batch (> 0).
    keys: the fields to batch (default: all).
  """
  if batch_size <= 0:
    raise ValueError(f"batch_size must be positive, got {batch_size}.")
  keys = list(arrays) if keys is None else list(keys)
  num = len(arrays[keys[0]])
  for start in range(0, num, batch_size):
    index = np.minimum(np.arange(start, start + batch_size), num - 1)
    yield {k: np.asarray(arrays[k][index]) for k in keys}, min(batch_size, num - start)
