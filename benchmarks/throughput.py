"""Training and inference throughput of our models against PyTorch peers of the same architectures.

  python -m benchmarks.throughput --models=cae,rae,cae_single [--peers=torch] [--quick] \
      --output=/tmp/throughput.json [--dtypes=float32,bfloat16] [--batch=N] [--steps=N] \
      [--repeats=N] [--profile]

Ours: the REAL train step (`steps.train_step` through `steps.make_multi_step`, as the trainer runs
it: jitted, state donated, the training split device-resident and gathered per step, random flips
on) with the config of configs/<model>_hang.py; the benchmark refuses a step that is not jitted or
does not donate its state (`common.compile_train_step`). Variants: `fast` (`conv_impl=fast`, one
step per compiled call, the CPU default), `native` (`lax.conv_general_dilated` as autodiff gives
it), `<impl>_scan<K>` (K steps per call, the accelerator form). Peers (`pip install -e .[bench]`,
benchmarks/peers/torch_models.py, same parameter count asserted): `eager_cl` (channels-last,
PyTorch's fastest on the CPU), `eager_nchw`, `compile_cl` (`torch.compile`). Without torch the
benchmark runs ours alone. Every model is measured at each of `--dtypes` (default float32 and
bfloat16; ours: `model.dtype`, PyTorch: CPU autocast), and the ratios to PyTorch are taken within
one precision. The batch is the config's: the paper's (CAE 32, RAE 64). The JSON's `machine` names
the CPU model and its vector/matrix extensions (AVX-512, AVX512-BF16, AMX: `common.machine`).

The machine may be shared: the variants are timed step by step in turn (round robin) in this one
process, and the ratio to the fastest PyTorch variant is the median over repeats of the ratios taken
in the same repeat. Compile time (ours: lower + compile; torch.compile: first step) is reported
apart. FLOPs per sequence: `benchmarks.conv_flops` (the model's conv arithmetic from its layer
shapes, whatever formulation runs); a training step counts 3x the forward.
JSON: a list of rows (see `ROW_KEYS`; `machine`, `date` and `versions` from
`common.environment`). `--profile` instead times every conv layer of ours alone (forward, and
forward + both gradients, at the model's shapes and batch) to see which ops bound the step; the sum
beside the whole step's time shows what the convs leave to the rest (Adam, elementwise). With
`--peers=torch` each layer's PyTorch channels-last peer is timed beside it (same shapes and loss),
which points at the layers where the gap is. Layers alone pay page faults on their fresh outputs
that a whole step partly avoids (benchmarks/README.md): compare layers within one run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import dataclasses
import functools
import importlib
import importlib.util
import statistics
import sys
from typing import Any

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

# Importing mouseflax first sets its XLA:CPU flags before jax starts its backend.
from benchmarks import common  # pylint: disable=g-bad-import-order
from benchmarks import conv_flops
from mouseflax import fileio
from mouseflax import models
from mouseflax import steps
from mouseflax import streams
from mouseflax import train
from mouseflax.models import layers

MODELS = ("cae", "rae", "cae_single")
# Compute precisions measured; ratios to PyTorch are taken within one precision.
DTYPES = ("float32", "bfloat16")
JAX_VARIANTS = ("fast",)
TORCH_VARIANTS = ("eager_cl", "eager_nchw", "compile_cl")
QUICK_TORCH_VARIANTS = ("eager_cl",)
# Device-resident synthetic split = this many batches (gathered per step like training).
DATA_BATCHES = 4
# Quick is a smoke run (CI): width 8 keeps it under a minute; its rates say little. batch 0 and
# width 0 mean the config's (Table 1, width 32).
DEFAULTS = {
    "quick": {"batch": 2, "steps": 2, "repeats": 1, "width": 8},
    "full": {"batch": 0, "steps": 5, "repeats": 3, "width": 0},
}
ROW_KEYS = (
    "model",
    "dtype",
    "framework",
    "variant",
    "device",
    "batch",
    "params",
    "compile_s",
    "train_seq_per_s",
    "infer_frames_per_s",
    "train_s_per_step",
    "train_ratio_vs_fastest_torch",
    "fwd_gflops_per_seq",
    "train_gflop_per_s",
    "train_seq_per_s_repeats",
    "machine",
    "date",
    "versions",
)
TABLE_COLUMNS = (
    "model",
    "dtype",
    "framework",
    "variant",
    "batch",
    "params",
    "compile_s",
    "train_seq_per_s",
    "infer_frames_per_s",
    "train_gflop_per_s",
    "train_ratio_vs_fastest_torch",
)


FLAGS = flags.FlagValues()  # This benchmark's own flags (benchmarks share names such as --output).
flags.DEFINE_list("models", list(MODELS), f"Models, a subset of {MODELS}.", flag_values=FLAGS)
flags.DEFINE_enum(
    "peers",
    "",
    ["", "torch"],
    "'torch' adds the PyTorch peers (when installed).",
    flag_values=FLAGS,
)
flags.DEFINE_bool("quick", False, f"Smoke run: {DEFAULTS['quick']}.", flag_values=FLAGS)
flags.DEFINE_string("output", None, "JSON file written (atomically).", flag_values=FLAGS)
flags.mark_flag_as_required("output", flag_values=FLAGS)
flags.DEFINE_integer(
    "batch", None, "Batch; default: quick 2, else the config's.", flag_values=FLAGS
)
flags.DEFINE_integer("steps", None, "Timed steps per variant and repeat.", flag_values=FLAGS)
flags.DEFINE_integer("repeats", None, "Alternating repeats.", flag_values=FLAGS)
flags.DEFINE_integer("width", None, "Model width; default: quick 8, else 32.", flag_values=FLAGS)
flags.DEFINE_list(
    "dtypes",
    list(DTYPES),
    f"Compute precisions, a subset of {DTYPES}: ours `model.dtype` (parameters, optimiser state "
    "and losses stay float32), PyTorch's `torch.autocast('cpu', dtype=torch.bfloat16)`.",
    flag_values=FLAGS,
)
flags.DEFINE_list(
    "jax_variants", list(JAX_VARIANTS), "Ours: <impl>[_scan<K>], ...", flag_values=FLAGS
)
flags.DEFINE_list(
    "torch_variants",
    None,
    f"A subset of {TORCH_VARIANTS}; default: quick {QUICK_TORCH_VARIANTS}, else all.",
    flag_values=FLAGS,
)
flags.DEFINE_bool(
    "profile",
    False,
    "Instead: time every conv layer alone (ours; with --peers=torch also its PyTorch peer); "
    "--output gets the profiles.",
    flag_values=FLAGS,
)
flags.DEFINE_integer("seed", 0, "Seeds the parameters and the random data.", flag_values=FLAGS)


@dataclasses.dataclass(frozen=True)
class Settings:
  """The parsed command line, with --quick's or the full run's defaults filled in."""

  models: tuple[str, ...]
  peers: str
  quick: bool
  output: str
  batch: int
  steps: int
  repeats: int
  width: int
  dtypes: tuple[str, ...]
  jax_variants: tuple[str, ...]
  torch_variants: tuple[str, ...]
  profile: bool
  seed: int


@dataclasses.dataclass
class Runner:
  """One (model, framework, variant): `train(n)` runs n steps, `infer(n)` n forward passes; both
  block."""

  framework: str
  variant: str
  device: str
  params: int
  compile_s: float
  train: Callable[[int], None]
  infer: Callable[[int], None]


def load_config(name: str, batch: int, width: int | None, dtype: str):
  """configs/<name>_hang.py (the paper's hyperparameters for `name`) with benchmark overrides."""
  config = importlib.import_module(f"configs.{name}_hang").get_config()
  if batch:
    config.train.batch_size = batch
  if width:
    config.model.width = width
  config.model.dtype = dtype
  config.mesh.data_parallelism = 1  # One device: the peers use one process too.
  return config


def synthetic_split(num: int, seed: int) -> dict[str, np.ndarray]:
  """common.random_records plus the per-frame labels the train step may read (zeros: the
  autoencoders do not use them)."""
  split = common.random_records(num, seed)
  labels_shape = split["gray"].shape[:2]
  return split | {k: np.zeros(labels_shape, np.int64) for k in train.TRAIN_FIELDS if k not in split}


def parse_jax_variant(variant: str) -> tuple[str, int]:
  """'fast' -> ('fast', 1); 'native_scan4' -> ('native', 4)."""
  impl, _, scan = variant.partition("_scan")
  if impl not in layers.CONV_IMPLS or (scan and not scan.isdigit()):
    raise flags.ValidationError(
        f"--jax_variants: {variant!r} is not <impl>[_scan<K>] with impl in {layers.CONV_IMPLS}."
    )
  return impl, int(scan) if scan else 1


def jax_runner(config, variant: str, seed: int) -> Runner:
  """Our real train step (donated state, device-resident data) and a jitted forward pass."""
  impl, steps_per_call = parse_jax_variant(variant)
  config.model.conv_impl = impl
  batch = config.train.batch_size
  mesh = steps.make_mesh(config.mesh)
  model = models.create_model(config.model)
  split = synthetic_split(batch * DATA_BATCHES, seed)
  example = streams.to_model_inputs({k: v[:batch] for k, v in split.items()})
  state = steps.create_train_state(model, steps.create_optimizer(config.optim), example, seed, mesh)
  data = jax.device_put({k: split[k] for k in train.TRAIN_FIELDS})
  step = functools.partial(
      steps.train_step, loss_weights=dict(config.train.loss_weights), hflip=config.data.hflip
  )
  order = np.random.default_rng(seed).permutation(batch * DATA_BATCHES)
  idx = [np.resize(np.roll(order, i * batch), (steps_per_call, batch)) for i in range(DATA_BATCHES)]
  compiled, compile_s = common.compile_train_step(
      steps.make_multi_step(mesh, step), state, data, idx[0]
  )
  holder = {"state": state}

  def run_train(n: int) -> None:
    for i in range(max(1, n // steps_per_call)):
      holder["state"], metrics = compiled(holder["state"], data, idx[i % DATA_BATCHES])
    jax.block_until_ready(metrics)

  inputs = jax.device_put(example)
  # Compiled ahead of the timings, once: a call with other shapes would raise, not recompile.
  apply = (
      jax.jit(lambda params, inputs: model.apply({"params": params}, inputs))
      .lower(state.params, inputs)
      .compile()
  )

  def run_infer(n: int) -> None:
    for _ in range(n):
      out = apply(holder["state"].params, inputs)
    jax.block_until_ready(out)

  params = sum(x.size for x in jax.tree.leaves(state.params))
  return Runner("jax", variant, jax.devices()[0].platform, params, compile_s, run_train, run_infer)


def torch_runner(config, variant: str, seed: int) -> Runner:
  """The PyTorch peer: Adam with the same hyperparameters, the same weighted MSE, one fixed
  batch; at `config.model.dtype` bfloat16 the forward runs under CPU autocast (PyTorch's mixed
  precision: convolutions in bfloat16, parameters and the loss in float32)."""
  import contextlib  # pylint: disable=g-import-not-at-top

  import torch  # pylint: disable=g-import-not-at-top

  from benchmarks.peers import torch_models  # pylint: disable=g-import-not-at-top

  torch.manual_seed(seed)
  mc, oc, batch = config.model, config.optim, config.train.batch_size
  model = torch_models.create(mc.name, mc.width, channels_last=variant.endswith("_cl"))
  opt = torch.optim.Adam(model.parameters(), lr=oc.learning_rate, betas=(oc.b1, oc.b2))
  gen = torch.Generator().manual_seed(seed)
  inputs = {
      s: torch.rand((batch, *conv_flops.SEQUENCE_SHAPE, c), generator=gen)
      for s, c in streams.STREAM_CHANNELS.items()
  }
  forward = torch.compile(model) if variant.startswith("compile") else model
  weights = dict(config.train.loss_weights)
  bfloat16 = config.model.dtype == "bfloat16"

  def precision():
    return torch.autocast("cpu", dtype=torch.bfloat16) if bfloat16 else contextlib.nullcontext()

  def step() -> None:
    opt.zero_grad(set_to_none=True)
    with precision():
      out = forward(inputs)
    loss = sum(weights[s] * ((out[s].float() - inputs[s]) ** 2).mean() for s in out)
    loss.backward()
    opt.step()

  first_s = common.seconds(step)  # torch.compile compiles here; eager runs one warm-up step.
  compile_s = first_s if forward is not model else 0.0

  def run_train(n: int) -> None:
    for _ in range(n):
      step()

  def run_infer(n: int) -> None:
    with torch.no_grad(), precision():
      for _ in range(n):
        forward(inputs)

  run_infer(1)
  return Runner(
      "torch", variant, "cpu", torch_models.param_count(model), compile_s, run_train, run_infer
  )


def try_torch_runner(config, variant: str, seed: int) -> Runner | None:
  """torch_runner, or None (with a message) where torch.compile does not work on this machine."""
  try:
    return torch_runner(config, variant, seed)
  # pylint: disable=broad-except  torch.compile's errors have no common type.
  except Exception as e:
    if not variant.startswith("compile"):
      raise
    print(f"{config.model.name}: torch {variant} skipped: {type(e).__name__}: {e}", file=sys.stderr)
    return None


def measure(runners: list[Runner], batch: int, steps: int, repeats: int) -> list[dict]:
  """Alternates the runners step by step (round robin), so load changes hit all of them alike.

  Returns per runner the median over repeats of the mean step time, and each repeat's rate.
  """
  train_s = [[] for _ in runners]
  infer_s = [[] for _ in runners]
  for r in runners:  # Warm-up: first calls allocate and fill caches.
    r.train(1)
    r.infer(1)
  for _ in range(repeats):
    sums = np.zeros((2, len(runners)))
    for _ in range(steps):
      for i, r in enumerate(runners):
        sums[0, i] += common.seconds(r.train, 1)
        sums[1, i] += common.seconds(r.infer, 1)
    for i in range(len(runners)):
      train_s[i].append(sums[0, i] / steps)
      infer_s[i].append(sums[1, i] / steps)
  frames = conv_flops.SEQUENCE_SHAPE[0]
  return [
      {
          "train_seq_per_s_repeats": [batch / s for s in train_s[i]],
          "train_seq_per_s": batch / statistics.median(train_s[i]),
          "train_s_per_step": statistics.median(train_s[i]),
          "infer_frames_per_s": batch * frames / statistics.median(infer_s[i]),
      }
      for i in range(len(runners))
  ]


def ratios_vs_fastest_torch(results: list[dict], runners: list[Runner]) -> list[float | None]:
  """Per row: median over repeats of (row rate / fastest PyTorch variant's rate in the same
  repeat)."""
  torch_rows = [i for i, r in enumerate(runners) if r.framework == "torch"]
  if not torch_rows:
    return [None] * len(runners)
  best = max(torch_rows, key=lambda i: results[i]["train_seq_per_s"])
  ref = results[best]["train_seq_per_s_repeats"]
  return [
      statistics.median(a / b for a, b in zip(res["train_seq_per_s_repeats"], ref))
      for res in results
  ]


def torch_available() -> bool:
  return importlib.util.find_spec("torch") is not None


def benchmark_model(name: str, args: Settings, with_torch: bool) -> list[dict]:
  """All variants of one model at every precision; returns finished JSON rows."""
  return [
      row for dtype in args.dtypes for row in benchmark_precision(name, dtype, args, with_torch)
  ]


def benchmark_precision(name: str, dtype: str, args: Settings, with_torch: bool) -> list[dict]:
  """All variants of one model at one precision, measured alternately; finished JSON rows."""
  config = load_config(name, args.batch, args.width, dtype)
  runners = [
      jax_runner(config.copy_and_resolve_references(), v, args.seed) for v in args.jax_variants
  ]
  if with_torch:
    runners += [
        r for r in (try_torch_runner(config, v, args.seed) for v in args.torch_variants) if r
    ]
  params = {r.params for r in runners}
  if len(params) != 1:
    raise AssertionError(
        f"{name}: parameter counts differ between implementations: "
        f"{[(r.framework, r.variant, r.params) for r in runners]}"
    )
  batch = config.train.batch_size
  results = measure(runners, batch, args.steps, args.repeats)
  ratios = ratios_vs_fastest_torch(results, runners)
  fwd_flops = conv_flops.forward_flops_per_sequence(models.create_model(config.model))
  stamp = common.environment(*(["torch"] if with_torch else []))
  rows = []
  for r, res, ratio in zip(runners, results, ratios):
    train_flops = conv_flops.TRAIN_FLOPS_PER_FORWARD * fwd_flops * res["train_seq_per_s"]
    rows.append(
        {
            "model": name,
            "dtype": dtype,
            "framework": r.framework,
            "variant": r.variant,
            "device": r.device,
            "batch": batch,
            "params": r.params,
            "compile_s": r.compile_s,
            **res,
            "train_ratio_vs_fastest_torch": ratio,
            "fwd_gflops_per_seq": fwd_flops / 1e9,
            "train_gflop_per_s": train_flops / 1e9,
            **stamp,
        }
    )
  return rows


def format_cell(key: str, value) -> str:
  """How the table prints a JSON value (tests parse the table back with the same function)."""
  if value is None:
    return "-"
  if isinstance(value, float):
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
  return str(value)


def table(rows: list[dict]) -> str:
  lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
  lines += ["| " + " | ".join(format_cell(k, row[k]) for k in TABLE_COLUMNS) + " |" for row in rows]
  return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# --profile: which conv layers bound our step.


def profile_layer(module: layers.Conv, shape: tuple[int, ...], steps: int) -> tuple[float, float]:
  """Seconds per forward and per forward+backward (input and parameter gradients) of one layer."""
  x = jnp.ones(shape, jnp.float32)
  params = module.init(jax.random.PRNGKey(0), x)
  fwd = jax.jit(module.apply)
  grad = jax.jit(jax.grad(lambda p, x: jnp.sum(module.apply(p, x) ** 2), argnums=(0, 1)))
  fwd_s = common.seconds_per_item(
      lambda n: jax.block_until_ready([fwd(params, x) for _ in range(n)]), steps
  )
  grad_s = common.seconds_per_item(
      lambda n: jax.block_until_ready([grad(params, x) for _ in range(n)]), steps
  )
  return fwd_s, grad_s


def profile_torch_layer(
    module: layers.Conv, shape: tuple[int, ...], steps: int
) -> tuple[float, float]:
  """profile_layer for the layer's PyTorch channels-last peer (same shapes, same loss)."""
  import torch  # pylint: disable=g-import-not-at-top

  from benchmarks.peers import torch_models  # pylint: disable=g-import-not-at-top

  nd = len(module.kernel_size)
  layer, fmt = torch_models.conv_layer(
      shape[-1],
      module.features,
      module.kernel_size,
      module.strides or (1,) * nd,
      module.dilation,
      module.transpose,
  )
  # Our [..., *spatial, C] with the leading axes merged is channels-last [N, C, *spatial] permuted.
  x = torch.ones((int(np.prod(shape[: -nd - 1])), shape[-1], *shape[-nd - 1 : -1]))
  x = x.contiguous(memory_format=fmt).requires_grad_(True)

  def fwd(n: int) -> None:
    with torch.no_grad():
      for _ in range(n):
        layer(x)

  def grad(n: int) -> None:
    for _ in range(n):
      layer.zero_grad(set_to_none=True)
      x.grad = None
      (layer(x) ** 2).sum().backward()

  return common.seconds_per_item(fwd, steps), common.seconds_per_item(grad, steps)


def profile_model(name: str, args: Settings, with_torch: bool) -> dict:
  """Per-layer times of the fast formulation (and of PyTorch's peer layers), sorted by our
  forward+backward time."""
  config = load_config(name, args.batch, args.width, args.dtypes[0])
  config.model.conv_impl = "fast"
  rows = []
  model = models.create_model(config.model)
  for path, module, shape in conv_flops.conv_calls(model, config.train.batch_size):
    fwd_s, grad_s = profile_layer(module, shape, args.steps)
    kind = ("convT " if module.transpose else "conv ") + "x".join(map(str, module.kernel_size))
    strides = "x".join(map(str, module.strides or (1,) * len(module.kernel_size)))
    flops = conv_flops.conv_flops(module, shape)
    row = {
        "layer": path,
        "op": f"{kind} s{strides} d{module.dilation}",
        "in": f"{shape[-1]}->{module.features}",
        "fwd_ms": 1e3 * fwd_s,
        "fwd_bwd_ms": 1e3 * grad_s,
        "fwd_gflop_per_s": flops / fwd_s / 1e9,
        "fwd_bwd_gflop_per_s": conv_flops.TRAIN_FLOPS_PER_FORWARD * flops / grad_s / 1e9,
    }
    if with_torch:
      torch_fwd_s, torch_grad_s = profile_torch_layer(module, shape, args.steps)
      row.update(
          torch_fwd_ms=1e3 * torch_fwd_s,
          torch_fwd_bwd_ms=1e3 * torch_grad_s,
          fwd_bwd_ratio_vs_torch=torch_grad_s / grad_s,
      )
    rows.append(row)
  rows.sort(key=lambda r: -r["fwd_bwd_ms"])
  prof = {
      "model": name,
      "batch": config.train.batch_size,
      "layers": rows,
      "sum_fwd_bwd_ms": sum(r["fwd_bwd_ms"] for r in rows),
  }
  if with_torch:
    prof["torch_sum_fwd_bwd_ms"] = sum(r["torch_fwd_bwd_ms"] for r in rows)
  return prof


def print_profile(prof: dict) -> None:
  with_torch = "torch_sum_fwd_bwd_ms" in prof
  total = f"sum of forward+backward {prof['sum_fwd_bwd_ms']:.0f} ms"
  if with_torch:
    total += f" (PyTorch channels-last {prof['torch_sum_fwd_bwd_ms']:.0f} ms)"
  print(f"\n{prof['model']} (batch {prof['batch']}): conv layers alone, fast formulation; {total}")
  header = "| layer | op | channels | fwd ms | fwd+bwd ms | fwd GFLOP/s | fwd+bwd GFLOP/s |"
  if with_torch:
    header += " torch fwd ms | torch fwd+bwd ms | ours / torch |"
  print(header)
  print("|" + "---|" * (header.count("|") - 1))
  for r in prof["layers"]:
    line = (
        f"| {r['layer']} | {r['op']} | {r['in']} | {r['fwd_ms']:.1f} | {r['fwd_bwd_ms']:.1f} | "
        f"{r['fwd_gflop_per_s']:.1f} | {r['fwd_bwd_gflop_per_s']:.1f} |"
    )
    if with_torch:
      line += (
          f" {r['torch_fwd_ms']:.1f} | {r['torch_fwd_bwd_ms']:.1f} | "
          f"{r['fwd_bwd_ratio_vs_torch']:.2f}x |"
      )
    print(line)


# --------------------------------------------------------------------------------------------------
# CLI.


def _check_flags(flag_values: dict[str, Any]) -> bool:
  """Validator of --models, --jax_variants and --torch_variants (absl reports the error)."""
  unknown = set(flag_values["models"]) - set(MODELS)
  if unknown:
    raise flags.ValidationError(f"--models: {sorted(unknown)} not among {MODELS}.")
  for variant in flag_values["jax_variants"]:
    parse_jax_variant(variant)
  if set(flag_values["torch_variants"] or ()) - set(TORCH_VARIANTS):
    raise flags.ValidationError(f"--torch_variants: expected a subset of {TORCH_VARIANTS}.")
  if not flag_values["dtypes"] or set(flag_values["dtypes"]) - set(DTYPES):
    raise flags.ValidationError(f"--dtypes: expected a subset of {DTYPES}.")
  return True


flags.register_multi_flags_validator(
    ["models", "jax_variants", "torch_variants", "dtypes"], _check_flags, flag_values=FLAGS
)


def parse_settings(argv: Sequence[str]) -> Settings:
  """Settings from the command line argv (argv[0]: the program); app.UsageError on a bad flag."""
  common.parse_flags(FLAGS, argv)
  mode = DEFAULTS["quick" if FLAGS.quick else "full"]
  sized = {
      key: value if FLAGS[key].value is None else FLAGS[key].value for key, value in mode.items()
  }
  default_torch = QUICK_TORCH_VARIANTS if FLAGS.quick else TORCH_VARIANTS
  return Settings(
      models=tuple(FLAGS.models),
      peers=FLAGS.peers,
      quick=FLAGS.quick,
      output=FLAGS.output,
      dtypes=tuple(FLAGS.dtypes),
      jax_variants=tuple(FLAGS.jax_variants),
      torch_variants=tuple(FLAGS.torch_variants or default_torch),
      profile=FLAGS.profile,
      seed=FLAGS.seed,
      **sized,
  )


def main(argv: Sequence[str]) -> list[dict]:
  """Runs the benchmark for argv (argv[0]: the program, as app.run passes it); returns the JSON."""
  args = parse_settings(argv)
  with_torch = args.peers == "torch" and torch_available()
  if args.peers == "torch" and not with_torch:
    print(
        "torch is not installed (pip install -e .[bench]): benchmarking ours alone.",
        file=sys.stderr,
    )
  if args.profile:
    profiles = [profile_model(name, args, with_torch) for name in args.models]
    fileio.write_json_atomic(args.output, profiles)
    for prof in profiles:
      print_profile(prof)
    return profiles
  rows = []
  for name in args.models:
    rows += benchmark_model(name, args, with_torch)
    print(f"{name} done", file=sys.stderr, flush=True)
  fileio.write_json_atomic(args.output, rows)
  print(table(rows))
  return rows


if __name__ == "__main__":
  common.run(main)
