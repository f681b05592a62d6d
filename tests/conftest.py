"""Shared pytest fixtures: where the optional shared data lives, skipping cleanly without it."""

import pathlib

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
