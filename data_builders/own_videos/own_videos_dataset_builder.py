"""own_videos: your own recordings, every one of them normal behaviour, no annotations needed.

Configured by `configs/own_videos.py` (`--config.data.video_dir=DIR`). The protocol, per video of N
decoded frames, with its parameters in `OwnVideosConfig`:

- Videos: every file in `video_dir` (subfolders included) that `mouseflax.video.is_video_file`
  accepts (a suffix in `video.VIDEO_SUFFIXES`, not hidden); `video_names` (metadata) is their sorted
  list of paths relative to `video_dir`.
- Used part: frames [0, U), U = floor(video_fraction * N). `video_fraction` < 1 leaves the end of
  every video out of training altogether, e.g. to score it afterwards (the README's worked example).
- Validation: the end of the used part by time, frames [V, U), V = U - round(validation_fraction *
  U), every frame, in consecutive windows plus one aligned to the end (`windows.covering_windows`):
  the same windows `mouseflax.score` uses, so the threshold calibrated on these frames at the end of
  training applies to scores computed exactly the same way.
- Train: windows of `sequence_length` frames taking every `stride`-th frame, starts `train_hop`
  frames apart (0: no overlap), from frames [0, V - span), span = (sequence_length - 1) *
  stride + 1: a gap of one window span keeps every training window away from the validation block
  (the rule of mouse_behavior and cuhk_avenue too: `windows.hold_out_by_time`).
  configs/own_videos.py overlaps the windows (`data.train_hop` 4), so a 50-second clip gives a few
  hundred of them.
- Test: frames [V, N) in the same windows (the validation frames plus the part left out), so the
  run's `scores/` and `timeline.png` show the held-out end of every video. There are no labels:
  `anomaly` is 0 and `behavior` -1 everywhere, and the AUCs are undefined (None).
- Records built from another folder or from changed files never mix: the config name hashes the
  protocol, which holds `video_dir` and a fingerprint (name, size, mtime) of the videos.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import hashlib
import math
import pathlib
from typing import Any

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

import data_builders
from data_builders import video_builder
from mouseflax import raw_formats
from mouseflax import streams
from mouseflax import video
from mouseflax import windows

CONFIG_PREFIX = "own"
FINGERPRINT_CHARS = 16

_MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Put your recordings (all normal behaviour; any resolution, frame rate and length) in one folder and
pass it as --config.data.video_dir=DIR:

  <video_dir>/<any name><suffix>        suffix one of {", ".join(video.VIDEO_SUFFIXES)}
  <video_dir>/<subfolder>/<any name>... subfolders are searched too
"""


class NoVideosError(data_builders.MissingDataError):
  """`video_dir` is missing, holds no video, or a video is too short for the protocol."""


def find_videos(video_dir: str | pathlib.Path) -> list[pathlib.Path]:
  """The videos in `video_dir` (recursive), sorted; raises NoVideosError when there are none."""
  root = pathlib.Path(video_dir).expanduser()
  if not root.is_dir():
    raise NoVideosError(
        f"config.data.video_dir={str(video_dir)!r} is not a folder.\n"
        f"{_MANUAL_DOWNLOAD_INSTRUCTIONS}"
    )
  videos = sorted(p for p in root.rglob("*") if video.is_video_file(p))
  if not videos:
    raise NoVideosError(f"No video in {root}.\n{_MANUAL_DOWNLOAD_INSTRUCTIONS}")
  return videos


def fingerprint(video_dir: str | pathlib.Path) -> str:
  """A hash of the videos' relative paths, sizes and modification times."""
  root = pathlib.Path(video_dir).expanduser()
  text = "\n".join(
      f"{p.relative_to(root)}\t{p.stat().st_size}\t{p.stat().st_mtime_ns}"
      for p in find_videos(root)
  )
  return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_CHARS]


@dataclasses.dataclass(eq=False)
class OwnVideosConfig(tfds.core.BuilderConfig):
  """What changes the bytes on disk."""

  video_dir: str = ""  # Absolute path of the folder of recordings.
  videos_fingerprint: str = ""  # `fingerprint(video_dir)`: changed files mean new records.
  sequence_length: int = streams.SEQUENCE_LENGTH  # Frames per sequence.
  stride: int = video_builder.PAPER_STRIDE  # Training windows take every `stride`-th frame.
  train_hop: int = 0  # Frames between training window starts; 0: no overlap.
  # Share of the used part, at its end, held for validation.
  validation_fraction: float = video_builder.PAPER_VALIDATION_FRACTION
  video_fraction: float = 1.0  # Leading share of every video used for training + validation.
  preprocess: dict[str, Any] = dataclasses.field(default_factory=video_builder.default_preprocess)

  def protocol(self) -> dict[str, Any]:
    """The parameters as a JSON-able dict (stored in the dataset's metadata)."""
    return video_builder.protocol_of(self)


def make_config(video_dir: str | pathlib.Path, **protocol: Any) -> OwnVideosConfig:
  """The config for the videos now in `video_dir`, named 'own-<hash of the protocol>'."""
  root = pathlib.Path(video_dir).expanduser().resolve()
  config = OwnVideosConfig(
      name=CONFIG_PREFIX, video_dir=str(root), videos_fingerprint=fingerprint(root), **protocol
  )
  if not 0.0 < config.video_fraction <= 1.0:
    raise ValueError(f"config.data.video_fraction={config.video_fraction}: must be in (0, 1].")
  if not 0.0 < config.validation_fraction < 1.0:
    raise ValueError(
        f"config.data.validation_fraction={config.validation_fraction}: must be in "
        "(0, 1) for own videos (the threshold is calibrated on the validation frames)."
    )
  config.name = f"{CONFIG_PREFIX}-{video_builder.protocol_hash(config.protocol())}"
  config.description = f"protocol {config.protocol()}"
  return config


def config_from_data(
    data_config: Mapping[str, Any], preprocess_config: Mapping[str, Any]
) -> OwnVideosConfig:
  """The config that `config.data` (configs/own_videos.py) asks for, with its preprocessing."""
  if not data_config["video_dir"]:
    raise NoVideosError(
        "config.data.video_dir is empty: pass --config.data.video_dir=DIR, the "
        f"folder of your recordings.\n{_MANUAL_DOWNLOAD_INSTRUCTIONS}"
    )
  return make_config(
      data_config["video_dir"],
      stride=data_config["stride"],
      train_hop=data_config["train_hop"],
      validation_fraction=data_config["validation_fraction"],
      video_fraction=data_config["video_fraction"],
      preprocess=dict(preprocess_config),
  )


def minimum_frames(config: OwnVideosConfig) -> int:
  """About the fewest used frames giving one training window, the gap and one validation window."""
  span = windows.window_span(config.sequence_length, config.stride)
  return math.ceil(
      max(
          2 * span / (1.0 - config.validation_fraction),
          config.sequence_length / config.validation_fraction,
      )
  )


def cut_video(name: str, num_frames: int, config: OwnVideosConfig) -> dict[str, list]:
  """Split -> [(name, frame indices [T])] windows of one video (the module docstring's rule)."""
  used = int(config.video_fraction * num_frames)
  length = config.sequence_length
  too_short = NoVideosError(
      f"{name}: {num_frames} frames, {used} of them used; training and validation need about "
      f"{minimum_frames(config)} (one training window, a gap of one window span, one validation "
      "window): use a longer video or change data.validation_fraction / video_fraction / stride."
  )
  try:
    cut = windows.hold_out_by_time(
        used,
        validation_fraction=config.validation_fraction,
        length=length,
        stride=config.stride,
        hop=config.train_hop or length * config.stride,
    )
  except ValueError as e:
    raise too_short from e
  if not len(cut.train):
    raise too_short
  test = windows.covering_windows(num_frames - cut.validation_start, length=length)
  return {
      "train": [(name, w) for w in cut.train],
      "validation": [(name, w) for w in cut.validation],
      "test": [(name, cut.validation_start + w) for w in test],
  }


class Builder(video_builder.VideoSequenceBuilder):
  """Your recordings as 8-frame gray + flow sequences; the end of each video validates."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "Training windows end one window span before the validation block (was: adjacent "
      "to it), the rule of every builder (`windows.hold_out_by_time`).",
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS

  def raw_input_files(
      self, manual_dir: pathlib.Path
  ) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """The videos of the folder (no label files): `find_videos`."""
    return find_videos(manual_dir), []

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config: OwnVideosConfig = self.builder_config
    root = pathlib.Path(config.video_dir)
    if fingerprint(root) != config.videos_fingerprint:
      raise NoVideosError(f"The videos in {root} changed since the config was made: rerun.")
    paths = {str(p.relative_to(root)): p for p in find_videos(root)}
    names = sorted(paths)
    arrays = self._preprocess({name: paths[name] for name in names})
    splits = {"train": [], "validation": [], "test": []}
    for name in names:
      for split, items in cut_video(name, len(arrays[name][0]), config).items():
        splits[split].extend(items)
    logging.info(
        "own_videos: %s windows from %d videos.", {k: len(v) for k, v in splits.items()}, len(names)
    )

    def window_labels(name: str, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
      del name  # Every frame of every video is normal, with no behaviour label.
      return np.full(len(frames), raw_formats.NO_LABEL, np.int64), np.zeros(len(frames), np.int64)

    return self._split_examples(
        splits, arrays, names, window_labels, video_fps=[video.probe(paths[n]).fps for n in names]
    )
