"""mouse_behavior builder: the checks of tfds.testing.DatasetBuilderTestCase (which needs
TensorFlow), written against records read back with `tfds.data_source` in a fresh process without
TensorFlow (`data_builders.testing.read_without_tf`).

dummy_data: tiny synthetic recordings in the Jhuang layout, generated per test session by
`mouseflax.synthetic.write_home_cage` (not committed: they are regenerated in < 1 s).
"""

import json
import pathlib

import numpy as np
import pytest

import data_builders
from data_builders import testing
from data_builders.mouse_behavior import mouse_behavior_dataset_builder as mb
from mouseflax import build_data
from mouseflax import preprocess
from mouseflax import raw_formats
from mouseflax import synthetic

SEED = 0
NUM_VIDEOS = 4
# The last training window of each video ends on its last frame (start 240 + 35 = 275): a decoder
# that stops at OpenCV's short count for .mpg files (275) loses one window per video.
FRAMES = 276
WIDTH, HEIGHT = 160, 120
NUM_TRAIN_VIDEOS = 3
HELD_OUT = "hang"
PROTOCOL = {"num_train_videos": NUM_TRAIN_VIDEOS}
SPLITS = ("train", "validation", "test", "train_labelled", "validation_labelled")
# Float16 storage of flow in [0, 1]: spacing at 1 is ~4.9e-4.
FLOW_ATOL = 1e-3


def build(manual_dir: pathlib.Path, data_dir: pathlib.Path):
  return build_data.build(
      "mouse_behavior",
      manual_dir=manual_dir,
      data_dir=data_dir,
      config=mb.make_config(HELD_OUT, **PROTOCOL),
  )


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> pathlib.Path:
  return synthetic.write_home_cage(
      tmp_path_factory.mktemp("raw"),
      seed=SEED,
      num_videos=NUM_VIDEOS,
      frames_per_video=FRAMES,
      width=WIDTH,
      height=HEIGHT,
  )


@pytest.fixture(scope="module")
def built(raw_dir, tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("data")
  builder = build(raw_dir, data_dir)
  arrays, metadata = testing.read_without_tf(
      data_dir, f"mouse_behavior/{builder.builder_config.name}", tmp_path_factory.mktemp("read")
  )
  return builder, arrays, metadata


def labels_of(raw_dir: pathlib.Path, name: str) -> np.ndarray:
  return raw_formats.parse_jhuang_annotation(
      raw_dir / raw_formats.JHUANG_ANNOTATION_DIR / f"{name}.txt"
  )


def test_dtypes_and_shapes(built):
  _, arrays, _ = built
  assert set(arrays) == set(SPLITS)
  for split in arrays.values():
    n = len(split["video"])
    assert split["gray"].dtype == np.uint8 and split["gray"].shape == (n, 8, 24, 32, 1)
    assert split["flow"].dtype == np.float16 and split["flow"].shape == (n, 8, 24, 32, 2)
    for key in ("behavior", "anomaly", "frame_index"):
      assert split[key].dtype == np.int64 and split[key].shape == (n, 8)
    assert 0.0 <= split["flow"].min() and split["flow"].max() <= 1.0


def test_split_sizes_follow_the_protocol(built, raw_dir):
  _, arrays, metadata = built
  names = metadata["video_names"]
  assert names == sorted(p.stem for p in raw_dir.glob("*.mpg"))
  assert metadata["test_video"] not in metadata["train_videos"]
  assert len(metadata["train_videos"]) == NUM_TRAIN_VIDEOS
  hang = raw_formats.BEHAVIORS.index(HELD_OUT)
  starts = np.arange(0, FRAMES - 7 * 5, 8 * 5)  # Windows of 8 frames 5 apart, starts 40 apart.
  kept = dropped = 0
  for name in metadata["train_videos"]:
    windows = labels_of(raw_dir, name)[starts[:, None] + 5 * np.arange(8)]
    has_hang = (windows == hang).any(axis=1)
    kept, dropped = kept + int((~has_hang).sum()), dropped + int(has_hang.sum())
  assert len(arrays["train"]["video"]) + len(arrays["validation"]["video"]) == kept
  assert len(arrays["validation"]["video"]) == round(0.2 * kept)
  assert (
      len(arrays["train_labelled"]["video"]) + len(arrays["validation_labelled"]["video"])
      == kept + dropped
  )
  assert dropped > 0, "fixture has no hang in the training videos: the filter is untested"
  labelled = np.concatenate([arrays[s]["frame_index"] for s in SPLITS[3:]])
  assert labelled.max() == FRAMES - 1  # The last frame of the .mpg files is decoded and used.
  assert len(arrays["test"]["video"]) == -(-FRAMES // 2 // 8)  # ceil: the tail window.


def test_training_windows_are_strided_and_disjoint(built):
  _, arrays, _ = built
  for split in ("train", "validation", "train_labelled", "validation_labelled"):
    frames = arrays[split]["frame_index"]
    assert (np.diff(frames, axis=1) == 5).all()
    assert (frames[:, 0] % 40 == 0).all()  # Starts 40 apart: no overlap.
  train, validation, test = (testing.frame_set(arrays[s]) for s in ("train", "validation", "test"))
  assert not train & validation and not train & test and not validation & test
  assert train <= testing.frame_set(arrays["train_labelled"])
  assert validation <= testing.frame_set(arrays["validation_labelled"])
  assert not testing.frame_set(arrays["train_labelled"]) & testing.frame_set(
      arrays["validation_labelled"]
  )


def test_held_out_frames_only_where_allowed(built):
  _, arrays, _ = built
  hang = raw_formats.BEHAVIORS.index(HELD_OUT)
  for split in ("train", "validation"):
    assert not (arrays[split]["behavior"] == hang).any()
    assert not arrays[split]["anomaly"].any()
  labelled = np.concatenate(
      [arrays["train_labelled"]["behavior"], arrays["validation_labelled"]["behavior"]]
  )
  assert (labelled == hang).any()
  for split in arrays.values():
    np.testing.assert_array_equal(split["anomaly"], (split["behavior"] == hang).astype(np.int64))


def test_labels_match_annotation(built, raw_dir):
  _, arrays, metadata = built
  names = metadata["video_names"]
  for split in arrays.values():
    for video, frames, behavior in zip(split["video"], split["frame_index"], split["behavior"]):
      np.testing.assert_array_equal(behavior, labels_of(raw_dir, names[video])[frames])


def test_every_test_frame_covered_once_per_histogram(built, raw_dir):
  _, arrays, metadata = built
  test = arrays["test"]
  test_id = metadata["video_names"].index(metadata["test_video"])
  assert (test["video"] == test_id).all()
  covered = np.unique(test["frame_index"])
  np.testing.assert_array_equal(covered, np.arange(FRAMES // 2))
  assert (np.diff(test["frame_index"], axis=1) == 1).all()
  # Per-frame histogram (each frame counted once) equals the annotation's over the first half.
  behavior_of = dict(zip(test["frame_index"].ravel().tolist(), test["behavior"].ravel().tolist()))
  expected = np.bincount(labels_of(raw_dir, metadata["test_video"])[: FRAMES // 2], minlength=8)
  np.testing.assert_array_equal(np.bincount(list(behavior_of.values()), minlength=8), expected)


def test_pixels_match_the_preprocessor(built, raw_dir):
  _, arrays, metadata = built
  name = metadata["test_video"]
  cfg = preprocess.PreprocessConfig.from_dict(metadata["preprocess"])
  frames = {
      i: (g, f)
      for i, g, f in preprocess.preprocess_video(raw_dir / f"{name}.mpg", cfg, stop=FRAMES // 2)
  }
  for example in (0, -1):
    for j, index in enumerate(arrays["test"]["frame_index"][example]):
      np.testing.assert_array_equal(arrays["test"]["gray"][example, j], frames[index][0])
      np.testing.assert_allclose(
          arrays["test"]["flow"][example, j], frames[index][1], atol=FLOW_ATOL
      )


def test_metadata_names_protocol_and_preprocess(built):
  builder, _, metadata = built
  assert metadata["protocol"] == json.loads(json.dumps(builder.builder_config.protocol()))
  assert metadata["preprocess"] == preprocess.PreprocessConfig().to_dict()
  assert builder.builder_config.name.startswith(f"{HELD_OUT}-")  # Non-default protocol: hashed.


def test_build_is_deterministic(built, raw_dir, tmp_path):
  builder, _, _ = built
  again = build(raw_dir, tmp_path)
  first = sorted(pathlib.Path(builder.data_dir).glob("*.array_record*"))
  second = sorted(pathlib.Path(again.data_dir).glob("*.array_record*"))
  assert [p.name for p in first] == [p.name for p in second] and first
  for a, b in zip(first, second):
    assert a.read_bytes() == b.read_bytes(), a.name


def test_records_from_an_older_preprocessing_are_refused(built, raw_dir):
  # As if built before the resize default changed, under the same config name and version: TFDS
  # would reuse the folder on its name alone.
  builder, _, _ = built
  metadata_file = pathlib.Path(builder.data_dir) / "metadata.json"
  original = metadata_file.read_text()
  metadata = json.loads(original)
  metadata["protocol"]["preprocess"]["resize_method"] = preprocess.RESIZE_AREA
  metadata_file.write_text(json.dumps(metadata))
  try:
    with pytest.raises(build_data.StaleRecordsError, match="preprocess"):
      build(raw_dir, pathlib.Path(builder.data_dir).parents[2])
  finally:
    metadata_file.write_text(original)


def test_config_names_never_collide():
  assert mb.make_config("hang").name == "hang"
  assert mb.make_config("groom").name == "groom"
  assert mb.make_config("hang", stride=4).name != mb.make_config("hang", stride=3).name
  with pytest.raises(ValueError, match="held_out"):
    mb.make_config("sleep")


def test_missing_manual_files_list_expected_paths(tmp_path):
  with pytest.raises(data_builders.MissingDataError, match="Annotator_group_1"):
    build(tmp_path / "absent", tmp_path / "data")
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(data_builders.MissingDataError, match="Annotator_group_1"):
    build(empty, tmp_path / "data")
  (empty / "video.mpg").write_bytes(b"")  # A video without its annotation.
  with pytest.raises(data_builders.MissingDataError, match=r"Annotator_group_1.video\.txt"):
    build(empty, tmp_path / "data")


def test_interrupted_build_is_not_complete(raw_dir, tmp_path, monkeypatch):
  original = mb.Builder._generate_examples

  def interrupted(self, windows, *args):
    yield from original(self, windows[:1], *args)
    raise KeyboardInterrupt  # As if the user pressed Ctrl-C mid-split.

  monkeypatch.setattr(mb.Builder, "_generate_examples", interrupted)
  with pytest.raises(KeyboardInterrupt):
    build(raw_dir, tmp_path)
  monkeypatch.undo()
  builder = mb.Builder(config=mb.make_config(HELD_OUT, **PROTOCOL), data_dir=str(tmp_path))
  assert not builder.is_prepared()
  assert not list(tmp_path.glob(f"mouse_behavior/*/{mb.Builder.VERSION}/dataset_info.json"))


def _recording(name: str, test_part: list[int], rest: list[int]) -> mb.Recording:
  """A recording whose first half (the default test part) is `test_part`, then `rest`."""
  assert len(test_part) == len(rest)
  return mb.Recording(name, pathlib.Path(f"{name}.mpg"), np.array(test_part + rest, np.int64))


def test_default_test_video_ranks_test_parts_held_out_first(monkeypatch):
  # Frame counts come from the annotations here (no video files): the real rule also probes.
  monkeypatch.setattr(
      mb,
      "test_part_stop",
      lambda recording, config: int(len(recording.labels) * config.test_fraction),
  )
  hang, walk = raw_formats.BEHAVIORS.index("hang"), raw_formats.BEHAVIORS.index("walk")
  others = [b for b in range(len(raw_formats.BEHAVIORS)) if b != hang]  # 7 behaviours.
  recordings = {
      # Every behaviour in the whole video, but hang only after the test part.
      "a_all_but_late_hang": _recording("a_all_but_late_hang", others + [walk] * 3, [hang] * 10),
      # Three behaviours in the test part, hang among them (2 and 5 frames).
      "b_some_hang": _recording("b_some_hang", [hang] * 2 + [0] * 4 + [1] * 4, [walk] * 10),
      "c_more_hang": _recording("c_more_hang", [hang] * 5 + [0] * 3 + [1] * 2, [walk] * 10),
      "d_same_as_c": _recording("d_same_as_c", [hang] * 5 + [0] * 3 + [1] * 2, [walk] * 10),
  }
  assert mb.default_test_video(recordings, mb.make_config("hang")) == "c_more_hang"
  # Walk is in every test part: the most distinct behaviours win.
  assert mb.default_test_video(recordings, mb.make_config("walk")) == "a_all_but_late_hang"
  # No test part holds the held-out behaviour: distinct behaviours, then name.
  del recordings["b_some_hang"], recordings["c_more_hang"], recordings["d_same_as_c"]
  recordings["e_hang_late"] = _recording("e_hang_late", [0] * 10, [hang] * 10)
  assert mb.default_test_video(recordings, mb.make_config("hang")) == "a_all_but_late_hang"
