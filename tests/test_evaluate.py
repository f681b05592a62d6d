"""Evaluator checks against a fake model whose per-frame errors, scores and AUCs are worked out by hand.

Fixture (T = 4, frames 2 x 2): video 0 has frames 0..5 in two windows (starts 0 and 2, overlapping on
frames 2-3), video 1 has frames 0..3 in one window and no anomaly (so its macro AUC is undefined).
Gray inputs are all zero and the fake model reconstructs gray as -OFFSETS[t] at window position t, so
e_gray = OFFSETS[t]^2 averaged over windows; it reconstructs flow as 0.5, so e_flow = (flow - 0.5)^2.
All values are dyadic fractions, so every tie below is exact. Values in comments are in 1/128 (score).
"""

import json

import ml_collections
import numpy as np
import pytest

from mouseflax import evaluate

T = 4
H, W = 2, 2
OFFSETS = np.array([0.0, 0.25, 0.5, 0.25])  # e_gray by window position: 0, 1/16, 1/4, 1/16.
FLOW_DEV = {0: [0.0, 0.125, 0.0, 0.25, 0.5, 0.375], 1: [0.25, 0.0, 0.125, 0.0]}  # flow - 0.5
LABELS = {0: [0, 0, 0, 0, 1, 1], 1: [0, 0, 0, 0]}
WINDOWS = [(1, 0), (0, 2), (0, 0)]  # (video, first frame), deliberately unsorted.
VIDEO_NAMES = ["clip_a.avi", "clip_b.avi"]

# Worked out by hand from the numbers above (see the module docstring).
EXPECTED_GRAY = np.array([0, 1 / 16, 1 / 8, 1 / 16, 1 / 4, 1 / 16, 0, 1 / 16, 1 / 4, 1 / 16])
EXPECTED_FLOW = np.array([0, 1 / 64, 0, 1 / 16, 1 / 4, 9 / 64, 1 / 16, 0, 1 / 64, 0])
EXPECTED_SCORE = np.array([0, 5, 8, 8, 32, 13, 4, 4, 17, 4]) / 128
EXPECTED_REGULARITY = np.array([1, 27 / 32, 24 / 32, 24 / 32, 0, 19 / 32, 1, 1, 0, 1])
# Pooled: positives 32, 13 vs negatives 0,5,8,8,4,4,17,4 -> (8 + 7) / 16.
EXPECTED_AUC = 15 / 16
# Gray (in 1/16): positives 4, 1 vs 0,1,2,1,0,1,4,1 -> (7 + 0.5 + 2 + 4 * 0.5) / 16.
EXPECTED_AUC_GRAY = 11.5 / 16
# Min-max per video: positives 1, 13/32 vs 0,5/32,1/4,1/4,0,0,1,0 -> (7.5 + 7) / 16.
EXPECTED_AUC_MINMAX = 14.5 / 16


def _fake_split() -> dict[str, np.ndarray]:
  gray = np.zeros((len(WINDOWS), T, H, W, 1), np.uint8)
  flow = np.full((len(WINDOWS), T, H, W, 2), 0.5, np.float16)
  video = np.array([v for v, _ in WINDOWS], np.int64)
  frame_index = np.array([np.arange(s, s + T) for _, s in WINDOWS], np.int64)
  anomaly = np.array([np.take(LABELS[v], f) for v, f in zip(video, frame_index)], np.int64)
  for i, (v, f) in enumerate(zip(video, frame_index)):
    flow[i] += np.take(FLOW_DEV[v], f)[:, None, None, None].astype(np.float16)
  behavior = frame_index + 10 * video[:, None]  # Distinct per frame, to check the CSV column.
  return dict(gray=gray, flow=flow, video=video, frame_index=frame_index, anomaly=anomaly,
              behavior=behavior)


def _inputs_fn(batch):
  return {"gray": batch["gray"].astype(np.float32) / 255.0, "flow": batch["flow"].astype(np.float32)}


def _two_stream_predict(inputs):
  offsets = OFFSETS[None, :, None, None, None]
  return {"gray": inputs["gray"] - offsets, "flow": np.full_like(inputs["flow"], 0.5)}


def _eval_config(**overrides) -> ml_collections.ConfigDict:
  cfg = dict(batch_size=2, smoothing_sigma=5.0, timeline_max_videos=6, false_alarm_rate=0.01)
  cfg.update(overrides)
  return ml_collections.ConfigDict(cfg)


def test_frame_errors_averages_overlapping_windows_and_sorts():
  seen_batch_sizes = []

  def predict(inputs):
    seen_batch_sizes.append(inputs["gray"].shape[0])
    return _two_stream_predict(inputs)

  table = evaluate.frame_errors(predict, _fake_split(), batch_size=2, inputs_fn=_inputs_fn)
  np.testing.assert_array_equal(table.video, [0] * 6 + [1] * 4)
  np.testing.assert_array_equal(table.frame_index, list(range(6)) + list(range(4)))
  np.testing.assert_array_equal(table.label, LABELS[0] + LABELS[1])
  np.testing.assert_array_equal(table.behavior, list(range(6)) + [10, 11, 12, 13])
  np.testing.assert_allclose(table.error_gray, EXPECTED_GRAY, atol=1e-12)
  np.testing.assert_allclose(table.error_flow, EXPECTED_FLOW, atol=1e-12)
  np.testing.assert_allclose(table.score, EXPECTED_SCORE, atol=1e-12)
  assert seen_batch_sizes == [2, 2]  # The last batch is padded: one compile for a jitted model.


def test_metrics_match_hand_computed_aucs():
  table = evaluate.frame_errors(_two_stream_predict, _fake_split(), 2, inputs_fn=_inputs_fn)
  m = evaluate.compute_metrics(table, _eval_config(), VIDEO_NAMES)
  assert m["auc"] == pytest.approx(EXPECTED_AUC)
  assert m["auc_macro"] == pytest.approx(1.0)  # Video 0 alone: both positives above all negatives.
  assert m["auc_macro_skipped_videos"] == ["clip_b"]
  assert m["auc_gray"] == pytest.approx(EXPECTED_AUC_GRAY)
  assert m["auc_flow"] == pytest.approx(1.0)  # Positives 16/64 and 9/64 above every negative.
  assert m["auc_minmax_per_video"] == pytest.approx(EXPECTED_AUC_MINMAX)
  assert (m["n_test_frames"], m["n_anomalous_frames"], m["n_videos"]) == (10, 2, 2)
  assert set(m["metrics_notes"]) >= {"auc", "auc_macro", "auc_smoothed", "auc_minmax_per_video"}
  assert "sigma = 5" in m["metrics_notes"]["auc_smoothed"]
  json.dumps(m, allow_nan=False)  # results.json must be strict JSON.


def test_smoothing_stays_inside_each_video():
  table = evaluate.frame_errors(_two_stream_predict, _fake_split(), 2, inputs_fn=_inputs_fn)
  # A tiny sigma leaves the scores (and so the AUC) unchanged.
  tiny = evaluate.compute_metrics(table, _eval_config(smoothing_sigma=1e-3))
  assert tiny["auc_smoothed"] == pytest.approx(EXPECTED_AUC)
  # A wide one flattens video 1 towards its edge frames' 4/128 ('nearest' padding repeats them);
  # mixing in video 0 (which ends at 13/128) would pull it away.
  smoothed = evaluate.smooth_scores(table, sigma=100.0)
  np.testing.assert_allclose(smoothed[6:], 4 / 128, rtol=0.05)
  with pytest.raises(ValueError, match="smoothing_sigma"):
    evaluate.smooth_scores(table, sigma=0.0)


def test_regularity_per_video():
  table = evaluate.frame_errors(_two_stream_predict, _fake_split(), 2, inputs_fn=_inputs_fn)
  np.testing.assert_allclose(evaluate.regularity(table), EXPECTED_REGULARITY, atol=1e-12)


def test_single_stream_model_scores_gray_only():
  predict = lambda x: {"gray": _two_stream_predict(x)["gray"]}
  table = evaluate.frame_errors(predict, _fake_split(), 3, inputs_fn=_inputs_fn)
  assert np.all(np.isnan(table.error_flow))
  np.testing.assert_allclose(table.score, EXPECTED_GRAY, atol=1e-12)
  m = evaluate.compute_metrics(table, _eval_config())
  assert m["auc_flow"] is None
  assert m["auc"] == pytest.approx(EXPECTED_AUC_GRAY)


def test_supervised_score_is_held_out_class_probability():
  def predict(inputs):
    # Class 1's logit grows with the frame's flow deviation; classes 0 and 2 stay at 0.
    z = 8.0 * np.mean(inputs["flow"] - 0.5, axis=(2, 3, 4))
    return {"logits": np.stack([np.zeros_like(z), z, np.zeros_like(z)], axis=-1)}

  split = _fake_split()
  table = evaluate.frame_errors(predict, split, 2, anomaly_class=1, inputs_fn=_inputs_fn)
  z = 8.0 * np.array(FLOW_DEV[0] + FLOW_DEV[1])
  np.testing.assert_allclose(table.score, np.exp(z) / (np.exp(z) + 2.0), rtol=1e-6)
  assert np.all(np.isnan(table.error_gray))
  m = evaluate.compute_metrics(table, _eval_config())
  assert m["auc"] == pytest.approx(1.0)  # Deviations 0.5, 0.375 exceed every normal frame's.
  assert "held-out class" in m["metrics_notes"]["score"]
  with pytest.raises(ValueError, match="anomaly_class"):
    evaluate.frame_errors(predict, split, 2, inputs_fn=_inputs_fn)
  with pytest.raises(ValueError, match="num_classes"):
    evaluate.frame_errors(predict, split, 2, anomaly_class=3, inputs_fn=_inputs_fn)


def test_inconsistent_labels_across_windows_raise():
  split = _fake_split()
  split["anomaly"][1, 0] = 1  # Frame 2 of video 0: normal in the other window.
  with pytest.raises(ValueError, match="overlapping windows"):
    evaluate.frame_errors(_two_stream_predict, split, 2, inputs_fn=_inputs_fn)


def test_missing_field_and_diverged_model_raise():
  split = _fake_split()
  del split["anomaly"]
  with pytest.raises(ValueError, match="anomaly"):
    evaluate.frame_errors(_two_stream_predict, split, 2, inputs_fn=_inputs_fn)
  nan_predict = lambda x: {"gray": x["gray"] * np.nan}
  with pytest.raises(FloatingPointError):
    evaluate.frame_errors(nan_predict, _fake_split(), 2, inputs_fn=_inputs_fn)


def test_evaluate_writes_csvs_and_plots(tmp_path):
  m = evaluate.evaluate(_two_stream_predict, _fake_split(), eval_config=_eval_config(),
                        workdir=tmp_path, video_names=VIDEO_NAMES, inputs_fn=_inputs_fn)
  assert m["auc"] == pytest.approx(EXPECTED_AUC)
  assert sorted(p.name for p in (tmp_path / "scores").iterdir()) == ["clip_a.csv", "clip_b.csv"]
  a = evaluate.read_score_csv(tmp_path / "scores" / "clip_a.csv")
  np.testing.assert_array_equal(a["frame"], range(6))
  np.testing.assert_array_equal(a["label"], LABELS[0])
  np.testing.assert_array_equal(a["behavior"], range(6))
  np.testing.assert_allclose(a["score"], EXPECTED_SCORE[:6], atol=1e-9)
  np.testing.assert_allclose(a["error_flow"], EXPECTED_FLOW[:6], atol=1e-9)
  np.testing.assert_allclose(a["regularity"], EXPECTED_REGULARITY[:6], atol=1e-9)
  header = (tmp_path / "scores" / "clip_b.csv").read_text().splitlines()[0]
  assert header == ",".join(evaluate.CSV_COLUMNS)
  for name in ("roc.png", "timeline.png"):
    data = (tmp_path / name).read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 1000
  assert not list(tmp_path.rglob("*.tmp"))  # Atomic writes leave no temporary file behind.


def test_video_names_must_cover_the_records(tmp_path):
  with pytest.raises(ValueError, match="video_names"):
    evaluate.evaluate(_two_stream_predict, _fake_split(), eval_config=_eval_config(),
                      workdir=tmp_path, video_names=["only_one"], inputs_fn=_inputs_fn)


def test_calibrate_threshold_quantile_rule():
  scores = np.arange(1, 101, dtype=np.float64)
  # 'higher' quantile at 0.95: index ceil(99 * 0.95) = 95 -> the score 96; 4 of 100 lie above it.
  threshold = evaluate.calibrate_threshold(scores, 0.05)
  assert threshold == 96.0
  assert np.mean(scores > threshold) <= 0.05
  assert evaluate.calibrate_threshold(scores[::-1], 0.5) == 51.0
  with pytest.raises(ValueError, match="false_alarm_rate"):
    evaluate.calibrate_threshold(scores, 1.5)
  with pytest.raises(ValueError, match="finite"):
    evaluate.calibrate_threshold(np.array([]), 0.1)


def test_default_inputs_fn_is_the_input_pipelines():
  # The trainer passes no inputs_fn: records go through input_pipeline.to_model_inputs.
  table = evaluate.frame_errors(_two_stream_predict, _fake_split(), 2)
  np.testing.assert_allclose(table.score, EXPECTED_SCORE, atol=1e-7)
