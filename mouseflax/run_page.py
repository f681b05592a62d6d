"""The run page of training runs: their results.json as one self-contained HTML page.

  python -m mouseflax.report --workdirs='workdirs/*' --html=runs.html

One section per run: what ran (model, dataset, real or synthetic data, epochs, steps, training
time, devices, commit); every AUC variant of results.json (keys `auc*`) side by side with the
paper's number and with any baselines (`results.json["baselines"]`: {name: auc} or {name: {metric:
value}}; rows are the union of the metrics), each with its definition (`metrics_notes`); the ROC
and timeline figures of the evaluation (`roc.png`, `timeline.png`, linked relative to the page); the
threshold (`threshold.json`); the losses, the compute dtype and how much each stream learnt, with
a warning above the numbers when one learnt little (`learning_check`); the config. A summary table
links the sections. The page loads nothing from the network; the figures must stay where they are
relative to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import json
import numbers
import pathlib
from typing import Any

from mouseflax import evaluate
from mouseflax import fileio
from mouseflax import learning_check
from mouseflax import report
from mouseflax import webpage

AUC_PREFIX = "auc"
BASELINES_KEY = "baselines"
THRESHOLD_FILE = "threshold.json"
FIGURES = (evaluate.ROC_FILE, evaluate.TIMELINE_FILE)
THIS_RUN = "this run"
PAGE_TITLE = "mouseflax runs"
JSON_INDENT = 2
# Fields of results.json shown under "what ran" (label, key).
RUN_FIELDS = (
    ("epochs", "epochs"),
    ("steps", "steps"),
    ("training time (s)", "train_seconds"),
    ("devices", "num_devices"),
    ("processes", "num_processes"),
    ("test frames", "n_test_frames"),
    ("anomalous test frames", "n_anomalous_frames"),
    ("test videos", "n_videos"),
    ("score rule", "stream_normalisation"),
    ("final train loss", "final_train_loss"),
    ("final validation loss", "final_val_loss"),
    ("git commit", "git_commit"),
)


def _is_metric(value: Any) -> bool:
  """An AUC value: a number, or None (undefined for this run)."""
  return value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool))


def auc_keys(metrics: Mapping[str, Any]) -> list[str]:
  """The AUC variants of a results.json: the report's columns first, then any other `auc*`."""
  found = [k for k, v in metrics.items() if k.startswith(AUC_PREFIX) and _is_metric(v)]
  known = [k for k in report.AUC_COLUMNS if k in found]
  return known + sorted(set(found) - set(known))


def baselines(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
  """results.json's baselines as {name: {metric: value}} (a bare number is that baseline's auc)."""
  found = {}
  for name, value in (metrics.get(BASELINES_KEY) or {}).items():
    if isinstance(value, Mapping):
      found[name] = {k: v for k, v in value.items() if _is_metric(v)}
    elif _is_metric(value):
      found[name] = {"auc": value}
  return found


def _auc(value: Any) -> str:
  """An AUC as the markdown report writes it; other text as it is."""
  if value is None:
    return report.UNDEFINED
  if isinstance(value, numbers.Real) and not isinstance(value, (bool, int)):
    return f"{value:.{report.AUC_DIGITS}f}"
  return webpage.esc(value)


def _value(value: Any) -> str:
  if isinstance(value, float):
    return webpage.number(value)
  return webpage.MISSING if value is None else webpage.esc(value)


def comparison_table(run: report.RunResult) -> str:
  """Rows: AUC variants; columns: this run, each baseline, the paper; then the definition."""
  others = baselines(run.metrics)
  keys = auc_keys(run.metrics)
  keys += sorted({k for b in others.values() for k in b} - set(keys))
  notes = run.metrics.get("metrics_notes", {})
  paper_auc, paper_source = report.fmt_paper(run)
  header = ["metric", THIS_RUN, *(webpage.esc(n) for n in others), "paper", "definition"]
  rows = []
  for key in keys:
    cells = [f"<code>{webpage.esc(key)}</code>", _auc(run.metrics.get(key, report.UNKNOWN))]
    cells += [_auc(b.get(key, report.UNKNOWN)) for b in others.values()]
    paper = f'<span title="{webpage.esc(paper_source)}">{webpage.esc(paper_auc)}</span>'
    cells += [paper if key == "auc" else "", webpage.esc(notes.get(key, ""))]
    rows.append(cells)
  return webpage.table(header, rows)


def _threshold(workdir: pathlib.Path) -> str:
  path = workdir / THRESHOLD_FILE
  if not path.is_file():
    return "<p>No threshold.json (the evaluation did not finish).</p>"
  content = json.loads(path.read_text(encoding="utf-8"))
  items = [(k, _value(v)) for k, v in content.items() if not isinstance(v, (dict, list))]
  return webpage.key_values(items)


def _figures(workdir: pathlib.Path, page_dir: pathlib.Path) -> str:
  images = [
      f'<img src="{webpage.relative_url(workdir / name, page_dir)}" alt="{name}" loading="lazy">'
      for name in FIGURES
      if (workdir / name).is_file()
  ]
  if not images:
    return "<p>No figures (the evaluation did not finish).</p>"
  return f'<div class="figures">{"".join(images)}</div>'


def _streams(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
  """(label, HTML) of the compute dtype and of each stream's learnt share (learning_check)."""
  items = []
  precision = metrics.get("precision")
  if precision:
    items.append(("compute dtype", webpage.esc(f"{precision['dtype']} ({precision['reason']})")))
  for stream, check in learning_check.in_stream_order(metrics.get("stream_learning")):
    items.append(
        (
            f"{stream} stream learnt",
            webpage.esc(
                f"{check['learnt']:.2f} (validation loss {check['val_loss']:.3g}, mean frame's "
                f"{check['mean_frame_loss']:.3g})"
            ),
        )
    )
  if metrics.get("score_streams"):
    items.append(("streams scored", webpage.esc(", ".join(metrics["score_streams"]))))
  return items


def _warnings(metrics: Mapping[str, Any]) -> str:
  """The run's warnings (a stream that learnt little), in a red box above its numbers."""
  warning = metrics.get("learning_warning")
  return f'<p class="warning">{webpage.esc(warning)}</p>' if warning else ""


def _anchor(index: int) -> str:
  return f"run-{index}"


def run_section(run: report.RunResult, index: int, page_dir: pathlib.Path) -> str:
  """The section of one run (module docstring)."""
  data = report.data_label(run).strip("*")
  badge = ' <span class="badge">SYNTHETIC</span>' if run.synthetic else ""
  title = (
      f"{report.MODEL_LABELS.get(run.model, run.model)} on "
      f"{report.DATASET_LABELS.get(run.dataset, run.dataset)}"
  )
  ran = [("workdir", webpage.esc(run.workdir)), ("data", webpage.esc(data))]
  ran += [(label, _value(run.metrics[k])) for label, k in RUN_FIELDS if k in run.metrics]
  ran += _streams(run.metrics)
  config = json.dumps(run.metrics.get("config", {}), indent=JSON_INDENT, sort_keys=True)
  return (
      f'<section id="{_anchor(index)}"><h2>{webpage.esc(title)}{badge}</h2>'
      f"{_warnings(run.metrics)}{webpage.key_values(ran)}<h3>AUC</h3>{comparison_table(run)}"
      f"<h3>Figures</h3>{_figures(run.workdir, page_dir)}"
      f"<h3>Threshold</h3>{_threshold(run.workdir)}"
      f"<details><summary>config</summary><pre>{webpage.esc(config)}</pre></details></section>"
  )


def _summary(runs: Sequence[report.RunResult]) -> str:
  header = ["run", "model", "dataset", "data", "epochs", "AUC", "paper"]
  rows = [
      [
          f'<a href="#{_anchor(i)}">{webpage.esc(r.workdir.name)}</a>',
          webpage.esc(report.MODEL_LABELS.get(r.model, r.model)),
          webpage.esc(report.DATASET_LABELS.get(r.dataset, r.dataset)),
          webpage.esc(report.data_label(r).strip("*")),
          webpage.esc(r.epochs),
          webpage.esc(report.fmt_auc(r.metrics, "auc")),
          webpage.esc(report.fmt_paper(r)[0]),
      ]
      for i, r in enumerate(runs)
  ]
  return webpage.table(header, rows, numeric=3)


def render(runs: Sequence[report.RunResult], page_dir: str | pathlib.Path) -> str:
  """The page's HTML for `runs` (figures linked relative to `page_dir`)."""
  page_dir = pathlib.Path(page_dir)
  body = f"<h1>Training runs</h1>{_summary(runs)}" + "".join(
      run_section(r, i, page_dir) for i, r in enumerate(runs)
  )
  return webpage.document(PAGE_TITLE, body)


def write_run_page(runs: Sequence[report.RunResult], path: str | pathlib.Path) -> pathlib.Path:
  """Writes the page of `runs` to `path` (atomically); returns the path."""
  path = pathlib.Path(path)
  return fileio.write_text_atomic(path, render(runs, path.parent))
