"""Tests of mouseflax.distributed: settings from flags or the environment; global arrays.

One process here (with the two host devices CI forces, or one); the 2-process run itself is
tests/test_multiprocess.py.
"""

import jax
import numpy as np
import pytest

from mouseflax import distributed


@pytest.fixture
def no_env(monkeypatch):
  for name in (
      distributed.COORDINATOR_ENV,
      distributed.NUM_PROCESSES_ENV,
      distributed.PROCESS_ID_ENV,
  ):
    monkeypatch.delenv(name, raising=False)
  return monkeypatch


def _mesh() -> jax.sharding.Mesh:
  return jax.sharding.Mesh(np.asarray(jax.devices()), ("data",))


def _sharding(*spec) -> jax.sharding.NamedSharding:
  return jax.sharding.NamedSharding(_mesh(), jax.sharding.PartitionSpec(*spec))


def test_settings_default_to_one_process(no_env):
  assert distributed.resolve_settings() == distributed.ProcessSettings("", 1, 0)
  distributed.initialize(distributed.resolve_settings())  # A no-op with one process.
  assert jax.process_count() == 1 and distributed.is_primary()


def test_settings_come_from_the_environment_and_flags_win(no_env):
  no_env.setenv(distributed.COORDINATOR_ENV, "10.0.0.1:1234")
  no_env.setenv(distributed.NUM_PROCESSES_ENV, "4")
  no_env.setenv(distributed.PROCESS_ID_ENV, "3")
  assert distributed.resolve_settings() == distributed.ProcessSettings("10.0.0.1:1234", 4, 3)
  assert distributed.resolve_settings("h:1", 2, 1) == distributed.ProcessSettings("h:1", 2, 1)


@pytest.mark.parametrize(
    "address, count, index, message",
    [
        ("h:1", 2, 2, "process_id"),
        ("h:1", 0, 0, "num_processes"),
        ("", 2, 0, "coordinator"),
        ("hostonly", 2, 1, "host:port"),
    ],
)
def test_bad_settings_raise(no_env, address, count, index, message):
  with pytest.raises(distributed.DistributedConfigError, match=message):
    distributed.resolve_settings(address, count, index)


def test_non_integer_environment_value_names_the_variable(no_env):
  no_env.setenv(distributed.NUM_PROCESSES_ENV, "two")
  with pytest.raises(distributed.DistributedConfigError, match=distributed.NUM_PROCESSES_ENV):
    distributed.resolve_settings()


def test_one_process_holds_every_row():
  batch = 2 * jax.device_count()
  assert distributed.local_rows(_sharding(None, "data"), (3, batch), axis=1) == slice(0, batch)


def test_global_from_local_and_host_to_global_keep_values_and_shard_rows():
  values = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
  sharding = _sharding(None, "data")
  built = distributed.global_from_local(sharding, {"x": values}, lambda v: v.shape)["x"]
  copied = distributed.host_to_global(sharding, {"x": values})["x"]
  for array in (built, copied):
    assert array.sharding == sharding
    np.testing.assert_array_equal(np.asarray(array), values)
    assert {s.data.shape for s in array.addressable_shards} == {(3, 4 // jax.device_count(), 5)}


def test_primary_first_runs_once_per_process():
  calls = []
  assert distributed.primary_first(lambda: calls.append(1) or "done", "test") == "done"
  assert calls == [1]
