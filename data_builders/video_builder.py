"""What every mouseflax video builder shares: the base class, record features, protocol helpers.

Each builder (`mouse_behavior`, `cuhk_avenue`, `own_videos`) preprocesses videos in chunks, in
worker processes or on Apache Beam, into a temporary cache beside the records
(`data_builders.video_cache`; the records do not depend on how), cuts 8-frame
sequences from the cache with `mouseflax.windows`, and yields them through one example generator
(`VideoSequenceBuilder._split_examples`), serialised deterministically. Every builder holds its
validation split out the same way (`windows.hold_out_by_time`): the end of each training video by
time, every frame in consecutive windows, one training-window span after the last training frame.

Each build also stores a fingerprint of the raw files it read (`raw_input_files`, metadata
`raw_inputs`: `data_builders.raw_inputs`), and its cache folder is named after its process
(`.preprocess-<host>-<pid>-*`), so the next build after a killed one can remove it
(`mouseflax.build_data`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
import contextlib
import dataclasses
import hashlib
import json
import os
import pathlib
import tempfile
from typing import Any
from unittest import mock

import numpy as np
import tensorflow_datasets as tfds

import data_builders
from data_builders import raw_inputs
from data_builders import video_cache
from mouseflax import beam_runner
from mouseflax import chunks
from mouseflax import fileio
from mouseflax import preprocess
from mouseflax import streams

# Protocol defaults the builders share (Nwokedi et al. 2021, section 2.3): training windows take
# every 5th frame, and 20% of the training data validates (held out by time at the end of each
# training video: `mouseflax.windows.hold_out_by_time`; the paper draws a random 20% of windows).
PAPER_STRIDE = 5
PAPER_VALIDATION_FRACTION = 0.2
HASH_CHARS = 8  # Hex digits of the parameter hash in custom config names.
# Fields every TFDS BuilderConfig has (name, version, ...): not part of a protocol.
_TFDS_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(tfds.core.BuilderConfig))

# (video name, frame indices [T]) -> (behavior [T], anomaly [T]), both int64.
LabelsFn = Callable[[str, np.ndarray], tuple[np.ndarray, np.ndarray]]
Window = tuple[str, np.ndarray]  # (video name, frame indices [T]).


def default_preprocess() -> dict[str, Any]:
  """The paper's preprocessing as a builder config field (a dict: BuilderConfigs are stored)."""
  return preprocess.PreprocessConfig().to_dict()


def protocol_of(
    config: tfds.core.BuilderConfig, to_json: Callable[[Any], Any] = lambda value: value
) -> dict[str, Any]:
  """A builder config's own parameters as a JSON-able dict (stored in the dataset's metadata)."""
  return {
      f.name: to_json(getattr(config, f.name))
      for f in dataclasses.fields(config)
      if f.name not in _TFDS_CONFIG_FIELDS
  }


def protocol_hash(protocol: dict[str, Any]) -> str:
  """A short stable hash of a builder config's parameters, for config names that never collide."""
  text = json.dumps(protocol, sort_keys=True, default=str)
  return hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]


def sequence_features(length: int, preprocess_config: dict[str, Any]) -> tfds.features.FeaturesDict:
  """One example = one sequence of `length` frames (ARCHITECTURE.md tensor conventions).

  No per-feature zlib: array_record already compresses (zlib saved only ~17% more on synthetic
  records and doubled the read time per record).
  """
  height, width = preprocess.PreprocessConfig.from_dict(preprocess_config).crop_hw
  channels = streams.STREAM_CHANNELS
  return tfds.features.FeaturesDict(
      {
          "gray": tfds.features.Tensor(
              shape=(length, height, width, channels["gray"]), dtype=np.uint8
          ),
          "flow": tfds.features.Tensor(
              shape=(length, height, width, channels["flow"]), dtype=streams.FLOW_DTYPE
          ),
          "behavior": tfds.features.Tensor(shape=(length,), dtype=np.int64),
          "anomaly": tfds.features.Tensor(shape=(length,), dtype=np.int64),
          "frame_index": tfds.features.Tensor(shape=(length,), dtype=np.int64),
          "video": np.int64,
      }
  )


@contextlib.contextmanager
def deterministic_serialization() -> Iterator[None]:
  """Within the block, TFDS serialises examples with sorted proto map keys.

  TFDS 4.9 writes each example's feature map in hash order, which varies with PYTHONHASHSEED, so two
  processes building the same records wrote different bytes (same decoded arrays). Scoped to our
  builds: the patch is undone on exit.
  """
  from tensorflow_datasets.core import example_serializer  # pylint: disable=g-import-not-at-top

  def serialize_example(self, example):
    return self.get_tf_example(example).SerializeToString(deterministic=True)

  with mock.patch.object(
      example_serializer.ExampleSerializer, "serialize_example", serialize_example
  ):
    yield


def missing_data(problem: object, instructions: str) -> data_builders.MissingDataError:
  """A MissingDataError saying what is wrong, then what the builder expects in `manual_dir`."""
  return data_builders.MissingDataError(f"{problem}\nExpected:\n{instructions}")


def manual_dir_or_raise(dl_manager: Any, instructions: str) -> pathlib.Path:
  """`dl_manager.manual_dir`, or a MissingDataError with the instructions (TFDS asserts instead)."""
  try:
    return pathlib.Path(dl_manager.manual_dir)
  except AssertionError as e:
    raise missing_data(e, instructions) from None


def check_not_empty(splits: Mapping[str, Sequence], dataset: str, fix: str) -> None:
  """Raises naming the empty splits (TFDS would fail later with "No examples were yielded")."""
  sizes = {split: len(windows) for split, windows in splits.items()}
  empty = sorted(split for split, size in sizes.items() if not size)
  if empty:
    raise ValueError(
        f"{dataset}: splits {empty} would be empty (sequences per split: {sizes}). {fix}"
    )


class VideoSequenceBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Base of the video builders (not a dataset itself: `skip_registration`)."""

  HOMEPAGE: str | None = None  # The dataset's page, shown in its DatasetInfo.

  def __init__(
      self,
      *,
      num_workers: int = 1,
      raw_tolerance_frames: int = 0,
      chunk_frames: int = chunks.DEFAULT_CHUNK_FRAMES,
      beam: beam_runner.BeamSpec | None = None,
      **kwargs: Any,
  ):
    super().__init__(**kwargs)
    # How videos are preprocessed (`video_cache.preprocess_videos`): processes, chunk length, or
    # Beam workers. None of them changes the bytes.
    self._num_workers = num_workers
    self._chunk_frames = chunk_frames
    self._beam = beam
    # Frames a label file may run past its video's end (raw_formats); does not change the bytes.
    self._raw_tolerance_frames = raw_tolerance_frames
    self._cache_dir: str | None = None
    self._raw_inputs: dict[str, Any] | None = None

  def raw_input_files(
      self, manual_dir: pathlib.Path
  ) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """(videos, annotation/label files) a build reads; FileNotFoundError when there are none."""
    raise NotImplementedError

  def _fingerprint_inputs(self, dl_manager: Any) -> dict[str, Any] | None:
    """The fingerprint of the raw files, taken before they are read; None when they are missing.

    `_split_generators` then raises the builder's own MissingDataError.
    """
    try:
      manual_dir = pathlib.Path(dl_manager.manual_dir)
      return raw_inputs.fingerprint(manual_dir, *self.raw_input_files(manual_dir))
    except (AssertionError, FileNotFoundError):
      return None

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=sequence_features(
            self.builder_config.sequence_length, self.builder_config.preprocess
        ),
        homepage=self.HOMEPAGE,
        # Generation order, by video then time, keeps the test split's reads sequential.
        disable_shuffling=True,
        metadata=tfds.core.MetadataDict(),
    )

  def _download_and_prepare(self, dl_manager, download_config=None) -> None:
    # Preprocessed whole videos (~4 KB per frame) live beside the records only during the build.
    self._raw_inputs = self._fingerprint_inputs(dl_manager)
    prefix = f"{video_cache.CACHE_PREFIX}{fileio.process_tag()}-"
    with (
        tempfile.TemporaryDirectory(prefix=prefix, dir=self.data_dir_root) as cache_dir,
        deterministic_serialization(),
    ):
      self._cache_dir = cache_dir
      try:
        super()._download_and_prepare(dl_manager, download_config)
      finally:
        self._cache_dir = None

  def _preprocess(
      self, paths: Mapping[str, str | os.PathLike], stops: Mapping[str, int] | None = None
  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{video name: (gray, flow)}, preprocessed into this build's cache in worker processes.

    Args:
      paths: {video name: path}, in the order the videos are processed.
      stops: {video name: one past its last frame} for videos used only in part; others whole.
    """
    stops = stops or {}
    return video_cache.preprocess_videos(
        [video_cache.VideoJob(name, str(path), 0, stops.get(name)) for name, path in paths.items()],
        self.builder_config.preprocess,
        cache_dir=self._cache_dir,
        num_workers=self._num_workers,
        chunk_frames=self._chunk_frames,
        beam=self._beam,
    )

  def _split_examples(
      self,
      splits: Mapping[str, Sequence[Window]],
      arrays: Mapping[str, tuple[np.ndarray, np.ndarray]],
      names: Sequence[str],
      labels: LabelsFn,
      **metadata: Any,
  ) -> dict[str, Iterator[tuple[str, dict[str, Any]]]]:
    """Stores the dataset's metadata and returns the example generator of every split.

    `names` is the sorted list of video names (`video_names`, which the `video` feature indexes).
    """
    config = self.builder_config
    self.info.metadata.update(
        video_names=list(names),
        **metadata,
        protocol=config.protocol(),
        preprocess=config.preprocess,
        **{raw_inputs.METADATA_KEY: self._raw_inputs},
    )
    video_ids = {name: i for i, name in enumerate(names)}
    return {
        split: self._generate_examples(windows, arrays, video_ids, labels)
        for split, windows in splits.items()
    }

  def _generate_examples(self, windows, arrays, video_ids, labels):
    """Yields (key, sequence) for each (video name, frame indices) window."""
    for name, frames in windows:
      gray, flow = arrays[name]
      behavior, anomaly = labels(name, frames)
      yield f"{name}/{frames[0]:09d}", {
          "gray": np.asarray(gray[frames]),
          "flow": np.asarray(flow[frames]),
          "behavior": behavior,
          "anomaly": anomaly,
          "frame_index": frames,
          "video": video_ids[name],
      }
