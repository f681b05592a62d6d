"""Scale-out: building records and scoring on 1 process, 2 processes and 2 Beam workers, one run.

  python -m benchmarks.scale_out --output=/tmp/scale_out.json [--video=PATH] [--quick]

For each video (a synthetic 320x240 MPEG-4 recording, `data_throughput.write_synthetic`, and the
--video recording: ours is the real 640x480 H.264 open-field video named in benchmarks/README.md),
in one run:
- build: `video_cache.preprocess_videos` (decode + resize + Farneback + the .npy cache; what the
  builders spend their time on) as one process over the whole video, as chunks on 2 processes
  (`--num_workers=2`), and as chunks on Beam's DirectRunner with 2 worker processes;
- score: `score.score_videos` in this process, as chunks on 2 processes, and on Beam
  (`mouseflax.score_beam`), with the demo's CAE, randomly initialised (its speed does not depend on
  training), all files written.
The ratios are to the one-process rate of the same task and video. "Where the time goes": each
parallel mode's fixed start-up (worker processes, imports, loading the model and compiling it),
measured by the same task on a video of two windows, and the rate once that is paid
((frames) / (wall - start-up)). Prints a table and writes JSON with `common.environment`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import pathlib
import tempfile
from typing import Any

from absl import app
from absl import flags

from benchmarks import common
from benchmarks import data_throughput
from configs import demo
from data_builders import video_cache
from mouseflax import beam_runner
from mouseflax import preprocess
from mouseflax import score
from mouseflax import streams
from mouseflax import video

FRAMES = {"quick": 1200, "full": 6000}
CHUNKS_PER_VIDEO = 4  # Chunks of each measured video: enough to keep 2 workers busy.
WORKERS = 2
STARTUP_FRAMES = 2 * streams.SEQUENCE_LENGTH  # The start-up probe: a video of two windows.
MODES = ("1 process", f"{WORKERS} processes", f"Beam {WORKERS} workers")
BEAM = beam_runner.BeamSpec(
    "DirectRunner", f"--direct_num_workers={WORKERS} --direct_running_mode=multi_processing"
)
THRESHOLD = score.Threshold(value=1.0, false_alarm_rate=None, source="benchmark")

FLAGS = flags.FlagValues()  # This benchmark's own flags (benchmarks share names such as --output).
flags.DEFINE_string("output", None, "JSON file to write (atomically).", flag_values=FLAGS)
flags.DEFINE_bool("quick", False, "Shorter videos (smoke run).", flag_values=FLAGS)
flags.DEFINE_string("video", None, "A real recording to measure too.", flag_values=FLAGS)
flags.DEFINE_integer(
    "frames",
    None,
    "Frames of the synthetic recording (default: 1,200 with --quick, else 6,000); a long one "
    "shows the rate once the workers' start-up is paid.",
    lower_bound=2 * streams.SEQUENCE_LENGTH,
    flag_values=FLAGS,
)


def chunk_frames_for(num_frames: int) -> int:
  """Chunks of whole windows, `CHUNKS_PER_VIDEO` of them over the video."""
  window = streams.SEQUENCE_LENGTH
  return max(window, -(-num_frames // (CHUNKS_PER_VIDEO * window)) * window)


def build_modes(cache: pathlib.Path) -> dict[str, Callable[[str, int], Any]]:
  """Mode -> preprocess the video at a path, in chunks of so many frames, into a new cache."""
  cfg = preprocess.PreprocessConfig().to_dict()
  counter = iter(range(1_000_000))

  def job(path: str, **kwargs: Any) -> Any:
    return video_cache.preprocess_videos(
        [video_cache.VideoJob("v", path)], cfg, cache_dir=cache / str(next(counter)), **kwargs
    )

  return {
      MODES[0]: lambda path, _: job(path, chunk_frames=0),
      MODES[1]: lambda path, frames: job(path, num_workers=WORKERS, chunk_frames=frames),
      MODES[2]: lambda path, frames: job(path, chunk_frames=frames, beam=BEAM),
  }


def score_modes(run: score.ScoringRun, out: pathlib.Path) -> dict[str, Callable[[str, int], Any]]:
  """Mode -> score the video at a path, in chunks of so many frames, every file written."""

  def local(path: str, workers: int, frames: int) -> Any:
    return score.score_videos(
        run, [path], out, THRESHOLD, progress=False, num_workers=workers, chunk_frames=frames
    )

  def on_beam(path: str, frames: int) -> Any:
    from mouseflax import score_beam  # pylint: disable=g-import-not-at-top  # Optional extra.

    return score_beam.score_on_beam(BEAM, run, [path], out, THRESHOLD, chunk_frames=frames)

  return {
      MODES[0]: lambda path, _: local(path, 1, 0),
      MODES[1]: lambda path, frames: local(path, WORKERS, frames),
      MODES[2]: on_beam,
  }


def measure(
    modes: dict[str, Callable[[str, int], Any]], path: str, probe: str, frames: int
) -> dict[str, dict[str, float]]:
  """Per mode: frames/s, start-up seconds (the probe video, one window per chunk: a chunk for each
  worker) and the rate once started."""
  chunk_frames = chunk_frames_for(frames)
  rows = {}
  for mode, fn in modes.items():
    startup = common.seconds(fn, probe, streams.SEQUENCE_LENGTH)
    wall = common.seconds(fn, path, chunk_frames)
    rows[mode] = {
        "seconds": wall,
        "frames_per_second": frames / wall,
        "startup_seconds": startup,
        "frames_per_second_after_startup": frames / max(wall - startup, 1e-9),
    }
  base = rows[MODES[0]]["frames_per_second"]
  for row in rows.values():
    row["ratio_to_1_process"] = row["frames_per_second"] / base
  return rows


def untrained_run(workdir: pathlib.Path) -> score.ScoringRun:
  """The demo's CAE, randomly initialised, saved as a run folder (workers load it from there)."""
  config = demo.get_config()
  config.eval.score = "mse"  # No validation statistics in an untrained run; speed is the same.
  stored = {"threshold": THRESHOLD.value, "score": "mse", "error_stats": {}}
  return score.load_run(common.write_untrained_run(workdir, config, stored))


def run_benchmark(quick: bool, real_video: str | None, frames: int | None = None) -> dict[str, Any]:
  frames = frames or FRAMES["quick" if quick else "full"]
  result: dict[str, Any] = {"environment": common.environment("apache_beam"), "videos": {}}
  with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    probe = str(data_throughput.write_synthetic(tmp / "probe.mp4", STARTUP_FRAMES))
    videos = {
        "synthetic_320x240_mpeg4": str(
            data_throughput.write_synthetic(tmp / "synthetic.mp4", frames)
        )
    }
    if real_video:
      videos["real"] = real_video
    else:
      print("No --video=PATH: only the synthetic recording is measured.")
    run = untrained_run(tmp / "run")
    for name, path in videos.items():
      info = video.probe(path)
      chunk_frames = chunk_frames_for(info.num_frames)
      print(
          f"{name}: {info.num_frames} frames at {info.width}x{info.height}, chunks of "
          f"{chunk_frames} frames"
      )
      result["videos"][name] = {
          "frames": info.num_frames,
          "size": [info.width, info.height],
          "fps": info.fps,
          "chunk_frames": chunk_frames,
          "build": measure(build_modes(tmp / "cache"), path, probe, info.num_frames),
          "score": measure(score_modes(run, tmp / "out"), path, probe, info.num_frames),
      }
  return result


def format_table(result: dict[str, Any]) -> str:
  lines = [
      "| video | task | mode | frames/s | x real time | ratio to 1 process | start-up s | "
      "frames/s after start-up |",
      "|---|---|---|---|---|---|---|---|",
  ]
  for name, entry in result["videos"].items():
    for task in ("build", "score"):
      for mode, row in entry[task].items():
        lines.append(
            f"| {name} | {task} | {mode} | {row['frames_per_second']:.0f} | "
            f"{row['frames_per_second'] / entry['fps']:.1f} | {row['ratio_to_1_process']:.2f} | "
            f"{row['startup_seconds']:.1f} | {row['frames_per_second_after_startup']:.0f} |"
        )
  env = result["environment"]
  lines.append(
      f"\n{env['date']}, {env['machine']['cpu']} ({env['machine']['cpus']} cores), load at start "
      f"{env['machine']['load_average_at_start']}"
  )
  return "\n".join(lines)


def main(argv: Sequence[str]) -> dict[str, Any]:
  common.parse_flags(FLAGS, argv)
  beam_runner.require()
  if FLAGS.video is not None and not pathlib.Path(FLAGS.video).is_file():
    raise app.UsageError(f"--video={FLAGS.video} is not a file.")
  result = run_benchmark(FLAGS.quick, FLAGS.video, FLAGS.frames)
  return common.report(result, format_table(result), FLAGS.output)


if __name__ == "__main__":
  common.run(main)
