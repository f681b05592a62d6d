"""A top view of one dark mouse in a square open-field arena (the own-videos path, annotated).

The real recording of the README's worked example (the DeepLabCut example open-field video, no
labels) is a 640x480 top-down video of one black mouse on a light floor, the arena walls visible at
the edges. This generator writes recordings of that kind, `<stem>.mp4` with
`Annotator_group_1/<stem>.txt` in the Jhuang layout, so the same folder serves the own-videos path
(`data.video_dir`) and, through its annotations, an evaluation with the mouse_behavior builder
(`data.manual_dir`).

The scene: a square arena, its light floor textured and marked with the open-field grid, the inner
wall faces seen in perspective as a rim (the wall tops are nearer the camera), a darker bench
around it, slight vignetting, sensor noise and slow lighting drift (`common.NoisyCamera`). The
mouse from above: an elliptic body, a head with ears, a tail curving behind it (trailing the path
while walking, curled round the body at rest) and paws that show while it moves.

The behaviours are those of an open field (`OPEN_FIELD`). Their shares and bout lengths are
documented estimates from open-field time budgets of C57BL/6 mice, not measurements: locomotion
takes about a third of a session, mostly along the walls (thigmotaxis); rears are frequent and
short, mostly supported against a wall; grooming comes in bouts of seconds; the rest is spent in
place, sniffing and shifting posture, or resting, in longer bouts. No behaviour needs a particular
predecessor and a recording may start with any of them. Seen from above:

- walk: travel with turning, the heading following the path, often along the walls; the body sways
  with the gait, the paws step, the head leads into turns.
- rest: curled up, a shorter and rounder body with the head tucked and the tail wrapped round it;
  only breathing moves.
- groom: in place, sitting up; forepaws and head stroke over the face at 5-7 Hz (face wash), or the
  head is turned to the flank; the motion is small and fast, of the same order as micromovement.
- rear: standing up, mostly against the nearest wall, facing it: a shorter, rounder body, the head
  foreshortened, the forepaws on the wall; the head scans and sniffs.
- micromovement: small postural shifts, head turns and sniffing (fast head jitter).

Pose targets are low-pass filtered so that behaviours blend; the fast oscillations (grooming
strokes, breathing, sniffing, gait sway) are added after the filter, so it does not remove them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import dataclasses
import math
import os
import pathlib

import cv2
import numpy as np
import scipy.signal

from mouseflax.synthetic import behaviour
from mouseflax.synthetic import common

GROOM, MICRO, REAR, REST, WALK = (
    behaviour.GROOM,
    behaviour.MICRO,
    behaviour.REAR,
    behaviour.REST,
    behaviour.WALK,
)

# --------------------------------------------------------------------------------------------------
# The open-field ethogram (module docstring: estimates).

OPEN_FIELD_FRAME_SHARE = {GROOM: 0.14, MICRO: 0.24, REAR: 0.14, REST: 0.16, WALK: 0.32}
OPEN_FIELD_MEAN_BOUT_S = {GROOM: 4.0, MICRO: 2.0, REAR: 1.5, REST: 6.0, WALK: 2.5}
OPEN_FIELD = behaviour.Ethogram(
    OPEN_FIELD_FRAME_SHARE,
    OPEN_FIELD_MEAN_BOUT_S,
    predecessor={},
    start=tuple(sorted(OPEN_FIELD_FRAME_SHARE)),
)

# --------------------------------------------------------------------------------------------------
# Files.

OPEN_FIELD_DEFAULTS = {
    "num_videos": 4,
    "frames_per_video": 1800,
    "width": 640,
    "height": 480,
    "fps": 30.0,
}
OPEN_FIELD_STEM = "synth_field_{:02d}"
OPEN_FIELD_SUFFIX = ".mp4"
OPEN_FIELD_FOURCC = "mp4v"  # MPEG-4 part 2: every OpenCV build with ffmpeg writes it.

# --------------------------------------------------------------------------------------------------
# Geometry: the arena's lengths are fractions of the frame's shorter side, the animal's fractions of
# the floor's side (a 40 cm arena: the body is ~8 cm).

# The floor spans the central 3/4 of a 4:3 frame's height, which the model's centre crop keeps
# (preprocess: 32x32 -> 24x32), so a mouse at the top or bottom wall is not cut off; the wall rims
# lie outside the crop.
ARENA_SIDE = 0.76  # Floor side.
WALL_RIM = 0.07  # Visible inner wall face on each side (perspective), fraction of the floor side.
BODY_LEN, BODY_GIRTH = 0.2, 0.1
HEAD_LEN, HEAD_WIDTH = 0.08, 0.052
EAR_RADIUS, PAW_RADIUS = 0.011, 0.009
TAIL_LEN, TAIL_WIDTH = 0.17, 0.008
WALL_GAP = 0.015  # Space between the flank and the wall while walking along it.
WALL_EDGE = 0.0075  # Width of the lines at the wall's top and base.

# --------------------------------------------------------------------------------------------------
# Motion (speeds in body lengths per second, times in seconds, angles in degrees).

POSE_SMOOTHING_S = 0.12  # Low-pass time constant of the pose targets: behaviours blend.
FAST_RAMP_S = 0.2  # Fade of the fast oscillations at the ends of their bout.
WALK_SPEED = 2.0  # ~14 cm/s: exploratory locomotion.
WALK_SPEED_SPREAD = 0.25  # Per-walk speed factor in 1 +- this.
SPEED_WANDER, SPEED_TAU_S = 0.25, 0.5  # Slow speed modulation within a walk (fraction, OU tau).
HEADING_WANDER_DEG, HEADING_TAU_S = 25.0, 0.6  # Meandering around the steering direction.
TURN_RATE_DEG_S = 270.0  # Fastest heading change.
TURN_SLOWDOWN = 0.5  # Speed lost at the fastest turn (fraction).
THIGMOTAXIS_PROB = 0.7  # Share of walk legs that follow the walls (the rest cross the arena).
WALL_LOOKAHEAD = 1.0  # Steering target along the wall, body lengths ahead.
GOAL_REACHED = 0.5  # Distance at which a crossing reaches its goal, body lengths.
STRIDE = 0.55  # Distance per gait cycle, body lengths.
GAIT_SWAY = 0.08  # Lateral body sway with the gait, girths.
WALK_LENGTH, WALK_GIRTH = 1.05, 0.95  # Stretched while walking.
HEAD_LEAD_S, HEAD_YAW_MAX_DEG = 0.25, 40.0  # The head turns ahead into a turn.
TAIL_LAG_S, TAIL_CURL_MAX = 0.4, 2.6  # The tail trails the path (radians of bend at most).
HEAD_SCAN_DEG, HEAD_SCAN_TAU_S = 12.0, 0.5  # Slow head scanning while walking.
TAIL_WAVE = 0.25  # Tail sway with the gait, radians.
REST_LENGTH, REST_GIRTH = 0.68, 1.3  # Curled up: shorter and rounder.
REST_TUCK, REST_HEAD_YAW_DEG, REST_TAIL_CURL = 0.7, 35.0, 2.6  # Head tucked aside, tail wrapped.
BREATH_HZ, BREATH_GIRTH = 2.5, 0.03  # Resting breathing (relative girth change).
GROOM_HZ = (5.0, 7.0)  # Face-wash stroke frequency range (one frequency per bout).
GROOM_LENGTH, GROOM_GIRTH = 0.8, 1.12  # Sitting up, hunched.
GROOM_STROKE, GROOM_HEAD_BOB = 0.45, 0.2  # Forepaw travel and head bob per stroke, head lengths.
FLANK_PROB, FLANK_YAW_DEG, FLANK_STROKE_DEG = 0.3, 100.0, 10.0  # Bouts grooming a flank.
FOREPAW_FACE = 0.25  # Forepaws at the face while grooming, head lengths ahead of the head centre.
RHYTHM_TAU_S = 0.8  # Time constant of the strokes' amplitude modulation (bursts).
REAR_LENGTH, REAR_GIRTH, REAR_HEAD = 0.62, 1.08, 0.55  # Standing: short, round, head foreshortened.
REAR_WALL_REACH = 0.8  # A wall closer than this (body lengths, beyond the usual gap) is reared at.
REAR_WALL_DIST = 0.5  # Body centre to the wall while rearing against it, body lengths.
REAR_FOREPAW = 1.2  # Forepaws on the wall, head lengths ahead of the head centre.
REAR_SCAN_DEG = 15.0  # Head scanning while standing.
REAR_SNIFF = 0.7  # Sniffing while standing, relative to micromovement's.
REAR_TAIL_SPREAD = 0.6  # Per-bout tail bend while rearing, radians.
POSTURE_SHIFT, POSTURE_DEG, POSTURE_TAU_S = 0.05, 8.0, 0.6  # Micromovement: postural shifts.
MICRO_HEAD_DEG = 30.0  # Micromovement: the head turns to sniff around.
SNIFF_TAU_S, SNIFF_SHIFT, SNIFF_DEG = 0.05, 0.08, 10.0  # Sniffing: fast head jitter.
MICRO_PAWS, MICRO_SHUFFLE = 0.5, 0.5  # Paws half shown; paw-phase jitter (radians).
MICRO_LENGTH = 0.95
MICRO_TAIL_SPREAD = 1.0  # Per-bout tail bend in place, radians.

# --------------------------------------------------------------------------------------------------
# Drawing (proportions relative to the body's half length / half girth or the head's size).

NECK = 0.7  # Head joint, as a fraction of the half length ahead of the body centre.
EAR_BACK, EAR_SIDE = 0.45, 0.8  # Ears behind the head centre and to its sides.
SNOUT_AHEAD, SNOUT_LEN, SNOUT_WIDTH = 0.7, 0.55, 0.55  # The pointed snout, relative to the head.
PAW_ALONG = (0.6, 0.6, -0.55, -0.55)  # Fore pair, hind pair along the body axis.
PAW_SIDE = (1.0, -1.0, 1.0, -1.0)  # Left / right of the axis.
PAW_PHASE = (0.0, math.pi, math.pi, 0.0)  # Diagonal pairs step together (a trot).
PAW_OUT = 0.95  # Paw distance from the axis, half girths.
PAW_SWING = 0.25  # Step length of a paw, half lengths.
PAWS_SHOWN_ABOVE = 0.15  # Paw visibility under which paws are not drawn.
FOREPAW_SIDE = 0.5  # Forepaws apart, half head widths.
TAIL_SEGMENTS, TAIL_START = 8, 0.92  # Polyline segments; tail root behind the centre, half lengths.
SHEEN_LEN, SHEEN_GIRTH = 0.6, 0.35  # Lighter fur along the spine (texture for the flow).
SUBPIXEL_BITS = 4  # Fixed-point fraction bits of cv2 drawing coordinates (smooth slow motion).
_SUBPIXEL = 1 << SUBPIXEL_BITS
_FILLED = -1  # cv2 thickness of a filled shape.
_FULL_TURN_DEG = 360
_EPS = 1e-6

# Grey levels: a black mouse on a light floor; everything else lighter than the mouse.
FLOOR_GRAY, FLOOR_GRAIN, FLOOR_UNEVEN = 210, 5.0, 6.0
FLOOR_GRAIN_SIDE, FLOOR_UNEVEN_SIDE = 0.004, 0.08  # Texture scales, fractions of the floor side.
GRID_CELLS, GRID_DARKEN = 4, 14  # The open-field zone grid, faintly drawn on the floor.
WALL_GRAYS = (170, 140, 120, 155)  # Top, right, bottom, left inner wall faces (lit from above).
WALL_TOP_GRAY, WALL_BASE_GRAY = (
    220,
    150,
)  # The wall's top edge; the shadow where it meets the floor.
BENCH_GRAY, BENCH_GRAIN = 120, 4.0
BLUR_SIGMA = 1 / 640  # Lens softness, fraction of the frame width.
VIGNETTE = 0.18  # Brightness lost at the frame corners.
BODY_GRAY, SHEEN_GRAY, HEAD_GRAY, EAR_GRAY = 36, 44, 32, 58
TAIL_GRAY, PAW_GRAY, FOREPAW_GRAY = 125, 150, 140

# Pose vector fields (one row per frame).
(
    P_X,
    P_Y,
    P_HEADING,  # Radians, unwrapped (continuous, so that it can be filtered).
    P_LENGTH,
    P_GIRTH,
    P_HEAD_YAW,  # Radians, relative to the body axis.
    P_HEAD_REACH,  # Head length scale: < 1 foreshortened (rearing).
    P_HEAD_SHIFT,  # Head offset along the body axis, head lengths (< 0 tucked).
    P_PAWS,  # Stepping paws' visibility.
    P_FOREPAWS,  # Raised forepaws' visibility (grooming, rearing).
    P_FOREPAW_REACH,  # Raised forepaws ahead of the head centre, head lengths.
    P_TAIL_CURL,  # Tail bend, radians.
) = range(12)
NUM_POSE_FIELDS = 12

# Outward normals of the walls (top, right, bottom, left), radians in image coordinates (y down).
WALL_NORMALS = (-0.5 * math.pi, 0.0, 0.5 * math.pi, math.pi)

# --------------------------------------------------------------------------------------------------
# Geometry.


@dataclasses.dataclass(frozen=True)
class _Arena:
  """Arena and animal geometry in pixels for one frame size."""

  width: int
  height: int
  fps: float

  @property
  def side(self) -> float:
    return ARENA_SIDE * min(self.width, self.height)

  def s(self, fraction: float) -> float:
    return fraction * self.side

  @property
  def floor(self) -> tuple[float, float, float, float]:
    """The floor square (x0, y0, x1, y1)."""
    half = 0.5 * self.side
    cx, cy = 0.5 * self.width, 0.5 * self.height
    return cx - half, cy - half, cx + half, cy + half

  @property
  def body_len(self) -> float:
    return self.s(BODY_LEN)

  @property
  def girth(self) -> float:
    return self.s(BODY_GIRTH)

  @property
  def head_len(self) -> float:
    return self.s(HEAD_LEN)

  @property
  def inner(self) -> tuple[float, float, float, float]:
    """Where the body centre may be: the floor less half a girth and a gap."""
    inset = 0.5 * self.girth + self.s(WALL_GAP)
    x0, y0, x1, y1 = self.floor
    return x0 + inset, y0 + inset, x1 - inset, y1 - inset

  def frames(self, seconds: float) -> float:
    return seconds * self.fps


def arena_box(width: int, height: int) -> tuple[float, float, float, float]:
  """The floor square (x0, y0, x1, y1) of a frame of this size, pixels."""
  return _Arena(width, height, OPEN_FIELD_DEFAULTS["fps"]).floor


def _wrap(angle: float) -> float:
  return (angle + math.pi) % (2 * math.pi) - math.pi


def _clip_to(x: float, y: float, box: tuple[float, float, float, float]) -> tuple[float, float]:
  x0, y0, x1, y1 = box
  return min(max(x, x0), x1), min(max(y, y0), y1)


def _perimeter_point(s: float, box: tuple[float, float, float, float]) -> tuple[float, float]:
  """The point at arc length s along the box's edge, clockwise on screen from the top left."""
  x0, y0, x1, y1 = box
  w, h = x1 - x0, y1 - y0
  s %= 2 * (w + h)
  if s < w:
    return x0 + s, y0
  if s < w + h:
    return x1, y0 + s - w
  if s < 2 * w + h:
    return x1 - (s - w - h), y1
  return x0, y1 - (s - 2 * w - h)


def _perimeter_coord(x: float, y: float, box: tuple[float, float, float, float]) -> float:
  """Arc length of the edge point nearest to (x, y) (inverse of _perimeter_point)."""
  x0, y0, x1, y1 = box
  w, h = x1 - x0, y1 - y0
  x, y = _clip_to(x, y, box)
  distances = (y - y0, x1 - x, y1 - y, x - x0)  # Top, right, bottom, left.
  along = (x - x0, w + y - y0, w + h + x1 - x, 2 * w + h + y1 - y)
  return along[int(np.argmin(distances))]


def _nearest_wall(x: float, y: float, arena: _Arena) -> tuple[float, int]:
  """Distance from (x, y) to the nearest wall and its index (top, right, bottom, left)."""
  x0, y0, x1, y1 = arena.floor
  distances = (y - y0, x1 - x, y1 - y, x - x0)
  k = int(np.argmin(distances))
  return distances[k], k


# --------------------------------------------------------------------------------------------------
# Poses: per-behaviour targets (filtered) and fast oscillations (added after the filter).


@dataclasses.dataclass(frozen=True)
class _Where:
  """Where a bout leaves the animal: position and (unwrapped) heading."""

  x: float
  y: float
  heading: float


@dataclasses.dataclass(frozen=True)
class _Segment:
  """One bout: pose targets and fast parts [n, NUM_POSE_FIELDS], gait-phase steps [n], the end."""

  targets: np.ndarray
  fast: np.ndarray
  steps: np.ndarray
  end: _Where


def _base_targets(n: int, where: _Where) -> np.ndarray:
  pose = np.zeros((n, NUM_POSE_FIELDS))
  pose[:, P_X], pose[:, P_Y], pose[:, P_HEADING] = where.x, where.y, where.heading
  pose[:, P_LENGTH] = pose[:, P_GIRTH] = pose[:, P_HEAD_REACH] = 1.0
  return pose


def _ramp(n: int, arena: _Arena) -> np.ndarray:
  """1 inside a bout, fading to 0 over FAST_RAMP_S at its ends: fast parts start and stop softly."""
  t = np.arange(n, dtype=np.float64)
  ramp = max(arena.frames(FAST_RAMP_S), 1.0)
  return np.clip(np.minimum(t + 1, n - t) / ramp, 0.0, 1.0)


def _rhythm(n: int, hz: float, arena: _Arena, rng: np.random.Generator) -> np.ndarray:
  """Bursts of strokes (`common.rhythm`)."""
  return common.rhythm(n, hz, arena.fps, RHYTHM_TAU_S, rng)


def _new_goal(arena: _Arena, rng: np.random.Generator) -> tuple[float, float] | None:
  """The next leg of a walk: None follows the wall, else a point across the arena."""
  if rng.random() < THIGMOTAXIS_PROB:
    return None
  x0, y0, x1, y1 = arena.inner
  return float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))


def _wall_direction(x: float, y: float, heading: float, arena: _Arena) -> float:
  """+1 (clockwise) or -1: the way along the wall closer to the current heading."""
  s = _perimeter_coord(x, y, arena.inner)
  ahead = np.subtract(_perimeter_point(s + arena.body_len, arena.inner), (x, y))
  return 1.0 if ahead @ (math.cos(heading), math.sin(heading)) >= 0 else -1.0


def _steering_point(
    x: float, y: float, goal: tuple[float, float] | None, direction: float, arena: _Arena
) -> tuple[float, float]:
  """Where the animal heads now: the goal, or the wall a little ahead in `direction`."""
  if goal is not None:
    return goal
  s = _perimeter_coord(x, y, arena.inner) + direction * WALL_LOOKAHEAD * arena.body_len
  return _perimeter_point(s, arena.inner)


def _walk_track(
    n: int, start: _Where, along_wall: bool, arena: _Arena, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """x, y, heading and step length [n] each: steering to the wall ahead or to a goal across."""
  speed = (
      arena.body_len
      * WALK_SPEED
      / arena.fps
      * rng.uniform(1 - WALK_SPEED_SPREAD, 1 + WALK_SPEED_SPREAD)
      * (1 + SPEED_WANDER * np.tanh(common.ou_noise(n, arena.frames(SPEED_TAU_S), rng)))
  )
  wander = math.radians(HEADING_WANDER_DEG) * common.ou_noise(n, arena.frames(HEADING_TAU_S), rng)
  max_turn = math.radians(TURN_RATE_DEG_S) / arena.fps
  x, y, heading = start.x, start.y, start.heading
  goal = None if along_wall else _new_goal(arena, rng)
  direction = _wall_direction(x, y, heading, arena)
  xs, ys, headings, steps = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
  for i in range(n):
    if goal is not None and math.hypot(goal[0] - x, goal[1] - y) < GOAL_REACHED * arena.body_len:
      goal = _new_goal(arena, rng)
      direction = _wall_direction(x, y, heading, arena)
    to_x, to_y = _steering_point(x, y, goal, direction, arena)
    desired = math.atan2(to_y - y, to_x - x) + wander[i]
    turn = min(max(_wrap(desired - heading), -max_turn), max_turn)
    heading += turn
    step = speed[i] * (1 - TURN_SLOWDOWN * abs(turn) / max_turn)
    x, y = _clip_to(x + step * math.cos(heading), y + step * math.sin(heading), arena.inner)
    xs[i], ys[i], headings[i], steps[i] = x, y, heading, step
  return xs, ys, headings, steps


def _segment_walk(
    n: int, where: _Where, next_behavior: int | None, arena: _Arena, rng: np.random.Generator
) -> _Segment:
  """Travel with turning, often along the walls (always before a rear: it rears at the wall)."""
  along_wall = next_behavior == REAR or rng.random() < THIGMOTAXIS_PROB
  xs, ys, headings, lengths = _walk_track(n, where, along_wall, arena, rng)
  omega = np.diff(np.concatenate([[where.heading], headings])) * arena.fps  # rad/s
  targets = _base_targets(n, where)
  targets[:, P_X], targets[:, P_Y], targets[:, P_HEADING] = xs, ys, headings
  targets[:, P_LENGTH], targets[:, P_GIRTH], targets[:, P_PAWS] = WALK_LENGTH, WALK_GIRTH, 1.0
  scan = math.radians(HEAD_SCAN_DEG) * common.ou_noise(n, arena.frames(HEAD_SCAN_TAU_S), rng)
  yaw_max = math.radians(HEAD_YAW_MAX_DEG)
  targets[:, P_HEAD_YAW] = np.clip(HEAD_LEAD_S * omega + scan, -yaw_max, yaw_max)
  targets[:, P_TAIL_CURL] = np.clip(-TAIL_LAG_S * omega, -TAIL_CURL_MAX, TAIL_CURL_MAX)
  steps = 2 * math.pi * lengths / (STRIDE * arena.body_len)
  end = _Where(float(xs[-1]), float(ys[-1]), float(headings[-1]))
  return _Segment(targets, np.zeros_like(targets), steps, end)


def _segment_rest(
    n: int, where: _Where, next_behavior: int | None, arena: _Arena, rng: np.random.Generator
) -> _Segment:
  """Curled up: short and round, head tucked aside, tail wrapped round; breathing."""
  del next_behavior
  side = rng.choice([-1.0, 1.0])
  targets = _base_targets(n, where)
  targets[:, P_LENGTH], targets[:, P_GIRTH] = REST_LENGTH, REST_GIRTH
  targets[:, P_HEAD_SHIFT] = -REST_TUCK
  targets[:, P_HEAD_YAW] = side * math.radians(REST_HEAD_YAW_DEG)
  targets[:, P_TAIL_CURL] = side * REST_TAIL_CURL
  fast = np.zeros_like(targets)
  breathing = np.sin(2 * math.pi * BREATH_HZ * np.arange(n) / arena.fps + rng.uniform(0, math.pi))
  fast[:, P_GIRTH] = REST_GIRTH * BREATH_GIRTH * breathing * _ramp(n, arena)
  return _Segment(targets, fast, np.zeros(n), where)


def _segment_groom(
    n: int, where: _Where, next_behavior: int | None, arena: _Arena, rng: np.random.Generator
) -> _Segment:
  """Sitting up in place; forepaws and head stroke over the face (or the head licks a flank)."""
  del next_behavior
  targets = _base_targets(n, where)
  targets[:, P_LENGTH], targets[:, P_GIRTH] = GROOM_LENGTH, GROOM_GIRTH
  targets[:, P_FOREPAWS], targets[:, P_FOREPAW_REACH] = 1.0, FOREPAW_FACE
  strokes = _rhythm(n, rng.uniform(*GROOM_HZ), arena, rng) * _ramp(n, arena)
  fast = np.zeros_like(targets)
  fast[:, P_FOREPAW_REACH] = GROOM_STROKE * strokes
  fast[:, P_HEAD_SHIFT] = GROOM_HEAD_BOB * strokes
  if rng.random() < FLANK_PROB:  # The head turned to a flank, licking it.
    side = rng.choice([-1.0, 1.0])
    targets[:, P_HEAD_YAW] = side * math.radians(FLANK_YAW_DEG)
    targets[:, P_FOREPAWS] = 0.0
    fast[:, P_HEAD_YAW] = math.radians(FLANK_STROKE_DEG) * strokes
  tail_side = rng.uniform(-MICRO_TAIL_SPREAD, MICRO_TAIL_SPREAD)
  targets[:, P_TAIL_CURL] = tail_side
  return _Segment(targets, fast, np.zeros(n), where)


def _sniffing(n: int, scale: float, arena: _Arena, rng: np.random.Generator) -> np.ndarray:
  """Fast parts [n, NUM_POSE_FIELDS] of sniffing: head jitter along the axis and sideways."""
  fast = np.zeros((n, NUM_POSE_FIELDS))
  tau, amplitude = arena.frames(SNIFF_TAU_S), scale * _ramp(n, arena)
  fast[:, P_HEAD_SHIFT] = SNIFF_SHIFT * amplitude * common.ou_noise(n, tau, rng)
  fast[:, P_HEAD_YAW] = math.radians(SNIFF_DEG) * amplitude * common.ou_noise(n, tau, rng)
  return fast


def _rear_place(where: _Where, arena: _Arena) -> _Where:
  """Facing the nearest wall, close to it, if it is within reach; else where it is (free rear)."""
  distance, k = _nearest_wall(where.x, where.y, arena)
  usual = 0.5 * arena.girth + arena.s(WALL_GAP)
  if distance - usual > REAR_WALL_REACH * arena.body_len:
    return where
  normal = WALL_NORMALS[k]
  back = distance - REAR_WALL_DIST * arena.body_len  # Towards the wall by this much.
  x, y = where.x + back * math.cos(normal), where.y + back * math.sin(normal)
  x, y = _clip_to(x, y, arena.inner)
  return _Where(x, y, where.heading + _wrap(normal - where.heading))


def _segment_rear(
    n: int, where: _Where, next_behavior: int | None, arena: _Arena, rng: np.random.Generator
) -> _Segment:
  """Standing up, mostly against a wall: shorter, rounder, head foreshortened, forepaws up."""
  del next_behavior
  place = _rear_place(where, arena)
  targets = _base_targets(n, place)
  targets[:, P_LENGTH], targets[:, P_GIRTH] = REAR_LENGTH, REAR_GIRTH
  targets[:, P_HEAD_REACH] = REAR_HEAD
  targets[:, P_FOREPAWS], targets[:, P_FOREPAW_REACH] = 1.0, REAR_FOREPAW
  targets[:, P_HEAD_YAW] = math.radians(REAR_SCAN_DEG) * common.ou_noise(
      n, arena.frames(HEAD_SCAN_TAU_S), rng
  )
  targets[:, P_TAIL_CURL] = rng.uniform(-REAR_TAIL_SPREAD, REAR_TAIL_SPREAD)
  fast = _sniffing(n, REAR_SNIFF, arena, rng)  # Sniffing the air or the wall.
  return _Segment(targets, fast, np.zeros(n), place)


def _segment_micro(
    n: int, where: _Where, next_behavior: int | None, arena: _Arena, rng: np.random.Generator
) -> _Segment:
  """In place: small postural shifts and head turns (filtered), sniffing (fast head jitter)."""
  del next_behavior
  slow = arena.frames(POSTURE_TAU_S)
  targets = _base_targets(n, where)
  targets[:, P_X] += POSTURE_SHIFT * arena.body_len * common.ou_noise(n, slow, rng)
  targets[:, P_Y] += POSTURE_SHIFT * arena.body_len * common.ou_noise(n, slow, rng)
  targets[:, P_HEADING] += math.radians(POSTURE_DEG) * common.ou_noise(n, slow, rng)
  targets[:, P_HEAD_YAW] = math.radians(MICRO_HEAD_DEG) * common.ou_noise(n, slow, rng)
  targets[:, P_LENGTH], targets[:, P_PAWS] = MICRO_LENGTH, MICRO_PAWS
  targets[:, P_TAIL_CURL] = rng.uniform(-MICRO_TAIL_SPREAD, MICRO_TAIL_SPREAD)
  fast = _sniffing(n, 1.0, arena, rng)
  steps = MICRO_SHUFFLE * np.diff(common.ou_noise(n + 1, slow, rng))
  end = _Where(*targets[-1, [P_X, P_Y, P_HEADING]])
  return _Segment(targets, fast, steps, end)


_SEGMENTS: dict[int, Callable[..., _Segment]] = {
    GROOM: _segment_groom,
    MICRO: _segment_micro,
    REAR: _segment_rear,
    REST: _segment_rest,
    WALK: _segment_walk,
}


def simulate_poses(
    schedule: behaviour.Schedule, arena: _Arena, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
  """Per-frame poses [T, NUM_POSE_FIELDS] (filtered targets plus fast parts) and gait phases [T]."""
  x0, y0, x1, y1 = arena.inner
  where = _Where(rng.uniform(x0, x1), rng.uniform(y0, y1), rng.uniform(0, 2 * math.pi))
  segments = []
  for i, (behavior, n) in enumerate(schedule):
    next_behavior = schedule[i + 1][0] if i + 1 < len(schedule) else None
    segments.append(_SEGMENTS[behavior](n, where, next_behavior, arena, rng))
    where = segments[-1].end
  targets = np.concatenate([s.targets for s in segments])
  a = math.exp(-1.0 / arena.frames(POSE_SMOOTHING_S))
  smooth, _ = scipy.signal.lfilter([1 - a], [1, -a], targets, axis=0, zi=targets[:1] * a)
  poses = smooth + np.concatenate([s.fast for s in segments])
  phases = rng.uniform(0, 2 * math.pi) + np.cumsum(np.concatenate([s.steps for s in segments]))
  # The gait sway follows the paws' (filtered) visibility: full while walking, fading after.
  sway = GAIT_SWAY * arena.girth * np.sin(phases) * poses[:, P_PAWS]
  poses[:, P_X] -= sway * np.sin(poses[:, P_HEADING])
  poses[:, P_Y] += sway * np.cos(poses[:, P_HEADING])
  return poses, phases


# --------------------------------------------------------------------------------------------------
# Rendering: the background once, the mouse per frame.


def _noise_texture(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
  """Unit-variance smooth noise."""
  noise = rng.standard_normal(shape).astype(np.float32)
  noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=max(sigma_px, 0.5))
  return noise / (noise.std() + _EPS)


def _draw_walls(img: np.ndarray, arena: _Arena) -> None:
  """The inner wall faces as trapezoids between the floor square and the (nearer) wall tops."""
  x0, y0, x1, y1 = arena.floor
  rim = arena.s(WALL_RIM)
  floor = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
  top = [(x0 - rim, y0 - rim), (x1 + rim, y0 - rim), (x1 + rim, y1 + rim), (x0 - rim, y1 + rim)]
  for k, gray in enumerate(WALL_GRAYS):  # Top, right, bottom, left.
    j = (k + 1) % len(floor)
    face = np.array([_fixed(*top[k]), _fixed(*top[j]), _fixed(*floor[j]), _fixed(*floor[k])])
    cv2.fillConvexPoly(img, face, gray, cv2.LINE_AA, SUBPIXEL_BITS)
  width = max(1, round(arena.s(WALL_EDGE)))
  outline = [np.array([_fixed(*p) for p in top])]
  cv2.polylines(img, outline, True, WALL_TOP_GRAY, width, cv2.LINE_AA, SUBPIXEL_BITS)
  outline = [np.array([_fixed(*p) for p in floor])]
  cv2.polylines(img, outline, True, WALL_BASE_GRAY, width, cv2.LINE_AA, SUBPIXEL_BITS)


def _draw_floor(img: np.ndarray, arena: _Arena, rng: np.random.Generator) -> None:
  """The light floor: fine grain, uneven lighting and the faint zone grid."""
  x0, y0, x1, y1 = (round(v) for v in arena.floor)
  shape = (y1 - y0, x1 - x0)
  floor = (
      FLOOR_GRAY
      + FLOOR_GRAIN * _noise_texture(shape, arena.s(FLOOR_GRAIN_SIDE), rng)
      + FLOOR_UNEVEN * _noise_texture(shape, arena.s(FLOOR_UNEVEN_SIDE), rng)
  )
  img[y0:y1, x0:x1] = np.clip(floor, 0, 255).astype(np.uint8)
  gray = FLOOR_GRAY - GRID_DARKEN
  for k in range(1, GRID_CELLS):
    x, y = x0 + k / GRID_CELLS * shape[1], y0 + k / GRID_CELLS * shape[0]
    cv2.line(img, _fixed(x, y0), _fixed(x, y1), gray, 1, cv2.LINE_AA, SUBPIXEL_BITS)
    cv2.line(img, _fixed(x0, y), _fixed(x1, y), gray, 1, cv2.LINE_AA, SUBPIXEL_BITS)


def _vignette(img: np.ndarray) -> np.ndarray:
  h, w = img.shape
  y, x = np.ogrid[:h, :w]
  r2 = ((x - 0.5 * w) ** 2 + (y - 0.5 * h) ** 2) / ((0.5 * w) ** 2 + (0.5 * h) ** 2)
  return np.clip(img * (1 - VIGNETTE * r2), 0, 255).astype(np.uint8)


def _draw_background(arena: _Arena, rng: np.random.Generator) -> np.ndarray:
  """Bench, walls and floor, softened and vignetted (grey uint8 [height, width])."""
  shape = (arena.height, arena.width)
  bench = BENCH_GRAY + BENCH_GRAIN * _noise_texture(shape, arena.s(FLOOR_GRAIN_SIDE), rng)
  img = np.clip(bench, 0, 255).astype(np.uint8)
  _draw_walls(img, arena)
  _draw_floor(img, arena, rng)
  img = cv2.GaussianBlur(img, (0, 0), sigmaX=BLUR_SIGMA * arena.width)
  return _vignette(img)


def _fixed(x: float, y: float) -> tuple[int, int]:
  """A cv2 drawing coordinate with SUBPIXEL_BITS fraction bits."""
  return int(round(x * _SUBPIXEL)), int(round(y * _SUBPIXEL))


def _ellipse(
    img: np.ndarray, centre: np.ndarray, half: tuple[float, float], deg: float, gray: int
) -> None:
  cv2.ellipse(
      img,
      _fixed(*centre),
      _fixed(max(half[0], 1.0), max(half[1], 1.0)),
      deg,
      0,
      _FULL_TURN_DEG,
      gray,
      _FILLED,
      cv2.LINE_AA,
      SUBPIXEL_BITS,
  )


def _circle(img: np.ndarray, centre: np.ndarray, radius: float, gray: int) -> None:
  cv2.circle(
      img,
      _fixed(*centre),
      int(round(max(radius, 1.0) * _SUBPIXEL)),
      gray,
      _FILLED,
      cv2.LINE_AA,
      SUBPIXEL_BITS,
  )


@dataclasses.dataclass(frozen=True)
class _Body:
  """The body in one frame: centre, unit axis (towards the head), unit left normal, half sizes."""

  centre: np.ndarray
  axis: np.ndarray
  left: np.ndarray
  half_len: float
  half_girth: float
  heading: float


def _body(pose: np.ndarray, arena: _Arena) -> _Body:
  heading = float(pose[P_HEADING])
  axis = np.array([math.cos(heading), math.sin(heading)])
  half_girth = 0.5 * arena.girth * pose[P_GIRTH]
  half_len = max(0.5 * arena.body_len * pose[P_LENGTH], half_girth)
  return _Body(
      np.array([pose[P_X], pose[P_Y]]),
      axis,
      np.array([axis[1], -axis[0]]),
      half_len,
      half_girth,
      heading,
  )


def _draw_tail(img: np.ndarray, body: _Body, pose: np.ndarray, phase: float, arena: _Arena) -> None:
  """From the rump backwards, bending by the pose's curl and swaying with the gait."""
  segment = arena.s(TAIL_LEN) / TAIL_SEGMENTS
  point = body.centre - body.axis * TAIL_START * body.half_len
  points = [point]
  sway = TAIL_WAVE * math.sin(0.5 * phase) * min(pose[P_PAWS], 1.0)
  for k in range(TAIL_SEGMENTS):
    u = (k + 1) / TAIL_SEGMENTS
    angle = body.heading + math.pi + pose[P_TAIL_CURL] * u + sway * u
    point = point + segment * np.array([math.cos(angle), math.sin(angle)])
    points.append(point)
  width = max(1, round(arena.s(TAIL_WIDTH)))
  pts = np.array([_fixed(*p) for p in points], np.int32)
  cv2.polylines(img, [pts], False, TAIL_GRAY, width, cv2.LINE_AA, SUBPIXEL_BITS)
  root = pts[: len(pts) // 2 + 1]  # The thicker root half.
  cv2.polylines(img, [root], False, TAIL_GRAY, 2 * width, cv2.LINE_AA, SUBPIXEL_BITS)


def _draw_paws(img: np.ndarray, body: _Body, pose: np.ndarray, phase: float, arena: _Arena) -> None:
  """Stepping paws at the body's sides, swinging with the gait phase."""
  visible = min(float(pose[P_PAWS]), 1.0)
  if visible < PAWS_SHOWN_ABOVE:
    return
  radius = arena.s(PAW_RADIUS) * visible
  for along, side, offset in zip(PAW_ALONG, PAW_SIDE, PAW_PHASE):
    swing = PAW_SWING * math.sin(phase + offset)
    centre = (
        body.centre
        + body.axis * (along + swing) * body.half_len
        + body.left * side * PAW_OUT * body.half_girth
    )
    _circle(img, centre, radius, PAW_GRAY)


def _draw_head(img: np.ndarray, body: _Body, pose: np.ndarray, arena: _Arena) -> None:
  """Head at the neck, turned by the head yaw, ears behind; raised forepaws in front of it."""
  angle = body.heading + pose[P_HEAD_YAW]
  direction = np.array([math.cos(angle), math.sin(angle)])
  left = np.array([direction[1], -direction[0]])
  half_len = 0.5 * arena.head_len * max(pose[P_HEAD_REACH], _EPS)
  half_width = 0.5 * arena.s(HEAD_WIDTH)
  neck = body.centre + body.axis * NECK * body.half_len
  centre = neck + direction * half_len + body.axis * pose[P_HEAD_SHIFT] * arena.head_len
  _ellipse(img, centre, (half_len, half_width), math.degrees(angle), HEAD_GRAY)
  snout = centre + direction * SNOUT_AHEAD * half_len
  _ellipse(
      img, snout, (SNOUT_LEN * half_len, SNOUT_WIDTH * half_width), math.degrees(angle), HEAD_GRAY
  )
  for side in (1.0, -1.0):
    ear = centre - direction * EAR_BACK * half_len + left * side * EAR_SIDE * half_width
    _circle(img, ear, arena.s(EAR_RADIUS), EAR_GRAY)
  if pose[P_FOREPAWS] > PAWS_SHOWN_ABOVE:
    ahead = centre + direction * pose[P_FOREPAW_REACH] * arena.head_len
    for side in (1.0, -1.0):
      paw = ahead + left * side * FOREPAW_SIDE * half_width
      _circle(img, paw, arena.s(PAW_RADIUS) * min(pose[P_FOREPAWS], 1.0), FOREPAW_GRAY)


def _draw_mouse(img: np.ndarray, pose: np.ndarray, phase: float, arena: _Arena) -> None:
  """Tail, paws, body (with a lighter spine), head, ears and raised forepaws (cv2 primitives)."""
  body = _body(pose, arena)
  _draw_tail(img, body, pose, phase, arena)
  _draw_paws(img, body, pose, phase, arena)
  deg = math.degrees(body.heading)
  _ellipse(img, body.centre, (body.half_len, body.half_girth), deg, BODY_GRAY)
  sheen = (SHEEN_LEN * body.half_len, SHEEN_GIRTH * body.half_girth)
  _ellipse(img, body.centre, sheen, deg, SHEEN_GRAY)
  _draw_head(img, body, pose, arena)


def render_open_field_frames(
    schedule: behaviour.Schedule, width: int, height: int, fps: float, rng: np.random.Generator
) -> Iterator[np.ndarray]:
  """BGR uint8 frames (grey content) of one recording following `schedule`."""
  arena = _Arena(width, height, fps)
  background = _draw_background(arena, rng)
  poses, phases = simulate_poses(schedule, arena, rng)
  camera = common.NoisyCamera((height, width), fps, rng)
  for t in range(len(poses)):
    gray = background.copy()
    _draw_mouse(gray, poses[t], float(phases[t]), arena)
    yield cv2.cvtColor(camera(gray, t), cv2.COLOR_GRAY2BGR)


# --------------------------------------------------------------------------------------------------
# Files.


def _write_open_field_video(
    out: pathlib.Path,
    index: int,
    seed: int,
    frames_per_video: int,
    width: int,
    height: int,
    fps: float,
) -> None:
  stem = OPEN_FIELD_STEM.format(index + 1)
  rng = common.rng_for(seed, index)
  schedule = behaviour.sample_schedule(frames_per_video, fps, rng, ethogram=OPEN_FIELD)
  annotation = behaviour.annotation_text(behaviour.annotated(schedule, fps, rng))
  frames = render_open_field_frames(schedule, width, height, fps, rng)
  common.write_video_atomic(
      out, out / f"{stem}{OPEN_FIELD_SUFFIX}", frames, OPEN_FIELD_FOURCC, fps, (width, height)
  )
  common.write_text_atomic(out, out / behaviour.ANNOTATION_DIR / f"{stem}.txt", annotation)


def write_open_field(
    output_dir: str | os.PathLike,
    *,
    seed: int,
    num_videos: int = OPEN_FIELD_DEFAULTS["num_videos"],
    frames_per_video: int = OPEN_FIELD_DEFAULTS["frames_per_video"],
    width: int = OPEN_FIELD_DEFAULTS["width"],
    height: int = OPEN_FIELD_DEFAULTS["height"],
    fps: float = OPEN_FIELD_DEFAULTS["fps"],
    num_workers: int = 1,
) -> pathlib.Path:
  """Writes open-field recordings (`<stem>.mp4`, Jhuang annotations) into output_dir; returns it.

  Each file is written to a temporary path and renamed, so no half-written file is ever visible
  under its final name (use ensure_synthetic for an atomic whole folder). The output does not
  depend on num_workers.
  """
  common.check_size("num_videos", num_videos, 1)
  common.check_size(
      "frames_per_video", frames_per_video, behaviour.min_frames(behaviour.SCHEDULE_PARTS)
  )
  common.check_size("width", width, common.MIN_SIZE_PX)
  common.check_size("height", height, common.MIN_SIZE_PX)
  common.check_size("fps", fps, common.MIN_FPS)
  out = pathlib.Path(output_dir)
  out.mkdir(parents=True, exist_ok=True)
  jobs = [(out, v, seed, frames_per_video, width, height, fps) for v in range(num_videos)]
  common.run_jobs(_write_open_field_video, jobs, num_workers)
  common.remove_partial_dir(out)
  return out
