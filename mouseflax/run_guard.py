"""A workdir holds one run: a config that does not fit the run already there is refused, untouched.

`train.train_and_evaluate` calls `prepare_workdir(config, workdir, overwrite=...)` after checking
the config and before reading any data or writing anything:

- The workdir must be a folder this process can create or write (`fileio.check_can_create`).
- When the workdir holds a run (a checkpoint or results.json), the config must agree with the run's
  config.json on every key that defines the run (`RUN_KEYS`: the seed, the dataset and its protocol,
  every model field but `conv_impl`, the optimiser's kind, the batch size and training split), or
  `IncompatibleRunError` names each differing key with both values and offers a new --workdir or
  `--overwrite`. Other keys may change between reruns (more epochs, another learning rate or data
  path, evaluation settings). After the data is prepared, `check_preprocess` compares the records'
  preprocessing with the run's preprocess.json the same way.
- `overwrite=True` first removes the run's files (`run_paths`: config.json, preprocess.json,
  metrics.jsonl, tensorboard/, checkpoints/, checkpoints_unreadable/, results.json, threshold.json,
  scores/, roc.png, timeline.png and score's cached validation_errors_step*.npz) and nothing else.

A run whose config differs used to fail deep inside orbax after config.json had been overwritten,
leaving a trained run that could no longer be scored.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import json
import pathlib
import shutil
from typing import Any

from absl import logging
import ml_collections

from mouseflax import checkpointing
from mouseflax import distributed
from mouseflax import evaluate
from mouseflax import fileio
from mouseflax import input_pipeline
from mouseflax import metric_writers
from mouseflax import models
from mouseflax import run_files
from mouseflax import score

# Keys that define a run: a rerun with another value is another run. Whole groups end with '.'.
RUN_KEYS = (
    "seed",
    "data.dataset",
    "data.stride",
    "data.validation_fraction",
    "data.num_train_videos",
    "data.train_videos",
    "data.test_video",
    "data.test_fraction",
    "data.train_hop",
    "data.video_fraction",
    "data.flow_encoding",
    "data.flow_scale_px",
    "model.",
    "optim.name",
    "train.batch_size",
    "train.train_split",
)
# Keys of the groups above that do not change the run (the same parameters, computed another way).
NOT_RUN_KEYS = ("model.conv_impl",)
# Keys that define a synthetic run's recordings (compared when both configs are synthetic).
SYNTHETIC_KEYS = (
    "data.synthetic_videos",
    "data.synthetic_frames",
    "data.synthetic_test_frames",
    "data.synthetic_avenue_frames",
)
DATA_SOURCE_KEY = "data source"  # Synthetic or real recordings, derived from the data.* fields.
OVERWRITE_FLAG = "--overwrite"


class IncompatibleRunError(ValueError):
  """The workdir holds a run of another config; the message names the differing keys."""


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
  flat = {}
  for key, value in values.items():
    if isinstance(value, Mapping):
      flat |= _flatten(value, f"{prefix}{key}.")
    else:
      flat[f"{prefix}{key}"] = value
  return flat


def _run_defining(flat: Mapping[str, Any]) -> dict[str, Any]:
  """The run-defining entries of a flattened config.json, comparable across JSON round trips."""
  keys = [
      k
      for k in flat
      if any(k == r or (r.endswith(".") and k.startswith(r)) for r in RUN_KEYS)
      and k not in NOT_RUN_KEYS
  ]
  chosen = {k: flat[k] for k in keys}
  if "data.train_videos" in chosen:  # A tuple, a list after JSON, or 'a,b' in older runs.
    chosen["data.train_videos"] = list(input_pipeline.video_stems(chosen["data.train_videos"]))
  data = {k.removeprefix("data."): v for k, v in flat.items() if k.startswith("data.")}
  if "dataset" in data and "manual_dir" in data:
    synthetic = input_pipeline.is_synthetic(data)
    chosen[DATA_SOURCE_KEY] = "synthetic" if synthetic else "recordings"
    if synthetic:
      chosen |= {k: flat[k] for k in SYNTHETIC_KEYS if k in flat}
  return chosen


def config_as_stored(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """`config` as config.json holds it (what the trainer writes)."""
  return json.loads(config.to_json_best_effort())


def _absent_model_fields(flat: Mapping[str, Any]) -> dict[str, Any]:
  """`model.<field>`: the module default of each model field a stored config lacks (a run of an
  older version is rebuilt with the defaults, e.g. `centre_inputs` off), so that resuming it with
  today's config defaults is refused instead of training another function."""
  name = flat.get("model.name")
  if name not in models.MODELS:
    return {}
  return {
      f"model.{f.name}": f.default
      for f in dataclasses.fields(models.get_model(name))
      if f.init and f.default is not dataclasses.MISSING and f"model.{f.name}" not in flat
  }


def differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
  """`key: <run's value> in the run, <value> now` for each run-defining key that differs.

  Keys absent from the stored config (a run of an older version) are not compared, except model
  fields, which such a run was built with at their module defaults (`_absent_model_fields`).
  """
  stored_flat = _flatten(stored)
  before = _run_defining(_absent_model_fields(stored_flat) | stored_flat)
  after = _run_defining(_flatten(current))
  return [
      f"{key}: {before[key]!r} in the run, {after.get(key)!r} now"
      for key in sorted(before)
      if key in after and before[key] != after[key]
  ]


def holds_run(workdir: pathlib.Path) -> bool:
  """Whether `workdir` holds something of a run to lose: a checkpoint or results.json."""
  checkpoints = workdir / checkpointing.CHECKPOINT_DIR
  has_checkpoint = checkpoints.is_dir() and any(checkpoints.iterdir())
  return has_checkpoint or (workdir / run_files.RESULTS_FILE).is_file()


def _refuse(workdir: pathlib.Path, what: str, changed: list[str]) -> IncompatibleRunError:
  return IncompatibleRunError(
      f"--workdir={workdir} holds a run with another {what} ({'; '.join(changed)}); its "
      f"checkpoints do not belong to this config. Use a new --workdir, rerun with the run's own "
      f"config ({workdir / run_files.CONFIG_FILE}), or pass {OVERWRITE_FLAG} to delete that run "
      "and train from scratch."
  )


def _read_json(path: pathlib.Path) -> Any:
  try:
    return json.loads(path.read_text(encoding="utf-8"))
  except (OSError, ValueError) as e:
    raise IncompatibleRunError(
        f"{path} cannot be read ({e}), so the run in {path.parent} cannot be compared with this "
        f"config: use a new --workdir, or pass {OVERWRITE_FLAG} to delete that run."
    ) from e


def stored_config(workdir: pathlib.Path) -> dict[str, Any] | None:
  """The config.json of the run in `workdir`, or None when it holds no run."""
  stored_path = workdir / run_files.CONFIG_FILE
  if not holds_run(workdir) or not stored_path.is_file():
    return None
  return _read_json(stored_path)


def check_compatible(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> None:
  """Raises IncompatibleRunError if `workdir` holds a run whose config.json differs on RUN_KEYS."""
  stored = stored_config(workdir)
  if stored is None:
    return
  changed = differences(stored, config_as_stored(config))
  if changed:
    raise _refuse(workdir, "config", changed)


def check_preprocess(preprocess_config: Mapping[str, Any], workdir: pathlib.Path) -> None:
  """Raises IncompatibleRunError if the records' preprocessing is not the run's preprocess.json."""
  stored_path = workdir / run_files.PREPROCESS_FILE
  if not holds_run(workdir) or not stored_path.is_file():
    return
  stored = _read_json(stored_path)
  current = json.loads(json.dumps(dict(preprocess_config)))
  changed = [
      f"preprocess.{key}: {stored.get(key)!r} in the run, {current.get(key)!r} now"
      for key in sorted(set(stored) | set(current))
      if stored.get(key) != current.get(key)
  ]
  if changed:
    raise _refuse(workdir, "preprocessing of its records", changed)


def run_paths(workdir: pathlib.Path) -> list[pathlib.Path]:
  """The files and folders of the run in `workdir` that exist (what `--overwrite` removes).

  Checkpoints first and config.json last: a removal cut short leaves no checkpoint behind a config.
  """
  names = [
      checkpointing.CHECKPOINT_DIR,
      checkpointing.UNREADABLE_DIR,
      run_files.RESULTS_FILE,
      run_files.THRESHOLD_FILE,
      metric_writers.METRICS_FILE,
      metric_writers.TENSORBOARD_DIR,
      evaluate.SCORES_DIR,
      evaluate.ROC_FILE,
      evaluate.TIMELINE_FILE,
      run_files.PREPROCESS_FILE,
  ]
  paths = [workdir / name for name in names]
  paths += sorted(workdir.glob(score.VALIDATION_ERRORS_FILE.format(step="*")))
  paths.append(workdir / run_files.CONFIG_FILE)
  return [p for p in paths if p.exists()]


def remove_run(workdir: pathlib.Path) -> list[pathlib.Path]:
  """Removes `run_paths(workdir)`; returns them. Other files in the workdir stay."""
  removed = run_paths(workdir)
  for path in removed:
    try:
      if path.is_dir():
        shutil.rmtree(path)
      else:
        path.unlink()
    except OSError as e:
      raise fileio.explain(e, path) from e
  return removed


def prepare_workdir(
    config: ml_collections.ConfigDict, workdir: pathlib.Path, *, overwrite: bool = False
) -> None:
  """Checks (or, with `overwrite`, empties) the workdir before a run reads data or writes a file."""
  fileio.check_can_create(workdir)
  if not overwrite:
    check_compatible(config, workdir)
    return
  if distributed.is_primary():
    removed = remove_run(workdir)
    if removed:
      logging.warning(
          "%s: removed the previous run in %s: %s",
          OVERWRITE_FLAG,
          workdir,
          ", ".join(p.name for p in removed),
      )
  distributed.barrier("overwrite_workdir")
