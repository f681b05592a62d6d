"""Orbax checkpoints of the train state: the last N, plus the best N by validation loss.

Each checkpoint holds the train state (parameters, optimiser state, step, RNG key) and a small JSON
`progress` record (epoch, step within the epoch, steps per epoch) so a rerun resumes at the same
data position. Restoring places every array with the caller's sharding, so a checkpoint written by
an n-device run restores on m devices. `restore_for_eval` picks and restores the checkpoint an
evaluation uses: the trainer's, `mouseflax.score`'s and the tests' are the same.

Faults:
- A checkpoint that cannot be read (a data file cut short, a damaged metadata file) is skipped with
  a warning naming its folder, and the next older one is restored (`restore_newest_readable`); a
  resumed run sets the skipped ones aside into `<workdir>/checkpoints_unreadable/` (never deleted)
  once an older one restored, so the steps it trains again can be saved. When none can be read,
  `UnreadableCheckpointError` names the folder to remove.
- A save checks the free space first (the state's bytes plus `CHECKPOINT_OVERHEAD_BYTES`), and a
  disk-full or permission error from orbax/tensorstore (which report errno as `os_error_code`)
  becomes `fileio.OutputWriteError` naming the checkpoint folder and the fix.
"""

import errno
import os
import pathlib
import re
import shutil
from typing import Any

from absl import logging
import jax
import ml_collections
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers

from mouseflax import distributed
from mouseflax import fileio

CHECKPOINT_DIR = "checkpoints"
UNREADABLE_DIR = "checkpoints_unreadable"  # Beside CHECKPOINT_DIR: skipped checkpoints, kept.
VAL_LOSS_KEY = "val_loss"
ORBAX_SOURCE_MARKER = f"{os.sep}orbax{os.sep}"  # In the path of every orbax module.
# A checkpoint's files beyond its arrays (metadata, sharding, manifests: ~70 KB measured for the
# tiny model), with a margin.
CHECKPOINT_OVERHEAD_BYTES = 2**20
# How tensorstore reports the errno of a failed file operation inside its error text.
OS_ERROR_CODE = re.compile(r"os_error_code='?(\d+)")


class CheckpointNotFoundError(FileNotFoundError):
  """The run folder holds no complete checkpoint; the message names it."""


class UnreadableCheckpointError(ValueError):
  """No checkpoint of the run folder can be read; the message names the folder and the fix."""


class _DropOrbaxInfo:
  """A filter of absl's logger: drops orbax's INFO/DEBUG records (hundreds per run) only."""

  def filter(self, record: Any) -> bool:
    """Keeps `record` (a logging.LogRecord) unless it is an orbax record below WARNING."""
    warning = logging.converter.STANDARD_WARNING
    return record.levelno >= warning or ORBAX_SOURCE_MARKER not in record.pathname


def quiet_orbax_info_logs() -> None:
  """Keeps orbax's per-save INFO chatter out of the console; called by the command-line tools."""
  absl_logger = logging.get_absl_logger()
  if not any(isinstance(f, _DropOrbaxInfo) for f in absl_logger.filters):
    absl_logger.addFilter(_DropOrbaxInfo())


def _val_loss(metrics: dict[str, float]) -> float:
  return metrics[VAL_LOSS_KEY]


def create_manager(
    workdir: str | os.PathLike, ckpt_config: ml_collections.ConfigDict
) -> ocp.CheckpointManager:
  """A manager keeping `keep_last` latest and `keep_best` lowest-validation-loss checkpoints."""
  if ckpt_config.keep_last < 1 or ckpt_config.keep_best < 0:
    raise ValueError(
        f"config.ckpt.keep_last must be >= 1 and config.ckpt.keep_best >= 0, got "
        f"{ckpt_config.keep_last} and {ckpt_config.keep_best}."
    )
  policy = checkpoint_managers.AnyPreservationPolicy(
      [
          checkpoint_managers.LatestN(n=ckpt_config.keep_last),
          # reverse=True sorts descending, so the n kept at the end are the lowest losses.
          checkpoint_managers.BestN(
              get_metric_fn=_val_loss,
              reverse=True,
              n=ckpt_config.keep_best,
              keep_checkpoints_without_metrics=False,
          ),
      ]
  )
  options = ocp.CheckpointManagerOptions(
      best_fn=_val_loss,
      best_mode="min",
      preservation_policy=policy,
      # Synchronous saves: a killed run never leaves a checkpoint half-written behind its back.
      enable_async_checkpointing=False,
      create=True,
  )
  directory = pathlib.Path(workdir).resolve() / CHECKPOINT_DIR
  return ocp.CheckpointManager(directory, options=options, item_names=("state", "progress"))


def _check_free_space(directory: pathlib.Path, state: Any) -> None:
  """Raises OutputWriteError (disk full) when `directory` cannot hold one more checkpoint."""
  needed = sum(getattr(leaf, "nbytes", 0) for leaf in jax.tree.leaves(state))
  needed += CHECKPOINT_OVERHEAD_BYTES
  if shutil.disk_usage(directory).free < needed:
    raise fileio.explain(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), directory)


def explain_write_error(
    error: Exception, directory: pathlib.Path
) -> fileio.OutputWriteError | None:
  """An OutputWriteError naming `directory` for a disk-full/permission error of orbax, else None."""
  if isinstance(error, OSError):
    code = error.errno
  else:
    match = OS_ERROR_CODE.search(str(error))
    code = int(match[1]) if match else None
  if code is None:
    return None
  os_error = OSError(code, os.strerror(code))
  return fileio.explain(os_error, directory) if fileio.has_advice(os_error) else None


def save(
    manager: ocp.CheckpointManager,
    step: int,
    state: Any,
    progress: dict[str, int],
    val_loss: float | None = None,
) -> None:
  """Saves state + progress at `step`; `val_loss` ranks it among the best (None: latest only).

  Raises:
    fileio.OutputWriteError: the disk is full, or the folder cannot be written (module docstring).
  """
  directory = pathlib.Path(manager.directory)
  _check_free_space(directory, state)
  metrics = None if val_loss is None else {VAL_LOSS_KEY: float(val_loss)}
  try:
    manager.save(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), progress=ocp.args.JsonSave(progress)
        ),
        metrics=metrics,
        force=True,
    )
    manager.wait_until_finished()
  except Exception as e:  # pylint: disable=broad-exception-caught  # Re-raised unless explained.
    explained = explain_write_error(e, directory)
    if explained is None:
      raise
    raise explained from e


def restore(manager: ocp.CheckpointManager, step: int, target_state: Any) -> tuple[Any, dict]:
  """Restores (state, progress) at `step`, placed like `target_state` (shapes, dtypes, sharding)."""
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target_state)
  restored = manager.restore(
      step,
      args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract), progress=ocp.args.JsonRestore()
      ),
  )
  return restored["state"], dict(restored["progress"])


def _step_dir(manager: ocp.CheckpointManager, step: int) -> pathlib.Path:
  return pathlib.Path(manager.directory) / str(step)


def _first_line(error: BaseException) -> str:
  text = str(error).strip()
  return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def restore_newest_readable(
    manager: ocp.CheckpointManager, candidates: list[int], target_state: Any
) -> tuple[Any, dict, int, list[int]]:
  """Restores the first of `candidates` that can be read; (state, progress, step, skipped steps).

  Raises:
    UnreadableCheckpointError: none can be read (the message names the folder to remove).
  """
  skipped, last_error = [], None
  for step in candidates:
    try:
      state, progress = restore(manager, step, target_state)
    except Exception as e:  # pylint: disable=broad-exception-caught  # tensorstore: plain Exception.
      logging.warning(
          "Checkpoint %s cannot be read (%s): skipped, trying an older one.",
          _step_dir(manager, step),
          _first_line(e),
      )
      skipped.append(step)
      last_error = e
      continue
    return state, progress, step, skipped
  raise UnreadableCheckpointError(
      f"No checkpoint in {manager.directory} can be read (steps {skipped}; the last error: "
      f"{_first_line(last_error)}). If its files are damaged, remove or move away that folder to "
      "train from scratch; if this config is not the run's, use the run's config.json."
  )


def set_aside(manager: ocp.CheckpointManager, skipped: list[int]) -> list[pathlib.Path]:
  """Moves the checkpoints of `skipped` steps into UNREADABLE_DIR (kept, never deleted).

  Called by a resumed run once an older checkpoint restored: the run then saves those steps again.
  Returns the new folders (the primary process moves them; the others wait).
  """
  directory = pathlib.Path(manager.directory)
  target = directory.parent / UNREADABLE_DIR
  moved = []
  if distributed.is_primary():
    for step in skipped:
      destination = target / str(step)
      while destination.exists():  # The same step failed before: keep both.
        destination = destination.with_name(destination.name + "_")
      destination.parent.mkdir(parents=True, exist_ok=True)
      os.replace(_step_dir(manager, step), destination)
      logging.warning(
          "Unreadable checkpoint %s moved to %s.", _step_dir(manager, step), destination
      )
      moved.append(destination)
  distributed.barrier("set_aside_checkpoints")
  manager.reload()
  return moved


def evaluated_step(manager: ocp.CheckpointManager, *, use_best: bool) -> int | None:
  """The step an evaluation uses (None: no checkpoint).

  The best by validation loss when `use_best` and one is ranked, else the latest.
  """
  if use_best and manager.best_step() is not None:
    return manager.best_step()
  return manager.latest_step()


def restore_for_eval(
    manager: ocp.CheckpointManager, target_state: Any, *, use_best: bool
) -> tuple[Any, int]:
  """Restores the checkpoint `evaluated_step` picks into `target_state`'s layout; (state, step).

  A checkpoint that cannot be read is skipped (with a warning) for the newest readable one.

  Raises:
    CheckpointNotFoundError: the manager's folder holds no complete checkpoint.
    UnreadableCheckpointError: it holds some, none of which can be read.
  """
  step = evaluated_step(manager, use_best=use_best)
  if step is None:
    raise CheckpointNotFoundError(
        f"No complete checkpoint in {manager.directory}: train the run first "
        "(python -m mouseflax.main --config=... --workdir=...)."
    )
  others = sorted((s for s in manager.all_steps() if s != step), reverse=True)
  state, _, restored, _ = restore_newest_readable(manager, [step, *others], target_state)
  return state, restored
