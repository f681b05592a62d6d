"""mouseflax.fileio: atomic writes with ordinary permissions, nothing left behind, clear errors."""

import json
import os
import stat

import numpy as np
import pytest

from mouseflax import fileio


def mode(path) -> int:
  return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_land_whole_with_the_permissions_of_a_new_file(tmp_path):
  umask = os.umask(0o022)
  os.umask(umask)
  text = fileio.write_text_atomic(tmp_path / "sub" / "a.csv", "x,y\n1,2\n")
  assert text.read_text() == "x,y\n1,2\n"
  assert mode(text) == fileio.NEW_FILE_MODE & ~umask  # Not mkstemp's 0600.
  data = fileio.write_json_atomic(tmp_path / "b.json", {"b": 1, "a": [1.5]})
  assert data.read_text() == '{\n  "a": [\n    1.5\n  ],\n  "b": 1\n}\n'
  array = fileio.save_npy_atomic(tmp_path / "c.npy", np.arange(3.0))
  np.testing.assert_array_equal(np.load(array), [0.0, 1.0, 2.0])
  assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json", "c.npy", "sub"]


class _Unsaveable:

  def __array__(self, *args, **kwargs):
    raise RuntimeError("cannot convert")


def test_a_failed_write_leaves_neither_a_temporary_nor_a_partial_file(tmp_path):
  target = tmp_path / "v.npy"
  fileio.save_npy_atomic(target, np.zeros(2))
  with pytest.raises(RuntimeError, match="cannot convert"):
    fileio.save_npy_atomic(target, _Unsaveable())
  assert [p.name for p in tmp_path.iterdir()] == ["v.npy"]
  np.testing.assert_array_equal(np.load(target), [0.0, 0.0])  # The old file, untouched.


def test_atomic_path_keeps_the_suffix_for_writers_that_pick_a_format_by_name(tmp_path):
  with fileio.atomic_path(tmp_path / "figure.png") as tmp:
    assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp.name.startswith(".")
    tmp.write_bytes(b"png")
  assert (tmp_path / "figure.png").read_bytes() == b"png"


def test_os_errors_name_the_path_and_the_fix(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  with pytest.raises(fileio.OutputWriteError, match=r"cannot write .*a_file.out\.json"):
    fileio.write_json_atomic(blocker / "out.json", json.loads("{}"))
