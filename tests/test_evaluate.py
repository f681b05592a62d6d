"""Evaluator checks against a fake model whose per-frame errors, scores and AUCs are worked out by
hand.

Fixture (T = 4, frames 2 x 2): video 0 has frames 0..5 in two windows (starts 0 and 2, overlapping
on frames 2-3), video 1 has frames 0..3 in one window and no anomaly (so its macro AUC is
undefined). Gray inputs are all zero and the fake model reconstructs gray as -OFFSETS[t] at window
position t, so e_gray = OFFSETS[t]^2 averaged over windows; it reconstructs flow as 0.5, so e_flow =
(flow -
0.5)^2.
All values are dyadic fractions, so every tie below is exact. Values in comments are in 1/128
(score).
"""

import dataclasses
import json

import ml_collections
import numpy as np
import pytest

from mouseflax import evaluate
from mouseflax import events
from mouseflax import named_scores
from mouseflax import streams

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
  return dict(
      gray=gray, flow=flow, video=video, frame_index=frame_index, anomaly=anomaly, behavior=behavior
  )


def _inputs_fn(batch):
  return {
      "gray": batch["gray"].astype(np.float32) / 255.0,
      "flow": batch["flow"].astype(np.float32),
  }


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
  m = evaluate.evaluate(
      _two_stream_predict,
      _fake_split(),
      eval_config=_eval_config(),
      workdir=tmp_path,
      video_names=VIDEO_NAMES,
      inputs_fn=_inputs_fn,
  )
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


def test_csv_names_keep_folders_and_every_builder_suffix(tmp_path):
  names = ["day1/cam.mp4", "day2/cam.webm", "x.m4v", "clip.wmv", "notes.v2"]
  got = [evaluate.video_name(i, names) for i in range(len(names))]
  assert got == ["day1__cam", "day2__cam", "x", "clip", "notes.v2"]
  table = evaluate.frame_errors(_two_stream_predict, _fake_split(), 2, inputs_fn=_inputs_fn)
  paths = evaluate.write_score_csvs(table, tmp_path, ["day1/cam.mp4", "day2/cam.mp4"])
  assert [p.name for p in paths] == ["day1__cam.csv", "day2__cam.csv"]
  with pytest.raises(ValueError, match=r"same score CSV.*a/cam\.mp4.*a/cam\.avi"):
    evaluate.write_score_csvs(table, tmp_path / "clash", ["a/cam.mp4", "a/cam.avi"])
  assert not (tmp_path / "clash").exists()  # Nothing written before the clash is found.


def test_video_names_must_cover_the_records(tmp_path):
  with pytest.raises(ValueError, match="video_names"):
    evaluate.evaluate(
        _two_stream_predict,
        _fake_split(),
        eval_config=_eval_config(),
        workdir=tmp_path,
        video_names=["only_one"],
        inputs_fn=_inputs_fn,
    )


def test_default_inputs_fn_is_the_input_pipelines():
  # The trainer passes no inputs_fn: records go through streams.to_model_inputs.
  table = evaluate.frame_errors(_two_stream_predict, _fake_split(), 2)
  np.testing.assert_allclose(table.score, EXPECTED_SCORE, atol=1e-7)


# ------------------------------------------------------------------------------------------------
# Named scores (config.eval.score) on the fake model. Its squared error is the same at every pixel
# of a frame, so l2 = sqrt(H*W*C * mse) per window (H*W = 4: gray 2 sqrt(mse), flow 2 sqrt(2 mse))
# and the largest patch mean equals the mse; l2 is averaged over windows like the mse.
# Gray l2 by window position: 2 * OFFSETS = 0, 1/2, 1, 1/2; flow l2 = 2 sqrt(2) |flow - 0.5|.

EXPECTED_L2_GRAY = np.array([0, 0.5, 0.5, 0.5, 1.0, 0.5, 0, 0.5, 1.0, 0.5])
ABS_FLOW_DEV = np.abs(np.array(FLOW_DEV[0] + FLOW_DEV[1]))
EXPECTED_PAPER = (EXPECTED_L2_GRAY + 2 * np.sqrt(2) * ABS_FLOW_DEV) / 2


def test_every_error_kind_matches_hand_computed_values():
  table = evaluate.frame_errors(_two_stream_predict, _fake_split(), 2, inputs_fn=_inputs_fn)
  np.testing.assert_allclose(table.error_l2_gray, EXPECTED_L2_GRAY, atol=1e-12)
  np.testing.assert_allclose(table.error_l2_flow, 2 * np.sqrt(2) * ABS_FLOW_DEV, atol=1e-12)
  np.testing.assert_allclose(table.error_patch_gray, EXPECTED_GRAY, atol=1e-12)
  np.testing.assert_allclose(table.error_patch_flow, EXPECTED_FLOW, atol=1e-12)
  paper = evaluate.scored_table(table, _eval_config(score="paper"))
  np.testing.assert_allclose(paper.score, EXPECTED_PAPER, atol=1e-12)
  m = evaluate.compute_metrics(table, _eval_config(score="paper"))
  # Paper: positives 1.207, 0.780 above every negative (at most 0.677).
  assert m["auc"] == m["auc_paper_average"] == m["auc_scores"]["paper"] == pytest.approx(1.0)
  assert m["auc_scores"]["mse"] == pytest.approx(EXPECTED_AUC)
  assert m["auc_scores"]["mse_z"] is None  # No validation statistics given: undefined, not faked.
  assert m["score"] == "paper" and "l2 norm" in m["metrics_notes"]["score"]


def test_patch_error_finds_a_small_anomaly_the_mean_dilutes():
  h, w = streams.FRAME_HW
  inputs = {"gray": np.zeros((1, 2, h, w, 1))}
  outputs = {"gray": np.zeros((1, 2, h, w, 1))}
  outputs["gray"][0, 0, 4:12, 8:16] = 1.0  # An 8x8 block on the patch grid.
  outputs["gray"][0, 1, 2:10, 2:10] = 1.0  # The same block off the grid: 6x6 of it in a patch.
  errors = {
      k: streams.per_frame_errors(inputs, outputs, dtype=np.float64, kind=k)["gray"][0]
      for k in streams.ERROR_KINDS
  }
  np.testing.assert_allclose(errors["mse"], [64 / 768, 64 / 768])
  np.testing.assert_allclose(errors["l2"], [8.0, 8.0])
  np.testing.assert_allclose(errors["patch"], [1.0, 36 / 64])


# ------------------------------------------------------------------------------------------------
# z-scored named scores, on tables worked out by hand.
# Validation: gray errors 1, 3 (normal) -> mean 2, std 1; flow 10, 50 (normal) -> mean 30, std 20;
# the anomalous third frame is left out of the statistics.
# Test: raw mean (36, 6 | 17.5, 27) ranks the positives below 36 -> AUC 2/4; z-scores
# gray (0, 0 | 3, 2), flow (2, -1 | 0, 1) -> score (1, -0.5 | 1.5, 1.5) -> AUC 1.


def _table(gray, flow, label) -> evaluate.FrameTable:
  n = len(label)
  gray, flow = np.asarray(gray, np.float64), np.asarray(flow, np.float64)
  return evaluate.FrameTable(
      video=np.zeros(n, np.int64),
      frame_index=np.arange(n),
      label=np.asarray(label),
      behavior=np.zeros(n, np.int64),
      error_gray=gray,
      error_flow=flow,
      score=(gray + flow) / 2,
  )


VAL_TABLE = _table([1.0, 3.0, 100.0], [10.0, 50.0, 1000.0], [0, 0, 1])
TEST_TABLE = _table([2.0, 2.0, 5.0, 4.0], [70.0, 10.0, 30.0, 50.0], [0, 0, 1, 1])
HAND_STATS = {
    "error_gray": {"mean": 2.0, "std": 1.0, "n_frames": 2},
    "error_flow": {"mean": 30.0, "std": 20.0, "n_frames": 2},
}


def test_a_score_of_some_streams_leaves_the_others_out():
  stats = evaluate.error_statistics(VAL_TABLE)
  cfg = _eval_config(score="mse_z")
  gray = evaluate.scored_table(TEST_TABLE, cfg, stats, ["gray"])
  np.testing.assert_allclose(gray.score, [0.0, 0.0, 3.0, 2.0], atol=1e-12)  # Gray's z alone.
  flow = evaluate.compute_metrics(TEST_TABLE, cfg, error_stats=stats, scored=["flow"])
  assert flow["auc"] == pytest.approx(0.5) and flow["score_streams"] == ["flow"]
  assert flow["stream_stats"] == {"flow": HAND_STATS["error_flow"]}
  assert evaluate.compute_metrics(TEST_TABLE, cfg, error_stats=stats)["score_streams"] is None
  for bad in ([], ["rgb"]):
    with pytest.raises(ValueError, match="non-empty subset of the model's"):
      named_scores.compute("mse_z", TEST_TABLE.error_columns(), stats, bad)


def test_error_statistics_use_normal_frames_only():
  # The l2 and patch columns are all NaN here: no statistics for them.
  assert evaluate.error_statistics(VAL_TABLE) == HAND_STATS
  single = dataclasses.replace(VAL_TABLE, error_flow=np.full(3, np.nan))
  assert evaluate.error_statistics(single) == {"error_gray": HAND_STATS["error_gray"]}
  constant = dataclasses.replace(VAL_TABLE, error_gray=np.ones(3))  # std 0: left out.
  assert evaluate.error_statistics(constant) == {"error_flow": HAND_STATS["error_flow"]}
  with pytest.raises(ValueError, match="normal frames"):
    evaluate.error_statistics(dataclasses.replace(VAL_TABLE, label=np.ones(3, np.int64)))


def test_mse_z_matches_hand_computed_scores_and_aucs():
  stats = evaluate.error_statistics(VAL_TABLE)
  cfg = _eval_config(score="mse_z")
  scored = evaluate.scored_table(TEST_TABLE, cfg, stats)
  np.testing.assert_allclose(scored.score, [1.0, -0.5, 1.5, 1.5], atol=1e-12)
  # Idempotent (recomputed from the error columns), and 'mse' leaves the raw mean.
  np.testing.assert_array_equal(evaluate.scored_table(scored, cfg, stats).score, scored.score)
  np.testing.assert_array_equal(
      evaluate.scored_table(TEST_TABLE, _eval_config(score="mse")).score, [36.0, 6.0, 17.5, 27.0]
  )
  m = evaluate.compute_metrics(TEST_TABLE, cfg, error_stats=stats)
  assert m["auc"] == m["auc_scores"]["mse_z"] == pytest.approx(1.0)
  assert m["auc_scores"]["mse"] == pytest.approx(0.5)
  assert m["auc_scores"]["paper"] is None and m["auc_scores"]["patch_z"] is None  # No l2/patch.
  assert m["score"] == "mse_z" and m["stream_stats"] == {
      "gray": HAND_STATS["error_gray"],
      "flow": HAND_STATS["error_flow"],
  }
  assert m["error_stats"] == HAND_STATS
  json.dumps(m, allow_nan=False)
  raw = evaluate.compute_metrics(TEST_TABLE, _eval_config(score="mse"))
  assert raw["auc"] == pytest.approx(0.5) and raw["stream_stats"] is None


def test_old_runs_normalisation_maps_to_named_scores():
  stats = evaluate.error_statistics(VAL_TABLE)
  old = evaluate.compute_metrics(
      TEST_TABLE, _eval_config(stream_normalisation="validation"), None, stats
  )
  assert old["score"] == "mse_z" and old["auc"] == pytest.approx(1.0)
  assert (
      evaluate.compute_metrics(TEST_TABLE, _eval_config(stream_normalisation="none"))["score"]
      == "mse"
  )
  assert evaluate.compute_metrics(TEST_TABLE, _eval_config())["score"] == "mse"  # Older still.


def test_score_config_errors():
  with pytest.raises(ValueError, match="validation statistics"):
    evaluate.compute_metrics(TEST_TABLE, _eval_config(score="mse_z"))
  with pytest.raises(ValueError, match="config.eval.score='zscore'"):
    evaluate.compute_metrics(TEST_TABLE, _eval_config(score="zscore"))
  with pytest.raises(ValueError, match="stream_normalisation='zscore'"):
    evaluate.compute_metrics(TEST_TABLE, _eval_config(stream_normalisation="zscore"))


def test_evaluate_writes_z_scored_scores(tmp_path):
  # z_gray = 16 e_gray, z_flow = 64 e_flow: score = (G + F) / 2 with G in 1/16, F in 1/64 (fixture).
  stats = {
      "error_gray": {"mean": 0.0, "std": 1 / 16, "n_frames": 1},
      "error_flow": {"mean": 0.0, "std": 1 / 64, "n_frames": 1},
  }
  m = evaluate.evaluate(
      _two_stream_predict,
      _fake_split(),
      eval_config=_eval_config(score="mse_z"),
      workdir=tmp_path,
      video_names=VIDEO_NAMES,
      inputs_fn=_inputs_fn,
      calibrated=evaluate.Calibrated(error_stats=stats),
  )
  expected = np.array([0, 1, 1, 2.5, 10, 5, 2, 0.5, 2.5, 0.5])
  assert m["auc"] == pytest.approx(1.0)  # 10 and 5 above every normal frame.
  assert m["auc_scores"]["mse"] == pytest.approx(EXPECTED_AUC)
  a = evaluate.read_score_csv(tmp_path / "scores" / "clip_a.csv")
  b = evaluate.read_score_csv(tmp_path / "scores" / "clip_b.csv")
  np.testing.assert_allclose(np.concatenate([a["score"], b["score"]]), expected, atol=1e-8)
  np.testing.assert_allclose(a["error_gray"], EXPECTED_GRAY[:6], atol=1e-9)  # Raw errors kept.


# ------------------------------------------------------------------------------------------------
# Baselines, false alarms and bouts at a threshold, on the fake model (score 'mse', in 1/128:
# video 0: 0 5 8 8 | 32 13 (anomalous), video 1: 4 4 17 4).


def test_baselines_false_alarms_and_bouts(tmp_path):
  calibrated = evaluate.Calibrated(
      threshold=7 / 128, event_rule=events.EventRule(0.0, 0.0), video_fps=[1.0, 1.0]
  )
  m = evaluate.evaluate(
      _two_stream_predict,
      _fake_split(),
      eval_config=_eval_config(score="mse"),
      workdir=tmp_path,
      video_names=VIDEO_NAMES,
      inputs_fn=_inputs_fn,
      calibrated=calibrated,
  )
  # Gray inputs are all zero: no motion energy (AUC 0.5); the flow deviation ranks both anomalous
  # frames first (AUC 1), above the model's 15/16; no PCA without training frames.
  assert m["baselines"]["motion_energy"]["auc"] == pytest.approx(0.5)
  assert m["baselines"]["flow_magnitude"]["auc"] == pytest.approx(1.0)
  assert (
      m["baselines"]["motion_energy"]["model_beats"],
      m["baselines"]["flow_magnitude"]["model_beats"],
  ) == (True, False)
  assert m["model_beats_baselines"] is False and "pca" not in m["baselines"]
  # Flagged (> 7/128): video 0 frames 2-5, one event holding the anomaly; video 1 frame 2, a false
  # event. Normal frames: 8 (8 s at 1 fps), 3 of them flagged.
  assert m["false_alarm_rate_test"] == pytest.approx(3 / 8)
  assert m["false_events_test"] == 1
  assert m["false_events_per_hour_test"] == pytest.approx(3600 / 8)
  assert m["bout_detection"] == {"bouts": 1, "detected": 1, "share": 1.0}
  a = evaluate.read_score_csv(tmp_path / "scores" / "clip_a.csv")
  np.testing.assert_array_equal(a["flagged"], [0, 0, 1, 1, 1, 1])
  np.testing.assert_allclose(a["flow_magnitude"], np.abs(FLOW_DEV[0]), atol=1e-9)
  np.testing.assert_allclose(a["motion_energy"], 0.0)
  assert np.all(np.isnan(a["pca"]))  # Column present, empty without a PCA.
  header = (tmp_path / "scores" / "clip_b.csv").read_text().splitlines()[0].split(",")
  assert header[: len(evaluate.BASE_CSV_COLUMNS)] == list(evaluate.BASE_CSV_COLUMNS)
  assert set(named_scores.ERROR_COLUMNS) < set(header)


def test_csvs_of_older_runs_still_read(tmp_path):
  path = tmp_path / "old.csv"
  path.write_text(",".join(evaluate.BASE_CSV_COLUMNS) + "\n3,1,2,0.5,0.25,0.375,0.0\n")
  columns = evaluate.read_score_csv(path)
  assert set(columns) == set(evaluate.BASE_CSV_COLUMNS) and columns["score"][0] == 0.375
