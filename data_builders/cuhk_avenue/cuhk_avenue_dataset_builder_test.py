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
from mouseflax import raw_formats
from mouseflax import synthetic

SEED = 0
NUM_TRAIN, NUM_TEST = 2, 2
FRAMES = 100  # Not a multiple of 8: the test tail window is exercised.
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
  windows_per_video = (FRAMES - 36) // 40 + 1
  assert len(arrays["train"]["video"]) + len(arrays["validation"]["video"]) == (
      NUM_TRAIN * windows_per_video
  )
  assert len(arrays["validation"]["video"]) == round(0.2 * NUM_TRAIN * windows_per_video)
  train, validation = (testing.frame_set(arrays[s]) for s in ("train", "validation"))
  assert not train & validation
  names = metadata["video_names"]
  assert {names[v].split("/")[0] for v in arrays["train"]["video"]} == {"training_videos"}
  assert not arrays["train"]["anomaly"].any()


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
  assert av.make_config(train_hop=8).name.startswith("custom-")
  assert av.make_config(train_hop=8).name != av.make_config(train_hop=4).name


def test_missing_manual_files_list_expected_paths(tmp_path):
  with pytest.raises(data_builders.MissingDataError, match="testing_label_mask"):
    build_data.build("cuhk_avenue", manual_dir=tmp_path, data_dir=tmp_path / "data")
