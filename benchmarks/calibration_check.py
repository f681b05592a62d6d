"""Calibration check of a finished labelled run: nominal false-alarm rates vs the realised ones.

  python -m benchmarks.calibration_check --workdir=W [--events_per_hour=2,60,600] \
      [--frame_rates=0.01,0.05] [--output=check.json]

For every named score (`mouseflax.named_scores`) and every target (false events per hour, and
shares of frames), the threshold is fitted on the run's normal validation frames exactly as
training and `mouseflax.score` fit it (`calibration.calibrate`, the run's event rule; validation
errors from `score.validation_errors`), then measured on the NORMAL frames of the run's test split
(`evaluate.detection_metrics` on its `scores/*.csv`, which hold every error column): realised vs
nominal, with the held-out validation estimate and whether calibration warned that the validation
video was too short. The acceptance of a promised rate is a realised rate within 0.5x-2x of the
nominal one, or a warning beforehand.

Prints a markdown table and writes JSON (`common.environment()`: date, CPU, load).
"""

from __future__ import annotations

from collections.abc import Sequence
import pathlib
from typing import Any

from absl import flags
import numpy as np

from benchmarks import common
from mouseflax import calibration
from mouseflax import evaluate
from mouseflax import named_scores

PROMISE = (0.5, 2.0)  # Realised / nominal within this range: the promise holds.

FLAGS = flags.FlagValues()
flags.DEFINE_string("workdir", None, "A finished run with labelled test frames.", flag_values=FLAGS)
flags.DEFINE_list(
    "events_per_hour", ["2", "60", "600"], "False events per hour targets.", flag_values=FLAGS
)
flags.DEFINE_list("frame_rates", ["0.01", "0.05"], "Frame share targets.", flag_values=FLAGS)
flags.DEFINE_string("output", "", "JSON file to write (atomically).", flag_values=FLAGS)


def test_table(workdir: pathlib.Path, handle: Any) -> evaluate.FrameTable:
  """The run's test frames from its score CSVs (video ids as in the dataset's video_names)."""
  ids = {evaluate.video_name(i, handle.video_names): i for i in range(len(handle.video_names))}
  parts = []
  for path in sorted((workdir / evaluate.SCORES_DIR).glob("*.csv")):
    columns = evaluate.read_score_csv(path)
    n = len(columns["frame"])
    nan = np.full(n, np.nan)
    parts.append(
        evaluate.FrameTable(
            video=np.full(n, ids[path.stem], np.int64),
            frame_index=columns["frame"],
            label=columns["label"],
            behavior=columns["behavior"],
            score=columns["score"],
            **{c: columns.get(c, nan) for c in named_scores.ERROR_COLUMNS},
        )
    )
  fields = {
      f: np.concatenate([getattr(p, f) for p in parts])
      for f in evaluate.FrameTable.__dataclass_fields__
  }
  return evaluate.FrameTable(**fields)


def targets() -> list[calibration.Target]:
  return [
      calibration.Target(calibration.EVENTS_PER_HOUR, float(r)) for r in FLAGS.events_per_hour
  ] + [calibration.Target(calibration.FRAME_RATE, float(r)) for r in FLAGS.frame_rates]


def check(workdir: pathlib.Path) -> dict[str, Any]:
  """{score name: [one row per target]} for the run in `workdir`."""
  from mouseflax import input_pipeline  # pylint: disable=g-import-not-at-top  # Loads TFDS.
  from mouseflax import score  # pylint: disable=g-import-not-at-top  # Loads jax.

  run = score.load_run(workdir)
  handle = input_pipeline.prepare(run.config.data, seed=run.config.seed)
  table = test_table(workdir, handle)
  errors = score.validation_errors(run)
  stats = score.error_stats(run) or {}
  rule = score.event_rule(run)
  fps = evaluate.fps_by_video(
      handle.info.metadata.get("video_fps"), np.unique(table.video), "test split"
  )
  val_fps = dict(zip(errors["video"].tolist(), errors["fps"].tolist()))
  normal = errors["label"] == 0
  rows: dict[str, list] = {}
  for name in named_scores.SCORES:
    try:
      val = named_scores.compute(name, errors, stats)
      test = named_scores.compute(name, table.error_columns(), stats)
    except ValueError:
      continue  # A z-scored score without statistics (a stream error constant on validation).
    tl = calibration.timeline(
        errors["video"][normal], errors["frame"][normal], val[normal], val_fps
    )
    scored = evaluate.FrameTable(**{**table.__dict__, "score": test})
    for target in targets():
      fitted = calibration.calibrate(tl, rule, target)
      measured = evaluate.detection_metrics(scored, fitted["threshold"], rule, fps)
      key = (
          "false_events_per_hour_test"
          if target.mode == calibration.EVENTS_PER_HOUR
          else ("false_alarm_rate_test")
      )
      held_key = "events_per_hour" if target.mode == calibration.EVENTS_PER_HOUR else "frame_rate"
      ratio = measured[key] / target.value if measured[key] is not None else None
      rows.setdefault(name, []).append(
          {
              "calibrate_to": target.mode,
              "nominal": target.value,
              "validation": fitted["validation"][held_key],
              "heldout": fitted["heldout"].get(held_key),
              "test": measured[key],
              "ratio": ratio,
              "within_promise": ratio is not None and PROMISE[0] <= ratio <= PROMISE[1],
              "warned": fitted["warning"] is not None,
              "validation_hours": fitted["validation"]["hours"],
              "test_normal_hours": measured["test_normal_hours"],
              "bouts": measured["bout_detection"],
          }
      )
  return {"workdir": str(workdir), "event_rule": rule.to_dict(), "scores": rows}


def markdown(result: dict[str, Any]) -> str:
  lines = [
      f"Calibration check of {result['workdir']} (event rule {result['event_rule']}):",
      "",
      "| score | target | nominal | validation | held-out | test (normal) | test/nominal | "
      "warned | bouts |",
      "|---|---|---|---|---|---|---|---|---|",
  ]
  fmt = lambda v: "n/a" if v is None else f"{v:.3g}"  # pylint: disable=unnecessary-lambda-assignment
  for name, rows in result["scores"].items():
    for r in rows:
      bouts = r["bouts"]
      lines.append(
          f"| {name} | {r['calibrate_to']} | {r['nominal']:g} | {fmt(r['validation'])} | "
          f"{fmt(r['heldout'])} | {fmt(r['test'])} | {fmt(r['ratio'])} | "
          f"{'yes' if r['warned'] else 'no'} | {bouts['detected']}/{bouts['bouts']} |"
      )
  return "\n".join(lines) + "\n"


def main(argv: Sequence[str]) -> dict[str, Any]:
  return common.workdir_report(FLAGS, argv, check, markdown)


if __name__ == "__main__":
  common.run(main)
