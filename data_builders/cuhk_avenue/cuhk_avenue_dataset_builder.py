"""cuhk_avenue: CUHK Avenue (Lu, Shi, Jia, ICCV 2013) as 8-frame gray + flow sequences.

- Videos: `video_names` (metadata) is the sorted list of '<folder>/<stem>' names, e.g.
  'testing_videos/01', 'training_videos/01'; the `video` feature indexes it.
- Train/validation: every training video (all normal) cut into windows of `sequence_length` frames
  taking every `stride`-th frame, starts `train_hop` frames apart (0: `sequence_length * stride`, no
  overlap, like the mouse protocol); a permutation seeded with `split_seed` puts
  `validation_fraction` of the windows in `validation`.
- Test: every frame of every test video in consecutive windows of `sequence_length`; a tail shorter
  than a window is covered by one window aligned to the end (those frames appear twice; the
  evaluator averages per frame). `anomaly` is 1 where the frame's volLabel mask has any pixel set.
- Flow: between successive frames at full frame rate, subsampled with the frames (as in
  mouse_behavior).
- Labels follow the decoded frames (decoding reads to the end of the stream, whatever the
  container's count says); a mask count that differs is logged and the frames without one dropped.
- `behavior` is -1 everywhere (Avenue has no behaviour labels); train frames have `anomaly` 0.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from data_builders import video_builder
from mouseflax import raw_formats
from mouseflax import streams
from mouseflax import video
from mouseflax import windows

DEFAULT_CONFIG = "default"

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download CUHK Avenue (http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/dataset.html),
unzip it and pass the `Avenue Dataset` folder as `manual_dir`:

  <manual_dir>/training_videos/01.avi ... 16.avi
  <manual_dir>/testing_videos/01.avi ... 21.avi
  <manual_dir>/ground_truth_demo/testing_label_mask/1_label.mat ... 21_label.mat
"""


@dataclasses.dataclass(eq=False)
class AvenueConfig(tfds.core.BuilderConfig):
  """What changes the bytes on disk."""

  sequence_length: int = streams.SEQUENCE_LENGTH  # Frames per sequence.
  stride: int = video_builder.PAPER_STRIDE  # Training windows take every `stride`-th frame.
  train_hop: int = 0  # Frames between training window starts; 0: no overlap.
  # Share of training windows held for validation.
  validation_fraction: float = video_builder.PAPER_VALIDATION_FRACTION
  split_seed: int = 0  # Seeds the train/validation permutation.
  preprocess: dict[str, Any] = dataclasses.field(default_factory=video_builder.default_preprocess)

  def protocol(self) -> dict[str, Any]:
    """The parameters as a JSON-able dict (stored in the dataset's metadata)."""
    return video_builder.protocol_of(self)


def make_config(**protocol: Any) -> AvenueConfig:
  """'default' for the default parameters, else 'custom-<hash of parameters>'."""
  config = AvenueConfig(name=DEFAULT_CONFIG, **protocol)
  if config.protocol() != AvenueConfig(name=DEFAULT_CONFIG).protocol():
    config.name = f"custom-{video_builder.protocol_hash(config.protocol())}"
  config.description = f"protocol {config.protocol()}"
  return config


class Builder(video_builder.VideoSequenceBuilder):
  """CUHK Avenue as gray + flow sequences with per-frame anomaly labels."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "New bytes: preprocess resize_method 'area_two_pass' (within 1 grey level of "
      "1.0.0's single INTER_AREA resize); videos are decoded to the end of the stream.",
  }
  BUILDER_CONFIGS = [make_config()]
  DEFAULT_CONFIG_NAME = DEFAULT_CONFIG
  MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS
  HOMEPAGE = "http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/dataset.html"

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config: AvenueConfig = self.builder_config
    root = video_builder.manual_dir_or_raise(dl_manager, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
    train_videos, test_pairs = _find_recordings(root)
    paths = {_name(v): v for v in train_videos} | {_name(v): v for v, _ in test_pairs}
    names = sorted(paths)
    arrays = self._preprocess({name: paths[name] for name in names})
    labels = {_name(v): np.zeros(len(arrays[_name(v)][0]), np.int64) for v in train_videos}
    labels |= {_name(v): _test_labels(v, mat, len(arrays[_name(v)][0])) for v, mat in test_pairs}
    splits = _cut_splits(
        config, [_name(v) for v in train_videos], [_name(v) for v, _ in test_pairs], labels
    )
    video_builder.check_not_empty(
        splits,
        f"cuhk_avenue/{config.name}",
        "Use longer or more training videos, or a smaller stride/train_hop.",
    )

    def window_labels(name: str, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
      return np.full(len(frames), raw_formats.NO_LABEL, np.int64), labels[name][frames]

    return self._split_examples(
        splits, arrays, names, window_labels, video_fps=[video.probe(paths[n]).fps for n in names]
    )


def _name(video: str | pathlib.Path) -> str:
  video = pathlib.Path(video)
  return f"{video.parent.name}/{video.stem}"


def _find_recordings(root: pathlib.Path):
  try:
    train_videos, test_pairs = raw_formats.find_avenue_recordings(root)
  except FileNotFoundError as e:
    raise video_builder.missing_data(e, _MANUAL_DOWNLOAD_INSTRUCTIONS) from e
  if not train_videos or not test_pairs:
    raise video_builder.missing_data(
        f"Found {len(train_videos)} training and {len(test_pairs)} labelled test videos in {root}; "
        "need both.",
        _MANUAL_DOWNLOAD_INSTRUCTIONS,
    )
  return train_videos, test_pairs


def _test_labels(video: pathlib.Path, mat: pathlib.Path, num_frames: int) -> np.ndarray:
  """Per-frame anomaly labels, length `num_frames` (decoded frames); a mismatch is logged."""
  labels = np.asarray(raw_formats.read_avenue_frame_labels(mat), np.int64)
  if len(labels) != num_frames:
    logging.warning(
        "%s: %d decoded frames but %d labels in %s; frames past the labels get none "
        "and are dropped.",
        video,
        num_frames,
        len(labels),
        mat,
    )
  return labels[:num_frames]


def _cut_splits(config: AvenueConfig, train_names, test_names, labels):
  """Split name -> list of (video name, frame indices) windows, as in the module docstring."""
  hop = config.train_hop or config.sequence_length * config.stride
  train_windows = [
      (name, frames)
      for name in train_names
      for frames in windows.strided_windows(
          len(labels[name]), length=config.sequence_length, stride=config.stride, hop=hop
      )
  ]
  train, validation = windows.split_train_validation(
      len(train_windows), validation_fraction=config.validation_fraction, seed=config.split_seed
  )
  test = [
      (name, frames)
      for name in test_names
      for frames in windows.covering_windows(len(labels[name]), length=config.sequence_length)
  ]
  logging.info(
      "cuhk_avenue: %d train, %d validation, %d test windows.",
      len(train),
      len(validation),
      len(test),
  )
  return {
      "train": [train_windows[i] for i in train],
      "validation": [train_windows[i] for i in validation],
      "test": test,
  }
