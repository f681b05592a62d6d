"""Orbax checkpoints of the train state: the last N, plus the best N by validation loss.

Each checkpoint holds the train state (parameters, optimiser state, step, RNG key) and a small JSON
`progress` record (epoch, step within the epoch, steps per epoch) so a rerun resumes at the same
data position. Restoring places every array with the caller's sharding, so a checkpoint written by
an n-device run restores on m devices. `restore_for_eval` picks and restores the checkpoint an
evaluation uses: the trainer's, `mouseflax.score`'s and the tests' are the same.
"""

import os
import pathlib
from typing import Any

from absl import logging
import jax
import ml_collections
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers

CHECKPOINT_DIR = "checkpoints"
VAL_LOSS_KEY = "val_loss"
ORBAX_SOURCE_MARKER = f"{os.sep}orbax{os.sep}"  # In the path of every orbax module.


class CheckpointNotFoundError(FileNotFoundError):
  """The run folder holds no complete checkpoint; the message names it."""


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


def save(
    manager: ocp.CheckpointManager,
    step: int,
    state: Any,
    progress: dict[str, int],
    val_loss: float | None = None,
) -> None:
  """Saves state + progress at `step`; `val_loss` ranks it among the best (None: latest only)."""
  metrics = None if val_loss is None else {VAL_LOSS_KEY: float(val_loss)}
  manager.save(
      step,
      args=ocp.args.Composite(
          state=ocp.args.StandardSave(state), progress=ocp.args.JsonSave(progress)
      ),
      metrics=metrics,
      force=True,
  )
  manager.wait_until_finished()


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

  Raises:
    CheckpointNotFoundError: the manager's folder holds no complete checkpoint.
  """
  step = evaluated_step(manager, use_best=use_best)
  if step is None:
    raise CheckpointNotFoundError(
        f"No complete checkpoint in {manager.directory}: train the run first "
        "(python -m mouseflax.main --config=... --workdir=...)."
    )
  state, _ = restore(manager, step, target_state)
  return state, step
