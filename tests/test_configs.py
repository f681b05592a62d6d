"""Every configs/*.py loads, documents itself, runs a step, and has no key the code never reads.

Reads are recorded by wrapping `ConfigDict.__getitem__` (attribute access goes through it) for the
config's own nodes while the real training code runs on random arrays. `config.data` keys are read
by
the input pipeline and builders, which the fake data skips: those are checked by name in their
source.
"""

import pathlib
import runpy

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import ml_collections
import pytest

from mouseflax import input_pipeline
from mouseflax import train

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIG_FILES = sorted((REPO / "configs").glob("*.py"))
EXPERIMENTS = (
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
    "demo",
    "tiny",
)
# Shrinks any config to one cheap step on the fake data.
TINY_OVERRIDES = {
    ("model", "width"): 4,
    ("train", "batch_size"): 4,
    ("train", "epochs"): 1,
    ("train", "stop_after_steps"): 1,
    ("eval", "batch_size"): 16,
}
DATA_READERS = ("mouseflax/input_pipeline.py", "mouseflax/build_data.py", "data_builders")


def load(path: pathlib.Path) -> ml_collections.ConfigDict:
  return runpy.run_path(str(path))["get_config"]()


def leaf_paths(config: ml_collections.ConfigDict, prefix: str = "") -> set[str]:
  paths = set()
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      paths |= leaf_paths(value, f"{prefix}{key}.")
    else:
      paths.add(f"{prefix}{key}")
  return paths


class ReadRecorder:
  """Records `group.key` paths read from registered ConfigDict nodes."""

  def __init__(self, monkeypatch):
    self.nodes, self.read = {}, set()
    original = ml_collections.ConfigDict.__getitem__

    def getitem(node, key):
      if id(node) in self.nodes:
        self.read.add(self.nodes[id(node)] + str(key))
      return original(node, key)

    monkeypatch.setattr(ml_collections.ConfigDict, "__getitem__", getitem)

  def track(self, config: ml_collections.ConfigDict, prefix: str = "") -> None:
    self.nodes[id(config)] = prefix
    for key, value in config.items():
      if isinstance(value, ml_collections.ConfigDict):
        self.track(value, f"{prefix}{key}.")


def shrink(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  for (group, field), value in TINY_OVERRIDES.items():
    config[group][field] = value
  return config


def test_every_experiment_has_a_config():
  assert {p.stem for p in CONFIG_FILES} >= set(EXPERIMENTS)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.stem)
def test_config_loads_and_documents_itself(path):
  config = load(path)
  assert {"seed", "data", "model", "optim", "train", "eval", "ckpt", "mesh"} <= set(config.keys())
  docstring = runpy.run_path(str(path))["__doc__"] or ""
  if path.stem != "default":
    assert "python -m mouseflax" in docstring, "docstring must give the command"
    assert "runtime" in docstring.lower(), "docstring must give the expected runtime"
  if path.stem in EXPERIMENTS[:11]:
    assert "Paper:" in docstring and "SYNTHETIC" in docstring


def test_paper_hyperparameters():
  rae, cae, sup = (
      load(REPO / "configs" / f"{n}.py") for n in ("rae_hang", "cae_hang", "supervised_hang")
  )
  assert (rae.train.epochs, rae.train.batch_size, rae.train.loss_weights.gray) == (120, 64, 0.75)
  assert (cae.train.epochs, cae.train.batch_size, cae.train.loss_weights.gray) == (60, 32, 1.0)
  assert (cae.optim.name, cae.optim.learning_rate, cae.optim.b1) == ("adam", 2e-4, 0.5)
  assert (sup.optim.name, sup.optim.learning_rate, sup.train.epochs) == ("sgd", 5e-4, 120)
  assert sup.train.train_split == "train_labelled"


def test_every_key_is_read(monkeypatch, tmp_path):
  """One step of every config (plus a full tiny run, for eval keys) reads every non-data key."""
  monkeypatch.setattr(input_pipeline, "prepare", lambda data_config, seed=0: fakes.FakeHandle())
  recorder = ReadRecorder(monkeypatch)
  unread = {}
  configs = {p.stem: shrink(load(p)) for p in CONFIG_FILES}
  configs["tiny_full"] = fakes.tiny_config()
  for name, config in configs.items():
    recorder.track(config)
    result = train.train_and_evaluate(config, tmp_path / name)
    assert "auc" in result or result == {"stopped_at_step": 1}, name
    unread[name] = leaf_paths(config)
  data_source = "".join(
      p.read_text()
      for d in DATA_READERS
      for p in ([REPO / d] if d.endswith(".py") else (REPO / d).rglob("*.py"))
  )
  missing = {
      f"{name}: {path}"
      for name, paths in unread.items()
      for path in paths
      if path not in recorder.read
      and not (path.startswith("data.") and f'"{path[len("data."):]}"' in data_source)
  }
  assert not missing, f"config keys never read by the code: {sorted(missing)}"
