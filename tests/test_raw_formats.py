"""Tests for mouseflax.raw_formats: Jhuang annotations, recording discovery, Avenue labels."""

import logging
import pathlib

import numpy as np
import pytest
import scipy.io

from mouseflax import raw_formats

GROOM = raw_formats.BEHAVIORS.index("groom")
HANG = raw_formats.BEHAVIORS.index("hang")
MICRO = raw_formats.BEHAVIORS.index("micromovement")
REST = raw_formats.BEHAVIORS.index("rest")


def _write(path: pathlib.Path, text: str) -> pathlib.Path:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text)
  return path


def test_behavior_ids_are_alphabetical_and_aliases_map():
  assert raw_formats.BEHAVIORS == tuple(sorted(raw_formats.BEHAVIORS))
  assert raw_formats.behavior_id("head", "x") == MICRO
  assert raw_formats.behavior_id("GB", "x") == GROOM
  assert raw_formats.behavior_id("rs", "x") == REST
  for alias, name in raw_formats.BEHAVIOR_ALIASES.items():
    assert name in raw_formats.BEHAVIORS, alias


def test_fixed_column_zero_padded(tmp_path):
  path = _write(
      tmp_path / "a.txt",
      "frame : 00000001-00000003 rest\n"
      "frame : 00000004-00000006 groom\n"
      "frame : 00000007-00000008 hang\n",
  )
  labels = raw_formats.parse_jhuang_annotation(path, num_frames=8)
  np.testing.assert_array_equal(labels, [REST] * 3 + [GROOM] * 3 + [HANG] * 2)
  assert labels.dtype == np.int64


def test_free_spacing_exclusive_ends_and_alias(tmp_path):
  # Exclusive ends (end == next start) and an exclusive last end (video length + 1) are accepted.
  path = _write(tmp_path / "b.txt", "x:1-4   head\n\n  x :  4 - 6 Groom \nx: 6-9 ha\n")
  labels = raw_formats.parse_jhuang_annotation(path, num_frames=8)
  np.testing.assert_array_equal(labels, [MICRO] * 3 + [GROOM] * 2 + [HANG] * 3)


def test_gap_is_unlabelled_and_logged_with_line(tmp_path, caplog):
  path = _write(tmp_path / "c.txt", "x: 1-2 rest\nx: 5-6 walk\n")
  with caplog.at_level(logging.WARNING):
    labels = raw_formats.parse_jhuang_annotation(path, num_frames=6)
  np.testing.assert_array_equal(labels[:4], [REST, REST, -1, -1])
  assert f"{path}:2" in caplog.text and "gap" in caplog.text


def test_overlap_logged_and_next_start_wins(tmp_path, caplog):
  path = _write(tmp_path / "d.txt", "x: 1-5 rest\nx: 3-6 walk\n")
  with caplog.at_level(logging.WARNING):
    labels = raw_formats.parse_jhuang_annotation(path, num_frames=6)
  np.testing.assert_array_equal(labels, [REST, REST] + [raw_formats.BEHAVIORS.index("walk")] * 4)
  assert "overlap" in caplog.text and f"{path}:2" in caplog.text


def test_unknown_label_names_file_and_line(tmp_path):
  path = _write(tmp_path / "e.txt", "x: 1-2 rest\nx: 3-4 dance\n")
  with pytest.raises(ValueError, match=r"e\.txt:2: unknown behaviour label 'dance'"):
    raw_formats.parse_jhuang_annotation(path)


def test_run_past_end_raises(tmp_path):
  path = _write(tmp_path / "f.txt", "x: 1-5 rest\nx: 6-20 walk\n")
  with pytest.raises(ValueError, match=r"f\.txt:2: .*past the video's last frame 10"):
    raw_formats.parse_jhuang_annotation(path, num_frames=10)


def test_empty_and_garbled_files_raise(tmp_path):
  with pytest.raises(ValueError, match="empty annotation"):
    raw_formats.parse_jhuang_annotation(_write(tmp_path / "g.txt", "\n  \n"))
  with pytest.raises(ValueError, match=r"h\.txt:1: cannot parse"):
    raw_formats.parse_jhuang_annotation(_write(tmp_path / "h.txt", "hello world\n"))


def test_find_jhuang_recordings(tmp_path):
  for stem in ("b", "a"):
    _write(tmp_path / "cage" / f"{stem}.mpg", "")
    _write(tmp_path / "cage" / raw_formats.JHUANG_ANNOTATION_DIR / f"{stem}.txt", "x: 1-1 rest\n")
  _write(tmp_path / "cage" / "._a.mpg", "")  # macOS resource fork: ignored.
  pairs = raw_formats.find_jhuang_recordings(tmp_path)
  assert [v.name for v, _ in pairs] == ["a.mpg", "b.mpg"]
  assert all(
      a.parent.name == raw_formats.JHUANG_ANNOTATION_DIR and a.stem == v.stem for v, a in pairs
  )
  _write(tmp_path / "cage" / "c.AVI", "")
  with pytest.raises(FileNotFoundError, match=r"c\.txt"):
    raw_formats.find_jhuang_recordings(tmp_path)


def _write_vol_label(path: pathlib.Path, anomalous: list[bool]) -> None:
  cells = np.empty((1, len(anomalous)), dtype=object)
  for t, flag in enumerate(anomalous):
    mask = np.zeros((6, 8), np.uint8)
    mask[2, 3] = flag
    cells[0, t] = mask
  path.parent.mkdir(parents=True, exist_ok=True)
  scipy.io.savemat(path, {"volLabel": cells})


def test_read_avenue_frame_labels(tmp_path):
  path = tmp_path / "1_label.mat"
  _write_vol_label(path, [False, True, True, False, True])
  labels = raw_formats.read_avenue_frame_labels(path, num_frames=5)
  np.testing.assert_array_equal(labels, [0, 1, 1, 0, 1])
  assert labels.dtype == np.int64
  with pytest.raises(ValueError, match="5 label masks but the video has 6 frames"):
    raw_formats.read_avenue_frame_labels(path, num_frames=6)
  scipy.io.savemat(tmp_path / "other.mat", {"gt": np.zeros(3)})
  with pytest.raises(ValueError, match=r"no 'volLabel' variable \(found \['gt'\]\)"):
    raw_formats.read_avenue_frame_labels(tmp_path / "other.mat")


@pytest.mark.parametrize("nested", [False, True])
def test_find_avenue_recordings(tmp_path, nested):
  root = tmp_path / raw_formats.AVENUE_SUBDIR if nested else tmp_path
  for i in (1, 2):
    _write(root / "training_videos" / f"{i:02d}.avi", "")
  for i in (2, 10, 1):
    _write(root / "testing_videos" / f"{i:02d}.avi", "")
    _write_vol_label(root / raw_formats.AVENUE_LABEL_DIR / f"{i}_label.mat", [True])
  train, test = raw_formats.find_avenue_recordings(tmp_path)
  assert [p.name for p in train] == ["01.avi", "02.avi"]
  assert [(v.name, m.name) for v, m in test] == [
      ("01.avi", "1_label.mat"),
      ("02.avi", "2_label.mat"),
      ("10.avi", "10_label.mat"),
  ]
  (root / raw_formats.AVENUE_LABEL_DIR / "10_label.mat").unlink()
  with pytest.raises(FileNotFoundError, match="10_label.mat"):
    raw_formats.find_avenue_recordings(tmp_path)
