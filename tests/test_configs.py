"""Every configs/*.py loads, documents itself, overrides only declared keys, and every key is read.

Configs are loaded as `mouseflax.main` loads them: by path, through `config_flags` with
`lock_config=True`. Reads are recorded by wrapping `ConfigDict.__getitem__` (attribute access goes
through it) for the config's own nodes while the real code runs: `train.train_and_evaluate` for one
step of every config (shrunk), plus one full tiny run for the evaluation keys. The input pipeline's
`prepare` runs for real up to the build (the record builder and the synthetic writer are stubbed),
then the model trains on random arrays of the record shapes. A key no run reads fails the test.
"""

import ast
from collections.abc import Iterator
import contextlib
import importlib
import os
import pathlib
import subprocess
import sys
import types

from absl import flags
import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import jax
import ml_collections
from ml_collections import config_flags
import pytest
import setuptools

from configs import default
from mouseflax import build_data
from mouseflax import input_pipeline
from mouseflax import preprocess
from mouseflax import synthetic
from mouseflax import train

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "configs"
CONFIG_NAMES = sorted(p.stem for p in CONFIG_DIR.glob("*.py") if p.stem != "__init__")
PAPER_EXPERIMENTS = (
    "cae_hang",
    "cae_groom",
    "rae_hang",
    "rae_groom",
    "cae_single_hang",
    "cae_single_groom",
    "supervised_hang",
    "supervised_groom",
    "cae_avenue",
    "rae_avenue",
    "cae_single_avenue",
)
OTHER_CONFIGS = ("default", "demo", "tiny", "own_videos")
# Shrinks any config to one cheap step on the random records.
ONE_STEP = {
    ("model", "width"): 4,
    ("train", "batch_size"): 4,
    ("train", "epochs"): 1,
    ("train", "stop_after_steps"): 1,
    ("eval", "batch_size"): 16,
}
# Keys added to the full tiny run and never read by the code: the recorder must not report them
# (writing config.json or results.json serialises every key without reading it).
PROBE_KEY = "probe_never_read"
PROBE_GROUPS = ("data", "model", "optim", "train", "eval", "ckpt", "mesh")


def load(path: pathlib.Path, *overrides: str) -> ml_collections.ConfigDict:
  """The config of `path` with command-line `overrides`, exactly as `mouseflax.main` loads it."""
  argv = ["test_configs", f"--config={path}", *overrides]
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file(
      "config", None, flag_values=flag_values, lock_config=True, sys_argv=argv
  )
  flag_values(argv)
  return flag_values.config


def leaf_types(config: ml_collections.ConfigDict, prefix: str = "") -> dict[str, type]:
  """{'group.key': type of its value} for every leaf of `config`."""
  leaves = {}
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      leaves |= leaf_types(value, f"{prefix}{key}.")
    else:
      leaves[f"{prefix}{key}"] = type(value)
  return leaves


class ReadRecorder:
  """Records the `group.key` paths read from registered ConfigDict nodes."""

  def __init__(self, monkeypatch: pytest.MonkeyPatch):
    self.nodes, self.read = {}, set()
    original = ml_collections.ConfigDict.__getitem__

    def getitem(node, key):
      if id(node) in self.nodes:
        self.read.add(self.nodes[id(node)] + str(key))
      return original(node, key)

    monkeypatch.setattr(ml_collections.ConfigDict, "__getitem__", getitem)

  def track(self, config: ml_collections.ConfigDict) -> None:
    """Registers `config` and its sub-configs (walked before registering: a walk reads keys)."""
    self.nodes |= {id(node): prefix for node, prefix in list(config_nodes(config))}


def config_nodes(config: ml_collections.ConfigDict, prefix: str = "") -> Iterator[tuple]:
  """(node, 'group.' prefix of its keys) of `config` and every ConfigDict inside it."""
  yield config, prefix
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      yield from config_nodes(value, f"{prefix}{key}.")


def stub_builds(monkeypatch: pytest.MonkeyPatch) -> None:
  """`prepare` runs for real, reading its data.* fields, but writes no recordings or records."""
  real_prepare = input_pipeline.prepare
  built = types.SimpleNamespace(
      info=types.SimpleNamespace(metadata={"preprocess": preprocess.PreprocessConfig().to_dict()})
  )
  monkeypatch.setattr(build_data, "build", lambda *args, **kwargs: built)
  monkeypatch.setattr(synthetic, "ensure_synthetic", lambda kind, root, **kwargs: root)

  def prepare(data_config, seed=0):
    real_prepare(data_config, seed=seed)
    return fakes.FakeHandle()

  monkeypatch.setattr(input_pipeline, "prepare", prepare)


def configs_to_run(tmp: pathlib.Path) -> dict[str, ml_collections.ConfigDict]:
  """Every config shrunk to one step, plus the tiny config run in full with probe keys added.

  Folders under `tmp`: own_videos' recordings, and a data_dir (nothing is written there while the
  builds are stubbed; it keeps the shared data cache out of reach all the same).
  """
  video_dir = tmp / "own_videos"
  video_dir.mkdir()
  (video_dir / "clip.mp4").touch()  # own_videos fingerprints the folder; nothing decodes it.
  folders = (f"--config.data.video_dir={video_dir}", f"--config.data.data_dir={tmp / 'data'}")
  configs = {}
  for name in CONFIG_NAMES:
    config = load(CONFIG_DIR / f"{name}.py", *folders)
    for (group, key), value in ONE_STEP.items():
      config[group][key] = value
    configs[name] = config
  full = load(CONFIG_DIR / "tiny.py", *folders)
  with full.unlocked():
    for group in PROBE_GROUPS:
      full[group][PROBE_KEY] = 0
  configs["tiny_full"] = full
  return configs


@contextlib.contextmanager
def persistent_compilation_cache(path: pathlib.Path) -> Iterator[None]:
  """Compiled programs shared between the runs: most configs compile the same tiny models."""
  settings = {
      "jax_compilation_cache_dir": str(path),
      "jax_persistent_cache_min_compile_time_secs": 0.0,
      "jax_persistent_cache_min_entry_size_bytes": 0,
  }
  saved = {key: getattr(jax.config, key) for key in settings}
  for key, value in settings.items():
    jax.config.update(key, value)
  try:
    yield
  finally:
    for key, value in saved.items():
      jax.config.update(key, value)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
  """Runs every config under the recorder: {'results': {name: result}, 'read': set of paths}."""
  tmp = tmp_path_factory.mktemp("runs")
  with persistent_compilation_cache(tmp / "xla_cache"), pytest.MonkeyPatch.context() as monkeypatch:
    stub_builds(monkeypatch)
    recorder = ReadRecorder(monkeypatch)
    results = {}
    for name, config in configs_to_run(tmp).items():
      recorder.track(config)
      results[name] = train.train_and_evaluate(config, tmp / "workdirs" / name)
  return {"results": results, "read": recorder.read}


def test_every_experiment_has_a_config():
  assert set(CONFIG_NAMES) == set(PAPER_EXPERIMENTS) | set(OTHER_CONFIGS)


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_config_documents_itself(name):
  docstring = importlib.import_module(f"configs.{name}").__doc__ or ""
  assert f"python -m mouseflax.main --config=configs/{name}.py" in docstring
  if name != "default":
    assert "runtime" in docstring.lower(), "the docstring must give the expected runtime"
  if name in PAPER_EXPERIMENTS:
    assert "Paper:" in docstring and "SYNTHETIC" in docstring


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_config_overrides_only_declared_keys(name):
  """Same keys with the same value types as default.py: an experiment adds nothing of its own."""
  assert leaf_types(load(CONFIG_DIR / f"{name}.py")) == leaf_types(default.get_config())


def test_typed_fields_on_the_command_line():
  path = CONFIG_DIR / "tiny.py"
  config = load(
      path, "--config.data.train_videos=('Clip1','Clip2')", "--config.train.steps_per_call=8"
  )
  assert config.data.train_videos == ("Clip1", "Clip2") and config.train.steps_per_call == 8
  assert train.resolve_steps_per_call(config.train.steps_per_call) == 8
  plain = load(path, "--config.data.train_videos=Clip1,Clip2").data.train_videos
  assert input_pipeline.video_stems(plain) == ("Clip1", "Clip2")
  with pytest.raises(flags.IllegalFlagValueError):
    load(path, "--config.train.steps_per_call=auto")
  with pytest.raises(AttributeError, match="no_such_key"):  # lock_config: no new keys.
    load(path, "--config.data.no_such_key=1")


def test_configs_load_from_another_directory(tmp_path):
  """Loaded by path elsewhere, a config still imports `configs.default` (the package on sys.path,
  as `pip install -e .` puts it: setup.py must list it)."""
  setup = ast.parse((REPO / "setup.py").read_text())
  (include,) = (
      ast.literal_eval(k.value)
      for node in ast.walk(setup)
      if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "find_packages"
      for k in node.keywords
      if k.arg == "include"
  )
  assert "configs" in setuptools.find_packages(where=REPO, include=include)
  argv = ["main", f"--config={CONFIG_DIR / 'rae_avenue.py'}"]
  code = "\n".join(
      [
          "from absl import flags",
          "from ml_collections import config_flags",
          f"config = config_flags.DEFINE_config_file('config', sys_argv={argv!r})",
          f"flags.FLAGS({argv!r})",
          "print(config.value.data.dataset, config.value.model.name)",
      ]
  )
  proc = subprocess.run(
      [sys.executable, "-c", code],
      cwd=tmp_path,
      env={**os.environ, "PYTHONPATH": str(REPO)},
      capture_output=True,
      text=True,
      timeout=600,
      check=False,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.split() == ["cuhk_avenue", "rae"]


def test_paper_hyperparameters():
  rae, cae, sup = (
      load(CONFIG_DIR / f"{n}.py") for n in ("rae_hang", "cae_hang", "supervised_hang")
  )
  assert (rae.train.epochs, rae.train.batch_size, rae.train.loss_weights.gray) == (120, 64, 0.75)
  assert (cae.train.epochs, cae.train.batch_size, cae.train.loss_weights.gray) == (60, 32, 1.0)
  assert (cae.optim.name, cae.optim.learning_rate, cae.optim.b1) == ("adam", 2e-4, 0.5)
  assert (sup.optim.name, sup.optim.learning_rate, sup.train.epochs) == ("sgd", 5e-4, 120)
  assert sup.train.train_split == "train_labelled"


def test_every_config_runs(runs):
  for name, result in runs["results"].items():
    expected_steps = None if name == "tiny_full" else 1
    assert result.get("stopped_at_step") == expected_steps, name
  assert runs["results"]["tiny_full"]["auc"] is not None


def test_every_key_is_read(runs):
  unread = set(leaf_types(default.get_config())) - runs["read"]
  assert not unread, f"config keys declared in configs/default.py but never read: {sorted(unread)}"


def test_recorder_does_not_count_serialised_keys(runs):
  """The probe keys went through config.json and results.json, never through a real read."""
  assert not {f"{group}.{PROBE_KEY}" for group in PROBE_GROUPS} & runs["read"]
  assert {"data.stride", "data.hflip", "model.width", "eval.false_alarm_rate"} <= runs["read"]
