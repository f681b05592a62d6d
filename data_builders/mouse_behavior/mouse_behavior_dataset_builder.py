"""mouse_behavior: Jhuang et al. 2010 home-cage videos cut as in Nwokedi et al. 2021, sec. 2.2-2.3.

One BuilderConfig per held-out ("pseudo-anomalous") behaviour. The protocol, with its parameters in
`MouseBehaviorConfig`, is the same for every held-out behaviour (only the windows dropped for
holding it differ):

- Videos: `video_names` (metadata) is the sorted list of the file stems of every recording found;
  the `video` feature indexes it. The test video is `test_video`, or by default the LONGEST
  recording (most frames with pixels and labels; ties: first by name). The training videos are
  `train_videos`, or by default the first `num_train_videos` recordings by sorted name other than
  the test video. Neither choice depends on the held-out behaviour, so `hang` and `groom` runs test
  and train on the same videos, as in the paper. A WARNING is logged when the test video is shorter
  than an hour (the paper's is over an hour) and when its test part holds no frame of the held-out
  behaviour (the AUC is then undefined: None in results.json).
- Frames used: those with both pixels and a label, i.e. the first min(decoded, annotated) frames of
  a video. The decoded count is exact (decoding reads to the end of the stream; the container's
  count is a short estimate on MPEG-1 .mpg files), so every annotated frame of a complete video is
  used; a mismatch is logged. An annotation running past its video's decodable frames (a truncated
  video, or the wrong annotation) is an error naming both files, unless the builder's
  `raw_tolerance_frames` (data.raw_tolerance_frames) allows the difference.
- Validation, held out by time (`mouseflax.windows.hold_out_by_time`): in each training video of N
  frames, the last round(`validation_fraction` * N) frames form one contiguous block, cut into
  consecutive windows of `sequence_length` covering every frame (plus one aligned to the block's
  end), as the test split and `mouseflax.score` cut a video. The paper draws a random 20% of the
  training windows instead; those sit 40 frames from training windows, so the validation loss, the
  stream statistics and the calibrated threshold were fitted on frames next to training frames.
- Train: windows of `sequence_length` frames taking every `stride`-th frame, starting every
  `sequence_length * stride` frames (no overlap), from frames before the validation block minus a
  gap of one window span (`(sequence_length - 1) * stride + 1` frames): no training window touches
  the validation block.
- Held-out behaviour: a train or validation window holding any frame of it is dropped (rule: any,
  not a majority). `train_labelled` / `validation_labelled` (for the supervised baseline) keep
  every window of the same cut, so `train` is a subset of `train_labelled` and `validation` of
  `validation_labelled`.
- Test: frames [0, floor(test_fraction * N)) of the test video (N: its frames used, above), every
  frame, in consecutive windows of `sequence_length`; a tail shorter than a window is covered by
  one window aligned to its end (those frames appear twice; the evaluator averages per frame).
- Flow: computed between successive frames of the video at full frame rate (as the preprocessor
  streams), then subsampled with the frames: the flow of a strided frame is its motion over 1/fps
  seconds, the same quantity the test frames carry (the paper does not say).
- Frames without annotation (behavior -1) are kept; they are not the held-out behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import dataclasses
import functools
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
# The paper's test video is over an hour long; a shorter one gives noisier AUCs (a warning says so).
PAPER_TEST_VIDEO_SECONDS = 3600.0
SECONDS_PER_MINUTE = 60.0
LABELLED_SUFFIX = "_labelled"  # train_labelled / validation_labelled keep the held-out windows.
SPLITS = ("train", "validation", "test", "train_labelled", "validation_labelled")

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
  # Share of each training video, at its end by time, held out for validation (paper: 20%).
  validation_fraction: float = video_builder.PAPER_VALIDATION_FRACTION
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

  @functools.cached_property
  def info(self) -> video.VideoInfo:
    """The video's probe (its decodable frame count is counted once, then kept)."""
    return video.probe(self.video)

  @property
  def usable_frames(self) -> int:
    """Frames with both pixels (the decoded count, exact) and a label."""
    return min(self.info.num_frames, len(self.labels))


class Builder(video_builder.VideoSequenceBuilder):
  """Jhuang home-cage videos as 8-frame gray + flow sequences, one behaviour held out."""

  VERSION = tfds.core.Version("2.0.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release: the protocol of Nwokedi et al. 2021.",
      "1.1.0": "New bytes: preprocess resize_method 'area_two_pass' (within 1 grey level of "
      "1.0.0's single INTER_AREA resize), and the last frame(s) of .mpg videos, which 1.0.0 "
      "dropped (short container frame count), are decoded and used.",
      "1.2.0": "Default test video ranked on its test part (held-out behaviour present, distinct "
      "behaviours, held-out frames, name) instead of the whole annotation, so the test "
      "split holds the held-out behaviour whenever any video's test part does.",
      "2.0.0": "One protocol for every held-out behaviour, validation held out by time. "
      "Test video: the longest recording (ties: first by name), whatever is held out; "
      "training videos: the first num_train_videos others by name. Validation: the last "
      "validation_fraction of each training video, every frame in consecutive windows, a gap "
      "of one window span after the last training frame (was: a random 20% of the strided "
      "windows). split_seed removed; metadata test_video_seconds, test_held_out_frames.",
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
    check_annotations_fit(recordings, self._raw_tolerance_frames)
    names = sorted(recordings)
    test_name = config.test_video or default_test_video(recordings)
    train_names = list(config.train_videos) or default_train_videos(names, test_name, config)
    _check_choice(names, test_name, train_names)
    test_stop = test_part_stop(recordings[test_name], config)
    test_facts = check_test_video(recordings[test_name], test_stop, config)
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
        **test_facts,
    )

  def raw_input_files(
      self, manual_dir: pathlib.Path
  ) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """The videos and annotation files in `manual_dir` (`raw_formats.find_jhuang_recordings`)."""
    pairs = raw_formats.find_jhuang_recordings(manual_dir)
    return [v for v, _ in pairs], [a for _, a in pairs]


def check_annotations_fit(recordings: dict[str, Recording], tolerance_frames: int) -> None:
  """Raises RawDataError when an annotation runs past its video's decodable frames (+ tolerance)."""
  for recording in recordings.values():
    raw_formats.check_annotation_fits(
        raw_formats.jhuang_annotation_path(recording.video),
        video.probe(recording.video).num_frames,
        video_path=recording.video,
        tolerance_frames=tolerance_frames,
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
  return int(recording.usable_frames * config.test_fraction)


def default_test_video(recordings: Mapping[str, Recording]) -> str:
  """The longest recording (most frames with pixels and labels); ties: the first by name.

  The same video for every held-out behaviour (the module docstring's rule).
  """
  return min(recordings, key=lambda name: (-recordings[name].usable_frames, name))


def default_train_videos(
    names: Sequence[str], test_name: str, config: MouseBehaviorConfig
) -> list[str]:
  """The first `num_train_videos` recordings by sorted name, the test video left out."""
  return [name for name in sorted(names) if name != test_name][: config.num_train_videos]


def check_test_video(
    recording: Recording, test_stop: int, config: MouseBehaviorConfig
) -> dict[str, Any]:
  """Warns when the test video is shorter than the paper's or its test part lacks the anomaly.

  Returns the facts as dataset metadata: `test_video_seconds`, `test_held_out_frames`.
  """
  seconds = recording.usable_frames / recording.info.fps
  if seconds < PAPER_TEST_VIDEO_SECONDS:
    logging.warning(
        "mouse_behavior: the test video %s is %.1f min long, shorter than the paper's (over an "
        "hour): its AUCs rest on fewer frames and bouts. Set data.test_video to use another.",
        recording.name,
        seconds / SECONDS_PER_MINUTE,
    )
  held_out_id = raw_formats.BEHAVIORS.index(config.held_out)
  held_out_frames = int(np.sum(recording.labels[:test_stop] == held_out_id))
  if not held_out_frames:
    logging.warning(
        "mouse_behavior/%s: the test part of %s (frames [0, %d)) holds no %r frame: every test "
        "frame is normal, so the AUC is undefined (None in results.json). Choose a test video "
        "whose first %.0f%% holds %r (data.test_video).",
        config.held_out,
        recording.name,
        test_stop,
        config.held_out,
        100 * config.test_fraction,
        config.held_out,
    )
  return {"test_video_seconds": seconds, "test_held_out_frames": held_out_frames}


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
  held_out_id = raw_formats.BEHAVIORS.index(config.held_out)
  splits = {split: [] for split in SPLITS}
  for name in train_names:
    cut = windows.hold_out_by_time(
        _aligned_length(name, arrays[name][0], labels[name]),
        validation_fraction=config.validation_fraction,
        length=config.sequence_length,
        stride=config.stride,
        hop=config.sequence_length * config.stride,
    )
    for split, video_windows in (("train", cut.train), ("validation", cut.validation)):
      for frames in video_windows:
        splits[f"{split}{LABELLED_SUFFIX}"].append((name, frames))
        if not np.any(labels[name][frames] == held_out_id):
          splits[split].append((name, frames))
  test_name, test_stop = test_video
  test_frames = _aligned_length(test_name, arrays[test_name][0], labels[test_name][:test_stop])
  splits["test"] = [
      (test_name, frames)
      for frames in windows.covering_windows(test_frames, length=config.sequence_length)
  ]
  logging.info(
      "mouse_behavior/%s: windows per split %s (train/validation drop those holding %r).",
      config.held_out,
      {split: len(items) for split, items in splits.items()},
      config.held_out,
  )
  return splits


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
