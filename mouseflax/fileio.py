"""Files that are never seen half-written: write a temporary sibling, then rename it into place.

Every output of mouseflax (CSVs, JSON, plots, videos, arrays) goes through `atomic_path` or one of
the `write_*_atomic` helpers below, so a killed job leaves either the old file or the new one, never
a truncated one. Outputs get the ordinary permissions of a new file (0666 less the umask), not the
0600 of `tempfile.mkstemp`. An OS error names the path and what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import errno
import json
import os
import pathlib
import tempfile
from typing import Any

import numpy as np

TMP_INFIX = ".tmp"  # Temporary siblings are named .<name>.<random>.tmp<suffix>.
NEW_FILE_MODE = 0o666  # What open() asks for; the umask then removes bits.
JSON_INDENT = 2


class OutputWriteError(OSError):
  """An output could not be written; the message names the path and the fix."""


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


_UMASK = _umask()  # Read once: os.umask can only be read by setting it, which races with threads.

_ADVICE = {
    errno.ENOSPC: "no space left on the device: free some space or choose another folder",
    errno.EDQUOT: "disk quota exceeded: free some space or choose another folder",
    errno.EACCES: "permission denied: choose a folder you can write to",
    errno.EPERM: "operation not permitted: choose a folder you can write to",
    errno.EROFS: "read-only file system: choose a folder you can write to",
}


def explain(error: OSError, path: str | os.PathLike[str]) -> OutputWriteError:
  """An OutputWriteError naming `path` and the fix for `error` (disk full, permissions, ...)."""
  advice = _ADVICE.get(error.errno, error.strerror or str(error))
  return OutputWriteError(error.errno, f"cannot write {path}: {advice}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[pathlib.Path]:
  """Yields a temporary path beside `path` (same suffix); renames it onto `path` on success.

  The caller writes the temporary file (by name: OpenCV and matplotlib pick the format from the
  suffix). If the block raises, the temporary file is removed and nothing appears at `path`.
  """
  path = pathlib.Path(path)
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=f"{TMP_INFIX}{path.suffix}"
    )
    os.close(fd)
  except OSError as e:
    raise explain(e, path) from e
  tmp = pathlib.Path(tmp)
  try:
    yield tmp
    os.chmod(tmp, NEW_FILE_MODE & ~_UMASK)
    os.replace(tmp, path)
  except OSError as e:
    tmp.unlink(missing_ok=True)
    raise explain(e, path) from e
  except BaseException:
    tmp.unlink(missing_ok=True)
    raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> pathlib.Path:
  """Writes `data` to `path` atomically; returns the path."""
  with atomic_path(path) as tmp:
    tmp.write_bytes(data)
  return pathlib.Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> pathlib.Path:
  """Writes `text` (UTF-8, newlines as given) to `path` atomically; returns the path."""
  return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], content: Any) -> pathlib.Path:
  """Writes `content` as indented JSON with sorted keys (non-JSON values as text) atomically."""
  text = json.dumps(content, indent=JSON_INDENT, sort_keys=True, default=str) + "\n"
  return write_text_atomic(path, text)


def save_npy_atomic(path: str | os.PathLike[str], array: np.ndarray) -> pathlib.Path:
  """`np.save` to `path` atomically; returns the path."""
  with atomic_path(path) as tmp, open(tmp, "wb") as f:
    np.save(f, array)
  return pathlib.Path(path)
