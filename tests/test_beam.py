"""Apache Beam (the optional extra `.[beam]`): records and scores equal the single-machine ones.

DirectRunner with 2 worker processes, as a cluster runner would spread the chunks; skipped where
apache-beam is not installed (CI installs it).
"""

import csv
import pathlib

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np
import pytest

from data_builders.own_videos import own_videos_dataset_builder as own
from mouseflax import beam_runner
from mouseflax import build_data
from mouseflax import score
from mouseflax import streams

pytest.importorskip("apache_beam")

T = streams.SEQUENCE_LENGTH
TWO_WORKERS = beam_runner.BeamSpec(
    "DirectRunner", "--direct_num_workers=2 --direct_running_mode=multi_processing"
)


def test_beam_built_records_equal_the_single_machine_build(tmp_path):
  videos = tmp_path / "videos"
  videos.mkdir()
  fakes.write_scene(videos / "day1.mp4", 150)
  fakes.write_scene(videos / "day2.avi", 90, phase=77)
  config = own.make_config(videos)
  local = build_data.build(
      "own_videos", manual_dir=videos, data_dir=tmp_path / "local", config=config, chunk_frames=0
  )
  on_beam = build_data.build(
      "own_videos",
      manual_dir=videos,
      data_dir=tmp_path / "beam",
      config=config,
      chunk_frames=40,  # Several chunks per video, spread over both workers.
      beam=TWO_WORKERS,
  )
  local_files = sorted(pathlib.Path(local.data_dir).glob("*.array_record*"))
  beam_files = sorted(pathlib.Path(on_beam.data_dir).glob("*.array_record*"))
  assert [p.name for p in local_files] == [p.name for p in beam_files] and local_files
  for a, b in zip(local_files, beam_files, strict=True):
    assert a.read_bytes() == b.read_bytes(), a.name
  for split in local.info.splits:
    expected, got = local.as_data_source(split), on_beam.as_data_source(split)
    assert len(expected) == len(got) > 0
    for i in range(len(expected)):
      for key, value in expected[i].items():
        np.testing.assert_array_equal(got[i][key], value, err_msg=f"{split}[{i}].{key}")


def test_beam_scores_equal_one_process_and_a_corrupt_file_does_not_stop_the_rest(tmp_path):
  workdir = fakes.make_workdir(tmp_path / "run")
  run = score.load_run(workdir)
  (tmp_path / "videos" / "day2").mkdir(parents=True)
  long_video = fakes.write_disc_clip(
      tmp_path / "videos" / "long.mp4", 61
  )  # Four chunks of 2 windows.
  short_video = fakes.write_disc_clip(tmp_path / "videos" / "day2" / "short.avi", 13)
  corrupt = tmp_path / "videos" / "corrupt.mp4"
  corrupt.write_bytes(long_video.read_bytes()[:2000])
  out = tmp_path / "out"
  status = score.run_cli(
      str(workdir),
      [f"{tmp_path / 'videos'}/**/*"],
      str(out),
      review=False,
      chunk_frames=2 * T,
      beam=TWO_WORKERS,
  )
  assert status == score.EXIT_SOME_FAILED
  for path in (long_video, short_video):
    expected = score.score_video(run, path, progress=False, chunk_frames=0)
    with (out / f"{path.stem}{score.SCORES_SUFFIX}").open(newline="") as f:
      got = np.array([float(row["score"]) for row in csv.DictReader(f)])
    np.testing.assert_allclose(got, expected.score, rtol=1e-6)
  with (out / score.SUMMARY_FILE).open(newline="") as f:
    rows = {pathlib.Path(row["video"]).name: row for row in csv.DictReader(f)}
  assert rows["long.mp4"]["frames"] == "61" and not rows["long.mp4"]["error"]
  assert rows["short.avi"]["frames"] == "13"
  assert "corrupt.mp4" in rows["corrupt.mp4"]["error"] and not rows["corrupt.mp4"]["frames"]
  assert not [p for p in out.iterdir() if p.name.startswith(".")]  # No temporary file left.
