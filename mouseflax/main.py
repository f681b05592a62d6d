"""Main job: train, checkpoint, evaluate. All logic lives in `mouseflax.train`.

  python -m mouseflax.main --config=configs/demo.py --workdir=workdirs/demo
  python -m mouseflax.main --config=configs/cae_hang.py --workdir=workdirs/cae_hang \
      --config.data.manual_dir=/data/jhuang --config.train.epochs=10

Every config field can be overridden on the command line (`--config.<group>.<field>=value`).
Rerunning the same command resumes from the latest checkpoint in --workdir; a config that does not
fit the run already there is refused before anything is written (`mouseflax.run_guard`), and
--overwrite deletes that run's files first (README.md, "What happens when things go wrong"). A
user error ends as one line, `error: ...` (--verbose: with its traceback). Several hosts: run the
same command on each, adding --coordinator_address=HOST0:PORT --num_processes=N --process_id=i (or
the variables $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES, $JAX_PROCESS_ID), with a --workdir every
host sees (README.md, "Scaling out").
"""

import json

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from mouseflax import checkpointing
from mouseflax import cli
from mouseflax import distributed
from mouseflax import train

_WORKDIR = flags.DEFINE_string("workdir", None, "Run folder: checkpoints, metrics, results.")
config_flags.DEFINE_config_file(
    "config", None, "Config file, e.g. configs/demo.py.", lock_config=True
)
flags.mark_flags_as_required(["config", "workdir"])
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "Delete the run already in --workdir (mouseflax.run_guard.run_paths) first."
)
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "Multi-host: process 0's host:port ($JAX_COORDINATOR_ADDRESS)."
)
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", None, "Multi-host: processes in the run ($JAX_NUM_PROCESSES; default 1)."
)
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", None, "Multi-host: this process's index, 0 writes the files ($JAX_PROCESS_ID)."
)

# results.json keys printed at the end of a run.
SUMMARY_KEYS = (
    "auc",
    "auc_macro",
    "n_test_frames",
    "n_anomalous_frames",
    "final_val_loss",
    "train_seconds",
    "num_devices",
)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  checkpointing.quiet_orbax_info_logs()
  distributed.initialize(
      distributed.resolve_settings(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  )
  logging.info(
      "JAX %s, backend %s, %d device(s), process %d of %d.",
      jax.__version__,
      jax.default_backend(),
      jax.device_count(),
      jax.process_index(),
      jax.process_count(),
  )
  results = train.train_and_evaluate(flags.FLAGS.config, _WORKDIR.value, overwrite=_OVERWRITE.value)
  summary = {k: results[k] for k in SUMMARY_KEYS if k in results} or results
  if distributed.is_primary():
    print(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
  cli.run(main)
