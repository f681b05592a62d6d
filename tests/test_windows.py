"""mouseflax.windows: strided and covering windows, validation held out by time, padded batches."""

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


@pytest.mark.parametrize(
    "num_frames, fraction, stride, hop", [(1000, 0.2, 5, 40), (958, 0.2, 1, 4), (300, 0.3, 5, 4)]
)
def test_validation_held_out_by_time_never_touches_training(num_frames, fraction, stride, hop):
  cut = windows.hold_out_by_time(
      num_frames, validation_fraction=fraction, length=8, stride=stride, hop=hop
  )
  span = 7 * stride + 1
  start = num_frames - round(fraction * num_frames)
  assert cut.validation_start == start and len(cut.train)
  # Training windows end a whole window span before the first validation frame.
  assert cut.train.max() + span < start and cut.train_stop == start - span
  assert start - cut.train.max() - 1 >= span
  np.testing.assert_array_equal(
      cut.train, windows.strided_windows(start - span, length=8, stride=stride, hop=hop)
  )
  # Validation: consecutive windows covering the block, every frame, plus one end-aligned.
  np.testing.assert_array_equal(np.unique(cut.validation), np.arange(start, num_frames))
  assert (np.diff(cut.validation, axis=1) == 1).all()
  np.testing.assert_array_equal(
      cut.validation[:, 0], start + windows.covering_windows(num_frames - start, length=8)[:, 0]
  )


def test_hold_out_by_time_edges():
  whole = windows.hold_out_by_time(100, validation_fraction=0.0, length=8, stride=5, hop=40)
  assert whole.validation.shape == (0, 8) and whole.train_stop == 100 and len(whole.train) == 2
  with pytest.raises(ValueError, match="shorter than one window"):
    windows.hold_out_by_time(30, validation_fraction=0.2, length=8, stride=1, hop=4)
  with pytest.raises(ValueError, match="validation_fraction"):
    windows.hold_out_by_time(100, validation_fraction=1.0, length=8, stride=1, hop=4)
  # Too short for a training window after the gap: none (the builders then name the empty split).
  short = windows.hold_out_by_time(70, validation_fraction=0.2, length=8, stride=5, hop=40)
  assert short.train.shape == (0, 8) and len(short.validation) == 2  # Frames [56, 70).


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
