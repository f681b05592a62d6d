"""Model statistics for models/README.md: layer tables, parameter counts and XLA-counted FLOPs.

`python -m mouseflax.models.stats` prints the markdown that README.md holds; tests compare the
README against `model_stats` so the documented numbers cannot go stale.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from configs import default
from mouseflax import models
from mouseflax.models import layers

SEQUENCE_SHAPE = (8, 24, 32)  # T, H, W of one example (ARCHITECTURE.md).
MODEL_NAMES = ("cae", "cae_single", "rae", "supervised")


def example_inputs(batch: int) -> dict:
  """Zero inputs of the standard shapes."""
  return {
      "gray": jnp.zeros((batch, *SEQUENCE_SHAPE, 1)),
      "flow": jnp.zeros((batch, *SEQUENCE_SHAPE, 2)),
  }


def model_config(name: str, **overrides) -> ml_collections.ConfigDict:
  """The default config.model with `name` and overrides."""
  config = default.get_config().model
  config.name = name
  config.update(overrides)
  return config


def param_count(name: str, **overrides) -> int:
  """Number of parameters of the default-sized model (no compile needed)."""
  model = models.create_model(model_config(name, **overrides))
  shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), example_inputs(1))
  return sum(x.size for x in jax.tree.leaves(shapes))


def forward_flops(name: str, conv_impl: str = "native", **overrides) -> float:
  """XLA cost-analysis FLOPs of the jitted forward pass on one 8-frame sequence."""
  model = models.create_model(model_config(name, conv_impl=conv_impl, **overrides))
  inputs = example_inputs(1)
  params = jax.eval_shape(model.init, jax.random.PRNGKey(0), inputs)
  cost = jax.jit(model.apply).lower(params, inputs).compile().cost_analysis()
  return float(cost["flops"])


def layer_table(name: str) -> list[str]:
  """Markdown rows (module, kernel, stride, dilation, channels, output shape) for every
  conv/dense."""
  model = models.create_model(model_config(name))
  rows = []

  def record(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    mod = context.module
    if context.method_name == "__call__" and isinstance(mod, layers.Conv):
      kind = "convT" if mod.transpose else "conv"
      rows.append(
          f"| {'/'.join(mod.path)} | {kind} {'x'.join(map(str, mod.kernel_size))} | "
          f"{'x'.join(map(str, mod.strides or (1,) * len(mod.kernel_size)))} | {mod.dilation} | "
          f"{args[0].shape[-1]}->{mod.features} | {list(out.shape[1:])} |"
      )
    elif context.method_name == "__call__" and isinstance(mod, nn.Dense):
      rows.append(
          f"| {'/'.join(mod.path)} | dense | - | - | {args[0].shape[-1]}->{mod.features} | "
          f"{list(out.shape[1:])} |"
      )
    return out

  with nn.intercept_methods(record):
    jax.eval_shape(model.init, jax.random.PRNGKey(0), example_inputs(1))
  return rows


def summary_rows() -> list[str]:
  """Markdown rows: model, parameters, forward GFLOPs (native and fast formulations)."""
  rows = []
  for name in MODEL_NAMES:
    rows.append(
        f"| {name} | {param_count(name):,} | {forward_flops(name, 'native') / 1e9:.3f} | "
        f"{forward_flops(name, 'fast') / 1e9:.3f} |"
    )
  return rows


def main() -> None:
  print("| model | parameters | forward GFLOP (native) | forward GFLOP (fast) |")
  print("|---|---|---|---|")
  print("\n".join(summary_rows()))
  for name in MODEL_NAMES:
    print(f"\n### {name}\n\n| layer | op | stride | dilation | channels | output [T,H,W,C] |")
    print("|---|---|---|---|---|---|")
    print("\n".join(layer_table(name)))


if __name__ == "__main__":
  main()
