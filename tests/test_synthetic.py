"""Tests for mouseflax.synthetic: exact on-disk layouts, annotations, determinism, atomic reuse."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import scipy.io

from mouseflax import preprocess
from mouseflax import synthetic
from mouseflax.synthetic import avenue
from mouseflax.synthetic import cache
from mouseflax.synthetic import home_cage

SEED = 3
HOME_CAGE_SIZE = {"num_videos": 2, "frames_per_video": 96, "width": 160, "height": 120}
AVENUE_SIZE = {"num_train": 2, "num_test": 2, "frames_per_video": 60, "width": 160, "height": 96}
DEFAULT_FRAMES = synthetic.HOME_CAGE_DEFAULTS["frames_per_video"]
DEFAULT_FPS = synthetic.HOME_CAGE_DEFAULTS["fps"]
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


def _files(root: pathlib.Path) -> set[str]:
  return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _decode(path: pathlib.Path) -> np.ndarray:
  capture = cv2.VideoCapture(str(path))
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(frame)
  capture.release()
  return np.stack(frames)


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


# --------------------------------------------------------------------------------------------------
# Home cage.


def test_home_cage_layout_is_exactly_the_jhuang_layout(home_cage_dir):
  n = HOME_CAGE_SIZE["num_videos"]
  expected = {f"{_stem(i)}.mpg" for i in range(1, n + 1)}
  expected |= {f"Annotator_group_1/{_stem(i)}.txt" for i in range(1, n + 1)}
  expected.add(synthetic.MARKER_NAME)
  assert _files(home_cage_dir) == expected
  assert [p.name for p in home_cage_dir.parent.iterdir()] == [home_cage_dir.name]  # No temp left.


def test_annotation_lines_parse_with_split_rule_and_fixed_columns(home_cage_dir):
  for i in range(1, HOME_CAGE_SIZE["num_videos"] + 1):
    lines = (home_cage_dir / "Annotator_group_1" / f"{_stem(i)}.txt").read_text().splitlines()
    runs = [_split_parse(line) for line in lines]
    assert runs == [_column_parse(line) for line in lines]
    starts, ends, labels = zip(*runs)
    assert starts[0] == 1 and ends[-1] == HOME_CAGE_SIZE["frames_per_video"]
    assert all(s == e + 1 for s, e in zip(starts[1:], ends[:-1]))  # Contiguous, inclusive ends.
    assert all(s <= e for s, e in zip(starts, ends))
    assert set(labels) == set(synthetic.BEHAVIORS)


def test_videos_decode_with_the_right_count_size_and_grey_content(home_cage_dir):
  frames = _decode(home_cage_dir / f"{_stem(1)}.mpg")
  assert frames.shape == (
      HOME_CAGE_SIZE["frames_per_video"],
      HOME_CAGE_SIZE["height"],
      HOME_CAGE_SIZE["width"],
      3,
  )
  spread = frames.astype(np.int16).max(-1) - frames.astype(np.int16).min(-1)
  assert np.percentile(spread, 99) <= 4  # Grey-looking, written as 3 channels.
  assert frames.std() > 10  # Not a blank video.


@pytest.mark.parametrize("seed", range(6))
def test_default_length_schedule_has_every_behavior_and_respects_the_chain(seed):
  schedule = home_cage.sample_behavior_schedule(
      DEFAULT_FRAMES, DEFAULT_FPS, np.random.default_rng(seed)
  )
  behaviors = [b for b, _ in schedule]
  assert sum(n for _, n in schedule) == DEFAULT_FRAMES
  assert set(behaviors) == set(range(len(synthetic.BEHAVIORS)))
  assert all(n >= 1 for _, n in schedule)
  assert all(a != b for a, b in zip(behaviors, behaviors[1:]))  # Runs are maximal.
  for previous, current in zip(behaviors, behaviors[1:]):
    required = home_cage.REQUIRED_PREDECESSOR.get(current)
    assert required is None or previous == required, (previous, current)
  assert behaviors[0] not in home_cage.REQUIRED_PREDECESSOR


@pytest.mark.parametrize("frames", [home_cage.MIN_FRAMES_PER_VIDEO, 1500, DEFAULT_FRAMES])
def test_every_behavior_in_each_half_so_any_test_half_holds_it(frames):
  """The builders' test split is the first half of a video: it must hold every held-out
  behaviour."""
  for seed in range(4):
    schedule = home_cage.sample_behavior_schedule(frames, DEFAULT_FPS, np.random.default_rng(seed))
    labels = np.concatenate([[b] * n for b, n in schedule])
    assert len(labels) == frames
    for half in (labels[: frames // 2], labels[frames // 2 :]):
      assert set(half.tolist()) == set(range(len(synthetic.BEHAVIORS))), (frames, seed)


def test_transition_matrix_is_stochastic_without_self_transitions():
  assert np.allclose(home_cage.TRANSITIONS.sum(1), 1.0)
  assert np.all(np.diag(home_cage.TRANSITIONS) == 0)
  for behavior, required in home_cage.REQUIRED_PREDECESSOR.items():
    sources = set(np.flatnonzero(home_cage.TRANSITIONS[:, behavior]))
    assert sources == {required}


def _dark_centroid_rows(frames: np.ndarray) -> np.ndarray:
  """Row of the animal's centre (the darkest pixels) in the 32x32 resize the models see."""
  small = np.stack(
      [
          cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (32, 32), interpolation=cv2.INTER_AREA)
          for f in frames
      ]
  ).astype(np.float32)
  dark = small < 80
  rows = np.arange(32)[None, :, None]
  return (dark * rows).sum((1, 2)) / np.maximum(dark.sum((1, 2)), 1)


def test_hang_is_high_up_and_groom_moves_less_than_walk():
  """Downstream needs: hang conspicuous at 32x32 (under the lid), groom subtle."""
  hold = 30
  schedule = [
      (home_cage.WALK, hold),
      (home_cage.REAR, hold),
      (home_cage.HANG, hold),
      (home_cage.MICRO, hold),
      (home_cage.GROOM, hold),
      (home_cage.WALK, hold),
  ]
  frames = np.stack(
      list(
          home_cage.render_home_cage_frames(
              schedule, 160, 120, DEFAULT_FPS, np.random.default_rng(0)
          )
      )
  )
  rows = _dark_centroid_rows(frames)
  settled = slice(hold // 2, hold)  # Skip the blend from the previous behaviour.
  hang = rows[2 * hold :][settled]
  others = np.concatenate([rows[k * hold :][settled] for k in (0, 1, 3, 4)])
  assert hang.max() < 12 < others.min()  # Hang in the top part of the 24x32 crop (rows 4..27).
  gray = frames[..., 0].astype(np.float32)
  motion = (np.abs(np.diff(gray, axis=0)) > 25).mean((1, 2))  # Moving pixels, not sensor noise.
  groom, walk = motion[4 * hold :][settled].mean(), motion[5 * hold :][settled].mean()
  assert groom < 0.5 * walk


def _flow_magnitude(frames: np.ndarray) -> np.ndarray:
  """Mean |displacement| per frame and row of the 24x32 crop the models see, [T, 24]."""
  processor = preprocess.FramePreprocessor(preprocess.PreprocessConfig())
  flows = [processor(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY))[1] for f in frames]
  return np.abs(2 * np.stack(flows) - 1).mean(axis=(2, 3))  # Back from [0, 1] to +-max_disp units.


def test_hang_moves_under_the_lid_more_than_anything_moves_there():
  """Hand-over-hand travel under the lid: flow up there that no normal behaviour makes."""
  hold = 45
  order = (
      home_cage.WALK,
      home_cage.REAR,
      home_cage.HANG,
      home_cage.MICRO,
      home_cage.GROOM,
      home_cage.EAT,
      home_cage.DRINK,
      home_cage.REST,
  )
  frames = np.stack(
      list(
          home_cage.render_home_cage_frames(
              [(b, hold) for b in order], 160, 120, DEFAULT_FPS, np.random.default_rng(1)
          )
      )
  )
  top = _flow_magnitude(frames)[:, :8].mean(1)  # Upper third of the crop: under the lid.
  settled = [top[k * hold + hold // 2 : (k + 1) * hold].mean() for k in range(len(order))]
  hang = settled[order.index(home_cage.HANG)]
  assert hang > 3 * max(m for b, m in zip(order, settled) if b != home_cage.HANG), settled
  whole = _flow_magnitude(frames).mean(1)
  walk = whole[hold // 2 : hold].mean()
  hang_whole = whole[2 * hold + hold // 2 : 3 * hold].mean()
  assert hang_whole > walk  # As vigorous as walking, not a still animal.


def test_same_seed_same_bytes_other_seed_other_content(tmp_path):
  size = {"num_videos": 1, "frames_per_video": 64, "width": 96, "height": 64}
  a = synthetic.write_home_cage(tmp_path / "a", seed=5, **size)
  b = synthetic.write_home_cage(tmp_path / "b", seed=5, **size)
  c = synthetic.write_home_cage(tmp_path / "c", seed=6, **size)
  assert _files(a) == _files(b) == {f"{_stem(1)}.mpg", f"Annotator_group_1/{_stem(1)}.txt"}
  for name in _files(a):  # The ffmpeg MPEG-1 encoder is deterministic as well.
    assert (a / name).read_bytes() == (b / name).read_bytes(), name
  assert np.array_equal(_decode(a / f"{_stem(1)}.mpg"), _decode(b / f"{_stem(1)}.mpg"))
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
  assert _files(out) == {
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
  assert _files(avenue_dir) == expected


def test_avenue_masks_match_frames_and_mark_anomalies(avenue_dir):
  shape = (AVENUE_SIZE["frames_per_video"], AVENUE_SIZE["height"], AVENUE_SIZE["width"], 3)
  for i in range(1, AVENUE_SIZE["num_test"] + 1):
    frames = _decode(avenue_dir / "testing_videos" / f"{i:02d}.avi")
    assert frames.shape == shape
    vol = scipy.io.loadmat(avenue_dir / "ground_truth_demo/testing_label_mask" / f"{i}_label.mat")[
        "volLabel"
    ]
    assert vol.shape == (1, shape[0])
    masks = np.stack([np.asarray(m) for m in vol[0]])
    assert masks.shape == shape[:3] and masks.dtype == np.uint8
    assert masks.any(axis=(1, 2)).sum() > 0
  assert _decode(avenue_dir / "training_videos" / "01.avi").shape == shape


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
  for _, annotation in pairs:
    labels = raw_formats.parse_jhuang_annotation(annotation, HOME_CAGE_SIZE["frames_per_video"])
    assert labels.shape == (HOME_CAGE_SIZE["frames_per_video"],)
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
  assert _files(serial) == _files(parallel)
  for name in _files(serial):
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
  assert _files(a) == _files(b) and len(_files(a)) == 3
  for name in _files(a):  # Includes the .mat: its header carries no creation time.
    assert (a / name).read_bytes() == (b / name).read_bytes(), name
