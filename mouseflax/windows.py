"""Index maths: which frames form a window, which windows form a split, which rows form a batch.

The builders cut videos into windows with `strided_windows` (training) and `covering_windows`
(every frame, as scored), split them with `split_train_validation`; `mouseflax.score` uses the
`covering_windows` rule while it streams; the trainer and the evaluator batch a split with
`padded_batches`. Pure numpy, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np


def strided_windows(num_frames: int, *, length: int, stride: int, hop: int) -> np.ndarray:
  """Frame indices [K, length] of windows taking every `stride`-th frame, starts `hop` apart.

  With hop = length * stride the windows do not overlap (the paper's training sequences).
  """
  if min(length, stride, hop) < 1:
    raise ValueError(f"length, stride and hop must be >= 1, got {length}, {stride}, {hop}.")
  span = (length - 1) * stride + 1
  starts = np.arange(0, num_frames - span + 1, hop, dtype=np.int64)
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


def split_train_validation(
    num_examples: int, *, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
  """A deterministic split of range(num_examples): (train, validation) sorted index arrays."""
  if not 0.0 <= validation_fraction < 1.0:
    raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}.")
  order = np.random.default_rng(seed).permutation(num_examples)
  num_validation = int(round(num_examples * validation_fraction))
  return np.sort(order[num_validation:]), np.sort(order[:num_validation])


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
