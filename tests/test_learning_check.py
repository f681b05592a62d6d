"""The stream-learning check: validation loss against the per-pixel mean frame's."""

import numpy as np
import pytest

from mouseflax import learning_check
from mouseflax import streams

T, H, W = 2, 3, 4


def _records(gray: np.ndarray, flow: np.ndarray) -> dict[str, np.ndarray]:
  return {"gray": gray.astype(np.uint8), "flow": flow.astype(np.float32)}


def test_mean_frame_loss_is_the_per_pixel_variance():
  num = 2 * learning_check.ROWS_PER_CHUNK + 3  # Several chunks, the last one short.
  gray = np.zeros((num, T, H, W, 1))
  gray[::2] = streams.GRAY_SCALE  # Half the examples white, half black: variance 0.25 everywhere.
  flow = np.full((num, T, H, W, 2), streams.FLOW_ZERO)  # No motion anywhere: variance 0.
  losses = learning_check.mean_frame_losses(_records(gray, flow), ("gray", "flow"))
  expected = (num // 2 + 1) * (num // 2) / num**2  # p (1 - p), p = share of white examples.
  assert losses["gray"] == pytest.approx(expected) and losses["flow"] == 0.0


def test_a_stream_at_the_mean_frames_loss_is_named():
  rng = np.random.default_rng(0)
  records = _records(
      rng.integers(0, 256, (20, T, H, W, 1)), rng.random((20, T, H, W, 2)).astype(np.float32)
  )
  baseline = learning_check.mean_frame_losses(records, ("gray", "flow"))
  val = {
      "val_loss": 1.0,
      "val_loss_gray": 0.2 * baseline["gray"],
      "val_loss_flow": baseline["flow"],
  }
  report, warning = learning_check.stream_learning(val, records)
  assert report["gray"]["learnt"] == pytest.approx(0.8) and report["flow"]["learnt"] == 0.0
  assert warning.startswith("the flow stream learnt little") and "gray" not in warning
  assert "centre_inputs" in warning  # The fix is named.
  val["val_loss_flow"] = 0.5 * baseline["flow"]
  assert learning_check.stream_learning(val, records)[1] is None


def test_a_model_without_reconstructions_is_not_checked():
  records = _records(np.zeros((2, T, H, W, 1)), np.zeros((2, T, H, W, 2)))
  assert learning_check.stream_learning({"val_loss": 0.3, "val_loss_ce": 0.3}, records) == (
      {},
      None,
  )
