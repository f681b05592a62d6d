"""Faults of the raw data and of builds (issue 17): wrong raw files, stale records, killed builds.

An annotation past its video's end and a truncated .mpg are errors naming the files (unless a
tolerance allows them); records remember their raw inputs, so an edited, added or removed file is
named (or the records rebuilt on request); a killed build's leftovers are removed by the next build,
which then writes the same records as a clean one. Tiny synthetic home-cage recordings, built for
real.
"""

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import pytest

from data_builders import raw_inputs
from data_builders import video_cache
from data_builders.cuhk_avenue import cuhk_avenue_dataset_builder as avenue
from data_builders.mouse_behavior import mouse_behavior_dataset_builder as mb
from mouseflax import build_data
from mouseflax import fileio
from mouseflax import raw_formats
from mouseflax import synthetic

NUM_VIDEOS = 3
FRAMES = 240  # Parts of 120 frames: some training windows without the held-out behaviour.
SIZE = {"width": 160, "height": 120}
HELD_OUT = "groom"
CONFIG = mb.make_config(HELD_OUT)  # The named config: the command line builds the same.
DATASET = "mouse_behavior"
CUT_FRACTION = 0.3  # Of an .mpg's bytes: about a third of its frames remain.
TIMEOUT_S = 300
POLL_S = 0.01


def write_raw(folder: pathlib.Path) -> pathlib.Path:
  return synthetic.write_home_cage(
      folder, seed=0, num_videos=NUM_VIDEOS, frames_per_video=FRAMES, **SIZE
  )


def build(raw: pathlib.Path, data_dir: pathlib.Path, **kwargs):
  return build_data.build(DATASET, manual_dir=raw, data_dir=data_dir, config=CONFIG, **kwargs)


def records(builder) -> dict[str, bytes]:
  return {p.name: p.read_bytes() for p in sorted(pathlib.Path(builder.data_dir).glob("*.array_*"))}


def annotation(raw: pathlib.Path, stem: str) -> pathlib.Path:
  return raw_formats.jhuang_annotation_path(raw / f"{stem}.mpg")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
  """(raw folder, builder) of one clean build; neither is modified by the tests."""
  raw = write_raw(tmp_path_factory.mktemp("raw"))
  return raw, build(raw, tmp_path_factory.mktemp("data"))


@pytest.fixture
def raw_copy(clean, tmp_path) -> pathlib.Path:
  return pathlib.Path(shutil.copytree(clean[0], tmp_path / "raw"))


# --------------------------------------------------------------------------------------------------
# Raw data errors.


def test_a_run_past_the_video_end_is_an_error_unless_tolerated(raw_copy, tmp_path):
  path = annotation(raw_copy, "synth_cage_02")
  lines = path.read_text().splitlines()
  last = len(lines)
  lines[-1] = lines[-1].replace(f"{FRAMES:08d}", f"{FRAMES + 80:08d}")  # e.g. 95-200 on 120.
  path.write_text("\n".join(lines) + "\n")
  with pytest.raises(raw_formats.RawDataError) as raised:
    build(raw_copy, tmp_path / "data")
  message = str(raised.value)
  assert f"{path}:{last}:" in message and str(raw_copy / "synth_cage_02.mpg") in message
  assert "raw_tolerance_frames" in message
  assert not list((tmp_path / "data").rglob("*.array_record*"))
  builder = build(raw_copy, tmp_path / "data", raw_tolerance_frames=80)  # Allowed: it builds.
  assert builder.info.splits["test"].num_examples > 0


def test_a_truncated_mpg_is_an_error(raw_copy, tmp_path):
  video = raw_copy / "synth_cage_01.mpg"
  fakes.cut_short(video, video, CUT_FRACTION)
  with pytest.raises(raw_formats.RawDataError, match="truncated video") as raised:
    build(raw_copy, tmp_path / "data")
  assert str(video) in str(raised.value)
  assert str(annotation(raw_copy, "synth_cage_01")) in str(raised.value)


def test_avenue_labels_beyond_a_truncated_video_are_an_error(tmp_path):
  mat, video = tmp_path / "1_label.mat", tmp_path / "01.avi"
  with pytest.raises(raw_formats.RawDataError, match=r"01\.avi has 90 decodable frames"):
    raw_formats.check_label_count(mat, 300, 90, video_path=video)
  raw_formats.check_label_count(mat, 300, 298, video_path=video, tolerance_frames=2)
  raw_formats.check_label_count(mat, 300, 310, video_path=video)  # Unlabelled tail: logged.


def test_avenue_builds_fingerprint_their_videos_and_label_files(tmp_path):
  root = synthetic.write_avenue(
      tmp_path / "avenue", seed=0, num_train=1, num_test=1, frames_per_video=50, width=64, height=36
  )
  builder = avenue.Builder(data_dir=os.fspath(tmp_path / "data"))
  entries = raw_inputs.fingerprint(root, *builder.raw_input_files(root))
  assert sorted(entries) == [
      "ground_truth_demo/testing_label_mask/1_label.mat",
      "testing_videos/01.avi",
      "training_videos/01.avi",
  ]
  assert "sha256" in entries["ground_truth_demo/testing_label_mask/1_label.mat"]


# --------------------------------------------------------------------------------------------------
# Records know their inputs.


def test_fingerprints_name_what_changed(tmp_path):
  (tmp_path / "a.mpg").write_bytes(b"0" * 10)
  (tmp_path / "a.txt").write_text("1-5 walk\n")
  before = raw_inputs.fingerprint(tmp_path, [tmp_path / "a.mpg"], [tmp_path / "a.txt"])
  (tmp_path / "a.txt").write_text("1-5 rest\n")
  (tmp_path / "a.mpg").write_bytes(b"0" * 12)
  (tmp_path / "b.mpg").write_bytes(b"")
  after = raw_inputs.fingerprint(tmp_path, [tmp_path / "a.mpg", tmp_path / "b.mpg"])
  changes = raw_inputs.changes(before, after)
  assert changes[0].startswith("a.mpg changed (size 10 -> 12 bytes")
  assert changes[1:] == ["b.mpg added", "a.txt removed"]


def test_an_edited_label_is_noticed_and_rebuilt_on_request(clean, raw_copy, tmp_path):
  _, first = clean
  data_dir = tmp_path / "data"
  shutil.copytree(first.data_dir_root, data_dir)
  assert records(build(raw_copy, data_dir)) == records(first)  # Unchanged inputs: reused.
  edited = annotation(raw_copy, first.info.metadata["test_video"])
  edited.write_text(edited.read_text().replace(" rest", " walk", 1))
  with pytest.raises(build_data.StaleRecordsError, match="--rebuild") as raised:
    build(raw_copy, data_dir)
  assert f"{edited.relative_to(raw_copy)} edited" in str(raised.value)
  rebuilt = build(raw_copy, data_dir, rebuild_stale=True)
  fresh = build(raw_copy, tmp_path / "fresh")
  assert records(rebuilt) == records(fresh) != records(first)


def test_added_and_removed_recordings_are_named(clean, raw_copy):
  _, first = clean
  for suffix in (".mpg", ".txt"):
    source = (
        raw_copy / "synth_cage_03.mpg"
        if suffix == ".mpg"
        else annotation(raw_copy, "synth_cage_03")
    )
    shutil.copy2(source, source.with_name(f"synth_cage_04{suffix}"))
  (raw_copy / "synth_cage_01.mpg").unlink()
  annotation(raw_copy, "synth_cage_01").unlink()
  reasons = build_data.stale_reasons(first, raw_copy)
  assert any("synth_cage_04.mpg added" in r for r in reasons), reasons
  assert any("Annotator_group_1/synth_cage_04.txt added" in r for r in reasons), reasons
  assert any("synth_cage_01.mpg removed" in r for r in reasons), reasons


# --------------------------------------------------------------------------------------------------
# Killed builds.


def dead_pid() -> int:
  proc = subprocess.run(
      [sys.executable, "-c", "import os; print(os.getpid())"],
      capture_output=True,
      text=True,
      check=True,
  )
  return int(proc.stdout)


def test_leftovers_of_killed_builds_are_removed(clean, tmp_path):
  raw, first = clean
  data_dir = pathlib.Path(shutil.copytree(first.data_dir_root, tmp_path / "data"))
  config_dir = pathlib.Path(first.data_dir).parent.relative_to(first.data_dir_root)
  incomplete = data_dir / config_dir / f"incomplete.ABC123_{mb.Builder.VERSION}"
  host = socket.gethostname()
  dead = data_dir / f"{video_cache.CACHE_PREFIX}{host}-{dead_pid()}-xyz"
  live = data_dir / f"{video_cache.CACHE_PREFIX}{fileio.process_tag()}-abc"
  elsewhere = data_dir / f"{video_cache.CACHE_PREFIX}otherhost-1-abc"
  for folder in (incomplete, dead, live, elsewhere):
    folder.mkdir(parents=True)
    (folder / "part").write_bytes(b"x")
  build(raw, data_dir)
  assert not incomplete.exists() and not dead.exists()
  assert live.exists() and elsewhere.exists()  # A live build's, and one this host cannot check.


def test_a_second_build_waits_for_the_first(tmp_path):
  import fcntl  # pylint: disable=g-import-not-at-top

  (tmp_path / build_data.LOCK_NAME).touch()
  held = open(tmp_path / build_data.LOCK_NAME, "a")  # pylint: disable=consider-using-with
  fcntl.flock(held, fcntl.LOCK_EX)
  entered = threading.Event()

  def second():
    with build_data.build_lock(tmp_path):
      entered.set()

  thread = threading.Thread(target=second, daemon=True)
  thread.start()
  assert not entered.wait(0.5)  # Waits while the first build holds the lock...
  held.close()
  assert entered.wait(10)  # ...and goes on once it ends (a killed process ends it too).
  thread.join()


def test_kill_9_mid_preprocessing_then_a_rerun_builds_the_same_records(clean, tmp_path):
  raw, first = clean
  data_dir = tmp_path / "data"
  command = [
      sys.executable,
      "-m",
      "mouseflax.build_data",
      f"--dataset={DATASET}/{HELD_OUT}",
      f"--manual_dir={raw}",
      f"--data_dir={data_dir}",
      "--num_workers=1",
  ]
  proc = subprocess.Popen(
      command, cwd=fakes.REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
  )
  deadline = time.monotonic() + TIMEOUT_S
  while not list(data_dir.glob(f"{video_cache.CACHE_PREFIX}*/*{video_cache.GRAY_SUFFIX}")):
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    assert time.monotonic() < deadline, "the build never reached its preprocessing"
    time.sleep(POLL_S)
  proc.send_signal(signal.SIGKILL)  # Mid-preprocessing: one video's arrays are written.
  proc.wait()
  proc.stderr.close()
  assert list(data_dir.glob(f"{video_cache.CACHE_PREFIX}*"))  # The killed build's leftovers.
  rebuilt = build(raw, data_dir)
  assert not list(data_dir.glob(f"{video_cache.CACHE_PREFIX}*"))
  assert not list(data_dir.rglob("incomplete.*"))
  assert records(rebuilt) == records(first)
  assert dict(rebuilt.info.metadata) == dict(first.info.metadata)
