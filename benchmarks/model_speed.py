"""Forward and train-step time per model on this machine: native vs fast conv formulation.

  python -m benchmarks.model_speed [--quick] [--output=/tmp/model_speed.json]

For each model and batch size, native and fast are timed alternately in the same process (the
machine
is shared, so only ratios measured side by side mean anything); compile time is reported separately.
The train step is a plain jitted MSE + Adam step (Table 1 optimiser) on random inputs, not
mouseflax.train's step. Prints a table, writes JSON (temp file + rename).
"""

import json
import os
import statistics
import tempfile
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import optax

from mouseflax import models
from mouseflax.models import stats

_QUICK = flags.DEFINE_bool("quick", False, "Small batches, few repeats (CI smoke run).")
_OUTPUT = flags.DEFINE_string("output", "/tmp/model_speed.json", "Where the JSON results go.")
_MODELS = flags.DEFINE_list("models", ["cae", "rae"], "Models to time.")

BATCHES = {"cae": (2, 32), "cae_single": (2, 32), "supervised": (2, 32), "rae": (2, 16)}
QUICK_BATCH = 2
REPEATS, QUICK_REPEATS = 3, 2
IMPLS = ("native", "fast")
LEARNING_RATE, B1 = 2e-4, 0.5  # Table 1.


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
  tx = optax.adam(LEARNING_RATE, b1=B1)

  def train_step(params, opt_state, inputs):
    loss, grads = jax.value_and_grad(lambda p: _loss_fn(model, p, inputs))(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  return jax.jit(model.apply), jax.jit(train_step), params, tx.init(params), inputs


def _time(fn, *args) -> float:
  start = time.perf_counter()
  jax.block_until_ready(fn(*args))
  return time.perf_counter() - start


def bench(name: str, batch: int, repeats: int) -> dict:
  """Median seconds per forward / train step for native and fast, alternating."""
  fns = {impl: _make_fns(name, impl, batch) for impl in IMPLS}
  result = {impl: {"forward": [], "train_step": []} for impl in IMPLS}
  for impl, (fwd, step, params, opt, inputs) in fns.items():  # Compile (and warm) each.
    result[impl]["compile_s"] = _time(fwd, params, inputs) + _time(step, params, opt, inputs)
  for _ in range(repeats):
    for impl, (fwd, step, params, opt, inputs) in fns.items():
      result[impl]["forward"].append(_time(fwd, params, inputs))
      result[impl]["train_step"].append(_time(step, params, opt, inputs))
  for impl in IMPLS:
    for key in ("forward", "train_step"):
      result[impl][key] = statistics.median(result[impl][key])
  return result


def _write_json(path: str, data: dict) -> None:
  directory = os.path.dirname(os.path.abspath(path))
  with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as f:
    json.dump(data, f, indent=2)
  os.replace(f.name, path)


def main(argv) -> None:
  del argv
  repeats = QUICK_REPEATS if _QUICK.value else REPEATS
  rows = {
      "backend": jax.default_backend(),
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
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
  _write_json(_OUTPUT.value, rows)
  print(f"wrote {_OUTPUT.value}")


if __name__ == "__main__":
  app.run(main)
