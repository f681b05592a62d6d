"""Input pipeline: builds the records if needed, loads splits as arrays, batches them, flips.

  handle = input_pipeline.prepare(config.data)           # builds once, then reuses
  train = input_pipeline.maybe_to_device(handle.load('train'), config.data)
  for batch in input_pipeline.iterate_batches(train, batch_size=32, seed=0, epoch=epoch):
    inputs = steps.random_hflip(streams.to_model_inputs(batch), rng)

Records are read with `tfds.data_source` (array_record random access; TensorFlow is not needed).
A split is small (the mouse training split is ~200 MB as stored), so it is loaded whole into numpy
and, when it fits under `data.device_max_mb`, put on the device once: batches are then gathered on
the device and the host does no per-step work.

When `data.manual_dir` is empty the same builders run on synthetic recordings written by
`mouseflax.synthetic` into `<data_dir>/synthetic-<hash>/raw`, with records beside them in
`<data_dir>/synthetic-<hash>/`: the hash covers the synthetic sizes and seed, so synthetic records
can never be taken for real ones. Protocol fields that differ from a builder's defaults select a
config named '<name>-<hash of its parameters>', so records built with other parameters are never
reused; a stored protocol that does not match the expected one (e.g. records made before a
preprocessing default changed), or raw files changed since the build, raise
`build_data.StaleRecordsError` (`build_data.check_not_stale`), or rebuild the records when
`data.rebuild_stale` is set; `data.raw_tolerance_frames` is the builders' tolerance for label files
running past their video's end.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
import dataclasses
import hashlib
import json
import os
import pathlib
from typing import Any

from absl import logging
import jax
import numpy as np

from mouseflax import build_data
from mouseflax import preprocess

DATA_DIR_ENV = "MOUSEFLAX_DATA_DIR"
DEFAULT_DATA_DIR = "~/.cache/mouseflax/data"
SYNTHETIC_KINDS = {"mouse_behavior": "home_cage", "cuhk_avenue": "avenue"}
# Datasets read from the folder named by their own data.* field, with no synthetic default.
FOLDER_FIELDS = {"own_videos": "video_dir"}
SYNTHETIC_HASH_CHARS = 8
BYTES_PER_MB = 2**20
# Reading records in chunks bounds the temporary list of per-example dicts.
LOAD_CHUNK = 4096


@dataclasses.dataclass(frozen=True)
class DatasetHandle:
  """A built dataset: `.load(split)` gives its arrays; `.info` its TFDS info (metadata inside)."""

  builder: Any  # tfds.core.DatasetBuilder, read-only.
  preprocess: preprocess.PreprocessConfig
  # Open data sources by split: `read` is called every step in a multi-host run.
  _sources: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

  @property
  def info(self):
    return self.builder.info

  @property
  def video_names(self) -> list[str]:
    return list(self.info.metadata["video_names"])

  def load(self, split: str) -> dict[str, np.ndarray]:
    """Every example of `split`, stacked: {'gray': [N,T,H,W,1] uint8, 'flow': float16, ...}."""
    source = self._source(split)
    columns: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(source), LOAD_CHUNK):
      examples = source.__getitems__(range(start, min(start + LOAD_CHUNK, len(source))))
      for key in examples[0] if examples else ():
        columns.setdefault(key, []).append(np.stack([np.asarray(e[key]) for e in examples]))
    return {key: np.concatenate(parts) for key, parts in columns.items()}

  def num_examples(self, split: str) -> int:
    """Examples in `split` (without reading them)."""
    return len(self._source(split))

  def read(
      self, split: str, indices: np.ndarray, keys: tuple[str, ...] | None = None
  ) -> dict[str, np.ndarray]:
    """Only the examples at `indices` of `split` (in that order), stacked; `keys`: fields kept.

    Random access into the array_record files: a process of a multi-host run reads its own rows of
    each global batch instead of loading the whole split.
    """
    examples = self._source(split).__getitems__([int(i) for i in np.ravel(indices)])
    keys = keys or tuple(examples[0])
    return {key: np.stack([np.asarray(e[key]) for e in examples]) for key in keys}

  def _source(self, split: str) -> Any:
    if split not in self.info.splits:
      raise ValueError(
          f"Unknown split {split!r}; {self.info.full_name} has {sorted(self.info.splits)}."
      )
    if split not in self._sources:
      self._sources[split] = self.builder.as_data_source(split=split)
    return self._sources[split]


# --------------------------------------------------------------------------------------------------
# Building / locating the records.


def resolve_data_dir(data_config: Mapping[str, Any]) -> pathlib.Path:
  """`data.data_dir`, else $MOUSEFLAX_DATA_DIR, else ~/.cache/mouseflax/data."""
  path = data_config["data_dir"] or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
  return pathlib.Path(path).expanduser()


def video_stems(value: str | Sequence[str]) -> tuple[str, ...]:
  """`data.train_videos` as a tuple of stems, each item also split at commas.

  The field is a tuple; a bare `--config.data.train_videos=a,b` reaches it as ('a,b',), and the
  config.json of runs made before it was a tuple holds the text 'a,b': both mean ('a', 'b').
  """
  items = [value] if isinstance(value, str) else list(value)
  return tuple(stem for item in items for stem in item.split(",") if stem)


def preprocess_config(data_config: Mapping[str, Any]) -> preprocess.PreprocessConfig:
  """The preprocessing `config.data` asks for: the paper's, with its flow encoding and scale."""
  return preprocess.PreprocessConfig(
      flow_encoding=data_config["flow_encoding"], flow_scale_px=data_config["flow_scale_px"]
  )


def builder_config(data_config: Mapping[str, Any]) -> Any:
  """The BuilderConfig that `data_config` asks for (named config for defaults, else hashed name)."""
  name, config_name = build_data.parse_dataset(data_config["dataset"])
  module = build_data.builder_module(name)
  preprocess_dict = preprocess_config(data_config).to_dict()
  if name in FOLDER_FIELDS:  # Reads its own data.* fields (data_builders/own_videos).
    return module.config_from_data(data_config, preprocess_dict)
  protocol = {
      "stride": data_config["stride"],
      "validation_fraction": data_config["validation_fraction"],
      "preprocess": preprocess_dict,
  }
  if name == "mouse_behavior":
    protocol |= {
        "num_train_videos": data_config["num_train_videos"],
        "test_fraction": data_config["test_fraction"],
        "test_video": data_config["test_video"],
        "train_videos": video_stems(data_config["train_videos"]),
    }
    return module.make_config(held_out=config_name or module.DEFAULT_HELD_OUT, **protocol)
  if config_name not in (None, module.DEFAULT_CONFIG):
    raise ValueError(
        f"data.dataset={data_config['dataset']!r}: {name} has no config "
        f"{config_name!r}; use {name!r} and the data.* protocol fields."
    )
  return module.make_config(train_hop=data_config["train_hop"], **protocol)


def is_synthetic(data_config: Mapping[str, Any]) -> bool:
  """Whether `prepare` generates the recordings: no `data.manual_dir` and not a folder dataset."""
  name, _ = build_data.parse_dataset(data_config["dataset"])
  return name not in FOLDER_FIELDS and not data_config["manual_dir"]


def _synthetic_dirs(
    name: str, data_config: Mapping[str, Any], seed: int
) -> tuple[str, pathlib.Path]:
  """(kind, folder) of the synthetic recordings and records for `name`."""
  from mouseflax import synthetic  # pylint: disable=g-import-not-at-top  # Only for the default.

  kind = SYNTHETIC_KINDS[name]
  sizes = synthetic_sizes(kind, data_config)
  # The generator version is hashed too: records from older synthetic recordings are never reused.
  text = json.dumps(
      {"kind": kind, "seed": seed, "generator": synthetic.GENERATOR_VERSION, **sizes},
      sort_keys=True,
  )
  digest = hashlib.sha256(text.encode()).hexdigest()[:SYNTHETIC_HASH_CHARS]
  return kind, resolve_data_dir(data_config) / f"synthetic-{kind}-{digest}"


def synthetic_sizes(kind: str, data_config: Mapping[str, Any]) -> dict[str, int]:
  """The size arguments of `synthetic.ensure_synthetic` for `kind` from `data_config`."""
  if kind == "home_cage":
    return {
        "num_videos": data_config["synthetic_videos"],
        "frames_per_video": data_config["synthetic_frames"],
        "test_frames": data_config["synthetic_test_frames"],
    }
  # Avenue has its own length (640x360 frames; `synthetic_frames` is sized for the home cage).
  return {
      "num_train": data_config["synthetic_videos"],
      "num_test": data_config["synthetic_videos"],
      "frames_per_video": data_config["synthetic_avenue_frames"],
  }


def prepare(data_config: Mapping[str, Any], *, seed: int = 0) -> DatasetHandle:
  """Builds the dataset `data_config` asks for if it is not built yet; returns its handle.

  Args:
    data_config: `config.data`.
    seed: seeds the synthetic recordings (used only when `data.manual_dir` is empty).
  """
  name, _ = build_data.parse_dataset(data_config["dataset"])
  config = builder_config(data_config)
  if name in FOLDER_FIELDS:
    manual_dir = pathlib.Path(data_config[FOLDER_FIELDS[name]]).expanduser()
    data_dir = resolve_data_dir(data_config)
  elif not is_synthetic(data_config):
    manual_dir = pathlib.Path(data_config["manual_dir"]).expanduser()
    data_dir = resolve_data_dir(data_config)
  else:
    from mouseflax import synthetic  # pylint: disable=g-import-not-at-top  # Only for the default.

    kind, data_dir = _synthetic_dirs(name, data_config, seed)
    manual_dir = synthetic.ensure_synthetic(
        kind,
        data_dir / "raw",
        seed=seed,
        num_workers=data_config["build_workers"],
        **synthetic_sizes(kind, data_config),
    )
  builder = build_data.build(
      name,
      manual_dir=manual_dir,
      data_dir=data_dir,
      num_workers=data_config["build_workers"],
      config=config,
      raw_tolerance_frames=data_config["raw_tolerance_frames"],
      rebuild_stale=data_config["rebuild_stale"],
  )
  cfg = preprocess.PreprocessConfig.from_dict(builder.info.metadata["preprocess"])
  return DatasetHandle(builder=builder, preprocess=cfg)


# --------------------------------------------------------------------------------------------------
# Order, batches, device.


def epoch_permutation(num_examples: int, seed: int, epoch: int) -> np.ndarray:
  """The example order of `epoch`: a pure function of (seed, epoch), so a resumed run matches."""
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def iterate_batches(
    arrays: Mapping[str, Any],
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    drop_remainder: bool = True,
) -> Iterator[dict[str, Any]]:
  """Batches of `arrays` (numpy or device arrays) in `epoch_permutation` order (or in order)."""
  num_examples = len(next(iter(arrays.values())))
  order = epoch_permutation(num_examples, seed, epoch) if shuffle else np.arange(num_examples)
  stop = num_examples - num_examples % batch_size if drop_remainder else num_examples
  for start in range(0, stop, batch_size):
    indices = order[start : start + batch_size]
    yield {key: value[indices] for key, value in arrays.items()}


def fits_on_device(arrays: Mapping[str, Any], data_config: Mapping[str, Any]) -> bool:
  """`data.device_resident` and `arrays` fit in `data.device_max_mb` (per device: replicated)."""
  num_bytes = sum(value.nbytes for value in arrays.values())
  return bool(data_config["device_resident"]) and num_bytes <= (
      data_config["device_max_mb"] * BYTES_PER_MB
  )


def maybe_to_device(
    arrays: Mapping[str, np.ndarray], data_config: Mapping[str, Any]
) -> Mapping[str, Any]:
  """`arrays` on the default device when `fits_on_device`, else as they are."""
  num_mb = sum(value.nbytes for value in arrays.values()) / BYTES_PER_MB
  if not fits_on_device(arrays, data_config):
    logging.info("Keeping %.0f MB of examples on the host.", num_mb)
    return arrays
  logging.info("Putting %.0f MB of examples on %s.", num_mb, jax.devices()[0])
  return {key: jax.device_put(value) for key, value in arrays.items()}
