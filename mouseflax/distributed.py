"""Multi-process (multi-host) helpers: start-up, who writes, and global batches from local data.

One process runs per host (or per accelerator group); all of them run the same program on one global
`data` mesh. Start-up comes from flags or the environment:

  JAX_COORDINATOR_ADDRESS=10.0.0.1:1234 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 python -m
  mouseflax.main ...

With one process every helper here is a no-op (or the plain single-host operation), so the trainer
has a single code path. Each process ships only its rows of each global batch
(`jax.make_array_from_process_local_data`); small arrays every process holds whole (validation and
test batches) become global arrays with `host_to_global`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
import os
from typing import Any, TypeVar

import jax
from jax.experimental import multihost_utils
import numpy as np

COORDINATOR_ENV = "JAX_COORDINATOR_ADDRESS"
NUM_PROCESSES_ENV = "JAX_NUM_PROCESSES"
PROCESS_ID_ENV = "JAX_PROCESS_ID"
PRIMARY_PROCESS = 0
# Seconds every process waits for the others to join; a missing host fails the run after this.
INITIALIZATION_TIMEOUT_S = 300

T = TypeVar("T")


class DistributedConfigError(ValueError):
  """Inconsistent multi-process settings (flags or environment)."""


@dataclasses.dataclass(frozen=True)
class ProcessSettings:
  """How this process joins the run: `num_processes == 1` means no coordination at all."""

  coordinator_address: str = ""
  num_processes: int = 1
  process_id: int = 0


def _env_int(name: str, default: int) -> int:
  text = os.environ.get(name, "")
  if not text:
    return default
  if not text.lstrip("-").isdigit():
    raise DistributedConfigError(f"${name}={text!r}: expected an integer.")
  return int(text)


def resolve_settings(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> ProcessSettings:
  """Settings from the arguments (flags), falling back to $JAX_COORDINATOR_ADDRESS etc.

  Raises:
    DistributedConfigError: a value is out of range, or several processes lack a coordinator.
  """
  address = coordinator_address or os.environ.get(COORDINATOR_ENV, "")
  count = num_processes if num_processes is not None else _env_int(NUM_PROCESSES_ENV, 1)
  index = process_id if process_id is not None else _env_int(PROCESS_ID_ENV, 0)
  if count < 1 or not 0 <= index < count:
    raise DistributedConfigError(
        f"num_processes={count}, process_id={index}: need num_processes >= 1 and "
        f"0 <= process_id < num_processes (--num_processes/--process_id or ${NUM_PROCESSES_ENV}/"
        f"${PROCESS_ID_ENV})."
    )
  if count > 1 and ":" not in address:
    raise DistributedConfigError(
        f"num_processes={count} needs the coordinator as host:port (process 0's address), got "
        f"{address!r}: pass --coordinator_address or set ${COORDINATOR_ENV}."
    )
  return ProcessSettings(address, count, index)


def initialize(settings: ProcessSettings) -> None:
  """Joins the run (`jax.distributed.initialize`) when there are several processes.

  Must run before anything touches a device. With one process it does nothing.
  """
  if settings.num_processes == 1:
    return
  jax.distributed.initialize(
      coordinator_address=settings.coordinator_address,
      num_processes=settings.num_processes,
      process_id=settings.process_id,
      initialization_timeout=INITIALIZATION_TIMEOUT_S,
  )


def is_primary() -> bool:
  """True on the one process that writes logs, metrics, plots and results."""
  return jax.process_index() == PRIMARY_PROCESS


def barrier(name: str) -> None:
  """Waits until every process reaches `name` (nothing to wait for with one process)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def primary_first(fn: Callable[[], T], name: str) -> T:
  """Runs `fn` on the primary process, then on the others (e.g. build records once, then read)."""
  if is_primary():
    result = fn()
    barrier(name)
    return result
  barrier(name)
  return fn()


def local_rows(sharding: jax.sharding.Sharding, global_shape: tuple[int, ...], axis: int) -> slice:
  """The contiguous range along `axis` that this process's devices hold under `sharding`."""
  index_map = sharding.addressable_devices_indices_map(global_shape)
  ranges = [index[axis].indices(global_shape[axis]) for index in index_map.values()]
  start, stop = min(r[0] for r in ranges), max(r[1] for r in ranges)
  held = sum(r[1] - r[0] for r in {(r[0], r[1]) for r in ranges})
  if held != stop - start:  # Never with a 1-D mesh of jax.devices() in order.
    raise ValueError(f"This process's rows along axis {axis} are not contiguous: {sorted(ranges)}.")
  return slice(start, stop)


def global_from_local(
    sharding: jax.sharding.Sharding,
    local: Mapping[str, np.ndarray],
    global_shape: Callable[[np.ndarray], tuple[int, ...]],
) -> dict[str, Any]:
  """Global arrays assembled from each process's rows (`local`: this process's slice only)."""
  return {
      k: jax.make_array_from_process_local_data(sharding, v, global_shape(v))
      for k, v in local.items()
  }


def host_to_global(sharding: jax.sharding.Sharding, tree: T) -> T:
  """Global arrays from numpy arrays that every process holds whole (each device takes its part)."""

  def to_global(value):
    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

  return jax.tree.map(to_global, tree)
