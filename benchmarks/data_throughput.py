"""Data throughput: decode-only vs decode -> records, per-stage costs, 1 vs 2 processes, RSS.

  python -m benchmarks.data_throughput --output=/tmp/data_throughput.json [--video=PATH] [--quick]

Runs on synthetic 320x240 videos (the Jhuang size) written here with cv2.VideoWriter: MPEG-1 `.mpg`
(fourcc PIM1, like the Jhuang files and mouseflax.synthetic) and MPEG-4 part 2 `.avi` (mp4v), and,
with --video, on that recording too (ours: the real 640x480 H.264 open-field video named in
benchmarks/README.md; without it, its rows and the scoring section are skipped with a message).
"decode -> records" is what the builders do per frame: `preprocess.preprocess_video` (decode, 32x32
area resize, gamma, Farneback flow, crop, normalise) plus the float16 conversion of the flow.

Prints tables and writes JSON (`common.environment`'s date, machine and versions, every number).
The machine is shared, so the modes are measured in alternation within each round (a load change
hits them all), each rate is the best of `--repeats` rounds, and process CPU time per frame is
reported beside wall-clock rates: it is far less sensitive to other jobs than frames/s.
"""

from __future__ import annotations

from collections.abc import Sequence
import multiprocessing
import pathlib
import resource
import tempfile
import time

from absl import app
from absl import flags
import cv2
import numpy as np

from benchmarks import common
from mouseflax import preprocess
from mouseflax import streams
from mouseflax import video

SYNTHETIC_HW = (240, 320)
SYNTHETIC_FPS = 30.0
# name -> (fourcc, suffix): MPEG-1 program stream like the Jhuang data; MPEG-4 part 2 in AVI.
SYNTHETIC_FORMATS = {
    "synthetic_320x240_mpeg1": ("PIM1", ".mpg"),
    "synthetic_320x240_mpeg4": ("mp4v", ".avi"),
}
# Synthetic video length; the --video recording is cut to it in quick.
FRAMES = {"quick": 300, "full": 1800}
LONG_FRAMES = {"quick": 2000, "full": 9000}
STAGE_FRAMES = 200  # Frames held in memory for the per-stage costs.
STAGE_REPEATS = 3
DECODE_AHEAD = 8  # Queue size of the decode-thread mode.
RSS_SAMPLES = 10
ONE_HOUR_FRAMES = 30 * 3600
BLOB_RADIUS = 18
BLOB_SPEED = 3  # Pixels per frame in the 320x240 frame.
SEED = 0
US_PER_S = 1e6

FLAGS = flags.FlagValues()  # This benchmark's own flags (benchmarks share names such as --output).
flags.DEFINE_string("output", None, "JSON file to write (atomically).", flag_values=FLAGS)
flags.DEFINE_bool("quick", False, "Short videos (smoke run, ~1 min).", flag_values=FLAGS)
flags.DEFINE_integer("repeats", 3, "Rounds; the best of each mode is kept.", flag_values=FLAGS)
flags.DEFINE_string(
    "video", None, "A real recording measured beside the synthetic ones.", flag_values=FLAGS
)

# Mode -> what is timed; all but decode_bgr are compared with "decode" (the luma decode they use).
MODES = ("decode", "decode_bgr", "records_area", "records", "records_decode_thread")
REAL_VIDEO_ROW = "real_640x480_h264"  # The --video recording's name in the JSON and the tables.
MODE_NOTES = {
    "decode": "decode only, gray from the luma plane (video.gray_mode)",
    "decode_bgr": "decode only, BGR -> gray",
    "records_area": "decode -> records, one cv2.resize INTER_AREA call (resize_method='area')",
    "records": "decode -> records, default config (two-pass area resize)",
    "records_decode_thread": (
        f"as records, decoding in a second thread (decode_ahead={DECODE_AHEAD})"
    ),
}


def write_synthetic(path: pathlib.Path, num_frames: int, fourcc: str = "mp4v") -> pathlib.Path:
  """A bright blob bouncing over a fixed textured background, 320x240."""
  height, width = SYNTHETIC_HW
  rng = np.random.default_rng(SEED)
  background = cv2.GaussianBlur(rng.integers(0, 256, (height, width), dtype=np.uint8), (9, 9), 3)
  writer = cv2.VideoWriter(
      str(path), cv2.VideoWriter_fourcc(*fourcc), SYNTHETIC_FPS, (width, height)
  )
  if not writer.isOpened():
    raise RuntimeError(f"OpenCV cannot open a {fourcc} writer for {path}.")
  span = width - 2 * BLOB_RADIUS
  for t in range(num_frames):
    x = BLOB_RADIUS + abs((t * BLOB_SPEED) % (2 * span) - span)
    frame = background.copy()
    cv2.circle(frame, (int(x), height // 2), BLOB_RADIUS, 230, -1)
    writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
  writer.release()
  return path


def _records(path, start=0, stop=None, decode_ahead=0, resize_method=None) -> int:
  """Runs decode -> records as build_data does (without keeping them); returns the frame count."""
  cfg = preprocess.PreprocessConfig()
  if resize_method is not None:
    cfg = preprocess.PreprocessConfig(resize_method=resize_method)
  count = 0
  for _, _, flow in preprocess.preprocess_video(path, cfg, start, stop, decode_ahead=decode_ahead):
    flow.astype(streams.FLOW_DTYPE)
    count += 1
  return count


def _records_range(args) -> tuple[int, float]:
  """Pool worker: (frames, CPU seconds of this worker) of decode -> records over a frame range."""
  cpu = time.process_time()
  count = _records(*args)
  return count, time.process_time() - cpu


def _mode_fn(mode: str, path: pathlib.Path, gray_mode: str, stop: int):
  """A zero-argument function running `mode` over frames [0, stop) and returning the count."""
  if mode == "decode":
    return lambda: sum(1 for _ in video.iter_gray_frames(path, 0, stop, mode=gray_mode))
  if mode == "decode_bgr":
    return lambda: sum(1 for _ in video.iter_gray_frames(path, 0, stop, mode=video.GRAY_MODE_BGR))
  if mode == "records_area":
    return lambda: _records(path, 0, stop, resize_method=preprocess.RESIZE_AREA)
  if mode == "records":
    return lambda: _records(path, 0, stop)
  if mode == "records_decode_thread":
    return lambda: _records(path, 0, stop, decode_ahead=DECODE_AHEAD)
  raise ValueError(f"Unknown mode {mode!r}; choose one of {MODES}.")


def _timed(fn, num_frames: int) -> tuple[float, float]:
  """(wall s, process CPU s) of one run of fn(), which must process num_frames frames."""
  wall, cpu = time.perf_counter(), time.process_time()
  count = fn()
  wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
  if count != num_frames:
    raise RuntimeError(f"Processed {count} frames, expected {num_frames}.")
  return wall, cpu


def measure_rates(path: pathlib.Path, repeats: int, stop: int | None = None) -> dict:
  """Every mode of MODES over the same frames, alternating within each of `repeats` rounds."""
  n = video.probe(path).num_frames if stop is None else min(stop, video.probe(path).num_frames)
  gray_mode = video.gray_mode(path)
  fns = {mode: _mode_fn(mode, path, gray_mode, n) for mode in MODES}
  rounds = {mode: [] for mode in MODES}
  for _ in range(repeats):
    for mode, fn in fns.items():
      rounds[mode].append(_timed(fn, n))
  result = {"frames": n, "gray_mode": gray_mode, "round_fps": {}}
  for mode, runs in rounds.items():
    result[f"{mode}_fps"] = n / min(wall for wall, _ in runs)
    result[f"{mode}_cpu_us_per_frame"] = min(cpu for _, cpu in runs) / n * US_PER_S
    result["round_fps"][mode] = [n / wall for wall, _ in runs]
  for mode in MODES[2:]:
    result[f"{mode}_over_decode"] = result[f"{mode}_fps"] / result["decode_fps"]
    # Single-threaded modes: the CPU-time ratio is the load-independent version of the same ratio.
    result[f"{mode}_over_decode_cpu"] = (
        result["decode_cpu_us_per_frame"] / result[f"{mode}_cpu_us_per_frame"]
    )
  return result


def measure_two_processes(path: pathlib.Path, repeats: int, stop: int | None = None) -> dict:
  """decode -> records of one video split in two frame ranges: one process vs two, alternating.

  Besides the wall-clock speed-up (meaningless while other jobs load the cores), reports the
  load-independent estimate one-process CPU time / CPU time of the slower worker: the speed-up on
  two idle cores, if the workers do not slow each other down through shared caches or memory.
  """
  n = video.probe(path).num_frames if stop is None else min(stop, video.probe(path).num_frames)
  ranges = [(path, 0, n // 2), (path, n // 2, n)]
  one_runs, two_runs, worker_cpus = [], [], []

  def two_processes() -> int:
    parts = pool.map(_records_range, ranges)
    worker_cpus.append(max(cpu for _, cpu in parts))
    return sum(count for count, _ in parts)

  with multiprocessing.get_context("fork").Pool(2) as pool:
    pool.map(_records_range, ranges)  # Warm up the workers.
    for _ in range(repeats):
      one_runs.append(_timed(lambda: _records(path, 0, n), n))
      two_runs.append(_timed(two_processes, n)[0])
  one, two = n / min(wall for wall, _ in one_runs), n / min(two_runs)
  return {
      "one_process_fps": one,
      "two_processes_fps": two,
      "speedup": two / one,
      "round_speedups": [o / t for (o, _), t in zip(one_runs, two_runs)],
      "speedup_cpu_estimate": min(cpu for _, cpu in one_runs) / min(worker_cpus),
  }


def _cpu_us_per_item(fn, items: list, repeats: int = STAGE_REPEATS) -> float:
  """Best process CPU microseconds per call of fn(item) over `items`."""
  best = float("inf")
  for _ in range(repeats):
    start = time.process_time()
    for item in items:
      fn(item)
    best = min(best, time.process_time() - start)
  return best / len(items) * US_PER_S


def measure_stages(path: pathlib.Path) -> dict:
  """CPU microseconds per frame of each preprocessing stage, on frames held in memory."""
  frames = list(video.iter_gray_frames(path, 0, STAGE_FRAMES))
  cfg = preprocess.PreprocessConfig()
  pre = preprocess.FramePreprocessor(cfg)
  lut = preprocess.gamma_lut(cfg.gamma)
  area = preprocess.area_resize_passes(frames[0].shape, cfg.resize_hw, preprocess.RESIZE_AREA)
  two_pass = preprocess.area_resize_passes(frames[0].shape, cfg.resize_hw, cfg.resize_method)
  small = [pre.process_frame(f) for f in frames]
  pairs = list(zip(small[:-1], small[1:]))
  flows = [pre.flow_between(a, b) for a, b in pairs]
  rows, cols = preprocess.crop_slices(cfg.resize_hw, cfg.crop_hw)
  stages = {
      "resize_area_one_call": _cpu_us_per_item(lambda f: preprocess.area_resize(f, area), frames),
      "resize_two_pass": _cpu_us_per_item(lambda f: preprocess.area_resize(f, two_pass), frames),
      "gamma_lut": _cpu_us_per_item(lambda s: cv2.LUT(s, lut), small),
      "farneback": _cpu_us_per_item(lambda p: pre.flow_between(*p), pairs),
      "crop_normalise_float16": _cpu_us_per_item(
          lambda d: preprocess.encode_flow(
              d[rows, cols], cfg.flow_encoding, cfg.flow_scale_px
          ).astype(streams.FLOW_DTYPE),
          flows,
      ),
      "frame_preprocessor_call": _cpu_us_per_item(pre, frames),
  }
  return {"resize_passes": [list(p) for p in two_pass], **stages}


def _rss_mb() -> float:
  with open("/proc/self/status", encoding="ascii") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1]) / 1024
  return float("nan")


def _rss_worker(path: str, queue) -> None:
  """Preprocesses `path` in a fresh process, sampling RSS along the way."""
  n = video.probe(path).num_frames
  every = max(n // RSS_SAMPLES, 1)
  samples = []
  for index, _, _ in preprocess.preprocess_video(path, preprocess.PreprocessConfig()):
    if index % every == 0 or index == n - 1:
      samples.append((index + 1, _rss_mb()))
  peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  queue.put({"samples": samples, "peak_rss_mb": peak_mb})


def measure_rss(path: pathlib.Path) -> dict:
  """RSS vs frames processed in a spawned process; linear fit extrapolated to one hour at 30 fps."""
  context = multiprocessing.get_context("spawn")
  queue = context.Queue()
  worker = context.Process(target=_rss_worker, args=(str(path), queue))
  worker.start()
  result = queue.get()
  worker.join()
  frames, rss = np.array(result["samples"], dtype=np.float64).T
  # Fit after the first sample (imports and first allocations are a one-off cost, not growth).
  slope = float(np.polyfit(frames[1:], rss[1:], 1)[0])
  return {
      "frames": int(frames[-1]),
      "rss_first_mb": rss[0],
      "rss_last_mb": rss[-1],
      "peak_rss_mb": result["peak_rss_mb"],
      "growth_mb_per_1000_frames": slope * 1000,
      "extrapolated_one_hour_mb": rss[-1] + slope * (ONE_HOUR_FRAMES - frames[-1]),
  }


def run(
    quick: bool, repeats: int, workdir: pathlib.Path, real_video: pathlib.Path | None = None
) -> dict:
  """All measurements (real_video: the recording of --video, or None); the JSON-ready results."""
  size = "quick" if quick else "full"
  videos = {
      name: write_synthetic(workdir / f"{name}{suffix}", FRAMES[size], fourcc)
      for name, (fourcc, suffix) in SYNTHETIC_FORMATS.items()
  }
  if real_video is None:
    print("No --video=PATH: the real-video rows and the scoring section are skipped.")
  else:
    videos[REAL_VIDEO_ROW] = real_video
  stop = FRAMES[size] if quick else None
  environment = common.environment("cv2")
  environment["machine"]["opencv_threads"] = cv2.getNumThreads()
  results = {
      **environment,
      "quick": quick,
      "repeats": repeats,
      "modes": MODE_NOTES,
      "videos": {},
  }
  for name, path in videos.items():
    results["videos"][name] = {
        **measure_rates(path, repeats, stop),
        **measure_two_processes(path, repeats, stop),
        "stages_cpu_us": measure_stages(path),
    }
  long_video = write_synthetic(workdir / "long.mpg", LONG_FRAMES[size], "PIM1")
  results["rss_long_synthetic_320x240"] = measure_rss(long_video)
  # Scoring rate (mouseflax.score): score_throughput.py.
  if real_video is not None:
    from benchmarks import score_throughput  # pylint: disable=g-import-not-at-top  # Loads JAX.

    results["scoring_real_640x480"] = score_throughput.measure(real_video, quick=quick)
  return results


def _rates_table(results: dict) -> list[str]:
  header = (
      "| video | frames | gray mode | decode f/s | records f/s (ratio) | records, area resize "
      "f/s (ratio) | records + decode thread f/s (ratio) | CPU us/frame decode / records "
      "(ratio) | 2 processes: speed-up, CPU estimate |"
  )
  lines = [header, "|---" * (header.count("|") - 1) + "|"]
  for name, r in results["videos"].items():
    lines.append(
        f"| {name} | {r['frames']} | {r['gray_mode']} | {r['decode_fps']:.0f} | "
        f"{r['records_fps']:.0f} ({r['records_over_decode']:.0%}) | "
        f"{r['records_area_fps']:.0f} ({r['records_area_over_decode']:.0%}) | "
        f"{r['records_decode_thread_fps']:.0f} ({r['records_decode_thread_over_decode']:.0%}) | "
        f"{r['decode_cpu_us_per_frame']:.0f} / {r['records_cpu_us_per_frame']:.0f} "
        f"({r['records_over_decode_cpu']:.0%}) | {r['speedup']:.2f}x, "
        f"{r['speedup_cpu_estimate']:.2f}x |"
    )
  return lines


def _stages_table(results: dict) -> list[str]:
  names = list(next(iter(results["videos"].values()))["stages_cpu_us"])[1:]
  header = "| video | decode | " + " | ".join(names) + " |"
  lines = [
      "",
      "CPU microseconds per frame, by stage (frames in memory):",
      "",
      header,
      "|---" * (header.count("|") - 1) + "|",
  ]
  for name, r in results["videos"].items():
    stages = r["stages_cpu_us"]
    lines.append(
        f"| {name} | {r['decode_cpu_us_per_frame']:.0f} | "
        + " | ".join(f"{stages[s]:.0f}" for s in names)
        + " |"
    )
  return lines


def format_table(results: dict) -> str:
  """Markdown tables of the rates and stage costs, and a line on memory."""
  lines = _rates_table(results) + _stages_table(results)
  m = results["rss_long_synthetic_320x240"]
  lines.append(
      f"\nRSS, full preprocessing of a {m['frames']}-frame 320x240 video in a fresh process: "
      f"{m['rss_first_mb']:.0f} MB after the first frame, {m['rss_last_mb']:.0f} MB at the "
      f"end (peak {m['peak_rss_mb']:.0f} MB), growth {m['growth_mb_per_1000_frames']:.2f} "
      f"MB / 1000 frames -> {m['extrapolated_one_hour_mb']:.0f} MB extrapolated to one hour "
      "at 30 fps."
  )
  if "scoring_real_640x480" in results:  # Scoring section: benchmarks/score_throughput.py.
    from benchmarks import score_throughput  # pylint: disable=g-import-not-at-top

    lines.append("\n" + score_throughput.format_result(results["scoring_real_640x480"]))
  return "\n".join(lines)


def main(argv: Sequence[str]) -> dict:
  """Measures for argv (argv[0]: the program, as app.run passes it); returns the results."""
  common.parse_flags(FLAGS, argv)
  real_video = None if FLAGS.video is None else pathlib.Path(FLAGS.video).expanduser()
  if real_video is not None and not real_video.is_file():
    raise app.UsageError(f"--video={real_video} is not a file.")
  with tempfile.TemporaryDirectory(prefix="data_throughput_") as workdir:
    results = run(FLAGS.quick, FLAGS.repeats, pathlib.Path(workdir), real_video)
  return common.report(results, format_table(results), FLAGS.output)


if __name__ == "__main__":
  common.run(main)
