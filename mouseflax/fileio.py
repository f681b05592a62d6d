"""Files that are never seen half-written: write a temporary sibling, then rename it into place.

Every output of mouseflax (CSVs, JSON, plots, videos, arrays) goes through `atomic_path` or one of
the `write_*_atomic` helpers below, so a killed job leaves either the old file or the new one, never
a truncated one. Outputs get the ordinary permissions of a new file (0666 less the umask), not the
0600 of `tempfile.mkstemp`. An OS error names the path and what to do about it.

Temporary folders that outlive a killed process (a build's preprocessing cache) carry their owner in
their name (`process_tag()`: `<host>-<pid>`), so a later run can tell a leftover (`owner_is_gone`)
from a folder a live process still writes.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import errno
import json
import os
import pathlib
import socket
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
    errno.ENOTDIR: "a file is in the way of that folder: choose another path",
}


def has_advice(error: OSError) -> bool:
  """Whether `explain` knows what to advise for `error` (disk full, permissions, ...)."""
  return error.errno in _ADVICE


def explain(error: OSError, path: str | os.PathLike[str]) -> OutputWriteError:
  """An OutputWriteError naming `path` and the fix for `error` (disk full, permissions, ...)."""
  advice = _ADVICE.get(error.errno, error.strerror or str(error))
  return OutputWriteError(error.errno, f"cannot write {path}: {advice}")


def check_can_create(path: str | os.PathLike[str]) -> pathlib.Path:
  """Raises OutputWriteError unless `path` exists as a writable folder or could be created as one.

  Checks without creating anything (the nearest existing ancestor must be a writable folder), so a
  run can refuse an unwritable output folder before hours of work, and still leave nothing behind
  when it stops for another reason.
  """
  path = pathlib.Path(path).expanduser().absolute()
  existing = next(p for p in (path, *path.parents) if p.exists())
  if not existing.is_dir():
    raise explain(OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)), existing)
  if not os.access(existing, os.W_OK | os.X_OK):
    code = errno.EROFS if _read_only_mount(existing) else errno.EACCES
    raise explain(OSError(code, os.strerror(code)), path)
  return path


def _read_only_mount(path: pathlib.Path) -> bool:
  return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def process_tag() -> str:
  """`<host>-<pid>` of this process, for the names of temporary files and folders it owns."""
  return f"{socket.gethostname()}-{os.getpid()}"


def owner_is_gone(tag: str) -> bool:
  """Whether the process named by `tag` (`process_tag()`'s form) has ended.

  False when that cannot be known from here: another host's process, or a tag of another form.
  """
  host, _, pid = tag.rpartition("-")
  if host != socket.gethostname() or not pid.isdigit():
    return False
  try:
    os.kill(int(pid), 0)
  except ProcessLookupError:
    return True
  except PermissionError:  # Alive, owned by another user.
    return False
  return False


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
