"""What every benchmark shares: the step timer, the machine/versions block and the flag handling.

Imports neither tensorflow-datasets, ml_collections nor grain (`benchmarks.gpu_paper_schedule` runs
where those are absent), and JAX only inside the functions that time or build JAX programs: the
spawned worker of `benchmarks.data_throughput` re-imports its module and must measure the memory of
preprocessing alone. Results are written with `mouseflax.fileio.write_json_atomic`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import datetime
import importlib
import importlib.metadata
import os
import pathlib
import platform
import sys
import time
from typing import Any

from absl import app
from absl import flags
import numpy as np

from mouseflax import fileio
from mouseflax import streams

CPUINFO = pathlib.Path("/proc/cpuinfo")
# The CPU extensions that decide which kernels XLA:CPU, oneDNN and OpenCV pick (vector width, fused
# multiply-add, half precision, matrix units); the rest of the flags line says nothing about speed.
SPEED_FLAG_PREFIXES = ("sse4", "avx", "fma", "f16c", "amx")
HELP_FLAGS = frozenset({"--help", "-h", "-?", "--helpshort", "--helpfull"})


# --------------------------------------------------------------------------------------------------
# Timing.


def timed_call(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
  """(fn(*args), wall seconds), the seconds including the wait for any JAX arrays it returns."""
  import jax  # pylint: disable=g-import-not-at-top  # Not at import time (module docstring).

  start = time.perf_counter()
  result = jax.block_until_ready(fn(*args))
  return result, time.perf_counter() - start


def seconds(fn: Callable[..., Any], *args: Any) -> float:
  """Wall seconds of one call of fn(*args), waiting for any JAX arrays it returns."""
  return timed_call(fn, *args)[1]


def seconds_per_item(run: Callable[[int], Any], n: int) -> float:
  """Seconds per item of run(n), which processes n items (steps, calls), after run(1) warms up."""
  seconds(run, 1)
  return seconds(run, n) / n


def compile_train_step(step: Callable[..., Any], state: Any, *args: Any) -> tuple[Any, float]:
  """(compiled step, seconds to lower and compile) of a train step jitted with its state donated.

  The trainer's step is jitted and donates its state (its first argument): a step that lost either
  would be timed slower than the trainer runs, so this raises instead. Compiled ahead of the
  timings, it runs once per shape: a call with other shapes raises rather than recompiles.
  """
  import jax  # pylint: disable=g-import-not-at-top  # Not at import time (module docstring).

  if not isinstance(step, jax.stages.Wrapped):
    raise RuntimeError(f"The train step {step!r} is not jitted: the benchmark times the trainer's.")
  compiled, compile_s = timed_call(lambda: step.lower(state, *args).compile())
  (donated_state, *_), _ = compiled.args_info
  if not all(info.donated for info in jax.tree.leaves(donated_state)):
    raise RuntimeError("The train step does not donate its state: it lost its donate_argnums.")
  return compiled, compile_s


def random_records(num: int, seed: int) -> dict[str, np.ndarray]:
  """`num` random sequences as stored (uint8 gray, float16 flow in [0, 1]): training data for a
  speed measurement."""
  from benchmarks import conv_flops  # pylint: disable=g-import-not-at-top  # Loads JAX.

  rng = np.random.default_rng(seed)
  shape = (num, *conv_flops.SEQUENCE_SHAPE)
  channels = streams.STREAM_CHANNELS
  return {
      "gray": rng.integers(
          0, np.iinfo(np.uint8).max, (*shape, channels["gray"]), dtype=np.uint8, endpoint=True
      ),
      "flow": rng.random((*shape, channels["flow"]), dtype=np.float32).astype(streams.FLOW_DTYPE),
  }


# --------------------------------------------------------------------------------------------------
# The machine and the software: recorded beside every number.


def cpu_model() -> str:
  """The CPU model name (/proc/cpuinfo), or what `platform` knows elsewhere."""
  for line in _cpuinfo_lines():
    if line.startswith("model name"):
      return line.split(":", 1)[1].strip()
  return platform.processor() or platform.machine()


def cpu_speed_flags() -> list[str]:
  """The CPU flags of SPEED_FLAG_PREFIXES (/proc/cpuinfo), sorted; [] where it is not readable."""
  for line in _cpuinfo_lines():
    if line.startswith("flags"):
      return sorted(f for f in line.split(":", 1)[1].split() if f.startswith(SPEED_FLAG_PREFIXES))
  return []


def _cpuinfo_lines() -> list[str]:
  try:
    return CPUINFO.read_text().splitlines()
  except OSError:  # Not Linux.
    return []


def load_average() -> list[float]:
  """The 1, 5 and 15 minute load averages (other processes compete for the cores)."""
  return list(os.getloadavg())


def machine() -> dict[str, Any]:
  """CPU model and speed flags, core count, OS and the load average now."""
  return {
      "cpu": cpu_model(),
      "cpu_flags": cpu_speed_flags(),
      "cpus": os.cpu_count(),
      "platform": platform.platform(),
      "load_average_at_start": load_average(),
  }


def versions(*modules: str) -> dict[str, str]:
  """Python, jax, jaxlib, numpy and the XLA flags, plus the `__version__` of each named module."""
  found = {
      "python": platform.python_version(),
      "jax": importlib.metadata.version("jax"),
      "jaxlib": importlib.metadata.version("jaxlib"),
      "numpy": np.__version__,
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
  }
  for name in modules:
    found[name] = importlib.import_module(name).__version__
  return found


def environment(*modules: str) -> dict[str, Any]:
  """{'date', 'machine', 'versions'}: the block each benchmark's JSON carries."""
  return {
      "date": datetime.datetime.now().isoformat(timespec="seconds"),
      "machine": machine(),
      "versions": versions(*modules),
  }


# --------------------------------------------------------------------------------------------------
# Command line: absl flags, one FlagValues per benchmark (they share names such as --output).


def parse_flags(flag_values: flags.FlagValues, argv: Sequence[str]) -> None:
  """Parses argv (argv[0]: the program) into `flag_values`, every flag from its default.

  Raises app.UsageError (which app.run prints with the usage) on a bad flag or a stray argument;
  --help prints the benchmark's flags and exits.
  """
  if HELP_FLAGS & set(argv[1:]):
    print(flag_values.get_help())
    sys.exit(0)
  for name in flag_values:  # A second call (tests) must not inherit the first one's values.
    flag_values[name].unparse()
  try:
    rest = flag_values(list(argv))
  except flags.Error as e:
    raise app.UsageError(str(e)) from e
  if len(rest) > 1:
    raise app.UsageError(f"Unexpected arguments: {rest[1:]}")


def run(main: Callable[[Sequence[str]], Any]) -> None:
  """`app.run(main)` for a benchmark whose `main(argv)` parses its own flags (parse_flags)."""

  def absl_flags_untouched(argv: list[str]) -> list[str]:
    flags.FLAGS.mark_as_parsed()  # The benchmark's flags are not absl's global ones.
    return argv

  def main_without_result(argv: list[str]) -> None:
    main(argv)  # app.run would take a returned value for the exit status.

  app.run(main_without_result, flags_parser=absl_flags_untouched)


def workdir_report(
    flag_values: flags.FlagValues,
    argv: Sequence[str],
    compute: Callable[[pathlib.Path], dict[str, Any]],
    markdown: Callable[[dict[str, Any]], str],
) -> dict[str, Any]:
  """`main` of a benchmark that reports on a finished run: parses `--workdir` (required) and
  `--output`, computes, prints the markdown table, writes the JSON (with `environment()`)."""
  parse_flags(flag_values, argv)
  if not flag_values.workdir:
    raise app.UsageError("--workdir is required: a finished run with a labelled test split.")
  result = {"environment": environment(), **compute(pathlib.Path(flag_values.workdir))}
  return report(result, markdown(result), flag_values.output)


def report(result: dict[str, Any], table: str, output: str | None) -> dict[str, Any]:
  """Prints a benchmark's table and writes its JSON to `output` (atomically) when one is given."""
  print(table)
  if output:
    fileio.write_json_atomic(output, result)
    print(f"Wrote {output}")
  return result


def write_untrained_run(
    workdir: pathlib.Path,
    config: Any,
    threshold: dict[str, Any],
    *,
    config_json: str | None = None,
) -> pathlib.Path:
  """A run folder as training leaves it (config, preprocessing, threshold, a checkpoint at step 1)
  with freshly initialised parameters: scoring speed and scoring plumbing do not need training.

  Args:
    workdir: the new run folder (must not exist).
    config: the run's ml_collections config.
    threshold: the content of threshold.json.
    config_json: config.json's text instead of `config`'s (an older run's layout).
  """
  import json  # pylint: disable=g-import-not-at-top

  import ml_collections  # pylint: disable=g-import-not-at-top  # Not where the GPU schedule runs.

  from mouseflax import checkpointing  # pylint: disable=g-import-not-at-top
  from mouseflax import models  # pylint: disable=g-import-not-at-top
  from mouseflax import preprocess  # pylint: disable=g-import-not-at-top
  from mouseflax import run_files  # pylint: disable=g-import-not-at-top
  from mouseflax import steps  # pylint: disable=g-import-not-at-top

  workdir.mkdir(parents=True)
  (workdir / run_files.CONFIG_FILE).write_text(config_json or config.to_json_best_effort())
  (workdir / run_files.PREPROCESS_FILE).write_text(
      json.dumps(preprocess.PreprocessConfig().to_dict())
  )
  (workdir / run_files.THRESHOLD_FILE).write_text(json.dumps(threshold))
  mesh = steps.make_mesh(ml_collections.ConfigDict({"data_parallelism": 1}))
  h, w = streams.FRAME_HW
  example = {
      s: np.zeros((1, streams.SEQUENCE_LENGTH, h, w, c), np.float32)
      for s, c in streams.STREAM_CHANNELS.items()
  }
  state = steps.create_train_state(
      models.create_model(config.model), steps.create_optimizer(config.optim), example, 0, mesh
  )
  manager = checkpointing.create_manager(workdir, config.ckpt)
  checkpointing.save(manager, 1, state, {"epoch": 1}, 0.0)
  manager.close()
  return workdir
