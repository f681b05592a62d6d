"""Fault runner: `kill -9` real processes at chosen points, rerun them, compare with clean runs.

  python -m benchmarks.fault_runner --output_dir=/tmp/faults [--cases=train,build_cache,...]
      [--output=/tmp/faults/fault_runner.json]

Too slow for CI (about 7-10 min on 2 cores); the CI suite kills one build (tests/test_faults_data).
Every case starts the real command line (`mouseflax.synthetic`, `build_data`, `main`, `score`) on
tiny synthetic data, waits for its point (a file or folder that appears only there, polled every
`POLL_S`), sends SIGKILL, reruns the same command to the end, and compares what the rerun left
with the reference (the same command run once without a kill): recordings, records and their
metadata, the run's results, scores and threshold, score's outputs, byte for byte (results.json
without its timing). It also lists what the killed process left that the rerun did not remove
(temporary files and folders). A point the process passed too fast to be hit is retried (up to
`--attempts`); `landed` says whether it was hit.

The points (issue 17, "Why"):
- synthetic: mid-generation (the temporary folder holds a video);
- build_cache, build_video, build_records, build_record_file, build_splits: build_data with its
  preprocessing cache just created, after the first video's arrays, when TFDS starts writing
  records (`incomplete.*`), once a record file exists, once three of the five splits' files exist
  (the moment between `dataset_info.json` and the rename into place is too short to hit by polling);
- train: mid-training (epoch 2, after the epoch-1 checkpoint); checkpoint: during a checkpoint write
  (orbax's temporary folder exists); evaluation: after the last checkpoint, before results.json;
- score: scoring the second of two videos (the first one's outputs are written).

The JSON holds each case and `common.environment()` (date, machine, load); a table is printed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

from absl import flags

from benchmarks import common
from mouseflax import fileio

REPO = pathlib.Path(__file__).resolve().parents[1]
POLL_S = 0.005
RUN_TIMEOUT_S = 900
SEED = 0
SYNTHETIC_SIZE = {"num_videos": 4, "frames_per_video": 300}  # configs/tiny.py's recordings.
DATASET = "mouse_behavior/hang"
EPOCHS = 2
SCORE_VIDEOS = 2
LATER_SPLIT_FILES = 3  # build_splits: killed once this many of the 5 splits' files exist.
# results.json keys that differ between equal runs: wall time, and the config (its folders).
NOT_COMPARED = ("train_seconds", "config")
# Names of what a killed process may leave: temporary files and folders of every writer.
LEFTOVER_MARKERS = (".tmp", "incomplete.", ".preprocess-", "orbax-checkpoint-tmp")

FLAGS = flags.FlagValues()
flags.DEFINE_string(
    "output_dir", None, "Scratch folder (created; emptied first).", flag_values=FLAGS
)
flags.DEFINE_string(
    "output", None, "JSON file (default <output_dir>/fault_runner.json).", flag_values=FLAGS
)
flags.DEFINE_list("cases", [], "Cases to run (default all).", flag_values=FLAGS)
flags.DEFINE_integer(
    "attempts", 5, "Tries per case for the kill to land at its point.", flag_values=FLAGS
)


@dataclasses.dataclass
class Case:
  """One kill point: the command, the moment to kill it, what to compare after the rerun."""

  name: str
  where: str  # What the point is, in words.
  command: Callable[[pathlib.Path], list[str]]  # Folder of this attempt -> argv.
  point: Callable[[pathlib.Path], bool]  # True once the process is at the point.
  outcome: Callable[[pathlib.Path], dict[str, str]]  # What is compared: {name: digest}.
  setup: Callable[[pathlib.Path], None] = lambda folder: None


def _python(module: str, *args: str) -> list[str]:
  return [sys.executable, "-m", module, *args]


def _env() -> dict[str, str]:
  """The commands run this checkout on the CPU."""
  return {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}


def _run(argv: list[str]) -> subprocess.CompletedProcess:
  return subprocess.run(
      argv, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
  )


def _digest(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree_digests(root: pathlib.Path, pattern: str = "*") -> dict[str, str]:
  return {
      str(p.relative_to(root)): _digest(p)
      for p in sorted(root.rglob(pattern))
      if p.is_file() and not any(m in p.name for m in LEFTOVER_MARKERS)
  }


def _leftovers(root: pathlib.Path) -> list[str]:
  return sorted(
      str(p.relative_to(root))
      for p in root.rglob("*")
      if any(m in p.name for m in LEFTOVER_MARKERS)
  )


def _exists(root: pathlib.Path, pattern: str) -> bool:
  return next(root.glob(pattern), None) is not None


def _count(root: pathlib.Path, pattern: str) -> int:
  return sum(1 for _ in root.glob(pattern))


# --------------------------------------------------------------------------------------------------
# The commands and what they leave.


class Plan:
  """Folders and commands shared by the cases; the reference data is made once."""

  def __init__(self, root: pathlib.Path):
    self.root = root
    self.raw = root / "reference" / "raw"
    self.data = root / "reference" / "data"
    self.run = root / "reference" / "run"
    self.videos = [self.raw / f"synth_cage_{i:02d}.mpg" for i in range(1, SCORE_VIDEOS + 1)]
    self.steps_per_epoch = 0  # Known once the reference run is trained.

  def copy_records(self, folder: pathlib.Path) -> None:
    shutil.copytree(self.data, folder / "data")

  def synthetic(self, folder: pathlib.Path) -> list[str]:
    sizes = [f"--{k}={v}" for k, v in SYNTHETIC_SIZE.items()]
    return _python(
        "mouseflax.synthetic", f"--output_dir={folder / 'raw'}", f"--seed={SEED}", *sizes
    )

  def build(self, folder: pathlib.Path) -> list[str]:
    return _python(
        "mouseflax.build_data",
        f"--dataset={DATASET}",
        f"--manual_dir={self.raw}",
        f"--data_dir={folder / 'data'}",
        "--num_workers=1",
    )

  def train(self, folder: pathlib.Path, data_dir: pathlib.Path | None = None) -> list[str]:
    return _python(
        "mouseflax.main",
        f"--config={REPO / 'configs' / 'tiny.py'}",
        f"--workdir={folder / 'run'}",
        f"--config.data.manual_dir={self.raw}",
        f"--config.data.data_dir={data_dir or self.data}",
        f"--config.train.epochs={EPOCHS}",
        "--config.train.log_every_steps=1",
    )

  def score(self, folder: pathlib.Path) -> list[str]:
    return _python(
        "mouseflax.score",
        f"--workdir={self.run}",
        *(f"--video={v}" for v in self.videos),
        f"--output_dir={folder / 'scores'}",
        "--noprogress",
    )


def _run_outcome(folder: pathlib.Path) -> dict[str, str]:
  run = folder / "run"
  results = json.loads((run / "results.json").read_text())
  for key in NOT_COMPARED:
    results.pop(key, None)
  outcome = {
      "results.json": hashlib.sha256(json.dumps(results, sort_keys=True).encode()).hexdigest()
  }
  outcome |= _tree_digests(run, "scores/*.csv")
  outcome["threshold.json"] = _digest(run / "threshold.json")
  losses = [
      {k: v for k, v in json.loads(line).items() if k != "sequences_per_second"}
      for line in (run / "metrics.jsonl").read_text().splitlines()
  ]
  outcome["metrics.jsonl"] = hashlib.sha256(json.dumps(losses, sort_keys=True).encode()).hexdigest()
  return outcome


def _records_outcome(folder: pathlib.Path) -> dict[str, str]:
  data = folder / "data"
  found = _tree_digests(data, "*.array_record*")
  for info in data.rglob("dataset_info.json"):
    metadata = json.loads(info.read_text()).get("metadata")
    found[str(info.relative_to(data))] = hashlib.sha256(
        json.dumps(metadata, sort_keys=True).encode()
    ).hexdigest()
  return found


def cases(plan: Plan) -> list[Case]:
  """Every kill point, in the order the runner visits them (after `references`)."""
  incomplete = "*/*/incomplete.*"
  epoch, last = str(plan.steps_per_epoch), str(EPOCHS * plan.steps_per_epoch)

  def train(folder: pathlib.Path) -> list[str]:
    return plan.train(folder, folder / "data")

  def mid_training(folder: pathlib.Path) -> bool:
    return _exists(folder / "run" / "checkpoints", epoch) and (
        _metric_lines(folder) > plan.steps_per_epoch + 2
    )

  def evaluating(folder: pathlib.Path) -> bool:
    run = folder / "run"
    return _exists(run / "checkpoints", last) and not (run / "results.json").exists()

  def build_point(name: str, where: str, pattern: str) -> Case:
    return Case(name, where, plan.build, lambda f: _exists(f / "data", pattern), _records_outcome)

  return [
      Case(
          "synthetic",
          "synthetic: a video written in the temporary folder",
          plan.synthetic,
          lambda f: _exists(f, ".raw.tmp-*/*.mpg"),
          lambda f: _tree_digests(f / "raw"),
      ),
      build_point("build_cache", "build_data: preprocessing cache just created", ".preprocess-*"),
      build_point(
          "build_video", "build_data: first video's arrays written", ".preprocess-*/*.gray.npy"
      ),
      build_point("build_records", "build_data: TFDS started writing records", incomplete),
      build_point(
          "build_record_file", "build_data: a record file written", f"{incomplete}/*.array_record*"
      ),
      Case(
          "build_splits",
          f"build_data: {LATER_SPLIT_FILES} splits' record files written",
          plan.build,
          lambda f: _count(f / "data", f"{incomplete}/*.array_record*") >= LATER_SPLIT_FILES,
          _records_outcome,
      ),
      Case(
          "train",
          "main: mid-training (epoch 2)",
          train,
          mid_training,
          _run_outcome,
          plan.copy_records,
      ),
      Case(
          "checkpoint",
          "main: during a checkpoint write",
          train,
          lambda f: _exists(f / "run" / "checkpoints", "*orbax-checkpoint-tmp*"),
          _run_outcome,
          plan.copy_records,
      ),
      Case(
          "evaluation",
          "main: last checkpoint written, results.json not yet",
          train,
          evaluating,
          _run_outcome,
          plan.copy_records,
      ),
      Case(
          "score",
          "score: scoring the second video",
          plan.score,
          lambda f: _exists(f / "scores", "synth_cage_01_timeline.png"),
          lambda f: _tree_digests(f / "scores"),
      ),
  ]


def _metric_lines(folder: pathlib.Path) -> int:
  path = folder / "run" / "metrics.jsonl"
  return len(path.read_text().splitlines()) if path.is_file() else 0


# --------------------------------------------------------------------------------------------------
# Running a case.


def kill_at(
    argv: list[str], point: Callable[[pathlib.Path], bool], folder: pathlib.Path
) -> tuple[bool, float, int]:
  """Starts argv, SIGKILLs it once `point(folder)`; (landed, seconds to the kill, exit status)."""
  started = time.perf_counter()
  proc = subprocess.Popen(
      argv, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
  )
  landed = False
  while proc.poll() is None and time.perf_counter() - started < RUN_TIMEOUT_S:
    if point(folder):
      proc.send_signal(signal.SIGKILL)
      landed = True
      break
    time.sleep(POLL_S)
  status = proc.wait()
  return landed, time.perf_counter() - started, status


def run_case(case: Case, plan: Plan, reference: dict[str, str], attempts: int) -> dict[str, Any]:
  """Kills the case's command at its point (retrying a miss), reruns it, compares."""
  for attempt in range(1, attempts + 1):
    folder = plan.root / case.name / f"attempt{attempt}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    case.setup(folder)
    landed, kill_s, status = kill_at(case.command(folder), case.point, folder)
    if landed:
      break
  left_by_kill = _leftovers(folder)
  rerun = _run(case.command(folder))
  outcome = case.outcome(folder) if rerun.returncode == 0 else {}
  return {
      "case": case.name,
      "point": case.where,
      "landed": landed,
      "attempts": attempt,
      "killed_after_s": round(kill_s, 2),
      "killed_status": status,
      "left_by_kill": left_by_kill[:10],
      "rerun_status": rerun.returncode,
      "rerun_error": rerun.stderr[-2000:] if rerun.returncode else "",
      "left_after_rerun": _leftovers(folder),
      "identical": bool(outcome) and outcome == reference,
      "compared": len(reference),
  }


def references(plan: Plan) -> dict[str, dict[str, str]]:
  """The clean runs every case is compared with (raw recordings, records, a trained run)."""
  reference = plan.root / "reference"
  for argv in (plan.synthetic(reference), plan.build(reference), plan.train(reference)):
    result = _run(argv)
    if result.returncode:
      raise RuntimeError(f"reference run {argv} failed:\n{result.stderr[-3000:]}")
  clean_score = _run(plan.score(reference))
  if clean_score.returncode:
    raise RuntimeError(f"reference score failed:\n{clean_score.stderr[-3000:]}")
  steps = json.loads((plan.run / "results.json").read_text())["steps"]
  plan.steps_per_epoch = steps // EPOCHS
  return {
      "synthetic": _tree_digests(plan.raw),
      "records": _records_outcome(reference),
      "run": _run_outcome(reference),
      "score": _tree_digests(reference / "scores"),
  }


def _reference_of(name: str) -> str:
  if name.startswith("build"):
    return "records"
  return {"train": "run", "checkpoint": "run", "evaluation": "run"}.get(name, name)


def print_table(results: list[dict[str, Any]]) -> None:
  print(
      "| case | point | landed (attempts) | killed after s | rerun | identical | left after rerun |"
  )
  print("|---|---|---|---|---|---|---|")
  for r in results:
    print(
        f"| {r['case']} | {r['point']} | {r['landed']} ({r['attempts']}) | {r['killed_after_s']} | "
        f"rc {r['rerun_status']} | {r['identical']} ({r['compared']} files) | "
        f"{', '.join(r['left_after_rerun']) or 'nothing'} |"
    )


def main(argv: Sequence[str]) -> dict[str, Any]:
  common.parse_flags(FLAGS, argv)
  if not FLAGS.output_dir:
    raise ValueError("--output_dir is required.")
  root = pathlib.Path(FLAGS.output_dir).expanduser().resolve()
  shutil.rmtree(root, ignore_errors=True)
  plan = Plan(root)
  environment = common.environment()
  reference = references(plan)
  chosen = [c for c in cases(plan) if not FLAGS.cases or c.name in FLAGS.cases]
  results = [run_case(c, plan, reference[_reference_of(c.name)], FLAGS.attempts) for c in chosen]
  report = {**environment, "load_average_at_end": common.load_average(), "cases": results}
  fileio.write_json_atomic(FLAGS.output or root / "fault_runner.json", report)
  print_table(results)
  return report


if __name__ == "__main__":
  common.run(main)
