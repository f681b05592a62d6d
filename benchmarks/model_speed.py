"""Forward and train-step time per model on this machine: native vs fast conv formulation.

  python -m benchmarks.model_speed [--quick] [--models=cae,rae] [--output=/tmp/model_speed.json]

For each model and batch size, native and fast are timed alternately in the same process (the
machine is shared, so only ratios measured side by side mean anything); compile time (the first
call: lower, compile and one run) is reported separately. The functions are compiled ahead of the
timings, so a timed call can never recompile. The train step is a plain jitted MSE + Adam step
(Table 1 optimiser) on random inputs, not mouseflax.train's step. Prints a table and writes JSON
(`mouseflax.fileio`, with `common.environment`'s date, machine and versions).
"""

from collections.abc import Sequence
import os
import statistics

from absl import flags
import jax
import jax.numpy as jnp
import optax

from benchmarks import common
from configs import default as default_lib
from mouseflax import fileio
from mouseflax import models
from mouseflax import steps
from mouseflax.models import stats

FLAGS = flags.FlagValues()  # This benchmark's own flags (benchmarks share names such as --output).
_QUICK = flags.DEFINE_bool(
    "quick", False, "Small batches, few repeats (CI smoke run).", flag_values=FLAGS
)
_OUTPUT = flags.DEFINE_string(
    "output", "/tmp/model_speed.json", "Where the JSON results go.", flag_values=FLAGS
)

BATCHES = {"cae": (2, 32), "cae_single": (2, 32), "supervised": (2, 32), "rae": (2, 16)}
QUICK_BATCH = 2
REPEATS, QUICK_REPEATS = 3, 2
IMPLS = ("native", "fast")

_MODELS = flags.DEFINE_list(
    "models", ["cae", "rae"], f"Models to time, among {list(BATCHES)}.", flag_values=FLAGS
)
flags.register_validator(
    "models",
    lambda names: set(names) <= set(BATCHES),
    f"--models: expected a subset of {list(BATCHES)}.",
    flag_values=FLAGS,
)


def _loss_fn(model, params, inputs):
  out = model.apply(params, inputs)
  if "logits" in out:
    return jnp.mean(jax.nn.logsumexp(out["logits"], -1) - out["logits"][..., 0])
  return sum(jnp.mean((out[s] - inputs[s]) ** 2) for s in out)


def _make_fns(name: str, impl: str, batch: int):
  """(forward, train_step, params, opt_state, inputs) for one model/formulation/batch."""
  model = models.create_model(stats.model_config(name, conv_impl=impl))
  keys = jax.random.split(jax.random.PRNGKey(0), 2)
  inputs = {
      "gray": jax.random.uniform(keys[0], (batch, *stats.SEQUENCE_SHAPE, 1)),
      "flow": jax.random.uniform(keys[1], (batch, *stats.SEQUENCE_SHAPE, 2)),
  }
  params = model.init(jax.random.PRNGKey(0), inputs)
  tx = steps.create_optimizer(default_lib.get_config().optim)  # Table 1's Adam.

  def train_step(params, opt_state, inputs):
    loss, grads = jax.value_and_grad(lambda p: _loss_fn(model, p, inputs))(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  return jax.jit(model.apply), jax.jit(train_step), params, tx.init(params), inputs


def _compile_and_run(fn, *args):
  """(fn compiled for args, seconds of lowering, compiling and one run): the compile cost."""
  compiled, compile_s = common.timed_call(lambda: fn.lower(*args).compile())
  return compiled, compile_s + common.seconds(compiled, *args)


def bench(name: str, batch: int, repeats: int) -> dict:
  """Median seconds per forward / train step for native and fast, alternating."""
  fns = {}
  result = {impl: {"forward": [], "train_step": []} for impl in IMPLS}
  for impl in IMPLS:  # Compile (and warm) each.
    fwd, step, params, opt, inputs = _make_fns(name, impl, batch)
    fwd, fwd_compile_s = _compile_and_run(fwd, params, inputs)
    step, step_compile_s = _compile_and_run(step, params, opt, inputs)
    fns[impl] = fwd, step, params, opt, inputs
    result[impl]["compile_s"] = fwd_compile_s + step_compile_s
  for _ in range(repeats):
    for impl, (fwd, step, params, opt, inputs) in fns.items():
      result[impl]["forward"].append(common.seconds(fwd, params, inputs))
      result[impl]["train_step"].append(common.seconds(step, params, opt, inputs))
  for impl in IMPLS:
    for key in ("forward", "train_step"):
      result[impl][key] = statistics.median(result[impl][key])
  return result


def main(argv: Sequence[str]) -> dict:
  """Times the models for argv (argv[0]: the program, as app.run passes it); returns the JSON."""
  common.parse_flags(FLAGS, argv)
  repeats = QUICK_REPEATS if _QUICK.value else REPEATS
  rows = {
      "backend": jax.default_backend(),
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
      **common.environment(),
      "runs": [],
  }
  print(
      f"{'model':<11}{'batch':>6} | {'fwd native':>10} {'fwd fast':>9} {'ratio':>6} | "
      f"{'step native':>11} {'step fast':>9} {'ratio':>6}  (seconds, medians)"
  )
  for name in _MODELS.value:
    for batch in ((QUICK_BATCH,) if _QUICK.value else BATCHES[name]):
      r = bench(name, batch, repeats)
      n, f = r["native"], r["fast"]
      print(
          f"{name:<11}{batch:>6} | {n['forward']:>10.3f} {f['forward']:>9.3f} "
          f"{n['forward'] / f['forward']:>5.1f}x | {n['train_step']:>11.3f} "
          f"{f['train_step']:>9.3f} "
          f"{n['train_step'] / f['train_step']:>5.1f}x",
          flush=True,
      )
      rows["runs"].append({"model": name, "batch": batch, **r})
  fileio.write_json_atomic(_OUTPUT.value, rows)
  print(f"wrote {_OUTPUT.value}")
  return rows


if __name__ == "__main__":
  common.run(main)
