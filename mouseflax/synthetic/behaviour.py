"""What the synthetic animal does and when: behaviours, their statistics, schedules, annotations.

The schedule of a recording is a semi-Markov chain over the behaviours of an `Ethogram`: each
bout lasts a gamma-distributed time with the behaviour's mean bout length, and the next behaviour is
drawn from a transition matrix that is derived, not typed in: it is the matrix whose long-run share
of frames per behaviour equals the ethogram's `frame_share`, given the bout lengths and the allowed
transitions (no self-transitions; eat and drink only after a walk, which leads to the hopper or the
spout; hang only after a rear, from which the animal climbs to the lid).

The statistics of the home cage (`HOME_CAGE`) are documented estimates. Jhuang et al. 2010 (Nature
Communications 1:68) publish the database but, in the material available to us, not a table of
per-behaviour shares or bout lengths; what is published constrains them:

- The paper reproduced here trains on 6 of the 12 videos with one behaviour removed and reports
  9,577 + 2,395 = 11,972 sequences with hang removed, 7,312 + 1,828 = 9,140 with groom removed. The
  ratio (1 - hang share) / (1 - groom share) = 1.31 puts grooming at 27-31% of the frames when
  hang is 5-10% (here 29% and 8%): grooming is a major behaviour, hanging a minor one.
- Jhuang et al. report that human annotators agree on ~72% of frames, grooming being confused with
  micromovement and eating: labels are uncertain, most of all at bout boundaries
  (`LABEL_JITTER_S`).
- The remaining shares and the mean bout lengths are estimates from the mouse home-cage literature's
  time budgets of the active (dark) phase: resting in long bouts, walks and rears short, eating in
  bouts of seconds, drinking shorter.

Recordings are cut into parts that each hold every behaviour of the ethogram at least once
(forced in where the chain allows), so any recording can be the test recording and its test half
holds every held-out behaviour; the designated test recording (`TEST_RECORDING_PARTS`) has
`TEST_BOUTS` parts per half, so an AUC on it rests on at least `TEST_BOUTS` bouts of the held-out
behaviour, spread over its test half and among different normal behaviours. Bouts are rescaled to
fit the parts exactly (shrinking only what is above each bout's shortest length), so the test
recording's bouts are shorter than the others', and the forced bouts shift its shares (rare
behaviours such as drinking get more frames than `frame_share`, the common ones fewer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import dataclasses
import functools

import numpy as np

from mouseflax import raw_formats

BEHAVIORS = raw_formats.BEHAVIORS  # Alphabetical, as peers encode them.
DRINK, EAT, GROOM, HANG, MICRO, REAR, REST, WALK = range(len(BEHAVIORS))

# Home cage statistics (module docstring: estimates constrained by the paper and Jhuang et al.).
HOME_CAGE_FRAME_SHARE = {
    DRINK: 0.04,
    EAT: 0.10,
    GROOM: 0.29,
    HANG: 0.08,
    MICRO: 0.13,
    REAR: 0.12,
    REST: 0.14,
    WALK: 0.10,
}
HOME_CAGE_MEAN_BOUT_S = {
    DRINK: 3.0,
    EAT: 6.0,
    GROOM: 5.0,
    HANG: 3.0,
    MICRO: 2.0,
    REAR: 2.0,
    REST: 8.0,
    WALK: 2.0,
}
# The behaviour each needs just before it: a walk leads to the hopper or the spout; hang is reached
# by climbing from a rear.
HOME_CAGE_PREDECESSOR = {EAT: WALK, DRINK: WALK, HANG: REAR}
HOME_CAGE_START = (MICRO, REST, WALK, GROOM)  # A recording (and each part) starts on the floor.

BOUT_GAMMA_SHAPE = 2.0  # Gamma shape of a bout: rarely very short, occasionally long.
MIN_BOUT_FRAMES = 3  # Shortest sampled bout.
MIN_BOUT_S = {WALK: 1.0}  # A walk must be long enough to cross part of the cage.
LABEL_JITTER_S = 0.1  # Annotated bout boundaries lie up to this far from the rendered ones.

SCHEDULE_PARTS = 2  # Parts per recording that each hold every behaviour (both halves).
TEST_BOUTS = 5  # Test recording: parts per half, so >= this many bouts of each behaviour per half.
TEST_RECORDING_PARTS = SCHEDULE_PARTS * TEST_BOUTS
MIN_FRAMES_PER_PART = 32  # Room for every behaviour of the ethogram in every part.

_CHAIN_ITERATIONS = 400  # Fixed-point iterations fitting the transition weights to the shares.
_CHAIN_STEP = 0.5  # Damping of each multiplicative weight update.

ANNOTATION_DIR = "Annotator_group_1"
ANNOTATION_PREFIX = "frames"  # 6 chars + ': ' puts the start number at 0-based column 8.
ANNOTATION_DIGITS = 8


@dataclasses.dataclass(frozen=True)
class Ethogram:
  """The behaviours an animal shows in one setting and their statistics.

  Attributes:
    frame_share: behaviour id -> long-run share of the frames (sums to 1); only these occur.
    mean_bout_s: behaviour id -> mean bout length in seconds.
    predecessor: behaviour id -> the behaviour that must come just before it.
    start: behaviours a recording (and each part) may start with.
  """

  frame_share: Mapping[int, float]
  mean_bout_s: Mapping[int, float]
  predecessor: Mapping[int, int]
  start: tuple[int, ...]

  @property
  def behaviors(self) -> tuple[int, ...]:
    return tuple(sorted(self.frame_share))

  @functools.cached_property
  def transitions(self) -> np.ndarray:
    """[len(BEHAVIORS)]^2 transition matrix (rows of the ethogram's behaviours sum to 1, others
    are 0) whose chain has the ethogram's frame shares."""
    return fit_transitions(self)


def _allowed(ethogram: Ethogram) -> np.ndarray:
  """allowed[i, j]: behaviour j may follow behaviour i."""
  n = len(BEHAVIORS)
  allowed = np.zeros((n, n), bool)
  for i in ethogram.behaviors:
    for j in ethogram.behaviors:
      needed = ethogram.predecessor.get(j)
      allowed[i, j] = i != j and (needed is None or needed == i)
  return allowed


def _stationary(transitions: np.ndarray, support: Sequence[int]) -> np.ndarray:
  """The chain's stationary distribution of bouts (zero outside `support`)."""
  sub = transitions[np.ix_(support, support)]
  values, vectors = np.linalg.eig(sub.T)
  vector = np.real(vectors[:, np.argmin(np.abs(values - 1))])
  out = np.zeros(len(transitions))
  out[list(support)] = vector / vector.sum()
  return out


def fit_transitions(ethogram: Ethogram) -> np.ndarray:
  """The transition matrix, its weights per target behaviour fitted so that bouts occur at the
  rate the shares and bout lengths ask for (visits of i proportional to share_i / mean_bout_i)."""
  allowed = _allowed(ethogram).astype(float)
  support = list(ethogram.behaviors)
  target = np.zeros(len(BEHAVIORS))
  for b in support:
    target[b] = ethogram.frame_share[b] / ethogram.mean_bout_s[b]
  target /= target.sum()
  weights = np.where(target > 0, target, 0.0)
  for _ in range(_CHAIN_ITERATIONS):
    transitions = allowed * weights[None, :]
    transitions[support] /= transitions[support].sum(axis=1, keepdims=True)
    visits = _stationary(transitions, support)
    weights[support] *= (target[support] / visits[support]) ** _CHAIN_STEP
  return transitions


def frame_shares(ethogram: Ethogram) -> np.ndarray:
  """The long-run share of frames per behaviour of the fitted chain (a check of the fit)."""
  visits = _stationary(ethogram.transitions, list(ethogram.behaviors))
  frames = visits * np.array([ethogram.mean_bout_s.get(b, 0.0) for b in range(len(BEHAVIORS))])
  return frames / frames.sum()


HOME_CAGE = Ethogram(
    HOME_CAGE_FRAME_SHARE, HOME_CAGE_MEAN_BOUT_S, HOME_CAGE_PREDECESSOR, HOME_CAGE_START
)

# --------------------------------------------------------------------------------------------------
# Schedules.

Schedule = list[tuple[int, int]]  # (behaviour id, frames) bouts, in order.


def _sample_bout(behavior: int, ethogram: Ethogram, fps: float, rng: np.random.Generator) -> int:
  mean_frames = ethogram.mean_bout_s[behavior] * fps
  frames = rng.gamma(BOUT_GAMMA_SHAPE, mean_frames / BOUT_GAMMA_SHAPE)
  return max(_shortest_bout(behavior, fps), int(round(frames)))


def _shortest_bout(behavior: int, fps: float) -> int:
  return max(MIN_BOUT_FRAMES, int(round(MIN_BOUT_S.get(behavior, 0.0) * fps)))


def _sample_chain(
    num_frames: int,
    ethogram: Ethogram,
    fps: float,
    rng: np.random.Generator,
    avoid: int | None = None,
) -> list[list[int]]:
  """[behaviour, frames] bouts from the semi-Markov chain, at least num_frames in total, starting
  with one of `ethogram.start` other than `avoid` (the previous part's last: no merged bout)."""
  bouts, total = [], 0
  starts = [b for b in ethogram.start if b != avoid] or list(ethogram.start)
  state = int(rng.choice(starts))
  while total < num_frames:
    frames = _sample_bout(state, ethogram, fps, rng)
    bouts.append([state, frames])
    total += frames
    state = int(rng.choice(len(BEHAVIORS), p=ethogram.transitions[state]))
  return bouts


def _force_every_behavior(
    bouts: list[list[int]], ethogram: Ethogram, fps: float, rng: np.random.Generator
) -> list[list[int]]:
  """Inserts each missing behaviour (after its required predecessor) where the chain allows it."""
  bouts = [list(b) for b in bouts]
  for behavior in ethogram.behaviors:
    if any(b[0] == behavior for b in bouts):
      continue
    block = [behavior]
    if behavior in ethogram.predecessor:
      block = [ethogram.predecessor[behavior], behavior]
    # Valid insertion points: before a bout without a predecessor rule, or at the end; never
    # first, so the part still starts with one of `ethogram.start`.
    valid = [i for i, b in enumerate(bouts) if i > 0 and b[0] not in ethogram.predecessor]
    valid.append(len(bouts))
    at = int(rng.choice(valid))
    bouts[at:at] = [[b, _sample_bout(b, ethogram, fps, rng)] for b in block]
  return _merge_repeats(bouts)


def _merge_repeats(bouts: list[list[int]]) -> list[list[int]]:
  merged: list[list[int]] = []
  for behavior, frames in bouts:
    if merged and merged[-1][0] == behavior:
      merged[-1][1] += frames
    else:
      merged.append([behavior, frames])
  return merged


def _fit_length(bouts: list[list[int]], num_frames: int, fps: float) -> list[list[int]]:
  """Rescales bouts to exactly num_frames: shrinking takes only what is above each bout's shortest
  length (when the shortest lengths fit), so short bouts stay plausible; every bout keeps a frame.
  """
  if len(bouts) > num_frames:
    raise ValueError(f"{len(bouts)} bouts do not fit in {num_frames} frames.")
  counts = np.array([b[1] for b in bouts], dtype=np.float64)
  floors = np.array([_shortest_bout(b[0], fps) for b in bouts], dtype=np.float64)
  if counts.sum() > num_frames >= floors.sum():
    excess = counts - floors
    target = floors + excess * (num_frames - floors.sum()) / max(excess.sum(), 1.0)
  else:
    target, floors = counts * num_frames / counts.sum(), np.ones_like(counts)
  scaled = np.maximum(1, np.floor(target)).astype(np.int64)
  order = np.argsort(-(target - scaled), kind="stable")  # Largest remainders first.
  i = 0
  while scaled.sum() != num_frames:
    j = order[i % len(order)]
    step = 1 if scaled.sum() < num_frames else -1
    if scaled[j] + step >= max(1, floors[j]) or step > 0:
      scaled[j] += step
    i += 1
  return [[b[0], int(n)] for b, n in zip(bouts, scaled)]


def sample_schedule(
    num_frames: int,
    fps: float,
    rng: np.random.Generator,
    *,
    ethogram: Ethogram = HOME_CAGE,
    parts: int = SCHEDULE_PARTS,
) -> Schedule:
  """Bouts covering num_frames frames, every behaviour of the ethogram in each of `parts` parts.

  Each part is an independent run of the chain with every behaviour forced in, rescaled to the
  part's length. A part starts with one of `ethogram.start` (none needs a predecessor), so the
  joined schedule keeps the chain's constraints, and not with the previous part's last behaviour,
  so parts never merge bouts: a part's bouts are bouts of the recording.
  """
  if num_frames < min_frames(parts):
    raise ValueError(
        f"{num_frames} frames cannot hold {parts} parts with every behaviour: use at least "
        f"{min_frames(parts)}."
    )
  bounds = np.linspace(0, num_frames, parts + 1).round().astype(int)
  bouts: list[list[int]] = []
  for part_frames in np.diff(bounds):
    previous = bouts[-1][0] if bouts else None
    chain = _sample_chain(int(part_frames), ethogram, fps, rng, avoid=previous)
    part = _force_every_behavior(chain, ethogram, fps, rng)
    bouts += _fit_length(part, int(part_frames), fps)
  return [tuple(b) for b in _merge_repeats(bouts)]


def min_frames(parts: int) -> int:
  """The shortest recording with `parts` parts."""
  return parts * MIN_FRAMES_PER_PART


def labels(schedule: Schedule) -> np.ndarray:
  """Per-frame behaviour ids of a schedule."""
  return np.repeat([b for b, _ in schedule], [n for _, n in schedule])


def annotated(schedule: Schedule, fps: float, rng: np.random.Generator) -> Schedule:
  """The schedule as an annotator would write it: each boundary moved by up to LABEL_JITTER_S,
  every bout keeping at least one frame (the video shows the unmoved schedule)."""
  jitter = int(round(LABEL_JITTER_S * fps))
  ends = np.cumsum([n for _, n in schedule])
  moved = ends.copy()
  for k in range(len(ends) - 1):
    low = (moved[k - 1] if k else 0) + 1
    high = ends[k + 1] - 1
    moved[k] = int(np.clip(ends[k] + rng.integers(-jitter, jitter + 1), low, high))
  lengths = np.diff(np.concatenate([[0], moved]))
  return [(b, int(n)) for (b, _), n in zip(schedule, lengths)]


def annotation_text(schedule: Schedule) -> str:
  """The Jhuang run-length annotation: one `frames: start-end label` line per bout, 1-based."""
  lines, start = [], 1
  for behavior, frames in schedule:
    end = start + frames - 1
    lines.append(
        f"{ANNOTATION_PREFIX}: {start:0{ANNOTATION_DIGITS}d}-{end:0{ANNOTATION_DIGITS}d} "
        f"{BEHAVIORS[behavior]}"
    )
    start = end + 1
  return "\n".join(lines) + "\n"
