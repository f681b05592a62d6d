"""Tests of mouseflax.score on an untrained tiny run (a real checkpoint, no training needed).

The trained workflow (train on normal clips, then flag an injected anomaly) is in
tests/test_own_videos.py (its scene is tests/fakes.py.write_scene).
"""

import csv
import dataclasses
import json
import pathlib
import subprocess
import sys
import threading

import cv2
import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np
import pytest

from mouseflax import events
from mouseflax import named_scores
from mouseflax import plots
from mouseflax import preprocess
from mouseflax import run_files
from mouseflax import score
from mouseflax import streams
from mouseflax import video
from mouseflax import windows

T = streams.SEQUENCE_LENGTH
THRESHOLD = fakes.CLIP_THRESHOLD
DEADLINE_S = 60.0  # Far above a scoring of a few frames, far below a hang.


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  return score.load_run(fakes.make_workdir(tmp_path_factory.mktemp("score") / "run"))


@pytest.fixture(scope="module")
def errors_fn(run):
  return score.make_window_errors_fn(run)


def read_csv(path: pathlib.Path) -> list[dict[str, str]]:
  with path.open(newline="") as f:
    return list(csv.DictReader(f))


@pytest.mark.parametrize("num_frames", [8, 13, 16, 21])
def test_windows_are_the_evaluators_covering_windows(num_frames):
  rng = np.random.default_rng(num_frames)
  frames = [rng.integers(0, 256, (40, 50), dtype=np.uint8) for _ in range(num_frames)]
  cfg = preprocess.PreprocessConfig()
  batches = list(score.window_batches(iter(frames), cfg, batch_size=2))
  starts = np.concatenate([b.starts[: b.count] for b in batches])
  np.testing.assert_array_equal(starts, windows.covering_windows(num_frames, length=T)[:, 0])
  expected = [g for g, _ in (preprocess.FramePreprocessor(cfg)(f) for f in frames)][-T:]
  last = [b for b in batches if b.count][-1]  # The stream ends with a batch carrying `end`.
  np.testing.assert_array_equal(last.gray[last.count - 1], np.stack(expected))


def test_video_shorter_than_a_window_raises():
  frames = iter(np.zeros((T - 1, 40, 50), np.uint8))
  with pytest.raises(score.VideoTooShortError, match="fewer than one model window"):
    list(score.window_batches(frames, preprocess.PreprocessConfig(), batch_size=2))


def test_scores_match_window_errors_averaged_per_frame(run, errors_fn, tmp_path):
  """The threaded pipeline gives what a direct pass over covering windows gives."""
  path = fakes.write_disc_clip(tmp_path / "clip.avi", 29)
  scores = score.score_video(run, path, errors_fn=errors_fn, progress=False)
  frames = list(preprocess.preprocess_video(path, run.preprocess))
  gray = np.stack([g for _, g, _ in frames])
  flow = np.stack([f for _, _, f in frames]).astype(streams.FLOW_DTYPE)
  covering = windows.covering_windows(len(frames), length=T)
  errors = errors_fn(gray[covering], flow[covering])
  assert set(errors) == set(named_scores.ERROR_COLUMNS)
  counts = np.zeros(len(frames))
  np.add.at(counts, covering, 1)
  for column, values in errors.items():
    sums = np.zeros(len(frames))
    np.add.at(sums, covering, np.asarray(values, np.float64))
    np.testing.assert_allclose(scores.errors[column], sums / counts, rtol=1e-5)
  np.testing.assert_array_equal(scores.error_gray, scores.errors["error_gray"])
  # configs/tiny.py scores with the paper's rule: the mean of the streams' l2 errors.
  paper = (scores.errors["error_l2_gray"] + scores.errors["error_l2_flow"]) / 2
  np.testing.assert_allclose(scores.score, paper, rtol=1e-12)


def legacy_config() -> dict:
  """config.json of a run made before eval.score and the event rule: stream_normalisation only."""
  config = fakes.load_config("tiny").to_dict()
  new_keys = (
      "score",
      "calibrate_to",
      "false_events_per_hour",
      "event_merge_gap_s",
      "event_min_duration_s",
  )
  config["eval"] = {k: v for k, v in config["eval"].items() if k not in new_keys}
  config["eval"].update(stream_normalisation="validation", batch_size=3)
  return config


LEGACY_STATS = {
    "gray": {"mean": 0.01, "std": 0.5, "n_frames": 10},
    "flow": {"mean": 0.02, "std": 0.25, "n_frames": 10},
}


def test_an_older_runs_workdir_still_scores(tmp_path):
  """stream_normalisation='validation' -> 'mse_z' with the old threshold.json's stream_stats."""
  stored = {"threshold": THRESHOLD, "false_alarm_rate": 0.01, "stream_stats": LEGACY_STATS}
  workdir = fakes.make_workdir(tmp_path / "old", config_dict=legacy_config(), stored=stored)
  old = score.load_run(workdir)
  assert score.score_name(old) == "mse_z" and score.event_rule(old) == events.PLAIN_RUNS
  threshold = score.resolve_threshold(old)
  assert (threshold.value, threshold.false_alarm_rate) == (THRESHOLD, 0.01)
  assert threshold.false_events_per_hour is None
  scores = score.score_video(old, fakes.write_disc_clip(tmp_path / "clip.avi", 13), progress=False)
  expected = ((scores.error_gray - 0.01) / 0.5 + (scores.error_flow - 0.02) / 0.25) / 2
  np.testing.assert_allclose(scores.score, expected, rtol=1e-12)
  # Plain runs of flagged frames, as such runs always reported.
  median = dataclasses.replace(threshold, value=float(np.median(scores.score)))
  runs = plots.anomalous_runs(scores.frame, scores.score > median.value)
  assert runs and score.segments(scores, median) == runs
  without_stats = dataclasses.replace(
      old, stored_threshold={"threshold": 1.0, "false_alarm_rate": 0.01}
  )
  with pytest.raises(score.RunNotFoundError, match="error statistics"):
    score.error_stats(without_stats)


def test_a_run_scoring_only_its_learnt_streams_scores_new_videos_so(tmp_path):
  """threshold.json's `score_streams` (eval.score_streams='learnt'): the flow stream left out."""
  stored = {"threshold": THRESHOLD, "false_alarm_rate": 0.01, "stream_stats": LEGACY_STATS}
  both = fakes.make_workdir(tmp_path / "both", config_dict=legacy_config(), stored=stored)
  gray = fakes.make_workdir(
      tmp_path / "gray", config_dict=legacy_config(), stored=stored | {"score_streams": ["gray"]}
  )
  clip = fakes.write_disc_clip(tmp_path / "clip.avi", 13)
  assert score.score_streams(score.load_run(both)) is None  # Runs made before it: every stream.
  run = score.load_run(gray)
  assert score.score_streams(run) == ["gray"]
  for bad in ([], ["rgb"], "gray"):
    broken = dataclasses.replace(run, stored_threshold={**stored, "score_streams": bad})
    with pytest.raises(score.RunNotFoundError, match="threshold.json: score_streams=.*non-empty"):
      score.score_streams(broken)
  scores = score.score_video(run, clip, progress=False)
  np.testing.assert_allclose(scores.score, (scores.error_gray - 0.01) / 0.5, rtol=1e-12)
  # Recalibrating its threshold scores the validation frames the same way.
  values = np.linspace(0.0, 1.0, 20)
  _cache_validation_errors(run, values, fps=10.0, error_flow=1.0 - values)
  timeline = score.validation_timeline(run)
  np.testing.assert_allclose(timeline.score, (values - 0.01) / 0.5, rtol=1e-12)


def test_outputs_one_row_per_frame_and_consistent_segments(run, tmp_path):
  path = fakes.write_disc_clip(tmp_path / "odd_size.mp4", 37, size=(83, 47))
  threshold = score.Threshold(THRESHOLD, None, "test")
  results = score.score_videos(
      run, [path], tmp_path / "out", threshold, annotated_video=True, progress=False
  )
  result = results[str(path)]
  assert isinstance(result, score.ScoredVideo), result
  rows = read_csv(result.files["scores"])
  assert list(rows[0]) == list(score.SCORE_COLUMNS)
  assert [int(r["frame"]) for r in rows] == list(range(37))
  np.testing.assert_allclose(
      [float(r["time_s"]) for r in rows], np.arange(37) / fakes.CLIP_FPS, atol=1e-4
  )
  values = np.array([float(r["score"]) for r in rows])
  assert np.all(np.isfinite(values)) and np.all(values > 0)
  flagged = np.array([int(r["flagged"]) for r in rows])
  np.testing.assert_array_equal(flagged, values > THRESHOLD)
  # Threshold at the median: some segments for sure; rebuild `flagged` from the segments.
  exact = result.scores.score  # The CSV rounds to 9 digits: compare segments with exact scores.
  median = score.Threshold(float(np.median(exact)), None, "median")
  files = score.write_outputs(result.scores, median, tmp_path / "median", "clip")
  segments = read_csv(files["segments"])
  assert list(segments[0]) == list(score.SEGMENT_COLUMNS)
  rebuilt = np.zeros(37, int)
  for seg in segments:
    a, b = int(seg["start_frame"]), int(seg["end_frame"])
    rebuilt[a : b + 1] = 1
    assert float(seg["peak_score"]) == pytest.approx(values[a : b + 1].max(), rel=1e-6)
    assert int(seg["peak_frame"]) == a + int(np.argmax(exact[a : b + 1]))
    assert float(seg["start_s"]) == pytest.approx(a / fakes.CLIP_FPS, abs=1e-4)
    assert float(seg["duration_s"]) == pytest.approx((b + 1 - a) / fakes.CLIP_FPS, abs=1e-4)
  np.testing.assert_array_equal(rebuilt, exact > median.value)
  assert segments and result.files["timeline"].stat().st_size > 0
  # The same threshold with the run's event rule (1 s gaps merged at 12 fps): fewer, longer events,
  # each starting and ending on a flagged frame; `in_event` marks their frames.
  merged = dataclasses.replace(median, event_rule=events.EventRule(1.0, 0.25))
  files = score.write_outputs(result.scores, merged, tmp_path / "merged", "clip")
  events_rows = read_csv(files["segments"])
  assert 0 < len(events_rows) <= len(segments)
  in_event = np.array([int(r["in_event"]) for r in read_csv(files["scores"])])
  for row in events_rows:
    a, b = int(row["start_frame"]), int(row["end_frame"])
    assert exact[a] > median.value and exact[b] > median.value and in_event[a : b + 1].all()
    assert int(row["flagged_frames"]) == int(np.sum(exact[a : b + 1] > median.value))
  assert in_event.sum() == sum(int(r["end_frame"]) - int(r["start_frame"]) + 1 for r in events_rows)
  cap = cv2.VideoCapture(str(result.files["annotated"]))
  assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 37
  cap.release()


def test_bad_videos_fail_alone(run, tmp_path):
  good = fakes.write_disc_clip(tmp_path / "good.avi", 10)
  not_video = tmp_path / "notes.mp4"
  not_video.write_text("not a video")
  short = fakes.write_disc_clip(tmp_path / "short.avi", T - 3)
  missing = tmp_path / "missing.avi"
  threshold = score.Threshold(THRESHOLD, None, "test")
  results = score.score_videos(
      run, [not_video, good, short, missing], tmp_path / "out", threshold, progress=False
  )
  assert isinstance(results[str(good)], score.ScoredVideo)
  assert isinstance(results[str(not_video)], video.VideoError)
  assert isinstance(results[str(short)], score.VideoTooShortError)
  assert isinstance(results[str(missing)], FileNotFoundError)
  assert "3 failed" in score.summary(results, threshold)
  assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
      "good_scores.csv",
      "good_segments.csv",
      "good_timeline.png",
  ]


def test_unwritable_output_dir_and_duplicate_stems(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  with pytest.raises(score.OutputDirError, match="cannot be written"):
    score.check_output_dir(blocker / "out")
  with pytest.raises(ValueError, match="same file stem"):
    score.output_stems(["x/clip.mp4", "y/clip.avi"])


def test_workdir_without_a_trained_run(tmp_path):
  with pytest.raises(score.RunNotFoundError, match="does not exist"):
    score.load_run(tmp_path / "nowhere")
  with pytest.raises(score.RunNotFoundError, match="config.json not found"):
    score.load_run(tmp_path)
  workdir = tmp_path / "untrained"
  workdir.mkdir()
  config = fakes.load_config("tiny")
  (workdir / run_files.CONFIG_FILE).write_text(config.to_json_best_effort())
  (workdir / run_files.PREPROCESS_FILE).write_text(
      json.dumps(preprocess.PreprocessConfig().to_dict())
  )
  with pytest.raises(score.RunNotFoundError, match="No checkpoint"):
    score.load_run(workdir)


def _cache_validation_errors(run, score_values, fps, **columns_over):
  """Writes validation errors whose 'paper' score (mean of the l2 columns) is `score_values`
  (`columns_over`: other columns to write)."""
  n = len(score_values)
  nan = np.full(n, np.nan)
  columns = {c: nan for c in named_scores.ERROR_COLUMNS}
  columns.update(error_l2_gray=score_values, error_l2_flow=score_values, error_gray=score_values)
  columns.update(
      video=np.zeros(n, np.int64),
      frame=np.arange(n),
      label=np.zeros(n, np.int64),
      fps=np.full(n, fps),
  )
  columns.update(columns_over)
  path = score.validation_errors_path(run)
  np.savez(path, **columns)
  return path


def test_threshold_override_stored_and_recalibrated(run):
  assert score.resolve_threshold(run, threshold=0.3).value == 0.3
  stored = score.resolve_threshold(run)
  assert stored.value == THRESHOLD and stored.false_events_per_hour == 2.0
  assert stored.event_rule == events.EventRule(1.0, 0.5) and "too short" in stored.warning
  assert score.resolve_threshold(run, false_events_per_hour=2.0).value == THRESHOLD
  # 60 s at 10 fps of quiet frames with five bumps of 5 frames, peaks 0.9, 0.8, ..., 0.5.
  values = np.random.default_rng(0).random(600) * 0.1
  for k, peak in enumerate([0.9, 0.8, 0.7, 0.6, 0.5]):
    values[100 * k + 50 : 100 * k + 55] = peak
  cache = _cache_validation_errors(run, values, fps=10.0)
  try:
    by_frames = score.resolve_threshold(run, false_alarm_rate=0.01)  # 6 of 600 frames.
    two_events = score.resolve_threshold(run, false_events_per_hour=120.0)  # 2 in 1/60 h.
    three_events = score.resolve_threshold(run, false_events_per_hour=180.0)
  finally:
    cache.unlink()
  assert by_frames.value == pytest.approx(0.8) and by_frames.false_alarm_rate == 0.01
  assert np.mean(values > by_frames.value) <= 0.01
  assert (two_events.value, three_events.value) == (pytest.approx(0.7), pytest.approx(0.6))
  assert two_events.false_events_per_hour == 120.0 and "too short" in two_events.warning
  with pytest.raises(ValueError, match="pass one of them"):
    score.resolve_threshold(run, false_alarm_rate=0.01, false_events_per_hour=2.0)


def test_validation_error_cache_is_keyed_by_step(run):
  # A resumed run's new checkpoint must not reuse the old errors; every named score shares them.
  cache = score.validation_errors_path(run)
  assert cache.name == f"validation_errors_step{run.step}.npz"
  resumed = dataclasses.replace(run, step=run.step + 1)
  assert score.validation_errors_path(resumed) != cache


def test_failed_writes_leave_no_temporary_file(run, tmp_path, monkeypatch):
  path = fakes.write_disc_clip(tmp_path / "clip.mp4", 9)
  scores = score.score_video(run, path, progress=False)
  out = tmp_path / "out"
  out.mkdir()

  def broken_overlay(*args):
    raise RuntimeError("overlay failed")

  monkeypatch.setattr(score, "draw_overlay", broken_overlay)
  with pytest.raises(RuntimeError, match="overlay failed"):
    score.write_annotated_video(scores, THRESHOLD, out / "clip_annotated.mp4")
  assert not list(out.iterdir())


def test_a_video_failing_mid_decode_raises_instead_of_hanging(
    run, errors_fn, tmp_path, monkeypatch
):
  """A file that probes fine but fails after some frames: the error reaches the caller.

  Before mouseflax.threads, the decode stage's failure stopped the preprocessing stage, which then
  dropped its own failure: score_video waited forever on an empty queue.
  """
  path = fakes.write_disc_clip(tmp_path / "clip.avi", 4 * T)
  decode = video.iter_gray_frames

  def fails_mid_stream(*args, **kwargs):
    frames = decode(*args, **kwargs)
    for _ in range(2 * T + 3):
      yield next(frames)
    raise video.VideoError(f"{path}: corrupt packet after frame {2 * T + 2}")

  monkeypatch.setattr(video, "iter_gray_frames", fails_mid_stream)
  outcome = {}

  def target():
    try:
      score.score_video(run, path, batch_size=1, errors_fn=errors_fn, progress=False)
    except video.VideoError as e:
      outcome["error"] = e

  thread = threading.Thread(target=target, daemon=True)
  thread.start()
  thread.join(DEADLINE_S)
  assert not thread.is_alive(), f"score_video still runs after {DEADLINE_S} s: a hang"
  assert "corrupt packet" in str(outcome.get("error")), outcome


def test_cli_exit_status_and_summary(run, tmp_path, capsys):
  good = fakes.write_disc_clip(tmp_path / "good.avi", 9)
  bad = tmp_path / "bad.avi"
  bad.write_bytes(b"\x00" * 100)
  status = score.run_cli(
      str(run.workdir), [str(good), str(bad)], str(tmp_path / "out"), progress=False
  )
  printed = capsys.readouterr().out
  assert status == score.EXIT_SOME_FAILED
  assert f"FAILED {bad}" in printed and f"ok {good}" in printed
  assert (tmp_path / "out" / "good_scores.csv").is_file()


def test_cli_without_a_trained_run_exits_2(tmp_path):
  command = [
      sys.executable,
      "-m",
      "mouseflax.score",
      f"--workdir={tmp_path / 'no_run'}",
      f"--video={tmp_path / 'any.mp4'}",
      f"--output_dir={tmp_path / 'out'}",
  ]
  out = subprocess.run(command, capture_output=True, text=True, cwd=fakes.REPO, check=False)
  assert out.returncode == score.EXIT_NO_RUN, out.stderr[-2000:]
  assert "is not a finished training run" in out.stderr or "does not exist" in out.stderr
