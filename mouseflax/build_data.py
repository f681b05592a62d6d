"""Builds the TFDS datasets in data_builders/ without TensorFlow (the `tfds build` CLI needs it).

  python -m mouseflax.build_data --dataset=mouse_behavior/hang --manual_dir=DIR --data_dir=DIR
  python -m mouseflax.build_data --dataset=cuhk_avenue --manual_dir="DIR/Avenue Dataset" \
      --data_dir=DIR

The builders themselves and what they share (preprocessing whole videos in worker processes, the
record features) live in `data_builders/`; the window maths in `mouseflax.windows`. This module
finds a dataset's builder by name, builds it, and refuses records built with other parameters
(`check_not_stale`).

Atomicity: TFDS writes every split into an `incomplete.*` folder and renames it to `<version>/` only
after all splits and `dataset_info.json` are written, so an interrupted build never reads as
complete.
"""

from __future__ import annotations

from collections.abc import Sequence
import importlib
import json
import os
import pathlib
from typing import Any

from absl import app
from absl import flags
from absl import logging

import data_builders

# Dataset name -> module holding its `Builder` (the exact `tfds new` layout).
BUILDER_MODULES = {
    "mouse_behavior": "data_builders.mouse_behavior.mouse_behavior_dataset_builder",
    "cuhk_avenue": "data_builders.cuhk_avenue.cuhk_avenue_dataset_builder",
    "own_videos": "data_builders.own_videos.own_videos_dataset_builder",
}
FILE_FORMAT = "array_record"


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
    raise data_builders.MissingDataError(
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
