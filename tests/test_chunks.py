"""Chunks (mouseflax.chunks): a video in pieces gives the whole's arrays and scores, on processes.

Beam's runs of the same pieces are in tests/test_beam.py.
"""

import sys

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np
import pytest

from data_builders import video_cache
from mouseflax import beam_runner
from mouseflax import chunks
from mouseflax import preprocess
from mouseflax import score
from mouseflax import streams
from mouseflax import video

T = streams.SEQUENCE_LENGTH
TEXTURE_HW = (48, 64)


def test_plan_covers_the_video_with_an_open_ended_last_chunk():
  assert chunks.plan(100, 30) == [
      chunks.Chunk(0, 0, 30),
      chunks.Chunk(1, 30, 60),
      chunks.Chunk(2, 60, 90),
      chunks.Chunk(3, 90, None),  # The count may be a short estimate: decode to the end.
  ]
  assert chunks.plan(100, 30, start=10, stop=70) == [
      chunks.Chunk(0, 10, 40),
      chunks.Chunk(1, 40, 70),
  ]
  assert chunks.plan(100, 0) == chunks.plan(20, 30) == [chunks.Chunk(0, 0, None)]
  with pytest.raises(ValueError, match="multiple of 8"):
    chunks.plan(100, 12, multiple=T)


def test_chunk_counts_end_the_video_once():
  planned = chunks.plan(100, 30)
  assert chunks.check_chunk_counts(planned, [30, 30, 30, 10], "v") == 100
  assert chunks.check_chunk_counts(planned, [30, 12, 0, 0], "v") == 42  # Ended in chunk 1.
  with pytest.raises(ValueError, match="chunk 2 .* after an earlier chunk ended"):
    chunks.check_chunk_counts(planned, [30, 12, 5, 0], "v")


def test_seeks_are_exact_in_every_container(tmp_path):
  """MPEG program streams seek a frame early on some targets: they now skip from the start."""
  frames = fakes.rolling_texture(60, *TEXTURE_HW)
  for name, fourcc in (("a.mpg", "PIM1"), ("b.mp4", "mp4v"), ("c.avi", "MJPG")):
    path = fakes.write_video(tmp_path / name, frames, fourcc)
    whole = list(video.iter_gray_frames(path))
    for start in range(1, len(whole)):
      first = next(iter(video.iter_gray_frames(path, start, start + 1)))
      np.testing.assert_array_equal(first, whole[start], err_msg=f"{name} at {start}")
  assert not video.has_frame_index(tmp_path / "a.mpg")
  assert len(chunks.plan_video(tmp_path / "a.mpg", 16)) == 1  # No index: one chunk.
  assert len(chunks.plan_video(tmp_path / "b.mp4", 16)) == 4


@pytest.mark.parametrize("num_workers", [1, 2])
def test_a_video_in_three_chunks_gives_the_unsplit_arrays(tmp_path, num_workers):
  path = fakes.write_video(tmp_path / "cage.mp4", fakes.rolling_texture(130, *TEXTURE_HW), "mp4v")
  job = video_cache.VideoJob("cage", str(path))
  assert len(video_cache.chunk_jobs(job, 50)) == 3
  cfg = preprocess.PreprocessConfig().to_dict()
  whole = video_cache.preprocess_videos([job], cfg, cache_dir=tmp_path / "a", chunk_frames=0)
  parts = video_cache.preprocess_videos(
      [job], cfg, cache_dir=tmp_path / "b", chunk_frames=50, num_workers=num_workers
  )
  for a, b in zip(whole["cage"], parts["cage"], strict=True):
    np.testing.assert_array_equal(a, b)
  assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
      "cage" + video_cache.FLOW_SUFFIX,
      "cage" + video_cache.GRAY_SUFFIX,
  ]  # The chunks' arrays are gone.


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  return score.load_run(fakes.make_workdir(tmp_path_factory.mktemp("chunks") / "run"))


@pytest.mark.parametrize("num_frames", [61, 64])  # The last window aligned to the end, or not.
def test_chunked_scores_equal_one_pass(run, tmp_path, num_frames):
  path = fakes.write_disc_clip(tmp_path / "clip.mp4", num_frames)
  errors_fn = score.make_window_errors_fn(run)
  whole = score.score_video(run, path, errors_fn=errors_fn, progress=False, chunk_frames=0)
  parts = score.score_video(run, path, errors_fn=errors_fn, progress=False, chunk_frames=2 * T)
  np.testing.assert_array_equal(parts.score, whole.score)
  # The container's count as an overestimate: chunks past the end are empty, the scores the same.
  planned = chunks.plan(num_frames + 5 * T, 2 * T, multiple=T)
  pieces = [score.score_chunk(run, path, c, errors_fn=errors_fn) for c in planned]
  assert [p.num_frames for p in pieces][-2:] == [0, 0]
  rebuilt = score.assemble_scores(path, whole.fps, pieces[::-1], score.ScoreRule.of(run))
  np.testing.assert_array_equal(rebuilt.score, whole.score)


def test_workers_score_like_one_process_and_a_corrupt_file_fails_alone(run, tmp_path):
  good = fakes.write_disc_clip(tmp_path / "clip.mp4", 61)
  corrupt = tmp_path / "corrupt.mp4"
  corrupt.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
  missing = tmp_path / "missing.mp4"
  threshold = score.resolve_threshold(run, None, None, None)
  results = score.score_videos(
      run,
      [corrupt, good, missing],
      tmp_path / "out",
      threshold,
      progress=False,
      num_workers=2,
      chunk_frames=2 * T,
  )
  assert list(results) == [str(corrupt), str(good), str(missing)]
  assert isinstance(results[str(corrupt)], video.VideoError)
  assert isinstance(results[str(missing)], video.VideoNotFoundError)
  expected = score.score_video(run, good, progress=False, chunk_frames=0)
  np.testing.assert_array_equal(results[str(good)].scores.score, expected.score)
  rows = score.summary_rows(results, threshold)
  assert [r["video"] for r in rows if not r["error"]] == [str(good)]
  assert rows[1]["frames"] == "61" and "missing.mp4" in rows[2]["error"]


def test_video_globs_expand_and_a_pattern_without_videos_is_named(tmp_path):
  (tmp_path / "day1").mkdir()
  a = fakes.write_disc_clip(tmp_path / "day1" / "a.mp4", T)
  b = fakes.write_disc_clip(tmp_path / "b.avi", T)
  (tmp_path / "notes.txt").write_text("not a video")
  assert score.expand_videos([f"{tmp_path}/**/*"]) == [str(b), str(a)]
  assert score.expand_videos([str(a)]) == [str(a)]  # A plain path stays as given.
  with pytest.raises(ValueError, match=r"\*\.mkv.* matches no video"):
    score.expand_videos([f"{tmp_path}/*.mkv"])


def test_a_beam_runner_without_beam_names_the_extra(monkeypatch):
  monkeypatch.setitem(sys.modules, "apache_beam", None)  # Import fails as if not installed.
  with pytest.raises(beam_runner.BeamNotInstalledError, match=r"pip install -e '\.\[beam\]'"):
    beam_runner.spec_or_none("DirectRunner")
  assert beam_runner.spec_or_none(None) is None
  with pytest.raises(ValueError, match="without --beam_runner"):
    beam_runner.spec_or_none(None, "--direct_num_workers=2")


def test_chunk_frames_must_hold_whole_windows():
  with pytest.raises(ValueError, match="--chunk_frames=12"):
    chunks.check_chunk_frames(12, T, "--chunk_frames")
