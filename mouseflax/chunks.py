"""Long recordings in chunks: how a video is split so that its pieces give the whole's results.

A facility's recordings run for hours; one process per video leaves every other core idle on a
12-hour file. Building records (`data_builders.video_cache`) and scoring (`mouseflax.score`) cut a
video into chunks of `chunk_frames` frames, process the chunks independently (worker processes, or
Apache Beam workers: `mouseflax.beam_runner`), and assemble the results in frame order:

- Preprocessing a chunk [start, stop) decodes frame start - 1 too (`preprocess.preprocess_video`),
  so the flow of its first frame, and every array, equal one pass over the whole video.
- Scoring uses chunk boundaries on multiples of the model window T: each consecutive window
  (0-7, 8-15, ...) lies inside one chunk. A chunk also decodes the `T` frames before its start
  (`scoring_context`): the window aligned to the video's end may reach back into the previous chunk,
  and the first of those frames only gives the next one its flow. So the per-frame scores equal the
  single-pass scorer's (`score.score_chunk`, `score.assemble_scores`).

A file without a frame index (MPEG program streams, `video.has_frame_index`) cannot be entered in
the middle exactly, so it stays one chunk (`plan_video`).

The number of chunks comes from the container's frame count, which can be an estimate
(`video.ESTIMATED_COUNT_SUFFIXES`), so the last chunk is open-ended (it decodes to the end of the
stream) and a chunk that starts past the real end is empty. `check_chunk_counts` checks what came
back: every chunk full up to the one where the video ends, none after it.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import os

from mouseflax import video

# Frames per chunk by default: 5 minutes at 30 frames/s (a multiple of the window length, 8), so a
# 12-hour file splits into 144 pieces and an ordinary recording is one or a few.
DEFAULT_CHUNK_FRAMES = 9000


@dataclasses.dataclass(frozen=True)
class Chunk:
  """Frames [start, stop) of one video; `stop` None = to the end of the stream (the last chunk)."""

  index: int
  start: int
  stop: int | None

  @property
  def open_ended(self) -> bool:
    return self.stop is None

  @property
  def expected_frames(self) -> int | None:
    """Frames the chunk holds when the video does not end inside it; None when open-ended."""
    return None if self.stop is None else self.stop - self.start


def check_chunk_frames(chunk_frames: int, multiple: int = 1, what: str = "chunk_frames") -> None:
  """Raises ValueError unless `chunk_frames` is 0 (one chunk) or a multiple of `multiple`."""
  if chunk_frames < 0 or (chunk_frames and chunk_frames % multiple):
    raise ValueError(
        f"{what}={chunk_frames}: use 0 (whole videos) or a positive multiple of {multiple} "
        "frames (the model window, so that no window straddles two chunks)."
    )


def plan(
    num_frames: int,
    chunk_frames: int,
    *,
    start: int = 0,
    stop: int | None = None,
    multiple: int = 1,
) -> list[Chunk]:
  """The chunks of frames [start, stop) of a video of about `num_frames` frames.

  Args:
    num_frames: the container's frame count (may be an estimate; module docstring).
    chunk_frames: frames per chunk; 0 = one chunk.
    start: first frame; a multiple of `chunk_frames` is not required.
    stop: one past the last frame, exact (the last chunk ends there); None = to the end of the
      stream (the last chunk is open-ended).
    multiple: chunk boundaries are start + multiples of this (the model window when scoring).
  """
  check_chunk_frames(chunk_frames, multiple)
  end = num_frames if stop is None else stop
  if not chunk_frames or end - start <= chunk_frames:
    return [Chunk(0, start, stop)]
  starts = range(start, end, chunk_frames)
  chunks = [Chunk(i, s, s + chunk_frames) for i, s in enumerate(starts)]
  chunks[-1] = Chunk(chunks[-1].index, chunks[-1].start, stop)
  return chunks


def plan_video(
    path: str | os.PathLike,
    chunk_frames: int,
    *,
    start: int = 0,
    stop: int | None = None,
    multiple: int = 1,
) -> list[Chunk]:
  """`plan` for the video at `path`: its container's count sizes the chunks.

  A file without a frame index (MPEG program streams: `video.has_frame_index`) is one chunk: every
  chunk would decode from the file's start to reach its own, so chunks would cost more than they
  save. Re-encode such recordings (e.g. to .mp4) to process them in parallel.
  """
  if not chunk_frames or not video.has_frame_index(path):
    check_chunk_frames(chunk_frames, multiple)
    return [Chunk(0, start, stop)]
  estimate = stop if stop is not None else video.quick_probe(path).num_frames
  return plan(estimate, chunk_frames, start=start, stop=stop, multiple=multiple)


def check_chunk_counts(chunks: Sequence[Chunk], counts: Sequence[int], what: str) -> int:
  """The video's total frames from its chunks' frame counts; ValueError when they do not fit.

  A video ends inside at most one chunk: every chunk before it holds all its frames, every chunk
  after it none.
  """
  ended = False
  for chunk, count in zip(chunks, counts, strict=True):
    if ended and count:
      raise ValueError(
          f"{what}: chunk {chunk.index} (frames from {chunk.start}) decoded {count} frames after "
          "an earlier chunk ended the video; the file changed while it was read, or the "
          "decoder is not deterministic."
      )
    if chunk.expected_frames is not None and count < chunk.expected_frames:
      ended = True
  return int(sum(counts))


def scoring_context(window: int) -> int:
  """Frames decoded before a scoring chunk's start (module docstring): one window."""
  return window
