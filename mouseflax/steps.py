"""The pure training pieces: flips, optimiser, train state, losses, jitted steps and predictions.

Everything here depends only on jax, flax, optax, numpy and the light mouseflax modules (streams,
preprocess, distributed): not on tensorflow_datasets, ml_collections or grain. `mouseflax.train`
(the epoch loop), `mouseflax.score` and the benchmarks (benchmarks/gpu_paper_schedule.py runs where
those packages are absent) import the same functions from here, so a benchmark times the real step.
Configs are read as plain mappings (`config.optim`, a ConfigDict, or a dict with the same keys).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import functools
from typing import Any

import flax
from flax.training import train_state
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mouseflax import distributed
from mouseflax import preprocess
from mouseflax import streams

DATA_AXIS = "data"
HFLIP_PROBABILITY = 0.5
# A supervised model with this many classes learns held-out (1) vs the rest (0); with more, it
# learns the behaviour ids and the held-out behaviour's id is the score class.
BINARY_CLASSES = 2
# Parameter init draws with RBG keys: XLA:CPU took 30-40 s to compile the threefry draws of even a
# tiny model's init (5 s with rbg, 2 loaded cores). Step keys stay threefry, whose values do not
# depend on how a computation is partitioned (1 vs 2 devices must agree).
INIT_RNG_IMPL = "rbg"
OPTIMIZERS = ("adam", "sgd")


class TrainState(train_state.TrainState):
  """Flax TrainState plus the base RNG key (per-step keys are fold_in(rng, step))."""

  rng: jax.Array


# --------------------------------------------------------------------------------------------------
# Augmentation.


def random_hflip(batch: Mapping[str, Any], rng: jax.Array) -> dict[str, Any]:
  """Mirrors each sequence with probability 1/2 (flow x -> 1 - x); other keys pass through.

  Works on stored dtypes or on model inputs (floats in [0, 1]); jax-traceable.
  """
  gray, flow = jnp.asarray(batch["gray"]), jnp.asarray(batch["flow"])
  flip = jax.random.bernoulli(rng, HFLIP_PROBABILITY, (gray.shape[0],))
  flipped_gray, flipped_flow = preprocess.hflip(gray, flow)
  expand = (slice(None),) + (None,) * (gray.ndim - 1)
  return {
      **batch,
      "gray": jnp.where(flip[expand], flipped_gray, gray),
      "flow": jnp.where(flip[expand], flipped_flow, flow),
  }


# --------------------------------------------------------------------------------------------------
# Mesh and shardings.


def make_mesh(mesh_config: Mapping[str, Any]) -> jax.sharding.Mesh:
  """A 1-D mesh with a `data` axis over `mesh_config['data_parallelism']` devices (-1: all)."""
  devices = jax.devices()
  wanted = mesh_config["data_parallelism"]
  n = len(devices) if wanted == -1 else wanted
  if not 1 <= n <= len(devices):
    raise ValueError(
        f"config.mesh.data_parallelism={wanted}: must be -1 "
        f"(all) or between 1 and the {len(devices)} visible devices."
    )
  if jax.process_count() > 1 and n != len(devices):
    raise ValueError(
        f"config.mesh.data_parallelism={wanted}: a run of "
        f"{jax.process_count()} processes uses all {len(devices)} devices; set -1."
    )
  return jax.sharding.Mesh(np.asarray(devices[:n]), (DATA_AXIS,))


def replicated(mesh: jax.sharding.Mesh) -> jax.sharding.NamedSharding:
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())


def batch_sharded(mesh: jax.sharding.Mesh) -> jax.sharding.NamedSharding:
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(DATA_AXIS))


def steps_sharded(mesh: jax.sharding.Mesh) -> jax.sharding.NamedSharding:
  """[K, B, ...] stacks of K batches: the batch axis (1) sharded."""
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, DATA_AXIS))


# --------------------------------------------------------------------------------------------------
# Optimiser, state, losses, steps.


def create_optimizer(optim_config: Mapping[str, Any]) -> optax.GradientTransformation:
  """Adam (the autoencoders, Table 1) or SGD (the supervised baseline) from `config.optim`.

  Reads `name`, `learning_rate` and `b1`, `b2` (adam) or `momentum` (sgd).
  """
  name, learning_rate = optim_config["name"], optim_config["learning_rate"]
  if learning_rate <= 0:
    raise ValueError(f"config.optim.learning_rate must be > 0, got {learning_rate}.")
  if name == "adam":
    return optax.adam(learning_rate, b1=optim_config["b1"], b2=optim_config["b2"])
  if name == "sgd":
    return optax.sgd(learning_rate, momentum=optim_config["momentum"] or None)
  raise ValueError(f"config.optim.name={name!r}: expected one of {list(OPTIMIZERS)}.")


def create_train_state(
    model: flax.linen.Module,
    tx: optax.GradientTransformation,
    example_inputs: Mapping[str, jax.Array],
    seed: int,
    mesh: jax.sharding.Mesh,
) -> TrainState:
  """Initialises parameters from `seed` and replicates the state over the mesh."""

  def init(init_rng, state_rng):
    params = model.init(init_rng, example_inputs, train=False)["params"]
    return TrainState.create(apply_fn=model.apply, params=params, tx=tx, rng=state_rng)

  init_rng = jax.random.key(seed, impl=INIT_RNG_IMPL)
  return jax.jit(init, out_shardings=replicated(mesh))(init_rng, jax.random.PRNGKey(seed))


def per_example_losses(
    outputs: Mapping[str, jax.Array],
    batch: Mapping[str, jax.Array],
    inputs: Mapping[str, jax.Array],
    loss_weights: Mapping[str, float],
) -> dict[str, jax.Array]:
  """Per-example losses [B]: weighted per-stream MSE (autoencoders) or masked cross-entropy."""
  if "logits" in outputs:
    logits = outputs["logits"].astype(jnp.float32)
    labels = batch["anomaly"] if logits.shape[-1] == BINARY_CLASSES else batch["behavior"]
    mask = (batch["behavior"] >= 0).astype(jnp.float32)  # -1: frame without annotation.
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.maximum(labels, 0))
    loss = (ce * mask).sum(axis=1) / jnp.maximum(mask.sum(axis=1), 1.0)
    return {"loss": loss, "loss_ce": loss}
  losses = {}
  for stream in outputs:
    err = (outputs[stream].astype(jnp.float32) - inputs[stream]) ** 2
    losses[f"loss_{stream}"] = err.reshape(err.shape[0], -1).mean(axis=1)
  losses["loss"] = sum(loss_weights[s] * losses[f"loss_{s}"] for s in outputs)
  return losses


def train_step(
    state: TrainState,
    batch: Mapping[str, jax.Array],
    *,
    loss_weights: Mapping[str, float],
    hflip: bool,
) -> tuple[TrainState, dict]:
  """One optimiser step on one (global) batch; returns the new state and scalar metrics."""
  step_rng = jax.random.fold_in(state.rng, state.step)
  flip_rng, dropout_rng = jax.random.split(step_rng)
  inputs = streams.to_model_inputs(batch)
  if hflip:
    inputs = random_hflip(inputs, flip_rng)

  def loss_fn(params):
    outputs = state.apply_fn({"params": params}, inputs, train=True, rngs={"dropout": dropout_rng})
    losses = per_example_losses(outputs, batch, inputs, loss_weights)
    losses = {k: v.mean() for k, v in losses.items()}
    return losses["loss"], losses

  grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params)
  metrics["grad_norm"] = optax.global_norm(grads)
  return state.apply_gradients(grads=grads), metrics


def run_steps(body: Callable, state: TrainState, xs: Any) -> tuple[TrainState, dict]:
  """Runs `body` over the leading [K] axis of `xs`; metrics get a leading [K] axis.

  K == 1 is a plain call (the fast form on the CPU); K > 1 is a `lax.scan` (the fast form on
  accelerators, where dispatch would otherwise bound a small model).
  """
  if jax.tree.leaves(xs)[0].shape[0] == 1:
    state, metrics = body(state, jax.tree.map(lambda x: x[0], xs))
    return state, jax.tree.map(lambda m: m[None], metrics)
  return jax.lax.scan(body, state, xs)


def make_multi_step(mesh: jax.sharding.Mesh, step_fn: Callable) -> Callable:
  """Jitted (state, data, idx[K, B]) -> (state, metrics[K]): K steps on batches gathered from data.

  `data` is the replicated training split (device-resident mode). The state is donated.
  """

  def multi_step(state, data, idx):
    def body(state, batch_idx):
      batch = jax.tree.map(lambda a: a[batch_idx], data)
      batch = jax.lax.with_sharding_constraint(batch, batch_sharded(mesh))
      return step_fn(state, batch)

    return run_steps(body, state, idx)

  rep = replicated(mesh)
  return jax.jit(multi_step, donate_argnums=0, out_shardings=(rep, rep))


def make_batches_step(mesh: jax.sharding.Mesh, step_fn: Callable) -> Callable:
  """Jitted (state, batches[K, B, ...]) -> (state, metrics[K]) on batches sharded along B.

  The host-resident (and multi-host) form: each process supplies only its rows of each batch.
  """
  rep = replicated(mesh)
  return jax.jit(
      lambda state, batches: run_steps(step_fn, state, batches),
      donate_argnums=0,
      in_shardings=(rep, steps_sharded(mesh)),
      out_shardings=(rep, rep),
  )


def make_eval_step(mesh: jax.sharding.Mesh, loss_weights: Mapping[str, float]) -> Callable:
  """(state, batch, mask) -> summed per-example losses over the real rows (jitted inside).

  Every process passes the whole numpy batch; each device takes its rows.
  """

  def eval_step(state, batch, mask):
    inputs = streams.to_model_inputs(batch)
    outputs = predict(state.apply_fn, state.params, inputs)
    losses = per_example_losses(outputs, batch, inputs, loss_weights)
    return {k: jnp.where(mask, v, 0.0).sum() for k, v in losses.items()}

  sharded = batch_sharded(mesh)
  step = jax.jit(
      eval_step, in_shardings=(replicated(mesh), sharded, sharded), out_shardings=replicated(mesh)
  )
  return lambda state, batch, mask: step(state, *distributed.host_to_global(sharded, (batch, mask)))


# --------------------------------------------------------------------------------------------------
# Predictions (evaluation and scoring).


def predict(apply_fn: Callable, params: Any, inputs: Mapping[str, jax.Array]) -> dict[str, Any]:
  """The model's outputs in evaluation mode (no dropout): what every evaluation path runs."""
  return apply_fn({"params": params}, inputs, train=False)


def make_predict_fn(
    apply_fn: Callable, params: Any, mesh: jax.sharding.Mesh
) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
  """Model inputs (numpy, every process the whole batch) -> numpy outputs, jitted once.

  The batch is sharded over the mesh's `data` axis, the parameters replicated; the outputs are
  replicated, so every process reads them whole (`mouseflax.evaluate.PredictFn`).
  """
  sharded = batch_sharded(mesh)
  apply = jax.jit(
      functools.partial(predict, apply_fn),
      in_shardings=(replicated(mesh), sharded),
      out_shardings=replicated(mesh),
  )
  return lambda inputs: jax.tree.map(
      np.asarray, apply(params, distributed.host_to_global(sharded, inputs))
  )
