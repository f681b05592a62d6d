"""The paper's full training schedules on synthetic data of the paper's size, timed end to end
(GPU).

  python -m benchmarks.gpu_paper_schedule --output=/tmp/gpu_schedule.json \
      [--schedules=rae,cae] [--dtype=float32|bfloat16] [--peers=torch] [--peak_tflops=X]
  python -m benchmarks.gpu_paper_schedule --quick --output=/tmp/s.json   # CPU smoke run, tiny sizes

Schedules (paper Table 1, 9,577 training sequences of hang): dual RAE 120 epochs at batch 64 (loss
weights gray 0.75 / flow 1.0), dual CAE 60 epochs at batch 32 (1.0 / 1.0); Adam lr 2e-4, b1 0.5.
Reports wall time including compilation, sequences/s, achieved FLOP/s (benchmarks.conv_flops, a step
= 3x the forward) against the card's peak rate, and, with `--peers=torch`, PyTorch (channels-last,
benchmarks/peers) on the same card for the same schedule.

Runs where jax (CUDA), flax, optax, opencv, absl and scikit-learn exist but NOT tensorflow-datasets,
ml_collections or grain: it imports neither them nor mouseflax.train / input_pipeline (which do). It
times the REAL step: `mouseflax.steps.train_step` (the trainer's, with its loss, flips and RNG use)
through `steps.make_multi_step` (the trainer's device-resident form: a `lax.scan` over a whole epoch
per compiled call, batches gathered on the device, the state donated), with the trainer's optimiser
and train state (`steps.create_optimizer`, `steps.create_train_state`) on a one-device mesh.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import pathlib
import sys
import time
from typing import Any

import jax
import numpy as np

# pylint: disable=g-bad-import-order  (sets mouseflax's XLA flags)
from benchmarks import conv_flops
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
OPTIM = {
    "name": "adam",
    "learning_rate": LEARNING_RATE,
    "b1": ADAM_B1,
    "b2": ADAM_B2,
}  # config.optim
GRAY_SCALE = streams.GRAY_SCALE  # uint8 gray -> [0, 1] (the PyTorch peer's inputs).
GRAY_LEVELS = 256
QUICK = {"num_sequences": 8, "epochs": 2, "batch": 4, "width": 4}
# Dense peak TFLOP/s (vendor data sheets, SXM parts): float32 runs use TF32 tensor cores (JAX's and
# PyTorch-with-TF32's default precision for convolutions on these cards), bfloat16 the BF16 rate.
PEAK_TFLOPS = {
    "H200": {"float32": 494.7, "bfloat16": 989.4},
    "H100": {"float32": 494.7, "bfloat16": 989.4},
    "A100": {"float32": 156.0, "bfloat16": 312.0},
}


def synthetic_data(num: int, seed: int) -> dict[str, np.ndarray]:
  """Random sequences in the stored dtypes (uint8 gray, float16 flow), the paper's frame size."""
  rng = np.random.default_rng(seed)
  t, h, w = conv_flops.SEQUENCE_SHAPE
  return {
      "gray": rng.integers(0, GRAY_LEVELS, (num, t, h, w, 1), dtype=np.uint8),
      "flow": rng.random((num, t, h, w, 2), dtype=np.float32).astype(np.float16),
  }


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


def run_jax(name: str, sched: dict, args: argparse.Namespace) -> dict[str, Any]:
  """One schedule with our model; wall time covers init, compilation and every epoch."""
  start = time.perf_counter()
  model = models.get_model(sched["model"])(width=args.width, dtype=args.dtype)
  mesh = steps.make_mesh({"data_parallelism": 1})
  data_np = synthetic_data(args.num_sequences, args.seed)
  data = jax.device_put(data_np, steps.replicated(mesh))
  tx = steps.create_optimizer(OPTIM)
  example = streams.to_model_inputs({k: v[:1] for k, v in data_np.items()})
  state = steps.create_train_state(model, tx, example, args.seed, mesh)
  step = functools.partial(steps.train_step, loss_weights=sched["loss_weights"], hflip=True)
  epoch_fn = steps.make_multi_step(mesh, step)
  compile_start = time.perf_counter()
  compiled = epoch_fn.lower(
      state, data, epoch_order(args.num_sequences, sched["batch"], 0, 0)
  ).compile()
  compile_s = time.perf_counter() - compile_start
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


def run_torch(name: str, sched: dict, args: argparse.Namespace) -> dict[str, Any]:
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
  data_np = synthetic_data(args.num_sequences, args.seed)
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


def finish_row(
    name: str, sched: dict, res: dict, args: argparse.Namespace, fwd_gflops: float
) -> dict:
  """Adds the schedule, rates and the fraction of the card's peak to one run's numbers."""
  steps = sched["epochs"] * (args.num_sequences // sched["batch"])
  seq_per_s = steps * sched["batch"] / res["train_s"]
  achieved = conv_flops.TRAIN_FLOPS_PER_FORWARD * fwd_gflops * seq_per_s / 1e3
  peak = peak_tflops(jax.devices()[0], args.dtype, args.peak_tflops)
  return {
      "schedule": name,
      **res,
      "model": sched["model"],
      "epochs": sched["epochs"],
      "batch": sched["batch"],
      "num_sequences": args.num_sequences,
      "steps": steps,
      "dtype": args.dtype,
      "width": args.width,
      "platform": jax.default_backend(),
      "seq_per_s": seq_per_s,
      "fwd_gflops_per_seq": fwd_gflops,
      "achieved_tflop_per_s": achieved,
      "peak_tflop_per_s": peak,
      "fraction_of_peak": achieved / peak if peak else None,
      "date": datetime.date.today().isoformat(),
  }


def parse_args(argv: list[str]) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
  p.add_argument("--output", required=True, help="JSON file written (atomically).")
  p.add_argument(
      "--schedules", default="rae,cae", help=f"Comma-separated subset of {list(SCHEDULES)}."
  )
  p.add_argument("--quick", action="store_true", help=f"Tiny CPU smoke run: {QUICK}.")
  p.add_argument("--epochs", type=int, default=None, help="Override every schedule's epochs.")
  p.add_argument("--batch", type=int, default=None, help="Override every schedule's batch size.")
  p.add_argument("--num_sequences", type=int, default=None, help=f"Default {NUM_SEQUENCES}.")
  p.add_argument("--width", type=int, default=None, help="Model width (default 32).")
  p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
  p.add_argument("--peers", default="", choices=["", "torch"])
  p.add_argument(
      "--peak_tflops", type=float, default=None, help="The card's peak, if not in the table."
  )
  p.add_argument("--seed", type=int, default=0)
  args = p.parse_args(argv)
  defaults = {"num_sequences": NUM_SEQUENCES, "width": 32}
  for key in ("num_sequences", "width", "epochs", "batch"):
    if getattr(args, key) is None:
      setattr(args, key, QUICK[key] if args.quick else defaults.get(key))
  args.schedules = args.schedules.split(",")
  if set(args.schedules) - set(SCHEDULES):
    p.error(f"--schedules={args.schedules}: expected a subset of {list(SCHEDULES)}.")
  return args


def schedule_of(name: str, args: argparse.Namespace) -> dict:
  sched = dict(SCHEDULES[name])
  sched["epochs"] = args.epochs or sched["epochs"]
  sched["batch"] = args.batch or sched["batch"]
  if sched["epochs"] < 1 or sched["batch"] < 1:
    raise ValueError(f"--epochs and --batch must be >= 1; got {sched['epochs']}, {sched['batch']}.")
  if args.num_sequences < sched["batch"]:
    raise ValueError(f"--num_sequences={args.num_sequences} is below the batch {sched['batch']}.")
  return sched


def main(argv: list[str] | None = None) -> list[dict]:
  args = parse_args(sys.argv[1:] if argv is None else argv)
  rows = []
  for name in args.schedules:
    sched = schedule_of(name, args)
    ours = run_jax(name, sched, args)
    rows.append(finish_row(name, sched, ours, args, ours["fwd_gflops_per_seq"]))
    if args.peers == "torch":
      rows.append(
          finish_row(name, sched, run_torch(name, sched, args), args, ours["fwd_gflops_per_seq"])
      )
  out = pathlib.Path(args.output)
  out.parent.mkdir(parents=True, exist_ok=True)
  tmp = out.with_name(out.name + ".tmp")
  tmp.write_text(json.dumps(rows, indent=2) + "\n")
  os.replace(tmp, out)
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
  main()
