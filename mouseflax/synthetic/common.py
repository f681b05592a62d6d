"""Helpers shared by the synthetic generators: seeded streams, smooth noise, atomic files, jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import concurrent.futures
import math
import multiprocessing
import os
import pathlib
import shutil
import uuid

import cv2
import numpy as np
import scipy.signal

# Per-file temporary outputs inside an output dir (renamed when complete).
_PARTIAL_DIR = ".partial"
_PARTIAL_TAG_CHARS = 8  # Hex characters of the random tag that makes a temporary name unique.
_MIN_TAU_FRAMES = 1e-6  # Floor on the noise time constant, frames (tau 0: white noise).
# Camera defaults: lighting flicker and sensor noise.
FLICKER_HZ = 0.4  # Lighting flicker frequency, Hz.
FLICKER_AMPLITUDE, FLICKER_JITTER = 0.03, 0.008  # Flicker and random gain jitter, fraction of 1.
NOISE_SIGMA = 3.0  # Sensor noise standard deviation, grey levels.
_NOISE_BANK_SIZE = 32  # Precomputed noise frames that the camera draws from at random.

# --------------------------------------------------------------------------------------------------
# Small helpers.


MIN_SIZE_PX = 32  # Smallest accepted frame width and height (the models' input is 32x32).
MIN_FPS = 1.0
RHYTHM_DEPTH = 0.4  # Amplitude modulation depth of rhythmic motion (bouts of strokes).


class SyntheticConfigError(ValueError):
  """A size or kind argument out of range; the message names the argument and the fix."""


def rng_for(seed: int, *keys: int) -> np.random.Generator:
  """An independent, reproducible stream per (seed, video ...)."""
  return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def ou_noise(n: int, tau_frames: float, rng: np.random.Generator) -> np.ndarray:
  """Unit-variance Ornstein-Uhlenbeck series: smooth random jitter."""
  a = math.exp(-1.0 / max(tau_frames, _MIN_TAU_FRAMES))
  drive = rng.normal(size=n) * math.sqrt(1.0 - a * a)
  out, _ = scipy.signal.lfilter([1.0], [1.0, -a], drive, zi=[rng.normal() * a])
  return out


def check_size(name: str, value: float, minimum: float) -> None:
  if value < minimum:
    raise SyntheticConfigError(
        f"synthetic size argument {name}={value} is too small: use >= {minimum}."
    )


def partial_path(output_dir: pathlib.Path, final: pathlib.Path) -> pathlib.Path:
  """A temporary path for `final` that keeps its extension (OpenCV picks the container from it)."""
  folder = output_dir / _PARTIAL_DIR
  folder.mkdir(parents=True, exist_ok=True)
  return folder / f"{final.stem}.{uuid.uuid4().hex[:_PARTIAL_TAG_CHARS]}{final.suffix}"


def write_text_atomic(output_dir: pathlib.Path, final: pathlib.Path, text: str) -> None:
  tmp = partial_path(output_dir, final)
  tmp.write_text(text, encoding="utf-8")
  final.parent.mkdir(parents=True, exist_ok=True)
  os.replace(tmp, final)


def write_video_atomic(
    output_dir: pathlib.Path,
    final: pathlib.Path,
    frames: Iterator[np.ndarray],
    fourcc: str,
    fps: float,
    size: tuple[int, int],
) -> int:
  """Encodes BGR frames to a temporary file, then renames it; returns the number of frames."""
  tmp = partial_path(output_dir, final)
  writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), fps, size)
  if not writer.isOpened():
    raise RuntimeError(
        f"OpenCV cannot open a {fourcc} writer for {tmp}: is ffmpeg support built in?"
    )
  count = 0
  try:
    for frame in frames:
      writer.write(frame)
      count += 1
  finally:
    writer.release()
  final.parent.mkdir(parents=True, exist_ok=True)
  os.replace(tmp, final)
  return count


def remove_partial_dir(output_dir: pathlib.Path) -> None:
  shutil.rmtree(output_dir / _PARTIAL_DIR, ignore_errors=True)


def pt(x: float, y: float) -> tuple[int, int]:
  """A pixel position for cv2 drawing calls."""
  return int(round(x)), int(round(y))


class NoisyCamera:
  """Lighting flicker and sensor noise, applied to grey frames in place (fast, saturating)."""

  def __init__(self, shape: tuple[int, ...], fps: float, rng: np.random.Generator) -> None:
    self._plus = np.empty((_NOISE_BANK_SIZE, *shape), np.uint8)
    self._minus = np.empty_like(self._plus)
    for k in range(_NOISE_BANK_SIZE):  # One frame at a time: float noise for all would be large.
      noise = NOISE_SIGMA * rng.standard_normal(shape, dtype=np.float32)
      self._plus[k] = np.clip(noise, 0, 255)
      self._minus[k] = np.clip(-noise, 0, 255)
    self._fps = fps
    self._phase = rng.uniform(0, 2 * math.pi)
    self._rng = rng

  def __call__(self, gray: np.ndarray, t: int) -> np.ndarray:
    gain = (
        1.0
        + FLICKER_AMPLITUDE * math.sin(2 * math.pi * FLICKER_HZ * t / self._fps + self._phase)
        + FLICKER_JITTER * self._rng.normal()
    )
    out = cv2.convertScaleAbs(gray, alpha=gain)
    k = int(self._rng.integers(_NOISE_BANK_SIZE))
    cv2.add(out, self._plus[k], dst=out)
    cv2.subtract(out, self._minus[k], dst=out)
    return out


def run_jobs(fn: Callable[..., None], jobs: list[tuple], num_workers: int) -> None:
  """Runs fn(*job) for every job, in worker processes when num_workers > 1 (one per video)."""
  if num_workers <= 1 or len(jobs) <= 1:
    for job in jobs:
      fn(*job)
    return
  # 'spawn': the parent may hold JAX/XLA threads, which do not survive a fork.
  context = multiprocessing.get_context("spawn")
  with concurrent.futures.ProcessPoolExecutor(
      min(num_workers, len(jobs)), mp_context=context
  ) as ex:
    for future in [ex.submit(fn, *job) for job in jobs]:
      future.result()


def rhythm(n: int, hz: float, fps: float, tau_s: float, rng: np.random.Generator) -> np.ndarray:
  """A sinusoid of slowly varying amplitude (bouts of strokes, chews or licks): the amplitude
  is 1 - RHYTHM_DEPTH + RHYTHM_DEPTH * tanh(smooth noise with time constant tau_s)."""
  t = np.arange(n) / fps
  envelope = 1 - RHYTHM_DEPTH + RHYTHM_DEPTH * np.tanh(ou_noise(n, tau_s * fps, rng))
  return envelope * np.sin(2 * math.pi * hz * t + rng.uniform(0, 2 * math.pi))
