"""Builds the TFDS datasets in data_builders/ without TensorFlow (the `tfds build` CLI needs it).

  python -m mouseflax.build_data --dataset=mouse_behavior/hang --manual_dir=DIR --data_dir=DIR
  python -m mouseflax.build_data --dataset=cuhk_avenue --manual_dir="DIR/Avenue Dataset" \
      --data_dir=DIR

The module also holds what both builders share: preprocessing whole videos in a process pool (with a
progress log) into memory-mapped arrays, and cutting those arrays into fixed-length sequences.

Atomicity: TFDS writes every split into an `incomplete.*` folder and renames it to `<version>/` only
after all splits and `dataset_info.json` are written, so an interrupted build never reads as
complete.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import contextlib
import dataclasses
import hashlib
import importlib
import json
import multiprocessing
import os
import pathlib
import shutil
import time
from typing import Any
from unittest import mock

from absl import app
from absl import flags
from absl import logging
import numpy as np

# Dataset name -> module holding its `Builder` (the exact `tfds new` layout).
BUILDER_MODULES = {
    "mouse_behavior": "data_builders.mouse_behavior.mouse_behavior_dataset_builder",
    "cuhk_avenue": "data_builders.cuhk_avenue.cuhk_avenue_dataset_builder",
    "own_videos": "data_builders.own_videos.own_videos_dataset_builder",
}
FILE_FORMAT = "array_record"
# Records are written in generation order (video, then time), which keeps test reads sequential.
GRAY_SUFFIX = ".gray.npy"
FLOW_SUFFIX = ".flow.npy"
# Flow is stored as float16 (values in [0,1], resolution ~5e-4 there): half the bytes of float32;
# No per-feature zlib: array_record already compresses (zlib saved only ~17% more on synthetic
# records and doubled the read time per record).
FLOW_DTYPE = np.float16
HASH_CHARS = 8  # Hex digits of the parameter hash in custom config names.
# Frames buffered per array before a write to disk while preprocessing a video (~4 MB for gray +
# float16 flow at 24x32): bounds a worker's memory whatever the video's length.
WRITE_CHUNK_FRAMES = 1024
COPY_BUFFER_BYTES = 2**20  # Buffer of the raw -> .npy copy at the end of a video.


class MissingDataError(FileNotFoundError):
  """Raw recordings are missing from `manual_dir`; the message lists the expected paths."""


class StaleRecordsError(ValueError):
  """Records on disk were built with other parameters than the config asks for."""


@dataclasses.dataclass(frozen=True)
class VideoJob:
  """One video to preprocess: frames [start, stop) of `path`, stored under `name`."""

  name: str
  path: str
  start: int = 0
  stop: int | None = None


# --------------------------------------------------------------------------------------------------
# Parallel preprocessing of whole videos.


class _NpyStreamWriter:
  """Writes a .npy array of frames appended one at a time, in constant memory.

  Frames collect in a preallocated buffer of `WRITE_CHUNK_FRAMES` that is flushed to a raw file; the
  frame count is known only at the end (decoding reads to the end of the stream), so `close()` then
  writes the .npy header and copies the raw bytes behind it (disk I/O, no memory) and renames the
  result into place. Nothing with the final name exists before that.
  """

  def __init__(self, path: pathlib.Path, dtype: np.dtype):
    self.path, self.dtype, self.count = path, np.dtype(dtype), 0
    self._raw_path = path.with_name(path.name + ".raw.tmp")
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
    tmp = self.path.with_name(self.path.name + ".tmp")
    with open(tmp, "wb") as out, open(self._raw_path, "rb") as raw:
      np.lib.format.write_array_header_1_0(out, header)
      shutil.copyfileobj(raw, out, COPY_BUFFER_BYTES)
    os.replace(tmp, self.path)
    self.discard()

  def discard(self) -> None:
    """Removes the temporary raw file (after close, or on failure)."""
    self._raw.close()
    self._raw_path.unlink(missing_ok=True)


def _preprocess_job(args: tuple[VideoJob, dict[str, Any], str]) -> tuple[str, int, float]:
  """Pool worker: preprocesses one video and saves its arrays as .npy files in `cache_dir`.

  Memory stays constant in the video's length: frames stream through `_NpyStreamWriter`s (a one-hour
  recording no longer sits in Python lists; see benchmarks/README.md, "Data throughput").
  """
  from mouseflax import preprocess  # pylint: disable=g-import-not-at-top  # Imported in the worker.

  job, cfg_dict, cache_dir = args
  started = time.perf_counter()
  cfg = preprocess.PreprocessConfig.from_dict(cfg_dict)
  cache_dir = pathlib.Path(cache_dir)
  writers = (
      _NpyStreamWriter(cache_dir / (job.name + GRAY_SUFFIX), np.uint8),
      _NpyStreamWriter(cache_dir / (job.name + FLOW_SUFFIX), FLOW_DTYPE),
  )
  try:
    for _, gray, flow in preprocess.preprocess_video(job.path, cfg, start=job.start, stop=job.stop):
      writers[0].append(gray)
      writers[1].append(flow)
    if not writers[0].count:
      raise MissingDataError(f"{job.path}: no frames decoded in [{job.start}, {job.stop}).")
    for writer in writers:
      writer.close()
  finally:
    for writer in writers:
      writer.discard()
  return job.name, writers[0].count, time.perf_counter() - started


def preprocess_videos(
    jobs: Sequence[VideoJob],
    preprocess_config: dict[str, Any],
    *,
    cache_dir: str | os.PathLike,
    num_workers: int = 1,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """Preprocesses whole videos in parallel; returns name -> (gray uint8, flow float16) memmaps.

  Args:
    jobs: the videos (or parts of videos) to preprocess; names must be unique file stems.
    preprocess_config: `PreprocessConfig.to_dict()`.
    cache_dir: where the arrays are saved (the caller removes it after the build).
    num_workers: processes; 1 runs in this process (no start-up cost, easier to debug).

  Returns:
    For each job name, gray [N,H,W,1] uint8 and flow [N,H,W,2] float16, memory-mapped read-only.
  """
  names = [job.name for job in jobs]
  if len(set(names)) != len(names):
    raise ValueError(f"Video names must be unique, got {names}.")
  args = [(job, preprocess_config, str(cache_dir)) for job in jobs]
  started = time.perf_counter()
  for done, (name, frames, seconds) in enumerate(_run_jobs(args, num_workers), start=1):
    logging.info(
        "Preprocessed %d/%d videos: %s (%d frames in %.1f s, %.0f frames/s); " "%.0f s so far.",
        done,
        len(jobs),
        name,
        frames,
        seconds,
        frames / max(seconds, 1e-9),
        time.perf_counter() - started,
    )
  return {name: _load_arrays(cache_dir, name) for name in names}


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


def manual_dir_or_raise(dl_manager: Any, instructions: str) -> pathlib.Path:
  """`dl_manager.manual_dir`, or a MissingDataError with the instructions (TFDS asserts instead)."""
  try:
    return pathlib.Path(dl_manager.manual_dir)
  except AssertionError as e:
    raise MissingDataError(f"{e}\nExpected:\n{instructions}") from None


def sequence_features(length: int, preprocess_config: dict[str, Any]):
  """One example = one sequence of `length` frames (ARCHITECTURE.md tensor conventions)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  # Slow: only here.

  from mouseflax import preprocess  # pylint: disable=g-import-not-at-top

  height, width = preprocess.PreprocessConfig.from_dict(preprocess_config).crop_hw
  return tfds.features.FeaturesDict(
      {
          "gray": tfds.features.Tensor(shape=(length, height, width, 1), dtype=np.uint8),
          "flow": tfds.features.Tensor(shape=(length, height, width, 2), dtype=FLOW_DTYPE),
          "behavior": tfds.features.Tensor(shape=(length,), dtype=np.int64),
          "anomaly": tfds.features.Tensor(shape=(length,), dtype=np.int64),
          "frame_index": tfds.features.Tensor(shape=(length,), dtype=np.int64),
          "video": np.int64,
      }
  )


def protocol_hash(protocol: dict[str, Any]) -> str:
  """A short stable hash of a builder config's parameters, for config names that never collide."""
  text = json.dumps(protocol, sort_keys=True, default=str)
  return hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]


# --------------------------------------------------------------------------------------------------
# Cutting videos into sequences (frame-index tables; the builders gather the frames).


def strided_windows(num_frames: int, *, length: int, stride: int, hop: int) -> np.ndarray:
  """Frame indices [K, length] of windows taking every `stride`-th frame, starts `hop` apart.

  With hop = length * stride the windows do not overlap (the paper's training sequences).
  """
  if min(length, stride, hop) < 1:
    raise ValueError(f"length, stride and hop must be >= 1, got {length}, {stride}, {hop}.")
  span = (length - 1) * stride + 1
  starts = np.arange(0, num_frames - span + 1, hop, dtype=np.int64)
  return starts[:, None] + stride * np.arange(length, dtype=np.int64)[None, :]


def covering_windows(num_frames: int, *, length: int) -> np.ndarray:
  """Consecutive non-overlapping windows [K, length] covering every frame of [0, num_frames).

  A tail that does not fill a window is covered by one last window aligned to the end, so its first
  frames appear twice (the evaluator averages per frame).
  """
  if num_frames < length:
    raise ValueError(f"Cannot cover {num_frames} frames with windows of {length} frames.")
  starts = list(range(0, num_frames - length + 1, length))
  if starts[-1] + length < num_frames:
    starts.append(num_frames - length)
  return np.asarray(starts, np.int64)[:, None] + np.arange(length, dtype=np.int64)[None, :]


def split_train_validation(
    num_examples: int, *, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
  """A deterministic split of range(num_examples): (train, validation) sorted index arrays."""
  if not 0.0 <= validation_fraction < 1.0:
    raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}.")
  order = np.random.default_rng(seed).permutation(num_examples)
  num_validation = int(round(num_examples * validation_fraction))
  return np.sort(order[num_validation:]), np.sort(order[:num_validation])


def check_not_empty(splits: dict[str, list], dataset: str, fix: str) -> None:
  """Raises naming the empty splits (TFDS would fail later with "No examples were yielded")."""
  sizes = {split: len(windows) for split, windows in splits.items()}
  empty = sorted(split for split, size in sizes.items() if not size)
  if empty:
    raise ValueError(
        f"{dataset}: splits {empty} would be empty (sequences per split: {sizes}). {fix}"
    )


# --------------------------------------------------------------------------------------------------
# The build entry point.


def builder_module(name: str) -> Any:
  """The module of dataset `name` (e.g. 'mouse_behavior'): `Builder`, `make_config`."""
  if name not in BUILDER_MODULES:
    raise ValueError(f"Unknown dataset {name!r}; valid names: {sorted(BUILDER_MODULES)}.")
  return importlib.import_module(BUILDER_MODULES[name])


def parse_dataset(dataset: str) -> tuple[str, str | None]:
  """'mouse_behavior/hang' -> ('mouse_behavior', 'hang'); 'cuhk_avenue' -> ('cuhk_avenue', None)."""
  name, _, config = dataset.partition("/")
  return name, (config or None)


def build(
    dataset: str,
    *,
    manual_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    num_workers: int = 1,
    config: Any = None,
):
  """Builds `dataset` ('name' or 'name/config') from `manual_dir` into `data_dir`.

  Args:
    dataset: e.g. 'mouse_behavior/hang' or 'cuhk_avenue'.
    manual_dir: the raw recordings, laid out as the builder's MANUAL_DOWNLOAD_INSTRUCTIONS say.
    data_dir: where the records go (`<data_dir>/<name>/<config>/<version>/`).
    num_workers: processes preprocessing videos in parallel.
    config: optional custom BuilderConfig (replaces the '/config' part of `dataset`).

  Returns:
    The prepared builder; an already complete build is reused, not rebuilt.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  # Slow: only here.

  name, config_name = parse_dataset(dataset)
  cls = builder_module(name).Builder
  manual_dir = pathlib.Path(manual_dir).expanduser()
  if not manual_dir.is_dir():
    raise MissingDataError(
        f"manual_dir {manual_dir} does not exist.\n{cls.MANUAL_DOWNLOAD_INSTRUCTIONS}"
    )
  if config is not None and config.name in cls.builder_configs:
    config = config.name  # TFDS refuses a second config object under a registered name.
  builder = cls(
      config=config or config_name,
      data_dir=os.fspath(data_dir),
      file_format=FILE_FORMAT,
      num_workers=num_workers,
  )
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual_dir))
  )
  check_not_stale(builder)
  return builder


def _json_roundtrip(value: Any) -> Any:
  return json.loads(json.dumps(value, default=str))


def check_not_stale(builder: Any) -> None:
  """Raises StaleRecordsError when the records' stored protocol is not the builder config's.

  A complete build is reused by TFDS on its name and version alone; the protocol (which holds the
  preprocessing parameters) catches records made before a default changed under the same name.
  """
  config = builder.builder_config
  if not hasattr(config, "protocol"):
    return
  stored = _json_roundtrip(builder.info.metadata.get("protocol"))
  expected = _json_roundtrip(config.protocol())
  if stored != expected:
    changed = sorted(
        key
        for key in set(stored or {}) | set(expected)
        if (stored or {}).get(key) != expected.get(key)
    )
    raise StaleRecordsError(
        f"Records in {builder.data_dir} were built with protocol {stored}, but the config asks "
        f"for {expected} (differing: {changed}). Delete that folder to rebuild it, or build into "
        "another data_dir (config.data.data_dir / --data_dir)."
    )


def _define_flags() -> None:
  """CLI flags, defined only when run as a script so importing this module defines none."""
  flags.DEFINE_string("dataset", "mouse_behavior/hang", "name[/config] of the dataset.")
  flags.DEFINE_string("manual_dir", None, "Folder with the raw recordings.")
  flags.DEFINE_string("data_dir", None, "Folder the records are written to.")
  flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Preprocessing processes.")
  flags.DEFINE_string("test_video", "", "mouse_behavior: override the test video (file stem).")
  flags.DEFINE_list("train_videos", [], "mouse_behavior: override the training videos (stems).")


def _config_from_flags(flag_values: flags.FlagValues) -> Any:
  """A custom BuilderConfig when video overrides are given on the command line, else None."""
  name, config_name = parse_dataset(flag_values.dataset)
  if not (flag_values.test_video or flag_values.train_videos):
    return None
  if name != "mouse_behavior":
    raise app.UsageError("--test_video/--train_videos apply to mouse_behavior only.")
  module = builder_module(name)
  return module.make_config(
      held_out=config_name or module.DEFAULT_HELD_OUT,
      test_video=flag_values.test_video,
      train_videos=tuple(flag_values.train_videos),
  )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  flag_values = flags.FLAGS
  if not flag_values.manual_dir or not flag_values.data_dir:
    raise app.UsageError("--manual_dir and --data_dir are required.")
  builder = build(
      flag_values.dataset,
      manual_dir=flag_values.manual_dir,
      data_dir=flag_values.data_dir,
      num_workers=flag_values.num_workers,
      config=_config_from_flags(flag_values),
  )
  logging.info(
      "Records in %s: %s",
      builder.data_dir,
      {split: info.num_examples for split, info in builder.info.splits.items()},
  )


if __name__ == "__main__":
  _define_flags()
  app.run(main)
