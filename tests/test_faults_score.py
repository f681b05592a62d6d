"""Faults of `python -m mouseflax.score` (issue 17): nothing hangs, bad flags are refused.

The acceptance case runs the real command line on [good, mid-decode-failing, good] with a timeout:
a video that probes fine and fails part-way through decoding (the first 30% of the bytes of an
MJPG .avi) used to hang the whole call.
"""

import os
import pathlib
import stat
import subprocess

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import pytest

from mouseflax import score
from mouseflax import video

FRAMES = 100
FRAME_HW = (120, 160)
CUT_FRACTION = 0.3  # Of the bytes: about 30 of 100 frames decode.
THRESHOLD = 0.05
EVAL_BATCH = 4
TIMEOUT_S = 300  # Far above the few seconds of the call, far below a hang.
ORDINARY_MODE = 0o644  # A new file under umask 022.


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> pathlib.Path:
  return fakes.untrained_run(tmp_path_factory.mktemp("score") / "run", THRESHOLD, EVAL_BATCH)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, pathlib.Path]:
  folder = tmp_path_factory.mktemp("videos")
  good = fakes.write_video(folder / "good.avi", fakes.rolling_texture(FRAMES, *FRAME_HW), "MJPG")
  other = fakes.write_video(
      folder / "other.avi", fakes.rolling_texture(FRAMES, *FRAME_HW, seed=1), "MJPG"
  )
  bad = fakes.cut_short(good, folder / "bad.avi", CUT_FRACTION)
  return {"good": good, "bad": bad, "other": other}


def run_score(run_dir: pathlib.Path, out: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
  return fakes.run_module(
      "mouseflax.score",
      f"--workdir={run_dir}",
      f"--output_dir={out}",
      "--noprogress",
      *args,
      timeout_s=TIMEOUT_S,
  )


def test_the_cut_video_probes_fine_and_fails_mid_decode(videos):
  assert video.probe(videos["bad"]).num_frames == FRAMES  # The container still claims them all.
  decoded = 0
  with pytest.raises(video.VideoError, match="truncated or corrupt"):
    for _ in video.iter_gray_frames(videos["bad"]):
      decoded += 1
  assert 0 < decoded < FRAMES * (CUT_FRACTION + 0.1)


def test_a_mid_decode_failure_fails_alone_and_the_call_ends(run_dir, videos, tmp_path):
  out = tmp_path / "out"
  umask = os.umask(0o022)
  os.umask(umask)
  order = [videos["good"], videos["bad"], videos["other"]]
  proc = run_score(run_dir, out, *(f"--video={v}" for v in order))
  assert proc.returncode == score.EXIT_SOME_FAILED, proc.stderr[-3000:]
  failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
  assert len(failed) == 1 and str(videos["bad"]) in failed[0], proc.stdout
  assert "truncated or corrupt" in failed[0]
  assert "2 of 3 videos scored, 1 failed." in proc.stdout
  for stem in ("good", "other"):
    for suffix in (score.SCORES_SUFFIX, score.SEGMENTS_SUFFIX, score.TIMELINE_SUFFIX):
      path = out / f"{stem}{suffix}"
      assert path.is_file(), path
      # Ordinary permissions, like every other output (not mkstemp's 0600).
      assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
  assert not list(out.glob("bad*")) and not list(out.glob(".*"))


@pytest.mark.parametrize(
    "threshold, rate, message",
    [
        (float("nan"), None, r"--threshold=nan: must be a finite number"),
        (float("inf"), None, r"--threshold=inf: must be a finite number"),
        (0.1, 0.05, r"--threshold=0.1 and --false_alarm_rate=0.05 .*pass one of them"),
        (None, 1.5, r"--false_alarm_rate=1.5: must be a share of frames in \(0, 1\)"),
    ],
)
def test_bad_threshold_flags_are_refused_before_any_work(
    run_dir, videos, tmp_path, capsys, threshold, rate, message
):
  with pytest.raises(ValueError, match=message):
    score.check_threshold_flags(threshold, rate)
  out = tmp_path / "out"
  status = score.run_cli(
      str(run_dir),
      [str(videos["good"])],
      str(out),
      threshold=threshold,
      false_alarm_rate=rate,
      progress=False,
  )
  assert status == score.EXIT_NO_RUN
  assert "error: --" in capsys.readouterr().err
  assert not out.exists()  # Refused before the output folder is made.


def test_a_folder_named_like_a_video_is_reported_as_a_folder(tmp_path):
  folder = tmp_path / "dir.mp4"
  folder.mkdir()
  with pytest.raises(video.VideoError, match="is a folder, not a video file") as raised:
    video.probe(folder)
  assert not isinstance(raised.value, FileNotFoundError)
  with pytest.raises(video.VideoNotFoundError, match="not found"):
    video.probe(tmp_path / "missing.mp4")
