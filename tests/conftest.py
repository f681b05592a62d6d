"""Shared pytest fixtures: where the optional shared data lives, skipping cleanly without it."""

import pathlib
import types

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
# Developers and CI have `shared/` beside the clone; a user's clone does not.
SHARED_DIR = REPO_ROOT.parent / "shared"
REAL_VIDEO = SHARED_DIR / "data" / "real" / "openfield_mouse_m3v1.mp4"


@pytest.fixture
def real_video() -> pathlib.Path:
  """The real 640x480 open-field recording, or a skip when ../shared is absent."""
  if not REAL_VIDEO.is_file():
    pytest.skip(f"real recording not found at {REAL_VIDEO} (only developers and CI have ../shared)")
  return REAL_VIDEO


# The anomalous clip of `trained_scene`: frames of the scene from this phase, a flashing square in
# test_own_videos.ANOMALY.
SCENE_CLIP_PHASE = 33
SCENE_CLIP_FRAMES = 150


@pytest.fixture(scope="session")
def trained_scene(tmp_path_factory) -> types.SimpleNamespace:
  """A tiny CAE trained on two normal clips of a synthetic cage (test_own_videos' recipe), and a
  third clip of the same scene with an injected anomaly (a flashing square).

  Returns workdir (the trained run), clip (the anomalous clip), phase, num_frames and anomaly
  (its [start, stop) frames). Trained once per test session (~12 s on 2 cores); shared by the
  tests of the review page and of the monitor.
  """
  import test_own_videos as scene  # pylint: disable=g-import-not-at-top  # tests/ is on sys.path.

  from mouseflax import train  # pylint: disable=g-import-not-at-top  # Heavy; only when used.

  root = tmp_path_factory.mktemp("scene")
  videos = root / "videos"
  videos.mkdir()
  scene.write_scene(videos / "day1.mp4", 200)
  scene.write_scene(videos / "day2.avi", 200, phase=77)
  train.train_and_evaluate(scene.own_config(videos, root / "data"), root / "run")
  clip = scene.write_scene(
      root / "clip.mp4", SCENE_CLIP_FRAMES, phase=SCENE_CLIP_PHASE, anomaly=scene.ANOMALY
  )
  return types.SimpleNamespace(
      workdir=root / "run",
      clip=clip,
      phase=SCENE_CLIP_PHASE,
      num_frames=SCENE_CLIP_FRAMES,
      anomaly=scene.ANOMALY,
  )
