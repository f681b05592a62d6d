"""cuhk_avenue: CUHK Avenue (Lu, Shi, Jia, ICCV 2013) as 8-frame gray + flow sequences.

- Videos: `video_names` (metadata) is the sorted list of '<folder>/<stem>' names, e.g.
  'testing_videos/01', 'training_videos/01'; the `video` feature indexes it.
- Train: the paper applies "no additional pre-processing" to Avenue, so training windows take
  consecutive frames (`stride` 1) and start every `train_hop` = 4 frames. Why 4: with stride 1 a
  window starting one frame after another shares 7 of its 8 frames, so hop 1 multiplies the epoch
  by 4 over hop 4 for nearly duplicate examples; hop 4 still puts every training frame in two
  windows, at two positions in the window (two temporal contexts for the 3D RAE), and hop 8 would
  show each frame once only. Measured on the synthetic Avenue layout with the real video count
  and frame total (16 training videos, 15,328 frames): 3,008 training windows, 94 steps of 32 per
  epoch (configs/cae_avenue.py).
- Validation, held out by time (`mouseflax.windows.hold_out_by_time`): the last
  `validation_fraction` of each training video, every frame, in consecutive windows plus one
  aligned to the block's end (as the test split and `mouseflax.score` cut a video); training windows
  end at least one window span before it, so no training window touches the validation block.
- Test: every frame of every test video in consecutive windows of `sequence_length`; a tail shorter
  than a window is covered by one window aligned to the end (those frames appear twice; the
  evaluator averages per frame). `anomaly` is 1 where the frame's volLabel mask has any pixel set.
- Counts: the build compares the videos and frames found with the published dataset's
  (`PUBLISHED_COUNTS`: 16 training / 21 test videos, 15,328 / 15,324 frames) and logs a loud
  WARNING when they differ (one line for synthetic recordings, small by design); the counts are in
  the metadata (`counts`). It also counts the anomalous test frames whose mask lies entirely in the
  rows the 24x32 centre crop removes (`anomalous_frames_outside_crop`, logged): their label marks
  nothing the model sees.
- Flow: between successive frames at full frame rate, subsampled with the frames (as in
  mouse_behavior).
- Labels follow the decoded frames (decoding reads to the end of the stream, whatever the
  container's count says); a mask count that differs is logged and the frames without one dropped.
  A test video decoding fewer frames than its masks (a truncated video) is an error naming both
  files, unless the builder's `raw_tolerance_frames` (data.raw_tolerance_frames) allows it.
- `behavior` is -1 everywhere (Avenue has no behaviour labels); train frames have `anomaly` 0.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import pathlib
from typing import Any

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from data_builders import video_builder
from mouseflax import preprocess
from mouseflax import raw_formats
from mouseflax import streams
from mouseflax import synthetic
from mouseflax import video
from mouseflax import windows

DEFAULT_CONFIG = "default"
# The training-window rule (module docstring): consecutive frames, a window starting every 4 frames.
AVENUE_STRIDE = 1
AVENUE_TRAIN_HOP = 4
# The published dataset (Lu et al. 2013; DATA_FORMATS.md): what a complete download holds.
WARNING_RULE = "!" * 100  # Frames the warning about counts that differ from the published ones.
PUBLISHED_COUNTS = {
    "train_videos": 16,
    "test_videos": 21,
    "train_frames": 15_328,
    "test_frames": 15_324,
}

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
  stride: int = AVENUE_STRIDE  # Training windows take every `stride`-th frame.
  train_hop: int = AVENUE_TRAIN_HOP  # Frames between training window starts; 0: no overlap.
  # Share of each training video, at its end by time, held out for validation.
  validation_fraction: float = video_builder.PAPER_VALIDATION_FRACTION
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

  VERSION = tfds.core.Version("2.0.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "New bytes: preprocess resize_method 'area_two_pass' (within 1 grey level of "
      "1.0.0's single INTER_AREA resize); videos are decoded to the end of the stream.",
      "2.0.0": "Training windows on consecutive frames (stride 1, a window every 4 frames; was "
      "every 5th frame without overlap, ~300 windows); validation held out by time (the last "
      "validation_fraction of each training video, every frame, a gap of one window span after "
      "the last training frame; was a random 20% of the training windows); split_seed removed; "
      "metadata `counts` (checked against the published dataset) and "
      "`anomalous_frames_outside_crop`.",
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
    test_labels, outside_crop = _test_labels(
        test_pairs, arrays, self._preprocess_config(), self._raw_tolerance_frames
    )
    labels |= test_labels
    train_names, test_names = [_name(v) for v in train_videos], [_name(v) for v, _ in test_pairs]
    splits = _cut_splits(config, train_names, test_names, labels)
    video_builder.check_not_empty(
        splits,
        f"cuhk_avenue/{config.name}",
        "Use longer or more training videos, or a smaller stride/train_hop.",
    )
    facts = _check_data(
        labels, train_names, test_names, outside_crop, synthetic_data=_is_synthetic(root)
    )

    def window_labels(name: str, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
      return np.full(len(frames), raw_formats.NO_LABEL, np.int64), labels[name][frames]

    return self._split_examples(
        splits,
        arrays,
        names,
        window_labels,
        video_fps=[video.probe(paths[n]).fps for n in names],
        **facts,
    )

  def _preprocess_config(self) -> preprocess.PreprocessConfig:
    return preprocess.PreprocessConfig.from_dict(self.builder_config.preprocess)

  def raw_input_files(
      self, manual_dir: pathlib.Path
  ) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """The training and test videos and the test label files (`find_avenue_recordings`)."""
    train_videos, test_pairs = raw_formats.find_avenue_recordings(manual_dir)
    return [*train_videos, *(v for v, _ in test_pairs)], [m for _, m in test_pairs]


def _name(path: str | pathlib.Path) -> str:
  """'<folder>/<stem>' of a video: 'training_videos/01'."""
  path = pathlib.Path(path)
  return f"{path.parent.name}/{path.stem}"


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


def _is_synthetic(root: pathlib.Path) -> bool:
  """Whether `root` holds recordings written by `mouseflax.synthetic` (its completion marker)."""
  return (root / synthetic.MARKER_NAME).is_file()


def _test_labels(
    test_pairs, arrays, cfg: preprocess.PreprocessConfig, tolerance_frames: int = 0
) -> tuple[dict, int]:
  """({test video name: per-frame labels}, anomalous frames whose mask the crop removes)."""
  labels, outside_crop = {}, 0
  for test_video, mat in test_pairs:
    masks = _test_masks(test_video, mat, len(arrays[_name(test_video)][0]), tolerance_frames)
    labels[_name(test_video)] = raw_formats.avenue_frame_labels(masks)
    outside_crop += crop_removed_anomalies(masks, cfg)
  return labels, outside_crop


def _test_masks(
    video: pathlib.Path, mat: pathlib.Path, num_frames: int, tolerance_frames: int = 0
) -> list[np.ndarray]:
  """The label masks of the first `num_frames` (decoded) frames; a count mismatch is logged.

  Raises:
    raw_formats.RawDataError: the video is more than `tolerance_frames` shorter than its masks.
  """
  masks = raw_formats.read_avenue_masks(mat)
  raw_formats.check_label_count(
      mat, len(masks), num_frames, video_path=video, tolerance_frames=tolerance_frames
  )
  if len(masks) != num_frames:
    logging.warning(
        "%s: %d decoded frames but %d label masks in %s; frames past the masks get none "
        "and are dropped.",
        video,
        num_frames,
        len(masks),
        mat,
    )
  return masks[:num_frames]


def _check_data(
    labels, train_names, test_names, outside_crop, *, synthetic_data: bool
) -> dict[str, Any]:
  """Checks the counts against the published ones, logs the crop figure; returns the metadata."""
  counts = {
      "train_videos": len(train_names),
      "test_videos": len(test_names),
      "train_frames": sum(len(labels[name]) for name in train_names),
      "test_frames": sum(len(labels[name]) for name in test_names),
  }
  check_counts(counts, synthetic_data=synthetic_data)
  anomalous = int(sum(labels[name].sum() for name in test_names))
  logging.info(
      "cuhk_avenue: %d of %d anomalous test frames have their mask entirely in the rows the "
      "centre crop removes (their label marks nothing the model sees).",
      outside_crop,
      anomalous,
  )
  return {
      "counts": counts,
      "published_counts": PUBLISHED_COUNTS,
      "anomalous_test_frames": anomalous,
      "anomalous_frames_outside_crop": outside_crop,
  }


def crop_removed_anomalies(masks: list[np.ndarray], cfg: preprocess.PreprocessConfig) -> int:
  """Anomalous frames whose mask lies entirely in rows the centre crop removes.

  A mask row reaches the crop when the area resize mixes it into a kept row
  (`preprocess.rows_reaching_crop`); the masks are at the video's resolution.
  """
  count = 0
  for mask in masks:
    marked_rows = np.any(mask, axis=1)
    if marked_rows.any() and not np.any(
        marked_rows & preprocess.rows_reaching_crop(len(mask), cfg)
    ):
      count += 1
  return count


def check_counts(counts: Mapping[str, int], *, synthetic_data: bool) -> None:
  """Warns (loudly for real data) when the videos or frames found are not the published ones."""
  differ = {
      key: (counts[key], expected)
      for key, expected in PUBLISHED_COUNTS.items()
      if counts[key] != expected
  }
  if not differ:
    return
  found = ", ".join(
      f"{key} {got} (published {expected})" for key, (got, expected) in differ.items()
  )
  if synthetic_data:
    logging.info("cuhk_avenue: synthetic recordings differ from the published counts: %s.", found)
    return
  logging.warning(
      "\n%s\ncuhk_avenue: THE RECORDINGS IN manual_dir ARE NOT THE PUBLISHED CUHK AVENUE: %s.\n"
      "Check that manual_dir holds the whole, unmodified dataset (missing or re-encoded videos, "
      "a partial download): AUCs on other data are not comparable with the paper's.\n%s",
      WARNING_RULE,
      found,
      WARNING_RULE,
  )


def _cut_splits(config: AvenueConfig, train_names, test_names, labels):
  """Split name -> list of (video name, frame indices) windows, as in the module docstring."""
  splits = {"train": [], "validation": [], "test": []}
  hop = config.train_hop or config.sequence_length * config.stride
  for name in train_names:
    cut = windows.hold_out_by_time(
        len(labels[name]),
        validation_fraction=config.validation_fraction,
        length=config.sequence_length,
        stride=config.stride,
        hop=hop,
    )
    splits["train"] += [(name, frames) for frames in cut.train]
    splits["validation"] += [(name, frames) for frames in cut.validation]
  splits["test"] = [
      (name, frames)
      for name in test_names
      for frames in windows.covering_windows(len(labels[name]), length=config.sequence_length)
  ]
  logging.info(
      "cuhk_avenue: windows per split %s.", {split: len(items) for split, items in splits.items()}
  )
  return splits
