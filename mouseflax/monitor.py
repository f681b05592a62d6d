"""Live monitoring: score a camera's frames as they arrive, log them per day, clip every event.

  python -m mouseflax.monitor --workdir=W --source=<camera index | stream URL | video file> \
      --output_dir=O [--realtime] [--on_event='notify-send "event {event}" "score {score}"'] \
      [--threshold=X | --false_alarm_rate=R] [--clip_before_s=3] [--clip_after_s=2] ...

Source: a camera index (`0`), a stream URL (`rtsp://...`, `http://...`; anything with `://`) or a
video file. A file is read as fast as scoring goes, or at its own frame rate with `--realtime` (it
then behaves like a camera: that is how the monitor is tested).

Threads: a reader (decode, grayscale, the small copy for clips), the scorer (the caller's thread:
preprocessing, the model, the files), one writer per event clip, one runner of `--on_event`. The
reader hands frames to the scorer through a queue of `--queue_frames` frames. Drop policy: a file
read without --realtime never drops (the reader waits for the scorer); a live source (camera,
stream, a file with --realtime) drops the newest frame when the queue is full (the scorer fell
behind), so latency stays bounded; dropped frames get no row, their count is logged and written to
the gaps CSV, and scoring restarts after them as after an interruption.

Scoring is `mouseflax.score`'s: the run's preprocess.json, 8-frame windows, the run's score rule and
threshold. A window is scored as soon as its 8th frame is read (one window per model call), and its
8 rows are written at once: a frame waits at most 7 frame intervals plus one model call
(`latency_ms`, frame read -> row written). Consecutive windows do not overlap. At an interruption
or at the end, the last frames that do not fill a window are scored with the window of the last 8
frames (as `score` does at the end of a video; their rows get that window's error only); when fewer
than 8 frames came since the previous interruption, their rows have an empty score (not flagged).

Events: after each window, `score.segments` runs on the scores since the last interruption (at
least `EVENT_CONTEXT_S`) with the run's event rule (`mouseflax.events`, the rule the threshold was
calibrated with): an event that was not there before starts (events CSV row `started`,
`--on_event` runs) once it is `event_min_duration_s` long, and it ends (row `ended`) once
`event_merge_gap_s` of unflagged frames follow it, when no later flag can join it. An interruption
closes an open event.

Files in O, one set per local day (DATE = YYYY-MM-DD of the frame's, event's or gap's wall-clock
time; a new set begins at local midnight; existing files are appended to, header once):
- `scores_DATE.csv`: `time,frame,error_gray,error_flow,score,flagged,latency_ms`; `frame` counts the
  frames read since the monitor started (a file source: its frame index).
- `events_DATE.csv`: `event,status,start_time,start_frame,end_time,end_frame,duration_s,peak_score,
  threshold,clip,written_time`; `status` is `started` (end fields empty, peak so far) or `ended`.
- `gaps_DATE.csv`: `start_time,end_time,seconds,frames_dropped,reason` (the source failed and came
  back, or frames were dropped).
- `clips/<event>.webm`: the event from `--clip_before_s` before its first flagged frame (from a ring
  buffer of recent frames) to `--clip_after_s` after its last one, at most `--clip_max_s`; written
  through a temporary file, renamed when complete.
The CSVs are append-only logs: rows are written in whole lines and flushed as soon as they exist,
so a killed monitor loses nothing written before.

Interruptions: a source that fails (no frame) is reopened with exponential backoff
(`--reconnect_initial_s` doubling up to `--reconnect_max_s`) until it comes back or the monitor
stops; the gap is logged and written to the gaps CSV. A file is reopened at the frame where it
failed, so its rows are exactly those of an uninterrupted run; it ends when no frame follows.
Ctrl-C / SIGTERM: the reader stops, the frames already read are scored, the rows flushed, the open
event ended and its clip finished.

`--on_event` is split like a shell line (no shell runs it), then each word's `{field}`s are filled
with the event's fields (`ON_EVENT_FIELDS`). It runs in a background thread, one at a time, with a
timeout; a failure (exit status, missing program, timeout) is logged and monitoring goes on.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Sequence
import dataclasses
import datetime
import itertools
import pathlib
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from absl import app
from absl import flags
from absl import logging
import cv2
import jax
import numpy as np

from mouseflax import clips
from mouseflax import events
from mouseflax import fileio
from mouseflax import named_scores
from mouseflax import preprocess
from mouseflax import score
from mouseflax import streams
from mouseflax import video

T = streams.SEQUENCE_LENGTH
QUEUE_FRAMES = 64  # Reader -> scorer: ~2 s at 30 fps before a live source drops frames.
QUEUE_POLL_S = 0.1  # How often blocked threads check whether the monitor stops.
CLIP_BEFORE_S = 3.0
CLIP_AFTER_S = 2.0
CLIP_MAX_S = 60.0
CLIP_QUEUE_S = 10.0  # Frames an event clip's writer may lag behind before frames are left out.
EVENT_CONTEXT_S = 10.0  # Scores kept for score.segments besides an open event.
RECONNECT_INITIAL_S = 1.0
RECONNECT_MAX_S = 30.0
OPEN_TIMEOUT_MS = 10000  # Stream URLs: give up opening / reading after this long (then reconnect).
ON_EVENT_TIMEOUT_S = 60.0
ON_EVENT_QUEUE = 100  # Commands waiting to run; more are logged and skipped.
STOP_JOIN_S = 5.0  # At stop: how long to wait for a thread stuck in a source or a command.
OUTPUT_TAIL_CHARS = 500  # Of a failed command's output, in the log.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"  # Local wall-clock time; the microseconds are cut to ms.
MS_DIGITS = 3
DATE_FORMAT = "%Y-%m-%d"
EVENT_ID_FORMAT = "%Y%m%d-%H%M%S"
MS_PER_S = 1000.0
SCORES_PREFIX, EVENTS_PREFIX, GAPS_PREFIX = "scores", "events", "gaps"
CLIPS_DIR = "clips"
SCORE_COLUMNS = ("time", "frame", "error_gray", "error_flow", "score", "flagged", "latency_ms")
EVENT_COLUMNS = (
    "event",
    "status",
    "start_time",
    "start_frame",
    "end_time",
    "end_frame",
    "duration_s",
    "peak_score",
    "threshold",
    "clip",
    "written_time",
)
GAP_COLUMNS = ("start_time", "end_time", "seconds", "frames_dropped", "reason")
STARTED, ENDED = "started", "ended"
ON_EVENT_FIELDS = (
    "event",  # The event's id (also the clip's file stem).
    "start_time",  # Local wall-clock time of its first flagged frame (ISO 8601).
    "start_s",  # Seconds from the monitor's first frame to it.
    "start_frame",
    "score",  # The highest score so far.
    "threshold",
    "clip",  # Path the clip is written to (complete once the event ends).
    "source",
)


SOURCE_HINTS = {
    "camera": "check the device index and that no other program holds the camera",
    "stream": "check the URL and the network",
    "file": "check that it is a video ffmpeg can play",
}


class SourceError(ValueError):
  """The source cannot be opened (camera index, stream URL or file); the message names it."""


# --------------------------------------------------------------------------------------------------
# Sources.


class VideoSource:
  """Frames of a camera, a stream or a file through OpenCV; reopened where it failed.

  `read()` returns a BGR frame or None (failure or end); `reopen()` raises SourceError while the
  source cannot be opened. A file is reopened at the frame it failed at (`position`).
  """

  def __init__(self, spec: str):
    self.spec = spec
    if spec.isdigit():
      self.kind, self.target = "camera", int(spec)
    elif "://" in spec:
      self.kind, self.target = "stream", spec
    else:
      self.kind, self.target = "file", str(pathlib.Path(spec).expanduser())
    self.position = 0  # Frames read so far.
    self._cap: cv2.VideoCapture | None = None
    self.reopen()
    fps = float(self._cap.get(cv2.CAP_PROP_FPS))
    self.fps = fps if fps > 0 else events.FALLBACK_FPS
    self.name = pathlib.Path(self.target).name if self.kind == "file" else str(spec)

  @property
  def live(self) -> bool:
    """Frames arrive in real time and are lost while the source is down (not a file)."""
    return self.kind != "file"

  def _open(self) -> cv2.VideoCapture:
    if self.kind == "camera":
      return cv2.VideoCapture(self.target)
    if self.kind == "file" and not pathlib.Path(self.target).is_file():
      raise SourceError(f"--source={self.spec}: no such file (nor a camera index or a URL).")
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS]
    timeouts += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, OPEN_TIMEOUT_MS]
    return cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, timeouts)

  def reopen(self) -> None:
    self.close()
    cap = self._open()
    if not cap.isOpened():
      raise SourceError(
          f"--source={self.spec}: cannot open this {self.kind}: {SOURCE_HINTS[self.kind]}."
      )
    if self.kind == "file" and self.position:
      try:
        video.seek(cap, self.position, pathlib.Path(self.target))
      except video.VideoError:  # It ends before `position`: at its end, `read` gives no frame.
        cap.release()
        return
    self._cap = cap

  def read(self) -> np.ndarray | None:
    try:
      ok, frame = self._cap.read() if self._cap is not None else (False, None)
    except cv2.error:  # A broken stream can raise instead of returning no frame.
      ok, frame = False, None
    if not ok:
      return None
    self.position += 1
    return frame

  def close(self) -> None:
    if self._cap is not None:
      self._cap.release()
      self._cap = None


# --------------------------------------------------------------------------------------------------
# What the reader hands to the scorer.


@dataclasses.dataclass
class Frame:
  index: int
  wall: datetime.datetime  # Local wall-clock time it was read.
  read_s: float  # time.monotonic() when it was read.
  gray: np.ndarray  # uint8 [H, W]
  small: np.ndarray | None  # BGR at clip size (None without clips).
  dropped_before: int = 0  # Frames dropped (queue full) between the previous frame and this one.


@dataclasses.dataclass
class Interrupted:
  """The source failed (frames are lost: a live source); the scorer closes what is open."""

  wall: datetime.datetime


@dataclasses.dataclass
class Resumed:
  """The source came back after failing at `start`."""

  start: datetime.datetime
  end: datetime.datetime
  attempts: int


@dataclasses.dataclass
class _Failure:
  error: BaseException


@dataclasses.dataclass(frozen=True)
class MonitorOptions:
  """How the monitor reads, clips and notifies (module docstring; flags of the same names)."""

  realtime: bool = False
  pace_fps: float | None = None  # --realtime at this rate instead of the file's (benchmarks).
  queue_frames: int = QUEUE_FRAMES
  clips: bool = True
  clip_before_s: float = CLIP_BEFORE_S
  clip_after_s: float = CLIP_AFTER_S
  clip_max_s: float = CLIP_MAX_S
  reconnect_initial_s: float = RECONNECT_INITIAL_S
  reconnect_max_s: float = RECONNECT_MAX_S
  on_event: str = ""
  on_event_timeout_s: float = ON_EVENT_TIMEOUT_S


def _stamp(wall: datetime.datetime) -> str:
  return wall.strftime(TIME_FORMAT)[: -(6 - MS_DIGITS)]


class _Reader:
  """The reader thread: frames -> queue; reconnects; paces a --realtime file (module docstring)."""

  def __init__(self, source, options: MonitorOptions, stop: threading.Event, clock):
    self.source, self.options, self.stop, self.clock = source, options, stop, clock
    self.clip_size: tuple[int, int] | None = None  # Of the first frame, when clips are made.
    self.items: queue.Queue = queue.Queue(options.queue_frames)
    self.done = threading.Event()
    self.dropped = 0
    self.paced = options.realtime and not source.live
    self.drops_newest = source.live or options.realtime
    self.thread = threading.Thread(target=self._run, name="mouseflax-monitor-read", daemon=True)

  def _put(self, item) -> None:
    """Blocking put that gives up when the monitor stops (control items and non-live frames)."""
    while not self.stop.is_set():
      try:
        self.items.put(item, timeout=QUEUE_POLL_S)
        return
      except queue.Full:
        continue

  def _frame(self, bgr: np.ndarray, index: int, dropped_before: int) -> Frame:
    small = None
    if self.options.clips:
      self.clip_size = self.clip_size or clips.clip_size(bgr.shape[1], bgr.shape[0])
      small = clips.fit(bgr, self.clip_size)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
    return Frame(index, self.clock(), time.monotonic(), gray, small, dropped_before)

  def _reconnect(self) -> np.ndarray | None:
    """Reopens the source (backoff) until a frame comes; None at a file's end or at stop."""
    started, delay, attempts = self.clock(), self.options.reconnect_initial_s, 0
    if self.source.live:
      self._put(Interrupted(started))
    while not self.stop.is_set():
      attempts += 1
      try:
        self.source.reopen()
        frame = self.source.read()
      except SourceError as e:
        logging.warning("%s (attempt %d); retrying in %.1f s.", e, attempts, delay)
        frame = None
      else:
        if frame is None and not self.source.live:
          return None  # The file has no frame where it stopped: its end.
      if frame is not None:
        self._put(Resumed(started, self.clock(), attempts))
        return frame
      self.stop.wait(delay)
      delay = min(2 * delay, self.options.reconnect_max_s)
    return None

  def _run(self) -> None:
    try:
      self._loop()
    except BaseException as e:  # pylint: disable=broad-except  # Raised again by the scorer.
      self._put(_Failure(e))
    finally:
      self.source.close()
      self.done.set()

  def _loop(self) -> None:
    index, dropped_before = 0, 0
    origin, index_at_origin = time.monotonic(), 0  # Pacing restarts after an interruption.
    rate = self.options.pace_fps or self.source.fps
    while not self.stop.is_set():
      bgr = self.source.read()
      if bgr is None:
        bgr = self._reconnect()
        if bgr is None:
          return
        origin, index_at_origin = time.monotonic(), index
      if self.paced:  # A camera paces itself; a --realtime file waits for its frame's time.
        due = origin + (index - index_at_origin) / rate
        if self.stop.wait(max(0.0, due - time.monotonic())):
          return
      frame = self._frame(bgr, index, dropped_before)
      index += 1
      if not self.drops_newest:
        self._put(frame)
        continue
      try:
        self.items.put_nowait(frame)
        dropped_before = 0
      except queue.Full:
        self.dropped += 1
        dropped_before += 1


# --------------------------------------------------------------------------------------------------
# Files.


def _csv_line(values: Iterable[Any]) -> str:
  """One CSV line (values are numbers, times and file names: quoted only when they need it)."""
  cells = []
  for v in values:
    text = "" if v is None else str(v)
    if any(c in text for c in ',"\n'):
      text = '"' + text.replace('"', '""') + '"'
    cells.append(text)
  return ",".join(cells) + "\n"


class DailyCsv:
  """An append-only CSV per local day, `<prefix>_<DATE>.csv`: header once, whole lines, flushed."""

  def __init__(self, output_dir: pathlib.Path, prefix: str, columns: Sequence[str]):
    self.output_dir, self.prefix, self.columns = output_dir, prefix, columns
    self.day: datetime.date | None = None
    self._file = None

  def path(self, day: datetime.date) -> pathlib.Path:
    return self.output_dir / f"{self.prefix}_{day.strftime(DATE_FORMAT)}.csv"

  def _open(self, day: datetime.date) -> None:
    self.close()
    path = self.path(day)
    try:
      self._file = path.open("a", encoding="utf-8", newline="")
    except OSError as e:
      raise fileio.explain(e, path) from e
    if self._file.tell() == 0:
      self._file.write(_csv_line(self.columns))
    self.day = day

  def write(self, rows: Sequence[tuple[datetime.datetime, Sequence[Any]]]) -> None:
    """Appends (wall time, values) rows, each to the file of its time's day; flushes."""
    for day, group in itertools.groupby(rows, key=lambda r: r[0].date()):
      if day != self.day:
        self._open(day)
      self._file.write("".join(_csv_line(values) for _, values in group))
      self._file.flush()

  def close(self) -> None:
    if self._file is not None:
      self._file.close()
      self._file = None
      self.day = None


# --------------------------------------------------------------------------------------------------
# Events.


@dataclasses.dataclass
class Event:
  """One event: a flagged segment of the live scores."""

  id: str
  start_frame: int
  start_time: datetime.datetime
  peak_score: float
  clip: pathlib.Path | None
  end_frame: int | None = None
  end_time: datetime.datetime | None = None
  last_flagged: int = -1  # Its latest flagged frame so far (the end frame once it ended).

  def row(self, status: str, threshold: float, written: datetime.datetime, fps: float) -> list:
    ended = status == ENDED
    duration = (self.end_frame - self.start_frame + 1) / fps if ended else None
    return [
        self.id,
        status,
        _stamp(self.start_time),
        self.start_frame,
        _stamp(self.end_time) if ended else None,
        self.end_frame if ended else None,
        None if duration is None else f"{duration:.3f}",
        score.FLOAT_FORMAT.format(self.peak_score),
        score.FLOAT_FORMAT.format(threshold),
        "" if self.clip is None else self.clip.name,
        _stamp(written),
    ]


class EventTracker:
  """Finds events in the scores since the last interruption with `score.segments`."""

  def __init__(self, threshold: score.Threshold, fps: float, source: str, clips_dir: pathlib.Path):
    self.threshold, self.fps, self.source, self.clips_dir = threshold, fps, source, clips_dir
    rule = threshold.event_rule
    # An event is over once `link` unflagged frames follow its last flagged frame (no later flag
    # can merge into it: `events.EventRule.link_frames`).
    self.link = rule.link_frames(fps)
    self.context = max(T, round(EVENT_CONTEXT_S * fps), self.link + rule.min_frames(fps))
    self.open: Event | None = None
    self._reset()

  def _reset(self) -> None:
    self.frames: list[int] = []
    self.walls: list[datetime.datetime] = []
    self.scores: list[float] = []
    self.closed_until = -1  # Buffer position of the last frame of the last closed event.

  def _segments(self) -> list[tuple[int, int]]:
    values = np.asarray(self.scores)
    nan = np.full(len(values), np.nan)
    recent = score.VideoScores(pathlib.Path(self.source), self.fps, nan, nan, values)
    return score.segments(recent, self.threshold)

  def _start(self, first: int) -> Event:
    wall = self.walls[first]
    event_id = f"{wall.strftime(EVENT_ID_FORMAT)}-{self.frames[first]}"
    return Event(
        id=event_id,
        start_frame=self.frames[first],
        start_time=wall,
        peak_score=-np.inf,
        clip=self.clips_dir / f"{event_id}{clips.SUFFIX}",
    )

  def _end(self, last: int) -> Event:
    event, self.open = self.open, None
    event.end_frame, event.end_time = self.frames[last], self.walls[last]
    event.last_flagged = event.end_frame
    self.closed_until = last
    return event

  def add(self, rows: Sequence[tuple[int, datetime.datetime, float]]) -> list[tuple[str, Event]]:
    """Adds scored (frame, wall time, score) rows; returns the events that started or ended."""
    for frame, wall, value in rows:
      self.frames.append(frame)
      self.walls.append(wall)
      self.scores.append(value if np.isfinite(value) else -np.inf)  # Unscored: not flagged.
    changes = []
    for first, last in self._segments():
      if last <= self.closed_until:
        continue
      if self.open is None:
        self.open = self._start(first)
        changes.append((STARTED, self.open))
      self.open.peak_score = max(self.open.peak_score, max(self.scores[first : last + 1]))
      self.open.last_flagged = self.frames[last]
      if len(self.scores) - 1 - last >= self.link:  # No later flag can join it: it is over.
        changes.append((ENDED, self._end(last)))
    self._trim()
    return changes

  def _trim(self) -> None:
    """Keeps the open event's scores and `context` frames (what score.segments may look back at)."""
    keep_from = len(self.scores) - self.context
    if self.open is not None:
      keep_from = min(keep_from, self.frames.index(self.open.start_frame))
    if keep_from > 0:
      del self.frames[:keep_from], self.walls[:keep_from], self.scores[:keep_from]
      self.closed_until -= keep_from

  def interrupt(self) -> list[tuple[str, Event]]:
    """The source failed: the open event ends at the last frame seen; scoring starts afresh."""
    changes = []
    if self.open is not None:  # It ends at its last flagged frame, as score.segments would end it.
      last = max(last for _, last in self._segments() if last > self.closed_until)
      changes.append((ENDED, self._end(last)))
    self._reset()
    return changes


# --------------------------------------------------------------------------------------------------
# Clips of events, from a ring buffer of recent frames.


class ClipRecorder:
  """Keeps the last `before` frames; each event's clip starts with them and ends `after` frames
  after the event's last flagged frame (at most `max_frames`).

  Whether a frame belongs to a clip is known only once the frames after it are scored: frames more
  than `after` past the event's latest flagged frame are held back until a later flag extends the
  event (they are written) or the event ends (they are dropped).
  """

  def __init__(self, options: MonitorOptions, fps: float, rule: events.EventRule):
    self.fps = fps
    self.before = round(options.clip_before_s * fps)
    self.after = round(options.clip_after_s * fps)
    self.max_frames = max(1, round(options.clip_max_s * fps))
    # An event is seen at most a window after it has lasted the rule's shortest event: keep that
    # much more.
    self.ring: collections.deque = collections.deque(maxlen=self.before + T + rule.min_frames(fps))
    self.active: dict[str, dict[str, Any]] = {}  # Event id -> its writer, event, held frames.
    self.writers: list[clips.BackgroundClipWriter] = []

  def frame(self, index: int, small: np.ndarray) -> None:
    self.ring.append((index, small))
    for event_id, clip in list(self.active.items()):
      clip["held"].append((index, small))
      self._advance(event_id)

  def start(self, event: Event) -> None:
    first = event.start_frame - self.before
    recent = [(i, f) for i, f in self.ring if i >= first]
    if not recent or event.clip is None:
      return
    size = (recent[0][1].shape[1], recent[0][1].shape[0])
    queued = max(1, round(CLIP_QUEUE_S * self.fps))
    writer = clips.BackgroundClipWriter(event.clip, self.fps, size, queued, block=False)
    self.writers.append(writer)
    self.active[event.id] = {
        "writer": writer,
        "event": event,
        "held": collections.deque(recent),
        "frames": 0,
        "ended": False,
    }
    self._advance(event.id)

  def end(self, event: Event) -> None:
    if event.id in self.active:
      self.active[event.id]["ended"] = True
      self._advance(event.id)

  def _advance(self, event_id: str) -> None:
    """Writes the held frames the clip now covers; finishes it once nothing more can belong."""
    clip = self.active[event_id]
    last = clip["event"].last_flagged + self.after
    held = clip["held"]
    while held and held[0][0] <= last and clip["frames"] < self.max_frames:
      clip["writer"].write(held.popleft()[1])
      clip["frames"] += 1
    past_end = bool(held) and held[0][0] > last
    if clip["frames"] >= self.max_frames or (clip["ended"] and past_end):
      self._finish(event_id)

  def _finish(self, event_id: str) -> None:
    writer = self.active.pop(event_id)["writer"]
    writer.close()
    if writer.left_out:
      logging.warning(
          "%s: %d frames left out (encoding fell behind).", writer.path, writer.left_out
      )

  def close(self, wait: bool) -> None:
    """Finishes every clip (at an interruption; `wait` for the writers at the end)."""
    for event_id in list(self.active):
      self._advance(event_id)
      if event_id in self.active:
        self._finish(event_id)
    self.ring.clear()
    for writer in self.writers:
      if (wait or not writer.is_alive()) and (error := writer.join()):
        logging.error("Event clip %s not written: %s", writer.path, error)
    self.writers = [w for w in self.writers if w.is_alive()]


# --------------------------------------------------------------------------------------------------
# --on_event.


class CommandRunner:
  """Runs `--on_event` for each event in a background thread, one at a time (module docstring)."""

  def __init__(self, template: str, timeout_s: float):
    self.words = shlex.split(template)
    self.timeout_s = timeout_s
    self.failures = 0
    try:
      [w.format(**{f: "" for f in ON_EVENT_FIELDS}) for w in self.words]
    except (KeyError, IndexError, ValueError) as e:
      raise ValueError(
          f"--on_event={template!r}: unknown field {e}; the fields are "
          f"{', '.join('{' + f + '}' for f in ON_EVENT_FIELDS)}."
      ) from e
    self.commands: queue.Queue = queue.Queue(ON_EVENT_QUEUE)
    self.thread = threading.Thread(target=self._run, name="mouseflax-on-event", daemon=True)
    self.thread.start()

  def submit(self, fields: dict[str, Any]) -> None:
    args = [w.format(**fields) for w in self.words]
    try:
      self.commands.put_nowait(args)
    except queue.Full:
      logging.error("--on_event: %d commands waiting; skipped: %s", ON_EVENT_QUEUE, args)

  def _run(self) -> None:
    while (args := self.commands.get()) is not None:
      try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=self.timeout_s)
      except (OSError, subprocess.TimeoutExpired) as e:
        self.failures += 1
        logging.error("--on_event failed (monitoring goes on): %s", e)
        continue
      if done.returncode:
        self.failures += 1
        logging.error(
            "--on_event %s exited with status %d (monitoring goes on): %s",
            args,
            done.returncode,
            (done.stderr or done.stdout)[-OUTPUT_TAIL_CHARS:].strip(),
        )

  def close(self, wait_s: float) -> None:
    self.commands.put(None)
    self.thread.join(wait_s)


# --------------------------------------------------------------------------------------------------
# The scorer.


@dataclasses.dataclass
class MonitorStats:
  """What a monitoring session did; `latency_ms` per row (frame read -> row written)."""

  frames: int = 0
  rows: int = 0
  unscored_rows: int = 0
  dropped: int = 0
  events: int = 0
  gaps: int = 0
  on_event_failures: int = 0
  latency_ms: list[float] = dataclasses.field(default_factory=list)
  seconds: float = 0.0
  first_read_s: float = np.nan  # time.monotonic() of the first and the last frame read.
  last_read_s: float = np.nan

  @property
  def read_fps(self) -> float:
    """The rate frames were read at (a source the monitor kept pace with: the source's rate)."""
    return (self.frames - 1) / (self.last_read_s - self.first_read_s) if self.frames > 1 else np.nan


@dataclasses.dataclass
class _Pending:
  frame: Frame
  gray: np.ndarray  # Preprocessed [h, w, 1] uint8.
  flow: np.ndarray  # [h, w, 2] FLOW_DTYPE.


class Monitor:
  """Scores a source live into per-day files (module docstring). `run()` until the source ends or
  `stop` is set."""

  def __init__(
      self,
      run: score.ScoringRun,
      threshold: score.Threshold,
      source: VideoSource,
      output_dir: str | pathlib.Path,
      options: MonitorOptions = MonitorOptions(),
      *,
      errors_fn: Callable | None = None,
      clock: Callable[[], datetime.datetime] = datetime.datetime.now,
      stop: threading.Event | None = None,
  ):
    self.scoring_run, self.threshold, self.source, self.options = run, threshold, source, options
    self.output_dir = score.check_output_dir(output_dir)
    self.clock = clock
    self.stop = stop or threading.Event()
    self.errors_fn = errors_fn or make_errors_fn(run)
    self.score_name, self.error_stats = score.score_name(run), score.error_stats(run)
    self.score_streams = score.score_streams(run)
    self.preprocessor = preprocess.FramePreprocessor(run.preprocess)
    self.files = {
        "scores": DailyCsv(self.output_dir, SCORES_PREFIX, SCORE_COLUMNS),
        "events": DailyCsv(self.output_dir, EVENTS_PREFIX, EVENT_COLUMNS),
        "gaps": DailyCsv(self.output_dir, GAPS_PREFIX, GAP_COLUMNS),
    }
    clips_dir = self.output_dir / CLIPS_DIR
    self.tracker = EventTracker(threshold, source.fps, source.name, clips_dir)
    self.recorder = (
        ClipRecorder(options, source.fps, threshold.event_rule) if options.clips else None
    )
    self.runner = (
        CommandRunner(options.on_event, options.on_event_timeout_s) if options.on_event else None
    )
    self.pending: list[_Pending] = []  # Frames of the window being filled.
    self.recent: collections.deque = collections.deque(maxlen=T)  # Last T preprocessed frames.
    self.first_wall: datetime.datetime | None = None
    self.last_wall: datetime.datetime | None = None
    self.stats = MonitorStats()

  # Windows -> rows.

  def _errors(self, window: Sequence[_Pending]) -> dict[str, np.ndarray]:
    gray = np.stack([p.gray for p in window])[None]
    flow = np.stack([p.flow for p in window])[None]
    return {s: np.asarray(v, np.float64)[0] for s, v in self.errors_fn(gray, flow).items()}

  def _write_rows(self, frames: Sequence[Frame], errors: dict[str, np.ndarray] | None) -> None:
    """Writes the rows of `frames` (errors: {error column: [len(frames)]}, None = unscored)."""
    n = len(frames)
    nan = np.full(n, np.nan)
    if errors is None:
      errors, values = {}, nan
    else:
      values = named_scores.compute(self.score_name, errors, self.error_stats, self.score_streams)
    rows, now = [], time.monotonic()
    for i, frame in enumerate(frames):
      latency = (now - frame.read_s) * MS_PER_S
      cells = [
          _stamp(frame.wall),
          frame.index,
          _number(errors.get("error_gray", nan)[i]),
          _number(errors.get("error_flow", nan)[i]),
          _number(values[i]),
          int(values[i] > self.threshold.value),
          f"{latency:.1f}",
      ]
      rows.append((frame.wall, cells))
      self.stats.latency_ms.append(latency)
    self.files["scores"].write(rows)
    self.stats.rows += n
    self.stats.unscored_rows += int(np.sum(~np.isfinite(values)))
    self._events(self.tracker.add([(f.index, f.wall, v) for f, v in zip(frames, values)]))

  def _score_window(self) -> None:
    errors = self._errors(self.pending)
    self._write_rows([p.frame for p in self.pending], errors)
    self.pending = []

  def _score_tail(self) -> None:
    """Rows of the frames that do not fill a window (module docstring), at a break or the end."""
    if not self.pending:
      return
    n, frames = len(self.pending), [p.frame for p in self.pending]
    if len(self.recent) == T:  # The last T frames: the window aligned to the end.
      errors = {s: v[T - n :] for s, v in self._errors(list(self.recent)).items()}
      self._write_rows(frames, errors)
    else:
      self._write_rows(frames, None)
    self.pending = []

  # Events and gaps.

  def _event_fields(self, event: Event) -> dict[str, Any]:
    return {
        "event": event.id,
        "start_time": _stamp(event.start_time),
        "start_s": f"{(event.start_time - self.first_wall).total_seconds():.3f}",
        "start_frame": event.start_frame,
        "score": score.FLOAT_FORMAT.format(event.peak_score),
        "threshold": score.FLOAT_FORMAT.format(self.threshold.value),
        "clip": "" if event.clip is None else str(event.clip),
        "source": self.source.spec,
    }

  def _events(self, changes: Sequence[tuple[str, Event]]) -> None:
    for status, event in changes:
      written = self.clock()
      row = event.row(status, self.threshold.value, written, self.source.fps)
      self.files["events"].write([(written, row)])
      logging.info(
          "Event %s %s (frame %s, score %.4g).",
          event.id,
          status,
          event.start_frame,
          event.peak_score,
      )
      if status == STARTED:
        self.stats.events += 1
        if self.recorder is None:
          event.clip = None
        else:
          self.recorder.start(event)
        if self.runner is not None:
          self.runner.submit(self._event_fields(event))
      elif self.recorder is not None:
        self.recorder.end(event)

  def _gap(self, start, end, dropped: int, reason: str) -> None:
    seconds = (end - start).total_seconds()
    logging.warning("Gap of %.1f s from %s: %s.", seconds, _stamp(start), reason)
    row = [_stamp(start), _stamp(end), f"{seconds:.3f}", dropped, reason]
    self.files["gaps"].write([(end, row)])
    self.stats.gaps += 1

  def _interrupt(self) -> None:
    """Frames were lost: score what is pending, end the open event and clips, restart the flow."""
    self._score_tail()
    self._events(self.tracker.interrupt())
    if self.recorder is not None:
      self.recorder.close(wait=False)
    self.preprocessor.reset()
    self.recent.clear()

  # Frames.

  def _frame(self, frame: Frame) -> None:
    if frame.dropped_before:
      self._interrupt()
      reason = f"{frame.dropped_before} frames dropped: scoring fell behind the source"
      self._gap(self.last_wall, frame.wall, frame.dropped_before, reason)
    self.first_wall = self.first_wall or frame.wall
    self.last_wall = frame.wall
    self.stats.frames += 1
    if self.stats.frames == 1:
      self.stats.first_read_s = frame.read_s
    self.stats.last_read_s = frame.read_s
    if self.recorder is not None and frame.small is not None:
      self.recorder.frame(frame.index, frame.small)
    gray, flow = self.preprocessor(frame.gray)
    pending = _Pending(frame, gray, flow.astype(streams.FLOW_DTYPE))
    self.pending.append(pending)
    self.recent.append(pending)
    if len(self.pending) == T:
      self._score_window()

  def _handle(self, item) -> None:
    if isinstance(item, Frame):
      self._frame(item)
    elif isinstance(item, Interrupted):
      self._interrupt()
    elif isinstance(item, Resumed):
      reason = f"the source failed and came back after {item.attempts} attempt(s)"
      self._gap(item.start, item.end, 0, reason)
    elif isinstance(item, _Failure):
      raise item.error

  def run(self) -> MonitorStats:
    """Monitors until the source ends or `stop` is set; returns what was done."""
    started = time.monotonic()
    reader = _Reader(self.source, self.options, self.stop, self.clock)
    reader.thread.start()
    try:
      while True:
        try:
          self._handle(reader.items.get(timeout=QUEUE_POLL_S))
        except queue.Empty:
          if reader.done.is_set() and reader.items.empty():
            break
      self._score_tail()
      self._events(self.tracker.interrupt())
    finally:
      self.stop.set()  # The reader stops too when the scorer failed.
      reader.thread.join(STOP_JOIN_S)
      self._close()
    self.stats.dropped = reader.dropped
    self.stats.seconds = time.monotonic() - started
    return self.stats

  def _close(self) -> None:
    if self.recorder is not None:
      self.recorder.close(wait=True)
    if self.runner is not None:
      self.runner.close(STOP_JOIN_S)
      self.stats.on_event_failures = self.runner.failures
    for f in self.files.values():
      f.close()


def _number(value: float) -> str:
  return "" if not np.isfinite(value) else score.FLOAT_FORMAT.format(value)


def make_errors_fn(run: score.ScoringRun) -> Callable:
  """`score.make_window_errors_fn`, compiled now for one window (the monitor's batch)."""
  errors_fn = score.make_window_errors_fn(run)
  h, w = run.preprocess.crop_hw
  gray = np.zeros((1, T, h, w, 1), np.uint8)
  flow = np.zeros((1, T, h, w, streams.STREAM_CHANNELS["flow"]), streams.FLOW_DTYPE)
  jax.block_until_ready(errors_fn(gray, flow))
  return errors_fn


# --------------------------------------------------------------------------------------------------
# CLI.


def latency_summary(latency_ms: Sequence[float]) -> dict[str, float]:
  """Median, 95th percentile and maximum of the rows' latencies (ms); NaN without rows."""
  values = np.asarray(latency_ms, np.float64)
  if not values.size:
    return {"median": np.nan, "p95": np.nan, "max": np.nan}
  return {
      "median": float(np.median(values)),
      "p95": float(np.percentile(values, PERCENTILE)),
      "max": float(values.max()),
  }


PERCENTILE = 95


def summary(stats: MonitorStats, output_dir: pathlib.Path) -> str:
  lat = latency_summary(stats.latency_ms)
  return (
      f"{stats.frames} frames in {stats.seconds:.1f} s, {stats.rows} rows "
      f"({stats.unscored_rows} unscored), {stats.events} events, {stats.gaps} gaps, "
      f"{stats.dropped} frames dropped, {stats.on_event_failures} --on_event failures; latency "
      f"(frame read -> row written) median {lat['median']:.0f} ms, p95 {lat['p95']:.0f} ms, max "
      f"{lat['max']:.0f} ms -> {output_dir}"
  )


def _define_flags() -> None:
  """CLI flags, defined only when run as a script so importing this module defines none."""
  d = MonitorOptions()
  flags.DEFINE_string("workdir", None, "Folder of a trained run (python -m mouseflax.main).")
  flags.DEFINE_string("source", None, "Camera index (0), stream URL (rtsp://...) or video file.")
  flags.DEFINE_string("output_dir", None, "Folder of the per-day CSVs and the event clips.")
  flags.DEFINE_bool("realtime", d.realtime, "Read a file source at its frame rate, like a camera.")
  flags.DEFINE_float("threshold", None, "Flag frames with score > this (overrides the stored one).")
  flags.DEFINE_float(
      "false_alarm_rate",
      None,
      "Another calibration rate (as in mouseflax.score); default: the run's.",
  )
  flags.DEFINE_string(
      "on_event", d.on_event, "Command run at each event's start; fields: {event}..."
  )
  flags.DEFINE_float(
      "on_event_timeout_s", d.on_event_timeout_s, "--on_event is stopped after this."
  )
  flags.DEFINE_bool("clips", d.clips, "Write a clip of each event.")
  flags.DEFINE_float("clip_before_s", d.clip_before_s, "Seconds of a clip before the event.")
  flags.DEFINE_float("clip_after_s", d.clip_after_s, "Seconds of a clip after the event.")
  flags.DEFINE_float("clip_max_s", d.clip_max_s, "Longest clip, in seconds.")
  flags.DEFINE_integer("queue_frames", d.queue_frames, "Frames read ahead of scoring (then drops).")
  flags.DEFINE_float("reconnect_initial_s", d.reconnect_initial_s, "First wait before reopening.")
  flags.DEFINE_float("reconnect_max_s", d.reconnect_max_s, "Longest wait between reopen attempts.")


EXIT_BAD_INPUT = 2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stop_on_signals(stop: threading.Event) -> dict:
  """Ctrl-C and SIGTERM set `stop` (main thread only); returns the previous handlers."""
  if threading.current_thread() is not threading.main_thread():
    return {}
  handler = lambda signum, frame: stop.set()
  return {s: signal.signal(s, handler) for s in STOP_SIGNALS}


def run_cli(
    workdir: str,
    source: str,
    output_dir: str,
    *,
    threshold: float | None = None,
    false_alarm_rate: float | None = None,
    options: MonitorOptions = MonitorOptions(),
) -> int:
  """The command line's work; returns its exit status (0, or EXIT_BAD_INPUT)."""
  stop = threading.Event()
  try:
    out = score.check_output_dir(output_dir)
    src = VideoSource(source)
    run = score.load_run(workdir)
    rule = score.resolve_threshold(run, threshold, false_alarm_rate)
    monitor = Monitor(run, rule, src, out, options, stop=stop)
  except (OSError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT
  logging.info(
      "Monitoring %s (%s, %.3g fps) with %s (step %d), threshold %.6g (%s); files in %s.",
      source,
      src.kind,
      src.fps,
      run.workdir,
      run.step,
      rule.value,
      rule.source,
      out,
  )
  previous = _stop_on_signals(stop)
  try:
    stats = monitor.run()
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
  print(summary(stats, out))
  return 0


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  f = flags.FLAGS
  if not f.workdir or f.source is None or not f.output_dir:
    raise app.UsageError("--workdir, --source and --output_dir are required.")
  from mouseflax import checkpointing  # pylint: disable=g-import-not-at-top

  checkpointing.quiet_orbax_info_logs()
  options = MonitorOptions(
      realtime=f.realtime,
      queue_frames=f.queue_frames,
      clips=f.clips,
      clip_before_s=f.clip_before_s,
      clip_after_s=f.clip_after_s,
      clip_max_s=f.clip_max_s,
      reconnect_initial_s=f.reconnect_initial_s,
      reconnect_max_s=f.reconnect_max_s,
      on_event=f.on_event,
      on_event_timeout_s=f.on_event_timeout_s,
  )
  sys.exit(
      run_cli(
          f.workdir,
          f.source,
          f.output_dir,
          threshold=f.threshold,
          false_alarm_rate=f.false_alarm_rate,
          options=options,
      )
  )


if __name__ == "__main__":
  _define_flags()
  app.run(main)
