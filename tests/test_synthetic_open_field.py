"""Tests for mouseflax.synthetic.open_field: layout, annotations, look, determinism, motion, CLI."""

import pathlib
import re
import subprocess
import sys

import cv2
import fakes
import numpy as np
import pytest

from mouseflax import raw_formats
from mouseflax import synthetic
from mouseflax import video
from mouseflax.synthetic import open_field

SEED = 2
# Long enough for several bouts of every behaviour (the motion test); small frames (the model sees
# 32x32 anyway).
SIZE = {"num_videos": 2, "frames_per_video": 1800, "width": 160, "height": 120}
SMALL = {"num_videos": 1, "frames_per_video": 96, "width": 160, "height": 120}
BEHAVIORS = {"groom", "micromovement", "rear", "rest", "walk"}
LINE = re.compile(r"^frames: (\d{8})-(\d{8}) ([a-z]+)$")
DARK = 70  # Grey level below which only the mouse lies.
MODEL_SIZE = (32, 32)  # What the model sees: frames resized to 32x32 grey.
FARNEBACK = (None, 0.5, 3, 15, 3, 5, 1.2, 0)
GROOM_TO_MICRO = (0.5, 2.0)  # Grooming's motion is of the order of micromovement's.


def _stem(i: int) -> str:
  return open_field.OPEN_FIELD_STEM.format(i)


@pytest.fixture(scope="module")
def field_dir(tmp_path_factory) -> pathlib.Path:
  root = tmp_path_factory.mktemp("synthetic_open_field")
  return synthetic.ensure_synthetic("open_field", root, seed=SEED, num_workers=1, **SIZE)


def _runs(path: pathlib.Path) -> list[tuple[int, int, str]]:
  runs = []
  for line in path.read_text(encoding="utf-8").splitlines():
    match = LINE.match(line)
    assert match, line
    runs.append((int(match[1]), int(match[2]), match[3]))
  return runs


def _labels(path: pathlib.Path) -> np.ndarray:
  """Per-frame label names from an annotation file."""
  return np.array([label for start, end, label in _runs(path) for _ in range(start, end + 1)])


def test_layout_and_annotations(field_dir):
  n = SIZE["num_videos"]
  expected = {f"{_stem(i)}.mp4" for i in range(1, n + 1)}
  expected |= {f"Annotator_group_1/{_stem(i)}.txt" for i in range(1, n + 1)}
  assert fakes.files_below(field_dir) == expected | {synthetic.MARKER_NAME}
  for i in range(1, n + 1):
    runs = _runs(field_dir / "Annotator_group_1" / f"{_stem(i)}.txt")
    starts, ends, labels = zip(*runs)
    assert starts[0] == 1 and ends[-1] == SIZE["frames_per_video"]
    assert all(s == e + 1 for s, e in zip(starts[1:], ends[:-1]))  # Contiguous, inclusive ends.
    assert all(s <= e for s, e in zip(starts, ends))
    assert set(labels) == BEHAVIORS


def test_frames_show_a_dark_mouse_on_a_light_floor(field_dir):
  frames = fakes.decode_bgr(field_dir / f"{_stem(1)}.mp4")
  assert frames.shape == (SIZE["frames_per_video"], SIZE["height"], SIZE["width"], 3)
  x0, y0, x1, y1 = open_field.arena_box(SIZE["width"], SIZE["height"])
  for frame in frames[::150]:
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    assert np.median(gray[int(y0) : int(y1), int(x0) : int(x1)]) > 150  # A light floor.
    count, _, stats, centroids = cv2.connectedComponentsWithStats((gray < DARK).astype(np.uint8))
    assert count > 1  # The mouse.
    blob = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    assert stats[blob, cv2.CC_STAT_AREA] < 0.03 * gray.size  # Small ...
    cx, cy = centroids[blob]
    assert x0 < cx < x1 and y0 < cy < y1  # ... and inside the arena.


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
  a = synthetic.write_open_field(tmp_path / "a", seed=1, **SMALL)
  b = synthetic.write_open_field(tmp_path / "b", seed=1, **SMALL)
  c = synthetic.write_open_field(tmp_path / "c", seed=4, **SMALL)
  annotation = f"Annotator_group_1/{_stem(1)}.txt"
  assert (a / annotation).read_bytes() == (b / annotation).read_bytes()
  assert (a / annotation).read_bytes() != (c / annotation).read_bytes()
  frames = [fakes.decode_bgr(d / f"{_stem(1)}.mp4") for d in (a, b, c)]
  assert np.array_equal(frames[0], frames[1])
  assert not np.array_equal(frames[0], frames[2])


def _flow_by_behavior(field_dir: pathlib.Path) -> dict[str, float]:
  """Mean Farneback flow magnitude at 32x32 per annotated behaviour (of the later frame)."""
  magnitudes: dict[str, list[float]] = {b: [] for b in BEHAVIORS}
  for i in range(1, SIZE["num_videos"] + 1):
    labels = _labels(field_dir / "Annotator_group_1" / f"{_stem(i)}.txt")
    small = [
        cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), MODEL_SIZE, interpolation=cv2.INTER_AREA)
        for f in fakes.decode_bgr(field_dir / f"{_stem(i)}.mp4")
    ]
    for t in range(1, len(small)):
      flow = cv2.calcOpticalFlowFarneback(small[t - 1], small[t], *FARNEBACK)
      magnitudes[labels[t]].append(float(np.linalg.norm(flow, axis=-1).mean()))
  return {b: float(np.mean(m)) for b, m in magnitudes.items()}


def test_motion_per_behavior_as_the_model_sees_it(field_dir):
  flow = _flow_by_behavior(field_dir)
  print("mean flow magnitude at 32x32:", {b: round(m, 4) for b, m in sorted(flow.items())})
  assert min(flow, key=flow.get) == "rest"
  assert max(flow, key=flow.get) == "walk"
  low, high = GROOM_TO_MICRO
  assert low <= flow["groom"] / flow["micromovement"] <= high


def test_cli_writes_videos_the_readers_take(tmp_path):
  out = tmp_path / "cli"
  subprocess.run(
      [
          sys.executable,
          "-m",
          "mouseflax.synthetic",
          "--kind=open_field",
          f"--output_dir={out}",
          "--seed=0",
          "--num_videos=1",
          "--frames_per_video=90",
          "--width=160",
          "--height=120",
      ],
      check=True,
      capture_output=True,
  )
  path = out / f"{_stem(1)}.mp4"
  assert fakes.files_below(out) == {
      path.name,
      f"Annotator_group_1/{_stem(1)}.txt",
      synthetic.MARKER_NAME,
  }
  info = video.probe(path)  # What the own-videos builder reads.
  assert (info.num_frames, info.fps, info.width, info.height) == (90, 30.0, 160, 120)
  [(found, annotation)] = raw_formats.find_jhuang_recordings(out)  # The mouse_behavior reader.
  assert found == path
  labels = raw_formats.parse_jhuang_annotation(annotation, num_frames=90)
  assert {raw_formats.BEHAVIORS[b] for b in labels} == BEHAVIORS
