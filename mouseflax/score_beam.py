"""Scoring many recordings on Apache Beam (`python -m mouseflax.score ... --beam_runner=R`).

The pipeline, one element per video chunk (`mouseflax.chunks`):

  videos -> plan chunks -> spread over workers -> score chunk (the model loaded once per worker)
         -> group by video -> assemble scores, write the video's files -> summary.csv

Per-frame scores equal the single-process scorer's: chunks are cut on window boundaries and decode
the window before their start (`score.score_chunk`), and the window errors are summed per frame in
frame order (`score.assemble_scores`). Every file is written through a temporary name
(`fileio.atomic_path`), so a killed worker leaves nothing half-written; a video that fails (corrupt
file, too short) gets an `error` in summary.csv and the others finish. The driver resolves the
threshold and passes it, with the run's score rule, to the workers; the workers read the run from
its workdir, so on a cluster the workdir, the videos and the output folder must be on storage every
worker mounts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import csv
import pathlib
from typing import Any

from mouseflax import beam_runner
from mouseflax import checkpointing
from mouseflax import chunks
from mouseflax import score
from mouseflax import streams
from mouseflax import video

# Runners pickle the DoFn (`score_on_beam` mixes `_ScoreChunks` into a beam.DoFn): it holds only
# the workdir and the batch size until `setup` loads the run on the worker, once per worker.


def _plan(item: tuple[str, str], chunk_frames: int) -> Iterator[tuple[str, Any]]:
  """(stem, path) -> (stem, (path, chunk)) per chunk; (stem, (path, error)) when unreadable."""
  stem, path = item
  try:
    planned = score.video_chunks(path, chunk_frames)
  except score.VIDEO_ERRORS as e:
    yield stem, (path, _error_text(path, e))
    return
  for chunk in planned:
    yield stem, (path, chunk)


def _error_text(path: str, error: BaseException) -> str:
  text = str(error)
  return text if path in text else f"{path}: {text}"


class _ScoreChunks:
  """DoFn body: loads the run once per worker (`setup`), then scores one chunk per element."""

  def __init__(self, workdir: str, batch_size: int | None):
    self._workdir, self._batch_size = workdir, batch_size
    self._run = self._errors_fn = None

  def setup(self) -> None:
    checkpointing.quiet_orbax_info_logs()
    self._run = score.load_run(self._workdir)
    self._errors_fn = score.make_window_errors_fn(self._run)

  def process(self, element: tuple[str, Any]) -> Iterator[tuple[str, Any]]:
    stem, (path, chunk) = element
    if isinstance(chunk, str):  # Planning failed: pass the error on.
      yield stem, (path, chunk)
      return
    try:
      result = score.score_chunk(
          self._run, path, chunk, batch_size=self._batch_size, errors_fn=self._errors_fn
      )
    except score.VIDEO_ERRORS as e:
      result = _error_text(path, e)
    yield stem, (path, result)


def _finish(
    element: tuple[str, Sequence[tuple[str, Any]]],
    output_dir: str,
    threshold: score.Threshold,
    rule: score.ScoreRule,
    annotated_video: bool,
) -> dict[str, str]:
  """(stem, its chunks' results) -> writes the video's files; its summary.csv row."""
  stem, results = element
  path = results[0][0]
  failures = [r for _, r in results if isinstance(r, str)]
  if failures:
    return score.summary_row(path, None, threshold, failures[0])
  try:
    scores = score.assemble_scores(path, video.quick_probe(path).fps, [r for _, r in results], rule)
    score.write_outputs(scores, threshold, pathlib.Path(output_dir), stem, annotated_video)
  except score.VIDEO_ERRORS as e:
    return score.summary_row(path, None, threshold, _error_text(path, e))
  return score.summary_row(path, scores, threshold)


def score_on_beam(
    spec: beam_runner.BeamSpec,
    run: score.ScoringRun,
    videos: Sequence[str],
    output_dir: pathlib.Path,
    threshold: score.Threshold,
    *,
    batch_size: int | None = None,
    annotated_video: bool = False,
    chunk_frames: int = chunks.DEFAULT_CHUNK_FRAMES,
) -> list[dict[str, str]]:
  """Scores `videos` on Beam, writes every video's files and summary.csv; returns its rows."""
  beam = beam_runner.require()
  chunks.check_chunk_frames(chunk_frames, streams.SEQUENCE_LENGTH, "chunk_frames")
  items = list(zip(score.output_stems(videos), map(str, videos)))

  class ScoreChunks(_ScoreChunks, beam.DoFn):
    pass

  with beam_runner.pipeline(spec) as p:
    _ = (
        p
        | "videos" >> beam.Create(items)
        | "plan chunks" >> beam.FlatMap(_plan, chunk_frames)
        | "spread" >> beam.Reshuffle()
        | "score chunks" >> beam.ParDo(ScoreChunks(str(run.workdir), batch_size))
        | "by video" >> beam.GroupByKey()
        | "write videos"
        >> beam.Map(_finish, str(output_dir), threshold, score.ScoreRule.of(run), annotated_video)
        | "all rows" >> beam.combiners.ToList()
        | "summary" >> beam.Map(_write_summary, str(output_dir))
    )
  return read_summary(output_dir)


def _write_summary(rows: list[dict[str, str]], output_dir: str) -> None:
  score.write_summary_csv(pathlib.Path(output_dir), rows)


def read_summary(output_dir: pathlib.Path) -> list[dict[str, str]]:
  """The rows of `output_dir`/summary.csv."""
  with (pathlib.Path(output_dir) / score.SUMMARY_FILE).open(newline="", encoding="utf-8") as f:
    return list(csv.DictReader(f))


def describe(rows: Sequence[dict[str, str]], threshold: score.Threshold, output_dir) -> str:
  """What a Beam scoring run did, one line per video (as `score.summary` on one machine)."""
  lines = [f"threshold {threshold.value:.6g} ({threshold.source})"]
  for row in rows:
    if row["error"]:
      lines.append(f"FAILED {row['video']}: {row['error']}")
    else:
      lines.append(
          f"ok {row['video']}: {row['frames']} frames, {row['flagged_frames']} flagged, "
          f"{row['segments']} events"
      )
  failed = sum(bool(row["error"]) for row in rows)
  lines.append(
      f"{len(rows) - failed} of {len(rows)} videos scored, {failed} failed; "
      f"{pathlib.Path(output_dir) / score.SUMMARY_FILE}."
  )
  return "\n".join(lines)
