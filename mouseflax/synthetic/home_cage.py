"""HOME"""

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
# Home cage: behaviours and their dynamics.

# Alphabetical, as peers encode them (must equal mouseflax.raw_formats.BEHAVIORS; a test checks).
BEHAVIORS = ("drink", "eat", "groom", "hang", "micromovement", "rear", "rest", "walk")
DRINK, EAT, GROOM, HANG, MICRO, REAR, REST, WALK = range(len(BEHAVIORS))

# Mean stay per behaviour in seconds (rest and eat bouts are long, rears short).
MEAN_DURATION_S = {
    DRINK: 4.0,
    EAT: 8.0,
    GROOM: 6.0,
    HANG: 5.0,
    MICRO: 3.0,
    REAR: 2.0,
    REST: 10.0,
    WALK: 2.5,
}
DURATION_GAMMA_SHAPE = 2.0  # Gamma shape of a stay: rarely very short, occasionally long.
MIN_SEGMENT_FRAMES = 3  # Shortest sampled stay.
# A walk must be long enough to cross the cage at a plausible speed (it may lead to the hopper).
MIN_DURATION_S = {WALK: 1.5}

# Row = current behaviour, column = next (order of BEHAVIORS); rows sum to 1, no self-transitions.
# Eat/drink are only entered from walk (the walk leads to the hopper/spout); hang only from rear.
TRANSITIONS = np.array(
    [
        # drink eat  groom hang  micro rear  rest  walk
        [0.00, 0.00, 0.15, 0.00, 0.30, 0.10, 0.10, 0.35],  # drink
        [0.00, 0.00, 0.25, 0.00, 0.30, 0.05, 0.10, 0.30],  # eat
        [0.00, 0.00, 0.00, 0.00, 0.35, 0.10, 0.20, 0.35],  # groom
        [0.00, 0.00, 0.00, 0.00, 0.30, 0.20, 0.00, 0.50],  # hang
        [0.00, 0.00, 0.20, 0.00, 0.00, 0.20, 0.20, 0.40],  # micromovement
        [0.00, 0.00, 0.10, 0.45, 0.20, 0.00, 0.00, 0.25],  # rear
        [0.00, 0.00, 0.20, 0.00, 0.50, 0.00, 0.00, 0.30],  # rest
        [0.20, 0.25, 0.10, 0.00, 0.20, 0.15, 0.10, 0.00],  # walk
    ]
)
# The behaviour each needs just before it (None: any).
REQUIRED_PREDECESSOR = {EAT: WALK, DRINK: WALK, HANG: REAR}
START_BEHAVIORS = (MICRO, REST, WALK, GROOM)  # A recording starts with the animal on the floor.

ANNOTATION_DIR = "Annotator_group_1"
ANNOTATION_PREFIX = "frames"  # 6 chars + ': ' puts the start number at 0-based column 8.
ANNOTATION_DIGITS = 8
HOME_CAGE_STEM = "synth_cage_{:02d}"
HOME_CAGE_FOURCC = "PIM1"  # MPEG-1 (ffmpeg warns about the tag; the files decode fine).

HOME_CAGE_DEFAULTS = {
    "num_videos": 8,
    "frames_per_video": 4500,
    "width": 320,
    "height": 240,
    "fps": 30.0,
}
# Parts of a recording that each hold every behaviour: 2 = both halves, so the test half of the
# paper's protocol (test_fraction 0.5) always holds the held-out behaviour.
SCHEDULE_PARTS = 2
MIN_FRAMES_PER_VIDEO = 64  # Room for all 8 behaviours in every part of every video.

# Motion parameters (sizes as fractions of the frame width, times in seconds).
WALK_SPEED_W_PER_S = 0.30  # Body lengths ~2/s: a mouse's leisurely walk.
WALK_SPEED_SPREAD = 0.2  # Per-walk speed factor in 1 +- this.
STRIDE_HZ_AT_WALK = 6.0  # Leg swings per second at nominal speed.
# Hanging: the mouse travels along the lid hand over hand (grip, pull, regrip), its legs paddling
# and its body swinging and sagging between grips. This is motion high up under the lid, which no
# other behaviour has (walk moves along the floor, rear stays in place), and it is vertical and
# rotational where walking is horizontal: the flow stream must be able to tell it apart.
HANG_SPEED_FRACTION = 0.8  # Mean travel speed along the lid, as a fraction of the walking speed.
HANG_GRIP_HZ = 2.5  # Hand-over-hand grips per second.
HANG_SURGE = 0.9  # Speed modulation by the grip cycle: 1 - this at the regrip, 1 + this mid-pull.
HANG_SAG_GIRTH = 0.6  # Vertical sag of the body between grips, relative to the girth.
HANG_SWING_HZ, HANG_SWING_DEG = 1.2, 20.0  # Pendulum swing of the hanging body.
HANG_PADDLE_HZ = 5.0  # Leg paddling (leg-phase cycles per second) while hanging.
GROOM_HZ, GROOM_HEAD_W = 4.5, 0.012  # Rhythmic head/forepaw strokes: fast but tiny.
EAT_HZ, EAT_HEAD_W = 2.5, 0.006  # Chewing.
DRINK_HZ, DRINK_HEAD_W = 7.0, 0.004  # Licking.
BREATH_HZ, BREATH_GIRTH = 2.5, 0.02  # Resting breathing (relative girth change).
JITTER_TAU_S = 0.3  # Time constant of the random in-place jitter (Ornstein-Uhlenbeck).
MICRO_JITTER_W, MICRO_JITTER_DEG = 0.010, 6.0  # Micromovement jitter amplitudes.
# Half of the micromovement bouts are spent sitting up in the grooming posture, so that grooming
# differs from them only by its rhythm (the paper: groom is confused with micromovement and eat).
MICRO_SITTING_PROB = 0.5
SITTING_LENGTH = 0.85  # Body length while sitting up (hunched), relative to the standing body.
GROOM_PITCH_SPREAD_DEG = 12.0  # Per-bout spread of the sitting posture's elevation.
SMALL_JITTER_W, SMALL_JITTER_DEG = 0.003, 2.0  # Residual jitter while grooming, eating, rearing.
POSE_SMOOTHING_S = 0.1  # Low-pass time constant of the pose: behaviours blend, no jumps.
RHYTHM_DEPTH, RHYTHM_TAU_S = 0.4, 0.9  # Amplitude modulation of the rhythms (bouts of strokes).
GAIT_BOB_GIRTH = 0.04  # Vertical body bob while walking, relative to the girth.
MICRO_FEET_SHUFFLE = 0.3  # Leg-phase jitter (radians) while in place.
REST_LENGTH, REST_GIRTH, REST_HEAD_TUCK = 0.75, 1.2, 0.3  # Curled: shorter, rounder, head tucked.
HANG_LENGTH = 1.1  # Stretched while hanging.
HANG_CLEARANCE = 0.6  # Distance kept from the hopper and spout, in body lengths.
PITCH_DEG = {GROOM: 25.0, EAT: 50.0, DRINK: 55.0, REAR: 75.0}  # Body elevation; others 0.

# Cage geometry as fractions of the frame (side view). The 24x32 crop of the 32x32 resize drops the
# top and bottom 1/8 of the frame, so the lid sits just above the crop line and the hanging mouse
# is inside the crop.
LID_BOTTOM_H = 0.14
FLOOR_H = 0.80
WALL_W = 0.03
HOPPER_X_W, HOPPER_BOTTOM_H = (0.08, 0.26), 0.50
SPOUT_X_W, SPOUT_TIP_H = 0.86, 0.52
BODY_LEN_W, BODY_GIRTH_W = 0.17, 0.085
HEAD_LEN_W, HEAD_GIRTH_W = 0.055, 0.037
EAR_W, LEG_LEN_W, TAIL_LEN_W = 0.018, 0.035, 0.16

# Drawing proportions of the mouse (relative to the body's half length / girth or the head size).
LINE_W = 1 / 110  # Leg line width, fraction of the frame width.
LEG_POSITIONS = (0.55, 0.35, -0.45, -0.65)  # Hips along the body axis: fore pair, hind pair.
LEG_HIP, LEG_STRIDE = 0.6, 0.5  # Hip depth into the body; foot swing relative to the leg length.
LEGS_HIDDEN_BELOW = 0.1  # Leg visibility under which legs are not drawn (curled up).
TAIL_SAG, TAIL_WAVE = 0.15, 0.15  # Tail droop towards the floor; sideways wave amplitude.
EAR_BACK = 0.4  # Ear position behind the head centre.
PAWS_SHOWN_ABOVE, PAW_BELOW, PAW_FORWARD = 0.3, 1.3, 0.2  # Raised forepaws near the snout.
_EPS = 1e-6

# Grey levels (the videos look grayscale: a dark C57BL/6-like mouse on light bedding).
WALL_GRAY, BEDDING_GRAY, BEDDING_TEXTURE = 178, 150, 22
LID_GRAY, HOPPER_GRAY, PELLET_GRAY, SPOUT_GRAY, BOTTLE_GRAY = 95, 112, 138, 215, 160
BODY_GRAY, HEAD_GRAY, EAR_GRAY, TAIL_GRAY, LEG_GRAY, PAW_GRAY = 48, 42, 95, 85, 58, 73

# Pose vector fields (one row per frame).
(
    P_X,
    P_Y,
    P_PITCH,
    P_FACING,
    P_LENGTH,
    P_GIRTH,
    P_HEAD_DX,
    P_HEAD_DY,
    P_LEGS_UP,
    P_PAWS,
    P_LEGS,
) = range(11)
NUM_POSE_FIELDS = 11

# --------------------------------------------------------------------------------------------------
# Home cage: the behaviour schedule.


def _sample_stay(behavior: int, fps: float, rng: np.random.Generator) -> int:
  mean_frames = MEAN_DURATION_S[behavior] * fps
  frames = rng.gamma(DURATION_GAMMA_SHAPE, mean_frames / DURATION_GAMMA_SHAPE)
  return max(
      MIN_SEGMENT_FRAMES, int(round(MIN_DURATION_S.get(behavior, 0.0) * fps)), int(round(frames))
  )


def _sample_chain(num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
  """[behaviour, frames] stays from the semi-Markov chain, exactly num_frames in total."""
  segments, total = [], 0
  state = int(rng.choice(START_BEHAVIORS))
  while total < num_frames:
    frames = min(_sample_stay(state, fps, rng), num_frames - total)
    segments.append([state, frames])
    total += frames
    state = int(rng.choice(len(BEHAVIORS), p=TRANSITIONS[state]))
  return segments


def _force_all_behaviors(
    segments: list[list[int]], fps: float, rng: np.random.Generator
) -> list[list[int]]:
  """Inserts each missing behaviour (with its required predecessor) where the chain allows it."""
  segments = [list(s) for s in segments]
  for behavior in range(len(BEHAVIORS)):
    if any(s[0] == behavior for s in segments):
      continue
    block = [behavior]
    if behavior in REQUIRED_PREDECESSOR:
      block = [REQUIRED_PREDECESSOR[behavior], behavior]
    # Valid insertion points: before a stay that has no predecessor requirement, or at the end.
    valid = [i for i, s in enumerate(segments) if s[0] not in REQUIRED_PREDECESSOR]
    valid.append(len(segments))
    at = int(rng.choice(valid))
    segments[at:at] = [[b, _sample_stay(b, fps, rng)] for b in block]
  return _merge_repeats(segments)


def _merge_repeats(segments: list[list[int]]) -> list[list[int]]:
  merged: list[list[int]] = []
  for behavior, frames in segments:
    if merged and merged[-1][0] == behavior:
      merged[-1][1] += frames
    else:
      merged.append([behavior, frames])
  return merged


def _fit_length(segments: list[list[int]], num_frames: int) -> list[list[int]]:
  """Rescales stays proportionally to exactly num_frames, each keeping at least one frame."""
  counts = np.array([s[1] for s in segments], dtype=np.float64)
  scaled = np.maximum(1, np.floor(counts * num_frames / counts.sum())).astype(np.int64)
  order = np.argsort(-counts, kind="stable")
  i = 0
  while scaled.sum() != num_frames:
    j = order[i % len(order)]
    step = 1 if scaled.sum() < num_frames else -1
    if scaled[j] + step >= 1:
      scaled[j] += step
    i += 1
  return [[s[0], int(n)] for s, n in zip(segments, scaled)]


def sample_behavior_schedule(
    num_frames: int, fps: float, rng: np.random.Generator
) -> list[tuple[int, int]]:
  """(behaviour id, frames) stays covering num_frames frames, every behaviour in every part.

  The recording is cut into SCHEDULE_PARTS equal parts, each an independent run of the chain with
  every behaviour forced in, so the test part of a test video (its first half in the paper's
  protocol) holds every held-out behaviour. A part starts on the floor (START_BEHAVIORS, none of
  which needs a predecessor), so the joined schedule still respects the chain's constraints.
  """
  bounds = np.linspace(0, num_frames, SCHEDULE_PARTS + 1).round().astype(int)
  segments: list[list[int]] = []
  for part_frames in np.diff(bounds):
    part = _force_all_behaviors(_sample_chain(int(part_frames), fps, rng), fps, rng)
    segments += _fit_length(part, int(part_frames))
  return [tuple(s) for s in _merge_repeats(segments)]


def annotation_text(schedule: list[tuple[int, int]]) -> str:
  """The Jhuang run-length annotation: one `frames: start-end label` line per stay, 1-based."""
  lines, start = [], 1
  for behavior, frames in schedule:
    end = start + frames - 1
    lines.append(
        f"{ANNOTATION_PREFIX}: {start:0{ANNOTATION_DIGITS}d}-{end:0{ANNOTATION_DIGITS}d} "
        f"{BEHAVIORS[behavior]}"
    )
    start = end + 1
  return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# Home cage: geometry and per-behaviour pose targets.


@dataclasses.dataclass(frozen=True)
class _Cage:
  """Cage and animal geometry in pixels for one frame size."""

  width: int
  height: int
  fps: float

  def w(self, fraction: float) -> float:
    return fraction * self.width

  def h(self, fraction: float) -> float:
    return fraction * self.height

  @property
  def body_len(self) -> float:
    return self.w(BODY_LEN_W)

  @property
  def girth(self) -> float:
    return self.w(BODY_GIRTH_W)

  @property
  def x_range(self) -> tuple[float, float]:
    margin = self.w(WALL_W) + 0.6 * self.body_len
    return margin, self.width - margin

  @property
  def floor_y(self) -> float:
    """Body centre height of a mouse standing on the floor."""
    return self.h(FLOOR_H) - self.w(LEG_LEN_W) - 0.5 * self.girth

  @property
  def hang_y(self) -> float:
    return self.h(LID_BOTTOM_H) + self.w(LEG_LEN_W) + 0.5 * self.girth

  @property
  def eat_x(self) -> float:
    return self.w(HOPPER_X_W[1]) + 0.15 * self.body_len

  @property
  def drink_x(self) -> float:
    return self.w(SPOUT_X_W) - 0.4 * self.body_len

  def pitched_y(self, pitch_deg: float) -> float:
    """Body centre height with the hind end on the floor and the body raised by pitch_deg."""
    lift = 0.5 * self.body_len * math.sin(math.radians(pitch_deg))
    return self.h(FLOOR_H) - 0.5 * self.w(LEG_LEN_W) - 0.5 * self.girth - lift


# (pose targets [n, NUM_POSE_FIELDS], leg-phase increments [n], final x, final facing).
_Segment = tuple[np.ndarray, np.ndarray, float, float]


def _base_pose(n: int, x: float, facing: float, cage: _Cage) -> np.ndarray:
  pose = np.zeros((n, NUM_POSE_FIELDS))
  pose[:, P_X], pose[:, P_Y], pose[:, P_FACING] = x, cage.floor_y, facing
  pose[:, P_LENGTH] = pose[:, P_GIRTH] = pose[:, P_LEGS] = 1.0
  return pose


def _walk_path(x0: float, target: float, n: int, speed: float, cage: _Cage) -> np.ndarray:
  """Positions for n frames from x0 to target at ~speed px/frame, detouring if there is time."""
  length, direct = speed * n, abs(target - x0)
  lo, hi = cage.x_range
  via = target
  if length > direct:
    beyond = (length + x0 + target) / 2  # Walk past the target and come back ...
    before = (x0 + target - length) / 2  # ... or away from it first ...
    if beyond <= hi:
      via = beyond
    elif before >= lo:
      via = before
    else:  # ... or, in a small cage, as far as the walls allow (a slower walk).
      via = hi if hi - target > target - lo else lo
  knots = np.array([0.0, abs(via - x0), abs(via - x0) + abs(target - via)])
  arc = np.linspace(0.0, knots[-1], n + 1)[1:]
  return np.interp(arc, knots, [x0, via, target])


def _walk_target(next_behavior: int | None, cage: _Cage, rng: np.random.Generator) -> float:
  if next_behavior == EAT:
    return cage.eat_x
  if next_behavior == DRINK:
    return cage.drink_x
  return float(rng.uniform(*cage.x_range))


def _segment_walk(
    n: int,
    x0: float,
    facing0: float,
    next_behavior: int | None,
    cage: _Cage,
    rng: np.random.Generator,
) -> _Segment:
  """Walks to where the next behaviour happens (or a random spot), legs swinging with distance."""
  speed = (
      cage.w(WALK_SPEED_W_PER_S)
      / cage.fps
      * rng.uniform(1 - WALK_SPEED_SPREAD, 1 + WALK_SPEED_SPREAD)
  )
  xs = _walk_path(x0, _walk_target(next_behavior, cage, rng), n, speed, cage)
  dx = np.diff(np.concatenate([[x0], xs]))
  facing = np.where(dx > 0, 1.0, np.where(dx < 0, -1.0, facing0))
  pose = _base_pose(n, 0.0, 0.0, cage)
  pose[:, P_X], pose[:, P_FACING] = xs, facing
  # Leg phase advances with distance: nominal speed -> STRIDE_HZ_AT_WALK swings per second.
  phase_step = (
      np.abs(dx)
      / (cage.w(WALK_SPEED_W_PER_S) / cage.fps)
      * 2
      * math.pi
      * (STRIDE_HZ_AT_WALK / cage.fps)
  )
  pose[:, P_Y] += GAIT_BOB_GIRTH * cage.girth * np.sin(2 * np.cumsum(phase_step))
  return pose, phase_step, float(xs[-1]), float(facing[-1])


def _in_place_jitter(
    pose: np.ndarray, cage: _Cage, rng: np.random.Generator, amp_w: float, amp_deg: float
) -> None:
  n, tau = len(pose), JITTER_TAU_S * cage.fps
  pose[:, P_X] += cage.w(amp_w) * common.ou_noise(n, tau, rng)
  pose[:, P_PITCH] += amp_deg * common.ou_noise(n, tau, rng)
  pose[:, P_HEAD_DX] += cage.w(amp_w) * common.ou_noise(n, tau, rng)
  pose[:, P_HEAD_DY] += cage.w(amp_w) * common.ou_noise(n, tau, rng)


def _pitched(pose: np.ndarray, behavior: int, cage: _Cage) -> None:
  pose[:, P_PITCH] = PITCH_DEG[behavior]
  pose[:, P_Y] = cage.pitched_y(PITCH_DEG[behavior])


def _rhythm(n: int, hz: float, cage: _Cage, rng: np.random.Generator) -> np.ndarray:
  """A sinusoid of slowly varying amplitude (bouts of strokes, chews or licks)."""
  t = np.arange(n) / cage.fps
  envelope = (
      1 - RHYTHM_DEPTH + RHYTHM_DEPTH * np.tanh(common.ou_noise(n, RHYTHM_TAU_S * cage.fps, rng))
  )
  return envelope * np.sin(2 * math.pi * hz * t + rng.uniform(0, 2 * math.pi))


def _segment_in_place(
    behavior: int, n: int, x0: float, facing0: float, cage: _Cage, rng: np.random.Generator
) -> _Segment:
  """Every behaviour but walk and hang: the animal stays where it is."""
  pose = _base_pose(n, x0, facing0, cage)
  phase = np.zeros(n)
  if behavior == REST:
    pose[:, P_LENGTH], pose[:, P_LEGS] = REST_LENGTH, 0.0  # Curled up, legs tucked in.
    pose[:, P_HEAD_DX] = -REST_HEAD_TUCK * cage.w(HEAD_LEN_W)
    breathing = np.sin(2 * math.pi * BREATH_HZ * np.arange(n) / cage.fps)
    pose[:, P_GIRTH] = REST_GIRTH * (1 + BREATH_GIRTH * breathing)
    pose[:, P_Y] = cage.h(FLOOR_H) - 0.5 * cage.girth  # Lying on the bedding.
  elif behavior == MICRO:
    if rng.random() < MICRO_SITTING_PROB:  # Sitting up like grooming, without the rhythm.
      _pitched(pose, GROOM, cage)
      pose[:, P_PITCH] += rng.uniform(-GROOM_PITCH_SPREAD_DEG, GROOM_PITCH_SPREAD_DEG)
      pose[:, P_LENGTH], pose[:, P_PAWS] = SITTING_LENGTH, 1.0
    _in_place_jitter(pose, cage, rng, MICRO_JITTER_W, MICRO_JITTER_DEG)
    phase = MICRO_FEET_SHUFFLE * np.abs(common.ou_noise(n, JITTER_TAU_S * cage.fps, rng))
  else:
    _pitched(pose, behavior, cage)
    _in_place_jitter(pose, cage, rng, SMALL_JITTER_W, SMALL_JITTER_DEG)
    if behavior == GROOM:
      pose[:, P_PITCH] += rng.uniform(-GROOM_PITCH_SPREAD_DEG, GROOM_PITCH_SPREAD_DEG)
      pose[:, P_LENGTH], pose[:, P_PAWS] = SITTING_LENGTH, 1.0
      pose[:, P_HEAD_DY] += cage.w(GROOM_HEAD_W) * _rhythm(n, GROOM_HZ, cage, rng)
    elif behavior == EAT:
      pose[:, P_FACING], pose[:, P_PAWS] = -1.0, 1.0  # Faces the hopper on its left.
      pose[:, P_HEAD_DY] += cage.w(EAT_HEAD_W) * _rhythm(n, EAT_HZ, cage, rng)
    elif behavior == DRINK:
      pose[:, P_FACING] = 1.0  # Faces the spout on its right.
      pose[:, P_HEAD_DX] += cage.w(DRINK_HEAD_W) * _rhythm(n, DRINK_HZ, cage, rng)
    elif behavior == REAR:
      pose[:, P_PAWS] = 0.0  # Forepaws against the wall, not at the snout.
  return pose, phase, x0, float(pose[-1, P_FACING])


def _hang_travel(
    n: int, x0: float, facing0: float, cage: _Cage, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Positions along the lid, facing and grip phase of a hand-over-hand traverse.

  The speed surges with the grip cycle (near zero at each regrip); the animal turns back at the
  hopper and the spout, which hang from the lid.
  """
  lo = cage.w(HOPPER_X_W[1]) + HANG_CLEARANCE * cage.body_len
  hi = cage.w(SPOUT_X_W) - HANG_CLEARANCE * cage.body_len
  grip = 2 * math.pi * HANG_GRIP_HZ * np.arange(n) / cage.fps + rng.uniform(0, 2 * math.pi)
  speed = (
      HANG_SPEED_FRACTION * cage.w(WALK_SPEED_W_PER_S) / cage.fps * (1 - HANG_SURGE * np.cos(grip))
  )
  direction = facing0 if facing0 != 0 else 1.0
  xs, facing, x = np.empty(n), np.empty(n), float(np.clip(x0, lo, hi))
  for i in range(n):
    if not lo <= x + direction * speed[i] <= hi:
      direction = -direction
    x += direction * speed[i]
    xs[i], facing[i] = x, direction
  return xs, facing, grip


def _segment_hang(
    n: int, x0: float, facing0: float, cage: _Cage, rng: np.random.Generator
) -> _Segment:
  """Upside down under the lid, legs up, travelling hand over hand with a swinging, sagging body."""
  xs, facing, grip = _hang_travel(n, x0, facing0, cage, rng)
  pose = _base_pose(n, 0.0, 0.0, cage)
  pose[:, P_X], pose[:, P_FACING] = xs, facing
  pose[:, P_LEGS_UP], pose[:, P_LENGTH] = 1.0, HANG_LENGTH
  # Lowest mid-pull, pulled up to the lid at each regrip.
  pose[:, P_Y] = cage.hang_y + HANG_SAG_GIRTH * cage.girth * 0.5 * (1 - np.cos(grip))
  pose[:, P_PITCH] = HANG_SWING_DEG * np.sin(
      2 * math.pi * HANG_SWING_HZ * np.arange(n) / cage.fps + rng.uniform(0, 2 * math.pi)
  )
  phase = np.full(n, 2 * math.pi * HANG_PADDLE_HZ / cage.fps)
  return pose, phase, float(xs[-1]), float(facing[-1])


def simulate_poses(
    schedule: list[tuple[int, int]], cage: _Cage, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
  """Per-frame pose vectors [T, NUM_POSE_FIELDS] (low-pass filtered) and leg phases [T]."""
  x, facing = float(rng.uniform(*cage.x_range)), float(rng.choice([-1.0, 1.0]))
  poses, phases = [], []
  for i, (behavior, n) in enumerate(schedule):
    next_behavior = schedule[i + 1][0] if i + 1 < len(schedule) else None
    if behavior == WALK:
      pose, phase, x, facing = _segment_walk(n, x, facing, next_behavior, cage, rng)
    elif behavior == HANG:
      pose, phase, x, facing = _segment_hang(n, x, facing, cage, rng)
    else:
      pose, phase, x, facing = _segment_in_place(behavior, n, x, facing, cage, rng)
    poses.append(pose)
    phases.append(phase)
  targets = np.concatenate(poses)
  a = math.exp(-1.0 / (POSE_SMOOTHING_S * cage.fps))
  smooth, _ = scipy.signal.lfilter([1 - a], [1, -a], targets, axis=0, zi=targets[:1] * a)
  return smooth, np.cumsum(np.concatenate(phases))


# --------------------------------------------------------------------------------------------------
# Home cage: rendering.


def _draw_cage_background(cage: _Cage, rng: np.random.Generator) -> np.ndarray:
  """Back wall, walls, wire lid, textured bedding, food hopper and water spout (grey uint8)."""
  w, h = cage.width, cage.height
  img = np.full((h, w), WALL_GRAY, np.uint8)
  # A soft vertical light gradient on the back wall.
  img[:] = np.clip(WALL_GRAY + 12 * np.linspace(-1, 1, h)[:, None], 0, 255).astype(np.uint8)
  floor = int(cage.h(FLOOR_H))
  texture = rng.normal(0, 1, size=(h - floor, w)).astype(np.float32)
  texture = cv2.GaussianBlur(texture, (0, 0), sigmaX=max(1.0, w / 320))
  img[floor:] = np.clip(BEDDING_GRAY + BEDDING_TEXTURE * texture / texture.std(), 0, 255).astype(
      np.uint8
  )
  wall = max(1, int(cage.w(WALL_W)))
  img[:, :wall] = img[:, w - wall :] = LID_GRAY + 30
  lid = int(cage.h(LID_BOTTOM_H))
  img[:lid] = LID_GRAY + 40
  bar_step = max(3, w // 40)
  for bx in range(0, w, bar_step):
    cv2.line(img, (bx, 0), (bx, lid), LID_GRAY, max(1, w // 320))
  cv2.line(img, (0, lid), (w, lid), LID_GRAY, max(2, w // 160))
  _draw_hopper(img, cage, rng)
  _draw_spout(img, cage)
  return img


def _draw_hopper(img: np.ndarray, cage: _Cage, rng: np.random.Generator) -> None:
  x0, x1 = cage.w(HOPPER_X_W[0]), cage.w(HOPPER_X_W[1])
  top, bottom = cage.h(LID_BOTTOM_H), cage.h(HOPPER_BOTTOM_H)
  shape = np.array(
      [
          common.pt(x0, top),
          common.pt(x1, top),
          common.pt(x1 - 0.2 * (x1 - x0), bottom),
          common.pt(x0 + 0.2 * (x1 - x0), bottom),
      ],
      np.int32,
  )
  cv2.fillConvexPoly(img, shape, HOPPER_GRAY)
  radius = max(1, int(cage.w(0.012)))
  for _ in range(24):  # Food pellets behind the wire.
    px, py = rng.uniform(x0 + 0.25 * (x1 - x0), x1 - 0.25 * (x1 - x0)), rng.uniform(top, bottom)
    cv2.circle(img, common.pt(px, py), radius, PELLET_GRAY, -1)
  cv2.polylines(img, [shape], True, LID_GRAY, max(1, cage.width // 200))


def _draw_spout(img: np.ndarray, cage: _Cage) -> None:
  x, top, tip = cage.w(SPOUT_X_W), cage.h(LID_BOTTOM_H), cage.h(SPOUT_TIP_H)
  bottle_w = cage.w(0.05)
  cv2.rectangle(img, common.pt(x - bottle_w, 0), common.pt(x + bottle_w, top), BOTTLE_GRAY, -1)
  cv2.line(
      img,
      common.pt(x, top),
      common.pt(x - cage.w(0.03), tip),
      SPOUT_GRAY,
      max(2, cage.width // 100),
  )


@dataclasses.dataclass(frozen=True)
class _Body:
  """Where the body lies in one frame: centre, unit axis towards the head, sizes, belly side."""

  centre: np.ndarray
  axis: np.ndarray
  half_len: float
  half_girth: float
  legs_dir: np.ndarray  # Unit vector the legs point to (down on the floor, up under the lid).


def _body(pose: np.ndarray, cage: _Cage) -> _Body:
  pitch = math.radians(pose[P_PITCH])
  facing = float(np.clip(pose[P_FACING], -1.0, 1.0))
  side = 1.0 if facing >= 0 else -1.0
  # Side view: while turning (|facing| < 1) the body is foreshortened.
  axis = np.array([facing * math.cos(pitch), -math.sin(pitch)])
  span = float(np.linalg.norm(axis))
  axis = axis / span if span > _EPS else np.array([side, 0.0])
  half_girth = 0.5 * cage.girth * pose[P_GIRTH]
  half_len = max(0.5 * cage.body_len * pose[P_LENGTH] * span, half_girth)
  belly = np.array([-axis[1] * side, axis[0] * side])
  return _Body(
      np.array([pose[P_X], pose[P_Y]]),
      axis,
      half_len,
      half_girth,
      belly * (1 - 2 * pose[P_LEGS_UP]),
  )


def _draw_mouse(img: np.ndarray, pose: np.ndarray, phase: float, cage: _Cage) -> None:
  """Draws the animal: tail, legs, body, head, ears and forepaws (cv2 primitives)."""
  body = _body(pose, cage)
  line_w = max(1, int(round(cage.width * LINE_W)))
  _draw_tail(img, body, pose, phase, cage, line_w)
  _draw_legs(img, body, phase, pose[P_LEGS], cage, line_w)
  cv2.ellipse(
      img,
      common.pt(*body.centre),
      common.pt(body.half_len, body.half_girth),
      math.degrees(math.atan2(body.axis[1], body.axis[0])),
      0,
      360,
      BODY_GRAY,
      -1,
      cv2.LINE_AA,
  )
  _draw_head(img, body, pose, cage, line_w)


def _draw_tail(
    img: np.ndarray, body: _Body, pose: np.ndarray, phase: float, cage: _Cage, line_w: int
) -> None:
  """From the rump backwards along the floor, or hanging straight down under the lid."""
  rump = body.centre - body.axis * body.half_len
  backwards = np.array([-np.sign(body.axis[0]) or -1.0, TAIL_SAG])
  direction = backwards * (1 - pose[P_LEGS_UP]) + np.array([0.0, 1.0]) * pose[P_LEGS_UP]
  direction /= np.linalg.norm(direction) + _EPS
  length = cage.w(TAIL_LEN_W)
  bend = np.array([-direction[1], direction[0]]) * TAIL_WAVE * length * math.sin(0.5 * phase)
  tail = np.array([rump, rump + 0.5 * length * direction + bend, rump + length * direction])
  cv2.polylines(
      img, [np.round(tail).astype(np.int32)], False, TAIL_GRAY, max(1, line_w - 1), cv2.LINE_AA
  )


def _draw_legs(
    img: np.ndarray, body: _Body, phase: float, visible: float, cage: _Cage, line_w: int
) -> None:
  if visible < LEGS_HIDDEN_BELOW:
    return
  length = cage.w(LEG_LEN_W) * visible
  for k, along in enumerate(LEG_POSITIONS):
    hip = (
        body.centre + body.axis * along * body.half_len + body.legs_dir * LEG_HIP * body.half_girth
    )
    swing = LEG_STRIDE * length * math.sin(phase + (k % 2) * math.pi)  # Diagonal pairs alternate.
    foot = hip + body.legs_dir * (length + (1 - LEG_HIP) * body.half_girth) + body.axis * swing
    cv2.line(img, common.pt(*hip), common.pt(*foot), LEG_GRAY, line_w, cv2.LINE_AA)


def _draw_head(img: np.ndarray, body: _Body, pose: np.ndarray, cage: _Cage, line_w: int) -> None:
  """Head at the front of the body (offset by the pose's head motion), ear on the back side."""
  head_len, head_girth = 0.5 * cage.w(HEAD_LEN_W), 0.5 * cage.w(HEAD_GIRTH_W)
  centre = (
      body.centre
      + body.axis * (body.half_len + 0.5 * head_len + pose[P_HEAD_DX])
      + np.array([0.0, pose[P_HEAD_DY]])
  )
  cv2.ellipse(
      img,
      common.pt(*centre),
      common.pt(head_len, head_girth),
      math.degrees(math.atan2(body.axis[1], body.axis[0])),
      0,
      360,
      HEAD_GRAY,
      -1,
      cv2.LINE_AA,
  )
  back = -body.legs_dir
  ear = centre - body.axis * EAR_BACK * head_len + back * head_girth
  cv2.circle(img, common.pt(*ear), max(1, int(cage.w(EAR_W))), EAR_GRAY, -1, cv2.LINE_AA)
  if pose[P_PAWS] > PAWS_SHOWN_ABOVE:  # Forepaws raised to the snout (grooming, eating).
    paw = (
        centre
        + body.legs_dir * PAW_BELOW * head_girth
        + body.axis * PAW_FORWARD * head_len
        + np.array([0.0, 0.5 * pose[P_HEAD_DY]])
    )
    cv2.circle(img, common.pt(*paw), line_w, PAW_GRAY, -1, cv2.LINE_AA)


def render_home_cage_frames(
    schedule: list[tuple[int, int]], width: int, height: int, fps: float, rng: np.random.Generator
) -> Iterator[np.ndarray]:
  """BGR uint8 frames (grey content) of one recording following `schedule`."""
  cage = _Cage(width, height, fps)
  background = _draw_cage_background(cage, rng)
  poses, phases = simulate_poses(schedule, cage, rng)
  camera = common.NoisyCamera((height, width), fps, rng)
  for t in range(len(poses)):
    gray = background.copy()
    _draw_mouse(gray, poses[t], float(phases[t]), cage)
    yield cv2.cvtColor(camera(gray, t), cv2.COLOR_GRAY2BGR)


def _write_home_cage_video(
    out: pathlib.Path,
    index: int,
    seed: int,
    frames_per_video: int,
    width: int,
    height: int,
    fps: float,
) -> None:
  stem = HOME_CAGE_STEM.format(index + 1)
  rng = common.rng_for(seed, index)
  schedule = sample_behavior_schedule(frames_per_video, fps, rng)
  frames = render_home_cage_frames(schedule, width, height, fps, rng)
  common.write_video_atomic(
      out, out / f"{stem}.mpg", frames, HOME_CAGE_FOURCC, fps, (width, height)
  )
  common.write_text_atomic(out, out / ANNOTATION_DIR / f"{stem}.txt", annotation_text(schedule))


def write_home_cage(
    output_dir: str | os.PathLike,
    *,
    seed: int,
    num_videos: int = HOME_CAGE_DEFAULTS["num_videos"],
    frames_per_video: int = HOME_CAGE_DEFAULTS["frames_per_video"],
    width: int = HOME_CAGE_DEFAULTS["width"],
    height: int = HOME_CAGE_DEFAULTS["height"],
    fps: float = HOME_CAGE_DEFAULTS["fps"],
    num_workers: int = 1,
) -> pathlib.Path:
  """Writes home-cage recordings in the Jhuang layout into output_dir; returns output_dir.

  Each file is written to a temporary path and renamed, so no half-written file is ever visible
  under its final name (use ensure_synthetic for an atomic whole folder). The output does not
  depend on num_workers.
  """
  common.check_size("num_videos", num_videos, 1)
  common.check_size("frames_per_video", frames_per_video, MIN_FRAMES_PER_VIDEO)
  common.check_size("width", width, 32)
  common.check_size("height", height, 32)
  common.check_size("fps", fps, 1)
  out = pathlib.Path(output_dir)
  out.mkdir(parents=True, exist_ok=True)
  jobs = [(out, v, seed, frames_per_video, width, height, fps) for v in range(num_videos)]
  common.run_jobs(_write_home_cage_video, jobs, num_workers)
  common.remove_partial_dir(out)
  return out
