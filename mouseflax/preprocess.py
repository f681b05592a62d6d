"""Frame preprocessing of the paper (Nwokedi et al. 2021, section 2.2): gray + dense optical flow.

Order of operations, per decoded grayscale frame (uint8 [height, width]):

1. resize to `resize_hw` (32x32) with `cv2.INTER_AREA` (area averaging: no aliasing when shrinking).
   `resize_method="area_two_pass"` (default) shrinks the axis whose factor is an integer first
   (OpenCV's fast integer-factor path), then the other axis on the much smaller intermediate:
   320x240 -> 32x32 takes ~0.05 ms instead of ~0.13 ms. The intermediate is rounded to uint8, so the
   result differs from one `cv2.resize` call by at most 1 grey level (on ~6-8% of pixels; tested).
   When both factors are integers (640x480) or neither is, one call is made and the result is
   OpenCV's exactly. `resize_method="area"` always makes one call;
2. gamma correction that brightens: out = 255 * (in / 255) ** (1 / gamma), gamma > 1 brightens,
   gamma = 1 is the identity; applied with a 256-entry uint8 lookup table;
3. dense Farneback optical flow (`cv2.calcOpticalFlowFarneback`, every parameter in the config)
   between the previous and the current *processed* (resized, gamma-corrected) 32x32 frames: the
   flow of frame t is the displacement from frame t-1 to frame t, in pixels of the 32x32 frame,
   channel 0 = x (right positive), channel 1 = y (down positive). Frame 0 of a video (or after
   `reset()`) has no predecessor and gets zero motion;
4. centre crop of both streams to `crop_hw` (24x32): the paper computes flow at 32x32, then crops,
   so the flow at the crop border still sees the rows outside it;
5. normalisation (ARCHITECTURE.md): gray stays uint8 (the model inputs divide by
   `streams.GRAY_SCALE`); a flow displacement d (pixels, per channel) becomes a value in [0, 1]
   with 0.5 = "no motion", by `flow_encoding` with the scale s = `flow_scale_px` (`encode_flow`):
   - "clip" (the default so far): d clipped to [-s, s], then (d / s + 1) / 2. Linear, but every
     motion beyond s looks the same: with s = 1 px of the 32x32 frame (10 px/frame at 320x240, 20
     at 640x360) the fastest, most anomalous motion is exactly what saturates;
   - "softsign": (d / (s + |d|) + 1) / 2. Never saturates (2 s -> 0.83, 10 s -> 0.95), same slope
     at d = 0 as "clip" with the same s, odd (-d -> 1 - value, so a flip still negates it),
     strictly increasing, exact inverse d = s u / (1 - |u|), u = 2 value - 1 (`decode_flow`).
   preprocess.json written before this choice existed (key `flow_max_disp`, no `flow_encoding`)
   load as "clip" with that scale, so old runs score exactly as before (`from_dict`).

Horizontal-flip augmentation happens at read time (`hflip`), on the normalised arrays: it mirrors
the width axis and maps the flow's x channel to 1 - x (negates the displacement).

`preprocess_video(path, cfg, start, stop)` decodes frame start - 1 too when start > 0, so a video
processed in pieces (parallel workers) gives exactly the arrays of one pass over the whole video.
With `decode_ahead > 0` it decodes in a background thread (`threads.background`), up to that many
frames ahead (a bounded queue: memory stays constant), while this thread preprocesses; OpenCV
releases the GIL in both, so decode and preprocessing overlap on two cores. The arrays are the same
either way (tested).

Farneback at 32x32: OpenCV stops building the pyramid below 32 pixels (`min_size` in
optflowgf.cpp), so at resize_hw = (32, 32) `farneback_levels` has no effect (levels 1 and 3 give
identical flow) and costs nothing; the other defaults are OpenCV's documented example values, kept
as the paper-like pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
import contextlib
import dataclasses
import pathlib
from typing import Any

import cv2
import numpy as np

from mouseflax import streams
from mouseflax import threads
from mouseflax import video

# Index of the x (horizontal) displacement in the flow's channel axis.
FLOW_X = 0
# flow_encoding values (module docstring, step 5).
FLOW_CLIP = "clip"
FLOW_SOFTSIGN = "softsign"
FLOW_ENCODINGS = (FLOW_CLIP, FLOW_SOFTSIGN)
FLOW_ZERO = streams.FLOW_ZERO  # The encoded value of no motion.
# Keys and values of preprocess.json files written before the flow encoding was selectable: they
# name the scale `flow_max_disp` and describe the "clip" encoding.
LEGACY_KEYS = {"flow_max_disp": "flow_scale_px"}
LEGACY_DEFAULTS = {"flow_encoding": FLOW_CLIP}
# resize_method values (module docstring, step 1).
RESIZE_AREA = "area"
RESIZE_AREA_TWO_PASS = "area_two_pass"
RESIZE_METHODS = (RESIZE_AREA, RESIZE_AREA_TWO_PASS)


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
  """Everything that changes the preprocessed bytes; defaults are the paper's pipeline."""

  # (height, width) of the resized frame, before the crop; flow is computed at this size.
  resize_hw: tuple[int, int] = (32, 32)
  # How the INTER_AREA resize is done (module docstring, step 1): "area_two_pass" is within 1 grey
  # level of "area" (one cv2.resize call) and ~2.7x faster on 320x240 frames.
  resize_method: str = RESIZE_AREA_TWO_PASS
  # (height, width) of the centre crop applied to both streams.
  crop_hw: tuple[int, int] = streams.FRAME_HW
  # out = 255 * (in / 255) ** (1 / gamma); > 1 brightens. The paper gives no value.
  gamma: float = 1.5
  # How a flow displacement becomes a value in [0, 1]: "clip" | "softsign" (module docstring,
  # step 5). "clip" is what every run made so far used.
  flow_encoding: str = FLOW_CLIP
  # The encoding's scale s in pixels at resize_hw: "clip" maps +-s to 0 / 1 and clips beyond;
  # "softsign" maps +-s to 0.25 / 0.75 and never saturates. Measured on the real 640x480 open-field
  # video at 32x32: |d| 99.9th percentile 0.48 px, max 0.62 px; the Jhuang 320x240 videos shrink
  # half as much, so about twice that. 1 px keeps motion over most of [0, 1] (4 px would squeeze
  # all motion into 0.5 +- 0.08).
  flow_scale_px: float = 1.0
  # cv2.calcOpticalFlowFarneback parameters (OpenCV's documented example values).
  farneback_pyr_scale: float = 0.5
  farneback_levels: int = 3
  farneback_winsize: int = 15
  farneback_iterations: int = 3
  farneback_poly_n: int = 5
  farneback_poly_sigma: float = 1.2
  farneback_flags: int = 0

  def __post_init__(self):
    for name in ("resize_hw", "crop_hw"):
      value = tuple(int(v) for v in getattr(self, name))
      if len(value) != 2 or min(value) <= 0:
        raise ValueError(
            f"PreprocessConfig.{name}={value}: need two positive ints (height, width)."
        )
      object.__setattr__(self, name, value)  # Lists from JSON become tuples (hashable, comparable).
    if any(c > r for c, r in zip(self.crop_hw, self.resize_hw)):
      raise ValueError(
          f"PreprocessConfig.crop_hw={self.crop_hw} must fit inside resize_hw={self.resize_hw}."
      )
    if self.resize_method not in RESIZE_METHODS:
      raise ValueError(
          f"PreprocessConfig.resize_method={self.resize_method!r}: choose one of "
          f"{RESIZE_METHODS}."
      )
    if self.gamma <= 0:
      raise ValueError(f"PreprocessConfig.gamma={self.gamma} must be > 0 (> 1 brightens).")
    if self.flow_encoding not in FLOW_ENCODINGS:
      raise ValueError(
          f"PreprocessConfig.flow_encoding={self.flow_encoding!r} (config.data.flow_encoding): "
          f"choose one of {FLOW_ENCODINGS}."
      )
    if not self.flow_scale_px > 0:
      raise ValueError(
          f"PreprocessConfig.flow_scale_px={self.flow_scale_px} (config.data.flow_scale_px) must "
          "be > 0 pixels."
      )

  def to_dict(self) -> dict[str, Any]:
    """JSON-ready dict (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

  @classmethod
  def from_dict(cls, d: Mapping[str, Any]) -> PreprocessConfig:
    """Inverse of `to_dict`; unknown keys raise (a stale preprocess.json must not load silently).

    A dict written before the flow encoding was selectable (`LEGACY_KEYS`, no `flow_encoding`)
    loads as the "clip" encoding it describes, whatever the default is now.
    """
    d = {LEGACY_KEYS.get(key, key): value for key, value in d.items()}
    d = {**LEGACY_DEFAULTS, **d}
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
      raise ValueError(
          f"Unknown PreprocessConfig keys {unknown}; valid keys: {sorted(known)}. "
          "Remove them or regenerate the file with this version of mouseflax."
      )
    return cls(**dict(d))


def gamma_lut(gamma: float) -> np.ndarray:
  """uint8 [256] lookup table of out = 255 * (in / 255) ** (1 / gamma)."""
  levels = np.arange(streams.GRAY_LEVELS, dtype=np.float64) / streams.GRAY_SCALE
  out = np.rint(streams.GRAY_SCALE * levels ** (1.0 / gamma))
  return np.clip(out, 0, streams.GRAY_SCALE).astype(np.uint8)


def crop_slices(resize_hw: tuple[int, int], crop_hw: tuple[int, int]) -> tuple[slice, slice]:
  """(rows, cols) of the centre crop of a resize_hw frame (step 4); also maps errors back to it."""
  top = (resize_hw[0] - crop_hw[0]) // 2
  left = (resize_hw[1] - crop_hw[1]) // 2
  return slice(top, top + crop_hw[0]), slice(left, left + crop_hw[1])


def area_resize_passes(
    src_hw: tuple[int, int], dst_hw: tuple[int, int], method: str = RESIZE_AREA_TWO_PASS
) -> tuple[tuple[int, int], ...]:
  """The cv2 dsizes (width, height) of the INTER_AREA passes taking src_hw to dst_hw.

  Two passes only when shrinking both axes and exactly one factor is an integer: that axis goes
  first (OpenCV's fast integer-factor path), so the slow fractional pass runs on a small
  intermediate.
  """
  (src_h, src_w), (dst_h, dst_w) = src_hw, dst_hw
  final = (dst_w, dst_h)
  if method == RESIZE_AREA or src_h < dst_h or src_w < dst_w:
    return (final,)
  # An axis kept at its size (factor 1) needs no pass of its own.
  integer_rows = src_h % dst_h == 0 and src_h > dst_h
  integer_cols = src_w % dst_w == 0 and src_w > dst_w
  if integer_cols and not integer_rows:
    return ((dst_w, src_h), final)
  if integer_rows and not integer_cols:
    return ((src_w, dst_h), final)
  return (final,)


def area_resize(frame: np.ndarray, passes: tuple[tuple[int, int], ...]) -> np.ndarray:
  """Applies the INTER_AREA passes of `area_resize_passes` to a uint8 frame."""
  for dsize in passes:
    frame = cv2.resize(frame, dsize, interpolation=cv2.INTER_AREA)
  return frame


def encode_flow(displacement: np.ndarray, encoding: str, scale_px: float) -> np.ndarray:
  """Displacement in pixels -> float32 in [0, 1], 0.5 = no motion (module docstring, step 5)."""
  if encoding == FLOW_CLIP:
    out = np.clip(displacement, -scale_px, scale_px).astype(np.float32, copy=False)
    out /= scale_px
  elif encoding == FLOW_SOFTSIGN:
    d = np.asarray(displacement, np.float32)
    out = d / (np.abs(d) + np.float32(scale_px))
  else:
    raise ValueError(f"Unknown flow encoding {encoding!r}; valid: {FLOW_ENCODINGS}.")
  # In place: the same float32 operations as the expression, fewer allocations.
  out += 1.0
  out *= FLOW_ZERO
  return out


def decode_flow(encoded: np.ndarray, encoding: str, scale_px: float) -> np.ndarray:
  """The inverse of `encode_flow`: float32 displacement in pixels.

  Exact for "softsign" on (0, 1); for "clip", exact inside (-scale_px, scale_px), and a clipped
  value gives back +-scale_px.
  """
  u = np.asarray(encoded, np.float32) / np.float32(FLOW_ZERO) - 1.0
  if encoding == FLOW_CLIP:
    return u * np.float32(scale_px)
  if encoding == FLOW_SOFTSIGN:
    return np.float32(scale_px) * u / (1.0 - np.abs(u))
  raise ValueError(f"Unknown flow encoding {encoding!r}; valid: {FLOW_ENCODINGS}.")


def rows_reaching_crop(source_height: int, cfg: PreprocessConfig) -> np.ndarray:
  """bool [source_height]: the rows of a source frame whose pixels reach the centre crop.

  The area resize maps source row r to [r h / H, (r + 1) h / H) of the resized frame (h =
  resize_hw[0], H = source_height); the row reaches the crop when that interval overlaps the rows
  the crop keeps. E.g. a label mask entirely in rows outside it marks nothing the model sees.
  """
  rows, _ = crop_slices(cfg.resize_hw, cfg.crop_hw)
  resized_height = cfg.resize_hw[0]
  r = np.arange(source_height, dtype=np.int64)
  return ((r + 1) * resized_height > rows.start * source_height) & (
      r * resized_height < rows.stop * source_height
  )


class FramePreprocessor:
  """Streaming preprocessor: keeps the previous processed frame for the flow."""

  def __init__(self, cfg: PreprocessConfig):
    self.cfg = cfg
    self._lut = gamma_lut(cfg.gamma)
    self._rows, self._cols = crop_slices(cfg.resize_hw, cfg.crop_hw)
    self._passes: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {}  # Per input shape.
    self._previous: np.ndarray | None = None

  def reset(self) -> None:
    """Forgets the previous frame (call between videos): the next frame gets zero motion."""
    self._previous = None

  def process_frame(self, frame: np.ndarray) -> np.ndarray:
    """Resize + gamma of one uint8 [H, W] frame -> uint8 resize_hw (before crop)."""
    if frame.dtype != np.uint8 or frame.ndim != 2:
      raise ValueError(
          f"FramePreprocessor expects a uint8 [height, width] frame, got "
          f"{frame.dtype} {frame.shape}."
      )
    passes = self._passes.get(frame.shape)
    if passes is None:
      passes = area_resize_passes(frame.shape, self.cfg.resize_hw, self.cfg.resize_method)
      self._passes[frame.shape] = passes
    return cv2.LUT(area_resize(frame, passes), self._lut)

  def flow_between(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Farneback displacement (pixels, float32 [h, w, 2]) between two processed frames."""
    c = self.cfg
    return cv2.calcOpticalFlowFarneback(
        previous,
        current,
        None,
        c.farneback_pyr_scale,
        c.farneback_levels,
        c.farneback_winsize,
        c.farneback_iterations,
        c.farneback_poly_n,
        c.farneback_poly_sigma,
        c.farneback_flags,
    )

  def raw_flow(self, current: np.ndarray) -> np.ndarray:
    """Displacement (pixels) from the previous processed frame to `current`, zero for the first."""
    if self._previous is None:
      return np.zeros((*self.cfg.resize_hw, 2), np.float32)
    return self.flow_between(self._previous, current)

  def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [H, W] frame -> (gray uint8 [h, w, 1], flow float32 [h, w, 2] in [0, 1]), h, w =
    crop."""
    current = self.process_frame(frame)
    displacement = self.raw_flow(current)
    self._previous = current
    gray = current[self._rows, self._cols, None]
    flow = encode_flow(
        displacement[self._rows, self._cols], self.cfg.flow_encoding, self.cfg.flow_scale_px
    )
    return np.ascontiguousarray(gray), flow


def preprocess_video(
    path: str | pathlib.Path,
    cfg: PreprocessConfig,
    start: int = 0,
    stop: int | None = None,
    *,
    decode_ahead: int = 0,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
  """Yields (frame_index, gray, flow) for frames start..stop-1, streaming.

  Frame start - 1 is decoded (not yielded) when start > 0 so that the flow of frame `start` is the
  same as in a pass over the whole video.

  Args:
    path: the video.
    cfg: the preprocessing parameters.
    start: first frame index yielded.
    stop: one past the last frame index; None = to the end.
    decode_ahead: > 0 decodes in a background thread, up to this many frames ahead (faster when a
      core is free; no gain when every core already runs a worker process). Same arrays either way.
  """
  preprocessor = FramePreprocessor(cfg)
  first = max(start - 1, 0)
  if decode_ahead > 0:
    frames = threads.background(lambda: video.iter_gray_frames(path, first, stop), decode_ahead)
  else:
    frames = video.iter_gray_frames(path, first, stop)
  with contextlib.closing(frames):  # Closing early stops (and joins) the decode thread.
    for index, frame in enumerate(frames, start=first):
      gray, flow = preprocessor(frame)
      if index >= start:
        yield index, gray, flow


def hflip(gray, flow):
  """Mirrors [..., W, C] numpy or jax arrays along W; the flow's x channel becomes 1 - x."""
  flipped_flow = flow[..., ::-1, :]
  # sign/offset per channel: x -> 1 - x, y -> y; works for numpy and jax without importing jax.
  sign = np.ones(flow.shape[-1], dtype=flow.dtype)
  offset = np.zeros(flow.shape[-1], dtype=flow.dtype)
  sign[FLOW_X] = -1
  offset[FLOW_X] = 1
  return gray[..., ::-1, :], flipped_flow * sign + offset
