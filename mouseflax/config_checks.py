"""The whole config checked at once, before a run touches its workdir or its data.

`validate(config)` checks every key of configs/default.py against one rule each (`RULES`: type,
range, finiteness, choices), then the rules that tie keys together (layer tuples of equal length,
the dataset's name, batch sizes that split over the devices). Every problem is reported in one
`ConfigError` (`config.<key>=<value>: what it must be`), so a run with
`optim.learning_rate=nan` or `eval.false_alarm_rate=1.5` stops before writing anything, instead of
at step 2 or after training.

The config is read as its JSON form (tuples become lists), not key by key: the config test records
the keys the real code reads, and a check reading every key would hide a dead one. A key added to
configs/default.py needs a rule here (a test holds it); keys without one (such as a test's probes)
are not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import dataclasses
import json
import math
from typing import Any

import jax
import ml_collections

from mouseflax import build_data
from mouseflax import calibration
from mouseflax import evaluate
from mouseflax import input_pipeline
from mouseflax import learning_check
from mouseflax import models
from mouseflax import named_scores
from mouseflax import preprocess
from mouseflax import raw_formats
from mouseflax import steps
from mouseflax import streams
from mouseflax.models import cae
from mouseflax.models import common
from mouseflax.models import layers

# A rule returns what the value must be when it is not, else None.
Rule = Callable[[Any], str | None]
ALL_DEVICES = -1  # config.mesh.data_parallelism: every visible device.


class ConfigError(ValueError):
  """One or more config values are invalid; the message names each key and what it must be."""


def _is_int(value: Any) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(minimum: int | None = None, *, also: Sequence[int] = ()) -> Rule:
  """An int (not a bool) >= minimum, or one of `also`."""

  def rule(value: Any) -> str | None:
    if _is_int(value) and (value in also or minimum is None or value >= minimum):
      return None
    extra = f" or {' or '.join(map(str, also))}" if also else ""
    return f"an integer >= {minimum}{extra}" if minimum is not None else "an integer"

  return rule


def number(low: float, high: float = math.inf, *, low_open: bool = False, high_open=False) -> Rule:
  """A finite real number in the interval [low, high] (either end open when asked)."""
  if high == math.inf:
    interval = f"{'>' if low_open else '>='} {low:g}"
  else:
    interval = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

  def rule(value: Any) -> str | None:
    ok = _is_real(value) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    return None if ok else f"a finite number {interval}"

  return rule


def choice(options: Sequence[str]) -> Rule:
  def rule(value: Any) -> str | None:
    return None if value in options else f"one of {sorted(options)}"

  return rule


def boolean(value: Any) -> str | None:
  return None if isinstance(value, bool) else "True or False"


def text(value: Any) -> str | None:
  return None if isinstance(value, str) else "a string"


def split_name(value: Any) -> str | None:
  return None if isinstance(value, str) and value else "a split name"


def int_tuple(minimum: int, allowed: Sequence[int] = ()) -> Rule:
  """A non-empty tuple of ints >= minimum (each one of `allowed`, when given)."""

  def rule(value: Any) -> str | None:
    items = list(value) if isinstance(value, (tuple, list)) else None
    ok = bool(items) and all(_is_int(v) and v >= minimum for v in items)
    ok = ok and (not allowed or all(v in allowed for v in items))
    what = f"one of {list(allowed)}" if allowed else f">= {minimum}"
    return None if ok else f"a non-empty tuple of integers, each {what}"

  return rule


def stem_list(value: Any) -> str | None:
  items = [value] if isinstance(value, str) else value
  ok = isinstance(items, (tuple, list)) and all(isinstance(v, str) for v in items)
  return None if ok else "a tuple of video stems, or one comma-separated string"


def stream_weights(value: Any) -> str | None:
  ok = isinstance(value, Mapping) and set(value) <= set(streams.STREAMS)
  ok = ok and all(number(0.0)(v) is None for v in value.values())
  ok = ok and any(v > 0 for v in value.values())
  return None if ok else f"weights >= 0 (not all 0) for streams among {list(streams.STREAMS)}"


def _probability(*, high_closed: bool = False) -> Rule:
  return number(0.0, 1.0, low_open=True, high_open=not high_closed)


# One rule per key of configs/default.py.
RULES: dict[str, Rule] = {
    "seed": integer(0),
    "data.dataset": text,
    "data.data_dir": text,
    "data.manual_dir": text,
    "data.synthetic_videos": integer(1),
    "data.synthetic_frames": integer(streams.SEQUENCE_LENGTH),
    "data.synthetic_test_frames": integer(streams.SEQUENCE_LENGTH),
    "data.synthetic_avenue_frames": integer(streams.SEQUENCE_LENGTH),
    "data.hflip": boolean,
    "data.device_resident": boolean,
    "data.build_workers": integer(1),
    "data.device_max_mb": number(0.0),
    "data.stride": integer(1),
    "data.validation_fraction": _probability(),
    "data.num_train_videos": integer(1),
    "data.train_videos": stem_list,
    "data.test_video": text,
    "data.test_fraction": _probability(high_closed=True),
    "data.train_hop": integer(0),
    "data.video_dir": text,
    "data.video_fraction": _probability(high_closed=True),
    "data.raw_tolerance_frames": integer(0),
    "data.rebuild_stale": boolean,
    "data.flow_encoding": choice(preprocess.FLOW_ENCODINGS),
    "data.flow_scale_px": number(0.0, low_open=True),
    "model.name": choice(tuple(models.MODELS)),
    "model.dtype": choice(common.DTYPE_CHOICES),
    "model.conv_impl": choice(layers.CONV_IMPLS),
    "model.width": integer(1),
    "model.kernels": int_tuple(1),
    "model.strides": int_tuple(1),
    "model.dilations": int_tuple(1),
    "model.time_strides": int_tuple(1),
    "model.res_blocks": integer(0),
    "model.code_size": integer(0),
    "model.centre_inputs": boolean,
    "model.fusion": choice(cae.FUSIONS),
    "model.num_classes": integer(steps.BINARY_CLASSES),
    "model.classifier_hidden": integer(1),
    "optim.name": choice(steps.OPTIMIZERS),
    "optim.learning_rate": number(0.0, low_open=True),
    "optim.b1": number(0.0, 1.0, high_open=True),
    "optim.b2": number(0.0, 1.0, high_open=True),
    "optim.momentum": number(0.0, 1.0, high_open=True),
    "train.epochs": integer(1),
    "train.batch_size": integer(1),
    "train.loss_weights": stream_weights,
    "train.balance_losses": boolean,
    "train.train_split": split_name,
    "train.val_split": split_name,
    "train.steps_per_call": integer(0),
    "train.log_every_steps": integer(1),
    "train.stop_after_steps": integer(0),
    "eval.batch_size": integer(1),
    "eval.smoothing_sigma": number(0.0),
    "eval.false_alarm_rate": _probability(),
    "eval.timeline_max_videos": integer(0),
    "eval.test_split": split_name,
    "eval.use_best_checkpoint": boolean,
    "eval.score": choice(tuple(named_scores.SCORES)),
    "eval.score_streams": choice(learning_check.SCORE_STREAMS),
    "eval.calibrate_to": choice(calibration.MODES),
    "eval.false_events_per_hour": number(0.0, low_open=True),
    "eval.event_merge_gap_s": number(0.0),
    "eval.event_min_duration_s": number(0.0),
    "ckpt.keep_last": integer(1),
    "ckpt.keep_best": integer(0),
    "mesh.data_parallelism": integer(1, also=(ALL_DEVICES,)),
}


def _leaf_problems(values: Mapping[str, Any], prefix: str = "") -> list[str]:
  """`config.<key>=<value>: must be ...` for each key whose rule fails (nested groups walked)."""
  problems = []
  for key, value in values.items():
    path = f"{prefix}{key}"
    if path in RULES:
      requirement = RULES[path](value)
      if requirement is not None:
        problems.append(f"config.{path}={value!r}: must be {requirement}")
    elif isinstance(value, Mapping):
      problems.extend(_leaf_problems(value, f"{path}."))
  return problems


def _dataset_problems(data: Mapping[str, Any]) -> list[str]:
  """The dataset's name (and held-out behaviour) and the folder a folder dataset needs."""
  name, config_name = build_data.parse_dataset(data["dataset"])
  if name not in build_data.BUILDER_MODULES:
    return [
        f"config.data.dataset={data['dataset']!r}: unknown, use one of "
        f"{sorted(build_data.BUILDER_MODULES)}"
    ]
  if name in input_pipeline.FOLDER_FIELDS:
    field = input_pipeline.FOLDER_FIELDS[name]
    if config_name or not data[field]:
      return [
          f"config.data.dataset={data['dataset']!r} reads config.data.{field}: set it to the "
          "folder of your recordings (and name no config after the dataset)"
      ]
    return []
  if name == "mouse_behavior":
    if config_name not in (None, *raw_formats.BEHAVIORS):
      return [
          f"config.data.dataset={data['dataset']!r}: the held-out behaviour must be one of "
          f"{list(raw_formats.BEHAVIORS)}"
      ]
    return []
  try:
    input_pipeline.builder_config(data)
  except ValueError as e:
    return [str(e)]
  return []


def _field_names(cls: type) -> set[str]:
  return {f.name for f in dataclasses.fields(cls)}


def _models_with(field: str) -> list[str]:
  return [n for n, cls in models.MODELS.items() if field in _field_names(cls)]


def _model_problems(model: Mapping[str, Any]) -> list[str]:
  name = model.get("name")
  if model.get("code_size") and name in models.MODELS and name not in _models_with("code_size"):
    return [
        f"config.model.code_size={model['code_size']}: model {name!r} has no dense code; "
        f"set 0, or use one of {_models_with('code_size')}."
    ]
  fusion = model.get("fusion", cae.SHARED_FUSION)
  if fusion != cae.SHARED_FUSION and name in models.MODELS and name not in _models_with("fusion"):
    return [
        f"config.model.fusion={fusion!r}: model {name!r} has no such option; set "
        f"{cae.SHARED_FUSION!r}, or use one of {_models_with('fusion')}."
    ]
  try:
    cae.validate_layers(model["kernels"], model["strides"], model["dilations"])
  except ValueError as e:
    return [str(e)]
  return []


def _eval_problems(eval_config: Mapping[str, Any]) -> list[str]:
  """The score, the calibration target and the event rule together (evaluate.check_eval_config)."""
  try:
    evaluate.check_eval_config(eval_config)
  except ValueError as e:
    return [str(e)]
  return []


def _device_problems(config: Mapping[str, Any]) -> list[str]:
  """The mesh fits the visible devices, and both batch sizes split evenly over it."""
  wanted, available = config["mesh"]["data_parallelism"], jax.device_count()
  if wanted != ALL_DEVICES and wanted > available:
    return [
        f"config.mesh.data_parallelism={wanted}: only {available} devices are visible "
        f"(use {ALL_DEVICES} for all)"
    ]
  devices = available if wanted == ALL_DEVICES else wanted
  return [
      f"config.{group}.batch_size={config[group]['batch_size']}: must be a multiple of the "
      f"{devices} devices on the mesh"
      for group in ("train", "eval")
      if config[group]["batch_size"] % devices
  ]


def problems(config: ml_collections.ConfigDict | Mapping[str, Any]) -> list[str]:
  """Every problem of `config`, one line each (empty when it is valid)."""
  if isinstance(config, ml_collections.ConfigDict):  # As config.json holds it (module docstring).
    values = json.loads(config.to_json_best_effort())
  else:
    values = dict(config)
  found = _leaf_problems(values)
  if found:  # The rules below assume well-typed values.
    return found
  return [
      *_dataset_problems(values["data"]),
      *_model_problems(values["model"]),
      *_eval_problems(values["eval"]),
      *_device_problems(values),
  ]


def validate(config: ml_collections.ConfigDict | Mapping[str, Any]) -> None:
  """Raises ConfigError listing every problem of `config` (nothing is read or written)."""
  found = problems(config)
  if found:
    raise ConfigError(
        f"Invalid config ({len(found)} problem{'s' if len(found) > 1 else ''}): "
        f"{'; '.join(found)}. Fix them in the config file or on the command line "
        "(--config.<group>.<key>=value)."
    )
