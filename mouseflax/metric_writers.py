"""Scalar metrics to JSON lines (`metrics.jsonl`) and TensorBoard event files, without TensorFlow.

TensorBoard events come from tensorboardX (pure Python + protobuf). On resume, records past the
restored step are dropped from `metrics.jsonl` (rewritten atomically) so the file reads as one
uninterrupted run. A line that does not parse (a run killed mid-append) is skipped with a warning,
and dropped on resume.
"""

from collections.abc import Mapping
import json
import os
import pathlib

from absl import logging
import tensorboardX

from mouseflax import fileio

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def _read_records(path: pathlib.Path) -> list[tuple[str, dict]]:
  """(line, record) for each line of `path` that parses; others are skipped with a warning."""
  records = []
  for number, line in enumerate(path.read_text().splitlines(), start=1):
    if not line.strip():
      continue
    try:
      record = json.loads(line)
    except json.JSONDecodeError as e:
      record = e
    if not isinstance(record, dict) or "step" not in record:
      logging.warning(
          "%s line %d is not a JSON record with a step (%s; a run killed mid-write?): skipped.",
          path,
          number,
          record,
      )
      continue
    records.append((line, record))
  return records


def _truncate_jsonl(path: pathlib.Path, max_step: int) -> None:
  """Rewrites `path` keeping only valid records with step <= max_step (atomic rename)."""
  if not path.exists():
    return
  kept = [line for line, record in _read_records(path) if record["step"] <= max_step]
  fileio.write_text_atomic(path, "".join(line + "\n" for line in kept))


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
  return [record for _, record in _read_records(path)]
