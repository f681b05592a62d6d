"""Input pipeline: order, batches, flips, device placement, and prepare() on synthetic defaults."""

import json
import pathlib

import jax
import numpy as np
import pytest

from configs import default
from mouseflax import build_data
from mouseflax import input_pipeline
from mouseflax import preprocess
from mouseflax import steps
from mouseflax import streams
from mouseflax import synthetic

NUM_EXAMPLES = 10
BATCH = 4


def tiny_data_config(data_dir: pathlib.Path):
  """config.data with synthetic sizes small enough for a test (a few seconds to build)."""
  data = default.get_config().data
  data.data_dir = str(data_dir)
  data.synthetic_videos = 3
  data.synthetic_frames = 160
  data.num_train_videos = 2
  data.build_workers = 1
  return data


def fake_arrays(num: int = NUM_EXAMPLES) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(0)
  return {
      "gray": rng.integers(0, 256, (num, 8, 24, 32, 1), dtype=np.uint8),
      "flow": rng.random((num, 8, 24, 32, 2)).astype(np.float16),
      "video": np.arange(num, dtype=np.int64),
  }


def test_epoch_permutation_is_a_pure_function_of_seed_and_epoch():
  a = input_pipeline.epoch_permutation(NUM_EXAMPLES, seed=3, epoch=2)
  np.testing.assert_array_equal(a, input_pipeline.epoch_permutation(NUM_EXAMPLES, seed=3, epoch=2))
  np.testing.assert_array_equal(np.sort(a), np.arange(NUM_EXAMPLES))
  assert not np.array_equal(a, input_pipeline.epoch_permutation(NUM_EXAMPLES, seed=3, epoch=1))
  assert not np.array_equal(a, input_pipeline.epoch_permutation(NUM_EXAMPLES, seed=4, epoch=2))


def test_iterate_batches_follows_the_epoch_order():
  arrays = fake_arrays()
  batches = list(input_pipeline.iterate_batches(arrays, batch_size=BATCH, seed=1, epoch=0))
  assert len(batches) == NUM_EXAMPLES // BATCH
  order = input_pipeline.epoch_permutation(NUM_EXAMPLES, seed=1, epoch=0)
  seen = np.concatenate([b["video"] for b in batches])
  np.testing.assert_array_equal(seen, order[: len(seen)])
  everything = list(
      input_pipeline.iterate_batches(
          arrays, batch_size=BATCH, seed=1, epoch=0, shuffle=False, drop_remainder=False
      )
  )
  np.testing.assert_array_equal(
      np.concatenate([b["video"] for b in everything]), np.arange(NUM_EXAMPLES)
  )


def test_to_model_inputs_scales_to_unit_float32():
  inputs = streams.to_model_inputs(fake_arrays())
  assert set(inputs) == {"gray", "flow"}
  assert inputs["gray"].dtype == np.float32 and inputs["flow"].dtype == np.float32
  assert 0.0 <= float(inputs["gray"].min()) and float(inputs["gray"].max()) <= 1.0
  np.testing.assert_allclose(inputs["gray"], fake_arrays()["gray"] / 255.0, rtol=1e-6)


def test_random_hflip_mirrors_chosen_sequences_and_negates_flow_x():
  batch = streams.to_model_inputs(fake_arrays())
  flipped = jax.jit(steps.random_hflip)(batch, jax.random.key(0))
  gray, flow = np.asarray(batch["gray"]), np.asarray(batch["flow"])
  mirrored = [
      np.array_equal(np.asarray(flipped["gray"][i]), gray[i, ..., ::-1, :])
      for i in range(NUM_EXAMPLES)
  ]
  kept = [np.array_equal(np.asarray(flipped["gray"][i]), gray[i]) for i in range(NUM_EXAMPLES)]
  assert any(mirrored) and any(kept) and all(m or k for m, k in zip(mirrored, kept))
  for i in range(NUM_EXAMPLES):
    if mirrored[i]:
      np.testing.assert_allclose(flipped["flow"][i, ..., 0], 1.0 - flow[i, ..., ::-1, 0], atol=1e-6)
      np.testing.assert_allclose(flipped["flow"][i, ..., 1], flow[i, ..., ::-1, 1], atol=1e-6)
  again = steps.random_hflip(batch, jax.random.key(0))
  np.testing.assert_array_equal(np.asarray(again["gray"]), np.asarray(flipped["gray"]))


def test_maybe_to_device_respects_the_size_limit():
  data = default.get_config().data
  arrays = fake_arrays()
  assert isinstance(input_pipeline.maybe_to_device(arrays, data)["gray"], jax.Array)
  data.device_max_mb = 0
  assert isinstance(input_pipeline.maybe_to_device(arrays, data)["gray"], np.ndarray)


def test_is_synthetic_only_without_recordings():
  assert input_pipeline.is_synthetic({"dataset": "mouse_behavior/hang", "manual_dir": ""})
  assert not input_pipeline.is_synthetic({"dataset": "mouse_behavior", "manual_dir": "/data"})
  assert not input_pipeline.is_synthetic({"dataset": "own_videos", "manual_dir": ""})


def test_synthetic_sizes_are_per_dataset():
  data = default.get_config().data
  avenue = input_pipeline.synthetic_sizes("avenue", data)
  # The default avenue length is the generator's (240 frames at 640x360), not the home cage's 4500.
  assert avenue["frames_per_video"] == synthetic.AVENUE_DEFAULTS["frames_per_video"]
  assert input_pipeline.synthetic_sizes("home_cage", data)["frames_per_video"] == 4500
  data.synthetic_frames, data.synthetic_avenue_frames = 300, 60
  assert input_pipeline.synthetic_sizes("avenue", data)["frames_per_video"] == 60
  assert input_pipeline.synthetic_sizes("home_cage", data)["frames_per_video"] == 300
  assert set(input_pipeline.synthetic_sizes("avenue", data)) <= set(synthetic.AVENUE_DEFAULTS)


def test_prepare_builds_synthetic_once_and_loads_splits(tmp_path):
  data = tiny_data_config(tmp_path)
  handle = input_pipeline.prepare(data, seed=0)
  assert "synthetic-home_cage-" in str(handle.builder.data_dir)
  assert handle.preprocess == preprocess.PreprocessConfig()
  train = handle.load("train")
  assert train["gray"].shape[1:] == (8, 24, 32, 1) and len(train["gray"]) > 0
  assert not train["anomaly"].any()
  # By-index reads (how a multi-host process reads its rows of each batch) match the loaded split.
  rows = np.arange(len(train["gray"]))[::-1][:3]
  assert handle.num_examples("train") == len(train["gray"])
  read = handle.read("train", rows, ("gray", "flow"))
  assert sorted(read) == ["flow", "gray"]
  np.testing.assert_array_equal(read["gray"], train["gray"][rows])
  np.testing.assert_array_equal(read["flow"], train["flow"][rows])
  test = handle.load("test")
  assert len(handle.video_names) == data.synthetic_videos
  test_id = handle.video_names.index(handle.info.metadata["test_video"])
  assert set(test["video"].tolist()) == {test_id}
  with pytest.raises(ValueError, match="Unknown split"):
    handle.load("training")
  # A second call reuses the records; another protocol gets another config name.
  assert input_pipeline.prepare(data, seed=0).builder.data_dir == handle.builder.data_dir
  data.stride = 3
  assert input_pipeline.builder_config(data).name != handle.builder.builder_config.name


def test_prepare_refuses_stale_records(tmp_path):
  data = tiny_data_config(tmp_path)
  handle = input_pipeline.prepare(data, seed=0)
  metadata_file = pathlib.Path(handle.builder.data_dir) / "metadata.json"
  metadata = json.loads(metadata_file.read_text())
  metadata["protocol"]["stride"] = 99  # As if built by an older version with other defaults.
  metadata_file.write_text(json.dumps(metadata))
  with pytest.raises(build_data.StaleRecordsError, match="stride"):
    input_pipeline.prepare(data, seed=0)
