"""Self-contained HTML pages: one file, inline style and script, images and clips as relative paths.

Shared by the review page of a scoring run (`mouseflax.review`) and the run page of a training run
(`mouseflax.run_page`). Pages open from the file system (file://) with no network: no external
style sheet, font, script or library. Tables whose header cells carry `data-sort="<key>"` sort by
the rows' `data-<key>` numbers when the header's button is clicked (`SORT_SCRIPT`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import html
import math
import os
import pathlib

MISSING = "–"  # Shown for a value that does not exist (an undefined metric, no clip).
FLOAT_DIGITS = 4

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.5em; margin: 0 0 .5em; } h2 { font-size: 1.2em; margin: 1.5em 0 .4em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th button { font: inherit; font-weight: bold; border: 0; background: none; cursor: pointer;
  padding: 0; }
th[aria-sort=ascending] button::after { content: " \\25B2"; }
th[aria-sort=descending] button::after { content: " \\25BC"; }
.summary th { background: none; font-weight: normal; color: #555; }
.summary td { font-weight: bold; }
.strip { display: flex; gap: 4px; }
.strip figure { margin: 0; } .strip figcaption { font-size: 11px; color: #666; }
.timeline { max-width: 100%; }
.figures img { max-width: 49%; vertical-align: top; }
.badge { background: #c62828; color: #fff; padding: 1px 6px; border-radius: 3px; }
.warning { border-left: 4px solid #c62828; background: #fdecea; padding: 6px 10px; }
.note { color: #666; font-size: 12px; }
pre { background: #f7f7f7; padding: .8em; overflow: auto; max-height: 40em; }
"""

SORT_SCRIPT = """
function sortRows(button) {
  const th = button.closest('th');
  const table = th.closest('table');
  const key = th.dataset.sort;
  const ascending = th.getAttribute('aria-sort') !== 'ascending';
  const rows = Array.from(table.tBodies[0].rows);
  rows.sort((a, b) => (Number(a.dataset[key]) - Number(b.dataset[key])) * (ascending ? 1 : -1));
  table.tBodies[0].append(...rows);
  table.querySelectorAll('th[data-sort]').forEach((h) => h.removeAttribute('aria-sort'));
  th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
}
document.querySelectorAll('th[data-sort] button').forEach(
    (b) => b.addEventListener('click', () => sortRows(b)));
"""


def esc(value: object) -> str:
  """Text for HTML content or a quoted attribute."""
  return html.escape(str(value), quote=True)


def number(value: float | None, digits: int = FLOAT_DIGITS) -> str:
  """A float with `digits` significant digits; MISSING for None or NaN."""
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return MISSING
  return f"{value:.{digits}g}"


def relative_url(target: str | os.PathLike[str], page_dir: str | os.PathLike[str]) -> str:
  """The relative URL of `target` from a page in `page_dir` (forward slashes, escaped)."""
  rel = os.path.relpath(pathlib.Path(target).resolve(), pathlib.Path(page_dir).resolve())
  return esc(pathlib.PurePath(rel).as_posix())


def table(
    header: Sequence[str], rows: Iterable[Sequence[str]], css_class: str = "", numeric: int = 0
) -> str:
  """A table of already-escaped cells; the last `numeric` columns are right-aligned."""
  first_num = len(header) - numeric
  cls = lambda i: ' class="num"' if i >= first_num else ""
  head = "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(header))
  body = "".join(
      "<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows
  )
  attr = f' class="{css_class}"' if css_class else ""
  return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def key_values(items: Iterable[tuple[str, str]]) -> str:
  """A two-column summary table (label, already-escaped value)."""
  rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in items)
  return f'<table class="summary"><tbody>{rows}</tbody></table>'


def document(title: str, body: str, script: str = "") -> str:
  """A complete HTML5 document with the shared style, `body` (escaped already) and `script`."""
  script_tag = f"<script>{script}</script>" if script else ""
  return (
      '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
      '<meta name="viewport" content="width=device-width, initial-scale=1">'
      f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n"
      f"<body>\n{body}\n{script_tag}\n</body></html>\n"
  )
