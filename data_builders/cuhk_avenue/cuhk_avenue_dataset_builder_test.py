"""cuhk_avenue builder: DatasetBuilderTestCase-style checks on records read back without TensorFlow.

dummy_data: tiny synthetic recordings in the CUHK Avenue layout, generated per test session by
`mouseflax.synthetic.write_avenue` (not committed: they are regenerated in < 1 s).
"""

import pathlib

import numpy as np
import pytest

import data_builders
from data_builders import testing
from data_builders.cuhk_avenue import cuhk_avenue_dataset_builder as av
from mouseflax import build_data
from mouseflax import preprocess
from mouseflax import raw_formats
from mouseflax import synthetic
from mouseflax import windows

SEED = 0
NUM_TRAIN, NUM_TEST = 2, 2
FRAMES = 100  # Not a multiple of 8: the test and validation tail windows are exercised.
LENGTH, HOP = 8, av.AVENUE_TRAIN_HOP
VALIDATION_START = FRAMES - round(0.2 * FRAMES)
WIDTH, HEIGHT, FPS = 160, 96, 25.0


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> pathlib.Path:
  return synthetic.write_avenue(
      tmp_path_factory.mktemp("raw"),
      seed=SEED,
      num_train=NUM_TRAIN,
      num_test=NUM_TEST,
      frames_per_video=FRAMES,
      width=WIDTH,
      height=HEIGHT,
      fps=FPS,
  )


@pytest.fixture(scope="module")
def built(raw_dir, tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("data")
  build_data.build("cuhk_avenue", manual_dir=raw_dir, data_dir=data_dir)
  return testing.read_without_tf(data_dir, "cuhk_avenue", tmp_path_factory.mktemp("read"))


def test_splits_shapes_and_disjointness(built):
  arrays, metadata = built
  assert set(arrays) == {"train", "validation", "test"}
  for split in arrays.values():
    n = len(split["video"])
    assert split["gray"].shape == (n, 8, 24, 32, 1) and split["flow"].dtype == np.float16
    assert (split["behavior"] == raw_formats.NO_LABEL).all()
  # Stride 1, a window every 4 frames, up to one window span before the validation block.
  train_per_video = (VALIDATION_START - LENGTH - LENGTH) // HOP + 1
  assert len(arrays["train"]["video"]) == NUM_TRAIN * train_per_video
  assert (np.diff(arrays["train"]["frame_index"], axis=1) == 1).all()
  assert (arrays["train"]["frame_index"][:, 0] % HOP == 0).all()
  validation_per_video = len(windows.covering_windows(FRAMES - VALIDATION_START, length=LENGTH))
  assert len(arrays["validation"]["video"]) == NUM_TRAIN * validation_per_video
  train, validation = (testing.frame_set(arrays[s]) for s in ("train", "validation"))
  assert not train & validation
  names = metadata["video_names"]
  for split in ("train", "validation"):
    assert {names[v].split("/")[0] for v in arrays[split]["video"]} == {"training_videos"}
    assert not arrays[split]["anomaly"].any()


def test_validation_is_held_out_by_time_away_from_training(built):
  arrays, _ = built
  for video_id in np.unique(arrays["train"]["video"]):
    train = arrays["train"]["frame_index"][arrays["train"]["video"] == video_id]
    validation = arrays["validation"]["frame_index"][arrays["validation"]["video"] == video_id]
    assert validation.min() - train.max() - 1 >= LENGTH  # A window span (stride 1) between them.
    assert (np.diff(validation, axis=1) == 1).all()
    np.testing.assert_array_equal(np.unique(validation), np.arange(VALIDATION_START, FRAMES))


def test_counts_and_crop_removed_anomalies_in_metadata(built, raw_dir):
  arrays, metadata = built
  assert metadata["counts"] == {
      "train_videos": NUM_TRAIN,
      "test_videos": NUM_TEST,
      "train_frames": NUM_TRAIN * FRAMES,
      "test_frames": NUM_TEST * FRAMES,
  }
  assert metadata["published_counts"] == av.PUBLISHED_COUNTS
  test = arrays["test"]
  anomalous = {
      (int(v), int(f))
      for v, frames, labels in zip(test["video"], test["frame_index"], test["anomaly"])
      for f, a in zip(frames, labels)
      if a
  }
  assert metadata["anomalous_test_frames"] == len(anomalous) > 0
  cfg = preprocess.PreprocessConfig()
  expected = sum(
      av.crop_removed_anomalies(
          raw_formats.read_avenue_masks(raw_dir / raw_formats.AVENUE_LABEL_DIR / f"{n}_label.mat"),
          cfg,
      )
      for n in range(1, NUM_TEST + 1)
  )
  assert metadata["anomalous_frames_outside_crop"] == expected


def test_crop_removed_anomalies_on_hand_made_masks():
  cfg = preprocess.PreprocessConfig()  # 360 rows: rows [45, 315) reach the 24x32 crop.
  height, width = 360, 640
  masks = [np.zeros((height, width), np.uint8) for _ in range(6)]
  masks[1][0:40, 100:200] = 1  # Top band only: removed.
  masks[2][320:360, :] = 1  # Bottom band only: removed.
  masks[3][0:10, :] = 1  # Top band and...
  masks[3][350:, :] = 1  # ... bottom band: still removed.
  masks[4][44:46, 5] = 1  # Reaches row 45: seen.
  masks[5][200, 300] = 1  # Centre: seen. (masks[0] is normal.)
  assert av.crop_removed_anomalies(masks, cfg) == 3


def test_counts_that_differ_from_the_published_dataset_warn(caplog):
  published = dict(av.PUBLISHED_COUNTS)
  with caplog.at_level("INFO"):
    av.check_counts(published, synthetic_data=False)
  assert not caplog.text
  fewer = {**published, "train_videos": 15, "train_frames": 14_400}
  with caplog.at_level("INFO"):
    av.check_counts(fewer, synthetic_data=False)
  [record] = caplog.records
  assert record.levelname == "WARNING" and "NOT THE PUBLISHED CUHK AVENUE" in record.getMessage()
  assert "train_videos 15 (published 16)" in record.getMessage()
  caplog.clear()
  with caplog.at_level("INFO"):
    av.check_counts(fewer, synthetic_data=True)
  [record] = caplog.records
  assert record.levelname == "INFO" and len(record.getMessage().splitlines()) == 1


def test_every_test_frame_covered_with_its_label(built, raw_dir):
  arrays, metadata = built
  test, names = arrays["test"], metadata["video_names"]
  assert len(test["video"]) == NUM_TEST * -(-FRAMES // 8)
  for number in range(1, NUM_TEST + 1):
    video = names.index(f"testing_videos/{number:02d}")
    rows = test["video"] == video
    np.testing.assert_array_equal(np.unique(test["frame_index"][rows]), np.arange(FRAMES))
    labels = raw_formats.read_avenue_frame_labels(
        raw_dir / raw_formats.AVENUE_LABEL_DIR / f"{number}_label.mat"
    )
    np.testing.assert_array_equal(test["anomaly"][rows], labels[test["frame_index"][rows]])
  assert test["anomaly"].any() and not test["anomaly"].all()


def test_custom_protocol_gets_its_own_name():
  assert av.make_config().name == av.DEFAULT_CONFIG
  assert av.make_config(stride=1, train_hop=4).name == av.DEFAULT_CONFIG
  assert av.make_config(train_hop=8).name.startswith("custom-")
  assert av.make_config(train_hop=8).name != av.make_config(train_hop=4).name


def test_missing_manual_files_list_expected_paths(tmp_path):
  with pytest.raises(data_builders.MissingDataError, match="testing_label_mask"):
    build_data.build("cuhk_avenue", manual_dir=tmp_path, data_dir=tmp_path / "data")
