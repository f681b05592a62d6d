"""Live monitoring speed: latency (frame read -> score row written) and the highest frame rate kept.

  python -m benchmarks.monitor_latency [--quick] [--widths=8,32] [--output=/tmp/monitor.json]

For each CAE width (8: the demo, configs/demo.py; 32: the paper-sized model), randomly initialised
(`score_throughput.demo_run`: speed does not depend on training), `mouseflax.monitor.Monitor`
reads a synthetic 640x480 home-cage recording (`mouseflax.synthetic`, written once) and measures,
in one process:
- camera: the file played at 30 fps like a camera (`realtime`): latency median / p95 / max (ms);
  a frame waits for the rest of its 8-frame window, so latency >= (7 - i) / fps for frame i of it;
- capacity: the file read as fast as the monitor goes (no pacing, nothing dropped): frames/s;
- kept: played at increasing rates (a ladder x2 from 30 fps, then bisection between the last rate
  kept and the first lost), `SECONDS_PER_RATE` each: a rate is kept when no frame was dropped (the
  queue of `MonitorOptions.queue_frames` frames never overflowed) and frames were read at that rate
  (`PACE_KEPT`; the reader decodes, so a file paced faster than it decodes lags instead of dropping:
  a camera would deliver the frames anyway and the monitor would drop them).
Event clips are on, as in use (the ring buffer of small frames costs every frame); the threshold is
out of reach, so no event is written (clip encoding runs in its own thread when there is one).
Prints a table and writes JSON with the CPU model, the date and the load average.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import datetime
import os
import pathlib
import platform
import tempfile
import time

import cv2
import jax
import numpy as np

from benchmarks import score_throughput
from mouseflax import fileio
from mouseflax import monitor
from mouseflax import score
from mouseflax import streams
from mouseflax.synthetic import behaviour
from mouseflax.synthetic import home_cage

SIZE = (640, 480)  # Width, height: a common cage camera.
CAMERA_FPS = 30.0
LADDER_START_FPS = 30.0
LADDER_FACTOR = 2.0
BISECTION_STEPS = {"quick": 1, "full": 3}
SECONDS_PER_RATE = {"quick": 2.0, "full": 5.0}
CAMERA_SECONDS = {"quick": 3.0, "full": 10.0}
MAX_RATE_FPS = 4000.0  # The ladder stops here even if every rate was kept.
# Frames of the recording: enough for SECONDS_PER_RATE at the rates a 2-core CPU reaches; a faster
# rate plays them all (a shorter trial).
RECORDING_FRAMES = {"quick": 300, "full": 3000}
UNREACHABLE_THRESHOLD = 1e30
# A rate is kept when nothing was dropped and frames were read at least this share of it (the reader
# decodes too: a file paced faster than it decodes falls behind instead of dropping).
PACE_KEPT = 0.98
SEED = 0
MODEL_CALLS = 20
MS_PER_S = 1000.0
WIDTHS = (8, 32)


def write_recording(path: pathlib.Path, num_frames: int) -> pathlib.Path:
  """A synthetic 640x480 home-cage recording (MJPG, like many USB cameras' stream)."""
  rng = np.random.default_rng(SEED)
  # One part: any behaviour mix will do for timing, and a short smoke recording fits.
  schedule = behaviour.sample_schedule(num_frames, CAMERA_FPS, rng, parts=1)
  frames = home_cage.render_home_cage_frames(schedule, *SIZE, CAMERA_FPS, rng)
  with fileio.atomic_path(path) as tmp:
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), CAMERA_FPS, SIZE)
    for frame in frames:
      writer.write(frame)
    writer.release()
  return path


class LimitedSource(monitor.VideoSource):
  """The file's first `limit` frames (then it ends), so every trial needs one recording only."""

  def __init__(self, path: pathlib.Path, limit: int):
    self.limit = limit
    super().__init__(str(path))

  def read(self) -> np.ndarray | None:
    return None if self.position >= self.limit else super().read()


def play(run, errors_fn, recording, out, frames: int, rate: float | None) -> monitor.MonitorStats:
  """Monitors the first `frames` frames, at `rate` fps (None: as fast as the monitor goes)."""
  threshold = score.Threshold(UNREACHABLE_THRESHOLD, None, "benchmark: no events")
  options = monitor.MonitorOptions(realtime=rate is not None, pace_fps=rate)
  with tempfile.TemporaryDirectory(dir=out) as files:
    mon = monitor.Monitor(
        run, threshold, LimitedSource(recording, frames), files, options, errors_fn=errors_fn
    )
    return mon.run()


def highest_rate_kept(run, errors_fn, recording, out, num_frames: int, mode: str) -> tuple:
  """The ladder then bisection of the module docstring; returns (rate, every trial)."""
  trials: list[dict] = []

  def kept_at(rate: float) -> bool:
    frames = min(num_frames, round(rate * SECONDS_PER_RATE[mode]))
    stats = play(run, errors_fn, recording, out, frames, rate)
    kept = stats.dropped == 0 and stats.read_fps >= PACE_KEPT * rate
    trials.append(
        {
            "fps": rate,
            "frames": stats.frames,
            "dropped": stats.dropped,
            "read_fps": stats.read_fps,
            "latency_ms": monitor.latency_summary(stats.latency_ms),
            "kept": kept,
        }
    )
    return kept

  kept, rate = 0.0, LADDER_START_FPS
  while rate <= MAX_RATE_FPS and kept_at(rate):
    kept, rate = rate, rate * LADDER_FACTOR
  lost = rate
  for _ in range(BISECTION_STEPS[mode] if kept and lost <= MAX_RATE_FPS else 0):
    middle = round((kept + lost) / 2)
    kept, lost = (middle, lost) if kept_at(middle) else (kept, middle)
  return kept, trials


def measure_run(run: score.ScoringRun, recording: pathlib.Path, num_frames: int, mode: str) -> dict:
  """Capacity, latency at 30 fps and the highest rate kept (module docstring) of one run."""
  with tempfile.TemporaryDirectory(prefix="monitor_latency_") as tmp:
    out = pathlib.Path(tmp)
    started = time.perf_counter()
    errors_fn = monitor.make_errors_fn(run)
    compile_s = time.perf_counter() - started
    call_ms = model_call_ms(run, errors_fn)
    camera_frames = round(CAMERA_SECONDS[mode] * CAMERA_FPS)
    camera = play(run, errors_fn, recording, out, camera_frames, CAMERA_FPS)  # Also warms up.
    capacity = play(run, errors_fn, recording, out, num_frames, None)
    kept, trials = highest_rate_kept(run, errors_fn, recording, out, num_frames, mode)
  return {
      "model_width": run.config.model.width,
      "compile_s": compile_s,
      "model_call_ms": call_ms,
      "capacity_fps": capacity.read_fps,  # The reader waited for the scorer: its pace.
      "camera_fps": CAMERA_FPS,
      "camera_latency_ms": monitor.latency_summary(camera.latency_ms),
      "camera_dropped": camera.dropped,
      "highest_fps_kept": kept,
      "trials": trials,
  }


def model_call_ms(run: score.ScoringRun, errors_fn) -> float:
  """Median milliseconds of one window's model call (compiled already)."""
  h, w = run.preprocess.crop_hw
  gray = np.zeros((1, monitor.T, h, w, 1), np.uint8)
  flow = np.zeros((1, monitor.T, h, w, streams.STREAM_CHANNELS["flow"]), streams.FLOW_DTYPE)
  times = []
  for _ in range(MODEL_CALLS):
    started = time.perf_counter()
    jax.block_until_ready(errors_fn(gray, flow))
    times.append((time.perf_counter() - started) * MS_PER_S)
  return float(np.median(times))


def demo_runs(widths: Sequence[int], workdir: pathlib.Path) -> list[score.ScoringRun]:
  """The demo CAE at each width, randomly initialised, scoring one window per call."""
  return [score_throughput.demo_run(workdir, batch_size=1, width=w) for w in widths]


def cpu_model() -> str:
  for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
    if line.startswith("model name"):
      return line.split(":", 1)[1].strip()
  return platform.processor() or "unknown"


def measure(runs: Sequence[score.ScoringRun], mode: str, num_frames: int) -> dict:
  load_before = os.getloadavg()
  with tempfile.TemporaryDirectory(prefix="monitor_recording_") as tmp:
    recording = write_recording(pathlib.Path(tmp) / "cage.avi", num_frames)
    results = [measure_run(run, recording, num_frames, mode) for run in runs]
  return {
      "date": datetime.datetime.now().isoformat(timespec="seconds"),
      "cpu": cpu_model(),
      "cpu_count": os.cpu_count(),
      "load_average_before": load_before,
      "load_average_after": os.getloadavg(),
      "mode": mode,
      "frame_size": SIZE,
      "recording_frames": num_frames,
      "results": results,
  }


def format_table(report: dict) -> str:
  lines = [
      f"monitor latency, {report['frame_size'][0]}x{report['frame_size'][1]}, {report['cpu']} "
      f"({report['cpu_count']} CPUs), {report['date']}, load {report['load_average_before'][0]:.1f}"
      f" -> {report['load_average_after'][0]:.1f}",
      "",
      "| CAE width | model call (ms) | capacity (frames/s) | highest rate kept (fps) | latency at"
      " 30 fps: median | p95 | max (ms) | dropped at 30 fps |",
      "|---|---|---|---|---|---|---|---|",
  ]
  for r in report["results"]:
    lat = r["camera_latency_ms"]
    lines.append(
        f"| {r['model_width']} | {r['model_call_ms']:.1f} | {r['capacity_fps']:.0f} | "
        f"{r['highest_fps_kept']:.0f} | "
        f"{lat['median']:.0f} | {lat['p95']:.0f} | {lat['max']:.0f} | {r['camera_dropped']} |"
    )
  return "\n".join(lines)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="Shorter trials (a smoke run).")
  parser.add_argument("--widths", default=",".join(map(str, WIDTHS)), help="CAE widths.")
  parser.add_argument("--output", type=pathlib.Path, default=None, help="JSON file to write.")
  parser.add_argument("--frames", type=int, default=None, help="Recording length (tests: small).")
  args = parser.parse_args(argv)
  mode = "quick" if args.quick else "full"
  widths = [int(w) for w in args.widths.split(",")]
  with tempfile.TemporaryDirectory(prefix="monitor_latency_runs_") as tmp:
    runs = demo_runs(widths, pathlib.Path(tmp))
    report = measure(runs, mode, args.frames or RECORDING_FRAMES[mode])
  print(format_table(report))
  if args.output:
    fileio.write_json_atomic(args.output, report)


if __name__ == "__main__":
  main()
