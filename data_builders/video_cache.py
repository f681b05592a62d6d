"""Videos preprocessed in parallel chunks into a cache of `.npy` arrays, in constant memory.

Every video builder runs `preprocess_videos` once per build: each video is cut into chunks
(`mouseflax.chunks`, `chunk_frames`), each chunk streams through
`mouseflax.preprocess.preprocess_video` into two arrays on disk (gray uint8, flow
`streams.FLOW_DTYPE`) in a worker process or on Apache Beam workers (`mouseflax.beam_runner`), and
the chunks are joined, disk to disk, into one pair of arrays per video, equal to one pass over the
whole video. The builder then reads them memory-mapped to cut its sequences. A progress line is
logged per chunk. No TFDS import: the trainer and the build CLI import this module cheaply.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import dataclasses
import multiprocessing
import os
import pathlib
import shutil
import time
from typing import Any

from absl import logging
import numpy as np

import data_builders
from mouseflax import beam_runner
from mouseflax import chunks
from mouseflax import fileio
from mouseflax import preprocess
from mouseflax import streams
from mouseflax import video

# A build's cache folder beside the records: `.preprocess-<host>-<pid>-<random>` (the owner's
# `fileio.process_tag()`, so the next build can remove the cache of a killed one).
CACHE_PREFIX = ".preprocess-"
GRAY_SUFFIX = ".gray.npy"
FLOW_SUFFIX = ".flow.npy"
# Frames buffered per array before a write to disk while preprocessing a video (~4 MB for gray +
# float16 flow at 24x32): bounds a worker's memory whatever the video's length.
WRITE_CHUNK_FRAMES = 1024
COPY_BUFFER_BYTES = 2**20  # Buffer of the raw -> .npy copy at the end of a video.
RAW_SUFFIX = ".raw.tmp"
# A chunk's arrays are named `<video name>.chunk<k>` (k zero-padded) until `_assemble` joins them.
CHUNK_INFIX = ".chunk"
CHUNK_DIGITS = 5  # The frames of an array being written, before its header is known.


@dataclasses.dataclass(frozen=True)
class VideoJob:
  """One video to preprocess: frames [start, stop) of `path`, stored under `name`."""

  name: str
  path: str
  start: int = 0
  stop: int | None = None


class _NpyStreamWriter:
  """Writes a .npy array of frames appended one at a time, in constant memory.

  Frames collect in a preallocated buffer of `WRITE_CHUNK_FRAMES` that is flushed to a raw file; the
  frame count is known only at the end (decoding reads to the end of the stream), so `close()` then
  writes the .npy header and copies the raw bytes behind it (disk I/O, no memory) through
  `fileio.atomic_path`. Nothing with the final name exists before that.
  """

  def __init__(self, path: pathlib.Path, dtype: np.dtype):
    self.path, self.dtype, self.count = path, np.dtype(dtype), 0
    self._raw_path = path.with_name(path.name + RAW_SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)  # Names may hold a folder ('testing_videos/01').
    self._raw = open(self._raw_path, "wb")  # pylint: disable=consider-using-with  # Closed in close().
    self._buffer: np.ndarray | None = None
    self._filled = 0

  def append(self, frame: np.ndarray) -> None:
    if self._buffer is None:
      self._buffer = np.empty((WRITE_CHUNK_FRAMES, *frame.shape), self.dtype)
    self._buffer[self._filled] = frame  # Casts (flow float32 -> float16) in place.
    self._filled += 1
    self.count += 1
    if self._filled == len(self._buffer):
      self._flush()

  def _flush(self) -> None:
    self._raw.write(self._buffer[: self._filled].data)  # A contiguous view: no copy.
    self._filled = 0

  def close(self) -> None:
    """Writes `path` (header + frames) atomically; call only after at least one frame."""
    self._flush()
    self._raw.close()
    header = {
        "descr": np.lib.format.dtype_to_descr(self.dtype),
        "fortran_order": False,
        "shape": (self.count, *self._buffer.shape[1:]),
    }
    with fileio.atomic_path(self.path) as tmp:
      with open(tmp, "wb") as out, open(self._raw_path, "rb") as raw:
        np.lib.format.write_array_header_1_0(out, header)
        shutil.copyfileobj(raw, out, COPY_BUFFER_BYTES)
    self.discard()

  def discard(self) -> None:
    """Removes the temporary raw file (after close, or on failure)."""
    self._raw.close()
    self._raw_path.unlink(missing_ok=True)


def _preprocess_job(args: tuple[VideoJob, dict[str, Any], str]) -> tuple[str, int, float]:
  """Worker: preprocesses one video or chunk and saves its arrays as .npy files in `cache_dir`.

  Memory stays constant in the video's length: frames stream through `_NpyStreamWriter`s (a one-hour
  recording no longer sits in Python lists; see benchmarks/README.md, "Data throughput"). A chunk
  that starts past the end of its video (the container's count was an estimate) writes nothing and
  counts 0 frames; `chunks.check_chunk_counts` checks that later.
  """
  job, cfg_dict, cache_dir = args
  started = time.perf_counter()
  cfg = preprocess.PreprocessConfig.from_dict(cfg_dict)
  cache_dir = pathlib.Path(cache_dir)
  writers = (
      _NpyStreamWriter(cache_dir / (job.name + GRAY_SUFFIX), np.uint8),
      _NpyStreamWriter(cache_dir / (job.name + FLOW_SUFFIX), streams.FLOW_DTYPE),
  )
  try:
    try:
      for _, gray, flow in preprocess.preprocess_video(
          job.path, cfg, start=job.start, stop=job.stop
      ):
        writers[0].append(gray)
        writers[1].append(flow)
    except video.StartPastEndError:
      if not job.start:
        raise
    if not writers[0].count and not job.start:
      raise data_builders.MissingDataError(
          f"{job.path}: no frames decoded in [{job.start}, {job.stop})."
      )
    if writers[0].count:
      for writer in writers:
        writer.close()
  finally:
    for writer in writers:
      writer.discard()
  return job.name, writers[0].count, time.perf_counter() - started


def chunk_jobs(job: VideoJob, chunk_frames: int) -> list[VideoJob]:
  """The chunks of `job` (`mouseflax.chunks`) as jobs; one job named like `job` when it fits in one.

  Chunk jobs are named `<name>.chunk<k>`; `_assemble` joins their arrays under `<name>`.
  """
  planned = chunks.plan_video(job.path, chunk_frames, start=job.start, stop=job.stop)
  if len(planned) == 1:
    return [job]
  return [
      VideoJob(f"{job.name}{CHUNK_INFIX}{c.index:0{CHUNK_DIGITS}d}", job.path, c.start, c.stop)
      for c in planned
  ]


def preprocess_videos(
    jobs: Sequence[VideoJob],
    preprocess_config: dict[str, Any],
    *,
    cache_dir: str | os.PathLike,
    num_workers: int = 1,
    chunk_frames: int = chunks.DEFAULT_CHUNK_FRAMES,
    beam: beam_runner.BeamSpec | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """Preprocesses videos in parallel chunks; returns name -> (gray uint8, flow float16) memmaps.

  Args:
    jobs: the videos (or parts of videos) to preprocess; names must be unique file stems.
    preprocess_config: `PreprocessConfig.to_dict()`.
    cache_dir: where the arrays are saved (the caller removes it after the build); with `beam`, on
      storage every worker can write.
    num_workers: processes; 1 runs in this process (no start-up cost, easier to debug).
    chunk_frames: a video is processed in chunks of this many frames (`mouseflax.chunks`; 0: whole
      videos), so one long recording keeps every worker busy. The arrays do not depend on it.
    beam: run the chunks on Apache Beam instead of local processes (`mouseflax.beam_runner`).

  Returns:
    For each job name, gray [N,H,W,1] uint8 and flow [N,H,W,2] float16, memory-mapped read-only.
  """
  names = [job.name for job in jobs]
  if len(set(names)) != len(names):
    raise ValueError(f"Video names must be unique, got {names}.")
  chunks.check_chunk_frames(chunk_frames, what="chunk_frames (preprocessing)")
  pieces = {job.name: chunk_jobs(job, chunk_frames) for job in jobs}
  args = [(piece, preprocess_config, str(cache_dir)) for job in jobs for piece in pieces[job.name]]
  started = time.perf_counter()
  if beam is not None:
    logging.info("Preprocessing %d chunks of %d videos on Beam (%s).", len(args), len(jobs), beam)
    beam_runner.run_each(beam, _preprocess_job, args, "preprocess")
  else:
    for done, (name, frames, seconds) in enumerate(_run_jobs(args, num_workers), start=1):
      logging.info(
          "Preprocessed %d/%d chunks: %s (%d frames in %.1f s, %.0f frames/s); %.0f s so far.",
          done,
          len(args),
          name,
          frames,
          seconds,
          frames / max(seconds, 1e-9),
          time.perf_counter() - started,
      )
  for job in jobs:
    _assemble(pathlib.Path(cache_dir), job, pieces[job.name])
  return {name: _load_arrays(cache_dir, name) for name in names}


def _frames_in(cache_dir: pathlib.Path, name: str) -> int:
  """Frames a finished job saved (0 when it wrote nothing: a chunk past the video's end)."""
  path = cache_dir / (name + GRAY_SUFFIX)
  return len(np.load(path, mmap_mode="r")) if path.exists() else 0


def _assemble(cache_dir: pathlib.Path, job: VideoJob, pieces: Sequence[VideoJob]) -> None:
  """Joins the chunks' arrays into `<name>` arrays (disk to disk, constant memory); removes them."""
  if len(pieces) == 1 and pieces[0].name == job.name:
    if not (cache_dir / (job.name + GRAY_SUFFIX)).exists():  # Beam gives no result to check.
      raise data_builders.MissingDataError(f"{job.path}: no frames decoded from {job.start}.")
    return
  planned = [chunks.Chunk(i, p.start, p.stop) for i, p in enumerate(pieces)]
  counts = [_frames_in(cache_dir, p.name) for p in pieces]
  total = chunks.check_chunk_counts(planned, counts, job.path)
  if not total:
    raise data_builders.MissingDataError(f"{job.path}: no frames decoded from {job.start}.")
  filled = [p.name for p, count in zip(pieces, counts) if count]
  for suffix in (GRAY_SUFFIX, FLOW_SUFFIX):
    parts = [cache_dir / (name + suffix) for name in filled]
    first = np.load(parts[0], mmap_mode="r")
    header = {
        "descr": np.lib.format.dtype_to_descr(first.dtype),
        "fortran_order": False,
        "shape": (total, *first.shape[1:]),
    }
    with fileio.atomic_path(cache_dir / (job.name + suffix)) as tmp, open(tmp, "wb") as out:
      np.lib.format.write_array_header_1_0(out, header)
      for part in parts:
        with open(part, "rb") as raw:
          raw.seek(np.load(part, mmap_mode="r").offset)  # Past the part's own header.
          shutil.copyfileobj(raw, out, COPY_BUFFER_BYTES)
    for part in parts:
      part.unlink()


def _run_jobs(args: list[tuple], num_workers: int) -> Iterator[tuple[str, int, float]]:
  """Runs `_preprocess_job` over `args`, yielding results as videos finish."""
  if num_workers <= 1 or len(args) <= 1:
    yield from map(_preprocess_job, args)
    return
  # Spawn, not fork: the parent may already hold JAX/XLA threads, which fork does not copy safely.
  context = multiprocessing.get_context("spawn")
  with context.Pool(min(num_workers, len(args))) as pool:
    yield from pool.imap_unordered(_preprocess_job, args)


def _load_arrays(cache_dir: str | os.PathLike, name: str) -> tuple[np.ndarray, np.ndarray]:
  cache_dir = pathlib.Path(cache_dir)
  gray = np.load(cache_dir / (name + GRAY_SUFFIX), mmap_mode="r")
  flow = np.load(cache_dir / (name + FLOW_SUFFIX), mmap_mode="r")
  return gray, flow
