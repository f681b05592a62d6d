"""A synthetic CUHK-Avenue-like street scene: pedestrians, anomalies, masks."""

from __future__ import annotations

from collections.abc import Iterator
import dataclasses
import math
import os
import pathlib

import cv2
import numpy as np
import scipy.io

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
MIN_VIDEO_S = 2  # Shortest accepted video, seconds (frames_per_video >= this * fps).
BGR_CHANNELS = 3  # Colour channels of a frame (and of a drawn colour).
PEDESTRIAN_RATE_PER_S = 0.6  # Poisson arrivals of normal pedestrians.
PERSON_HEIGHT_H = (0.22, 0.42)  # Figure height at the far and near edge of the pavement.
PAVEMENT_H = (0.58, 0.97)  # Feet y range (fraction of height).
WALK_HEIGHTS_PER_S = 0.8  # Walking speed in body heights per second (~1.4 m/s).
WALK_SPEED_FACTOR, RUN_SPEED_FACTOR = 1.0, 3.0  # Speed relative to walking.
STEP_HZ_WALK, STEP_HZ_RUN = 1.8, 3.2  # Gait cycles per second.
ANOMALY_KINDS = ("run", "throw", "wrong_way")
ANOMALIES_PER_TEST_VIDEO = (1, 2)  # Inclusive range.
THROW_WINDUP_S, THROW_FLIGHT_S = 0.6, 1.2  # Arm raise, then object in the air, seconds.
THROW_GRAVITY_H_PER_S2 = 1.6  # Gravity on the thrown object, frame heights per second squared.
MASK_MARGIN_PX = 3  # Masks are drawn a little thicker than the figures.
FACADE_H, HEDGE_H = 0.40, 0.52  # Bottom edge of the facade and of the hedge (fraction of height).
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
# Seen from the front the feet swing this much (of the side-view swing) along x and lift in y.
FRONTAL_FOOT_X, FRONTAL_FOOT_LIFT = 0.3, 0.2
HAND_SWING = 0.6  # Free hand swing along x, relative to the foot swing.
# The throwing arm's angle from horizontal-behind, in units of pi radians: straight up when
# lowered (raise 0), rotating forward by the sweep to the release (raise 1).
ARM_UP_ANGLE_PI, ARM_SWEEP_ANGLE_PI = 0.5, 0.6
SKIN_BGR, OBJECT_BGR = (60, 80, 120), (20, 40, 200)
SHIRT_BGR_RANGE, TROUSERS_BGR_RANGE = (30, 230), (20, 120)
FACADE_BGR, WINDOW_BGR, PILLAR_BGR = (120, 125, 130), (80, 70, 60), (150, 155, 160)
HEDGE_BGR, HEDGE_TEXTURE_BGR = (40, 90, 50), (15, 25, 15)
PAVEMENT_BGR, SEAM_BGR = (165, 170, 175), (140, 145, 150)
# Background layout. Windows: a grid of WINDOW_W_DIV per width and WINDOW_H_DIV per height (one
# window per two cells), at least MIN_WINDOW_PX pixels a side. Pillars: PILLARS_PER_WIDTH across,
# each width / PILLAR_W_DIV wide.
WINDOW_W_DIV, WINDOW_H_DIV, MIN_WINDOW_PX = 20, 14, 4
PILLARS_PER_WIDTH, PILLAR_W_DIV = 5, 40
HEDGE_BLUR_SIGMA_PX = 2.0  # Gaussian blur of the hedge's leaf texture, pixels.
PAVEMENT_SEAMS = 12  # Lengthwise tiles across the pavement (PAVEMENT_SEAMS - 1 seam lines).
SEAM_SPREAD = 2.5  # Bottom-edge spacing of the lengthwise seams, relative to their top spacing.
CROSS_SEAMS = 8  # Crosswise seam lines, geometrically spaced (denser far away).
CROSS_SEAM_OFFSET_PX = 4  # The first crosswise seam lies this many pixels below the hedge.
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
  shirt = tuple(int(c) for c in rng.integers(*SHIRT_BGR_RANGE, size=BGR_CHANNELS))
  trousers = tuple(int(c) for c in rng.integers(*TROUSERS_BGR_RANGE, size=BGR_CHANNELS))
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
  vy = -0.5 * g * THROW_FLIGHT_S  # Up, so that the object lands back at hand height.
  vx = facing * THROW_SPEED_HEIGHTS_PER_S * h
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
    actors.append(
        _crossing(int(t), WALK_SPEED_FACTOR, STEP_HZ_WALK, WALK_STRIDE, False, size, fps, rng)
    )
    t += rng.exponential(fps / PEDESTRIAN_RATE_PER_S)
  if test:
    lo, hi = ANOMALIES_PER_TEST_VIDEO
    for _ in range(int(rng.integers(lo, hi + 1))):
      kind = ANOMALY_KINDS[int(rng.integers(len(ANOMALY_KINDS)))]
      start = int(rng.integers(0, max(1, num_frames - int(ANOMALY_MIN_S * fps))))
      actors.append(_anomaly(kind, start, size, fps, rng))
  return actors


def _anomaly(
    kind: str, start: int, size: tuple[int, int], fps: float, rng: np.random.Generator
) -> _Actor:
  """One anomalous actor of `kind` (one of ANOMALY_KINDS), appearing at frame `start`."""
  if kind == "run":
    return _crossing(start, RUN_SPEED_FACTOR, STEP_HZ_RUN, RUN_STRIDE, True, size, fps, rng)
  if kind == "throw":
    return _thrower(start, size, fps, rng)
  return _wrong_way(start, size, fps, rng)


def _raised_hand(raise_: float, facing: float, h: float) -> np.ndarray:
  """Hand offset from the neck: straight up at raise_ = 0, forward at release (raise_ = 1)."""
  angle = math.pi * (ARM_UP_ANGLE_PI + ARM_SWEEP_ANGLE_PI * raise_)
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
  sx, sy = (
      (swing, 0.0)
      if actor.facing != 0
      else (FRONTAL_FOOT_X * swing, -FRONTAL_FOOT_LIFT * abs(swing))
  )
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
      hand = (x - s * HAND_SWING * sx, y - HAND_Y * h)
    cv2.line(img, common.pt(*neck), common.pt(*hand), colour(actor.shirt), width(ARM_W))
  cv2.circle(img, common.pt(x, y - HEAD_Y * h), width(HEAD_R), colour(SKIN_BGR), -1)
  if actor.obj is not None and not np.isnan(actor.obj[i, 0]):
    cv2.circle(img, common.pt(*actor.obj[i]), width(OBJECT_R), colour(OBJECT_BGR), -1)


def _draw_avenue_background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
  """A facade with windows and pillars, a hedge and a tiled pavement (BGR uint8)."""
  width, height = size
  img = np.zeros((height, width, BGR_CHANNELS), np.uint8)
  facade, hedge = int(FACADE_H * height), int(HEDGE_H * height)
  _draw_facade(img, facade)
  img[facade:hedge] = _hedge_texture(hedge - facade, width, rng)
  _draw_pavement(img, hedge)
  return img


def _draw_facade(img: np.ndarray, bottom: int) -> None:
  """Paints rows [0, bottom) of `img` as a facade: a grid of windows and evenly spaced pillars."""
  height, width = img.shape[:2]
  img[:bottom] = FACADE_BGR
  win_w = max(MIN_WINDOW_PX, width // WINDOW_W_DIV)
  win_h = max(MIN_WINDOW_PX, height // WINDOW_H_DIV)
  for wy in range(win_h // 2, bottom - win_h, 2 * win_h):
    for wx in range(win_w // 2, width - win_w, 2 * win_w):
      cv2.rectangle(img, (wx, wy), (wx + win_w, wy + win_h), WINDOW_BGR, -1)
  for px in range(0, width, max(1, width // PILLARS_PER_WIDTH)):
    cv2.rectangle(img, (px, 0), (px + width // PILLAR_W_DIV, bottom), PILLAR_BGR, -1)


def _hedge_texture(rows: int, width: int, rng: np.random.Generator) -> np.ndarray:
  """A rows x width hedge band: blurred noise as leaves over the hedge colour (BGR uint8)."""
  leaves = cv2.GaussianBlur(
      rng.normal(0, 1, size=(rows, width)).astype(np.float32), (0, 0), HEDGE_BLUR_SIGMA_PX
  )
  return np.clip(
      np.array(HEDGE_BGR) + np.array(HEDGE_TEXTURE_BGR) * leaves[..., None], 0, 255
  ).astype(np.uint8)


def _draw_pavement(img: np.ndarray, top: int) -> None:
  """Paints rows [top, end) of `img` as tiles whose seams converge to a point above the frame."""
  height, width = img.shape[:2]
  img[top:] = PAVEMENT_BGR
  for k in range(1, PAVEMENT_SEAMS):  # Lengthwise seams.
    upper = width * k / PAVEMENT_SEAMS
    lower = width / 2 + SEAM_SPREAD * width * (k / PAVEMENT_SEAMS - 0.5)
    cv2.line(img, (int(upper), top), (int(lower), height), SEAM_BGR, 1)
  for ty in np.geomspace(top + CROSS_SEAM_OFFSET_PX, height, CROSS_SEAMS):  # Crosswise seams.
    cv2.line(img, (0, int(ty)), (width, int(ty)), SEAM_BGR, 1)


def render_avenue(
    num_frames: int, size: tuple[int, int], fps: float, test: bool, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
  """(BGR frame, uint8 anomaly mask) pairs of one Avenue-like video."""
  width, height = size
  background = _draw_avenue_background(size, rng)
  actors = _avenue_actors(num_frames, size, fps, test, rng)
  camera = common.NoisyCamera((height, width, BGR_CHANNELS), fps, rng)
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
  """Renders one video (and, for a test video, its volLabel masks) into the Avenue layout."""
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
      ("frames_per_video", frames_per_video, MIN_VIDEO_S * fps),
      ("width", width, common.MIN_SIZE_PX),
      ("height", height, common.MIN_SIZE_PX),
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
