"""Scoring throughput: decode-only, model-only and end-to-end frames/s of `mouseflax.score`.

  python -m benchmarks.score_throughput --video=PATH [--quick] [--output=/tmp/score_throughput.json]

On a recording given with --video (ours: the real 640x480 30 fps open-field video, see
benchmarks/README.md; without --video nothing is measured), in one process and one run:
- decode-only: `video.iter_gray_frames` (the luma plane), nothing else;
- model-only: the jitted per-window error function on a full batch of windows, warmed up first
  (compile time reported apart); frames/s = windows * 8 / seconds (each frame is in one window);
- end to end: `score.score_video` (decode, preprocess and the model in overlapping stages).
The model is the demo's dual-stream CAE (configs/demo.py; `--width=32` gives the paper-sized one),
randomly initialised: its speed does not depend on training. Targets (issue 5): end to end >= 10x
real time, and >= 70% of min(decode-only, model-only). Also called from
`benchmarks.data_throughput`. The JSON carries `common.environment`'s date, machine and versions.
"""

from __future__ import annotations

from collections.abc import Sequence
import pathlib
import tempfile

from absl import app
from absl import flags
import jax
import ml_collections
import numpy as np

from benchmarks import common
from configs import demo
from mouseflax import fileio
from mouseflax import models
from mouseflax import preprocess
from mouseflax import score
from mouseflax import streams
from mouseflax import video

MODEL_REPEATS = {"quick": 2, "full": 5}
QUICK_FRAMES = 600  # --quick scores only the first frames (a trimmed copy of the video).
TARGET_REAL_TIME = 10.0
TARGET_OF_SLOWEST = 0.7

FLAGS = flags.FlagValues()  # This benchmark's own flags (benchmarks share names such as --output).
flags.DEFINE_string("output", None, "JSON file to write (atomically).", flag_values=FLAGS)
flags.DEFINE_bool("quick", False, f"First {QUICK_FRAMES} frames only.", flag_values=FLAGS)
flags.DEFINE_string(
    "video", None, "Video to score (a 640x480 30 fps recording); none: skipped.", flag_values=FLAGS
)
flags.DEFINE_integer("batch_size", None, "Windows per model call.", flag_values=FLAGS)
flags.DEFINE_integer("width", None, "CAE width (default: the demo's).", flag_values=FLAGS)


def demo_run(
    workdir: pathlib.Path, batch_size: int | None = None, width: int | None = None
) -> score.ScoringRun:
  """A ScoringRun of the demo CAE (the target's model) with initialised parameters (no workdir)."""
  config = demo.get_config()
  if batch_size:
    config.eval.batch_size = batch_size
  if width:
    config.model.width = width
  # The demo config's score may z-score with the validation statistics of a trained run's
  # threshold.json; this run has none. The rule only rescales a few numbers per frame, so the
  # throughput measured does not depend on it.
  config.eval.score = "mse"
  cfg = preprocess.PreprocessConfig()
  model = models.create_model(config.model)
  h, w = cfg.crop_hw
  example = {
      s: np.zeros((1, streams.SEQUENCE_LENGTH, h, w, c), np.float32)
      for s, c in streams.STREAM_CHANNELS.items()
  }
  params = jax.jit(model.init)(jax.random.PRNGKey(0), example)["params"]
  return score.ScoringRun(
      workdir=workdir,
      config=ml_collections.ConfigDict(config),
      preprocess=cfg,
      model=model,
      params=params,
      step=0,
      streams=("gray", "flow"),
      stored_threshold=None,
  )


def _decode_rate(path: pathlib.Path) -> tuple[float, int]:
  mode = video.gray_mode(path)
  n, seconds = common.timed_call(lambda: sum(1 for _ in video.iter_gray_frames(path, mode=mode)))
  return n / seconds, n


def _model_rate(run: score.ScoringRun, errors_fn, repeats: int) -> tuple[float, float]:
  """(frames/s, compile seconds) of the error function on one full batch."""
  batch = score.empty_batch(run.preprocess, run.config.eval.batch_size)
  compile_s = common.seconds(errors_fn, batch.gray, batch.flow)
  seconds = sum(common.seconds(errors_fn, batch.gray, batch.flow) for _ in range(repeats))
  return batch.gray.shape[0] * streams.SEQUENCE_LENGTH * repeats / seconds, compile_s


def _trimmed(path: pathlib.Path, num_frames: int, workdir: pathlib.Path) -> pathlib.Path:
  """The first `num_frames` frames of `path` re-encoded (for --quick)."""
  import cv2  # pylint: disable=g-import-not-at-top

  info = video.probe(path)
  out = workdir / "trimmed.avi"
  writer = cv2.VideoWriter(
      str(out), cv2.VideoWriter_fourcc(*"MJPG"), info.fps, (info.width, info.height)
  )
  for gray in video.iter_gray_frames(path, 0, num_frames):
    writer.write(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
  writer.release()
  return out


def measure(
    path: pathlib.Path,
    *,
    quick: bool = False,
    batch_size: int | None = None,
    width: int | None = None,
) -> dict:
  """Decode-only, model-only and end-to-end rates on `path`, in this order, in one process."""
  with tempfile.TemporaryDirectory(prefix="score_throughput_") as tmp:
    tmp = pathlib.Path(tmp)
    if quick:
      path = _trimmed(path, QUICK_FRAMES, tmp)
    info = video.probe(path)
    run = demo_run(tmp, batch_size, width)
    errors_fn = score.make_window_errors_fn(run)
    model_fps, compile_s = _model_rate(run, errors_fn, MODEL_REPEATS["quick" if quick else "full"])
    decode_fps, frames = _decode_rate(path)
    scores, seconds = common.timed_call(
        lambda: score.score_video(run, path, errors_fn=errors_fn, progress=False)
    )
    e2e_fps = len(scores.score) / seconds
  slowest = min(decode_fps, model_fps)
  return {
      "video": str(path),
      "frames": frames,
      "width": info.width,
      "height": info.height,
      "fps": info.fps,
      "batch_windows": run.config.eval.batch_size,
      "model_width": run.config.model.width,
      "backend": jax.default_backend(),
      "compile_s": compile_s,
      "decode_fps": decode_fps,
      "model_fps": model_fps,
      "end_to_end_fps": e2e_fps,
      "real_time_factor": e2e_fps / info.fps,
      "of_slowest_stage": e2e_fps / slowest,
      "meets_targets": bool(
          e2e_fps / info.fps >= TARGET_REAL_TIME and e2e_fps / slowest >= TARGET_OF_SLOWEST
      ),
  }


def format_result(r: dict) -> str:
  return (
      f"scoring {r['width']}x{r['height']} {r['fps']:g} fps, {r['frames']} frames, CAE width "
      f"{r['model_width']}, "
      f"batch {r['batch_windows']} windows: decode-only {r['decode_fps']:.0f} f/s, model-only "
      f"{r['model_fps']:.0f} f/s (compile {r['compile_s']:.1f} s), end to end "
      f"{r['end_to_end_fps']:.0f} f/s = {r['real_time_factor']:.1f}x real time, "
      f"{r['of_slowest_stage']:.0%} of the slowest stage"
  )


def main(argv: Sequence[str]) -> dict | None:
  """Measures for argv (argv[0]: the program, as app.run passes it); None without --video."""
  common.parse_flags(FLAGS, argv)
  if FLAGS.video is None:
    print("No --video=PATH: nothing to score, skipped (benchmarks/README.md names the recording).")
    return None
  path = pathlib.Path(FLAGS.video).expanduser()
  if not path.is_file():
    raise app.UsageError(f"--video={path} is not a file: pass a 640x480 30 fps recording.")
  result = measure(path, quick=FLAGS.quick, batch_size=FLAGS.batch_size, width=FLAGS.width)
  print(format_result(result))
  if FLAGS.output:
    fileio.write_json_atomic(FLAGS.output, result | common.environment())
  return result


if __name__ == "__main__":
  common.run(main)
