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


def test_balanced_weights_put_each_stream_in_units_of_its_mean_frames_loss():
  rng = np.random.default_rng(1)
  records = _records(
      rng.integers(0, 256, (20, T, H, W, 1)), 0.5 + 0.01 * rng.random((20, T, H, W, 2))
  )
  baseline = learning_check.mean_frame_losses(records, ("gray", "flow"))
  weights = learning_check.balanced_loss_weights({"gray": 0.75, "flow": 1.0}, records)
  assert weights["gray"] == pytest.approx(0.75 / baseline["gray"])
  assert weights["flow"] == pytest.approx(1.0 / baseline["flow"])
  # The barely moving flow weighs far more than the gray, whose pixels vary a lot.
  assert weights["flow"] > 100 * weights["gray"]
  # A stream weighted 0 stays 0 (and is not measured).
  assert learning_check.balanced_loss_weights({"gray": 1.0, "flow": 0.0}, records)["flow"] == 0.0


def test_balancing_a_constant_stream_names_it_and_the_fix():
  records = _records(np.zeros((4, T, H, W, 1)), np.random.default_rng(0).random((4, T, H, W, 2)))
  with pytest.raises(ValueError, match=r"\['gray'\] stream is constant.*balance_losses=False"):
    learning_check.balanced_loss_weights({"gray": 1.0, "flow": 1.0}, records)


def test_a_learnt_score_keeps_the_streams_that_learnt():
  learning = {"flow": {"learnt": -0.02}, "gray": {"learnt": 0.7}}
  assert learning_check.score_streams("all", learning) is None  # The paper's: every stream.
  assert learning_check.score_streams("learnt", learning) == ["gray"]
  both = {"gray": {"learnt": 0.7}, "flow": {"learnt": learning_check.LEARNT_MIN}}
  assert learning_check.score_streams("learnt", both) == ["gray", "flow"]
  # None learnt: every stream (the warning says so; no stream would leave no score).
  assert learning_check.score_streams("learnt", {"gray": {"learnt": 0.0}}) is None
  assert learning_check.score_streams("learnt", {}) is None  # The supervised model.
  with pytest.raises(ValueError, match="config.eval.score_streams='best'"):
    learning_check.score_streams("best", learning)


def test_the_warning_says_which_streams_the_score_leaves_out():
  learning = {"flow": {"learnt": -0.02}, "gray": {"learnt": 0.7}}
  note = learning_check.with_score_note("the flow stream learnt little.", learning, ["gray"])
  assert note.endswith(
      "leaves the flow stream out (eval.score_streams='learnt') and uses gray only."
  )
  assert learning_check.with_score_note("w", learning, None) == "w"  # Every stream scored.
  assert learning_check.with_score_note(None, learning, ["gray"]) is None
