"""The paper's training schedules on synthetic data of the paper's size, timed end to end (GPU).

  python -m benchmarks.gpu_paper_schedule --output=/tmp/gpu_schedule.json \
      [--schedules=rae,cae] [--dtype=float32|bfloat16] [--peers=torch] [--peak_tflops=X]
  python -m benchmarks.gpu_paper_schedule --quick --output=/tmp/s.json   # CPU smoke run, tiny sizes

Schedules (paper Table 1, 9,577 training sequences of hang): dual RAE 120 epochs at batch 64 (loss
weights gray 0.75 / flow 1.0), dual CAE 60 epochs at batch 32 (1.0 / 1.0); Adam lr 2e-4, b1 0.5.
Reports wall time including compilation, sequences/s, achieved FLOP/s (benchmarks.conv_flops, a step
= 3x the forward) against the card's peak rate, and, with `--peers=torch`, PyTorch (channels-last,
benchmarks/peers) on the same card for the same schedule. Each row carries `common.environment`'s
`date`, `machine` and `versions`.

Runs where jax (CUDA), flax, optax, opencv, absl and scikit-learn exist but NOT tensorflow-datasets,
ml_collections or grain: it imports neither them nor mouseflax.train / input_pipeline (which do). It
times the REAL step: `mouseflax.steps.train_step` (the trainer's, with its loss, flips and RNG use)
through `steps.make_multi_step` (the trainer's device-resident form: a `lax.scan` over a whole epoch
per compiled call, batches gathered on the device, the state donated; `common.compile_train_step`
refuses a step that is not jitted or does not donate), with the trainer's optimiser and train state
(`steps.create_optimizer`, `steps.create_train_state`) on a one-device mesh.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import functools
import time
from typing import Any

from absl import flags
import jax
import numpy as np

# pylint: disable=g-bad-import-order  (sets mouseflax's XLA flags)
from benchmarks import common
from benchmarks import conv_flops
from mouseflax import fileio
from mouseflax import models
from mouseflax import steps
from mouseflax import streams

SCHEDULES = {  # Paper Table 1 and section 2.3 (hang: 9,577 training sequences).
    "rae": {
        "model": "rae",
        "epochs": 120,
        "batch": 64,
        "loss_weights": {"gray": 0.75, "flow": 1.0},
    },
    "cae": {"model": "cae", "epochs": 60, "batch": 32, "loss_weights": {"gray": 1.0, "flow": 1.0}},
}
NUM_SEQUENCES = 9577
LEARNING_RATE = 2e-4
ADAM_B1 = 0.5  # The paper's "momentum".
ADAM_B2 = 0.999
# config.optim of configs/default.py, which this module cannot import (no ml_collections here).
OPTIM = {"name": "adam", "learning_rate": LEARNING_RATE, "b1": ADAM_B1, "b2": ADAM_B2}
GRAY_SCALE = streams.GRAY_SCALE  # uint8 gray -> [0, 1] (the PyTorch peer's inputs).
QUICK = {"num_sequences": 8, "epochs": 2, "batch": 4, "width": 4}
FULL = {"num_sequences": NUM_SEQUENCES, "width": 32}  # epochs, batch: the schedule's.
# Dense peak TFLOP/s (vendor data sheets, SXM parts): float32 runs use TF32 tensor cores (JAX's and
# PyTorch-with-TF32's default precision for convolutions on these cards), bfloat16 the BF16 rate.
PEAK_TFLOPS = {
    "H200": {"float32": 494.7, "bfloat16": 989.4},
    "H100": {"float32": 494.7, "bfloat16": 989.4},
    "A100": {"float32": 156.0, "bfloat16": 312.0},
}


FLAGS = flags.FlagValues()  # This benchmark's own flags (benchmarks share names such as --output).
flags.DEFINE_string("output", None, "JSON file written (atomically).", flag_values=FLAGS)
flags.mark_flag_as_required("output", flag_values=FLAGS)
flags.DEFINE_list("schedules", ["rae", "cae"], f"A subset of {list(SCHEDULES)}.", flag_values=FLAGS)
flags.DEFINE_bool("quick", False, f"Tiny CPU smoke run: {QUICK}.", flag_values=FLAGS)
flags.DEFINE_integer("epochs", None, "Override every schedule's epochs.", flag_values=FLAGS)
flags.DEFINE_integer("batch", None, "Override every schedule's batch size.", flag_values=FLAGS)
flags.DEFINE_integer("num_sequences", None, f"Default {NUM_SEQUENCES}.", flag_values=FLAGS)
flags.DEFINE_integer("width", None, f"Model width (default {FULL['width']}).", flag_values=FLAGS)
flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "Compute dtype.", flag_values=FLAGS)
flags.DEFINE_enum("peers", "", ["", "torch"], "'torch' adds PyTorch's run.", flag_values=FLAGS)
flags.DEFINE_float("peak_tflops", None, "The card's peak, if not in the table.", flag_values=FLAGS)
flags.DEFINE_integer("seed", 0, "Seeds the parameters, data and order.", flag_values=FLAGS)
flags.register_validator(
    "schedules",
    lambda names: set(names) <= set(SCHEDULES),
    f"--schedules: expected a subset of {list(SCHEDULES)}.",
    flag_values=FLAGS,
)


@dataclasses.dataclass(frozen=True)
class Settings:
  """The parsed command line, with --quick's or the full run's sizes filled in."""

  output: str
  schedules: tuple[str, ...]
  quick: bool
  epochs: int | None  # None: the schedule's.
  batch: int | None
  num_sequences: int
  width: int
  dtype: str
  peers: str
  peak_tflops: float | None
  seed: int


def epoch_order(num: int, batch: int, seed: int, epoch: int) -> np.ndarray:
  """[steps, batch] indices of one epoch (remainder dropped, as the trainer does)."""
  perm = np.random.default_rng([seed, epoch]).permutation(num)
  num_steps = num // batch
  return perm[: num_steps * batch].reshape(num_steps, batch)


def peak_tflops(device: jax.Device, dtype: str, override: float | None) -> float | None:
  if override:
    return override
  for name, rates in PEAK_TFLOPS.items():
    if name in device.device_kind:
      return rates[dtype]
  return None


def run_jax(name: str, sched: dict, args: Settings) -> dict[str, Any]:
  """One schedule with our model; wall time covers init, compilation and every epoch."""
  start = time.perf_counter()
  model = models.get_model(sched["model"])(width=args.width, dtype=args.dtype)
  mesh = steps.make_mesh({"data_parallelism": 1})
  data_np = common.random_records(args.num_sequences, args.seed)
  data = jax.device_put(data_np, steps.replicated(mesh))
  tx = steps.create_optimizer(OPTIM)
  example = streams.to_model_inputs({k: v[:1] for k, v in data_np.items()})
  state = steps.create_train_state(model, tx, example, args.seed, mesh)
  step = functools.partial(steps.train_step, loss_weights=sched["loss_weights"], hflip=True)
  compiled, compile_s = common.compile_train_step(
      steps.make_multi_step(mesh, step),
      state,
      data,
      epoch_order(args.num_sequences, sched["batch"], 0, 0),
  )
  train_start = time.perf_counter()
  for epoch in range(sched["epochs"]):
    state, metrics = compiled(
        state, data, epoch_order(args.num_sequences, sched["batch"], args.seed, epoch)
    )
  loss = float(metrics["loss"][-1])
  end = time.perf_counter()
  return {
      "framework": "jax",
      "compile_s": compile_s,
      "train_s": end - train_start,
      "wall_s": end - start,
      "final_loss": loss,
      "params": sum(x.size for x in jax.tree.leaves(state.params)),
      "fwd_gflops_per_seq": conv_flops.forward_flops_per_sequence(model) / 1e9,
      "device_kind": jax.devices()[0].device_kind,
  }


def run_torch(name: str, sched: dict, args: Settings) -> dict[str, Any]:
  """The same schedule with the PyTorch peer (channels-last eager) on the same card (no flips)."""
  import torch  # pylint: disable=g-import-not-at-top

  from benchmarks.peers import torch_models  # pylint: disable=g-import-not-at-top

  start = time.perf_counter()
  device = "cuda" if torch.cuda.is_available() else "cpu"
  torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = (
      True  # As JAX's default.
  )
  torch.backends.cudnn.benchmark = True  # Fixed shapes: let cuDNN pick its fastest algorithms.
  torch.manual_seed(args.seed)
  model = torch_models.create(sched["model"], args.width).to(device)
  opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=(ADAM_B1, ADAM_B2))
  data_np = common.random_records(args.num_sequences, args.seed)
  data = {
      "gray": torch.from_numpy(data_np["gray"]).to(device).float() / GRAY_SCALE,
      "flow": torch.from_numpy(data_np["flow"]).to(device).float(),
  }
  autocast = torch.autocast(device, torch.bfloat16, enabled=args.dtype == "bfloat16")
  train_start = time.perf_counter()
  for epoch in range(sched["epochs"]):
    order = torch.from_numpy(epoch_order(args.num_sequences, sched["batch"], args.seed, epoch))
    for idx in order.to(device):
      inputs = {k: v[idx] for k, v in data.items()}
      opt.zero_grad(set_to_none=True)
      with autocast:
        out = model(inputs)
      loss = sum(sched["loss_weights"][s] * ((out[s].float() - inputs[s]) ** 2).mean() for s in out)
      loss.backward()
      opt.step()
  final = loss.item()  # Synchronises the device.
  end = time.perf_counter()
  return {
      "framework": "torch",
      "compile_s": 0.0,
      "train_s": end - train_start,
      "wall_s": end - start,
      "final_loss": final,
      "params": torch_models.param_count(model),
      "device_kind": torch.cuda.get_device_name() if device == "cuda" else "cpu",
  }


def finish_row(name: str, sched: dict, res: dict, args: Settings, fwd_gflops: float) -> dict:
  """Adds the schedule, rates and the fraction of the card's peak to one run's numbers."""
  num_steps = sched["epochs"] * (args.num_sequences // sched["batch"])
  seq_per_s = num_steps * sched["batch"] / res["train_s"]
  achieved = conv_flops.TRAIN_FLOPS_PER_FORWARD * fwd_gflops * seq_per_s / 1e3
  peak = peak_tflops(jax.devices()[0], args.dtype, args.peak_tflops)
  return {
      "schedule": name,
      **res,
      "model": sched["model"],
      "epochs": sched["epochs"],
      "batch": sched["batch"],
      "num_sequences": args.num_sequences,
      "steps": num_steps,
      "dtype": args.dtype,
      "width": args.width,
      "platform": jax.default_backend(),
      "seq_per_s": seq_per_s,
      "fwd_gflops_per_seq": fwd_gflops,
      "achieved_tflop_per_s": achieved,
      "peak_tflop_per_s": peak,
      "fraction_of_peak": achieved / peak if peak else None,
  }


def parse_settings(argv: Sequence[str]) -> Settings:
  """Settings from the command line argv (argv[0]: the program); app.UsageError on a bad flag."""
  common.parse_flags(FLAGS, argv)
  sizes = QUICK if FLAGS.quick else FULL
  given = {key: FLAGS[key].value for key in ("num_sequences", "width", "epochs", "batch")}
  return Settings(
      output=FLAGS.output,
      schedules=tuple(FLAGS.schedules),
      quick=FLAGS.quick,
      dtype=FLAGS.dtype,
      peers=FLAGS.peers,
      peak_tflops=FLAGS.peak_tflops,
      seed=FLAGS.seed,
      **{key: sizes.get(key) if value is None else value for key, value in given.items()},
  )


def schedule_of(name: str, args: Settings) -> dict:
  sched = dict(SCHEDULES[name])
  sched["epochs"] = args.epochs or sched["epochs"]
  sched["batch"] = args.batch or sched["batch"]
  if sched["epochs"] < 1 or sched["batch"] < 1:
    raise ValueError(f"--epochs and --batch must be >= 1; got {sched['epochs']}, {sched['batch']}.")
  if args.num_sequences < sched["batch"]:
    raise ValueError(f"--num_sequences={args.num_sequences} is below the batch {sched['batch']}.")
  return sched


def main(argv: Sequence[str]) -> list[dict]:
  """Runs the schedules for argv (argv[0]: the program, as app.run passes it); returns the rows."""
  args = parse_settings(argv)
  environment = common.environment(*(["torch"] if args.peers == "torch" else []))
  rows = []
  for name in args.schedules:
    sched = schedule_of(name, args)
    ours = run_jax(name, sched, args)
    rows.append(finish_row(name, sched, ours, args, ours["fwd_gflops_per_seq"]))
    if args.peers == "torch":
      rows.append(
          finish_row(name, sched, run_torch(name, sched, args), args, ours["fwd_gflops_per_seq"])
      )
  rows = [row | environment for row in rows]
  fileio.write_json_atomic(args.output, rows)
  print(
      "| schedule | framework | device | dtype | epochs | batch | wall s | compile s | seq/s | "
      "TFLOP/s | of peak |\n|---|---|---|---|---|---|---|---|---|---|---|"
  )
  for r in rows:
    frac = f"{r['fraction_of_peak']:.1%}" if r["fraction_of_peak"] else "-"
    print(
        f"| {r['schedule']} | {r['framework']} | {r['device_kind']} | {r['dtype']} | "
        f"{r['epochs']} | "
        f"{r['batch']} | {r['wall_s']:.1f} | {r['compile_s']:.1f} | {r['seq_per_s']:.1f} | "
        f"{r['achieved_tflop_per_s']:.3f} | {frac} |"
    )
  return rows


if __name__ == "__main__":
  common.run(main)
