"""Live monitoring (mouseflax.monitor) of a synthetic cage recording played back as a camera.

The run is the tiny CAE of `trained_scene` (conftest.py); the recording has an injected flashing
square. Checked: the event is written soon after the anomaly starts and its clip holds the frames
before it; an interrupted source resumes with every frame's row exactly once; files rotate at local
midnight; --on_event gets the event's fields and its failure does not stop monitoring; Ctrl-C and
SIGTERM stop cleanly; bad input gives one clear error.
"""

import csv
import dataclasses
import datetime
import os
import pathlib
import signal
import threading
import time

import cv2
import numpy as np
import pytest

from benchmarks import monitor_latency
from configs import default
from mouseflax import clips
from mouseflax import events
from mouseflax import monitor
from mouseflax import score
from mouseflax import streams
from mouseflax import video

T = streams.SEQUENCE_LENGTH
FAIL_AT = 61  # The interrupted source fails before this frame (mid-window).
# An event is due T - 1 frame intervals after its first frame plus one model call; generous slack
# for a loaded 2-core machine (measured: ~0.3 s at 25 fps).
EVENT_DELAY_SLACK_S = 1.5
POLL_S = 0.01
WAIT_S = 60.0
CLIP_BEFORE_S = 1.0
CLIP_AFTER_S = 0.4
BRIGHT = 200  # Grey level above the scene (floor <= 167, mouse 110): the square is 255.


@pytest.fixture(scope="module")
def run(trained_scene):
  return score.load_run(trained_scene.workdir)


@pytest.fixture(scope="module")
def errors_fn(run):
  return monitor.make_errors_fn(run)


def read_rows(out: pathlib.Path, prefix: str) -> list[dict[str, str]]:
  rows = []
  for path in sorted(out.glob(f"{prefix}_*.csv")):
    with path.open(newline="") as f:
      rows += list(csv.DictReader(f))
  return rows


def make_monitor(run, errors_fn, source, out, rule=None, **options) -> monitor.Monitor:
  """A monitor of `source` with the run's threshold and event rule (or `rule`)."""
  threshold = score.resolve_threshold(run)
  if rule is not None:
    threshold = dataclasses.replace(threshold, event_rule=rule)
  if isinstance(source, (str, pathlib.Path)):
    source = monitor.VideoSource(str(source))
  return monitor.Monitor(
      run, threshold, source, out, monitor.MonitorOptions(**options), errors_fn=errors_fn
  )


def anomaly_event(events: list[dict[str, str]], anomaly: tuple[int, int]) -> dict[str, str]:
  """The first `started` row of an event that begins inside the anomaly (or right before)."""
  return next(
      e
      for e in events
      if e["status"] == monitor.STARTED and anomaly[0] - T <= int(e["start_frame"]) < anomaly[1]
  )


def wall(text: str) -> datetime.datetime:
  return datetime.datetime.fromisoformat(text)


def source_frames(path: pathlib.Path, size: tuple[int, int]) -> np.ndarray:
  return np.stack(
      [cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in video.iter_gray_frames(path)]
  )


def clip_frames(path: pathlib.Path) -> np.ndarray:
  cap = cv2.VideoCapture(str(path))
  frames = []
  while (frame := cap.read()[1]) is not None:
    frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
  cap.release()
  return np.stack(frames)


def test_realtime_event_is_written_soon_and_its_clip_shows_what_came_before(
    run, errors_fn, trained_scene, tmp_path
):
  out = tmp_path / "out"
  mon = make_monitor(
      run,
      errors_fn,
      trained_scene.clip,
      out,
      rule=events.rule_from_config(default.get_config().eval),  # Merges; a shortest event.
      realtime=True,
      clip_before_s=CLIP_BEFORE_S,
      clip_after_s=CLIP_AFTER_S,
  )
  result = {}
  worker = threading.Thread(target=lambda: result.update(stats=mon.run()))
  worker.start()
  seen = None  # Wall-clock time the test first sees the anomaly's event in the events CSV.
  while worker.is_alive() and seen is None:
    try:
      event = anomaly_event(read_rows(out, monitor.EVENTS_PREFIX), trained_scene.anomaly)
      seen = datetime.datetime.now()
    except StopIteration:
      time.sleep(POLL_S)
  worker.join()
  stats, fps = result["stats"], mon.source.fps
  assert seen is not None, "no event in the anomaly"
  rows = read_rows(out, monitor.SCORES_PREFIX)
  assert [int(r["frame"]) for r in rows] == list(range(trained_scene.num_frames))
  onset = wall(rows[int(event["start_frame"])]["time"])  # When its first frame was read.
  bound = datetime.timedelta(seconds=T / fps + EVENT_DELAY_SLACK_S)
  assert seen - onset <= bound and wall(event["written_time"]) - onset <= bound
  assert stats.dropped == 0 and stats.unscored_rows == 0
  assert max(stats.latency_ms) < (T / fps + EVENT_DELAY_SLACK_S) * 1000

  # The clip: CLIP_BEFORE_S of frames before the event's first frame, the anomaly, CLIP_AFTER_S
  # after the event's last frame. The flashing square (bright, 2 frames on, 2 off) pins each clip
  # frame to its source frame.
  ended = next(
      e
      for e in read_rows(out, monitor.EVENTS_PREFIX)
      if e["event"] == event["event"] and e["status"] == monitor.ENDED
  )
  first = int(event["start_frame"]) - round(CLIP_BEFORE_S * fps)
  last = min(int(ended["end_frame"]) + round(CLIP_AFTER_S * fps), trained_scene.num_frames - 1)
  frames = clip_frames(out / monitor.CLIPS_DIR / f"{event['event']}{clips.SUFFIX}")
  assert len(frames) == last - first + 1
  reference = source_frames(trained_scene.clip, (frames.shape[2], frames.shape[1]))
  square = lambda images: images.reshape(len(images), -1).max(axis=1) > BRIGHT
  np.testing.assert_array_equal(square(frames), square(reference[first : last + 1]))
  assert not square(frames[: trained_scene.anomaly[0] - first]).any()  # Before: no square.
  assert square(frames).any()


class FlakySource(monitor.VideoSource):
  """A file that fails once before frame FAIL_AT and cannot be reopened at the first attempt;
  `live` makes it look like a camera (the monitor then treats the failure as an interruption)."""

  def __init__(self, path, live: bool):
    self.is_live, self.failed, self.refusals = live, False, 1
    self.at_end = lambda: None  # A live source never ends by itself: the test stops the monitor.
    super().__init__(str(path))

  @property
  def live(self) -> bool:
    return self.is_live

  def read(self):
    if self.position == FAIL_AT and not self.failed:
      self.failed = True
      return None
    frame = super().read()
    if frame is None and self.failed:
      self.at_end()
    return frame

  def reopen(self):
    if self.failed and self.refusals:
      self.refusals -= 1
      raise monitor.SourceError("simulated: the source is still down")
    super().reopen()


@pytest.mark.parametrize("live", [False, True])
def test_an_interrupted_source_resumes_without_lost_or_duplicated_rows(
    run, errors_fn, trained_scene, tmp_path, live
):
  options = dict(queue_frames=trained_scene.num_frames, reconnect_initial_s=0.01, clips=False)
  reference = make_monitor(run, errors_fn, trained_scene.clip, tmp_path / "ref", **options)
  reference.run()
  source = FlakySource(trained_scene.clip, live)
  flaky = make_monitor(run, errors_fn, source, tmp_path / "out", **options)
  source.at_end = flaky.stop.set
  stats = flaky.run()
  rows = read_rows(tmp_path / "out", monitor.SCORES_PREFIX)
  assert [int(r["frame"]) for r in rows] == list(range(trained_scene.num_frames))
  gaps = read_rows(tmp_path / "out", monitor.GAPS_PREFIX)
  assert len(gaps) == 1 and "came back after 2 attempt(s)" in gaps[0]["reason"]
  assert stats.gaps == 1 and stats.unscored_rows == 0
  expected = [float(r["score"]) for r in read_rows(tmp_path / "ref", monitor.SCORES_PREFIX)]
  got = [float(r["score"]) for r in rows]
  if live:  # Frames after the failure start a new flow; the window before it is unchanged.
    before = FAIL_AT // T * T
    np.testing.assert_allclose(got[:before], expected[:before], rtol=1e-6)
    assert got[FAIL_AT:] != expected[FAIL_AT:]
  else:  # A file resumes where it failed: the same rows as without the failure.
    np.testing.assert_allclose(got, expected, rtol=1e-6)


class FakeClock:
  """Wall-clock times that step by `step` at each call, from `start` (thread-safe)."""

  def __init__(self, start: datetime.datetime, step: datetime.timedelta):
    self.now, self.step, self.lock = start, step, threading.Lock()

  def __call__(self) -> datetime.datetime:
    with self.lock:
      self.now += self.step
      return self.now


def test_files_rotate_at_local_midnight(run, errors_fn, trained_scene, tmp_path):
  midnight = datetime.datetime(2031, 1, 1)
  clock = FakeClock(midnight - datetime.timedelta(seconds=2), datetime.timedelta(seconds=0.04))
  mon = make_monitor(run, errors_fn, trained_scene.clip, tmp_path, clips=False)
  mon.clock = clock
  mon.run()
  old, new = (tmp_path / f"{monitor.SCORES_PREFIX}_{d}.csv" for d in ("2030-12-31", "2031-01-01"))
  with old.open() as f:
    before = list(csv.DictReader(f))
  with new.open() as f:
    after = list(csv.DictReader(f))
  assert before and after
  assert all(wall(r["time"]) < midnight for r in before)
  assert all(wall(r["time"]) >= midnight for r in after)
  frames = [int(r["frame"]) for r in before + after]
  assert frames == list(range(trained_scene.num_frames))


def test_on_event_gets_the_fields_and_its_failure_does_not_stop_monitoring(
    run, errors_fn, trained_scene, tmp_path, caplog
):
  notes = tmp_path / "notes.txt"
  command = f"sh -c 'echo {{event}} {{start_frame}} {{clip}} >> {notes}; exit 3'"
  mon = make_monitor(run, errors_fn, trained_scene.clip, tmp_path / "out", on_event=command)
  stats = mon.run()
  assert len(read_rows(tmp_path / "out", monitor.SCORES_PREFIX)) == trained_scene.num_frames
  started = [
      e for e in read_rows(tmp_path / "out", monitor.EVENTS_PREFIX) if e["status"] == "started"
  ]
  assert started and stats.on_event_failures == len(started)
  lines = [line.split() for line in notes.read_text().splitlines()]
  assert [line[:2] for line in lines] == [[e["event"], e["start_frame"]] for e in started]
  assert all(pathlib.Path(line[2]).is_file() for line in lines)  # The clips, complete.
  assert "exited with status 3 (monitoring goes on)" in caplog.text
  with pytest.raises(ValueError, match="unknown field 'when'"):
    monitor.CommandRunner("echo {when}", 1.0)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_flushes_rows_and_finishes_the_clip(trained_scene, tmp_path, signum):
  out = tmp_path / "out"

  def stop_at_first_event():
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
      if any(e["status"] == "started" for e in read_rows(out, monitor.EVENTS_PREFIX)):
        os.kill(os.getpid(), signum)
        return
      time.sleep(POLL_S)

  threading.Thread(target=stop_at_first_event, daemon=True).start()
  options = monitor.MonitorOptions(realtime=True, clip_after_s=CLIP_AFTER_S)
  status = monitor.run_cli(
      str(trained_scene.workdir), str(trained_scene.clip), str(out), options=options
  )
  assert status == 0
  frames = [int(r["frame"]) for r in read_rows(out, monitor.SCORES_PREFIX)]
  assert frames == list(range(len(frames))) and len(frames) < trained_scene.num_frames
  events = read_rows(out, monitor.EVENTS_PREFIX)
  started = {e["event"] for e in events if e["status"] == monitor.STARTED}
  assert started and started == {e["event"] for e in events if e["status"] == monitor.ENDED}
  for event in started:
    assert len(clip_frames(out / monitor.CLIPS_DIR / f"{event}{clips.SUFFIX}")) > 0
  assert not list(out.rglob("*.tmp*"))
  assert signal.getsignal(signum) is not None  # The previous handler is back.


def test_bad_input_gives_one_clear_error(trained_scene, tmp_path, capsys):
  workdir, clip = str(trained_scene.workdir), str(trained_scene.clip)
  cases = {
      (workdir, str(tmp_path / "missing.mp4"), str(tmp_path / "o1")): "no such file",
      (workdir, "97", str(tmp_path / "o2")): "cannot open this camera",
      (str(tmp_path), clip, str(tmp_path / "o3")): "not a finished training run",
      (workdir, clip, str(pathlib.Path(clip) / "sub")): "cannot be written",
  }
  for (w, source, out), message in cases.items():
    assert monitor.run_cli(w, source, out) == monitor.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_latency_benchmark_smoke(run, capsys):
  """benchmarks/monitor_latency.py at a tiny size (the test's run): its table is its JSON."""
  report = monitor_latency.measure([run], "quick", num_frames=40)
  print(monitor_latency.format_table(report))
  (result,) = report["results"]
  assert result["model_width"] == run.config.model.width and result["camera_dropped"] == 0
  assert result["capacity_fps"] > 0 and result["highest_fps_kept"] >= monitor_latency.CAMERA_FPS
  assert result["trials"][0]["fps"] == monitor_latency.LADDER_START_FPS
  latency = result["camera_latency_ms"]
  row = (
      f"| {result['model_width']} | {result['model_call_ms']:.1f} | {result['capacity_fps']:.0f} | "
  )
  row += f"{result['highest_fps_kept']:.0f} | {latency['median']:.0f} | {latency['p95']:.0f} |"
  assert row in capsys.readouterr().out
  assert report["cpu"] and len(report["load_average_before"]) == 3
