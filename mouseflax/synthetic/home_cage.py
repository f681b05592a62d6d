"""A side view of a mouse home cage in the Jhuang et al. 2010 layout: the scene, the animal's
behaviours, the recording conditions.

Layout: `<stem>.mpg` (MPEG-1, 320x240, 30 fps by default) and `Annotator_group_1/<stem>.txt`, one
line per run of frames, `frames: SSSSSSSS-EEEEEEEE <label>` (1-based, inclusive, zero-padded to 8
digits, so that both the split parser and the fixed-column parser of peers work). The annotation is
the schedule as an annotator would write it (`behaviour.annotated`: boundaries a few frames off).

Scene: back wall, a wire lid, textured bedding, a food hopper hanging from the lid on the left (the
bars of its front grille are drawn over the animal: an eating mouse's head is seen through them)
and a water spout on the right.
The lid is within reach: a mouse rearing at full stretch touches it with its forepaws, so being near
the lid is not what tells hanging apart.

What the animal does (`behaviour.HOME_CAGE` says how often and for how long), as seen at 32x32:
- walk: along the floor with a gait (legs swinging, the body bobbing), to where the next behaviour
  happens (hopper, spout) or anywhere; walking kicks the bedding, which stays shifted.
- rest: curled up and still, breathing.
- micromovement: in place, small postural shifts and sniffing; some bouts sitting up.
- groom, one of three styles per bout (`GROOM_STYLES`): face-wash (sitting up, both forepaws
  stroking the snout at 6 Hz), flank licking (body curled, head turned back to the flank, licking
  strokes at 4 Hz) or hind-leg scratching (a hind foot at the head in bursts at 17 Hz, aliased by
  the 30 fps camera as real scratching is). Its motion is of the order of micromovement's, with a
  different rhythm and posture.
- eat: pitched up at the hopper, head behind its grille's bars, chewing; drink: at the spout,
  licking with small head movements.
- rear: standing on the hind legs against the wall; in some rears the animal stretches up until
  its forepaws touch the lid.
- hang, one of two styles per bout (`TRAVERSE_PROB`): a traverse (upside down under the lid, feet on
  it, travelling hand over hand, legs paddling, the body swinging and sagging between grips) or a
  dangle (hanging from the forepaws, the stretched body below the grip swinging like a pendulum,
  hind legs paddling: from the side close to a rear that reaches the lid, but swinging).
Pose targets are low-pass filtered so behaviours blend (the slow swings and sags of hanging go
through the filter, damped); fast rhythmic motion (strokes, licks, scratches, sniffing, chewing,
the gait's bob) is added after the filter, so it keeps its frequency and amplitude.

Recording conditions: slow lighting drift and flicker, sensor noise (`common.NoisyCamera`); in some
recordings (each with probability `NIGHT_SWITCH_PROB`) the light switches between day and night
once (night: infrared-like gray video of lower contrast); the bedding behind a walking mouse is
shifted and stays so.

The designated test recording is the first, `synth_cage_01`, with `test_frames` frames: the
longest, which the mouse_behavior builder takes as its test video, and cut into
`behaviour.TEST_RECORDING_PARTS` parts, so its test half holds at least `behaviour.TEST_BOUTS`
bouts of every behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
import dataclasses
import math
import os
import pathlib

import cv2
import numpy as np
import scipy.signal

from mouseflax.synthetic import behaviour
from mouseflax.synthetic import common

BEHAVIORS = behaviour.BEHAVIORS
DRINK, EAT, GROOM, HANG, MICRO, REAR, REST, WALK = (
    behaviour.DRINK,
    behaviour.EAT,
    behaviour.GROOM,
    behaviour.HANG,
    behaviour.MICRO,
    behaviour.REAR,
    behaviour.REST,
    behaviour.WALK,
)

HOME_CAGE_STEM = "synth_cage_{:02d}"
HOME_CAGE_FOURCC = "PIM1"  # MPEG-1 (ffmpeg warns about the tag; the files decode fine).
TEST_RECORDING_INDEX = 0  # synth_cage_01 is the designated (longest) test recording.
HOME_CAGE_DEFAULTS = {
    "num_videos": 8,
    "frames_per_video": 4500,
    "test_frames": None,  # None: TEST_FRAMES_FACTOR x frames_per_video (recording_plan).
    "width": 320,
    "height": 240,
    "fps": 30.0,
}
TEST_FRAMES_FACTOR = 2  # The test recording is this many times as long as the others by default.

# Motion (sizes as fractions of the frame width, times in seconds).
WALK_SPEED_W_PER_S = 0.30  # Body lengths ~2/s: a mouse's leisurely walk.
WALK_SPEED_SPREAD = 0.2  # Per-walk speed factor in 1 +- this.
STRIDE_HZ_AT_WALK = 6.0  # Leg swings per second at nominal speed.
# Hanging styles per bout: traverse the lid upside down, all feet on it, hand over hand; or dangle
# from the forepaws, the body hanging below the grip and swinging like a pendulum, hind legs
# paddling (from the side, close to a rear that reaches the lid, but off the floor and swinging).
TRAVERSE_PROB = 0.25
HANG_SPEED_FRACTION = 0.4  # Mean travel speed along the lid, as a fraction of the walking speed.
HANG_GRIP_HZ = 2.5  # Hand-over-hand grips per second.
HANG_SURGE = 0.9  # Speed modulation by the grip cycle: 1 - this at the regrip, 1 + this mid-pull.
HANG_SAG_GIRTH = 0.6  # Vertical sag of the body between grips, relative to the girth.
HANG_SWING_HZ, HANG_SWING_DEG = 1.2, 12.0  # Pendulum swing of the hanging body.
DANGLE_PITCH_DEG, DANGLE_SWING_DEG = 80.0, 18.0  # Dangling: near vertical, swinging about the grip.
DANGLE_LENGTH = 1.2  # Stretched below the grip, its hind feet just off the floor.
DANGLE_SHIFT_TAU_S, DANGLE_SHIFT_W = 1.0, 0.02  # Regrips shift the grip along the lid.
HANG_PADDLE_HZ = 5.0  # Leg paddling (leg-phase cycles per second) while hanging.
HANG_LENGTH = 1.1  # Stretched while hanging.
HANG_CLEARANCE = 0.6  # Distance kept from the hopper and spout, in body lengths.
BREATH_HZ, BREATH_GIRTH = 2.5, 0.02  # Resting breathing (relative girth change).
REST_LENGTH, REST_GIRTH, REST_HEAD_TUCK = 0.75, 1.2, 0.3  # Curled: shorter, rounder, head tucked.
JITTER_TAU_S = 0.3  # Time constant of the random in-place jitter (Ornstein-Uhlenbeck).
MICRO_JITTER_W, MICRO_JITTER_DEG = 0.010, 6.0  # Micromovement postural shifts.
MICRO_SITTING_PROB = 0.3  # Micromovement bouts spent sitting up (sniffing the air).
SNIFF_HZ, SNIFF_W = 8.0, 0.004  # Sniffing: fast, tiny head motion.
MICRO_FEET_SHUFFLE = 0.3  # Leg-phase jitter (radians) while in place.
SMALL_JITTER_W, SMALL_JITTER_DEG = 0.003, 2.0  # Residual jitter while grooming, eating, rearing.
SITTING_LENGTH = 0.85  # Body length while sitting up (hunched), relative to the standing body.
SITTING_PITCH_SPREAD_DEG = 12.0  # Per-bout spread of the sitting posture's elevation.
PITCH_DEG = {GROOM: 30.0, MICRO: 30.0, EAT: 50.0, DRINK: 55.0, REAR: 72.0}  # Body elevation.
REAR_PITCH_SPREAD_DEG = 8.0
REAR_LID_PROB = 0.5  # Rears that stretch up until the forepaws touch the lid.
REAR_LID_PITCH_DEG, REAR_LID_LENGTH = 86.0, 1.3  # Nearly upright, stretched.
EAT_HZ, EAT_HEAD_W = 5.0, 0.008  # Chewing.
DRINK_HZ, DRINK_HEAD_W = 7.0, 0.008  # Licking.
# Grooming styles: (probability, rhythm Hz); amplitudes below, as fractions of the frame width.
FACE_WASH, FLANK_LICK, SCRATCH = range(3)
GROOM_STYLES = {FACE_WASH: (0.5, 6.0), FLANK_LICK: (0.3, 4.0), SCRATCH: (0.2, 17.0)}
FACE_WASH_PAW_W, FACE_WASH_HEAD_W = 0.022, 0.008  # Forepaws stroke from the ears to the snout.
FLANK_LICK_HEAD_W, FLANK_LICK_SWAY_DEG = 0.012, 6.0  # Licking strokes; the curled body sways.
FLANK_LICK_LENGTH, FLANK_LICK_PITCH_DEG = 0.8, 12.0
FLANK_LICK_SWAY_RATE = 0.5  # Body sways per licking stroke.
SCRATCH_FOOT_W, SCRATCH_SHAKE_W = 0.02, 0.004  # Foot stroke at the head; the body shakes with it.
SCRATCH_PITCH_DEG = 20.0
SCRATCH_BURST_S, SCRATCH_PAUSE_S = 0.8, 0.4  # Scratching comes in bursts.
RHYTHM_TAU_S = 0.9  # Time constant of the rhythms' amplitude modulation (bouts of strokes).
POSE_SMOOTHING_S = 0.1  # Low-pass time constant of the pose targets: behaviours blend.
GAIT_BOB_GIRTH = 0.04  # Vertical body bob while walking, relative to the girth.
GAIT_BOBS_PER_STRIDE = 2  # The body rises at each of a stride's two steps.

# Cage geometry as fractions of the frame (side view). The model's 24x32 crop of the 32x32 frame
# drops the top and bottom 1/8: the lid and everything under it is inside the crop.
LID_BOTTOM_H = 0.36
FLOOR_H = 0.84
WALL_W = 0.03
HOPPER_X_W, HOPPER_BOTTOM_H, HOPPER_TAPER = (0.08, 0.26), 0.62, 0.2
HOPPER_GRILLE_BARS, HOPPER_PELLETS, PELLET_W = 7, 24, 0.012
EAT_REACH = 0.05  # Eating: the body centre this far (body lengths) right of the hopper's edge.
HOPPER_BAR_DIV = 160  # Grille bar width: one pixel per this many pixels of frame width.
SPOUT_X_W, SPOUT_TIP_H, SPOUT_SLANT_W, BOTTLE_HALF_W = 0.86, 0.64, 0.03, 0.05
DRINK_BACK = 0.4  # Drinking: body centre this far (body lengths) before the spout.
LID_BAR_STEP_PX, LID_BAR_COUNT = 3, 40  # Wire bars: at most this many, at least this far apart.
BACK_WALL_GRADIENT = 12  # Grey levels of the back wall's vertical light gradient.
BODY_LEN_W, BODY_GIRTH_W = 0.19, 0.09
HEAD_LEN_W, HEAD_GIRTH_W = 0.058, 0.039
EAR_W, LEG_LEN_W, TAIL_LEN_W = 0.018, 0.035, 0.17
X_MARGIN = 0.6  # Body lengths kept from the side walls.

# Drawing proportions of the mouse (relative to the body's half length / girth or the head size).
LINE_W = 1 / 110  # Leg line width, fraction of the frame width.
# Scene line widths and the bedding's blur: one pixel per this many pixels of frame width (at least
# MIN_THICK_PX for the thick ones).
THIN_LINE_DIV, THICK_LINE_DIV, GRILLE_LINE_DIV, SPOUT_LINE_DIV = 320, 160, 200, 100
MIN_THICK_PX = 2
BEDDING_BLUR_DIV = 320
FULL_TURN_DEG = 360  # cv2.ellipse draws from 0 to this.
LEG_POSITIONS = (0.55, 0.35, -0.45, -0.65)  # Hips along the body axis: fore pair, hind pair.
LEG_HIP, LEG_STRIDE = 0.6, 0.5  # Hip depth into the body; foot swing relative to the leg length.
LEGS_HIDDEN_BELOW = 0.1  # Leg visibility under which legs are not drawn (curled up).
TAIL_SAG, TAIL_WAVE = 0.15, 0.15  # Tail droop towards the floor; sideways wave amplitude.
TAIL_WAVE_RATE = 0.5  # Tail wave cycles per leg cycle.
EAR_BACK = 0.4  # Ear position behind the head centre.
PAWS_SHOWN_ABOVE, PAW_BELOW, PAW_FORWARD = 0.3, 1.3, 0.2  # Raised forepaws near the snout.
PAW_SPREAD = 0.5  # The two forepaws, apart along the body axis (head lengths).
PAW_RADIUS = 1.5  # Forepaw radius, leg line widths.
REACH_SHOULDER = 0.7  # Reaching forelegs start here along the body (half lengths).
REACH_ABOVE = 1.5  # They end this many head lengths past the head's centre (the lid stops them).
SCRATCH_HIP = -0.6  # The scratching hind leg's hip along the body (half lengths).
HEAD_CENTRE_AHEAD = 0.5  # The head's centre lies this many head half-lengths past the body's end.
TURNED_HEAD_BACK = 0.9  # A head turned to the flank lies this far back along the body.
_EPS = 1e-6

# Grey levels (the videos look grayscale: a dark C57BL/6-like mouse on light bedding).
WALL_GRAY, BEDDING_GRAY, BEDDING_TEXTURE = 178, 150, 22
LID_GRAY, LID_FILL, WALL_SIDE = 95, 135, 125
HOPPER_GRAY, PELLET_GRAY, GRILLE_GRAY, SPOUT_GRAY, BOTTLE_GRAY = 112, 138, 80, 215, 160
BODY_GRAY, HEAD_GRAY, EAR_GRAY, TAIL_GRAY, LEG_GRAY, PAW_GRAY = 48, 42, 95, 85, 58, 73

# Recording conditions.
LIGHT_DRIFT, LIGHT_DRIFT_TAU_S = 0.05, 20.0  # Slow lighting drift: gain s.d. and time constant.
NIGHT_SWITCH_PROB = 0.5  # Recordings with one day/night switch.
NIGHT_SWITCH_SPAN = (0.1, 0.9)  # Where in the recording it happens.
NIGHT_GAIN, NIGHT_OFFSET = 0.7, 40.0  # Infrared-like night video: lower contrast.
NIGHT_FIRST_PROB = 0.5  # A switching recording starts at night (else it switches to night).
BEDDING_KICK_PROB = 0.3  # Per walking frame: the bedding at the rump is kicked back.
BEDDING_KICK_W, BEDDING_KICK_DEPTH_H = 0.02, 0.02  # Size of the shifted bedding patch.
BEDDING_KICK_PX = 2  # How far the patch is rolled, backwards (wrapping within the patch).

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
    P_PAW_DY,  # Forepaw offset along the vertical (face-wash strokes).
    P_REACH,  # Forelegs stretched up to the lid (0-1).
    P_SCRATCH,  # A hind foot at the head (0-1).
    P_SCRATCH_DX,  # Its stroke, pixels along the body.
    P_HEAD_BACK,  # The head turned back to the flank (0-1).
) = range(16)
NUM_POSE_FIELDS = 16


# --------------------------------------------------------------------------------------------------
# Geometry.


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
    margin = self.w(WALL_W) + X_MARGIN * self.body_len
    return margin, self.width - margin

  @property
  def floor_y(self) -> float:
    """Body centre height of a mouse standing on the floor."""
    return self.h(FLOOR_H) - self.w(LEG_LEN_W) - 0.5 * self.girth

  @property
  def lid_y(self) -> float:
    return self.h(LID_BOTTOM_H)

  @property
  def hang_y(self) -> float:
    return self.lid_y + self.w(LEG_LEN_W) + 0.5 * self.girth

  @property
  def eat_x(self) -> float:
    return self.w(HOPPER_X_W[1]) + EAT_REACH * self.body_len

  @property
  def drink_x(self) -> float:
    return self.w(SPOUT_X_W) - DRINK_BACK * self.body_len

  def grip_reach(self, length: float) -> float:
    """From the forepaws' grip to the body centre of a body stretched up along its axis."""
    head = self.w(HEAD_LEN_W) / 2
    return 0.5 * self.body_len * length + (HEAD_CENTRE_AHEAD + 2 * REACH_ABOVE) * head

  def pitched_y(self, pitch_deg: float, length: float = 1.0) -> float:
    """Body centre height with the hind end on the floor and the body raised by pitch_deg."""
    lift = 0.5 * self.body_len * length * math.sin(math.radians(pitch_deg))
    return self.h(FLOOR_H) - 0.5 * self.w(LEG_LEN_W) - 0.5 * self.girth - lift


# --------------------------------------------------------------------------------------------------
# Per-behaviour pose targets and rhythms.


@dataclasses.dataclass
class _Segment:
  """One bout: pose targets (low-pass filtered later), rhythmic offsets (added after the filter),
  leg-phase increments, and where the animal ends up."""

  targets: np.ndarray  # [n, NUM_POSE_FIELDS]
  rhythm: np.ndarray  # [n, NUM_POSE_FIELDS]
  phase: np.ndarray  # [n]
  x: float
  facing: float


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
  nominal = cage.w(WALK_SPEED_W_PER_S) / cage.fps
  speed = nominal * rng.uniform(1 - WALK_SPEED_SPREAD, 1 + WALK_SPEED_SPREAD)
  xs = _walk_path(x0, _walk_target(next_behavior, cage, rng), n, speed, cage)
  dx = np.diff(np.concatenate([[x0], xs]))
  facing = np.where(dx > 0, 1.0, np.where(dx < 0, -1.0, facing0))
  pose = _base_pose(n, 0.0, 0.0, cage)
  pose[:, P_X], pose[:, P_FACING] = xs, facing
  # Leg phase advances with distance: nominal speed -> STRIDE_HZ_AT_WALK swings per second.
  phase_step = np.abs(dx) / nominal * 2 * math.pi * (STRIDE_HZ_AT_WALK / cage.fps)
  rhythm = np.zeros_like(pose)
  bob = GAIT_BOBS_PER_STRIDE * np.cumsum(phase_step)
  rhythm[:, P_Y] = GAIT_BOB_GIRTH * cage.girth * np.sin(bob)
  return _Segment(pose, rhythm, phase_step, float(xs[-1]), float(facing[-1]))


def _jitter(n: int, cage: _Cage, rng: np.random.Generator) -> np.ndarray:
  """Smooth unit-variance random jitter (Ornstein-Uhlenbeck, JITTER_TAU_S)."""
  return common.ou_noise(n, JITTER_TAU_S * cage.fps, rng)


def _postural_jitter(
    pose: np.ndarray, cage: _Cage, rng: np.random.Generator, amp_w: float, amp_deg: float
) -> None:
  n = len(pose)
  pose[:, P_X] += cage.w(amp_w) * _jitter(n, cage, rng)
  pose[:, P_PITCH] += amp_deg * _jitter(n, cage, rng)
  pose[:, P_HEAD_DX] += cage.w(amp_w) * _jitter(n, cage, rng)
  pose[:, P_HEAD_DY] += cage.w(amp_w) * _jitter(n, cage, rng)


def _pitched(pose: np.ndarray, pitch_deg: float, cage: _Cage, length: float = 1.0) -> None:
  pose[:, P_PITCH], pose[:, P_LENGTH] = pitch_deg, length
  pose[:, P_Y] = cage.pitched_y(pitch_deg, length)


def _sitting(pose: np.ndarray, behavior: int, cage: _Cage, rng: np.random.Generator) -> None:
  spread = rng.uniform(-SITTING_PITCH_SPREAD_DEG, SITTING_PITCH_SPREAD_DEG)
  _pitched(pose, PITCH_DEG[behavior] + spread, cage, SITTING_LENGTH)
  pose[:, P_PAWS] = 1.0


def _rhythm(n: int, hz: float, cage: _Cage, rng: np.random.Generator) -> np.ndarray:
  """Bouts of strokes, chews or licks (`common.rhythm`)."""
  return common.rhythm(n, hz, cage.fps, RHYTHM_TAU_S, rng)


def _bursts(n: int, cage: _Cage, rng: np.random.Generator) -> np.ndarray:
  """1 during scratching bursts, 0 in the pauses between them."""
  period = (SCRATCH_BURST_S + SCRATCH_PAUSE_S) * cage.fps
  t = np.arange(n) + rng.uniform(0, period)
  return ((t % period) < SCRATCH_BURST_S * cage.fps).astype(float)


def _groom(pose: np.ndarray, rhythm: np.ndarray, cage: _Cage, rng: np.random.Generator) -> None:
  """One grooming bout in one of GROOM_STYLES (module docstring)."""
  styles = list(GROOM_STYLES)
  style = int(rng.choice(styles, p=[GROOM_STYLES[s][0] for s in styles]))
  n, hz = len(pose), GROOM_STYLES[style][1]
  strokes = _rhythm(n, hz, cage, rng)
  if style == FACE_WASH:
    _sitting(pose, GROOM, cage, rng)
    rhythm[:, P_PAW_DY] = cage.w(FACE_WASH_PAW_W) * strokes
    rhythm[:, P_HEAD_DY] = cage.w(FACE_WASH_HEAD_W) * strokes
  elif style == FLANK_LICK:
    _pitched(pose, FLANK_LICK_PITCH_DEG, cage, FLANK_LICK_LENGTH)
    pose[:, P_HEAD_BACK] = 1.0
    rhythm[:, P_HEAD_DY] = cage.w(FLANK_LICK_HEAD_W) * strokes
    rhythm[:, P_PITCH] = FLANK_LICK_SWAY_DEG * _rhythm(n, hz * FLANK_LICK_SWAY_RATE, cage, rng)
  else:
    _pitched(pose, SCRATCH_PITCH_DEG, cage, SITTING_LENGTH)
    pose[:, P_SCRATCH] = 1.0
    burst = _bursts(n, cage, rng)
    rhythm[:, P_SCRATCH_DX] = cage.w(SCRATCH_FOOT_W) * strokes * burst
    rhythm[:, P_HEAD_DY] = cage.w(SCRATCH_SHAKE_W) * strokes * burst


def _micromovement(
    pose: np.ndarray, rhythm: np.ndarray, cage: _Cage, rng: np.random.Generator
) -> np.ndarray:
  """Small postural shifts and sniffing, standing or sitting up; returns the leg phases."""
  if rng.random() < MICRO_SITTING_PROB:
    _sitting(pose, MICRO, cage, rng)
  n = len(pose)
  _postural_jitter(pose, cage, rng, MICRO_JITTER_W, MICRO_JITTER_DEG)
  rhythm[:, P_HEAD_DX] = cage.w(SNIFF_W) * _rhythm(n, SNIFF_HZ, cage, rng)
  return MICRO_FEET_SHUFFLE * np.abs(_jitter(n, cage, rng))


def _rest(pose: np.ndarray, rhythm: np.ndarray, cage: _Cage) -> None:
  pose[:, P_LENGTH], pose[:, P_LEGS] = REST_LENGTH, 0.0  # Curled up, legs tucked in.
  pose[:, P_HEAD_DX] = -REST_HEAD_TUCK * cage.w(HEAD_LEN_W)
  pose[:, P_GIRTH] = REST_GIRTH
  pose[:, P_Y] = cage.h(FLOOR_H) - 0.5 * cage.girth  # Lying on the bedding.
  breathing = np.sin(2 * math.pi * BREATH_HZ * np.arange(len(pose)) / cage.fps)
  rhythm[:, P_GIRTH] = REST_GIRTH * BREATH_GIRTH * breathing


def _rear(pose: np.ndarray, cage: _Cage, rng: np.random.Generator) -> None:
  """On the hind legs against the wall; some rears stretch up to the lid."""
  if rng.random() < REAR_LID_PROB:
    _pitched(pose, REAR_LID_PITCH_DEG, cage, REAR_LID_LENGTH)
    pose[:, P_REACH] = 1.0
  else:
    spread = rng.uniform(-REAR_PITCH_SPREAD_DEG, REAR_PITCH_SPREAD_DEG)
    _pitched(pose, PITCH_DEG[REAR] + spread, cage)
  _postural_jitter(pose, cage, rng, SMALL_JITTER_W, SMALL_JITTER_DEG)


def _segment_in_place(
    behavior: int, n: int, x0: float, facing0: float, cage: _Cage, rng: np.random.Generator
) -> _Segment:
  """Every behaviour but walk and hang: the animal stays where it is."""
  pose, rhythm, phase = _base_pose(n, x0, facing0, cage), np.zeros((n, NUM_POSE_FIELDS)), None
  if behavior == REST:
    _rest(pose, rhythm, cage)
  elif behavior == MICRO:
    phase = _micromovement(pose, rhythm, cage, rng)
  elif behavior == GROOM:
    _groom(pose, rhythm, cage, rng)
    _postural_jitter(pose, cage, rng, SMALL_JITTER_W, SMALL_JITTER_DEG)
  elif behavior == REAR:
    _rear(pose, cage, rng)
  elif behavior == EAT:
    _pitched(pose, PITCH_DEG[EAT], cage)
    pose[:, P_FACING], pose[:, P_PAWS] = -1.0, 1.0  # Faces the hopper on its left.
    rhythm[:, P_HEAD_DY] = cage.w(EAT_HEAD_W) * _rhythm(n, EAT_HZ, cage, rng)
    rhythm[:, P_PAW_DY] = rhythm[:, P_HEAD_DY]
  elif behavior == DRINK:
    _pitched(pose, PITCH_DEG[DRINK], cage)
    pose[:, P_FACING] = 1.0  # Faces the spout on its right.
    rhythm[:, P_HEAD_DX] = cage.w(DRINK_HEAD_W) * _rhythm(n, DRINK_HZ, cage, rng)
  phase = np.zeros(n) if phase is None else phase
  return _Segment(pose, rhythm, phase, x0, float(pose[-1, P_FACING]))


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
  nominal = HANG_SPEED_FRACTION * cage.w(WALK_SPEED_W_PER_S) / cage.fps
  speed = nominal * (1 - HANG_SURGE * np.cos(grip))
  direction = facing0 if facing0 != 0 else 1.0
  xs, facing, x = np.empty(n), np.empty(n), float(np.clip(x0, lo, hi))
  for i in range(n):
    if not lo <= x + direction * speed[i] <= hi:
      direction = -direction
    x += direction * speed[i]
    xs[i], facing[i] = x, direction
  return xs, facing, grip


def _segment_dangle(
    n: int, x0: float, facing0: float, cage: _Cage, rng: np.random.Generator
) -> _Segment:
  """Hanging from the forepaws at the lid, the body swinging below the grip."""
  lo = cage.w(HOPPER_X_W[1]) + HANG_CLEARANCE * cage.body_len
  hi = cage.w(SPOUT_X_W) - HANG_CLEARANCE * cage.body_len
  shift = cage.w(DANGLE_SHIFT_W) * common.ou_noise(n, DANGLE_SHIFT_TAU_S * cage.fps, rng)
  grip_x = np.clip(x0 + shift, lo, hi)
  t = np.arange(n) / cage.fps
  swing = DANGLE_SWING_DEG * np.sin(2 * math.pi * HANG_SWING_HZ * t + rng.uniform(0, 2 * math.pi))
  pitch = DANGLE_PITCH_DEG + swing
  reach = cage.grip_reach(DANGLE_LENGTH)
  facing = facing0 if facing0 != 0 else 1.0
  pose = _base_pose(n, 0.0, facing, cage)
  pose[:, P_PITCH], pose[:, P_LENGTH], pose[:, P_REACH] = pitch, DANGLE_LENGTH, 1.0
  pose[:, P_X] = grip_x - facing * reach * np.cos(np.radians(pitch))
  pose[:, P_Y] = cage.lid_y + reach * np.sin(np.radians(pitch))
  phase = np.full(n, 2 * math.pi * HANG_PADDLE_HZ / cage.fps)
  return _Segment(pose, np.zeros_like(pose), phase, x0, facing)


def _segment_hang(
    n: int, x0: float, facing0: float, cage: _Cage, rng: np.random.Generator
) -> _Segment:
  """One hanging bout: a traverse or a dangle (TRAVERSE_PROB)."""
  if rng.random() >= TRAVERSE_PROB:
    return _segment_dangle(n, x0, facing0, cage, rng)
  return _segment_traverse(n, x0, facing0, cage, rng)


def _segment_traverse(
    n: int, x0: float, facing0: float, cage: _Cage, rng: np.random.Generator
) -> _Segment:
  """Suspended under the lid, feet on it, travelling hand over hand, swinging and sagging."""
  xs, facing, grip = _hang_travel(n, x0, facing0, cage, rng)
  pose = _base_pose(n, 0.0, 0.0, cage)
  pose[:, P_X], pose[:, P_FACING] = xs, facing
  pose[:, P_LEGS_UP], pose[:, P_LENGTH] = 1.0, HANG_LENGTH
  # Lowest mid-pull, pulled up to the lid at each regrip; slow enough to go through the filter.
  pose[:, P_Y] = cage.hang_y + HANG_SAG_GIRTH * cage.girth * 0.5 * (1 - np.cos(grip))
  swing = 2 * math.pi * HANG_SWING_HZ * np.arange(n) / cage.fps + rng.uniform(0, 2 * math.pi)
  pose[:, P_PITCH] = HANG_SWING_DEG * np.sin(swing)
  rhythm = np.zeros_like(pose)
  phase = np.full(n, 2 * math.pi * HANG_PADDLE_HZ / cage.fps)
  return _Segment(pose, rhythm, phase, float(xs[-1]), float(facing[-1]))


def simulate_poses(
    schedule: behaviour.Schedule, cage: _Cage, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
  """Per-frame pose vectors [T, NUM_POSE_FIELDS] and leg phases [T]."""
  x, facing = float(rng.uniform(*cage.x_range)), float(rng.choice([-1.0, 1.0]))
  segments = []
  for i, (behavior, n) in enumerate(schedule):
    next_behavior = schedule[i + 1][0] if i + 1 < len(schedule) else None
    if behavior == WALK:
      segment = _segment_walk(n, x, facing, next_behavior, cage, rng)
    elif behavior == HANG:
      segment = _segment_hang(n, x, facing, cage, rng)
    else:
      segment = _segment_in_place(behavior, n, x, facing, cage, rng)
    x, facing = segment.x, segment.facing
    segments.append(segment)
  targets = np.concatenate([s.targets for s in segments])
  a = math.exp(-1.0 / (POSE_SMOOTHING_S * cage.fps))
  smooth, _ = scipy.signal.lfilter([1 - a], [1, -a], targets, axis=0, zi=targets[:1] * a)
  poses = smooth + np.concatenate([s.rhythm for s in segments])
  return poses, np.cumsum(np.concatenate([s.phase for s in segments]))


# --------------------------------------------------------------------------------------------------
# The scene.


@dataclasses.dataclass
class _Scene:
  """The cage without the animal (bedding changes as it is kicked) and what lies in front of it."""

  background: np.ndarray  # Grey uint8.
  front_mask: np.ndarray  # bool: pixels of the hopper's grille, drawn over the animal.
  front: np.ndarray  # Their grey levels.


def _draw_walls_and_lid(img: np.ndarray, cage: _Cage) -> None:
  w = cage.width
  wall = max(1, int(cage.w(WALL_W)))
  img[:, :wall] = img[:, w - wall :] = WALL_SIDE
  lid = int(cage.lid_y)
  img[:lid] = LID_FILL
  bar_step = max(LID_BAR_STEP_PX, w // LID_BAR_COUNT)
  thin, thick = max(1, w // THIN_LINE_DIV), max(MIN_THICK_PX, w // THICK_LINE_DIV)
  for bx in range(0, w, bar_step):
    cv2.line(img, (bx, 0), (bx, lid), LID_GRAY, thin)
  cv2.line(img, (0, lid), (w, lid), LID_GRAY, thick)


def _draw_bedding(img: np.ndarray, cage: _Cage, rng: np.random.Generator) -> None:
  floor = int(cage.h(FLOOR_H))
  texture = rng.normal(0, 1, size=(cage.height - floor, cage.width)).astype(np.float32)
  texture = cv2.GaussianBlur(texture, (0, 0), sigmaX=max(1.0, cage.width / BEDDING_BLUR_DIV))
  bedding = BEDDING_GRAY + BEDDING_TEXTURE * texture / texture.std()
  img[floor:] = np.clip(bedding, 0, 255).astype(np.uint8)


def _hopper_shape(cage: _Cage) -> np.ndarray:
  x0, x1 = cage.w(HOPPER_X_W[0]), cage.w(HOPPER_X_W[1])
  top, bottom, taper = cage.lid_y, cage.h(HOPPER_BOTTOM_H), HOPPER_TAPER * (x1 - x0)
  corners = [(x0, top), (x1, top), (x1 - taper, bottom), (x0 + taper, bottom)]
  return np.array([common.pt(x, y) for x, y in corners], np.int32)


def _draw_hopper(img: np.ndarray, cage: _Cage, rng: np.random.Generator) -> None:
  shape = _hopper_shape(cage)
  cv2.fillConvexPoly(img, shape, HOPPER_GRAY)
  x0, x1 = cage.w(HOPPER_X_W[0]), cage.w(HOPPER_X_W[1])
  inner = (x1 - x0) * HOPPER_TAPER
  radius = max(1, int(cage.w(PELLET_W)))
  for _ in range(HOPPER_PELLETS):  # Food pellets behind the wire.
    px = rng.uniform(x0 + inner, x1 - inner)
    py = rng.uniform(cage.lid_y, cage.h(HOPPER_BOTTOM_H))
    cv2.circle(img, common.pt(px, py), radius, PELLET_GRAY, -1)


def _hopper_front(cage: _Cage) -> tuple[np.ndarray, np.ndarray]:
  """The hopper's rim and the bars of its grille, drawn over the animal: (mask, grey levels)."""
  shape = _hopper_shape(cage)
  bars = np.zeros((cage.height, cage.width), np.uint8)
  bar_w = max(1, cage.width // HOPPER_BAR_DIV)
  x0, x1 = cage.w(HOPPER_X_W[0]), cage.w(HOPPER_X_W[1])
  for bx in np.linspace(x0, x1, HOPPER_GRILLE_BARS):
    cv2.line(bars, common.pt(bx, cage.lid_y), common.pt(bx, cage.h(HOPPER_BOTTOM_H)), 1, bar_w)
  inside = np.zeros_like(bars)
  cv2.fillConvexPoly(inside, shape, 1)
  front = bars & inside  # The bars end at the hopper's tapered sides.
  cv2.polylines(front, [shape], True, 1, max(1, cage.width // GRILLE_LINE_DIV))
  mask = front > 0
  return mask, np.where(mask, GRILLE_GRAY, 0).astype(np.uint8)


def _draw_spout(img: np.ndarray, cage: _Cage) -> None:
  x, tip = cage.w(SPOUT_X_W), cage.h(SPOUT_TIP_H)
  bottle = cage.w(BOTTLE_HALF_W)
  cv2.rectangle(img, common.pt(x - bottle, 0), common.pt(x + bottle, cage.lid_y), BOTTLE_GRAY, -1)
  tip_at = common.pt(x - cage.w(SPOUT_SLANT_W), tip)
  cv2.line(
      img,
      common.pt(x, cage.lid_y),
      tip_at,
      SPOUT_GRAY,
      max(MIN_THICK_PX, cage.width // SPOUT_LINE_DIV),
  )


def _draw_scene(cage: _Cage, rng: np.random.Generator) -> _Scene:
  """Back wall (a soft vertical light gradient), walls, lid, bedding, hopper and spout."""
  gradient = WALL_GRAY + BACK_WALL_GRADIENT * np.linspace(-1, 1, cage.height)[:, None]
  img = np.broadcast_to(np.clip(gradient, 0, 255), (cage.height, cage.width)).astype(np.uint8)
  _draw_bedding(img, cage, rng)
  _draw_walls_and_lid(img, cage)
  _draw_hopper(img, cage, rng)
  _draw_spout(img, cage)
  mask, front = _hopper_front(cage)
  return _Scene(img, mask, front)


def _kick_bedding(scene: _Scene, pose: np.ndarray, cage: _Cage, rng: np.random.Generator) -> None:
  """A walking foot shifts a patch of bedding backwards; the change stays."""
  if rng.random() >= BEDDING_KICK_PROB:
    return
  half_w = int(cage.w(BEDDING_KICK_W) / 2)
  x = int(pose[P_X] - np.sign(pose[P_FACING]) * 0.5 * cage.body_len)
  top = int(cage.h(FLOOR_H))
  rows = slice(top, top + max(1, int(cage.h(BEDDING_KICK_DEPTH_H))))
  cols = slice(max(0, x - half_w), min(cage.width, x + half_w))
  patch = scene.background[rows, cols]
  shift = -int(np.sign(pose[P_FACING]) or 1) * BEDDING_KICK_PX
  scene.background[rows, cols] = np.roll(patch, shift, axis=1)


# --------------------------------------------------------------------------------------------------
# The animal.


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


def _angle(axis: np.ndarray) -> float:
  return math.degrees(math.atan2(axis[1], axis[0]))


def _draw_mouse(img: np.ndarray, pose: np.ndarray, phase: float, cage: _Cage) -> None:
  """Draws the animal: tail, legs, body, head, ears and forepaws (cv2 primitives)."""
  body = _body(pose, cage)
  line_w = max(1, int(round(cage.width * LINE_W)))
  _draw_tail(img, body, pose, phase, cage, line_w)
  _draw_legs(img, body, phase, pose[P_LEGS], cage, line_w)
  centre, axes = common.pt(*body.centre), common.pt(body.half_len, body.half_girth)
  cv2.ellipse(img, centre, axes, _angle(body.axis), 0, FULL_TURN_DEG, BODY_GRAY, -1, cv2.LINE_AA)
  head = _draw_head(img, body, pose, cage, line_w)
  _draw_forepaws(img, body, head, pose, cage, line_w)
  _draw_scratching_leg(img, body, head, pose, line_w)


def _draw_tail(
    img: np.ndarray, body: _Body, pose: np.ndarray, phase: float, cage: _Cage, line_w: int
) -> None:
  """From the rump backwards along the floor, or hanging straight down under the lid."""
  rump = body.centre - body.axis * body.half_len
  backwards = np.array([-np.sign(body.axis[0]) or -1.0, TAIL_SAG])
  direction = backwards * (1 - pose[P_LEGS_UP]) + np.array([0.0, 1.0]) * pose[P_LEGS_UP]
  direction /= np.linalg.norm(direction) + _EPS
  length = cage.w(TAIL_LEN_W)
  wave = TAIL_WAVE * length * math.sin(TAIL_WAVE_RATE * phase)
  bend = np.array([-direction[1], direction[0]]) * wave
  tail = np.array([rump, rump + 0.5 * length * direction + bend, rump + length * direction])
  width = max(1, line_w - 1)
  cv2.polylines(img, [np.round(tail).astype(np.int32)], False, TAIL_GRAY, width, cv2.LINE_AA)


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


def _draw_head(
    img: np.ndarray, body: _Body, pose: np.ndarray, cage: _Cage, line_w: int
) -> np.ndarray:
  """Head at the front of the body, or turned back to the flank; ear on the back side. Returns
  the head's centre."""
  head_len, head_girth = 0.5 * cage.w(HEAD_LEN_W), 0.5 * cage.w(HEAD_GIRTH_W)
  forward = body.half_len + HEAD_CENTRE_AHEAD * head_len + pose[P_HEAD_DX]
  along = forward * (1 - pose[P_HEAD_BACK]) - TURNED_HEAD_BACK * body.half_len * pose[P_HEAD_BACK]
  lift = -body.legs_dir * body.half_girth * pose[P_HEAD_BACK]  # Over the flank, not inside it.
  centre = body.centre + body.axis * along + lift + np.array([0.0, pose[P_HEAD_DY]])
  axes = common.pt(head_len, head_girth)
  cv2.ellipse(
      img, common.pt(*centre), axes, _angle(body.axis), 0, FULL_TURN_DEG, HEAD_GRAY, -1, cv2.LINE_AA
  )
  ear = centre - body.axis * EAR_BACK * head_len - body.legs_dir * head_girth
  cv2.circle(img, common.pt(*ear), max(1, int(cage.w(EAR_W))), EAR_GRAY, -1, cv2.LINE_AA)
  return centre


def _draw_forepaws(
    img: np.ndarray, body: _Body, head: np.ndarray, pose: np.ndarray, cage: _Cage, line_w: int
) -> None:
  """Forepaws raised to the snout (grooming, eating, sitting up) or stretched up to the lid."""
  head_len, head_girth = 0.5 * cage.w(HEAD_LEN_W), 0.5 * cage.w(HEAD_GIRTH_W)
  if pose[P_REACH] > PAWS_SHOWN_ABOVE:
    shoulder = body.centre + body.axis * REACH_SHOULDER * body.half_len
    paw = head + body.axis * REACH_ABOVE * head_len * 2 * pose[P_REACH]
    paw[1] = max(paw[1], cage.lid_y)  # The lid stops them.
    cv2.line(img, common.pt(*shoulder), common.pt(*paw), LEG_GRAY, line_w, cv2.LINE_AA)
    return
  if pose[P_PAWS] <= PAWS_SHOWN_ABOVE:
    return
  radius = max(1, int(round(PAW_RADIUS * line_w)))
  for spread in (-PAW_SPREAD, PAW_SPREAD):
    paw = (
        head
        + body.legs_dir * PAW_BELOW * head_girth
        + body.axis * (PAW_FORWARD + spread) * head_len
        + np.array([0.0, pose[P_PAW_DY]])
    )
    cv2.circle(img, common.pt(*paw), radius, PAW_GRAY, -1, cv2.LINE_AA)


def _draw_scratching_leg(
    img: np.ndarray, body: _Body, head: np.ndarray, pose: np.ndarray, line_w: int
) -> None:
  """A hind leg from the hip to the head, its foot stroking back and forth."""
  if pose[P_SCRATCH] <= PAWS_SHOWN_ABOVE:
    return
  hip = body.centre + body.axis * SCRATCH_HIP * body.half_len
  foot = head - body.axis * pose[P_SCRATCH_DX]
  cv2.line(img, common.pt(*hip), common.pt(*foot), LEG_GRAY, line_w, cv2.LINE_AA)


# --------------------------------------------------------------------------------------------------
# The camera and the light.


class _Light:
  """Slow lighting drift and, in some recordings, one switch between day and infrared night."""

  def __init__(self, num_frames: int, fps: float, rng: np.random.Generator) -> None:
    self.drift = 1 + LIGHT_DRIFT * common.ou_noise(num_frames, LIGHT_DRIFT_TAU_S * fps, rng)
    night = np.zeros(num_frames, bool)
    if rng.random() < NIGHT_SWITCH_PROB:
      at = int(rng.uniform(*NIGHT_SWITCH_SPAN) * num_frames)
      night[at:] = True
      night = ~night if rng.random() < NIGHT_FIRST_PROB else night
    self.night = night

  def __call__(self, gray: np.ndarray, t: int) -> np.ndarray:
    gain, offset = (NIGHT_GAIN, NIGHT_OFFSET) if self.night[t] else (1.0, 0.0)
    return cv2.convertScaleAbs(gray, alpha=gain * self.drift[t], beta=offset)


def render_home_cage_frames(
    schedule: behaviour.Schedule, width: int, height: int, fps: float, rng: np.random.Generator
) -> Iterator[np.ndarray]:
  """BGR uint8 frames (grey content) of one recording following `schedule`."""
  cage = _Cage(width, height, fps)
  scene = _draw_scene(cage, rng)
  poses, phases = simulate_poses(schedule, cage, rng)
  walking = behaviour.labels(schedule) == WALK
  light = _Light(len(poses), fps, rng)
  camera = common.NoisyCamera((height, width), fps, rng)
  for t in range(len(poses)):
    if walking[t]:
      _kick_bedding(scene, poses[t], cage, rng)
    gray = scene.background.copy()
    _draw_mouse(gray, poses[t], float(phases[t]), cage)
    np.copyto(gray, scene.front, where=scene.front_mask)
    yield cv2.cvtColor(camera(light(gray, t), t), cv2.COLOR_GRAY2BGR)


# --------------------------------------------------------------------------------------------------
# Files.


def test_recording_frames(frames_per_video: int, test_frames: int | None) -> int:
  """Frames of the test recording: `test_frames`, or by default longer than the others."""
  if test_frames is not None:
    return test_frames
  shortest = behaviour.min_frames(behaviour.TEST_RECORDING_PARTS)
  return max(TEST_FRAMES_FACTOR * frames_per_video, shortest)


def recording_plan(index: int, frames_per_video: int, test_frames: int | None) -> tuple[int, int]:
  """(frames, schedule parts) of recording `index`: the test recording is longer, in more parts."""
  if index == TEST_RECORDING_INDEX:
    return test_recording_frames(frames_per_video, test_frames), behaviour.TEST_RECORDING_PARTS
  return frames_per_video, behaviour.SCHEDULE_PARTS


def _write_home_cage_video(
    out: pathlib.Path,
    index: int,
    seed: int,
    frames_per_video: int,
    test_frames: int | None,
    width: int,
    height: int,
    fps: float,
) -> None:
  stem = HOME_CAGE_STEM.format(index + 1)
  rng = common.rng_for(seed, index)
  num_frames, parts = recording_plan(index, frames_per_video, test_frames)
  schedule = behaviour.sample_schedule(num_frames, fps, rng, parts=parts)
  annotation = behaviour.annotation_text(behaviour.annotated(schedule, fps, rng))
  frames = render_home_cage_frames(schedule, width, height, fps, rng)
  size = (width, height)
  common.write_video_atomic(out, out / f"{stem}.mpg", frames, HOME_CAGE_FOURCC, fps, size)
  common.write_text_atomic(out, out / behaviour.ANNOTATION_DIR / f"{stem}.txt", annotation)


def write_home_cage(
    output_dir: str | os.PathLike,
    *,
    seed: int,
    num_videos: int = HOME_CAGE_DEFAULTS["num_videos"],
    frames_per_video: int = HOME_CAGE_DEFAULTS["frames_per_video"],
    test_frames: int | None = HOME_CAGE_DEFAULTS["test_frames"],
    width: int = HOME_CAGE_DEFAULTS["width"],
    height: int = HOME_CAGE_DEFAULTS["height"],
    fps: float = HOME_CAGE_DEFAULTS["fps"],
    num_workers: int = 1,
) -> pathlib.Path:
  """Writes home-cage recordings in the Jhuang layout into output_dir; returns output_dir.

  Recording 1 is the designated test recording (`test_recording_frames` long, module docstring).
  Each file is written to a temporary path and renamed, so no half-written file is ever visible
  under its final name (use ensure_synthetic for an atomic whole folder). The output does not depend
  on num_workers.
  """
  common.check_size("num_videos", num_videos, 1)
  # The test recording must be the longest: the mouse_behavior builder tests on the longest.
  common.check_size(
      "frames_per_video", frames_per_video, behaviour.min_frames(behaviour.SCHEDULE_PARTS)
  )
  common.check_size(
      "test_frames",
      test_recording_frames(frames_per_video, test_frames),
      max(frames_per_video, behaviour.min_frames(behaviour.TEST_RECORDING_PARTS)),
  )
  common.check_size("width", width, common.MIN_SIZE_PX)
  common.check_size("height", height, common.MIN_SIZE_PX)
  common.check_size("fps", fps, common.MIN_FPS)
  out = pathlib.Path(output_dir)
  out.mkdir(parents=True, exist_ok=True)
  jobs = [
      (out, v, seed, frames_per_video, test_frames, width, height, fps) for v in range(num_videos)
  ]
  common.run_jobs(_write_home_cage_video, jobs, num_workers)
  common.remove_partial_dir(out)
  return out
