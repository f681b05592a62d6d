"""Builds the TFDS datasets in data_builders/ without TensorFlow (the `tfds build` CLI needs it).

  python -m mouseflax.build_data --dataset=mouse_behavior/hang --manual_dir=DIR --data_dir=DIR
  python -m mouseflax.build_data --dataset=cuhk_avenue --manual_dir="DIR/Avenue Dataset" \
      --data_dir=DIR
  python -m mouseflax.build_data ... --beam_runner=DirectRunner \
      --beam_options="--direct_num_workers=2 --direct_running_mode=multi_processing"

Videos are preprocessed in chunks (`--chunk_frames`, `mouseflax.chunks`) on `--num_workers` local
processes, or on any Apache Beam runner (`--beam_runner`, `--beam_options`: `mouseflax.beam_runner`;
the optional extra `.[beam]`); the records are the same either way, byte for byte.

The builders themselves and what they share (preprocessing whole videos in worker processes, the
record features) live in `data_builders/`; the window maths in `mouseflax.windows`. This module
finds a dataset's builder by name, builds it, and refuses records built with other parameters
(`check_not_stale`).

Atomicity: TFDS writes every split into an `incomplete.*` folder and renames it to `<version>/` only
after all splits and `dataset_info.json` are written, so an interrupted build never reads as
complete.

Faults (README.md, "What happens when things go wrong"):
- A build holds an exclusive lock on its dataset config's folder (`.build.lock`, released by the
  kernel when its process dies, kill -9 included), so a second build of the same records waits and
  then reuses them. Holding it, a build removes what killed builds left: `incomplete.*` folders of
  its config, and `.preprocess-<host>-<pid>-*` caches whose process is gone.
- Reused records are checked against the config (the stored protocol) and against the raw files
  now in `manual_dir` (the stored fingerprints, `data_builders.raw_inputs`): a file edited, added
  or removed raises `StaleRecordsError` naming it, or rebuilds the records with `rebuild_stale`
  (`--rebuild`, `config.data.rebuild_stale`).
- `raw_tolerance_frames` (`--raw_tolerance_frames`, `config.data.raw_tolerance_frames`; default 0)
  allows an annotation or label file to run that many frames past its video's decodable end; beyond
  it the build stops with `raw_formats.RawDataError` naming both files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import contextlib
import fcntl
import importlib
import json
import os
import pathlib
import shutil
from typing import Any

from absl import app
from absl import flags
from absl import logging

import data_builders
from data_builders import raw_inputs
from data_builders import video_cache
from mouseflax import beam_runner
from mouseflax import chunks
from mouseflax import cli
from mouseflax import fileio

# Dataset name -> module holding its `Builder` (the exact `tfds new` layout).
BUILDER_MODULES = {
    "mouse_behavior": "data_builders.mouse_behavior.mouse_behavior_dataset_builder",
    "cuhk_avenue": "data_builders.cuhk_avenue.cuhk_avenue_dataset_builder",
    "own_videos": "data_builders.own_videos.own_videos_dataset_builder",
}
FILE_FORMAT = "array_record"
LOCK_NAME = ".build.lock"  # In <data_dir>/<name>/<config>/, beside the version folders.
REBUILD_HINT = (
    "Rebuild them with --rebuild (build_data) or --config.data.rebuild_stale=True, delete that "
    "folder, or build into another data_dir (config.data.data_dir / --data_dir)."
)


class StaleRecordsError(ValueError):
  """Records on disk were built with other parameters than the config asks for."""


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
    raw_tolerance_frames: int = 0,
    rebuild_stale: bool = False,
    chunk_frames: int = chunks.DEFAULT_CHUNK_FRAMES,
    beam: beam_runner.BeamSpec | None = None,
):
  """Builds `dataset` ('name' or 'name/config') from `manual_dir` into `data_dir`.

  Args:
    dataset: e.g. 'mouse_behavior/hang' or 'cuhk_avenue'.
    manual_dir: the raw recordings, laid out as the builder's MANUAL_DOWNLOAD_INSTRUCTIONS say.
    data_dir: where the records go (`<data_dir>/<name>/<config>/<version>/`).
    num_workers: processes preprocessing videos in parallel.
    config: optional custom BuilderConfig (replaces the '/config' part of `dataset`).
    raw_tolerance_frames: frames a label file may run past its video's end (module docstring).
    rebuild_stale: rebuild complete records that are stale instead of raising StaleRecordsError.
    chunk_frames: videos are preprocessed in chunks of this many frames (0: whole videos), so one
      long recording keeps every worker busy (`mouseflax.chunks`); the records do not depend on it.
    beam: preprocess the chunks on Apache Beam (`mouseflax.beam_runner`): on a cluster runner,
      `data_dir` and `manual_dir` must be on storage every worker mounts.

  Returns:
    The prepared builder; an already complete build is reused, not rebuilt, when it is not stale.
  """
  name, config_name = parse_dataset(dataset)
  cls = builder_module(name).Builder
  manual_dir = pathlib.Path(manual_dir).expanduser()
  if not manual_dir.is_dir():
    raise data_builders.MissingDataError(
        f"manual_dir {manual_dir} does not exist.\n{cls.MANUAL_DOWNLOAD_INSTRUCTIONS}"
    )
  if config is not None and config.name in cls.builder_configs:
    config = config.name  # TFDS refuses a second config object under a registered name.

  def prepared():
    builder = cls(
        config=config or config_name,
        data_dir=os.fspath(data_dir),
        file_format=FILE_FORMAT,
        num_workers=num_workers,
        raw_tolerance_frames=raw_tolerance_frames,
        chunk_frames=chunk_frames,
        beam=beam,
    )
    with build_lock(pathlib.Path(builder.data_dir).parent):
      remove_leftovers(builder)
      _download_and_prepare(builder, manual_dir)
    return builder

  builder = prepared()
  reasons = stale_reasons(builder, manual_dir)
  if reasons and rebuild_stale:
    logging.warning("Rebuilding the stale records in %s: %s", builder.data_dir, "; ".join(reasons))
    _remove_records(builder)
    builder = prepared()
    reasons = stale_reasons(builder, manual_dir)
  if reasons:
    raise StaleRecordsError(
        f"Records in {builder.data_dir} are stale: {'; '.join(reasons)}. {REBUILD_HINT}"
    )
  return builder


def _download_and_prepare(builder: Any, manual_dir: pathlib.Path) -> None:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  # Slow: only here.

  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual_dir))
  )


def _remove_records(builder: Any) -> None:
  """Removes the complete records of `builder` (the version folder, which holds its info)."""
  records = pathlib.Path(builder.data_dir)
  try:
    shutil.rmtree(records)
  except OSError as e:
    raise fileio.explain(e, records) from e


@contextlib.contextmanager
def build_lock(config_dir: pathlib.Path) -> Iterator[None]:
  """Holds the exclusive build lock of a dataset config's folder (waits for another build).

  A folder that cannot be written (records shared read-only) has nothing to build or clean: it is
  read without the lock.
  """
  try:
    config_dir.mkdir(parents=True, exist_ok=True)
    lock = open(config_dir / LOCK_NAME, "a")  # pylint: disable=consider-using-with
  except OSError as e:
    logging.info("No build lock in %s (%s): reading without it.", config_dir, e.strerror)
    yield
    return
  with lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      logging.info("Another process builds the records in %s: waiting for it.", config_dir)
      fcntl.flock(lock, fcntl.LOCK_EX)
    yield  # Closing the file releases the lock.


def remove_leftovers(builder: Any) -> list[pathlib.Path]:
  """Removes what killed builds left (module docstring); call holding the build lock."""
  from tensorflow_datasets.core import constants  # pylint: disable=g-import-not-at-top  # Slow.

  config_dir = pathlib.Path(builder.data_dir).parent
  leftovers = sorted(config_dir.glob(f"{constants.INCOMPLETE_PREFIX}*"))
  root = pathlib.Path(builder.data_dir_root)
  for cache in sorted(root.glob(f"{video_cache.CACHE_PREFIX}*")):
    owner = cache.name.removeprefix(video_cache.CACHE_PREFIX).rpartition("-")[0]
    if fileio.owner_is_gone(owner):
      leftovers.append(cache)
  for path in leftovers:
    logging.warning("Removing %s, left by a build that was killed.", path)
    shutil.rmtree(path, ignore_errors=True)
  return leftovers


def _json_roundtrip(value: Any) -> Any:
  return json.loads(json.dumps(value, default=str))


def _protocol_changes(builder: Any) -> list[str]:
  """The stored protocol (preprocessing included) against the builder config's; [] if equal.

  A complete build is reused by TFDS on its name and version alone; the protocol catches records
  made before a default changed under the same name.
  """
  config = builder.builder_config
  if not hasattr(config, "protocol"):
    return []
  stored = _json_roundtrip(builder.info.metadata.get("protocol"))
  expected = _json_roundtrip(config.protocol())
  if stored == expected:
    return []
  changed = sorted(
      key
      for key in set(stored or {}) | set(expected)
      if (stored or {}).get(key) != expected.get(key)
  )
  return [
      f"they were built with protocol {stored}, but the config asks for {expected} "
      f"(differing: {changed})"
  ]


def _input_changes(builder: Any, manual_dir: pathlib.Path) -> list[str]:
  """The raw files edited, added or removed since the records were built ([] if none)."""
  stored = builder.info.metadata.get(raw_inputs.METADATA_KEY)
  try:
    current = raw_inputs.fingerprint(manual_dir, *builder.raw_input_files(manual_dir))
  except FileNotFoundError as e:
    logging.warning("Raw recordings not found (%s): the records are reused unchecked.", e)
    return []
  if stored is None:
    logging.warning(
        "Records in %s hold no fingerprint of their raw files (an older build): edited raw files "
        "cannot be noticed. Rebuild them (--rebuild) to record one.",
        builder.data_dir,
    )
    return []
  return [
      f"{change} in {manual_dir}" for change in raw_inputs.changes(_json_roundtrip(stored), current)
  ]


def stale_reasons(builder: Any, manual_dir: str | os.PathLike | None = None) -> list[str]:
  """Why the complete records of `builder` do not match its config or the raw files ([] if not)."""
  reasons = _protocol_changes(builder)
  if manual_dir is not None and hasattr(builder, "raw_input_files"):
    reasons += _input_changes(builder, pathlib.Path(manual_dir).expanduser())
  return reasons


def check_not_stale(builder: Any, manual_dir: str | os.PathLike | None = None) -> None:
  """Raises StaleRecordsError naming each reason of `stale_reasons`."""
  reasons = stale_reasons(builder, manual_dir)
  if reasons:
    raise StaleRecordsError(
        f"Records in {builder.data_dir} are stale: {'; '.join(reasons)}. {REBUILD_HINT}"
    )


def _define_flags() -> None:
  """CLI flags, defined only when run as a script so importing this module defines none."""
  flags.DEFINE_string("dataset", "mouse_behavior/hang", "name[/config] of the dataset.")
  flags.DEFINE_string("manual_dir", None, "Folder with the raw recordings.")
  flags.DEFINE_string("data_dir", None, "Folder the records are written to.")
  flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Preprocessing processes.")
  flags.DEFINE_integer(
      "chunk_frames",
      chunks.DEFAULT_CHUNK_FRAMES,
      "Videos are preprocessed in chunks of this many frames, in parallel (0: whole videos).",
      lower_bound=0,
  )
  beam_runner.define_flags("Preprocess the video chunks on Apache Beam with this runner")
  flags.DEFINE_string("test_video", "", "mouse_behavior: override the test video (file stem).")
  flags.DEFINE_list("train_videos", [], "mouse_behavior: override the training videos (stems).")
  flags.DEFINE_bool("rebuild", False, "Rebuild records whose raw files or protocol changed.")
  flags.DEFINE_integer(
      "raw_tolerance_frames",
      0,
      "Frames an annotation/label file may run past its video's decodable end (0: none).",
      lower_bound=0,
  )


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
      raw_tolerance_frames=flag_values.raw_tolerance_frames,
      rebuild_stale=flag_values.rebuild,
      chunk_frames=flag_values.chunk_frames,
      beam=beam_runner.spec_from_flags(flag_values),
  )
  logging.info(
      "Records in %s: %s",
      builder.data_dir,
      {split: info.num_examples for split, info in builder.info.splits.items()},
  )


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
