"""Fingerprints of the raw files a build read, kept with its records: a changed file is noticed.

Every video builder stores, in its dataset metadata under `METADATA_KEY`, one entry per raw input
file, keyed by its path relative to `manual_dir`: size and modification time (ns) for a video (a
one-hour recording is not read again to be checked), a SHA-256 of the content for an annotation or
label file (an edited label keeps its size). `mouseflax.build_data` compares the stored entries
with the files now in `manual_dir` whenever it reuses records; `changes` says which file was
edited, added or removed. No TFDS import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import datetime
import hashlib
import os
import pathlib
from typing import Any

METADATA_KEY = "raw_inputs"
HASH_CHUNK_BYTES = 2**20
NS_PER_S = 10**9


def _relative(path: pathlib.Path, root: pathlib.Path) -> str:
  return path.relative_to(root).as_posix()


def _sha256(path: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    while chunk := f.read(HASH_CHUNK_BYTES):
      digest.update(chunk)
  return digest.hexdigest()


def fingerprint(
    root: str | os.PathLike,
    videos: Iterable[str | os.PathLike],
    label_files: Iterable[str | os.PathLike] = (),
) -> dict[str, dict[str, Any]]:
  """{relative path: {'size', 'mtime_ns'} for videos, {'sha256'} for label files}, sorted."""
  root = pathlib.Path(root)
  entries = {}
  for video in map(pathlib.Path, videos):
    stat = video.stat()
    entries[_relative(video, root)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
  for label in map(pathlib.Path, label_files):
    entries[_relative(label, root)] = {"sha256": _sha256(label)}
  return dict(sorted(entries.items()))


def _when(mtime_ns: int) -> str:
  return datetime.datetime.fromtimestamp(mtime_ns / NS_PER_S).isoformat(timespec="seconds")


def _describe(name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
  if "sha256" in before or "sha256" in after:
    return f"{name} edited (its content differs)"
  parts = []
  if before.get("size") != after.get("size"):
    parts.append(f"size {before.get('size')} -> {after.get('size')} bytes")
  if before.get("mtime_ns") != after.get("mtime_ns"):
    parts.append(
        f"modified {_when(after['mtime_ns'])}, built from the one of {_when(before['mtime_ns'])}"
    )
  return f"{name} changed ({', '.join(parts)})"


def changes(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
  """One line per raw file edited, added or removed between `stored` and `current` fingerprints."""
  lines = [
      _describe(name, stored[name], current[name])
      for name in sorted(set(stored) & set(current))
      if stored[name] != current[name]
  ]
  lines += [f"{name} added" for name in sorted(set(current) - set(stored))]
  lines += [f"{name} removed" for name in sorted(set(stored) - set(current))]
  return lines
