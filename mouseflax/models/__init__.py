"""Model registry: get_model(name) -> Flax Linen module class; create_model(config.model) ->
module."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import flax.linen as nn

# Annotation only: benchmarks/gpu_paper_schedule.py must import the models where ml_collections is
# absent.
if TYPE_CHECKING:
  import ml_collections

from mouseflax.models.cae import CAE
from mouseflax.models.cae import SingleCAE
from mouseflax.models.rae import RAE
from mouseflax.models.supervised import Supervised

MODELS: dict[str, type[nn.Module]] = {
    "cae": CAE,
    "cae_single": SingleCAE,
    "rae": RAE,
    "supervised": Supervised,
}


def get_model(name: str) -> type[nn.Module]:
  """The module class registered under `name` (config.model.name)."""
  if name not in MODELS:
    raise ValueError(f"config.model.name={name!r} is not a model; valid names: {sorted(MODELS)}.")
  return MODELS[name]


def create_model(model_config: ml_collections.ConfigDict) -> nn.Module:
  """Builds the module named by model_config.name from the config fields it declares."""
  cls = get_model(model_config.name)
  kwargs = {}
  for field in dataclasses.fields(cls):
    if field.name in model_config and field.init and field.name not in ("parent", "name"):
      value = model_config[field.name]
      # Sequences arrive as lists after a JSON round trip; module fields must be hashable.
      kwargs[field.name] = tuple(value) if isinstance(value, (list, tuple)) else value
  return cls(**kwargs)
