"""Faults of a training run (issue 17): the config, the workdir, checkpoints, full disks.

A config error leaves nothing behind; a rerun with another model is refused before config.json is
touched (the trained run can still be scored), or `overwrite` removes the run first; an unreadable
checkpoint is skipped for the newest readable one; a full disk or an unwritable workdir names the
path and the fix. Most runs use `fakes.FakeHandle` (random records), in process.
"""

import errno
import json
import os
import pathlib
import shutil
import stat
import subprocess

from absl import flags
import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import pytest

from configs import default
from mouseflax import checkpointing
from mouseflax import cli
from mouseflax import config_checks
from mouseflax import fileio
from mouseflax import input_pipeline
from mouseflax import run_files
from mouseflax import run_guard
from mouseflax import score
from mouseflax import train

pytestmark = pytest.mark.usefixtures("compilation_cache")
EPOCHS = 2  # Two checkpoints: the newest can be damaged and the older one used.
STEPS_PER_EPOCH = fakes.SPLIT_SIZES["train"] // fakes.tiny_config().train.batch_size
ORDINARY_UMASK = 0o022
TIMEOUT_S = 300


def run_config(**overrides):
  return fakes.tiny_config(train__epochs=EPOCHS, **overrides)


def snapshot(folder: pathlib.Path) -> dict[str, tuple[int, int]]:
  """{relative path: (size, mtime_ns)} of every file under `folder`."""
  return {
      str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
      for p in sorted(folder.rglob("*"))
      if p.is_file()
  }


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> pathlib.Path:
  """A finished two-epoch run on random records (written under an ordinary umask)."""
  workdir = tmp_path_factory.mktemp("finished") / "run"
  umask = os.umask(ORDINARY_UMASK)
  try:
    with pytest.MonkeyPatch.context() as monkeypatch:
      monkeypatch.setattr(input_pipeline, "prepare", lambda data_config, seed=0: fakes.FakeHandle())
      train.train_and_evaluate(run_config(), workdir)
  finally:
    os.umask(umask)
  return workdir


@pytest.fixture
def run_copy(finished, tmp_path) -> pathlib.Path:
  return pathlib.Path(shutil.copytree(finished, tmp_path / "run"))


# --------------------------------------------------------------------------------------------------
# The config.


def test_every_default_key_has_a_rule():
  def leaves(values, prefix=""):
    for key, value in values.items():
      path = f"{prefix}{key}"
      if path in config_checks.RULES:
        yield path
      elif isinstance(value, dict):
        yield from leaves(value, f"{path}.")
      else:
        yield path

  keys = set(leaves(default.get_config().to_dict()))
  assert keys == set(config_checks.RULES), keys ^ set(config_checks.RULES)
  for name in ("default", "tiny", "demo", "cae_avenue", "rae_hang", "supervised_hang"):
    assert not config_checks.problems(fakes.load_config(name)), name


def test_a_config_error_leaves_nothing_behind(fake_data, tmp_path):
  config = run_config(optim__learning_rate=float("nan"), eval__false_alarm_rate=1.5)
  config.train.epochs = -1
  workdir = tmp_path / "run"
  with pytest.raises(config_checks.ConfigError) as raised:
    train.train_and_evaluate(config, workdir)
  message = str(raised.value)
  for part in (
      "config.optim.learning_rate=nan: must be a finite number > 0",
      "config.eval.false_alarm_rate=1.5: must be a finite number in (0, 1)",
      "config.train.epochs=-1: must be an integer >= 1",
  ):
    assert part in message
  assert "3 problems" in message and not workdir.exists()


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("model__strides", (1, 2), "kernels/strides/dilations must have equal lengths"),
        ("data__dataset", "mouse_behavior/dance", "held-out behaviour must be one of"),
        ("data__dataset", "ucf101", "unknown, use one of"),
        ("train__loss_weights", {"gray": -1.0}, "config.train.loss_weights"),
        ("eval__score", "zscore", "config.eval.score='zscore': must be one of"),
        ("optim__b1", 1.0, "config.optim.b1=1.0: must be a finite number in [0, 1)"),
        ("seed", True, "config.seed=True: must be an integer >= 0"),
        ("model__dtype", "float16", "config.model.dtype='float16': must be one of"),
    ],
)
def test_bad_values_are_named(key, value, message):
  config = fakes.load_config("tiny")
  group, _, field = key.partition("__")
  if field:
    config[group][field] = value
  else:
    config[group] = value
  assert any(message in problem for problem in config_checks.problems(config))


def test_a_dense_code_on_a_model_without_one_is_named():
  config = fakes.load_config("tiny")
  config.model.code_size = 16
  assert not config_checks.problems(config)  # The CAE has one.
  config.model.name = "rae"
  assert any(
      "config.model.code_size=16: model 'rae' has no dense code" in p
      for p in config_checks.problems(config)
  )


def test_cross_fusion_on_a_model_without_it_is_named():
  config = fakes.load_config("tiny")
  config.model.fusion = "cross"
  assert not config_checks.problems(config)  # The CAE has it.
  config.model.name = "rae"
  assert any(
      "config.model.fusion='cross': model 'rae' has no such option" in p
      for p in config_checks.problems(config)
  )
  config.model.fusion = "late"
  assert any("model.fusion" in p and "late" in p for p in config_checks.problems(config))


def test_cli_prints_one_line_and_verbose_keeps_the_traceback(capsys):
  def fails(argv):
    del argv
    config_checks.validate({"seed": -1})

  with pytest.raises(SystemExit) as ended:
    cli.run(fails, argv=["prog"])
  assert ended.value.code == cli.EXIT_USER_ERROR
  err = capsys.readouterr().err
  assert "error: Invalid config" in err and "config.seed=-1" in err and "Traceback" not in err
  try:
    with pytest.raises(config_checks.ConfigError):
      cli.run(fails, argv=["prog", "--verbose"])
  finally:
    flags.FLAGS[cli.VERBOSE_FLAG].value = False


def test_user_errors_and_bugs_are_told_apart(tmp_path):
  with pytest.raises(ValueError) as ours:
    config_checks.validate({"seed": -1})
  assert cli.is_user_error(ours.value)
  with pytest.raises(ValueError) as numpy_error:
    import numpy as np  # pylint: disable=g-import-not-at-top

    np.zeros(2) + np.zeros(3)  # pylint: disable=expression-not-assigned
  assert not cli.is_user_error(numpy_error.value)  # A bug: keeps its traceback.
  full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "x"))
  assert cli.is_user_error(full)
  assert cli.message(full) == f"cannot write {tmp_path / 'x'}: no space left on the device: " + (
      "free some space or choose another folder"
  )
  assert not cli.is_user_error(KeyError("x"))


def test_main_command_line_refuses_a_bad_config_in_one_line(tmp_path):
  workdir = tmp_path / "run"
  proc = fakes.run_module(
      "mouseflax.main",
      f"--config={fakes.REPO / 'configs' / 'tiny.py'}",
      f"--workdir={workdir}",
      "--config.optim.learning_rate=nan",
      "--config.train.epochs=-1",
      timeout_s=TIMEOUT_S,
  )
  assert proc.returncode == cli.EXIT_USER_ERROR, proc.stderr[-3000:]
  errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
  assert len(errors) == 1 and "config.optim.learning_rate=nan" in errors[0]
  assert "Traceback" not in proc.stderr and not workdir.exists()


# --------------------------------------------------------------------------------------------------
# The workdir.


def test_a_run_older_than_a_model_field_is_compared_at_its_module_default():
  current = run_guard.config_as_stored(run_config())
  stored = json.loads(json.dumps(current))
  for field in ("centre_inputs", "code_size", "fusion"):  # Runs made before those fields.
    del stored["model"][field]
  assert not run_guard.differences(stored, current)  # Built as the module defaults say.
  current["model"]["centre_inputs"] = True  # Another function of the same parameters.
  assert run_guard.differences(stored, current) == [
      "model.centre_inputs: False in the run, True now"
  ]


def test_auto_dtype_resumes_a_run_in_its_own_dtype(run_copy):
  path = run_copy / run_files.CONFIG_FILE
  stored = json.loads(path.read_text())
  assert stored["model"]["dtype"] == "float32"  # "auto" is resolved before config.json is written.
  stored["model"]["dtype"] = "bfloat16"  # As if trained on a GPU.
  path.write_text(json.dumps(stored))
  config = run_config()
  assert config.model.dtype == "auto"
  precision = train.resolve_precision(config, run_copy)
  assert config.model.dtype == "bfloat16" and precision["requested"] == "auto"
  assert "trained in bfloat16" in precision["reason"]
  assert not run_guard.differences(stored, run_guard.config_as_stored(config))
  # A dtype set explicitly is the config's: another one than the run's is refused.
  config.model.dtype = "float32"
  assert run_guard.differences(stored, run_guard.config_as_stored(config)) == [
      "model.dtype: 'bfloat16' in the run, 'float32' now"
  ]
  # --overwrite discards the run: the machine picks.
  config.model.dtype = "auto"
  precision = train.resolve_precision(config, run_copy, overwrite=True)
  assert config.model.dtype == "float32" and precision["reason"].startswith("auto on cpu")


@pytest.mark.parametrize(
    "overrides, differs",
    [
        ({"model__name": "cae_single"}, "model.name: 'cae' in the run, 'cae_single' now"),
        ({"model__width": 8}, "model.width: 4 in the run, 8 now"),
        ({"data__stride": 3}, "data.stride: 5 in the run, 3 now"),
        ({"seed": 1}, "seed: 0 in the run, 1 now"),
    ],
)
def test_another_run_in_the_workdir_is_refused_untouched(fake_data, run_copy, overrides, differs):
  before = snapshot(run_copy)
  config = run_config()
  for key, value in overrides.items():
    group, _, field = key.partition("__")
    if field:
      config[group][field] = value
    else:
      config[group] = value
  with pytest.raises(run_guard.IncompatibleRunError, match="--overwrite") as raised:
    train.train_and_evaluate(config, run_copy)
  assert differs in str(raised.value)
  assert snapshot(run_copy) == before  # Nothing written: the trained run is intact.
  assert score.load_run(run_copy).step == EPOCHS * STEPS_PER_EPOCH  # And it can still be scored.


def test_compatible_changes_are_accepted(fake_data, run_copy):
  # More epochs, another learning rate or evaluation setting: the same run, resumed.
  result = train.train_and_evaluate(
      run_config(optim__learning_rate=1e-3, eval__smoothing_sigma=2.0), run_copy
  )
  assert result["steps"] == EPOCHS * STEPS_PER_EPOCH


def test_other_preprocessing_is_refused(fake_data, run_copy):
  path = run_copy / run_files.PREPROCESS_FILE
  stored = json.loads(path.read_text())
  path.write_text(json.dumps({**stored, "gamma": stored["gamma"] + 1.0}))
  with pytest.raises(run_guard.IncompatibleRunError, match="preprocess.gamma"):
    train.train_and_evaluate(run_config(), run_copy)


def test_overwrite_removes_the_run_and_only_the_run(fake_data, run_copy):
  (run_copy / "notes.txt").write_text("mine")
  (run_copy / "validation_errors_step12.npz").write_bytes(b"")
  removed = {p.name for p in run_guard.run_paths(run_copy)}
  assert removed == {
      "checkpoints",
      "config.json",
      "preprocess.json",
      "metrics.jsonl",
      "tensorboard",
      "results.json",
      "threshold.json",
      "scores",
      "roc.png",
      "timeline.png",
      "validation_errors_step12.npz",
  }
  result = train.train_and_evaluate(
      run_config(model__name="cae_single", train__stop_after_steps=1), run_copy, overwrite=True
  )
  assert result == {"stopped_at_step": 1}
  assert (run_copy / "notes.txt").read_text() == "mine"
  assert not (run_copy / run_files.RESULTS_FILE).exists()
  assert '"cae_single"' in (run_copy / run_files.CONFIG_FILE).read_text()


def test_outputs_have_ordinary_permissions(finished):
  outputs = [
      finished / name
      for name in ("config.json", "preprocess.json", "results.json", "threshold.json", "roc.png")
  ]
  outputs += [finished / "timeline.png", *(finished / "scores").glob("*.csv")]
  for path in outputs:
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~ORDINARY_UMASK, path


# --------------------------------------------------------------------------------------------------
# Checkpoints.


def damage(workdir: pathlib.Path, step: int) -> pathlib.Path:
  """Cuts the largest data file of checkpoint `step` in half (as a crash of the disk might)."""
  files = [p for p in (workdir / "checkpoints" / str(step)).rglob("*") if p.is_file()]
  largest = max(files, key=lambda p: p.stat().st_size)
  largest.write_bytes(largest.read_bytes()[: largest.stat().st_size // 2])
  return largest


def test_an_unreadable_checkpoint_is_skipped_and_the_run_resumes(fake_data, finished, run_copy):
  last = EPOCHS * STEPS_PER_EPOCH
  damage(run_copy, last)
  assert score.load_run(run_copy).step == STEPS_PER_EPOCH  # Scoring falls back to epoch 1.
  result = train.train_and_evaluate(run_config(), run_copy)  # Resumes from epoch 1.
  assert result["steps"] == last
  assert (run_copy / checkpointing.UNREADABLE_DIR / str(last)).is_dir()  # Kept, set aside.
  # Retrained from epoch 1: the same parameters as the uninterrupted run (exact resume).
  fakes.assert_trees_close(
      fakes.final_params(run_copy, run_config()),
      fakes.final_params(finished, run_config()),
      atol=0,
  )


def test_no_readable_checkpoint_names_the_folder(fake_data, run_copy):
  for step in (STEPS_PER_EPOCH, EPOCHS * STEPS_PER_EPOCH):
    damage(run_copy, step)
  with pytest.raises(checkpointing.UnreadableCheckpointError, match="remove or move away") as e:
    train.train_and_evaluate(run_config(), run_copy)
  assert str((run_copy / "checkpoints").resolve()) in str(e.value)


def test_orbax_disk_errors_are_explained(tmp_path):
  orbax_error = ValueError(
      'RESOURCE_EXHAUSTED: Error writing local file "x/_sharding": Failed to write 25370 bytes '
      "to file 14: No space left on device [os_error_code='28']"
  )
  explained = checkpointing.explain_write_error(orbax_error, tmp_path)
  assert isinstance(explained, fileio.OutputWriteError) and explained.errno == errno.ENOSPC
  assert cli.message(explained) == f"cannot write {tmp_path}: " + (
      "no space left on the device: free some space or choose another folder"
  )
  assert checkpointing.explain_write_error(ValueError("tree structures differ"), tmp_path) is None


@pytest.fixture
def small_disk(tmp_path):
  """A 64 KB file system (tmpfs; needs root) that a checkpoint does not fit on."""
  mount = tmp_path / "small"
  mount.mkdir()
  if (
      os.geteuid() != 0
      or subprocess.run(
          ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=False
      ).returncode
  ):
    pytest.skip("mounting a small tmpfs needs root")
  yield mount
  subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_named_with_the_fix(small_disk):
  config = run_config()
  manager = checkpointing.create_manager(small_disk / "run", config.ckpt)
  state = fakes.initial_state(config)
  try:
    with pytest.raises(fileio.OutputWriteError, match="no space left on the device") as e:
      checkpointing.save(manager, 1, state, {"epoch": 1})
  finally:
    manager.close()
  assert str(small_disk / "run" / "checkpoints") in str(e.value)


def read_only_dir(tmp_path: pathlib.Path) -> pathlib.Path:
  """A folder this process cannot write: read-only mount as root, else no write permission."""
  folder = tmp_path / "read_only"
  folder.mkdir()
  if os.geteuid() != 0:
    folder.chmod(0o555)
    return folder
  if subprocess.run(
      ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], check=False
  ).returncode:
    pytest.skip("cannot make a read-only folder as root without mount")
  return folder


def test_an_unwritable_workdir_is_refused_before_the_data(monkeypatch, tmp_path):
  folder = read_only_dir(tmp_path)
  try:
    monkeypatch.setattr(input_pipeline, "prepare", lambda *args, **kwargs: pytest.fail("data read"))
    with pytest.raises(fileio.OutputWriteError, match="choose a folder you can write to") as e:
      train.train_and_evaluate(run_config(), folder / "run")
    assert str(folder / "run") in str(e.value)
  finally:
    if os.geteuid() == 0:
      subprocess.run(["umount", str(folder)], check=False)
