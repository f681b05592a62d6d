"""The review page of a scoring run (mouseflax.review), in a real browser when Chromium is present.

A tiny CAE trained on a synthetic cage (`trained_scene` in conftest.py) scores a clip with an
injected flashing square through the score CLI's code path; the page, its thumbnails, heat overlays
and clips are checked on disk, and headless Chromium loads the page: every segment has a row,
its thumbnails decode, its clip plays, sorting works, and nothing reaches the console.
"""

import csv
import dataclasses
import html
import json
import pathlib
import re
import shutil
import subprocess
import tempfile

import cv2
import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np
import pytest

from mouseflax import clips
from mouseflax import preprocess
from mouseflax import review
from mouseflax import score

TOP_CLIPS = 2
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)
BROWSER_BUDGET_MS = 20000  # Virtual time for the page's scripts (media loads are real work).
BROWSER_TIMEOUT_S = 120
SCREENSHOT_SIZE = (1280, 1200)  # Width, height.
# Share of the checked segments whose hottest heat-map pixel must lie on the square.
MIN_HEAT_HIT_SHARE = 0.75
SQUARE_PX = 16  # The flashing square of fakes.write_scene.
HEAT_TOLERANCE_PX = 4  # Two pixels of the 32x32 model frame, upsampled to the 64x48 clip.

# Injected at the top of a copy of the page: records errors (scripts, failed images and clips),
# loads every thumbnail and clip before the load event (images and media delay it until they have
# data), then writes what the DOM says of every segment row, and the sort orders, into an attribute.
CHECK_SCRIPT = """<script>
window.pageErrors = [];
window.addEventListener('error', (e) => window.pageErrors.push(
    e.message || ('failed to load ' + (e.target && (e.target.currentSrc || e.target.src)))), true);
window.addEventListener('unhandledrejection', (e) => window.pageErrors.push(String(e.reason)));
let lazy = [];
document.addEventListener('DOMContentLoaded', () => {
  lazy = Array.from(document.querySelectorAll('tr.segment'),
      (row) => Array.from(row.querySelectorAll('img'), (img) => img.loading));
  document.querySelectorAll('img').forEach((img) => { img.loading = 'eager'; });
  document.querySelectorAll('video').forEach((video) => { video.preload = 'auto'; video.load(); });
});
const order = (table) => Array.from(table.tBodies[0].rows, (r) => r.id);
window.addEventListener('load', () => {
  const rows = Array.from(document.querySelectorAll('tr.segment'), (row, i) => {
    const video = row.querySelector('video');
    return {id: row.id, lazy: lazy[i],
            thumbs: Array.from(row.querySelectorAll('img'), (img) => img.naturalWidth),
            clip: video && {ready: video.readyState, duration: video.duration,
                            width: video.videoWidth, error: video.error && video.error.code}};
  });
  const table = document.querySelector('table.segments');
  table.querySelector('th[data-sort=peak] button').click();
  const byPeak = order(table);
  table.querySelector('th[data-sort=peak] button').click();
  const byPeakDescending = order(table);
  table.querySelector('th[data-sort=start] button').click();
  document.body.setAttribute('data-check', JSON.stringify({rows, byPeak, byPeakDescending,
      byStart: order(table), errors: window.pageErrors}));
});
</script>"""


@pytest.fixture(scope="module")
def scored(trained_scene, tmp_path_factory):
  """The score CLI's work on the anomalous clip, review page included; (output dir, run)."""
  out = tmp_path_factory.mktemp("review") / "out"
  status = score.run_cli(
      str(trained_scene.workdir),
      [str(trained_scene.clip)],
      str(out),
      progress=False,
      review_clips=TOP_CLIPS,
  )
  assert status == 0
  return out, score.load_run(trained_scene.workdir)


def read_segments(out: pathlib.Path) -> list[dict[str, str]]:
  with (out / "clip_segments.csv").open(newline="") as f:
    return list(csv.DictReader(f))


def test_every_segment_has_thumbnails_and_the_top_ones_a_clip(scored):
  out, _ = scored
  segments = read_segments(out)
  assert len(segments) >= TOP_CLIPS + 1  # The flashing square gives several segments.
  page = (out / review.INDEX_FILE).read_text()
  for n in range(1, len(segments) + 1):
    assert f'id="seg-clip_{n}"' in page
    for kind in review.THUMB_KINDS:
      image = cv2.imread(str(out / review.THUMBS_DIR / f"clip_{n}_{kind}.jpg"))
      assert image is not None and image.shape[1] == review.THUMB_WIDTH_PX
  peaks = np.array([float(s["peak_score"]) for s in segments])
  expected = {f"clip_{n + 1}" for n in np.argsort(-peaks)[:TOP_CLIPS]}
  written = {p.stem for p in (out / review.CLIPS_DIR).glob(f"*{clips.SUFFIX}")}
  assert written == expected
  assert page.count("<video") == TOP_CLIPS
  assert not list(out.rglob("*.tmp*"))  # Everything written atomically.


def test_a_run_scoring_its_gray_stream_only_names_only_gray(scored, trained_scene):
  _, run = scored
  gray_run = dataclasses.replace(
      run, stored_threshold={**run.stored_threshold, "score_streams": ["gray"]}
  )
  scores = score.score_video(gray_run, trained_scene.clip, progress=False)
  name, stats = score.score_name(gray_run), score.error_stats(gray_run)
  threshold = dataclasses.replace(
      score.resolve_threshold(gray_run), value=float(np.quantile(scores.score, 0.9))
  )
  found = review.find_segments(scores, threshold, "clip", name, stats, ["gray"])
  assert found and all(list(seg.stream_terms) == ["gray"] for seg in found)
  for seg in found:
    assert seg.stream_terms["gray"] == pytest.approx(scores.score[seg.peak])


def square_box(frame: int, clip) -> tuple[int, int] | None:
  """Top-left corner of the flashing square in `frame` of the anomalous clip, None if not shown."""
  t = frame + clip.phase
  shown = clip.anomaly[0] <= frame < clip.anomaly[1] and t % 4 < 2
  width, height = fakes.SCENE_SIZE
  return ((7 * t) % (width - SQUARE_PX), (5 * t) % (height - SQUARE_PX)) if shown else None


def test_heat_map_points_at_the_anomaly(scored, trained_scene):
  """Where the peak frame (or the frame before, whose motion it carries) shows the square, the
  hottest pixel of the heat map lies on the square, for most such segments (a tiny model trained
  for seconds also errs where the 'mouse' moves)."""
  _, run = scored
  clip = trained_scene.clip
  scores = score.score_video(run, clip, progress=False)
  found = review.find_segments(
      scores, score.resolve_threshold(run), "clip", score.score_name(run), score.error_stats(run)
  )
  errors_fn = review.make_pixel_errors_fn(run)
  rows, cols = preprocess.crop_slices(run.preprocess.resize_hw, run.preprocess.crop_hw)
  (resize_h, resize_w), (width, height) = run.preprocess.resize_hw, fakes.SCENE_SIZE
  checked, on_square = 0, []
  for seg in found:
    boxes = [
        b
        for b in (square_box(seg.peak, trained_scene), square_box(seg.peak - 1, trained_scene))
        if b is not None
    ]
    if not boxes:
      continue
    heat = review.heat_maps(run, clip, len(scores.score), {"peak": seg.peak}, errors_fn)["peak"]
    r, c = np.unravel_index(np.argmax(heat), heat.shape)
    y, x = (r + rows.start + 0.5) * height / resize_h, (c + cols.start + 0.5) * width / resize_w
    hit = any(
        x0 - HEAT_TOLERANCE_PX <= x <= x0 + SQUARE_PX + HEAT_TOLERANCE_PX
        and y0 - HEAT_TOLERANCE_PX <= y <= y0 + SQUARE_PX + HEAT_TOLERANCE_PX
        for x0, y0 in boxes
    )
    on_square.append((hit, seg.first, (round(x), round(y)), boxes))
    checked += 1
  assert checked >= 3
  assert sum(hit for hit, *_ in on_square) >= MIN_HEAT_HIT_SHARE * checked, on_square


def test_heat_overlay_colours_the_crop_and_dims_the_rest():
  cfg = preprocess.PreprocessConfig()
  frame = np.full((48, 64, 3), 200, np.uint8)
  heat = np.zeros(cfg.crop_hw)
  heat[0, 0] = 1.0  # Hot in the crop's top-left corner.
  out = review.heat_overlay(frame, heat, cfg)
  assert np.all(out[:5] == 100)  # Rows 0-5 of 48 are above the crop (rows 4-28 of 32): dimmed.
  assert np.any(out[7, 0] != 200) and np.all(out[30, 60] == 200)  # Hot corner coloured; cold kept.


def test_a_large_run_stays_light(scored):
  """Hundreds of segments: every thumbnail lazy, clips only for the top N, one row per segment."""
  _, run = scored
  rng = np.random.default_rng(0)
  segments = [
      review.Segment("big", n + 1, 10 * n, 10 * n + 3, 10 * n + 1, float(p), 25.0, {"gray": 1.0})
      for n, p in enumerate(rng.random(400))
  ]
  top = review.top_segments(segments, review.DEFAULT_TOP_CLIPS)
  for seg in segments:
    seg.thumbs = {k: f"{review.THUMBS_DIR}/{seg.key}_{k}.jpg" for k in review.THUMB_KINDS}
    seg.clip = f"{review.CLIPS_DIR}/{seg.key}.webm" if seg.key in top else None
  section = review.VideoSection("big", pathlib.Path("big.mp4"), 25.0, 4000, 1600, "t.png", segments)
  threshold = score.Threshold(0.5, 0.01, "test")
  page = review.render_index([section], {"big": (64, 48)}, {}, threshold, run, len(top))
  assert page.count('class="segment"') == 400
  assert page.count("<img ") == page.count('loading="lazy"') == 4 * 400 + 1  # + timeline.
  assert page.count("<video") == review.DEFAULT_TOP_CLIPS
  best = max(segments, key=lambda s: s.peak_score)
  assert f"{review.CLIPS_DIR}/{best.key}.webm" in page


# --------------------------------------------------------------------------------------------------
# In a real browser.


@pytest.fixture(scope="module")
def chromium() -> str:
  for name in CHROMIUM_NAMES:
    if path := shutil.which(name):
      return path
  pytest.skip("no Chromium here: install the Debian package `chromium` to run the browser tests")


def run_chromium(chromium: str, *args: str) -> subprocess.CompletedProcess:
  with tempfile.TemporaryDirectory(prefix="mouseflax-chromium-") as profile:
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_S,
        check=False,
    )


def console_lines(stderr: str) -> list[str]:
  """What the page wrote to the console (messages, uncaught errors), from Chromium's log."""
  return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_page_in_a_browser(scored, chromium):
  out, _ = scored
  page = (out / review.INDEX_FILE).read_text()
  checked = out / ".check_index.html"  # Beside the page, so its relative links resolve.
  checked.write_text(page.replace("<head>", "<head>" + CHECK_SCRIPT, 1))
  result = run_chromium(
      chromium, f"--virtual-time-budget={BROWSER_BUDGET_MS}", "--dump-dom", checked.as_uri()
  )
  checked.unlink()
  assert not console_lines(result.stderr), console_lines(result.stderr)
  found = re.search(r'data-check="([^"]*)"', result.stdout)
  assert (
      found
  ), f"the page's checks did not finish:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
  check = json.loads(html.unescape(found.group(1)))
  assert check["errors"] == []
  segments = read_segments(out)
  rows = {r["id"]: r for r in check["rows"]}
  assert set(rows) == {f"seg-clip_{n}" for n in range(1, len(segments) + 1)}
  for row in rows.values():
    assert row["lazy"] == ["lazy"] * len(review.THUMB_KINDS)
    assert all(width == review.THUMB_WIDTH_PX for width in row["thumbs"]), row
  played = [r["clip"] for r in rows.values() if r["clip"] is not None]
  assert len(played) == TOP_CLIPS
  for clip in played:
    assert clip.get("ready", 0) >= 2 and clip["duration"] > 0 and clip["width"] > 0, clip
  peaks = {f"seg-clip_{n}": float(s["peak_score"]) for n, s in enumerate(segments, start=1)}
  assert check["byPeak"] == sorted(peaks, key=peaks.get)
  assert check["byPeakDescending"] == sorted(peaks, key=peaks.get, reverse=True)
  assert check["byStart"] == [f"seg-clip_{n}" for n in range(1, len(segments) + 1)]


def test_screenshot(scored, chromium):
  out, _ = scored
  shot = out / "screenshot.png"
  result = run_chromium(
      chromium,
      f"--window-size={SCREENSHOT_SIZE[0]},{SCREENSHOT_SIZE[1]}",
      f"--virtual-time-budget={BROWSER_BUDGET_MS}",
      f"--screenshot={shot}",
      (out / review.INDEX_FILE).as_uri(),
  )
  assert not console_lines(result.stderr), console_lines(result.stderr)
  image = cv2.imread(str(shot))
  assert image is not None, result.stderr[-2000:]
  assert image.shape[:2] == (SCREENSHOT_SIZE[1], SCREENSHOT_SIZE[0])
  assert image.std() > 10  # Not a blank page: text, timeline and thumbnails are drawn.
