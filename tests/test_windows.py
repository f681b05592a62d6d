"""mouseflax.windows: strided and covering windows, the train/validation split, padded batches."""

import numpy as np
import pytest

from mouseflax import windows


def test_strided_windows_take_every_stride_th_frame_without_overlap():
  strided = windows.strided_windows(100, length=8, stride=5, hop=40)
  np.testing.assert_array_equal(strided[:, 0], [0, 40])  # 80 + 35 > 99: no third window.
  assert (np.diff(strided, axis=1) == 5).all()
  assert windows.strided_windows(35, length=8, stride=5, hop=40).shape == (0, 8)
  np.testing.assert_array_equal(
      windows.strided_windows(36, length=8, stride=5, hop=40), [np.arange(0, 36, 5)]
  )
  with pytest.raises(ValueError, match="stride"):
    windows.strided_windows(100, length=8, stride=0, hop=40)


def test_covering_windows_cover_every_frame_with_an_end_aligned_tail():
  covering = windows.covering_windows(20, length=8)
  np.testing.assert_array_equal(covering[:, 0], [0, 8, 12])
  np.testing.assert_array_equal(np.unique(covering), np.arange(20))
  np.testing.assert_array_equal(windows.covering_windows(16, length=8)[:, 0], [0, 8])
  with pytest.raises(ValueError, match="Cannot cover"):
    windows.covering_windows(7, length=8)


def test_split_is_deterministic_disjoint_and_exact():
  train, validation = windows.split_train_validation(50, validation_fraction=0.2, seed=0)
  again = windows.split_train_validation(50, validation_fraction=0.2, seed=0)
  np.testing.assert_array_equal(train, again[0])
  assert len(validation) == 10 and not set(train) & set(validation)
  np.testing.assert_array_equal(np.sort(np.concatenate([train, validation])), np.arange(50))
  other = windows.split_train_validation(50, validation_fraction=0.2, seed=1)[1]
  assert not np.array_equal(validation, other)


def test_padded_batches_are_full_size_and_repeat_the_last_real_row():
  arrays = {"x": np.arange(7) * 10, "y": np.arange(7)[:, None].repeat(2, axis=1)}
  batches = list(windows.padded_batches(arrays, 3))
  assert [count for _, count in batches] == [3, 3, 1]
  assert all(batch["x"].shape == (3,) and batch["y"].shape == (3, 2) for batch, _ in batches)
  np.testing.assert_array_equal(np.concatenate([b["x"][:c] for b, c in batches]), arrays["x"])
  np.testing.assert_array_equal(batches[-1][0]["x"], [60, 60, 60])
  (only_x, _), *_ = windows.padded_batches(arrays, 4, keys=["x"])
  assert set(only_x) == {"x"}
  with pytest.raises(ValueError, match="batch_size"):
    next(windows.padded_batches(arrays, 0))
