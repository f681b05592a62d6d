"""Tests of the benchmarks: throughput, gpu_paper_schedule (and the mouseflax.steps it imports),
model_speed, score_throughput, common, conv_flops and the PyTorch peers.

Tiny sizes (width 4, batch 2, one or two steps): these check that the benchmarks run, time the
trainer's real step (jitted, state donated) and report what they measured consistently, not the
speed.
"""

import importlib.util
import json
import pathlib
import subprocess
import sys

from absl import app
from absl import flags
import jax
import numpy as np
import pytest

from benchmarks import common
from benchmarks import conv_flops
from benchmarks import gpu_paper_schedule
from benchmarks import model_speed
from benchmarks import scale_out
from benchmarks import score_throughput
from benchmarks import throughput
from mouseflax import models
from mouseflax import steps
from mouseflax import streams

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = ["--width=4", "--batch=2", "--steps=1", "--repeats=1"]
BLOCKED_ON_GPU_IMAGE = ("tensorflow_datasets", "ml_collections", "grain")
MAKE_MULTI_STEP = steps.make_multi_step  # The trainer's, before a test replaces it.


def torch_importable() -> bool:
  return importlib.util.find_spec("torch") is not None


def run_python(*args: str) -> str:
  """Runs `python *args` in the repository root as CI would; returns its stdout (must succeed)."""
  proc = subprocess.run(
      [sys.executable, *args],
      cwd=REPO_ROOT,
      capture_output=True,
      text=True,
      timeout=600,
      check=False,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc.stdout


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
  stdout = run_python(
      "-m",
      "benchmarks.throughput",
      "--quick",
      "--models=cae_single",
      *TINY,
      *peers,
      f"--output={out}",
  )
  rows = json.loads(out.read_text())
  frameworks = ["jax"] + (["torch"] if peers else [])
  assert [(r["dtype"], r["framework"]) for r in rows] == [
      (dtype, framework) for dtype in throughput.DTYPES for framework in frameworks
  ]  # Every precision, each with its own peers.
  for row in rows:
    assert set(throughput.ROW_KEYS) <= set(row)
    assert row["model"] == "cae_single" and row["batch"] == 2
    assert row["machine"]["cpu"] == common.cpu_model() and row["versions"]["jax"] == jax.__version__
    assert row["train_seq_per_s"] > 0 and row["infer_frames_per_s"] > 0 and row["compile_s"] >= 0
  assert len({r["params"] for r in rows}) == 1
  for first in range(0, len(rows), len(frameworks)):  # Ratios within one precision.
    if peers:
      assert rows[first + 1]["train_ratio_vs_fastest_torch"] == pytest.approx(1.0)
    else:
      assert rows[first]["train_ratio_vs_fastest_torch"] is None
  table = parse_table(stdout)
  assert len(table) == len(rows)
  for printed, row in zip(table, rows):
    for key in throughput.TABLE_COLUMNS:
      assert printed[key] == throughput.format_cell(key, row[key]), key


def test_throughput_runs_ours_alone_without_torch(tmp_path, monkeypatch, capsys):
  monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError.
  rows = throughput.main(
      [
          "throughput",
          "--quick",
          "--models=cae_single",
          *TINY,
          "--peers=torch",
          f"--output={tmp_path / 't.json'}",
      ]
  )
  assert [(r["dtype"], r["framework"]) for r in rows] == [(d, "jax") for d in throughput.DTYPES]
  assert "torch is not installed" in capsys.readouterr().err


def test_throughput_rejects_bad_flags(tmp_path):
  output = f"--output={tmp_path / 'x.json'}"
  with pytest.raises(app.UsageError, match="models"):
    throughput.parse_settings(["throughput", "--models=vae", output])
  with pytest.raises(app.UsageError, match="jax_variants"):
    throughput.parse_settings(["throughput", "--jax_variants=fastest", output])
  with pytest.raises(app.UsageError, match="output"):
    throughput.parse_settings(["throughput", "--quick"])


def test_flags_start_from_their_defaults_at_every_call(tmp_path):
  """Benchmarks keep their flags in their own FlagValues; a second main() inherits nothing."""
  output = f"--output={tmp_path / 'x.json'}"
  first = throughput.parse_settings(["throughput", "--quick", "--peers=torch", "--batch=3", output])
  second = throughput.parse_settings(["throughput", output])
  assert (first.peers, first.batch, first.steps) == (
      "torch",
      3,
      throughput.DEFAULTS["quick"]["steps"],
  )
  assert (second.peers, second.quick, second.steps) == (
      "",
      False,
      throughput.DEFAULTS["full"]["steps"],
  )
  assert second.torch_variants == throughput.TORCH_VARIANTS


def test_profile_lists_every_conv_layer_with_its_peer(tmp_path, capsys):
  """`--profile`: one row per conv call of the model, printed as in the JSON; PyTorch's peer layer
  beside each when torch is installed."""
  with_torch = torch_importable()
  profiles = throughput.main(
      [
          "throughput",
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
  x = {s: torch.rand(1, *conv_flops.SEQUENCE_SHAPE, c) for s, c in streams.STREAM_CHANNELS.items()}
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


def run_without_gpu_image_absentees(*lines: str) -> None:
  """Runs `lines` in a fresh Python with the modules the GPU image lacks blocked; then checks that
  neither mouseflax.train nor mouseflax.input_pipeline (which need them) was imported."""
  code = "\n".join(
      [
          "import sys",
          *[f"sys.modules[{m!r}] = None" for m in BLOCKED_ON_GPU_IMAGE],
          *lines,
          "assert not {'mouseflax.train', 'mouseflax.input_pipeline'} & set(sys.modules)",
      ]
  )
  run_python("-c", code)


def test_steps_imports_without_tfds_ml_collections_grain():
  """mouseflax.steps (the real step the GPU benchmark times) imports with those modules blocked."""
  run_without_gpu_image_absentees(
      "from mouseflax import steps",
      "assert callable(steps.train_step) and callable(steps.make_multi_step)",
  )


def test_benchmarks_time_the_trainers_step():
  """No local copy: the benchmarks' step pieces are the objects the trainer runs."""
  assert gpu_paper_schedule.steps is steps and throughput.steps is steps
  assert not hasattr(gpu_paper_schedule, "local_train_step")


def test_gpu_schedules_are_the_configs():
  """gpu_paper_schedule restates Table 1 (it cannot import configs without ml_collections)."""
  for name, schedule in gpu_paper_schedule.SCHEDULES.items():
    config = importlib.import_module(f"configs.{name}_hang").get_config()
    assert schedule["model"] == config.model.name
    assert (schedule["epochs"], schedule["batch"]) == (config.train.epochs, config.train.batch_size)
    assert schedule["loss_weights"] == dict(config.train.loss_weights)
    assert gpu_paper_schedule.OPTIM == {k: config.optim[k] for k in gpu_paper_schedule.OPTIM}


def undonated_multi_step(mesh, step_fn):
  """steps.make_multi_step as it would be after losing `donate_argnums` (still jitted)."""
  return jax.jit(MAKE_MULTI_STEP(mesh, step_fn).__wrapped__)


def unjitted_multi_step(mesh, step_fn):
  """steps.make_multi_step as it would be after losing `jax.jit`."""
  return MAKE_MULTI_STEP(mesh, step_fn).__wrapped__


def test_throughput_refuses_a_step_that_lost_its_donation(monkeypatch):
  monkeypatch.setattr(steps, "make_multi_step", undonated_multi_step)
  with pytest.raises(RuntimeError, match="does not donate"):
    throughput.jax_runner(throughput.load_config("cae_single", 2, 4, "float32"), "fast", seed=0)


def test_benchmarks_refuse_a_step_that_lost_jit(monkeypatch):
  """Both time the step through common.compile_train_step, which checks jit and donation."""
  schedule = gpu_paper_schedule.parse_settings(["schedule", "--quick", "--output=unused.json"])
  monkeypatch.setattr(steps, "make_multi_step", unjitted_multi_step)
  with pytest.raises(RuntimeError, match="not jitted"):
    throughput.jax_runner(throughput.load_config("cae_single", 2, 4, "float32"), "fast", seed=0)
  with pytest.raises(RuntimeError, match="not jitted"):
    gpu_paper_schedule.run_jax("cae", gpu_paper_schedule.schedule_of("cae", schedule), schedule)


def test_gpu_schedule_runs_without_tfds_ml_collections_grain(tmp_path):
  """Imports and runs (tiny, CPU) with the modules absent from the GPU image blocked."""
  out = tmp_path / "schedule.json"
  run_without_gpu_image_absentees(
      "from benchmarks import gpu_paper_schedule",
      "gpu_paper_schedule.main(['schedule', '--quick', '--schedules=cae', '--epochs=1', "
      f"'--output={out}'])",
  )
  (row,) = json.loads(out.read_text())
  quick = gpu_paper_schedule.QUICK
  assert row["schedule"] == "cae" and row["framework"] == "jax" and row["epochs"] == 1
  assert row["steps"] == quick["num_sequences"] // quick["batch"]
  assert np.isfinite(row["final_loss"]) and row["seq_per_s"] > 0
  assert row["wall_s"] >= row["compile_s"] + row["train_s"] - 1e-6
  assert row["fwd_gflops_per_seq"] > 0 and row["fraction_of_peak"] is None  # No peak for a CPU.
  assert row["machine"]["cpu"] == common.cpu_model() and row["versions"]["jax"] == jax.__version__


def test_model_speed_quick(tmp_path):
  out = tmp_path / "model_speed.json"
  result = model_speed.main(["model_speed", "--quick", "--models=cae_single", f"--output={out}"])
  assert json.loads(out.read_text()) == json.loads(json.dumps(result))
  (run,) = result["runs"]
  assert (run["model"], run["batch"]) == ("cae_single", model_speed.QUICK_BATCH)
  for impl in model_speed.IMPLS:
    assert run[impl]["compile_s"] > run[impl]["train_step"] > 0 and run[impl]["forward"] > 0
  assert set(common.environment()) <= set(result)


def test_score_throughput_skips_without_a_video(capsys):
  assert score_throughput.main(["score_throughput", "--quick"]) is None
  assert "No --video=PATH" in capsys.readouterr().out


def test_score_throughput_quick_on_the_real_video(real_video, tmp_path):
  out = tmp_path / "score.json"
  result = score_throughput.main(
      ["score_throughput", "--quick", f"--video={real_video}", f"--output={out}"]
  )
  assert result["frames"] == score_throughput.QUICK_FRAMES
  assert min(result["decode_fps"], result["model_fps"], result["end_to_end_fps"]) > 0
  assert json.loads(out.read_text())["machine"]["cpu"] == common.cpu_model()


def test_environment_names_the_machine_and_versions():
  env = common.environment("numpy")
  assert set(env) == {"date", "machine", "versions"}
  assert env["machine"]["cpu"] and env["machine"]["cpus"] >= 1
  assert len(env["machine"]["load_average_at_start"]) == 3
  assert env["versions"]["jax"] == jax.__version__ and env["versions"]["numpy"] == np.__version__


def test_parse_flags_reports_bad_flags_as_usage_errors():
  flag_values = flags.FlagValues()
  flags.DEFINE_integer("steps", 1, "Steps.", flag_values=flag_values)
  common.parse_flags(flag_values, ["prog", "--steps=3"])
  assert flag_values.steps == 3
  common.parse_flags(flag_values, ["prog"])
  assert flag_values.steps == 1
  with pytest.raises(app.UsageError, match="steps"):
    common.parse_flags(flag_values, ["prog", "--steps=many"])
  with pytest.raises(app.UsageError, match="Unexpected"):
    common.parse_flags(flag_values, ["prog", "stray"])


def test_scale_out_ratios_start_up_and_table(monkeypatch):
  wall = {  # (mode, video) -> seconds: the probe pays the start-up, the video adds the work.
      (scale_out.MODES[0], "probe"): 1.0,
      (scale_out.MODES[0], "video"): 10.0,
      (scale_out.MODES[1], "probe"): 4.0,
      (scale_out.MODES[1], "video"): 8.0,
  }
  modes = {mode: mode for mode in scale_out.MODES[:2]}
  monkeypatch.setattr(scale_out.common, "seconds", lambda mode, path, _: wall[(mode, path)])
  rows = scale_out.measure(modes, "video", "probe", frames=1200)
  assert rows[scale_out.MODES[0]]["frames_per_second"] == 120.0
  two = rows[scale_out.MODES[1]]
  assert two["ratio_to_1_process"] == 10.0 / 8.0
  assert two["startup_seconds"] == 4.0 and two["frames_per_second_after_startup"] == 300.0
  assert scale_out.chunk_frames_for(1200) == 304  # Four chunks of whole windows.
  result = {
      "environment": {
          "date": "d",
          "machine": {"cpu": "cpu", "cpus": 2, "load_average_at_start": [0.5]},
      },
      "videos": {"v": {"fps": 30.0, "build": rows, "score": rows}},
  }
  table = scale_out.format_table(result)
  assert f"| v | score | {scale_out.MODES[1]} | 150 | 5.0 | 1.25 | 4.0 | 300 |" in table
