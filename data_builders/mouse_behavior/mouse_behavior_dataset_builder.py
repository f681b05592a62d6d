"""mouse_behavior: Jhuang et al. 2010 home-cage videos cut as in Nwokedi et al. 2021, sec. 2.2-2.3.

One BuilderConfig per held-out ("pseudo-anomalous") behaviour. The protocol, with its parameters in
`MouseBehaviorConfig`:

- Videos: `video_names` (metadata) is the sorted list of the file stems of every recording found;
  the `video` feature indexes it. The test video is `test_video`, or by default the recording whose
  test part (its first `test_fraction` of frames) holds the held-out behaviour, then the most
  distinct behaviours, then the most held-out frames, then comes first by name: the test part holds
  the held-out behaviour whenever any recording's test part does. The training videos are
  `train_videos`, or by default the first `num_train_videos` recordings by sorted name other than
  the test video (the same videos for every held-out behaviour, as in the paper).
- Train/validation: in every training video, windows of `sequence_length` frames taking every
  `stride`-th frame, starting every `sequence_length * stride` frames (no overlap). A window holding
  any frame of the held-out behaviour is dropped (rule: any, not a majority). The kept windows are
  split `validation_fraction` / rest by a permutation seeded with `split_seed`.
- `train_labelled` / `validation_labelled` (for the supervised baseline): the same windows plus the
  dropped ones, these split with the same rule, so `train` is a subset of `train_labelled`.
- Frames used: those with both pixels and a label, i.e. the first min(decoded, annotated) frames of
  a video. The decoded count is exact (decoding reads to the end of the stream; the container's
  count is a short estimate on MPEG-1 .mpg files), so every annotated frame of a complete video is
  used; a mismatch is logged.
- Test: frames [0, floor(test_fraction * N)) of the test video (N: its frames used, above), every
  frame, in consecutive windows of `sequence_length`; a tail shorter than a window is covered by
  one window aligned to its end (those frames appear twice; the evaluator averages per frame).
- Flow: computed between successive frames of the video at full frame rate (as the preprocessor
  streams), then subsampled with the frames: the flow of a strided frame is its motion over 1/fps
  seconds, the same quantity the test frames carry (the paper does not say).
- Frames without annotation (behavior -1) are kept; they are not the held-out behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence
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

DEFAULT_HELD_OUT = "hang"

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download the "full database" of Jhuang et al. 2010 (12 annotated home-cage videos, over 10 hours;
http://serre-lab.clps.brown.edu/resource/homecage-database/) and place it in `manual_dir` so that:

  <manual_dir>/<video>.mpg                             one file per recording (any name)
  <manual_dir>/Annotator_group_1/<video>.txt           its annotation, same stem as the video

(`mouseflax.raw_formats.find_jhuang_recordings` lists what it finds; subfolders are searched.)
Each annotation line is `<prefix>: <start>-<end> <label>` (1-based frames, one line per run).
"""


@dataclasses.dataclass(eq=False)
class MouseBehaviorConfig(tfds.core.BuilderConfig):
  """What changes the bytes on disk: the held-out behaviour and the protocol's parameters."""

  held_out: str = DEFAULT_HELD_OUT  # Behaviour removed from train/validation (the anomaly).
  num_train_videos: int = 6  # Paper: 6 of the 12 videos train + validate.
  train_videos: tuple[str, ...] = ()  # Stems overriding the default rule (module docstring).
  test_video: str = ""  # Stem overriding the default rule.
  sequence_length: int = streams.SEQUENCE_LENGTH  # Frames per sequence (paper: 8).
  stride: int = video_builder.PAPER_STRIDE  # Training windows take every 5th frame (paper).
  test_fraction: float = 0.5  # Paper: the first half of the test video.
  # Paper: 80/20 train/validation.
  validation_fraction: float = video_builder.PAPER_VALIDATION_FRACTION
  split_seed: int = 0  # Seeds the train/validation permutation.
  preprocess: dict[str, Any] = dataclasses.field(default_factory=video_builder.default_preprocess)

  def protocol(self) -> dict[str, Any]:
    """The parameters as a JSON-able dict (stored in the dataset's metadata)."""
    return video_builder.protocol_of(self, _jsonable)


def _jsonable(value: Any) -> Any:
  return list(value) if isinstance(value, tuple) else value


def make_config(held_out: str = DEFAULT_HELD_OUT, **protocol: Any) -> MouseBehaviorConfig:
  """Config '<held_out>' for the paper's defaults, else '<held_out>-<hash of the parameters>'."""
  if held_out not in raw_formats.BEHAVIORS:
    raise ValueError(f"held_out={held_out!r} is not a behaviour; valid: {raw_formats.BEHAVIORS}.")
  config = MouseBehaviorConfig(name=held_out, held_out=held_out, **protocol)
  if config.protocol() != MouseBehaviorConfig(name=held_out, held_out=held_out).protocol():
    config.name = f"{held_out}-{video_builder.protocol_hash(config.protocol())}"
  config.description = f"{held_out} held out; protocol {config.protocol()}"
  return config


@dataclasses.dataclass(frozen=True)
class Recording:
  """One annotated video of the Jhuang layout."""

  name: str
  video: pathlib.Path
  labels: np.ndarray  # int64 per-frame behaviour ids.


class Builder(video_builder.VideoSequenceBuilder):
  """Jhuang home-cage videos as 8-frame gray + flow sequences, one behaviour held out."""

  VERSION = tfds.core.Version("1.2.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release: the protocol of Nwokedi et al. 2021.",
      "1.1.0": "New bytes: preprocess resize_method 'area_two_pass' (within 1 grey level of "
      "1.0.0's single INTER_AREA resize), and the last frame(s) of .mpg videos, which 1.0.0 "
      "dropped (short container frame count), are decoded and used.",
      "1.2.0": "Default test video ranked on its test part (held-out behaviour present, distinct "
      "behaviours, held-out frames, name) instead of the whole annotation, so the test "
      "split holds the held-out behaviour whenever any video's test part does.",
  }
  BUILDER_CONFIGS = [make_config(behavior) for behavior in raw_formats.BEHAVIORS]
  DEFAULT_CONFIG_NAME = DEFAULT_HELD_OUT
  MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS
  HOMEPAGE = "http://serre-lab.clps.brown.edu/resource/homecage-database/"

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config: MouseBehaviorConfig = self.builder_config
    recordings = _find_recordings(
        video_builder.manual_dir_or_raise(dl_manager, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
    )
    names = sorted(recordings)
    test_name = config.test_video or default_test_video(recordings, config)
    train_names = list(config.train_videos) or _default_train_videos(names, test_name, config)
    _check_choice(names, test_name, train_names)
    test_stop = test_part_stop(recordings[test_name], config)
    arrays = self._preprocess(
        {n: recordings[n].video for n in [*train_names, test_name]}, stops={test_name: test_stop}
    )
    labels = {n: recordings[n].labels for n in names}
    splits = _cut_splits(config, arrays, labels, train_names, (test_name, test_stop))
    video_builder.check_not_empty(
        splits,
        f"mouse_behavior/{config.name}",
        "Use longer or more training videos (train_videos / num_train_videos), a smaller stride, "
        "or a held-out behaviour that leaves some sequences.",
    )
    held_out_id = raw_formats.BEHAVIORS.index(config.held_out)

    def window_labels(name: str, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
      behavior = labels[name][frames]
      return behavior, (behavior == held_out_id).astype(np.int64)

    return self._split_examples(
        splits,
        arrays,
        names,
        window_labels,
        train_videos=train_names,
        test_video=test_name,
        video_fps=[video.probe(recordings[n].video).fps for n in names],
        behaviors=list(raw_formats.BEHAVIORS),
        held_out=config.held_out,
    )


def _find_recordings(manual_dir: pathlib.Path) -> dict[str, Recording]:
  """Every (video, annotation) pair in `manual_dir`, by file stem, annotations parsed."""
  try:
    pairs = raw_formats.find_jhuang_recordings(manual_dir)
  except FileNotFoundError as e:
    raise video_builder.missing_data(e, _MANUAL_DOWNLOAD_INSTRUCTIONS) from e
  recordings = {}
  for video_path, annotation in pairs:
    name = pathlib.Path(video_path).stem
    if name in recordings:
      raise ValueError(f"Two recordings named {name!r} in {manual_dir}: rename one.")
    labels = np.asarray(raw_formats.parse_jhuang_annotation(annotation), np.int64)
    recordings[name] = Recording(name, pathlib.Path(video_path), labels)
  return recordings


def test_part_stop(recording: Recording, config: MouseBehaviorConfig) -> int:
  """One past the last test frame: `test_fraction` of the frames with pixels and a label."""
  num_frames = min(video.probe(recording.video).num_frames, len(recording.labels))
  return int(num_frames * config.test_fraction)


def default_test_video(recordings: dict[str, Recording], config: MouseBehaviorConfig) -> str:
  """The module docstring's rule, ranked on each recording's test part (what the test split holds).

  Held-out frames come before the count of distinct behaviours, so that the test split holds the
  held-out behaviour whenever any recording's test part does.
  """
  held_out_id = raw_formats.BEHAVIORS.index(config.held_out)

  def rank(name: str) -> tuple[bool, int, int, str]:
    labels = recordings[name].labels[: test_part_stop(recordings[name], config)]
    held_out_frames = int(np.sum(labels == held_out_id))
    distinct = len(set(labels[labels != raw_formats.NO_LABEL].tolist()))
    return (held_out_frames == 0, -distinct, -held_out_frames, name)

  return min(recordings, key=rank)


def _default_train_videos(
    names: Sequence[str], test_name: str, config: MouseBehaviorConfig
) -> list[str]:
  return [name for name in names if name != test_name][: config.num_train_videos]


def _check_choice(names: Sequence[str], test_name: str, train_names: Sequence[str]) -> None:
  unknown = sorted(set(train_names + [test_name]) - set(names))
  if unknown:
    raise ValueError(f"Videos {unknown} (train_videos/test_video) not found; available: {names}.")
  if test_name in train_names:
    raise ValueError(f"The test video {test_name!r} is also in train_videos; remove it.")
  if len(set(train_names)) != len(train_names):
    raise ValueError(f"train_videos {list(train_names)} names a video twice; list each once.")
  if not train_names:
    raise ValueError("No training videos: add recordings or set train_videos.")


def _cut_splits(config: MouseBehaviorConfig, arrays, labels, train_names, test_video):
  """Split name -> list of (video name, frame indices) windows, as in the module docstring.

  `test_video` is (its name, one past its last test frame).
  """
  kept, dropped = [], []
  for name in train_names:
    num_frames = _aligned_length(name, arrays[name][0], labels[name])
    for frames in windows.strided_windows(
        num_frames,
        length=config.sequence_length,
        stride=config.stride,
        hop=config.sequence_length * config.stride,
    ):
      held_out = np.any(labels[name][frames] == raw_formats.BEHAVIORS.index(config.held_out))
      (dropped if held_out else kept).append((name, frames))
  train, validation = _split(kept, config)
  train_extra, validation_extra = _split(dropped, config)
  test_name, test_stop = test_video
  test_frames = _aligned_length(test_name, arrays[test_name][0], labels[test_name][:test_stop])
  test = [
      (test_name, frames)
      for frames in windows.covering_windows(test_frames, length=config.sequence_length)
  ]
  logging.info(
      "mouse_behavior/%s: %d windows kept, %d dropped (held-out frames), %d test.",
      config.held_out,
      len(kept),
      len(dropped),
      len(test),
  )
  return {
      "train": train,
      "validation": validation,
      "test": test,
      "train_labelled": sorted(train + train_extra, key=_window_key),
      "validation_labelled": sorted(validation + validation_extra, key=_window_key),
  }


def _split(items: list, config: MouseBehaviorConfig) -> tuple[list, list]:
  train, validation = windows.split_train_validation(
      len(items), validation_fraction=config.validation_fraction, seed=config.split_seed
  )
  return [items[i] for i in train], [items[i] for i in validation]


def _window_key(window: tuple[str, np.ndarray]) -> tuple[str, int]:
  return window[0], int(window[1][0])


def _aligned_length(name: str, gray: np.ndarray, labels: np.ndarray) -> int:
  """Frames with both pixels (decoded count, exact) and a label; a mismatch is logged."""
  if len(gray) != len(labels):
    logging.warning(
        "%s: %d decoded frames but %d annotated; using the first %d.",
        name,
        len(gray),
        len(labels),
        min(len(gray), len(labels)),
    )
  return min(len(gray), len(labels))
