"""AVENUE"""

from __future__ import annotations

from collections.abc import Iterator
import dataclasses
import math
import os
import pathlib

import cv2
import numpy as np
import scipy.io
import scipy.signal

from mouseflax.synthetic import common

# --------------------------------------------------------------------------------------------------
# Avenue.

AVENUE_DEFAULTS = {
    "num_train": 16,
    "num_test": 21,
    "frames_per_video": 240,
    "width": 640,
    "height": 360,
    "fps": 25.0,
}
AVENUE_FOURCC = "XVID"
AVENUE_TRAIN_DIR, AVENUE_TEST_DIR = "training_videos", "testing_videos"
AVENUE_LABEL_DIR = "ground_truth_demo/testing_label_mask"
PEDESTRIAN_RATE_PER_S = 0.6  # Poisson arrivals of normal pedestrians.
PERSON_HEIGHT_H = (0.22, 0.42)  # Figure height at the far and near edge of the pavement.
PAVEMENT_H = (0.58, 0.97)  # Feet y range (fraction of height).
WALK_HEIGHTS_PER_S = 0.8  # Walking speed in body heights per second (~1.4 m/s).
RUN_SPEED_FACTOR = 3.0
STEP_HZ_WALK, STEP_HZ_RUN = 1.8, 3.2
ANOMALY_KINDS = ("run", "throw", "wrong_way")
ANOMALIES_PER_TEST_VIDEO = (1, 2)  # Inclusive range.
THROW_WINDUP_S, THROW_FLIGHT_S = 0.6, 1.2
THROW_GRAVITY_H_PER_S2 = 1.6
MASK_MARGIN_PX = 3  # Masks are drawn a little thicker than the figures.
FACADE_H, HEDGE_H = 0.40, 0.52
SPEED_SPREAD = 0.15  # Per-person speed factor in 1 +- this.
WARMUP_S = 8.0  # Pedestrians spawned this long before frame 0, so the avenue is not empty at start.
WALK_STRIDE, RUN_STRIDE, FRONTAL_STRIDE = 0.18, 0.30, 0.15  # Leg swing, fraction of the height.
WRONG_WAY_SPEED = 0.6  # Image-plane speed towards the camera, relative to crossing (perspective).
ACTOR_X_RANGE = (0.2, 0.8)  # Where anomalous actors appear (fraction of the width).
THROW_SPEED_HEIGHTS_PER_S = 0.9  # Horizontal speed of the thrown object.
ANOMALY_MIN_S = 2.0  # Anomalies start at least this long before the end of a test video.
# Figure proportions, fractions of the person's height above the feet.
HEAD_Y, NECK_Y, HIP_Y, HAND_Y = 0.92, 0.82, 0.48, 0.45
HEAD_R, TORSO_W, LEG_W, ARM_W, ARM_LEN, OBJECT_R = 0.07, 0.2, 0.07, 0.05, 0.35, 0.04
SKIN_BGR, OBJECT_BGR = (60, 80, 120), (20, 40, 200)
SHIRT_BGR_RANGE, TROUSERS_BGR_RANGE = (30, 230), (20, 120)
FACADE_BGR, WINDOW_BGR, PILLAR_BGR = (120, 125, 130), (80, 70, 60), (150, 155, 160)
HEDGE_BGR, HEDGE_TEXTURE_BGR = (40, 90, 50), (15, 25, 15)
PAVEMENT_BGR, SEAM_BGR = (165, 170, 175), (140, 145, 150)
_MAT_HEADER_TEXT = b"MATLAB 5.0 MAT-file, Platform: posix, written by mouseflax.synthetic"
_MAT_HEADER_TEXT_BYTES = 116  # The descriptive text field of a MAT v5 header.

# --------------------------------------------------------------------------------------------------
# Avenue: actors (pedestrians, anomalies) and rendering.


@dataclasses.dataclass
class _Actor:
  """One person's trajectory; arrays are per frame of the actor's life, from `start`."""

  start: int
  x: np.ndarray  # Feet position.
  y: np.ndarray
  phase: np.ndarray  # Gait phase.
  facing: float  # +1 right, -1 left, 0 towards the camera.
  stride: float  # Leg swing, as a fraction of the height.
  arm: np.ndarray  # Throwing-arm raise in [0, 1].
  obj: np.ndarray | None  # Thrown object centre [n, 2]; NaN when not in the air.
  anomalous: bool
  shirt: tuple[int, int, int]
  trousers: tuple[int, int, int]


def _person_height(y: np.ndarray | float, height: int) -> np.ndarray | float:
  """Perspective: people near the camera (low in the frame) look taller."""
  lo, hi = PAVEMENT_H
  frac = np.clip((np.asarray(y) / height - lo) / (hi - lo), 0.0, 1.0)
  return height * (PERSON_HEIGHT_H[0] + (PERSON_HEIGHT_H[1] - PERSON_HEIGHT_H[0]) * frac)


def _colours(rng: np.random.Generator) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
  shirt = tuple(int(c) for c in rng.integers(*SHIRT_BGR_RANGE, size=3))
  trousers = tuple(int(c) for c in rng.integers(*TROUSERS_BGR_RANGE, size=3))
  return shirt, trousers


def _crossing(
    start: int,
    speed_factor: float,
    step_hz: float,
    stride: float,
    anomalous: bool,
    size: tuple[int, int],
    fps: float,
    rng: np.random.Generator,
) -> _Actor:
  """A person crossing the frame left-to-right or right-to-left along the pavement."""
  width, height = size
  y = rng.uniform(*PAVEMENT_H) * height
  h = float(_person_height(y, height))
  facing = float(rng.choice([-1.0, 1.0]))
  speed = (
      WALK_HEIGHTS_PER_S * h / fps * speed_factor * rng.uniform(1 - SPEED_SPREAD, 1 + SPEED_SPREAD)
  )
  n = int(math.ceil((width + h) / speed))
  x = (-0.5 * h + speed * np.arange(n)) if facing > 0 else (width + 0.5 * h - speed * np.arange(n))
  phase = 2 * math.pi * step_hz / fps * np.arange(n) + rng.uniform(0, 2 * math.pi)
  return _Actor(
      start, x, np.full(n, y), phase, facing, stride, np.zeros(n), None, anomalous, *_colours(rng)
  )


def _wrong_way(start: int, size: tuple[int, int], fps: float, rng: np.random.Generator) -> _Actor:
  """A person walking towards the camera, across the flow of the avenue."""
  width, height = size
  y0 = PAVEMENT_H[0] * height
  x = rng.uniform(*ACTOR_X_RANGE) * width
  ys = [y0]
  while ys[-1] < height + HIP_Y * _person_height(height, height):  # Until the legs left the frame.
    step = WRONG_WAY_SPEED * WALK_HEIGHTS_PER_S * float(_person_height(ys[-1], height)) / fps
    ys.append(ys[-1] + step)
  n = len(ys)
  phase = 2 * math.pi * STEP_HZ_WALK / fps * np.arange(n)
  return _Actor(
      start,
      np.full(n, x),
      np.array(ys),
      phase,
      0.0,
      FRONTAL_STRIDE,
      np.zeros(n),
      None,
      True,
      *_colours(rng),
  )


def _thrower(start: int, size: tuple[int, int], fps: float, rng: np.random.Generator) -> _Actor:
  """A standing person winding up and throwing an object that flies on a parabola."""
  width, height = size
  x, y = rng.uniform(*ACTOR_X_RANGE) * width, rng.uniform(*PAVEMENT_H) * height
  h = float(_person_height(y, height))
  facing = float(rng.choice([-1.0, 1.0]))
  windup, flight = int(THROW_WINDUP_S * fps), int(THROW_FLIGHT_S * fps)
  n = windup + flight
  arm = np.concatenate([np.linspace(0, 1, windup), np.ones(flight)])
  t = np.arange(flight) / fps
  g = THROW_GRAVITY_H_PER_S2 * height
  vy, vx = (
      -0.5 * g * THROW_FLIGHT_S,
      facing * THROW_SPEED_HEIGHTS_PER_S * h,
  )  # Lands at hand height.
  hand = np.array([x, y - NECK_Y * h]) + _raised_hand(1.0, facing, h)
  obj = np.full((n, 2), np.nan)
  obj[windup:, 0] = hand[0] + vx * t
  obj[windup:, 1] = hand[1] + vy * t + 0.5 * g * t * t
  return _Actor(
      start, np.full(n, x), np.full(n, y), np.zeros(n), facing, 0.0, arm, obj, True, *_colours(rng)
  )


def _avenue_actors(
    num_frames: int, size: tuple[int, int], fps: float, test: bool, rng: np.random.Generator
) -> list[_Actor]:
  """Normal pedestrians (Poisson arrivals, some already in view) plus anomalies in test videos."""
  actors, warmup = [], int(WARMUP_S * fps)
  t = -warmup + rng.exponential(fps / PEDESTRIAN_RATE_PER_S)
  while t < num_frames:
    actors.append(_crossing(int(t), 1.0, STEP_HZ_WALK, WALK_STRIDE, False, size, fps, rng))
    t += rng.exponential(fps / PEDESTRIAN_RATE_PER_S)
  if test:
    lo, hi = ANOMALIES_PER_TEST_VIDEO
    for _ in range(int(rng.integers(lo, hi + 1))):
      kind = ANOMALY_KINDS[int(rng.integers(len(ANOMALY_KINDS)))]
      start = int(rng.integers(0, max(1, num_frames - int(ANOMALY_MIN_S * fps))))
      if kind == "run":
        actors.append(
            _crossing(start, RUN_SPEED_FACTOR, STEP_HZ_RUN, RUN_STRIDE, True, size, fps, rng)
        )
      elif kind == "throw":
        actors.append(_thrower(start, size, fps, rng))
      else:
        actors.append(_wrong_way(start, size, fps, rng))
  return actors


def _raised_hand(raise_: float, facing: float, h: float) -> np.ndarray:
  """Hand offset from the neck: straight up at raise_ = 0, forward at release (raise_ = 1)."""
  angle = math.pi * (0.5 + 0.6 * raise_)
  return np.array([-facing * ARM_LEN * h * math.cos(angle), -ARM_LEN * h * math.sin(angle)])


def _draw_person(
    img: np.ndarray, actor: _Actor, i: int, height: int, fill: int | None, margin: int
) -> None:
  """Legs, torso, arms, head (and a thrown object); with `fill`, a silhouette for the masks."""
  x, y = float(actor.x[i]), float(actor.y[i])
  h = float(_person_height(y, height))

  def colour(bgr: tuple[int, int, int]) -> tuple[int, int, int] | int:
    return bgr if fill is None else fill

  def width(fraction: float) -> int:
    return max(1, int(round(fraction * h)) + margin)

  swing = actor.stride * h * math.sin(actor.phase[i])
  hip, neck = (x, y - HIP_Y * h), np.array([x, y - NECK_Y * h])
  # Seen from the side the feet swing along x; walking towards the camera they bob in y.
  sx, sy = (swing, 0.0) if actor.facing != 0 else (0.3 * swing, -0.2 * abs(swing))
  for s in (1, -1):
    cv2.line(
        img,
        common.pt(*hip),
        common.pt(x + s * sx, y + s * sy),
        colour(actor.trousers),
        width(LEG_W),
    )
  cv2.line(img, common.pt(*hip), common.pt(*neck), colour(actor.shirt), width(TORSO_W))
  for s in (1, -1):  # Arms swing against the legs; the throwing arm is raised.
    if s == 1 and actor.arm[i] > 0:
      hand = neck + _raised_hand(actor.arm[i], actor.facing, h)
    else:
      hand = (x - s * 0.6 * sx, y - HAND_Y * h)
    cv2.line(img, common.pt(*neck), common.pt(*hand), colour(actor.shirt), width(ARM_W))
  cv2.circle(img, common.pt(x, y - HEAD_Y * h), width(HEAD_R), colour(SKIN_BGR), -1)
  if actor.obj is not None and not np.isnan(actor.obj[i, 0]):
    cv2.circle(img, common.pt(*actor.obj[i]), width(OBJECT_R), colour(OBJECT_BGR), -1)


def _draw_avenue_background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
  """A facade with windows and pillars, a hedge and a tiled pavement (BGR uint8)."""
  width, height = size
  img = np.zeros((height, width, 3), np.uint8)
  facade, hedge = int(FACADE_H * height), int(HEDGE_H * height)
  img[:facade] = FACADE_BGR
  win_w, win_h = max(4, width // 20), max(4, height // 14)
  for wy in range(win_h // 2, facade - win_h, 2 * win_h):
    for wx in range(win_w // 2, width - win_w, 2 * win_w):
      cv2.rectangle(img, (wx, wy), (wx + win_w, wy + win_h), WINDOW_BGR, -1)
  for px in range(0, width, max(1, width // 5)):
    cv2.rectangle(img, (px, 0), (px + width // 40, facade), PILLAR_BGR, -1)
  leaves = cv2.GaussianBlur(
      rng.normal(0, 1, size=(hedge - facade, width)).astype(np.float32), (0, 0), 2.0
  )
  img[facade:hedge] = np.clip(
      np.array(HEDGE_BGR) + np.array(HEDGE_TEXTURE_BGR) * leaves[..., None], 0, 255
  ).astype(np.uint8)
  img[hedge:] = PAVEMENT_BGR
  seams = 12
  for k in range(1, seams):  # Tile seams converging to a vanishing point above the frame.
    top, bottom = width * k / seams, width / 2 + 2.5 * width * (k / seams - 0.5)
    cv2.line(img, (int(top), hedge), (int(bottom), height), SEAM_BGR, 1)
  for ty in np.geomspace(hedge + 4, height, 8):
    cv2.line(img, (0, int(ty)), (width, int(ty)), SEAM_BGR, 1)
  return img


def render_avenue(
    num_frames: int, size: tuple[int, int], fps: float, test: bool, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
  """(BGR frame, uint8 anomaly mask) pairs of one Avenue-like video."""
  width, height = size
  background = _draw_avenue_background(size, rng)
  actors = _avenue_actors(num_frames, size, fps, test, rng)
  camera = common.NoisyCamera((height, width, 3), fps, rng)
  for t in range(num_frames):
    frame, mask = background.copy(), np.zeros((height, width), np.uint8)
    visible = [a for a in actors if 0 <= t - a.start < len(a.x)]
    for actor in sorted(visible, key=lambda a: a.y[t - a.start]):  # Far ones first.
      _draw_person(frame, actor, t - actor.start, height, None, 0)
      if actor.anomalous:
        _draw_person(mask, actor, t - actor.start, height, 1, MASK_MARGIN_PX)
    yield camera(frame, t), mask


def _save_vol_label(out: pathlib.Path, final: pathlib.Path, masks: list[np.ndarray]) -> None:
  """volLabel as MATLAB reads it: a 1xT cell array of per-frame masks."""
  cell = np.empty((1, len(masks)), dtype=object)
  for t, mask in enumerate(masks):
    cell[0, t] = mask
  tmp = common.partial_path(out, final)
  scipy.io.savemat(str(tmp), {"volLabel": cell}, do_compression=True)
  # The MAT header text carries a creation time; a fixed one keeps the file byte-deterministic.
  with open(tmp, "r+b") as f:
    f.write(_MAT_HEADER_TEXT.ljust(_MAT_HEADER_TEXT_BYTES))
  final.parent.mkdir(parents=True, exist_ok=True)
  os.replace(tmp, final)


def _write_avenue_video(
    out: pathlib.Path,
    test: bool,
    index: int,
    seed: int,
    frames_per_video: int,
    size: tuple[int, int],
    fps: float,
) -> None:
  pairs = render_avenue(frames_per_video, size, fps, test, common.rng_for(seed, int(test), index))
  folder = AVENUE_TEST_DIR if test else AVENUE_TRAIN_DIR
  masks: list[np.ndarray] = []
  empty = np.zeros((size[1], size[0]), np.uint8)
  # Normal frames share one empty mask: memory grows with the anomalous frames only.
  frames = (masks.append(m if m.any() else empty) or f for f, m in pairs)
  common.write_video_atomic(
      out, out / folder / f"{index + 1:02d}.avi", frames, AVENUE_FOURCC, fps, size
  )
  if test:
    _save_vol_label(out, out / AVENUE_LABEL_DIR / f"{index + 1}_label.mat", masks)


def write_avenue(
    output_dir: str | os.PathLike,
    *,
    seed: int,
    num_train: int = AVENUE_DEFAULTS["num_train"],
    num_test: int = AVENUE_DEFAULTS["num_test"],
    frames_per_video: int = AVENUE_DEFAULTS["frames_per_video"],
    width: int = AVENUE_DEFAULTS["width"],
    height: int = AVENUE_DEFAULTS["height"],
    fps: float = AVENUE_DEFAULTS["fps"],
    num_workers: int = 1,
) -> pathlib.Path:
  """Writes Avenue-like videos and volLabel masks in the CUHK Avenue layout; returns output_dir."""
  for name, value, minimum in (
      ("num_train", num_train, 1),
      ("num_test", num_test, 1),
      ("frames_per_video", frames_per_video, 2 * fps),
      ("width", width, 32),
      ("height", height, 32),
      ("fps", fps, 1),
  ):
    common.check_size(name, value, minimum)
  out, size = pathlib.Path(output_dir), (width, height)
  out.mkdir(parents=True, exist_ok=True)
  jobs = [
      (out, test, v, seed, frames_per_video, size, fps)
      for test, count in ((False, num_train), (True, num_test))
      for v in range(count)
  ]
  common.run_jobs(_write_avenue_video, jobs, num_workers)
  common.remove_partial_dir(out)
  return out
