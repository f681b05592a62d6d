"""Figures of the evaluation: ROC curves and score timelines with the ground truth shaded.

Used by `mouseflax.evaluate` (per-run `roc.png`, `timeline.png`), `mouseflax.score` and
`mouseflax.report` (the analogue of the paper's Figures 3-4). Matplotlib runs headless (Agg) and
every figure is written atomically (`mouseflax.fileio`).
"""

from collections.abc import Mapping, Sequence
import dataclasses
import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # Headless: training machines have no display.
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
from sklearn import metrics as sk_metrics

from mouseflax import fileio

DPI = 120
PANEL_SIZE_INCHES = (6.0, 2.4)  # Width, height of one timeline panel.
ROC_SIZE_INCHES = (5.0, 5.0)
ANOMALY_SHADE = dict(color="tab:red", alpha=0.25, linewidth=0)
LINE_WIDTH = 0.8


@dataclasses.dataclass(frozen=True)
class TimelinePanel:
  """One panel: a per-frame curve over a video, anomalous frames shaded.

  Attributes:
    title: Panel title.
    frame: int [N] frame indices, sorted.
    value: float [N] curve to draw (e.g. the regularity score).
    label: int [N] ground truth, 1 = anomalous frame.
    ylabel: Y axis label.
  """

  title: str
  frame: np.ndarray
  value: np.ndarray
  label: np.ndarray
  ylabel: str = "regularity s(t)"


def save_figure(fig: plt.Figure, path: str | os.PathLike[str]) -> pathlib.Path:
  """Saves `fig` as PNG at `path` atomically, then closes it."""
  try:
    with fileio.atomic_path(path) as tmp:
      fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
  finally:
    plt.close(fig)
  return pathlib.Path(path)


def anomalous_runs(frame: np.ndarray, label: np.ndarray) -> list[tuple[int, int]]:
  """Returns [(first_frame, last_frame)] of each run of consecutive rows with label 1."""
  flags = np.concatenate([[0], (np.asarray(label) > 0).astype(np.int8), [0]])
  edges = np.flatnonzero(np.diff(flags))
  return [(int(frame[a]), int(frame[b - 1])) for a, b in zip(edges[::2], edges[1::2])]


def draw_timeline(ax: plt.Axes, panel: TimelinePanel) -> None:
  """Draws one timeline panel on `ax`: the curve, and each anomalous run as a shaded span."""
  # Half a frame either side so that a single anomalous frame stays visible.
  for first, last in anomalous_runs(panel.frame, panel.label):
    ax.axvspan(first - 0.5, last + 0.5, **ANOMALY_SHADE)
  ax.plot(panel.frame, panel.value, linewidth=LINE_WIDTH, color="tab:blue")
  ax.set_title(panel.title, fontsize="small")
  ax.set_xlabel("frame")
  ax.set_ylabel(panel.ylabel)


def plot_timelines(
    panels: Sequence[TimelinePanel | None],
    path: str | os.PathLike[str],
    *,
    ncols: int = 1,
    suptitle: str = "",
) -> pathlib.Path:
  """Writes a grid of timeline panels (row-major); a `None` panel says "no run" in its place."""
  if not panels:
    raise ValueError(f"no timeline panels to plot into {path}")
  nrows = -(-len(panels) // ncols)
  width, height = PANEL_SIZE_INCHES
  fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
  for ax, panel in zip(axes.flat, panels):
    if panel is None:
      ax.text(0.5, 0.5, "no run", ha="center", va="center", transform=ax.transAxes)
      ax.set_axis_off()
    else:
      draw_timeline(ax, panel)
  for ax in list(axes.flat)[len(panels) :]:
    ax.set_axis_off()
  if suptitle:
    fig.suptitle(suptitle)
  fig.tight_layout()
  return save_figure(fig, path)


def plot_roc(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: str | os.PathLike[str],
    *,
    title: str = "Frame-level ROC",
) -> pathlib.Path:
  """Writes ROC curves, one per name -> (labels, scores); curves with a single class are skipped."""
  fig, ax = plt.subplots(figsize=ROC_SIZE_INCHES)
  for name, (labels, scores) in curves.items():
    if np.unique(labels).size < 2:
      continue
    fpr, tpr, _ = sk_metrics.roc_curve(labels, scores)
    auc = sk_metrics.auc(fpr, tpr)
    ax.plot(fpr, tpr, linewidth=LINE_WIDTH * 2, label=f"{name} (AUC {auc:.3f})")
  ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=LINE_WIDTH, label="chance")
  ax.set_xlabel("false positive rate")
  ax.set_ylabel("true positive rate")
  ax.set_title(title)
  ax.legend(loc="lower right", fontsize="small")
  return save_figure(fig, path)
