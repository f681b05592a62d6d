"""Tests for benchmarks/throughput.py, benchmarks/gpu_paper_schedule.py (and the mouseflax.steps it
imports), conv_flops and the PyTorch peers.

Tiny sizes (width 4, batch 2, one or two steps): these check that the benchmarks run and report what
they measured consistently, not the speed.
"""

import importlib.util
import json
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from benchmarks import conv_flops
from benchmarks import gpu_paper_schedule
from benchmarks import throughput
from mouseflax import models
from mouseflax import steps

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = ["--width=4", "--batch=2", "--steps=1", "--repeats=1"]
BLOCKED_ON_GPU_IMAGE = ("tensorflow_datasets", "ml_collections", "grain")


def torch_importable() -> bool:
  return importlib.util.find_spec("torch") is not None


def parse_table(stdout: str) -> list[dict[str, str]]:
  """The rows of the printed markdown table, keyed by its header."""
  lines = [line for line in stdout.splitlines() if line.startswith("| ")]
  header = [c.strip() for c in lines[0].strip("|").split("|")]
  return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[1:]]


def test_throughput_quick_cli_json_and_table_agree(tmp_path):
  """`--quick` in a subprocess (as CI smoke-runs it): JSON schema, equal parameters, table ==
  JSON."""
  out = tmp_path / "throughput.json"
  peers = ["--peers=torch"] if torch_importable() else []
  proc = subprocess.run(
      [
          sys.executable,
          "-m",
          "benchmarks.throughput",
          "--quick",
          "--models=cae_single",
          *TINY,
          *peers,
          f"--output={out}",
      ],
      cwd=REPO_ROOT,
      capture_output=True,
      text=True,
      timeout=600,
      check=False,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  rows = json.loads(out.read_text())
  assert [r["framework"] for r in rows] == ["jax"] + (["torch"] if peers else [])
  for row in rows:
    assert set(throughput.ROW_KEYS) <= set(row)
    assert row["model"] == "cae_single" and row["batch"] == 2
    assert row["train_seq_per_s"] > 0 and row["infer_frames_per_s"] > 0 and row["compile_s"] >= 0
  assert len({r["params"] for r in rows}) == 1
  if peers:
    assert rows[1]["train_ratio_vs_fastest_torch"] == pytest.approx(1.0)
  else:
    assert rows[0]["train_ratio_vs_fastest_torch"] is None
  table = parse_table(proc.stdout)
  assert len(table) == len(rows)
  for printed, row in zip(table, rows):
    for key in throughput.TABLE_COLUMNS:
      assert printed[key] == throughput.format_cell(key, row[key]), key


def test_throughput_runs_ours_alone_without_torch(tmp_path, monkeypatch, capsys):
  monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError.
  rows = throughput.main(
      ["--quick", "--models=cae_single", *TINY, "--peers=torch", f"--output={tmp_path / 't.json'}"]
  )
  assert [r["framework"] for r in rows] == ["jax"]
  assert "torch is not installed" in capsys.readouterr().err


def test_throughput_rejects_bad_flags(tmp_path):
  with pytest.raises(SystemExit):
    throughput.parse_args(["--models=vae", f"--output={tmp_path / 'x.json'}"])
  with pytest.raises(ValueError, match="jax_variants"):
    throughput.parse_args(["--jax_variants=fastest", f"--output={tmp_path / 'x.json'}"])


def test_profile_lists_every_conv_layer_with_its_peer(tmp_path, capsys):
  """`--profile`: one row per conv call of the model, printed as in the JSON; PyTorch's peer layer
  beside each when torch is installed."""
  with_torch = torch_importable()
  profiles = throughput.main(
      [
          "--profile",
          "--models=cae_single",
          *TINY,
          f"--output={tmp_path / 'p.json'}",
          *(["--peers=torch"] if with_torch else []),
      ]
  )
  assert json.loads((tmp_path / "p.json").read_text()) == profiles
  (prof,) = profiles
  model = models.create_model(throughput.load_config("cae_single", 2, 4, "float32").model)
  calls = conv_flops.conv_calls(model, 2)
  assert sorted(r["layer"] for r in prof["layers"]) == sorted(path for path, _, _ in calls)
  assert all(r["fwd_ms"] > 0 and r["fwd_bwd_ms"] > 0 for r in prof["layers"])
  assert ("torch_sum_fwd_bwd_ms" in prof) == with_torch
  if with_torch:
    assert all(
        r["fwd_bwd_ratio_vs_torch"] == pytest.approx(r["torch_fwd_bwd_ms"] / r["fwd_bwd_ms"])
        for r in prof["layers"]
    )
  printed = parse_table(capsys.readouterr().out)
  assert [p["layer"] for p in printed] == [r["layer"] for r in prof["layers"]]


@pytest.mark.parametrize("name", ["cae", "cae_single", "rae"])
def test_torch_peers_match_our_parameter_counts_and_shapes(name):
  torch = pytest.importorskip("torch")
  from benchmarks.peers import torch_models  # pylint: disable=g-import-not-at-top

  model = models.get_model(name)()
  shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), conv_flops.example_inputs(1))
  ours = sum(x.size for x in jax.tree.leaves(shapes))
  peer = torch_models.create(name, channels_last=False)
  assert torch_models.param_count(peer) == ours
  x = {
      s: torch.rand(1, *conv_flops.SEQUENCE_SHAPE, c) for s, c in conv_flops.STREAM_CHANNELS.items()
  }
  out = peer(x)
  expected = ("gray",) if name == "cae_single" else ("gray", "flow")
  assert {k: tuple(v.shape) for k, v in out.items()} == {k: tuple(x[k].shape) for k in expected}


def test_conv_flops_matches_xla_count_of_native_forward():
  model = models.get_model("cae")(width=4, conv_impl="native")
  inputs = conv_flops.example_inputs(1)
  params = jax.eval_shape(model.init, jax.random.PRNGKey(0), inputs)
  xla = jax.jit(model.apply).lower(params, inputs).compile().cost_analysis()["flops"]
  counted = conv_flops.forward_flops_per_sequence(model)
  # XLA also counts the elementwise ops (bias, relu, sigmoid), a few percent at width 4.
  assert counted <= xla <= 1.05 * counted


def test_steps_imports_without_tfds_ml_collections_grain():
  """mouseflax.steps (the real step the GPU benchmark times) imports with those modules blocked."""
  code = "\n".join(
      [
          "import sys",
          *[f"sys.modules[{m!r}] = None" for m in BLOCKED_ON_GPU_IMAGE],
          "from mouseflax import steps",
          "assert callable(steps.train_step) and callable(steps.make_multi_step)",
          "assert 'mouseflax.train' not in sys.modules and 'mouseflax.input_pipeline' not in "
          "sys.modules",
      ]
  )
  proc = subprocess.run(
      [sys.executable, "-c", code],
      cwd=REPO_ROOT,
      capture_output=True,
      text=True,
      timeout=600,
      check=False,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]


def test_gpu_schedule_times_the_trainers_step():
  """No local copy: the benchmark's step pieces are the objects the trainer runs."""
  assert gpu_paper_schedule.steps is steps
  assert not hasattr(gpu_paper_schedule, "local_train_step")


def test_gpu_schedule_runs_without_tfds_ml_collections_grain(tmp_path):
  """Imports and runs (tiny, CPU) with the modules absent from the GPU image blocked."""
  out = tmp_path / "schedule.json"
  code = "\n".join(
      [
          "import sys",
          *[f"sys.modules[{m!r}] = None" for m in BLOCKED_ON_GPU_IMAGE],
          "from benchmarks import gpu_paper_schedule",
          f"gpu_paper_schedule.main(['--quick', '--schedules=cae', '--epochs=1', "
          f"'--output={out}'])",
          "assert 'mouseflax.train' not in sys.modules and 'mouseflax.input_pipeline' not in "
          "sys.modules",
      ]
  )
  proc = subprocess.run(
      [sys.executable, "-c", code],
      cwd=REPO_ROOT,
      capture_output=True,
      text=True,
      timeout=600,
      check=False,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  (row,) = json.loads(out.read_text())
  quick = gpu_paper_schedule.QUICK
  assert row["schedule"] == "cae" and row["framework"] == "jax" and row["epochs"] == 1
  assert row["steps"] == quick["num_sequences"] // quick["batch"]
  assert np.isfinite(row["final_loss"]) and row["seq_per_s"] > 0
  assert row["wall_s"] >= row["compile_s"] + row["train_s"] - 1e-6
  assert row["fwd_gflops_per_seq"] > 0 and row["fraction_of_peak"] is None  # No peak for a CPU.
