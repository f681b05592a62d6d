"""Two processes on one machine (CPU, one device each, jax.distributed on loopback) train together.

Each process calls `train_and_evaluate` twice: the first call stops after a few steps (checkpoint
written by both processes), the second resumes from that checkpoint and finishes the epoch (restore
across processes, evaluation); one launch saves a second start-up of JAX and the coordinator. Its
loss trajectory and final parameters must match a single-process run with the same global batch,
and only process 0 writes files. Records are random arrays (fakes.FakeHandle) read by index, the way
a process of a multi-host run reads its rows of each batch.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np

from mouseflax import train

NUM_PROCESSES = 2
PROCESS_TIMEOUT_S = 240
STOP_AFTER_STEPS = 3  # Of the 6 steps of the tiny epoch (24 sequences, batch 4).
LOOPBACK = "127.0.0.1"


_PROCESS = """
import sys
sys.path.insert(0, {tests!r})
from mouseflax import distributed
distributed.initialize(distributed.resolve_settings({address!r}, {num_processes}, {process_id}))
import fakes
from absl import logging
logging.set_verbosity(logging.INFO)  # The resume message is checked.
from mouseflax import input_pipeline, train
input_pipeline.prepare = lambda data_config, seed=0: fakes.FakeHandle()
for stop in ({stop}, 0):
  result = train.train_and_evaluate(fakes.tiny_config(train__stop_after_steps=stop),
                                    {workdir!r})
  print("RESULT_KEYS", sorted(result))
"""


def _free_port() -> int:
  with socket.socket() as sock:
    sock.bind((LOOPBACK, 0))
    return sock.getsockname()[1]


def _launch(workdir: pathlib.Path, stop: int, cache_dir: pathlib.Path) -> list[tuple[str, str]]:
  """Runs the job as NUM_PROCESSES processes of one CPU device each; returns (stdout, stderr)s."""
  env = {
      **os.environ,
      "JAX_PLATFORMS": "cpu",
      "XLA_FLAGS": "",
      "JAX_COMPILATION_CACHE_DIR": str(cache_dir),
      "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
      "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
  }
  address = f"{LOOPBACK}:{_free_port()}"
  procs = [
      subprocess.Popen(
          [
              sys.executable,
              "-c",
              _PROCESS.format(
                  tests=str(fakes.TESTS),
                  address=address,
                  num_processes=NUM_PROCESSES,
                  process_id=i,
                  stop=stop,
                  workdir=str(workdir),
              ),
          ],
          env=env,
          stdout=subprocess.PIPE,
          stderr=subprocess.PIPE,
          text=True,
      )
      for i in range(NUM_PROCESSES)
  ]
  outputs = []
  try:
    for i, proc in enumerate(procs):
      out, err = proc.communicate(timeout=PROCESS_TIMEOUT_S)
      assert proc.returncode == 0, f"process {i}:\n{err[-3000:]}"
      outputs.append((out, err))
  finally:
    for proc in procs:  # Only after a failure or timeout: a survivor would wait for its peer.
      if proc.poll() is None:
        proc.kill()
        proc.wait()
  return outputs


def test_two_processes_match_one_and_resume_from_their_checkpoint(tmp_path, fake_data):
  cache = tmp_path / "xla_cache"
  workdir = tmp_path / "two_processes"
  outputs = _launch(workdir, STOP_AFTER_STEPS, cache)
  for out, err in outputs:
    assert "RESULT_KEYS ['stopped_at_step']" in out, out
    assert f"Resumed from step {STOP_AFTER_STEPS}" in err, err[-3000:]
  # Only process 0 evaluates into files and returns the metrics.
  assert "'auc'" in outputs[0][0] and "'auc'" not in outputs[1][0]

  config = fakes.tiny_config(mesh__data_parallelism=1)
  train.train_and_evaluate(config, tmp_path / "one_process")

  two, one = fakes.train_losses(workdir), fakes.train_losses(tmp_path / "one_process")
  assert len(two) == len(one) == fakes.SPLIT_SIZES["train"] // config.train.batch_size
  np.testing.assert_allclose(two, one, atol=1e-5, rtol=0)
  # The 2-process checkpoint restores in this single process and holds the same parameters.
  fakes.assert_trees_close(
      fakes.final_params(workdir, config),
      fakes.final_params(tmp_path / "one_process", config),
      atol=1e-5,
  )
  results = json.loads((workdir / "results.json").read_text())
  assert results["num_processes"] == NUM_PROCESSES and results["num_devices"] == NUM_PROCESSES
