"""The run page of training runs (mouseflax.run_page, `python -m mouseflax.report --html=...`)."""

import html.parser
import json
import pathlib
import subprocess
import sys

from mouseflax import report
from mouseflax import run_page

REPO = pathlib.Path(__file__).resolve().parents[1]


def make_run(workdir: pathlib.Path, **extra) -> pathlib.Path:
  """A workdir as training leaves it (results.json, threshold.json, figures), numbers made up."""
  workdir.mkdir(parents=True)
  results = {
      "auc": 0.9123,
      "auc_macro": None,
      "auc_gray": 0.8,
      "auc_macro_skipped_videos": ["v1"],
      "auc_some_new_variant": 0.7,
      "metrics_notes": {"auc": "headline <pooled>"},
      "dataset": "mouse_behavior/hang:1.2.0",
      "model": "cae",
      "synthetic": True,
      "epochs": 3,
      "final_val_loss": 0.0012345678,
      "config": {"model": {"name": "cae", "width": 8}},
      **extra,
  }
  (workdir / "results.json").write_text(json.dumps(results))
  (workdir / "threshold.json").write_text(json.dumps({"threshold": 0.25, "false_alarm_rate": 0.01}))
  for name in run_page.FIGURES:
    (workdir / name).write_bytes(b"png")
  return workdir


class _Cells(html.parser.HTMLParser):
  """Rows of the page's tables as lists of cell texts; image sources."""

  def __init__(self):
    super().__init__()
    self.rows, self.images, self._row, self._cell = [], [], None, None

  def handle_starttag(self, tag, attrs):
    if tag == "tr":
      self._row = []
    elif tag in ("td", "th") and self._row is not None:
      self._cell = ""
    elif tag == "img":
      self.images.append(dict(attrs)["src"])

  def handle_endtag(self, tag):
    if tag in ("td", "th") and self._cell is not None:
      self._row.append(self._cell.strip())
      self._cell = None
    elif tag == "tr":
      self.rows.append(self._row)
      self._row = None

  def handle_data(self, data):
    if self._cell is not None:
      self._cell += data


def parse(page: str) -> _Cells:
  cells = _Cells()
  cells.feed(page)
  return cells


def test_aucs_baselines_and_paper_side_by_side(tmp_path):
  baselines = {"frame difference": 0.61, "optical flow magnitude": {"auc": 0.7, "auc_gray": None}}
  workdir = make_run(tmp_path / "runs" / "a", baselines=baselines)
  page_path = tmp_path / "pages" / "runs.html"
  run_page.write_run_page([report.load_run(workdir)], page_path)
  cells = parse(page_path.read_text())
  header = next(r for r in cells.rows if r and r[0] == "metric")
  assert header == ["metric", "this run", *baselines, "paper", "definition"]
  rows = {r[0]: r for r in cells.rows if r and r[0].startswith("auc")}
  assert list(rows) == ["auc", "auc_macro", "auc_gray", "auc_some_new_variant"]
  assert rows["auc"] == ["auc", "0.912", "0.610", "0.700", "> 0.9", "headline <pooled>"]
  assert rows["auc_macro"][1:4] == [report.UNDEFINED, report.UNKNOWN, report.UNKNOWN]
  assert rows["auc_gray"][1:4] == ["0.800", report.UNKNOWN, report.UNDEFINED]
  for src in cells.images:  # Figures linked relative to the page, and they resolve.
    assert (page_path.parent / src).resolve().is_file(), src
  assert len(cells.images) == len(run_page.FIGURES)
  page = page_path.read_text()
  assert "SYNTHETIC" in page and "&quot;width&quot;: 8" in page and "0.001235" in page
  assert "http" not in page.replace('name="viewport"', "")  # Nothing from the network.


def test_streams_and_their_warning_are_shown(tmp_path):
  workdir = make_run(
      tmp_path / "run",
      precision={"requested": "auto", "dtype": "float32", "reason": "auto on cpu: why"},
      stream_learning={
          "gray": {"val_loss": 0.001, "mean_frame_loss": 0.004, "learnt": 0.75},
          "flow": {"val_loss": 0.002, "mean_frame_loss": 0.002, "learnt": -0.01},
      },
      learning_warning="the flow stream learnt little <beyond a constant>",
      score_streams=["gray"],
  )
  page = run_page.render([report.load_run(workdir)], tmp_path)
  cells = parse(page)
  values = {r[0]: r[1] for r in cells.rows if len(r) == 2}
  assert values["compute dtype"] == "float32 (auto on cpu: why)"
  assert values["flow stream learnt"] == "-0.01 (validation loss 0.002, mean frame's 0.002)"
  assert values["gray stream learnt"].startswith("0.75")
  assert values["streams scored"] == "gray"
  assert '<p class="warning">the flow stream learnt little &lt;beyond a constant&gt;</p>' in page
  assert 'class="warning"' not in run_page.render(
      [report.load_run(make_run(tmp_path / "b"))], tmp_path
  )


def test_without_baselines_or_figures(tmp_path):
  workdir = make_run(tmp_path / "b")
  for name in run_page.FIGURES:
    (workdir / name).unlink()
  page = run_page.render([report.load_run(workdir)], tmp_path)
  header = next(r for r in parse(page).rows if r and r[0] == "metric")
  assert header == ["metric", "this run", "paper", "definition"]
  assert "No figures" in page


def test_report_cli_writes_the_page(tmp_path):
  workdirs = [make_run(tmp_path / name) for name in ("one", "two")]
  page = tmp_path / "runs.html"
  proc = subprocess.run(
      [
          sys.executable,
          "-m",
          "mouseflax.report",
          f"--workdirs={','.join(map(str, workdirs))}",
          f"--html={page}",
      ],
      cwd=REPO,
      capture_output=True,
      text=True,
      timeout=300,
      check=False,
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert f"run page: {page}" in proc.stdout
  summary = [r for r in parse(page.read_text()).rows if r and r[0] in ("one", "two")]
  assert [r[0] for r in summary] == ["one", "two"] and summary[0][5] == "0.912"
