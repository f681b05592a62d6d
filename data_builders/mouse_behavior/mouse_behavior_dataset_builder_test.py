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
from mouseflax import video
from mouseflax import windows
from mouseflax.synthetic import home_cage

SEED = 0
NUM_VIDEOS = 4
# The validation block of each training video ends on its last frame (275): a decoder that stops at
# OpenCV's short count for .mpg files (275) loses it.
FRAMES = 276
TEST_FRAMES = home_cage.test_recording_frames(FRAMES, None)  # The first, longer recording.
WIDTH, HEIGHT = 160, 120
NUM_TRAIN_VIDEOS = 3
HELD_OUT = "hang"
PROTOCOL = {"num_train_videos": NUM_TRAIN_VIDEOS}
SPLITS = ("train", "validation", "test", "train_labelled", "validation_labelled")
# Float16 storage of flow in [0, 1]: spacing at 1 is ~4.9e-4.
FLOW_ATOL = 1e-3
STRIDE, LENGTH = 5, 8
SPAN = (LENGTH - 1) * STRIDE + 1  # Frames of one training window, first to last.
VALIDATION_START = FRAMES - round(0.2 * FRAMES)  # 221: the last 20% of each training video.


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
  # The synthetic test recording (the first) is the longest; training: the next ones.
  assert metadata["test_video"] == names[0]
  assert metadata["train_videos"] == names[1 : 1 + NUM_TRAIN_VIDEOS]
  hang = raw_formats.BEHAVIORS.index(HELD_OUT)
  train_starts = np.arange(0, VALIDATION_START - SPAN - SPAN + 1, LENGTH * STRIDE)
  validation_starts = VALIDATION_START + np.append(
      np.arange(0, FRAMES - VALIDATION_START - LENGTH + 1, LENGTH),
      FRAMES - VALIDATION_START - LENGTH,
  )
  counts = dict.fromkeys(SPLITS, 0)
  for name in metadata["train_videos"]:
    labels = labels_of(raw_dir, name)
    for split, starts, step in (
        ("train", train_starts, STRIDE),
        ("validation", validation_starts, 1),
    ):
      has_hang = (labels[starts[:, None] + step * np.arange(LENGTH)] == hang).any(axis=1)
      counts[split] += int((~has_hang).sum())
      counts[f"{split}_labelled"] += len(starts)
  for split in ("train", "validation", "train_labelled", "validation_labelled"):
    assert len(arrays[split]["video"]) == counts[split], split
  assert counts["train"] < counts["train_labelled"], "no hang in training: the filter is untested"
  labelled = np.concatenate([arrays[s]["frame_index"] for s in SPLITS[3:]])
  assert labelled.max() == FRAMES - 1  # The last frame of the .mpg files is decoded and used.
  assert len(arrays["test"]["video"]) == -(-TEST_FRAMES // 2 // 8)  # ceil: the tail window.


def test_validation_is_held_out_by_time_away_from_training(built):
  _, arrays, metadata = built
  for video_id in {int(v) for v in arrays["train_labelled"]["video"]}:
    train = arrays["train_labelled"]["frame_index"][arrays["train_labelled"]["video"] == video_id]
    rows = arrays["validation_labelled"]["video"] == video_id
    validation = arrays["validation_labelled"]["frame_index"][rows]
    # Training and validation never overlap nor touch: a whole window span between them.
    assert validation.min() - train.max() - 1 >= SPAN
    # Validation windows are consecutive frames covering the block, as the test split's.
    assert (np.diff(validation, axis=1) == 1).all()
    np.testing.assert_array_equal(np.unique(validation), np.arange(VALIDATION_START, FRAMES))
    np.testing.assert_array_equal(
        np.sort(validation[:, 0]),
        VALIDATION_START + windows.covering_windows(FRAMES - VALIDATION_START, length=LENGTH)[:, 0],
    )
  assert metadata["test_video"] not in {
      metadata["video_names"][v] for v in arrays["validation_labelled"]["video"]
  }


def test_training_windows_are_strided_and_disjoint(built):
  _, arrays, _ = built
  for split in ("train", "train_labelled"):
    frames = arrays[split]["frame_index"]
    assert (np.diff(frames, axis=1) == STRIDE).all()
    assert (frames[:, 0] % (LENGTH * STRIDE) == 0).all()  # Starts 40 apart: no overlap.
  train, validation, test = (testing.frame_set(arrays[s]) for s in ("train", "validation", "test"))
  assert not train & validation and not train & test and not validation & test
  assert train <= testing.frame_set(arrays["train_labelled"])
  assert validation <= testing.frame_set(arrays["validation_labelled"])
  assert not testing.frame_set(arrays["train_labelled"]) & testing.frame_set(
      arrays["validation_labelled"]
  )


def test_video_choice_is_the_same_for_every_held_out_behaviour(built, raw_dir, tmp_path):
  _, _, metadata = built
  groom = build_data.build(
      "mouse_behavior",
      manual_dir=raw_dir,
      data_dir=tmp_path,
      config=mb.make_config("groom", **PROTOCOL),
  )
  for key in ("test_video", "train_videos", "video_names"):
    assert groom.info.metadata[key] == metadata[key], key
  assert groom.info.splits["test"].num_examples == len(built[1]["test"]["video"])


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
    for video_id, frames, behavior in zip(split["video"], split["frame_index"], split["behavior"]):
      np.testing.assert_array_equal(behavior, labels_of(raw_dir, names[video_id])[frames])


def test_every_test_frame_covered_once_per_histogram(built, raw_dir):
  _, arrays, metadata = built
  test = arrays["test"]
  test_id = metadata["video_names"].index(metadata["test_video"])
  assert (test["video"] == test_id).all()
  covered = np.unique(test["frame_index"])
  np.testing.assert_array_equal(covered, np.arange(TEST_FRAMES // 2))
  assert (np.diff(test["frame_index"], axis=1) == 1).all()
  # Per-frame histogram (each frame counted once) equals the annotation's over the first half.
  behavior_of = dict(zip(test["frame_index"].ravel().tolist(), test["behavior"].ravel().tolist()))
  expected = np.bincount(
      labels_of(raw_dir, metadata["test_video"])[: TEST_FRAMES // 2], minlength=8
  )
  np.testing.assert_array_equal(np.bincount(list(behavior_of.values()), minlength=8), expected)


def test_pixels_match_the_preprocessor(built, raw_dir):
  _, arrays, metadata = built
  name = metadata["test_video"]
  cfg = preprocess.PreprocessConfig.from_dict(metadata["preprocess"])
  frames = {
      i: (g, f)
      for i, g, f in preprocess.preprocess_video(
          raw_dir / f"{name}.mpg", cfg, stop=TEST_FRAMES // 2
      )
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


def _recording(name: str, num_frames: int, labels: list[int], fps: float = 30.0) -> mb.Recording:
  """A recording whose video is `num_frames` long (its probe seeded: no file is read)."""
  recording = mb.Recording(name, pathlib.Path(f"{name}.mpg"), np.array(labels, np.int64))
  recording.__dict__["info"] = video.VideoInfo(recording.video, 320, 240, fps, num_frames)
  return recording


def test_default_test_video_is_the_longest_whatever_is_held_out():
  hang = raw_formats.BEHAVIORS.index(HELD_OUT)
  recordings = {
      "a_short_with_hang": _recording("a_short_with_hang", 100, [hang] * 100),
      "b_long": _recording("b_long", 300, [0] * 300),
      # 400 frames of video but 300 annotated: 300 usable, a tie with b_long, which comes first.
      "c_long_video": _recording("c_long_video", 400, [1] * 300),
      "d_longest_labels": _recording("d_longest_labels", 290, [2] * 500),
  }
  assert mb.default_test_video(recordings) == "b_long"
  names = sorted(recordings)
  config = mb.make_config("hang", num_train_videos=2)
  assert mb.default_train_videos(names, "b_long", config) == ["a_short_with_hang", "c_long_video"]


def test_short_test_video_and_absent_held_out_behaviour_warn(caplog):
  hang = raw_formats.BEHAVIORS.index(HELD_OUT)
  # Hang only in the second half, after the test part.
  recording = _recording("r", 3000, [0] * 1500 + [hang] * 1500, fps=25.0)
  config = mb.make_config(HELD_OUT)
  with caplog.at_level("WARNING"):
    facts = mb.check_test_video(recording, mb.test_part_stop(recording, config), config)
  assert facts == {"test_video_seconds": 120.0, "test_held_out_frames": 0}
  assert "2.0 min long" in caplog.text and "the AUC is undefined" in caplog.text
  caplog.clear()
  hour = _recording("h", 120_000, [hang] * 120_000)  # 66.7 min at 30 fps.
  with caplog.at_level("WARNING"):
    facts = mb.check_test_video(hour, mb.test_part_stop(hour, config), config)
  assert facts["test_held_out_frames"] == 60_000 and not caplog.text
