"""Scalar metrics to JSON lines (`metrics.jsonl`) and TensorBoard event files, without TensorFlow.

TensorBoard events come from tensorboardX (pure Python + protobuf). On resume, records past the restored
step are dropped from `metrics.jsonl` so the file reads as one uninterrupted run.
"""

import json
import os
import pathlib
from typing import Mapping

import tensorboardX

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def _truncate_jsonl(path: pathlib.Path, max_step: int) -> None:
  """Rewrites `path` keeping only records with step <= max_step (atomic rename)."""
  if not path.exists():
    return
  kept = [line for line in path.read_text().splitlines()
          if line.strip() and json.loads(line)["step"] <= max_step]
  tmp = path.with_suffix(".tmp")
  tmp.write_text("".join(line + "\n" for line in kept))
  os.replace(tmp, path)


class MetricWriter:
  """Writes scalars to `<workdir>/metrics.jsonl` and `<workdir>/tensorboard/`."""

  def __init__(self, workdir: str | os.PathLike, *, resume_step: int = 0):
    self._workdir = pathlib.Path(workdir)
    self._jsonl = self._workdir / METRICS_FILE
    _truncate_jsonl(self._jsonl, resume_step)
    self._tb = tensorboardX.SummaryWriter(str(self._workdir / TENSORBOARD_DIR))

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    """Appends one JSON record and one TensorBoard scalar per key."""
    record = {"step": int(step), **{k: float(v) for k, v in scalars.items()}}
    with self._jsonl.open("a") as f:
      f.write(json.dumps(record) + "\n")
    for key, value in scalars.items():
      self._tb.add_scalar(key, float(value), int(step))

  def flush(self) -> None:
    self._tb.flush()

  def close(self) -> None:
    self._tb.close()


def read_metrics(workdir: str | os.PathLike) -> list[dict]:
  """Reads back `metrics.jsonl` as a list of dicts (for tests and reports)."""
  path = pathlib.Path(workdir) / METRICS_FILE
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
