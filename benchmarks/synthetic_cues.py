"""Which cues give a labelled run's anomalies away: the model's AUC beside trivial cues, overall and
against each normal behaviour alone.

  python -m benchmarks.synthetic_cues --workdir=W [--top_rows=6] [--output=cues.json]

For a finished run with labelled test frames (a mouse_behavior run, synthetic or real): the AUC of
the run's score, of its streams' errors, of the baselines it wrote beside them (`scores/*.csv`:
motion energy, flow magnitude, PCA) and of the darkness of the top `--top_rows` rows of the test
frames as the model sees them (the cropped gray stream: the cue that made synthetic hang trivial
when only a hanging mouse was ever up there). Each AUC is given over all test frames and for the
held-out behaviour against each normal behaviour alone (which behaviours a cue confuses it with).
A generator whose anomalies a trivial cue finds (AUC ~1.0) tests the plumbing, not the method.

Prints a markdown table and writes JSON (`common.environment()`: date, CPU, load).
"""

from __future__ import annotations

from collections.abc import Sequence
import pathlib
from typing import Any

from absl import flags
import numpy as np
from sklearn import metrics

from benchmarks import common
from mouseflax import baselines
from mouseflax import evaluate
from mouseflax import raw_formats

TOP_ROWS = 6  # The rows under the lid at 24x32, where synthetic hang alone used to be.
DARKNESS = "top_rows_darkness"
BASELINES = (baselines.MOTION_ENERGY, baselines.FLOW_MAGNITUDE, baselines.PCA)
CUES = ("score", "error_gray", "error_flow", *BASELINES, DARKNESS)
AUC_DIGITS = 3

FLAGS = flags.FlagValues()
flags.DEFINE_string("workdir", None, "A finished run with labelled test frames.", flag_values=FLAGS)
flags.DEFINE_integer(
    "top_rows", TOP_ROWS, "Rows of the gray stream for the darkness cue.", flag_values=FLAGS
)
flags.DEFINE_string("output", "", "JSON file to write (atomically).", flag_values=FLAGS)


def _auc(label: np.ndarray, values: np.ndarray) -> float | None:
  """ROC AUC, None when one class is missing or the values are not all finite."""
  if len(np.unique(label)) < 2 or not np.all(np.isfinite(values)):
    return None
  return round(float(metrics.roc_auc_score(label, values)), AUC_DIGITS)


def darkness(workdir: pathlib.Path, top_rows: int) -> tuple[dict[tuple[int, int], float], list]:
  """((video id, frame) -> minus the mean gray level of the top rows of the test frame, the
  dataset's video names)."""
  from mouseflax import input_pipeline  # pylint: disable=g-import-not-at-top  # Loads TFDS.
  from mouseflax import score  # pylint: disable=g-import-not-at-top  # Loads jax.

  run = score.load_run(workdir)
  handle = input_pipeline.prepare(run.config.data, seed=run.config.seed)
  frames = baselines.unique_frames(handle.load("test"))
  dark = -np.asarray(frames["gray"], np.float64)[:, :top_rows].mean(axis=(1, 2, 3))
  keys = zip(frames["video"].tolist(), frames["frame_index"].tolist())
  return dict(zip(keys, dark.tolist())), handle.video_names


def cue_columns(workdir: pathlib.Path, top_rows: int) -> dict[str, np.ndarray]:
  """Every test frame's label, behaviour and cues, from the run's score CSVs and its records."""
  dark, names = darkness(workdir, top_rows)
  ids = {evaluate.video_name(i, names): i for i in range(len(names))}
  parts = []
  for path in sorted((workdir / evaluate.SCORES_DIR).glob("*.csv")):
    columns = evaluate.read_score_csv(path)
    video = ids[path.stem]
    columns[DARKNESS] = np.array([dark[(video, int(f))] for f in columns["frame"]])
    parts.append(columns)
  keep = ("label", "behavior", *CUES)
  return {k: np.concatenate([p[k] for p in parts]) for k in keep if all(k in p for p in parts)}


def cues(workdir: pathlib.Path, top_rows: int) -> dict[str, Any]:
  """{'all': {cue: AUC}, 'against': {behaviour: {cue: AUC}}} for the run in `workdir`."""
  columns = cue_columns(workdir, top_rows)
  label, behavior = columns["label"].astype(int), columns["behavior"].astype(int)
  present = [c for c in CUES if c in columns]
  result = {"all": {c: _auc(label, columns[c]) for c in present}, "against": {}}
  for b in sorted(set(behavior[label == 0].tolist())):
    pick = (label == 1) | (behavior == b)
    name = raw_formats.BEHAVIORS[b] if 0 <= b < len(raw_formats.BEHAVIORS) else str(b)
    result["against"][name] = {c: _auc(label[pick], columns[c][pick]) for c in present}
  return {"workdir": str(workdir), "top_rows": top_rows, "cues": present, **result}


def markdown(result: dict[str, Any]) -> str:
  fmt = lambda v: "n/a" if v is None else f"{v:.{AUC_DIGITS}f}"  # pylint: disable=unnecessary-lambda-assignment
  head = ["frames", *result["cues"]]
  lines = [
      f"Cues of {result['workdir']} (AUC; darkness of the top {result['top_rows']} rows):",
      "",
      "| " + " | ".join(head) + " |",
      "|" + "---|" * len(head),
      "| all | " + " | ".join(fmt(result["all"][c]) for c in result["cues"]) + " |",
  ]
  for name, row in result["against"].items():
    lines.append(
        f"| held-out vs {name} | " + " | ".join(fmt(row[c]) for c in result["cues"]) + " |"
    )
  return "\n".join(lines)


def main(argv: Sequence[str]) -> dict[str, Any]:
  return common.workdir_report(FLAGS, argv, lambda w: cues(w, FLAGS.top_rows), markdown)


if __name__ == "__main__":
  common.run(main)
