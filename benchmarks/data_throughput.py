"""Data throughput: decode vs decode + full preprocessing, luma vs BGR, 1 vs 2 processes, RSS growth.

Runs on the real 640x480 recording (../shared/data/real/openfield_mouse_m3v1.mp4, skipped when absent)
and on a synthetic 320x240 video (the Jhuang size) written here with cv2.VideoWriter. "Full
preprocessing" is what the builders do per frame: `preprocess.preprocess_video` (decode, resize,
gamma, Farneback flow, crop, normalise).

  python -m benchmarks.data_throughput --output=/tmp/data_throughput.json [--quick]

Prints a table and writes JSON (machine, date, versions, every number). Timings on a shared machine
are noisy: each rate is the best of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import pathlib
import platform
import resource
import sys
import tempfile
import time

import cv2
import numpy as np

from mouseflax import preprocess
from mouseflax import video

REAL_VIDEO = pathlib.Path(__file__).resolve().parents[2] / "shared/data/real/openfield_mouse_m3v1.mp4"
SYNTHETIC_HW = (240, 320)
SYNTHETIC_FPS = 30.0
SYNTHETIC_FOURCC = "mp4v"  # MPEG-4 part 2 in AVI: planar yuv420p like the Jhuang MPEG files.
FRAMES = {"quick": 300, "full": 1800}
LONG_FRAMES = {"quick": 2000, "full": 9000}
RSS_SAMPLES = 10
ONE_HOUR_FRAMES = 30 * 3600
BLOB_RADIUS = 18
BLOB_SPEED = 3  # Pixels per frame in the 320x240 frame.
SEED = 0


def write_synthetic(path: pathlib.Path, num_frames: int) -> pathlib.Path:
  """A bright blob bouncing over a fixed textured background, 320x240."""
  height, width = SYNTHETIC_HW
  rng = np.random.default_rng(SEED)
  background = cv2.GaussianBlur(rng.integers(0, 256, (height, width), dtype=np.uint8), (9, 9), 3)
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*SYNTHETIC_FOURCC), SYNTHETIC_FPS,
                           (width, height))
  span = width - 2 * BLOB_RADIUS
  for t in range(num_frames):
    x = BLOB_RADIUS + abs((t * BLOB_SPEED) % (2 * span) - span)
    frame = background.copy()
    cv2.circle(frame, (int(x), height // 2), BLOB_RADIUS, 230, -1)
    writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
  writer.release()
  return path


def _best_rate(fn, num_frames: int, repeats: int) -> float:
  """Best frames/s over `repeats` runs of fn() (which processes num_frames frames)."""
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    count = fn()
    best = min(best, time.perf_counter() - start)
    assert count == num_frames, (count, num_frames)
  return num_frames / best


def _decode(path, mode, start=0, stop=None) -> int:
  return sum(1 for _ in video.iter_gray_frames(path, start, stop, mode=mode))


def _preprocess(path, start=0, stop=None) -> int:
  return sum(1 for _ in preprocess.preprocess_video(path, preprocess.PreprocessConfig(), start, stop))


def _preprocess_range(args) -> int:
  return _preprocess(*args)


def measure_rates(path: pathlib.Path, repeats: int) -> dict:
  """Decode-only (luma / BGR) and decode + full preprocessing rates in one process."""
  n = video.probe(path).num_frames
  mode = video.gray_mode(path)
  luma = _best_rate(lambda: _decode(path, mode), n, repeats)
  bgr = _best_rate(lambda: _decode(path, video.GRAY_MODE_BGR), n, repeats)
  full = _best_rate(lambda: _preprocess(path), n, repeats)
  return {"frames": n, "gray_mode": mode, "decode_luma_fps": luma, "decode_bgr_fps": bgr,
          "preprocess_fps": full, "preprocess_over_decode": full / luma}


def measure_two_processes(path: pathlib.Path, repeats: int) -> dict:
  """Full preprocessing of one video split into two frame ranges, on two processes."""
  n = video.probe(path).num_frames
  ranges = [(path, 0, n // 2), (path, n // 2, n)]
  with multiprocessing.get_context("fork").Pool(2) as pool:
    pool.map(_preprocess_range, ranges)  # Warm up the workers.
    two = _best_rate(lambda: sum(pool.map(_preprocess_range, ranges)), n, repeats)
  one = _best_rate(lambda: _preprocess(path), n, repeats)
  return {"one_process_fps": one, "two_processes_fps": two, "speedup": two / one}


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
  return {"frames": int(frames[-1]), "rss_first_mb": rss[0], "rss_last_mb": rss[-1],
          "peak_rss_mb": result["peak_rss_mb"], "growth_mb_per_1000_frames": slope * 1000,
          "extrapolated_one_hour_mb": rss[-1] + slope * (ONE_HOUR_FRAMES - frames[-1])}


def _versions() -> dict:
  return {"python": sys.version.split()[0], "opencv": cv2.__version__, "numpy": np.__version__,
          "platform": platform.platform(), "cpus": os.cpu_count()}


def run(quick: bool, repeats: int, workdir: pathlib.Path) -> dict:
  size = "quick" if quick else "full"
  videos = {"synthetic_320x240": write_synthetic(workdir / "synthetic.avi", FRAMES[size])}
  if REAL_VIDEO.is_file():
    videos["real_640x480"] = REAL_VIDEO
  else:
    print(f"Real video absent ({REAL_VIDEO}): skipped.")
  results = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "quick": quick,
             "repeats": repeats, "machine": _versions(), "videos": {}}
  for name, path in videos.items():
    results["videos"][name] = {**measure_rates(path, repeats),
                               **measure_two_processes(path, repeats)}
  long_video = write_synthetic(workdir / "long.avi", LONG_FRAMES[size])
  results["rss_long_synthetic_320x240"] = measure_rss(long_video)
  return results


def format_table(results: dict) -> str:
  header = ("| video | frames | gray mode | decode luma f/s | decode BGR f/s | full preprocess f/s "
            "| preprocess/decode | 2-process f/s | speed-up |")
  lines = [header, "|---" * (header.count("|") - 1) + "|"]
  for name, r in results["videos"].items():
    lines.append(f"| {name} | {r['frames']} | {r['gray_mode']} | {r['decode_luma_fps']:.0f} | "
                 f"{r['decode_bgr_fps']:.0f} | {r['preprocess_fps']:.0f} | "
                 f"{r['preprocess_over_decode']:.0%} | {r['two_processes_fps']:.0f} | "
                 f"{r['speedup']:.2f}x |")
  m = results["rss_long_synthetic_320x240"]
  lines.append(f"\nRSS, full preprocessing of a {m['frames']}-frame 320x240 video in a fresh process: "
               f"{m['rss_first_mb']:.0f} MB after the first frame, {m['rss_last_mb']:.0f} MB at the "
               f"end (peak {m['peak_rss_mb']:.0f} MB), growth {m['growth_mb_per_1000_frames']:.2f} "
               f"MB / 1000 frames -> {m['extrapolated_one_hour_mb']:.0f} MB extrapolated to one hour "
               "at 30 fps.")
  return "\n".join(lines)


def _write_json(results: dict, output: pathlib.Path) -> None:
  output.parent.mkdir(parents=True, exist_ok=True)
  tmp = output.with_name(output.name + ".tmp")
  tmp.write_text(json.dumps(results, indent=2, default=float))
  tmp.replace(output)  # Atomic: no half-written JSON.


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--output", type=pathlib.Path, default=None, help="JSON file to write.")
  parser.add_argument("--quick", action="store_true", help="Short videos (smoke run, ~1 min).")
  parser.add_argument("--repeats", type=int, default=2, help="Runs per rate; the best is kept.")
  args = parser.parse_args(argv)
  with tempfile.TemporaryDirectory(prefix="data_throughput_") as workdir:
    results = run(args.quick, args.repeats, pathlib.Path(workdir))
  print(format_table(results))
  if args.output:
    _write_json(results, args.output)
    print(f"Wrote {args.output}")


if __name__ == "__main__":
  main()
