"""Readers for the raw on-disk layouts of the two public datasets the paper uses.

Mouse home cage (Jhuang et al. 2010, "full database"): videos (`.mpg`, or any suffix in
`video.VIDEO_SUFFIXES`) with one annotation file per video in `Annotator_group_1/<video stem>.txt`
beside it. Each non-blank line is one run of frames, `<prefix>: <start>-<end> <label>`, 1-based,
with free spacing or fixed, zero-padded columns (both parse the same way). Whether `end` is
inclusive is unclear, so the next run's start is the boundary: run i covers frames start_i ..
min(end_i, start_{i+1} - 1). A gap (end_i + 1 < start_{i+1}) leaves its frames unlabelled
(`NO_LABEL`) and an overlap (end_i >= start_{i+1}, beyond the one-frame inclusive/exclusive
ambiguity) keeps the next run's start; both are logged with file:line. A run past the video's last
frame raises, except end = last + 1, which is an exclusive end: an annotation running past its
video's decodable frames (a truncated video, or the wrong annotation file) is an error naming both
files and the line (`check_annotation_fits`), unless the user allows `tolerance_frames` more
(`data.raw_tolerance_frames`, build_data --raw_tolerance_frames; default 0).

CUHK Avenue (Lu et al. 2013): `training_videos/`, `testing_videos/` and
`ground_truth_demo/testing_label_mask/<N>_label.mat` (N without leading zero) holding `volLabel`, a
1xT cell array of per-frame masks; a frame is anomalous when its mask has a nonzero pixel. The root
may be the dataset folder itself or a folder containing `Avenue Dataset/`. A test video with fewer
decodable frames than masks (beyond the same tolerance) is an error (`check_label_count`).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

from absl import logging
import numpy as np
import scipy.io

from mouseflax import video

BEHAVIORS = ("drink", "eat", "groom", "hang", "micromovement", "rear", "rest", "walk")
# Spellings met in related files (head for micromovement; clipped-database abbreviations).
BEHAVIOR_ALIASES = {
    "d": "drink",
    "e": "eat",
    "g": "groom",
    "gb": "groom",
    "groomback": "groom",
    "ha": "hang",
    "he": "micromovement",
    "head": "micromovement",
    "r": "rear",
    "rs": "rest",
    "w": "walk",
}
NO_LABEL = -1
JHUANG_ANNOTATION_DIR = "Annotator_group_1"
JHUANG_ANNOTATION_SUFFIX = ".txt"
AVENUE_SUBDIR = "Avenue Dataset"
AVENUE_TRAIN_DIR = "training_videos"
AVENUE_TEST_DIR = "testing_videos"
AVENUE_LABEL_DIR = pathlib.Path("ground_truth_demo", "testing_label_mask")
AVENUE_LABEL_KEY = "volLabel"

# How the user allows raw files that disagree by a few frames (named in the errors).
TOLERANCE_HINT = (
    "allow a difference of a few frames with --config.data.raw_tolerance_frames=N (build_data: "
    "--raw_tolerance_frames=N)"
)
# `<prefix>: <start>-<end> <label>`; the prefix is optional, spacing free, numbers maybe padded.
_RUN_LINE = re.compile(r"^\s*(?:[^:]*:)?\s*(\d+)\s*-\s*(\d+)\s+(\S.*?)\s*$")


class RawDataError(ValueError):
  """Raw files that contradict each other (an annotation past its video's end); names both."""


@dataclasses.dataclass(frozen=True)
class _Run:
  start: int  # 1-based, as in the file.
  end: int
  behavior: int
  line: int


def behavior_id(name: str, where: str) -> int:
  """Id of a behaviour name or alias (case-insensitive); `where` (file:line) goes in the error."""
  key = name.strip().lower()
  key = BEHAVIOR_ALIASES.get(key, key)
  if key not in BEHAVIORS:
    raise ValueError(
        f"{where}: unknown behaviour label {name!r}. Known: {list(BEHAVIORS)}, aliases: "
        f"{sorted(BEHAVIOR_ALIASES)}. Fix the file or add the alias to BEHAVIOR_ALIASES."
    )
  return BEHAVIORS.index(key)


def _parse_runs(path: pathlib.Path) -> list[_Run]:
  """Reads the runs of an annotation file, validating each line."""
  runs = []
  text = path.read_text(encoding="utf-8", errors="replace")
  for number, line in enumerate(text.splitlines(), start=1):
    if not line.strip():
      continue
    where = f"{path}:{number}"
    match = _RUN_LINE.match(line)
    if match is None:
      raise ValueError(
          f"{where}: cannot parse {line!r}; expected '<prefix>: <start>-<end> <label>'."
      )
    start, end = int(match[1]), int(match[2])
    if start < 1 or end < start:
      raise ValueError(f"{where}: invalid run {start}-{end} (1-based, start <= end).")
    if runs and start <= runs[-1].start:
      raise ValueError(
          f"{where}: run starts at {start}, not after the previous run's start "
          f"{runs[-1].start}; runs must be in frame order."
      )
    runs.append(_Run(start, end, behavior_id(match[3], where), number))
  if not runs:
    raise ValueError(f"{path}: empty annotation file (no '<prefix>: <start>-<end> <label>' lines).")
  return runs


def _report_gaps(path: pathlib.Path, runs: list[_Run]) -> None:
  if runs[0].start > 1:
    logging.warning("%s:%d: frames 1-%d have no label.", path, runs[0].line, runs[0].start - 1)
  for previous, current in zip(runs, runs[1:]):
    if previous.end + 1 < current.start:
      logging.warning(
          "%s:%d: gap, frames %d-%d have no label.",
          path,
          current.line,
          previous.end + 1,
          current.start - 1,
      )
    elif previous.end > current.start:
      logging.warning(
          "%s:%d: overlap, previous run ends at %d after this run's start %d; the " "start wins.",
          path,
          current.line,
          previous.end,
          current.start,
      )


def parse_jhuang_annotation(path: str | pathlib.Path, num_frames: int | None = None) -> np.ndarray:
  """Per-frame behaviour ids (int64, 0-based frames, NO_LABEL where no run covers a frame).

  Args:
    path: a Jhuang annotation file.
    num_frames: the video's frame count; None = up to the last run's end.

  Raises:
    ValueError: empty file, unparseable line, unknown label, or a run past the video's end (each
      naming file and line).
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"Annotation file not found: {path}.")
  runs = _parse_runs(path)
  _report_gaps(path, runs)
  length = runs[-1].end if num_frames is None else num_frames
  _check_runs_fit(path, runs, length)
  labels = np.full(length, NO_LABEL, np.int64)
  next_starts = [run.start for run in runs[1:]] + [length + 1]
  for run, next_start in zip(runs, next_starts):
    last = min(run.end, next_start - 1, length)  # 1-based inclusive.
    labels[run.start - 1 : last] = run.behavior
  if runs[-1].end < length:
    logging.warning(
        "%s: frames %d-%d (end of video) have no label.", path, runs[-1].end + 1, length
    )
  return labels


def _check_runs_fit(
    path: pathlib.Path,
    runs: list[_Run],
    num_frames: int,
    tolerance_frames: int = 0,
    video_path: pathlib.Path | None = None,
) -> None:
  """Raises RawDataError at the first run reaching past frame num_frames (+ 1, + tolerance)."""
  for run in runs:
    # end = num_frames + 1 is an exclusive end at the last frame; anything further is a mismatch.
    if run.start > num_frames + tolerance_frames or run.end > num_frames + 1 + tolerance_frames:
      video_name = "" if video_path is None else f" ({video_path})"
      raise RawDataError(
          f"{path}:{run.line}: run {run.start}-{run.end} goes past the video's last frame "
          f"{num_frames}{video_name}: a truncated video, or the wrong annotation file for it. "
          f"Replace the video or fix the annotation, or {TOLERANCE_HINT}."
      )


def check_annotation_fits(
    path: str | pathlib.Path,
    num_frames: int,
    *,
    video_path: str | pathlib.Path | None = None,
    tolerance_frames: int = 0,
) -> None:
  """Raises RawDataError when annotation `path` runs past the `num_frames` its video decodes.

  Args:
    path: a Jhuang annotation file.
    num_frames: the video's decodable frame count (`video.probe`).
    video_path: the video, named in the error.
    tolerance_frames: frames the annotation may run past the end (data.raw_tolerance_frames).
  """
  path = pathlib.Path(path)
  runs = _parse_runs(path)
  video_path = None if video_path is None else pathlib.Path(video_path)
  _check_runs_fit(path, runs, num_frames, tolerance_frames, video_path)


def jhuang_annotation_path(video_path: str | pathlib.Path) -> pathlib.Path:
  """`<dir>/Annotator_group_1/<stem>.txt`: where the Jhuang layout keeps a video's annotation."""
  video_path = pathlib.Path(video_path)
  return video_path.parent / JHUANG_ANNOTATION_DIR / (video_path.stem + JHUANG_ANNOTATION_SUFFIX)


def find_jhuang_recordings(
    manual_dir: str | pathlib.Path,
) -> list[tuple[pathlib.Path, pathlib.Path]]:
  """(video, annotation) pairs under `manual_dir` (searched recursively), sorted by video path.

  Raises:
    FileNotFoundError: no video found, or videos without `Annotator_group_1/<stem>.txt` (all
    listed).
  """
  root = pathlib.Path(manual_dir)
  if not root.is_dir():
    raise FileNotFoundError(f"manual_dir {root} is not a directory.")
  videos = sorted(
      p
      for p in root.rglob("*")
      if video.is_video_file(p) and not any(part.startswith("Annotator_group") for part in p.parts)
  )
  if not videos:
    raise FileNotFoundError(
        f"No videos ({', '.join(video.VIDEO_SUFFIXES)}) under {root}. Expected the Jhuang layout: "
        f"<dir>/<name>.mpg with <dir>/{JHUANG_ANNOTATION_DIR}/<name>{JHUANG_ANNOTATION_SUFFIX}."
    )
  pairs = [(v, jhuang_annotation_path(v)) for v in videos]
  missing = [str(a) for _, a in pairs if not a.is_file()]
  if missing:
    raise FileNotFoundError(
        f"Videos without annotation under {root}; expected files: {missing}. "
        "Add them, or move unannotated videos out of manual_dir."
    )
  return pairs


def read_avenue_masks(mat_path: str | pathlib.Path) -> list[np.ndarray]:
  """The per-frame masks [height, width] of an Avenue `<N>_label.mat` (`volLabel`, 1xT cell)."""
  mat_path = pathlib.Path(mat_path)
  if not mat_path.is_file():
    raise FileNotFoundError(f"Avenue label file not found: {mat_path}.")
  try:
    contents = scipy.io.loadmat(str(mat_path))
  except (NotImplementedError, ValueError) as e:  # v7.3 (HDF5) or not a .mat file at all.
    raise ValueError(f"{mat_path}: cannot read as a MATLAB v5 .mat file ({e}).") from e
  if AVENUE_LABEL_KEY not in contents:
    found = sorted(k for k in contents if not k.startswith("__"))
    raise ValueError(
        f"{mat_path}: no '{AVENUE_LABEL_KEY}' variable (found {found}); expected the "
        f"ground_truth_demo/testing_label_mask files of the Avenue dataset."
    )
  return [np.asarray(m) for m in np.asarray(contents[AVENUE_LABEL_KEY]).ravel()]


def avenue_frame_labels(masks: list[np.ndarray]) -> np.ndarray:
  """int64 [T]: 1 where a frame's mask has any nonzero pixel (the anomalous frames), else 0."""
  return np.array([int(np.any(m)) for m in masks], np.int64)


def read_avenue_frame_labels(
    mat_path: str | pathlib.Path, num_frames: int | None = None
) -> np.ndarray:
  """int64 [T] 0/1 per frame from an Avenue `<N>_label.mat` (`volLabel`, 1xT cell of masks).

  Args:
    mat_path: the label file.
    num_frames: the test video's frame count; a different mask count raises.
  """
  labels = avenue_frame_labels(read_avenue_masks(mat_path))
  if num_frames is not None and len(labels) != num_frames:
    raise ValueError(
        f"{mat_path}: {len(labels)} label masks but the video has {num_frames} frames; "
        "the label file does not belong to this video."
    )
  return labels


def check_label_count(
    mat_path: str | pathlib.Path,
    num_labels: int,
    num_frames: int,
    *,
    video_path: str | pathlib.Path,
    tolerance_frames: int = 0,
) -> None:
  """Raises RawDataError when a test video decodes fewer frames than its label file has masks.

  A few more masks than frames are allowed with `tolerance_frames` (data.raw_tolerance_frames).
  """
  if num_labels - num_frames > tolerance_frames:
    raise RawDataError(
        f"{video_path} has {num_frames} decodable frames but {mat_path} labels {num_labels}: a "
        f"truncated video, or the wrong label file for it. Replace the video, or "
        f"{TOLERANCE_HINT}."
    )


def _avenue_root(root: pathlib.Path) -> pathlib.Path:
  for candidate in (root, root / AVENUE_SUBDIR):
    if (candidate / AVENUE_TRAIN_DIR).is_dir() and (candidate / AVENUE_TEST_DIR).is_dir():
      return candidate
  raise FileNotFoundError(
      f"No Avenue dataset at {root}: expected "
      f"{root}/[{AVENUE_SUBDIR}/]{AVENUE_TRAIN_DIR}/01.avi..., "
      f"{AVENUE_TEST_DIR}/01.avi... and {AVENUE_LABEL_DIR}/1_label.mat...."
  )


def _videos_in(directory: pathlib.Path) -> list[pathlib.Path]:
  videos = sorted(p for p in directory.iterdir() if video.is_video_file(p))
  if not videos:
    raise FileNotFoundError(f"No videos in {directory}.")
  return videos


def _avenue_label_path(root: pathlib.Path, video_path: pathlib.Path) -> pathlib.Path:
  if not video_path.stem.isdigit():
    raise ValueError(
        f"Avenue test video {video_path} is not named <number>.avi; cannot find its labels."
    )
  return root / AVENUE_LABEL_DIR / f"{int(video_path.stem)}_label.mat"


def find_avenue_recordings(
    root: str | pathlib.Path,
) -> tuple[list[pathlib.Path], list[tuple[pathlib.Path, pathlib.Path]]]:
  """(training videos, [(test video, label .mat)]), sorted; every test video needs its labels."""
  root = _avenue_root(pathlib.Path(root))
  train = _videos_in(root / AVENUE_TRAIN_DIR)
  test = [(v, _avenue_label_path(root, v)) for v in _videos_in(root / AVENUE_TEST_DIR)]
  missing = [str(m) for _, m in test if not m.is_file()]
  if missing:
    raise FileNotFoundError(f"Avenue label files missing: {missing}.")
  return train, test
