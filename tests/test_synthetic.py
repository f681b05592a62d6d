"""Tests for mouseflax.synthetic: exact on-disk layouts, annotations, determinism, atomic reuse."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import cv2
import fakes
import numpy as np
import pytest
import scipy.io

from mouseflax import preprocess
from mouseflax import synthetic
from mouseflax.synthetic import avenue
from mouseflax.synthetic import behaviour
from mouseflax.synthetic import cache
from mouseflax.synthetic import home_cage

SEED = 3
HOME_CAGE_SIZE = {"num_videos": 2, "frames_per_video": 96, "width": 160, "height": 120}
AVENUE_SIZE = {"num_train": 2, "num_test": 2, "frames_per_video": 60, "width": 160, "height": 96}
DEFAULT_FRAMES = synthetic.HOME_CAGE_DEFAULTS["frames_per_video"]
DEFAULT_FPS = synthetic.HOME_CAGE_DEFAULTS["fps"]
LID_REGION_H = 0.04  # "At the lid": within this share of the frame height under its edge.
SHARE_RTOL = 0.25  # Realised shares over an hour vs the documented ones (bout-length floors).
LID_EDGE_PX = 3  # The lid's edge line, drawn 2 px thick at 320x240.
INNER_MARGIN_W = 0.02  # Columns kept clear of the hopper and the bottle, share of the width.
DARK_SHARE = 0.6  # The animal: darker than this share of the frame's median grey level.
# Fixed columns of an annotation line (0-based slices) used by one of the known parsers.
START_COLS, END_COLS, LABEL_FROM = slice(8, 16), slice(17, 25), 26


@pytest.fixture(scope="module")
def home_cage_dir(tmp_path_factory) -> pathlib.Path:
  root = tmp_path_factory.mktemp("synthetic_home_cage")
  return synthetic.ensure_synthetic("home_cage", root, seed=SEED, **HOME_CAGE_SIZE)


@pytest.fixture(scope="module")
def avenue_dir(tmp_path_factory) -> pathlib.Path:
  root = tmp_path_factory.mktemp("synthetic_avenue")
  return synthetic.ensure_synthetic("avenue", root, seed=SEED, **AVENUE_SIZE)


def _split_parse(line: str) -> tuple[int, int, str]:
  """The ': ' / ' ' / '-' split rule of one known parser."""
  _, rest = line.split(": ", 1)
  frames, label = rest.split(" ", 1)
  start, end = frames.split("-")
  return int(start), int(end), label


def _column_parse(line: str) -> tuple[int, int, str]:
  return int(line[START_COLS]), int(line[END_COLS]), line[LABEL_FROM:]


def _stem(i: int) -> str:
  return home_cage.HOME_CAGE_STEM.format(i)


def _frames(i: int) -> int:
  """Frames of recording i (1-based): the first is the longer test recording."""
  size = HOME_CAGE_SIZE["frames_per_video"]
  return home_cage.test_recording_frames(size, None) if i == 1 else size


# --------------------------------------------------------------------------------------------------
# Home cage.


def test_home_cage_layout_is_exactly_the_jhuang_layout(home_cage_dir):
  n = HOME_CAGE_SIZE["num_videos"]
  expected = {f"{_stem(i)}.mpg" for i in range(1, n + 1)}
  expected |= {f"Annotator_group_1/{_stem(i)}.txt" for i in range(1, n + 1)}
  expected.add(synthetic.MARKER_NAME)
  assert fakes.files_below(home_cage_dir) == expected
  assert [p.name for p in home_cage_dir.parent.iterdir()] == [home_cage_dir.name]  # No temp left.


def test_annotation_lines_parse_with_split_rule_and_fixed_columns(home_cage_dir):
  for i in range(1, HOME_CAGE_SIZE["num_videos"] + 1):
    lines = (home_cage_dir / "Annotator_group_1" / f"{_stem(i)}.txt").read_text().splitlines()
    runs = [_split_parse(line) for line in lines]
    assert runs == [_column_parse(line) for line in lines]
    starts, ends, labels = zip(*runs)
    assert starts[0] == 1 and ends[-1] == _frames(i)
    assert all(s == e + 1 for s, e in zip(starts[1:], ends[:-1]))  # Contiguous, inclusive ends.
    assert all(s <= e for s, e in zip(starts, ends))
    assert set(labels) == set(synthetic.BEHAVIORS)


def test_the_first_recording_is_the_longest_test_recording(home_cage_dir):
  frames = {i: len(fakes.decode_bgr(home_cage_dir / f"{_stem(i)}.mpg")) for i in (1, 2)}
  assert frames == {1: _frames(1), 2: _frames(2)} and frames[1] > frames[2]


def test_videos_decode_with_the_right_count_size_and_grey_content(home_cage_dir):
  frames = fakes.decode_bgr(home_cage_dir / f"{_stem(2)}.mpg")
  assert frames.shape == (
      _frames(2),
      HOME_CAGE_SIZE["height"],
      HOME_CAGE_SIZE["width"],
      3,
  )
  spread = frames.astype(np.int16).max(-1) - frames.astype(np.int16).min(-1)
  assert np.percentile(spread, 99) <= 4  # Grey-looking, written as 3 channels.
  assert frames.std() > 10  # Not a blank video.


@pytest.mark.parametrize("seed", range(6))
def test_default_length_schedule_has_every_behavior_and_respects_the_chain(seed):
  schedule = behaviour.sample_schedule(DEFAULT_FRAMES, DEFAULT_FPS, np.random.default_rng(seed))
  behaviors = [b for b, _ in schedule]
  assert sum(n for _, n in schedule) == DEFAULT_FRAMES
  assert set(behaviors) == set(range(len(synthetic.BEHAVIORS)))
  assert all(n >= 1 for _, n in schedule)
  assert all(a != b for a, b in zip(behaviors, behaviors[1:]))  # Runs are maximal.
  for previous, current in zip(behaviors, behaviors[1:]):
    required = behaviour.HOME_CAGE.predecessor.get(current)
    assert required is None or previous == required, (previous, current)
  assert behaviors[0] not in behaviour.HOME_CAGE.predecessor


@pytest.mark.parametrize(
    "frames", [behaviour.min_frames(behaviour.SCHEDULE_PARTS), 1500, DEFAULT_FRAMES]
)
def test_every_behavior_in_each_half_so_any_test_half_holds_it(frames):
  """The builders' test split is the first half of a video: it must hold every held-out
  behaviour."""
  for seed in range(4):
    labels = behaviour.labels(
        behaviour.sample_schedule(frames, DEFAULT_FPS, np.random.default_rng(seed))
    )
    assert len(labels) == frames
    for half in (labels[: frames // 2], labels[frames // 2 :]):
      assert set(half.tolist()) == set(range(len(synthetic.BEHAVIORS))), (frames, seed)


def _bouts(labels: np.ndarray) -> list[tuple[int, int, int]]:
  """(behaviour, first frame, one past the last) of each run of labels."""
  edges = np.flatnonzero(np.diff(labels)) + 1
  starts, stops = np.concatenate([[0], edges]), np.concatenate([edges, [len(labels)]])
  return [(int(labels[a]), int(a), int(b)) for a, b in zip(starts, stops)]


@pytest.mark.parametrize("seed", range(20))
def test_test_recording_half_holds_several_bouts_of_each_behavior_spread_out(seed):
  """An AUC is not decided by one bout: >= TEST_BOUTS bouts of every behaviour in the test half,
  one in each fifth of it, next to different normal behaviours."""
  frames = home_cage.test_recording_frames(DEFAULT_FRAMES, None)
  labels = behaviour.labels(
      behaviour.sample_schedule(
          frames, DEFAULT_FPS, np.random.default_rng(seed), parts=behaviour.TEST_RECORDING_PARTS
      )
  )
  half = labels[: frames // 2]
  bouts = _bouts(half)
  for behavior in range(len(synthetic.BEHAVIORS)):
    own = [(a, b) for k, a, b in bouts if k == behavior]
    assert len(own) >= behaviour.TEST_BOUTS, (behavior, len(own))
    for part in np.array_split(np.arange(len(half)), behaviour.TEST_BOUTS):
      assert behavior in set(half[part].tolist())
    neighbours = {k for i, (k, _, _) in enumerate(bouts) if 0 < i and bouts[i - 1][0] == behavior}
    assert len(neighbours) >= 2, (behavior, neighbours)


def test_the_chain_is_fitted_to_the_documented_frame_shares():
  ethogram = behaviour.HOME_CAGE
  transitions = ethogram.transitions
  assert np.allclose(transitions.sum(1), 1.0) and np.all(np.diag(transitions) == 0)
  for behavior, required in ethogram.predecessor.items():
    assert set(np.flatnonzero(transitions[:, behavior])) == {required}
  expected = np.array([ethogram.frame_share[b] for b in range(len(synthetic.BEHAVIORS))])
  np.testing.assert_allclose(behaviour.frame_shares(ethogram), expected, atol=1e-3)
  hour = int(3600 * DEFAULT_FPS)  # One part: no forced bouts, only the minimum bout lengths.
  labels = behaviour.labels(
      behaviour.sample_schedule(hour, DEFAULT_FPS, np.random.default_rng(0), parts=1)
  )
  realised = np.bincount(labels, minlength=len(expected)) / len(labels)
  np.testing.assert_allclose(realised, expected, rtol=SHARE_RTOL)


def test_annotated_boundaries_keep_every_bout_even_tiny_ones():
  tiny = [(b % len(synthetic.BEHAVIORS), 1 + b % 2) for b in range(40)]
  written = behaviour.annotated(tiny, DEFAULT_FPS, np.random.default_rng(0))
  assert [b for b, _ in written] == [b for b, _ in tiny] and all(n >= 1 for _, n in written)
  assert sum(n for _, n in written) == sum(n for _, n in tiny)


def test_too_few_frames_for_the_parts_is_an_error_not_a_hang():
  with pytest.raises(ValueError, match="at least"):
    behaviour.sample_schedule(5, DEFAULT_FPS, np.random.default_rng(0), parts=10)


def test_some_recordings_switch_between_day_and_night_and_some_do_not():
  switches = [
      bool(np.diff(home_cage._Light(300, DEFAULT_FPS, np.random.default_rng(s)).night).any())  # pylint: disable=protected-access
      for s in range(8)
  ]
  assert any(switches) and not all(switches)


def test_annotated_boundaries_are_at_most_the_label_jitter_off():
  schedule = behaviour.sample_schedule(DEFAULT_FRAMES, DEFAULT_FPS, np.random.default_rng(1))
  written = behaviour.annotated(schedule, DEFAULT_FPS, np.random.default_rng(2))
  assert [b for b, _ in written] == [b for b, _ in schedule]
  assert all(n >= 1 for _, n in written)
  ends, moved = np.cumsum([n for _, n in schedule]), np.cumsum([n for _, n in written])
  assert ends[-1] == moved[-1]
  jitter = round(behaviour.LABEL_JITTER_S * DEFAULT_FPS)
  assert np.abs(moved - ends).max() <= jitter and (moved != ends).any()


def _render(schedule, seed: int = 0) -> np.ndarray:
  """Frames at the default size (the behaviours' sizes are tuned at 320x240)."""
  d = synthetic.HOME_CAGE_DEFAULTS
  rng = np.random.default_rng(seed)
  frames = home_cage.render_home_cage_frames(schedule, d["width"], d["height"], d["fps"], rng)
  return np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])


def _flow_magnitude(gray: np.ndarray) -> np.ndarray:
  """Mean |Farneback displacement| per frame at the models' 32x32 (pixels of 32x32)."""
  processor = preprocess.FramePreprocessor(preprocess.PreprocessConfig())
  magnitudes = []
  for frame in gray:
    current = processor.process_frame(frame)
    magnitudes.append(np.linalg.norm(processor.raw_flow(current), axis=-1).mean())
    processor._previous = current  # pylint: disable=protected-access
  return np.array(magnitudes)


BOUT_FRAMES, SETTLE_FRAMES, REPEATS = 150, 15, 3


def _each_behavior_schedule() -> behaviour.Schedule:
  order = (
      behaviour.WALK,
      behaviour.REST,
      behaviour.MICRO,
      behaviour.GROOM,
      behaviour.EAT,
      behaviour.WALK,
      behaviour.DRINK,
      behaviour.REAR,
      behaviour.HANG,
      behaviour.MICRO,
      behaviour.GROOM,
      behaviour.REAR,
      behaviour.REST,
  )
  return [(b, BOUT_FRAMES) for b in order] * REPEATS


def _settled(schedule: behaviour.Schedule) -> np.ndarray:
  """False on the first SETTLE_FRAMES of each bout (the blend from the previous one)."""
  settled = np.ones(sum(n for _, n in schedule), bool)
  for start in np.cumsum([0] + [n for _, n in schedule])[:-1]:
    settled[start : start + SETTLE_FRAMES] = False
  return settled


def test_motion_per_behavior_at_the_models_resolution():
  """Groom moves about as much as micromovement (0.5x-2x), rest is the stillest."""
  schedule = _each_behavior_schedule()
  magnitude = _flow_magnitude(_render(schedule))
  labels, settled = behaviour.labels(schedule), _settled(schedule)
  mean = {b: magnitude[(labels == b) & settled].mean() for b in set(labels.tolist())}
  assert 0.5 <= mean[behaviour.GROOM] / mean[behaviour.MICRO] <= 2.0, mean
  assert min(mean, key=mean.get) == behaviour.REST, mean


def test_some_rears_reach_the_lid():
  """Being near the lid is not unique to hang: rears stretch up until the forepaws touch it."""
  schedule = [(behaviour.WALK, 30), (behaviour.REAR, 90)] * 8
  gray = _render(schedule, seed=1)
  height, width = gray.shape[1:]
  # Under the lid's edge line, between the hopper and the bottle: the wire, the hopper's grille
  # and the spout are dark too.
  below = round(home_cage.LID_BOTTOM_H * height) + LID_EDGE_PX
  cols = slice(
      round((home_cage.HOPPER_X_W[1] + INNER_MARGIN_W) * width),
      round((home_cage.SPOUT_X_W - home_cage.BOTTLE_HALF_W - INNER_MARGIN_W) * width),
  )
  inside = gray[:, below:, cols]
  dark = (inside < DARK_SHARE * np.median(gray, axis=(1, 2))[:, None, None]).any(axis=2)
  top = np.where(dark.any(1), dark.argmax(1), height) + below
  reach = below + round(LID_REGION_H * height)
  labels, settled = behaviour.labels(schedule), _settled(schedule)
  assert (top[labels == behaviour.REAR] <= reach).any()
  assert (top[(labels == behaviour.WALK) & settled] > reach).all()


def test_same_seed_same_bytes_other_seed_other_content(tmp_path):
  size = {"num_videos": 1, "frames_per_video": 64, "width": 96, "height": 64}
  a = synthetic.write_home_cage(tmp_path / "a", seed=5, **size)
  b = synthetic.write_home_cage(tmp_path / "b", seed=5, **size)
  c = synthetic.write_home_cage(tmp_path / "c", seed=6, **size)
  assert (
      fakes.files_below(a)
      == fakes.files_below(b)
      == {f"{_stem(1)}.mpg", f"Annotator_group_1/{_stem(1)}.txt"}
  )
  for name in fakes.files_below(a):  # The ffmpeg MPEG-1 encoder is deterministic as well.
    assert (a / name).read_bytes() == (b / name).read_bytes(), name
  assert np.array_equal(
      fakes.decode_bgr(a / f"{_stem(1)}.mpg"), fakes.decode_bgr(b / f"{_stem(1)}.mpg")
  )
  assert (a / f"{_stem(1)}.mpg").read_bytes() != (c / f"{_stem(1)}.mpg").read_bytes()


def test_too_short_or_unknown_sizes_raise_naming_the_argument(tmp_path):
  with pytest.raises(synthetic.SyntheticConfigError, match="frames_per_video"):
    synthetic.write_home_cage(tmp_path, seed=0, num_videos=1, frames_per_video=10)
  with pytest.raises(synthetic.SyntheticConfigError, match="num_test"):
    synthetic.ensure_synthetic("home_cage", tmp_path, seed=0, num_test=3)
  with pytest.raises(synthetic.SyntheticConfigError, match="kind"):
    synthetic.ensure_synthetic("zoo", tmp_path, seed=0)


# --------------------------------------------------------------------------------------------------
# ensure_synthetic: reuse and atomicity.


def test_ensure_synthetic_reuses_a_complete_folder(home_cage_dir):
  marker = home_cage_dir / synthetic.MARKER_NAME
  before = marker.stat().st_mtime_ns
  again = synthetic.ensure_synthetic("home_cage", home_cage_dir.parent, seed=SEED, **HOME_CAGE_SIZE)
  assert again == home_cage_dir and marker.stat().st_mtime_ns == before
  params = json.loads(marker.read_text())
  assert params == synthetic.synthetic_params("home_cage", seed=SEED, **HOME_CAGE_SIZE)
  other = synthetic.synthetic_params("home_cage", seed=SEED + 1, **HOME_CAGE_SIZE)
  assert synthetic.synthetic_dir_name(other) != home_cage_dir.name


def test_failed_generation_leaves_nothing_visible(tmp_path, monkeypatch):
  def failing_writer(output_dir, **_):
    pathlib.Path(output_dir).mkdir(parents=True)
    (pathlib.Path(output_dir) / "half.mpg").write_bytes(b"partial")
    raise RuntimeError("killed mid-way")

  monkeypatch.setitem(cache._WRITERS, "home_cage", (failing_writer, synthetic.HOME_CAGE_DEFAULTS))
  with pytest.raises(RuntimeError, match="killed"):
    synthetic.ensure_synthetic("home_cage", tmp_path, seed=0)
  assert list(tmp_path.iterdir()) == []


def test_stale_temp_dir_of_a_killed_run_is_removed_live_one_kept(tmp_path):
  size = {"num_videos": 1, "frames_per_video": 64, "width": 64, "height": 48}
  name = synthetic.synthetic_dir_name(synthetic.synthetic_params("home_cage", seed=0, **size))
  dead = subprocess.run(
      [sys.executable, "-c", "import os; print(os.getpid())"],
      capture_output=True,
      text=True,
      check=True,
  )
  host = socket.gethostname()
  stale = tmp_path / f".{name}.tmp-{host}-{int(dead.stdout)}-deadbeef"
  live = tmp_path / f".{name}.tmp-{host}-{os.getpid()}-cafecafe"
  for folder in (stale, live):
    folder.mkdir()
    (folder / "junk.mpg").write_bytes(b"x")
  final = synthetic.ensure_synthetic("home_cage", tmp_path, seed=0, **size)
  assert not stale.exists() and live.exists()
  assert (final / synthetic.MARKER_NAME).is_file()


def test_foreign_folder_in_the_way_is_an_error(tmp_path):
  final = tmp_path / "mine"
  final.mkdir()
  (final / "notes.txt").write_text("user data")
  params = synthetic.synthetic_params("home_cage", seed=0)
  with pytest.raises(FileExistsError, match="mine"):
    synthetic.materialize(final, params)
  assert (final / "notes.txt").read_text() == "user data"


def test_cli_writes_the_layout(tmp_path):
  out = tmp_path / "cli"
  subprocess.run(
      [
          sys.executable,
          "-m",
          "mouseflax.synthetic",
          "--kind=home_cage",
          f"--output_dir={out}",
          "--seed=1",
          "--num_videos=1",
          "--frames_per_video=64",
          "--width=64",
          "--height=48",
          "--num_workers=1",
      ],
      check=True,
      capture_output=True,
  )
  assert fakes.files_below(out) == {
      f"{_stem(1)}.mpg",
      f"Annotator_group_1/{_stem(1)}.txt",
      synthetic.MARKER_NAME,
  }


# --------------------------------------------------------------------------------------------------
# Avenue.


def test_avenue_layout_is_exactly_the_cuhk_layout(avenue_dir):
  expected = {f"training_videos/{i:02d}.avi" for i in range(1, AVENUE_SIZE["num_train"] + 1)}
  expected |= {f"testing_videos/{i:02d}.avi" for i in range(1, AVENUE_SIZE["num_test"] + 1)}
  expected |= {
      f"ground_truth_demo/testing_label_mask/{i}_label.mat"
      for i in range(1, AVENUE_SIZE["num_test"] + 1)
  }
  expected.add(synthetic.MARKER_NAME)
  assert fakes.files_below(avenue_dir) == expected


def test_avenue_masks_match_frames_and_mark_anomalies(avenue_dir):
  shape = (AVENUE_SIZE["frames_per_video"], AVENUE_SIZE["height"], AVENUE_SIZE["width"], 3)
  for i in range(1, AVENUE_SIZE["num_test"] + 1):
    frames = fakes.decode_bgr(avenue_dir / "testing_videos" / f"{i:02d}.avi")
    assert frames.shape == shape
    vol = scipy.io.loadmat(avenue_dir / "ground_truth_demo/testing_label_mask" / f"{i}_label.mat")[
        "volLabel"
    ]
    assert vol.shape == (1, shape[0])
    masks = np.stack([np.asarray(m) for m in vol[0]])
    assert masks.shape == shape[:3] and masks.dtype == np.uint8
    assert masks.any(axis=(1, 2)).sum() > 0
  assert fakes.decode_bgr(avenue_dir / "training_videos" / "01.avi").shape == shape


def test_avenue_training_videos_have_no_anomalies_and_test_masks_cover_the_actor():
  size = (AVENUE_SIZE["width"], AVENUE_SIZE["height"])
  train = list(avenue.render_avenue(60, size, 25.0, False, np.random.default_rng(1)))
  assert not any(mask.any() for _, mask in train)
  test = list(avenue.render_avenue(60, size, 25.0, True, np.random.default_rng(1)))
  flagged = [(frame, mask) for frame, mask in test if mask.any()]
  assert flagged
  background = avenue._draw_avenue_background(size, np.random.default_rng(0))
  for frame, mask in flagged:  # The masked pixels are where someone or something was drawn.
    assert mask.sum() < 0.5 * mask.size
    changed = np.abs(frame.astype(np.int16) - background).max(-1) > 40
    assert changed[mask > 0].mean() > 0.3


# --------------------------------------------------------------------------------------------------
# The project's readers parse the synthetic output (skipped until mouseflax.raw_formats exists).


def test_raw_formats_reads_the_home_cage_output(home_cage_dir):
  raw_formats = pytest.importorskip("mouseflax.raw_formats")
  assert tuple(raw_formats.BEHAVIORS) == synthetic.BEHAVIORS
  pairs = raw_formats.find_jhuang_recordings(home_cage_dir)
  assert [v.name for v, _ in pairs] == [f"{_stem(i)}.mpg" for i in (1, 2)]
  for i, (_, annotation) in enumerate(pairs, start=1):
    labels = raw_formats.parse_jhuang_annotation(annotation, _frames(i))
    assert labels.shape == (_frames(i),)
    assert labels.min() >= 0 and set(labels.tolist()) == set(range(len(synthetic.BEHAVIORS)))
    first = _split_parse(annotation.read_text().splitlines()[0])
    assert np.all(labels[: first[1]] == synthetic.BEHAVIORS.index(first[2]))


def test_raw_formats_reads_the_avenue_output(avenue_dir):
  raw_formats = pytest.importorskip("mouseflax.raw_formats")
  train, test = raw_formats.find_avenue_recordings(avenue_dir)
  assert [p.name for p in train] == ["01.avi", "02.avi"]
  assert [(v.name, m.name) for v, m in test] == [
      ("01.avi", "1_label.mat"),
      ("02.avi", "2_label.mat"),
  ]
  for _, mat in test:
    labels = raw_formats.read_avenue_frame_labels(mat, AVENUE_SIZE["frames_per_video"])
    assert labels.shape == (AVENUE_SIZE["frames_per_video"],) and labels.sum() > 0


def test_parallel_writing_gives_the_same_bytes(tmp_path):
  size = {"num_videos": 2, "frames_per_video": 64, "width": 64, "height": 48}
  serial = synthetic.write_home_cage(tmp_path / "serial", seed=2, num_workers=1, **size)
  parallel = synthetic.write_home_cage(tmp_path / "parallel", seed=2, num_workers=2, **size)
  assert fakes.files_below(serial) == fakes.files_below(parallel)
  for name in fakes.files_below(serial):
    assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name


def test_automatic_workers_only_for_large_sets():
  small = synthetic.synthetic_params("home_cage", seed=0, **HOME_CAGE_SIZE)
  assert cache._auto_workers(small) == 1
  large = synthetic.synthetic_params("home_cage", seed=0)
  assert 1 <= cache._auto_workers(large) <= cache.AUTO_MAX_WORKERS


def test_avenue_same_seed_same_bytes(tmp_path):
  size = {"num_train": 1, "num_test": 1, "frames_per_video": 50, "width": 96, "height": 64}
  a = synthetic.write_avenue(tmp_path / "a", seed=4, **size)
  b = synthetic.write_avenue(tmp_path / "b", seed=4, **size)
  assert fakes.files_below(a) == fakes.files_below(b) and len(fakes.files_below(a)) == 3
  for name in fakes.files_below(a):  # Includes the .mat: its header carries no creation time.
    assert (a / name).read_bytes() == (b / name).read_bytes(), name
