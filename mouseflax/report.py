"""The paper-style report: our AUCs beside Nwokedi et al. 2021 (Table 2, section 3), Figures 3-4.

  python -m mouseflax.report --workdirs='workdirs/*' --output=report.md --figure=figures34.png

Reads each run's `results.json` (falling back to `config.json` for fields it lacks), prints a
markdown table that names the AUC variant, the data (real or SYNTHETIC) and the epochs run, then a
table of each run's headline AUC beside the baselines scored on the same frames (motion energy, flow
magnitude, PCA: `mouseflax.baselines`), the share of anomalous bouts detected and the false alarms
realised on the normal test frames against the calibrated (nominal) rate. A model AUC that does not
beat every baseline is marked `!` (in both tables) and the baselines that match or beat it are in
bold. Writes it to `--output`, and draws the regularity timelines of the two-stream models on groom
and hang side by side (`--figure`, from each run's `scores/*.csv`).
"""

from collections.abc import Sequence
import dataclasses
import glob
import json
import pathlib
from typing import Any

from absl import app
from absl import flags

from mouseflax import evaluate
from mouseflax import fileio
from mouseflax import learning_check
from mouseflax import plots
from mouseflax import run_files

UNKNOWN = "?"  # Field absent from the run's files.
UNDEFINED = "n/a"  # Metric stored as None: undefined (one class only, or a stream the model lacks).
AVENUE = "cuhk_avenue"
GROOM = "mouse_behavior/groom"
HANG = "mouse_behavior/hang"
MOUSE_DATASETS = (GROOM, HANG)
TWO_STREAM_MODELS = ("rae", "cae")  # Figure columns: the paper puts the RAE left, the CAE right.
AUC_DIGITS = 3
# Metric columns of the table: key in results.json -> header.
AUC_COLUMNS = {
    "auc": "AUC (pooled)",
    "auc_macro": "AUC macro",
    "auc_smoothed": "AUC smoothed",
    "auc_minmax_per_video": "AUC min-max/video*",
    "auc_gray": "AUC gray",
    "auc_flow": "AUC flow",
}

# Baseline columns: key in results.json's `baselines` -> header.
BASELINE_COLUMNS = {
    "motion_energy": "motion energy",
    "flow_magnitude": "flow magnitude",
    "pca": "PCA",
}
NOT_BEATEN = "!"  # After a model AUC that does not beat every baseline.
PERCENT_DIGITS = 1

MODEL_LABELS = {
    "cae": "two-stream CAE",
    "rae": "two-stream 3D RAE",
    "cae_single": "single-stream CAE (spatial only)",
    "supervised": "supervised (CAE encoder + FC)",
}
DATASET_LABELS = {
    AVENUE: "CUHK Avenue",
    GROOM: "mouse, groom held out",
    HANG: "mouse, hang held out",
}


@dataclasses.dataclass(frozen=True)
class PaperResult:
  """One number reported by the paper: `relation` is '=' for a stated AUC, '>' for a lower bound."""

  auc: float
  relation: str
  source: str


# Nwokedi et al. 2021, the paper this project reproduces. It gives no exact two-stream numbers on
# the mouse data: hang is "over 0.9", groom "marginally better than random" (a lower bound of 0.5).
PAPER_RESULTS: dict[tuple[str, str], PaperResult] = {
    (AVENUE, "cae_single"): PaperResult(0.784, "=", "Table 2 (section 3.1)"),
    (AVENUE, "rae"): PaperResult(0.826, "=", "Table 2 (section 3.1)"),
    (AVENUE, "cae"): PaperResult(0.832, "=", "Table 2 (section 3.1)"),
    (HANG, "cae"): PaperResult(0.9, ">", "section 3.3, Figure 4 ('over 0.9')"),
    (HANG, "rae"): PaperResult(0.9, ">", "section 3.3, Figure 4 ('over 0.9')"),
    (HANG, "supervised"): PaperResult(0.99, "=", "section 3.4"),
    (HANG, "cae_single"): PaperResult(0.959, "=", "section 3.4"),
    (GROOM, "cae"): PaperResult(
        0.5, ">", "section 3.2, Figure 3 ('marginally better than random')"
    ),
    (GROOM, "rae"): PaperResult(
        0.5, ">", "section 3.2, Figure 3 ('marginally better than random')"
    ),
    (GROOM, "supervised"): PaperResult(0.66, "=", "section 3.4"),
    (GROOM, "cae_single"): PaperResult(0.644, "=", "section 3.4"),
}
# Peers' Avenue AUCs quoted in the paper's Table 2, for context.
PAPER_AVENUE_PEERS = (
    ("2D CAE", 0.702),
    ("Detection at 150 FPS", 0.809),
    ("Two-stream 3D Conv AE", 0.866),
    ("STAE (spatial only)", 0.771),
    ("STAE (optical flow only)", 0.809),
    ("DSTN", 0.879),
)


@dataclasses.dataclass(frozen=True)
class RunResult:
  """What the report needs from one run folder."""

  workdir: pathlib.Path
  dataset: str
  model: str
  epochs: Any
  synthetic: bool | None
  metrics: dict[str, Any]


def _read_json(path: pathlib.Path) -> dict[str, Any]:
  try:
    with path.open(encoding="utf-8") as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise ValueError(f"{path} is not valid JSON ({e}); rerun the evaluation to rewrite it") from e


def _dataset_key(dataset: str) -> str:
  """'mouse_behavior/hang:1.0.0' -> 'mouse_behavior/hang' (the version does not change the task)."""
  return dataset.split(":", 1)[0]


def load_run(workdir: str | pathlib.Path) -> RunResult:
  """Reads a run's results.json; dataset/model/epochs/synthetic fall back to its config."""
  workdir = pathlib.Path(workdir)
  results_path = workdir / run_files.RESULTS_FILE
  if not results_path.is_file():
    raise FileNotFoundError(
        f"{results_path} not found: the run has not finished its evaluation "
        f"(train it to the end, or drop {workdir} from --workdirs)"
    )
  results = _read_json(results_path)
  config = results.get("config")
  if config is None and (workdir / run_files.CONFIG_FILE).is_file():
    config = _read_json(workdir / run_files.CONFIG_FILE)
  config = config or {}
  data, model = config.get("data", {}), config.get("model", {})
  dataset = str(results.get("dataset", data.get("dataset", UNKNOWN)))
  synthetic = results.get("synthetic")  # Written by the trainer; older runs: from the config.
  if synthetic is None and "manual_dir" in data:
    from mouseflax import input_pipeline  # pylint: disable=g-import-not-at-top  # Old runs only.

    synthetic = input_pipeline.is_synthetic({**data, "dataset": dataset})
  return RunResult(
      workdir=workdir,
      dataset=_dataset_key(dataset),
      model=str(results.get("model", model.get("name", UNKNOWN))),
      epochs=results.get("epochs", config.get("train", {}).get("epochs", UNKNOWN)),
      synthetic=synthetic,
      metrics=results,
  )


def expand_workdirs(patterns: Sequence[str]) -> list[pathlib.Path]:
  """Expands globs (sorted, deduplicated, order of first appearance); a plain path is kept as is."""
  dirs: list[pathlib.Path] = []
  for pattern in patterns:
    matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    if not matches:
      raise FileNotFoundError(f"--workdirs pattern {pattern!r} matches no folder")
    dirs += [pathlib.Path(m) for m in matches if pathlib.Path(m) not in dirs]
  return dirs


def fmt_auc(metrics: dict[str, Any], key: str) -> str:
  if key not in metrics:
    return UNKNOWN
  value = metrics[key]
  return UNDEFINED if value is None else f"{value:.{AUC_DIGITS}f}"


def _beaten(metrics: dict[str, Any]) -> bool:
  """Whether a baseline matches or beats the run's headline AUC (False for runs without them)."""
  return any(b.get("model_beats") is False for b in (metrics.get("baselines") or {}).values())


def _fmt_headline(metrics: dict[str, Any]) -> str:
  return fmt_auc(metrics, "auc") + (NOT_BEATEN if _beaten(metrics) else "")


def _fmt_baseline(metrics: dict[str, Any], key: str) -> str:
  baseline = (metrics.get("baselines") or {}).get(key)
  if baseline is None:
    return UNKNOWN
  cell = fmt_auc(baseline, "auc")
  return f"**{cell}**" if baseline.get("model_beats") is False else cell


def _fmt_bouts(metrics: dict[str, Any]) -> str:
  bouts = metrics.get("bout_detection")
  if not bouts:
    return UNKNOWN
  return f"{bouts['detected']}/{bouts['bouts']}"


def _fmt_learning(metrics: dict[str, Any]) -> str:
  """'gray 0.70, flow **-0.03**': each stream's learnt share, bold under LEARNT_MIN."""
  learning = learning_check.in_stream_order(metrics.get("stream_learning"))
  if not learning:
    return UNKNOWN
  cells = []
  for stream, check in learning:
    value = f"{check['learnt']:.2f}"
    cells.append(
        f"{stream} **{value}**"
        if check["learnt"] < learning_check.LEARNT_MIN
        else f"{stream} {value}"
    )
  return ", ".join(cells)


def _fmt_false_alarms(metrics: dict[str, Any]) -> str:
  """'<realised> (nominal <target>)' in the calibrated unit; ' W' when calibration warned."""
  calibration = metrics.get("calibration")
  if not calibration:
    return UNKNOWN
  warned = " W" if metrics.get("calibration_warning") else ""
  if calibration["calibrate_to"] == "frame_rate":
    test = metrics.get("false_alarm_rate_test")
    realised = UNDEFINED if test is None else f"{100 * test:.{PERCENT_DIGITS}f}%"
    return f"{realised} (nominal {100 * calibration['target']:g}%){warned}"
  test = metrics.get("false_events_per_hour_test")
  realised = UNDEFINED if test is None else f"{test:.3g}/h"
  return f"{realised} (nominal {calibration['target']:g}/h){warned}"


def fmt_paper(run: RunResult) -> tuple[str, str]:
  paper = PAPER_RESULTS.get((run.dataset, run.model))
  if paper is None:
    return "-", "-"
  auc = f"{paper.auc:.{AUC_DIGITS}f}" if paper.relation == "=" else f"> {paper.auc:g}"
  return auc, paper.source


def data_label(run: RunResult) -> str:
  if run.synthetic is None:
    return UNKNOWN
  return "**SYNTHETIC**" if run.synthetic else "real"


def _row(run: RunResult) -> str:
  paper_auc, source = fmt_paper(run)
  cells = [
      DATASET_LABELS.get(run.dataset, run.dataset),
      data_label(run),
      MODEL_LABELS.get(run.model, run.model),
      str(run.epochs),
  ]
  cells += [
      _fmt_headline(run.metrics) if key == "auc" else fmt_auc(run.metrics, key)
      for key in AUC_COLUMNS
  ]
  cells += [str(run.metrics.get("n_test_frames", UNKNOWN)), paper_auc, source, run.workdir.name]
  return "| " + " | ".join(cells) + " |"


def _notes(runs: Sequence[RunResult]) -> list[str]:
  """The definition of each AUC variant (from the first run that carries notes)."""
  notes = next((r.metrics["metrics_notes"] for r in runs if "metrics_notes" in r.metrics), {})
  lines = ["", "AUC variants (frame level, ROC):"]
  lines += [f"- `{key}`: {notes[key]}" for key in ("score", *AUC_COLUMNS) if key in notes]
  lines.append(
      "- `*` uses test-set information (per-video normalisation): not comparable with `auc`."
  )
  lines.append(
      f"- `{UNDEFINED}`: undefined for that run; `{UNKNOWN}`: not in the run's results.json."
  )
  lines.append(
      f"- `{NOT_BEATEN}`: the model's AUC does not beat every baseline on the same test frames "
      "(the baselines that match or beat it are bold in the table below)."
  )
  if any(r.synthetic for r in runs):
    lines.append(
        "- **SYNTHETIC** rows ran on generated recordings: they test the pipeline and say "
        "nothing about the paper's numbers."
    )
  return lines


def _peer_table() -> list[str]:
  lines = [
      "",
      "Peers on CUHK Avenue as quoted in the paper's Table 2 (their own protocols):",
      "",
      "| Method | AUC |",
      "|---|---|",
  ]
  return lines + [f"| {name} | {auc:.{AUC_DIGITS}f} |" for name, auc in PAPER_AVENUE_PEERS]


def _baseline_table(runs: Sequence[RunResult]) -> list[str]:
  """The headline AUC beside each baseline, bouts detected and false alarms, one row per run."""
  header = (
      ["Dataset", "Data", "Model", "AUC (pooled)"]
      + [f"{name} AUC" for name in BASELINE_COLUMNS.values()]
      + ["Bouts detected", "False alarms, normal test frames (nominal)", "Streams learnt", "Run"]
  )
  lines = [
      "",
      "## Beside the baselines (same test frames)",
      "",
      "| " + " | ".join(header) + " |",
      "|" + "---|" * len(header),
  ]
  for run in runs:
    cells = [
        DATASET_LABELS.get(run.dataset, run.dataset),
        data_label(run),
        MODEL_LABELS.get(run.model, run.model),
        _fmt_headline(run.metrics),
    ]
    cells += [_fmt_baseline(run.metrics, key) for key in BASELINE_COLUMNS]
    cells += [_fmt_bouts(run.metrics), _fmt_false_alarms(run.metrics)]
    cells += [_fmt_learning(run.metrics), run.workdir.name]
    lines.append("| " + " | ".join(cells) + " |")
  lines += [
      "",
      "Baselines: motion energy = mean |frame difference|, flow magnitude = mean |flow - 0.5|, PCA "
      "= reconstruction error of a 20-component PCA of training frames. Bouts: anomalous runs with "
      "a flagged frame at the calibrated threshold. False alarms: share of normal test frames "
      "flagged (frame-rate calibration) or false events per hour of normal test video (events "
      "calibration); W: the validation video was too short to promise the nominal rate "
      "(threshold.json `warning`). Streams learnt: 1 - validation loss / that of a constant "
      f"mean frame per stream; bold under {learning_check.LEARNT_MIN}: that stream learnt little "
      "and its errors measure the input's distance from the mean frame (results.json "
      "`learning_warning`).",
  ]
  return lines


def build_table(runs: Sequence[RunResult]) -> str:
  """Markdown report: one row per run (sorted by dataset, model), our AUCs beside the paper's."""
  header = (
      ["Dataset", "Data", "Model", "Epochs"]
      + list(AUC_COLUMNS.values())
      + ["Test frames", "Paper AUC", "Paper source", "Run"]
  )
  lines = [
      "# Results beside Nwokedi et al. 2021",
      "",
      "| " + " | ".join(header) + " |",
      "|" + "---|" * len(header),
  ]
  ordered = sorted(runs, key=lambda r: (r.dataset, r.model, str(r.workdir)))
  lines += [_row(r) for r in ordered]
  lines += _notes(runs)
  lines += _baseline_table(ordered)
  if any(r.dataset == AVENUE for r in runs):
    lines += _peer_table()
  return "\n".join(lines) + "\n"


def _figure_panel(run: RunResult | None, dataset: str, model: str) -> plots.TimelinePanel | None:
  """The regularity timeline of a run's first test video (the mouse test set is one video)."""
  if run is None:
    return None
  csvs = sorted((run.workdir / evaluate.SCORES_DIR).glob("*.csv"))
  if not csvs:
    raise FileNotFoundError(
        f"no score CSVs in {run.workdir / evaluate.SCORES_DIR}: the run's "
        f"evaluation did not finish; rerun it"
    )
  columns = evaluate.read_score_csv(csvs[0])
  title = (
      f"{MODEL_LABELS.get(model, model)} on {dataset.split('/')[-1]} "
      f"(AUC {fmt_auc(run.metrics, 'auc')}, {data_label(run).strip('*').lower()})"
  )
  return plots.TimelinePanel(
      title=title, frame=columns["frame"], value=columns["regularity"], label=columns["label"]
  )


def plot_paper_figure(runs: Sequence[RunResult], path: str | pathlib.Path) -> pathlib.Path:
  """Figures 3-4 analogue: rows groom, hang; columns two-stream RAE, CAE; truth shaded.

  When several runs match a panel, the last one in `runs` is drawn.
  """
  chosen = {(r.dataset, r.model): r for r in runs}
  panels = [
      _figure_panel(chosen.get((d, m)), d, m) for d in MOUSE_DATASETS for m in TWO_STREAM_MODELS
  ]
  if all(p is None for p in panels):
    raise ValueError(
        "none of the runs is a two-stream model (rae, cae) on mouse_behavior/groom or "
        "/hang: nothing to draw for --figure"
    )
  return plots.plot_timelines(
      panels,
      path,
      ncols=len(TWO_STREAM_MODELS),
      suptitle="Regularity s(t); held-out behaviour shaded (cf. paper Figs 3-4)",
  )


def _define_flags() -> None:
  """CLI flags, defined only when run as a script: importing this module defines none (the run
  page, mouseflax.run_page, imports it while it runs as __main__)."""
  flags.DEFINE_list("workdirs", None, "Run folders (or globs), comma-separated.")
  flags.DEFINE_string("output", "", "Markdown file to write the report to ('' = print only).")
  flags.DEFINE_string("figure", "", "PNG for the Figures 3-4 analogue ('' = none).")
  flags.DEFINE_string(
      "html", "", "HTML run page of the runs: AUCs, baselines, figures, config ('' = none)."
  )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  f = flags.FLAGS
  if not f.workdirs:
    raise app.UsageError("--workdirs is required (comma-separated folders or globs)")
  runs = [load_run(w) for w in expand_workdirs(f.workdirs)]
  report = build_table(runs)
  print(report)
  if f.output:
    fileio.write_text_atomic(f.output, report)
  if f.figure:
    plot_paper_figure(runs, f.figure)
  if f.html:
    from mouseflax import run_page  # pylint: disable=g-import-not-at-top  # run_page imports report.

    print(f"run page: {run_page.write_run_page(runs, f.html)}")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
