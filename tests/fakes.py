"""Plain helpers the tests share: small videos, record-shaped random data, a fake dataset, configs.

Fixtures live in conftest.py; everything here is an ordinary function or class, imported as
`import fakes` (pytest puts tests/ on sys.path; the subprocess scripts do the same).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
import importlib
import json
import os
import pathlib
import subprocess
import sys
import types

import cv2
import jax
import ml_collections
import numpy as np

from benchmarks import common
from mouseflax import checkpointing
from mouseflax import metric_writers
from mouseflax import models
from mouseflax import preprocess
from mouseflax import steps
from mouseflax import streams

REPO = pathlib.Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
T = streams.SEQUENCE_LENGTH
H, W = streams.FRAME_HW
SPLIT_SIZES = {
    "train": 24,
    "validation": 10,
    "test": 12,
    "train_labelled": 24,
    "validation_labelled": 10,
}
VIDEO_FPS = 25.0
TEXTURE_BLUR = ((7, 7), 2)  # Kernel and sigma of the blurred colour noise of `rolling_texture`.

# --------------------------------------------------------------------------------------------------
# Videos.


def write_video(
    path: pathlib.Path, frames: Iterable[np.ndarray], fourcc: str = "MJPG", fps: float = VIDEO_FPS
) -> pathlib.Path:
  """Writes BGR or gray uint8 frames with cv2.VideoWriter (the first frame sets the size)."""
  writer = None
  for frame in frames:
    if writer is None:
      height, width = frame.shape[:2]
      writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
      assert writer.isOpened(), f"no {fourcc} writer"
    writer.write(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
  assert writer is not None, "no frames to write"
  writer.release()
  return path


def rolling_texture(num_frames: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
  """Smooth colour noise shifting one pixel right per frame (every codec keeps some motion)."""
  rng = np.random.default_rng(seed)
  base = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), *TEXTURE_BLUR)
  return [np.roll(base, t, axis=1) for t in range(num_frames)]


def moving_disc(num_frames: int, size: tuple[int, int], seed: int = 0) -> Iterable[np.ndarray]:
  """Gray frames: a textured background with a bright disc moving right (size = width, height)."""
  rng = np.random.default_rng(seed)
  width, height = size
  background = cv2.GaussianBlur(rng.integers(0, 256, (height, width), dtype=np.uint8), (0, 0), 2)
  for t in range(num_frames):
    frame = background.copy()
    cv2.circle(frame, (5 + 3 * t % (width - 10), height // 2), 6, 230, -1)
    yield frame


# The own-videos scene: a small cage floor with a moving 'mouse'; a flashing square is the anomaly.
SCENE_SIZE = (64, 48)  # Width, height.
SCENE_FPS = 25.0
SCENE_ANOMALY = (80, 112)  # Frames [start, stop) where the square flashes.


def scene_frames(
    num_frames: int, phase: int, anomaly: tuple[int, int] | None
) -> Iterator[np.ndarray]:
  """Gray frames: a fixed textured cage floor with a grey 'mouse' moving slowly in a loop."""
  width, height = SCENE_SIZE
  background = cv2.GaussianBlur(
      np.random.default_rng(0).integers(0, 256, (height, width), dtype=np.uint8), (0, 0), 3
  )
  background = (background // 2 + 40).astype(np.uint8)
  for t in range(phase, phase + num_frames):
    frame = background.copy()
    center = (
        int(width / 2 + width / 4 * np.sin(t / 20)),
        int(height / 2 + height / 5 * np.cos(t / 27)),
    )
    cv2.ellipse(frame, center, (8, 5), (2 * t) % 180, 0, 360, 110, -1)
    if anomaly and anomaly[0] <= t - phase < anomaly[1] and t % 4 < 2:
      corner = ((7 * t) % (width - 16), (5 * t) % (height - 16))
      cv2.rectangle(frame, corner, (corner[0] + 16, corner[1] + 16), 255, -1)
    yield frame


def write_scene(
    path: pathlib.Path, num_frames: int, *, phase: int = 0, anomaly: tuple[int, int] | None = None
) -> pathlib.Path:
  return write_video(path, scene_frames(num_frames, phase, anomaly), "mp4v", SCENE_FPS)


def own_config(video_dir: pathlib.Path, data_dir: pathlib.Path, **data):
  """configs/own_videos.py on `video_dir`, shrunk to a tiny model and a few epochs."""
  config = load_config("own_videos")
  config.data.video_dir = str(video_dir)
  config.data.data_dir = str(data_dir)
  config.data.build_workers = 1
  config.data.stride = 1
  for key, value in data.items():
    config.data[key] = value
  config.model.width = 4
  config.train.epochs = 4
  config.train.batch_size = 4
  config.eval.batch_size = 16
  return config


def cut_short(path: pathlib.Path, out: pathlib.Path, fraction: float) -> pathlib.Path:
  """The first `fraction` of the bytes of `path`: an .avi that probes fine and fails mid-decode."""
  data = path.read_bytes()
  out.write_bytes(data[: int(fraction * len(data))])
  return out


# --------------------------------------------------------------------------------------------------
# Records, a fake dataset, configs, runs.


def random_split(num: int, seed: int, nan_flow: bool = False) -> dict[str, np.ndarray]:
  """Random arrays with the record fields, shapes and dtypes of ARCHITECTURE.md."""
  rng = np.random.default_rng(seed)
  flow = rng.random((num, T, H, W, 2)).astype(streams.FLOW_DTYPE)
  if nan_flow:
    flow[0, 0, 0, 0, 0] = np.nan
  return {
      "gray": rng.integers(0, 256, (num, T, H, W, 1), dtype=np.uint8),
      "flow": flow,
      "behavior": rng.integers(0, 8, (num, T)).astype(np.int64),
      "anomaly": (rng.random((num, T)) < 0.3).astype(np.int64),
      "frame_index": np.arange(num * T, dtype=np.int64).reshape(num, T),
      "video": np.repeat(np.arange(2, dtype=np.int64), (num + 1) // 2)[:num],
  }


class FakeHandle:
  """Stands in for input_pipeline.DatasetHandle: the same interface over random arrays."""

  def __init__(self, nan_flow: bool = False):
    self.nan_flow = nan_flow
    self.video_names = ["video_a", "video_b"]
    self.preprocess = preprocess.PreprocessConfig()
    self.info = types.SimpleNamespace(
        metadata={
            "video_names": self.video_names,
            "video_fps": [VIDEO_FPS] * len(self.video_names),
            "preprocess": self.preprocess.to_dict(),
        }
    )

  def load(self, split: str) -> dict[str, np.ndarray]:
    return random_split(SPLIT_SIZES[split], seed=len(split), nan_flow=self.nan_flow)

  def num_examples(self, split: str) -> int:
    return SPLIT_SIZES[split]

  def read(self, split, indices, keys=None) -> dict[str, np.ndarray]:
    """The rows at `indices`, as a process of a multi-host run reads its rows of each batch."""
    arrays = self.load(split)
    return {k: arrays[k][np.ravel(indices)] for k in keys or arrays}


def load_config(name: str) -> ml_collections.ConfigDict:
  """configs/<name>.py's get_config()."""
  return importlib.import_module(f"configs.{name}").get_config()


def tiny_config(**overrides) -> ml_collections.ConfigDict:
  """configs/tiny.py with `group__field=value` overrides, logging every step."""
  config = load_config("tiny")
  config.train.log_every_steps = 1
  for key, value in overrides.items():
    group, field = key.split("__")
    config[group][field] = value
  return config


def final_params(workdir: pathlib.Path, config: ml_collections.ConfigDict) -> dict:
  """Parameters of the latest checkpoint in `workdir`, as numpy."""
  mesh = steps.make_mesh(config.mesh)
  example = streams.to_model_inputs(random_split(1, 0))
  target = steps.create_train_state(
      models.create_model(config.model), steps.create_optimizer(config.optim), example, 0, mesh
  )
  manager = checkpointing.create_manager(workdir, config.ckpt)
  try:
    state, _ = checkpointing.restore_for_eval(manager, target, use_best=False)
  finally:
    manager.close()
  return jax.tree.map(np.asarray, state.params)


def initial_state(config: ml_collections.ConfigDict) -> steps.TrainState:
  """The freshly initialised train state of `config`'s model, on one device."""
  mesh = steps.make_mesh(ml_collections.ConfigDict({"data_parallelism": 1}))
  example = streams.to_model_inputs(random_split(1, 0))
  return steps.create_train_state(
      models.create_model(config.model), steps.create_optimizer(config.optim), example, 0, mesh
  )


def untrained_run(workdir: pathlib.Path, threshold: float, eval_batch_size: int) -> pathlib.Path:
  """A run folder as train.py leaves it, with freshly initialised (untrained) parameters."""
  config = load_config("tiny")
  config.eval.batch_size = eval_batch_size
  stored = {"threshold": threshold, "false_alarm_rate": config.eval.false_alarm_rate}
  return common.write_untrained_run(workdir, config, stored)


def train_losses(workdir: pathlib.Path) -> list[float]:
  return [m["train_loss"] for m in metric_writers.read_metrics(workdir) if "train_loss" in m]


def assert_trees_close(a, b, atol: float) -> None:
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_allclose(x, y, atol=atol, rtol=0)


def files_below(root: pathlib.Path) -> set[str]:
  """Paths of the files under root, relative to it (posix)."""
  return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def decode_bgr(path: pathlib.Path) -> np.ndarray:
  """Every frame of a video as BGR uint8 [T, H, W, 3] (cv2's decoder, as a user's player)."""
  capture = cv2.VideoCapture(str(path))
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(frame)
  capture.release()
  return np.stack(frames)


def run_module(module: str, *args: str, timeout_s: float) -> subprocess.CompletedProcess:
  """`python -m module args` from the repository root on the CPU, output captured, not checked."""
  return subprocess.run(
      [sys.executable, "-m", module, *args],
      cwd=REPO,
      capture_output=True,
      text=True,
      timeout=timeout_s,
      env={**os.environ, "JAX_PLATFORMS": "cpu"},
      check=False,
  )


# An untrained scoring run and the clips the scoring tests score (odd size and rate on purpose).
CLIP_FPS = 12.0
CLIP_THRESHOLD = 0.05


def write_disc_clip(
    path: pathlib.Path, num_frames: int, size=(70, 50), seed: int = 0
) -> pathlib.Path:
  """A moving disc on texture, at an odd size and rate (any input must work)."""
  return write_video(path, moving_disc(num_frames, size, seed), "mp4v", CLIP_FPS)


def make_workdir(
    workdir: pathlib.Path,
    threshold: float = CLIP_THRESHOLD,
    *,
    config_dict: dict | None = None,
    stored: dict | None = None,
) -> pathlib.Path:
  """A run folder as train.py leaves it, with freshly initialised (untrained) parameters.

  Default: configs/tiny.py (score 'paper', 2 false events per hour) and its threshold.json;
  `config_dict` and `stored` replace config.json and threshold.json (e.g. an older run's).
  """
  config = load_config("tiny")
  config.eval.batch_size = 3  # Several batches, the last one partly padding.
  stored = stored or {
      "threshold": threshold,
      "calibrate_to": "events_per_hour",
      "false_events_per_hour": config.eval.false_events_per_hour,
      "false_alarm_rate": None,
      "score": config.eval.score,
      "error_stats": {},
      "warning": "the validation video is too short",
  }
  config_json = json.dumps(config_dict) if config_dict else None
  return common.write_untrained_run(workdir, config, stored, config_json=config_json)
