"""The review page of a scoring run: `O/index.html`, with thumbnails and clips of flagged segments.

`python -m mouseflax.score ... --output_dir=O` writes it after the videos are scored
(`--review_clips=N` clips, default 20; `--noreview` skips it). Files, all relative to O:

- `index.html`: self-contained (inline style and script, no network; opens from the file system).
  A summary (videos, hours scored, segments, flagged share, the threshold and how it was set), then
  one section per video: its timeline (`<stem>_timeline.png`) and a table of its flagged segments
  (start, end, duration, peak score, the stream that drove the peak, a thumbnail strip, a clip),
  sortable by start time and by peak score.
- `thumbs/<stem>_<n>_{first,peak,heat,last}.jpg`: the segment's first, peak and last frames, and the
  peak frame with the model's per-pixel error as a heat overlay (`heat_map`). Lazy-loaded, so a page
  with hundreds of segments opens quickly.
- `clips/<stem>_<n>.webm` (VP8, `mouseflax.clips`): `CLIP_CONTEXT_S` before the segment to
  `CLIP_CONTEXT_S` after it (at most `CLIP_MAX_S`), only for the `top_clips` segments with the
  highest peak score over all videos.

`n` is the segment's row in `<stem>_segments.csv` (1-based, by time). Segments and the threshold are
read through `score.segments` and `score.Threshold`, so a change of the flagging rule shows here.

Heat overlay: the window of T frames that contains the peak (the first of `covering_windows`, as
scored) is decoded and preprocessed again with the run's preprocessing, and the model's squared
error per pixel (mean over a stream's channels) is averaged across streams as the run's named score
weighs them (`named_scores.pixel_scale`: divided by the stream's validation spread for a z-scored
score), so the hot pixels are those that drive the score. Scaled to its maximum, it is upsampled
onto the crop the model sees; the rest of the frame (outside the crop) is darkened. The extra model
calls are one window per segment, after scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
import dataclasses
import pathlib
from typing import Any

from absl import logging
import cv2
import jax
import jax.numpy as jnp
import numpy as np

from mouseflax import clips
from mouseflax import fileio
from mouseflax import named_scores
from mouseflax import preprocess
from mouseflax import score
from mouseflax import streams
from mouseflax import video
from mouseflax import webpage
from mouseflax import windows

INDEX_FILE = "index.html"
THUMBS_DIR = "thumbs"
CLIPS_DIR = "clips"
DEFAULT_TOP_CLIPS = 20
CLIP_CONTEXT_S = 2.0  # Seconds shown before the first and after the last flagged frame.
CLIP_MAX_S = 10.0  # A longer segment's clip shows its beginning.
CLIP_QUEUE_S = 2.0  # Frames waiting for a clip's encoder (in its own thread) before decoding waits.
THUMB_KINDS = ("first", "peak", "heat", "last")
THUMB_WIDTH_PX = 128
CLIP_WIDTH_PX = 224  # Width of a clip in the page (the file is larger: clips.MAX_WIDTH_PX).
JPEG_QUALITY = 85
HEAT_ALPHA = 0.6  # Opacity of the hottest pixel's colour.
HEAT_COLORMAP = cv2.COLORMAP_INFERNO
OUTSIDE_CROP_BRIGHTNESS = 0.5  # The model never sees the frame outside its crop: darkened.
GRAY_LEVELS = 255
SECONDS_PER_HOUR = 3600.0
PAGE_TITLE = "mouseflax review"


@dataclasses.dataclass
class Segment:
  """One flagged segment of a video and the files shown for it (paths relative to the page)."""

  stem: str
  number: int  # 1-based row in <stem>_segments.csv.
  first: int
  last: int  # Inclusive.
  peak: int
  peak_score: float
  fps: float
  stream_terms: dict[str, float]  # Each stream's term of the score rule at the peak frame.
  thumbs: dict[str, str] = dataclasses.field(default_factory=dict)
  clip: str | None = None

  @property
  def start_s(self) -> float:
    return self.first / self.fps

  @property
  def end_s(self) -> float:
    return (self.last + 1) / self.fps  # The end of the last frame, as in <stem>_segments.csv.

  @property
  def duration_s(self) -> float:
    return self.end_s - self.start_s

  @property
  def driver(self) -> str:
    """The stream with the largest term at the peak (the only one for single-stream models)."""
    return max(self.stream_terms, key=self.stream_terms.get)

  @property
  def key(self) -> str:
    return f"{self.stem}_{self.number}"


@dataclasses.dataclass
class VideoSection:
  """What the page shows of one scored video."""

  stem: str
  path: pathlib.Path
  fps: float
  num_frames: int
  num_flagged: int
  timeline: str  # Relative to the page.
  segments: list[Segment]


# --------------------------------------------------------------------------------------------------
# Segments and the streams that drive them.


def stream_terms(
    scores: score.VideoScores,
    frame: int,
    name: str,
    stats: Mapping | None,
    scored: Sequence[str] | None = None,
) -> dict[str, float]:
  """Each scored stream's term of the named score at `frame` (`named_scores.stream_terms`)."""
  columns = {c: v[frame : frame + 1] for c, v in scores.errors.items()}
  terms = named_scores.stream_terms(name, columns, stats, scored)
  return {s: float(v[0]) for s, v in terms.items()}


def find_segments(
    scores: score.VideoScores,
    threshold: score.Threshold,
    stem: str,
    name: str,
    stats: Mapping | None,
    scored: Sequence[str] | None = None,
) -> list[Segment]:
  """The video's events (`score.segments` with the run's event rule), numbered as in
  <stem>_segments.csv; `name`, `stats` and `scored`: the run's named score, its error statistics
  and the streams it combines."""
  found = []
  for number, (first, last) in enumerate(score.segments(scores, threshold), start=1):
    peak = first + int(np.argmax(scores.score[first : last + 1]))
    found.append(
        Segment(
            stem=stem,
            number=number,
            first=first,
            last=last,
            peak=peak,
            peak_score=float(scores.score[peak]),
            fps=scores.fps,
            stream_terms=stream_terms(scores, peak, name, stats, scored),
        )
    )
  return found


def top_segments(segments: Sequence[Segment], count: int) -> set[str]:
  """Keys of the `count` segments with the highest peak score (ties: the earlier one)."""
  ranked = sorted(segments, key=lambda s: (-s.peak_score, s.stem, s.first))
  return {s.key for s in ranked[: max(count, 0)]}


# --------------------------------------------------------------------------------------------------
# The per-pixel error of the peak window.


def make_pixel_errors_fn(run: score.ScoringRun) -> Callable[[np.ndarray, np.ndarray], dict]:
  """Jitted (gray uint8 [B,T,H,W,1], flow [B,T,H,W,2]) -> {stream: float32 [B,T,H,W]}: the squared
  error per pixel, averaged over the stream's channels (its mean over H, W is the frame error)."""

  @jax.jit
  def pixel_errors(params, gray, flow):
    inputs = streams.to_model_inputs({"gray": gray, "flow": flow})
    outputs = run.model.apply({"params": params}, inputs, train=False)
    return {
        s: jnp.mean((outputs[s].astype(jnp.float32) - inputs[s]) ** 2, axis=-1) for s in run.streams
    }

  return lambda gray, flow: jax.tree.map(np.asarray, pixel_errors(run.params, gray, flow))


def peak_window_starts(num_frames: int, frames: Sequence[int]) -> list[int]:
  """For each frame, the first frame of the first scored window (`covering_windows`) holding it."""
  starts = windows.covering_windows(num_frames, length=streams.SEQUENCE_LENGTH)[:, 0]
  return [int(starts[(starts <= f) & (f < starts + streams.SEQUENCE_LENGTH)][0]) for f in frames]


def _preprocessed_windows(
    run: score.ScoringRun, path: pathlib.Path, starts: Mapping[str, int]
) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
  """{key: the T preprocessed (gray, flow) frames of the window at `starts[key]`}, as scored: one
  pass over the video's gray frames (score's decoding), the frame before each window feeding its
  flow (`preprocess.preprocess_video`'s rule)."""
  feeds: dict[int, list[str]] = {}
  for key, start in starts.items():
    for index in range(max(start - 1, 0), start + streams.SEQUENCE_LENGTH):
      feeds.setdefault(index, []).append(key)
  preprocessors = {key: preprocess.FramePreprocessor(run.preprocess) for key in starts}
  windows: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {key: [] for key in starts}
  if not feeds:
    return windows
  frames = video.iter_gray_frames(path, 0, max(feeds) + 1, mode=video.gray_mode(path))
  for index, frame in enumerate(frames):
    for key in feeds.get(index, ()):
      gray, flow = preprocessors[key](frame)
      if index >= starts[key]:
        windows[key].append((gray, flow.astype(streams.FLOW_DTYPE)))
  return windows


def heat_maps(
    run: score.ScoringRun,
    path: pathlib.Path,
    num_frames: int,
    peaks: Mapping[str, int],
    pixel_errors_fn: Callable,
) -> dict[str, np.ndarray]:
  """{key: float [crop_h, crop_w]}: the score rule per pixel at each peak (module docstring)."""
  starts = dict(zip(peaks, peak_window_starts(num_frames, list(peaks.values()))))
  name, stats = score.score_name(run), score.error_stats(run)
  scored = score.score_streams(run) or run.streams
  scale = {s: named_scores.pixel_scale(name, s, stats) for s in scored}
  heats = {}
  for key, window in _preprocessed_windows(run, path, starts).items():
    gray = np.stack([g for g, _ in window])[None]
    flow = np.stack([f for _, f in window])[None]
    errors = pixel_errors_fn(gray, flow)
    offset = peaks[key] - starts[key]
    heats[key] = np.mean([errors[s][0, offset] / scale[s] for s in scored], axis=0)
  return heats


def heat_overlay(
    frame: np.ndarray, heat: np.ndarray, cfg: preprocess.PreprocessConfig
) -> np.ndarray:
  """The BGR `frame` with `heat` (over the model's crop) blended in as colours; the rest dimmed."""
  height, width = frame.shape[:2]
  resize_h, resize_w = cfg.resize_hw
  rows, cols = preprocess.crop_slices(cfg.resize_hw, cfg.crop_hw)
  y0, y1 = (round(r * height / resize_h) for r in (rows.start, rows.stop))
  x0, x1 = (round(c * width / resize_w) for c in (cols.start, cols.stop))
  positive = np.clip(np.asarray(heat, np.float32), 0.0, None)
  peak = float(positive.max())
  level = positive / peak if peak > 0 else positive
  level = np.clip(cv2.resize(level, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR), 0, 1)
  colours = cv2.applyColorMap(np.round(level * GRAY_LEVELS).astype(np.uint8), HEAT_COLORMAP)
  out = (frame.astype(np.float32) * OUTSIDE_CROP_BRIGHTNESS).astype(np.uint8)
  alpha = HEAT_ALPHA * level[..., None]
  region = frame[y0:y1, x0:x1].astype(np.float32)
  out[y0:y1, x0:x1] = np.round(region * (1 - alpha) + colours * alpha).astype(np.uint8)
  return out


# --------------------------------------------------------------------------------------------------
# Thumbnails and clips: one pass over the video's colour frames.


def _color_frames(path: pathlib.Path, needed: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
  """Yields (index, BGR frame) of the frames where `needed` is True; the others are skipped."""
  cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
  if not cap.isOpened():
    raise video.VideoError(f"Cannot reopen {path} to cut thumbnails and clips from it.")
  stop = int(np.flatnonzero(needed)[-1]) + 1 if needed.any() else 0
  try:
    for index in range(stop):  # Demuxes (grab) every frame, decodes (retrieve) the needed ones.
      if not cap.grab():
        return
      if needed[index]:
        ok, frame = cap.retrieve()
        if ok:
          yield index, frame
  finally:
    cap.release()


def _thumbnail(frame: np.ndarray) -> np.ndarray:
  size = thumbnail_size(frame.shape[1], frame.shape[0])
  return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _write_jpeg(path: pathlib.Path, image: np.ndarray) -> None:
  ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
  if not ok:
    raise ValueError(f"OpenCV could not encode the thumbnail {path} as JPEG.")
  fileio.write_bytes_atomic(path, data.tobytes())


def clip_range(segment: Segment, num_frames: int) -> tuple[int, int]:
  """(first, last) frames of the segment's clip: context either side, at most CLIP_MAX_S long."""
  context = round(CLIP_CONTEXT_S * segment.fps)
  first = max(0, segment.first - context)
  last = min(num_frames - 1, segment.last + context, first + round(CLIP_MAX_S * segment.fps) - 1)
  return first, last


class _MediaPass:
  """Writes the thumbnails of `segments` and the clips of those in `clip_keys` in one pass."""

  def __init__(self, output_dir, scores, segments, heats, clip_keys):
    self.output_dir = output_dir
    self.fps = scores.fps
    self.heats = heats  # Segment key -> heat map of its peak frame.
    self.thumb_at: dict[int, list[tuple[Segment, str]]] = {}
    for seg in segments:
      for kind, frame in (("first", seg.first), ("peak", seg.peak), ("last", seg.last)):
        self.thumb_at.setdefault(frame, []).append((seg, kind))
    n = len(scores.score)
    self.clips = {s.key: (s, *clip_range(s, n)) for s in segments if s.key in clip_keys}
    self.needed = np.zeros(n, bool)
    self.needed[list(self.thumb_at)] = True
    for _, first, last in self.clips.values():
      self.needed[first : last + 1] = True
    self.open: dict[str, clips.BackgroundClipWriter] = {}
    self.started: list[clips.BackgroundClipWriter] = []

  def thumbs(self, frame: np.ndarray, index: int, cfg: preprocess.PreprocessConfig) -> None:
    for seg, kind in self.thumb_at.get(index, []):
      images = {kind: frame}
      if kind == "peak":
        images["heat"] = heat_overlay(frame, self.heats[seg.key], cfg)
      for name, image in images.items():
        rel = f"{THUMBS_DIR}/{seg.key}_{name}.jpg"
        _write_jpeg(self.output_dir / rel, _thumbnail(image))
        seg.thumbs[name] = rel

  def clip_frames(self, frame: np.ndarray, index: int) -> None:
    for key, (seg, first, last) in self.clips.items():
      if index == first:
        rel = f"{CLIPS_DIR}/{key}{clips.SUFFIX}"
        size = (frame.shape[1], frame.shape[0])
        queued = max(1, round(CLIP_QUEUE_S * self.fps))
        writer = clips.BackgroundClipWriter(self.output_dir / rel, self.fps, size, queued, True)
        self.open[key] = writer
        self.started.append(writer)
        seg.clip = rel
      if key in self.open:
        self.open[key].write(frame)
      if index == last and key in self.open:
        self.open.pop(key).close()

  def run(self, path: pathlib.Path, cfg: preprocess.PreprocessConfig) -> None:
    try:
      for index, frame in _color_frames(path, self.needed):
        self.thumbs(frame, index, cfg)
        self.clip_frames(frame, index)
    finally:  # A video that ended early keeps the clips written so far.
      for writer in self.open.values():
        writer.close()
      errors = [e for e in (w.join() for w in self.started) if e is not None]
    if errors:
      raise errors[0]


def write_video_media(
    run: score.ScoringRun,
    scores: score.VideoScores,
    segments: Sequence[Segment],
    output_dir: pathlib.Path,
    clip_keys: set[str],
    pixel_errors_fn: Callable,
) -> None:
  """Writes the thumbnails of `segments` (the peak's also with its heat overlay) and clips."""
  peaks = {s.key: s.peak for s in segments}
  heats = heat_maps(run, scores.path, len(scores.score), peaks, pixel_errors_fn)
  _MediaPass(output_dir, scores, segments, heats, clip_keys).run(scores.path, run.preprocess)


# --------------------------------------------------------------------------------------------------
# The page.


def _duration(seconds: float) -> str:
  if seconds >= SECONDS_PER_HOUR:
    return f"{seconds / SECONDS_PER_HOUR:.2f} h"
  return f"{seconds:.1f} s"


def _threshold_items(threshold: score.Threshold) -> list[tuple[str, str]]:
  """Every field of the flagging rule (so a richer rule shows without changes here)."""
  items = []
  for field in dataclasses.fields(threshold):
    value = getattr(threshold, field.name)
    label = "threshold (flag when score >)" if field.name == "value" else field.name
    text = webpage.number(value) if isinstance(value, float) else webpage.esc(value)
    items.append((label.replace("_", " "), webpage.MISSING if value is None else text))
  return items


def _summary(
    sections: Sequence[VideoSection],
    failures: Mapping[str, BaseException],
    threshold: score.Threshold,
    run: score.ScoringRun,
    top_clips: int,
) -> str:
  frames = sum(s.num_frames for s in sections)
  flagged = sum(s.num_flagged for s in sections)
  segments = sum(len(s.segments) for s in sections)
  seconds = sum(s.num_frames / s.fps for s in sections)
  share = (
      f"{flagged / frames:.2%} ({flagged:,} of {frames:,} frames)" if frames else webpage.MISSING
  )
  videos = f"{len(sections)} scored" + (f", {len(failures)} failed" if failures else "")
  items = [
      ("videos", webpage.esc(videos)),
      ("hours scored", f"{seconds / SECONDS_PER_HOUR:.3f} h ({_duration(seconds)})"),
      ("flagged segments", f"{segments:,}"),
      ("flagged share", share),
      *_threshold_items(threshold),
      ("run", webpage.esc(f"{run.workdir} (step {run.step}, streams {', '.join(run.streams)})")),
      ("score", webpage.esc(f"{score.score_name(run)} (config.eval.score)")),
      (
          "clips",
          webpage.esc(f"the {min(top_clips, segments)} segments with the highest peak score"),
      ),
  ]
  return webpage.key_values(items)


def _figure(src: str, caption: str, size: tuple[int, int], alt: str) -> str:
  return (
      f'<figure><img loading="lazy" src="{webpage.esc(src)}" width="{size[0]}" '
      f'height="{size[1]}" alt="{webpage.esc(alt)}"><figcaption>{caption}</figcaption></figure>'
  )


def _clip_cell(seg: Segment, clip_size: tuple[int, int], top_clips: int) -> str:
  if seg.clip is None:
    return f'<span class="note">{webpage.MISSING} (clips: top {top_clips} by peak score)</span>'
  poster = seg.thumbs.get("first", "")
  return (
      f'<video controls muted preload="none" src="{webpage.esc(seg.clip)}" '
      f'poster="{webpage.esc(poster)}" width="{clip_size[0]}" height="{clip_size[1]}"></video>'
  )


def _segment_row(
    seg: Segment, thumb: tuple[int, int], clip_size: tuple[int, int], top_clips: int
) -> str:
  terms = ", ".join(f"{s} {v:.4g}" for s, v in seg.stream_terms.items())
  strip = "".join(
      _figure(seg.thumbs[k], k, thumb, f"{k} frame of segment {seg.number}")
      for k in THUMB_KINDS
      if k in seg.thumbs
  )
  cells = [
      f'<td class="num">{seg.number}</td>',
      f'<td class="num">{seg.start_s:.2f} s<br><span class="note">frame {seg.first}</span></td>',
      f'<td class="num">{seg.end_s:.2f} s<br><span class="note">frame {seg.last}</span></td>',
      f'<td class="num">{seg.duration_s:.2f} s</td>',
      f'<td class="num">{webpage.number(seg.peak_score)}<br>'
      f'<span class="note">at {seg.peak / seg.fps:.2f} s</span></td>',
      f'<td title="terms of the score at the peak: {webpage.esc(terms)}">{seg.driver}</td>',
      f'<td><div class="strip">{strip}</div></td>',
      f"<td>{_clip_cell(seg, clip_size, top_clips)}</td>",
  ]
  return (
      f'<tr class="segment" id="seg-{webpage.esc(seg.key)}" data-start="{seg.start_s:.6f}" '
      f'data-peak="{seg.peak_score!r}">{"".join(cells)}</tr>'
  )


SEGMENT_HEADER = (
    "<th>#</th>",
    '<th class="num" data-sort="start" aria-sort="ascending"><button>start</button></th>',
    '<th class="num">end</th>',
    '<th class="num">duration</th>',
    '<th class="num" data-sort="peak"><button>peak score</button></th>',
    "<th>stream</th>",
    "<th>frames: " + " · ".join(THUMB_KINDS) + "</th>",
    "<th>clip</th>",
)


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
  return THUMB_WIDTH_PX, max(1, round(height * THUMB_WIDTH_PX / width))


def _video_section(section: VideoSection, frame_size: tuple[int, int], top_clips: int) -> str:
  thumb = thumbnail_size(*frame_size)
  clip_size = (CLIP_WIDTH_PX, round(frame_size[1] * CLIP_WIDTH_PX / frame_size[0]))
  seconds = section.num_frames / section.fps
  head = (
      f'<section id="video-{webpage.esc(section.stem)}"><h2>{webpage.esc(section.path.name)}</h2>'
      f'<p class="note">{webpage.esc(section.path)}: {section.num_frames:,} frames, '
      f"{section.fps:g} fps, {_duration(seconds)}; {section.num_flagged:,} frames flagged in "
      f"{len(section.segments)} segments.</p>"
      f'<img class="timeline" loading="lazy" src="{webpage.esc(section.timeline)}" '
      'alt="score timeline">'
  )
  if not section.segments:
    return head + "<p>No flagged segment.</p></section>"
  rows = "".join(_segment_row(s, thumb, clip_size, top_clips) for s in section.segments)
  table = (
      f'<table class="segments" data-video="{webpage.esc(section.stem)}"><thead><tr>'
      f'{"".join(SEGMENT_HEADER)}</tr></thead><tbody>{rows}</tbody></table>'
  )
  return head + table + "</section>"


def _failures(failures: Mapping[str, BaseException]) -> str:
  if not failures:
    return ""
  rows = [(webpage.esc(p), webpage.esc(f"{type(e).__name__}: {e}")) for p, e in failures.items()]
  return "<h2>Not scored</h2>" + webpage.table(("video", "error"), rows)


def render_index(
    sections: Sequence[VideoSection],
    frame_sizes: Mapping[str, tuple[int, int]],
    failures: Mapping[str, BaseException],
    threshold: score.Threshold,
    run: score.ScoringRun,
    top_clips: int,
) -> str:
  """The text of index.html (module docstring); `frame_sizes`: stem -> (width, height)."""
  nav = " · ".join(
      f'<a href="#video-{webpage.esc(s.stem)}">{webpage.esc(s.path.name)}</a> '
      f"({len(s.segments)})"
      for s in sections
  )
  body = (
      f"<h1>Flagged segments</h1>{_summary(sections, failures, threshold, run, top_clips)}"
      f"<p>Videos (segments): {nav}</p>"
      + "".join(_video_section(s, frame_sizes[s.stem], top_clips) for s in sections)
      + _failures(failures)
  )
  return webpage.document(PAGE_TITLE, body, webpage.SORT_SCRIPT)


# --------------------------------------------------------------------------------------------------
# Entry point (called by score.run_cli).


def _clip_keys(segments: Sequence[Segment], top_clips: int) -> set[str]:
  keys = top_segments(segments, top_clips)
  if keys and not clips.encoder_available():
    logging.warning("This OpenCV cannot encode WebM (VP8): the review page has no clips.")
    return set()
  return keys


def write_review(
    run: score.ScoringRun,
    results: Mapping[str, Any],
    threshold: score.Threshold,
    output_dir: str | pathlib.Path,
    *,
    top_clips: int = DEFAULT_TOP_CLIPS,
) -> pathlib.Path:
  """Writes index.html, thumbnails and clips for `score.score_videos`'s results; returns the page.

  `results`: video path -> ScoredVideo (its `scores` and `files`) or the exception that stopped it.
  """
  output_dir = pathlib.Path(output_dir)
  name, stats, scored_streams = (
      score.score_name(run),
      score.error_stats(run),
      score.score_streams(run),
  )
  failures = {p: r for p, r in results.items() if isinstance(r, BaseException)}
  scored = {p: r for p, r in results.items() if p not in failures}
  stems = dict(zip(scored, score.output_stems(list(scored))))
  found = {
      p: find_segments(r.scores, threshold, stems[p], name, stats, scored_streams)
      for p, r in scored.items()
  }
  clip_keys = _clip_keys([s for segs in found.values() for s in segs], top_clips)
  pixel_errors_fn = make_pixel_errors_fn(run)
  sections, sizes = [], {}
  for path, result in scored.items():
    s = result.scores
    info = video.probe(s.path)
    sizes[stems[path]] = (info.width, info.height)
    write_video_media(run, s, found[path], output_dir, clip_keys, pixel_errors_fn)
    sections.append(
        VideoSection(
            stem=stems[path],
            path=s.path,
            fps=s.fps,
            num_frames=len(s.score),
            num_flagged=int(np.sum(s.score > threshold.value)),
            timeline=webpage.relative_url(result.files["timeline"], output_dir),
            segments=found[path],
        )
    )
  page = render_index(sections, sizes, failures, threshold, run, top_clips)
  return fileio.write_text_atomic(output_dir / INDEX_FILE, page)
