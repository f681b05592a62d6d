"""Shared pytest fixtures: the optional real recording, a persistent XLA cache, fake records.

Plain helpers (videos, random records, the fake dataset) are in fakes.py.
"""

import os
import pathlib
import types

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import jax
import pytest

from mouseflax import input_pipeline

# Developers and CI have `shared/` beside the clone; a user's clone does not.
SHARED_DIR = fakes.REPO.parent / "shared"
REAL_VIDEO = SHARED_DIR / "data" / "real" / "openfield_mouse_m3v1.mp4"
CACHE_ENV = "JAX_COMPILATION_CACHE_DIR"
CACHE_SETTINGS = {
    "jax_compilation_cache_dir": None,
    "jax_persistent_cache_min_compile_time_secs": 0.0,
    "jax_persistent_cache_min_entry_size_bytes": 0,
}


@pytest.fixture
def real_video() -> pathlib.Path:
  """The real 640x480 open-field recording, or a skip when ../shared is absent."""
  if not REAL_VIDEO.is_file():
    pytest.skip(f"real recording not found at {REAL_VIDEO} (only developers and CI have ../shared)")
  return REAL_VIDEO


@pytest.fixture(scope="module")
def compilation_cache(tmp_path_factory):
  """A persistent XLA cache for one module whose runs compile the same tiny programs again.

  Subprocesses started meanwhile inherit it through $JAX_COMPILATION_CACHE_DIR.
  """
  path = str(tmp_path_factory.mktemp("xla_cache"))
  saved = {k: getattr(jax.config, k) for k in CACHE_SETTINGS}
  for key, value in {**CACHE_SETTINGS, "jax_compilation_cache_dir": path}.items():
    jax.config.update(key, value)
  os.environ[CACHE_ENV] = path
  yield path
  del os.environ[CACHE_ENV]
  for key, value in saved.items():
    jax.config.update(key, value)


@pytest.fixture
def fake_data(monkeypatch):
  """`input_pipeline.prepare` returns a `fakes.FakeHandle` (random records, no build)."""
  monkeypatch.setattr(input_pipeline, "prepare", lambda data_config, seed=0: fakes.FakeHandle())


# The anomalous clip of `trained_scene`: frames of the scene from this phase, a flashing square in
# fakes.SCENE_ANOMALY.
SCENE_CLIP_PHASE = 33
SCENE_CLIP_FRAMES = 150


@pytest.fixture(scope="session")
def trained_scene(tmp_path_factory) -> types.SimpleNamespace:
  """A tiny CAE trained on two normal clips of a synthetic cage (fakes.write_scene), and a
  third clip of the same scene with an injected anomaly (a flashing square).

  Returns workdir (the trained run), clip (the anomalous clip), phase, num_frames and anomaly
  (its [start, stop) frames). Trained once per test session (~12 s on 2 cores); shared by the
  tests of the review page and of the monitor.
  """
  from mouseflax import train  # pylint: disable=g-import-not-at-top  # Heavy; only when used.

  root = tmp_path_factory.mktemp("scene")
  videos = root / "videos"
  videos.mkdir()
  fakes.write_scene(videos / "day1.mp4", 200)
  fakes.write_scene(videos / "day2.avi", 200, phase=77)
  config = fakes.own_config(videos, root / "data")
  # Plain runs of flagged frames: each flash of the square is its own event, so the review page has
  # several segments to rank and the heat map several peaks to check. The monitor's test of the
  # default rule sets it on its own threshold.
  config.eval.event_merge_gap_s = config.eval.event_min_duration_s = 0.0
  train.train_and_evaluate(config, root / "run")
  clip = fakes.write_scene(
      root / "clip.mp4", SCENE_CLIP_FRAMES, phase=SCENE_CLIP_PHASE, anomaly=fakes.SCENE_ANOMALY
  )
  return types.SimpleNamespace(
      workdir=root / "run",
      clip=clip,
      phase=SCENE_CLIP_PHASE,
      num_frames=SCENE_CLIP_FRAMES,
      anomaly=fakes.SCENE_ANOMALY,
  )
