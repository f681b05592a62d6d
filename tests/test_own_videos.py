"""The own-videos workflow: protocol of data_builders/own_videos, then train tiny and score.

The end-to-end test trains a tiny CAE on two short normal clips (`configs/own_videos.py` with tiny
overrides), then scores a clip of the same scene in which a bright square flashes and jumps around:
those frames must be flagged, few others.
"""

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np
import pytest

from data_builders.own_videos import own_videos_dataset_builder as own
from mouseflax import input_pipeline
from mouseflax import score
from mouseflax import train

FLOW_SPILL_FRAMES = 2
CLIP_SECONDS = 50


def test_cut_video_holds_out_the_end_by_time():
  config = own.OwnVideosConfig(name="t", stride=2, validation_fraction=0.25, video_fraction=0.8)
  splits = own.cut_video("v", 100, config)
  train_frames = np.concatenate([w for _, w in splits["train"]])
  validation = np.unique(np.concatenate([w for _, w in splits["validation"]]))
  test = np.unique(np.concatenate([w for _, w in splits["test"]]))
  # used = 80, validation = the last 20 of them; training ends a window span (15 frames) earlier.
  assert train_frames.max() < 60 - 15
  np.testing.assert_array_equal(validation, np.arange(60, 80))
  np.testing.assert_array_equal(test, np.arange(60, 100))
  assert all(np.all(np.diff(w) == 2) for _, w in splits["train"])
  assert all(np.all(np.diff(w) == 1) for _, w in splits["validation"])


def test_a_50_second_clip_trains_with_the_default_settings(tmp_path):
  """configs/own_videos.py as it is on one 50-second clip: only the model is shrunk, for speed."""
  videos = tmp_path / "videos"
  videos.mkdir()
  fakes.write_scene(videos / "clip.mp4", CLIP_SECONDS * int(fakes.SCENE_FPS))
  config = fakes.load_config("own_videos")
  config.data.video_dir = str(videos)
  config.data.data_dir = str(tmp_path / "data")
  # The defaults (width 32, 60 epochs) take ~8 min on 2 cores; data, protocol and batch are theirs.
  config.model.width = 4
  config.train.epochs = 1
  results = train.train_and_evaluate(config, tmp_path / "run")
  handle = input_pipeline.prepare(config.data)
  num_train = handle.num_examples("train")
  assert 200 <= num_train <= 300  # A few hundred overlapping windows (233 at 25 fps).
  assert results["steps"] == num_train // config.train.batch_size
  num_frames = CLIP_SECONDS * int(fakes.SCENE_FPS)
  validation = np.unique(handle.load("validation")["frame_index"])
  np.testing.assert_array_equal(validation, np.arange(num_frames - num_frames // 5, num_frames))
  assert (tmp_path / "run" / "threshold.json").is_file()


def test_short_video_and_bad_folders_raise(tmp_path):
  config = own.OwnVideosConfig(name="t")
  with pytest.raises(own.NoVideosError, match="use a longer video"):
    own.cut_video("short.mp4", 40, config)
  data = fakes.own_config(tmp_path, tmp_path).data
  data.video_dir = ""
  with pytest.raises(own.NoVideosError, match="video_dir is empty"):
    input_pipeline.builder_config(data)
  with pytest.raises(own.NoVideosError, match="No video in"):
    own.make_config(tmp_path)
  with pytest.raises(own.NoVideosError, match="is not a folder"):
    own.make_config(tmp_path / "missing")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  root = tmp_path_factory.mktemp("own")
  videos = root / "videos"
  videos.mkdir()
  fakes.write_scene(videos / "day1.mp4", 200)
  fakes.write_scene(videos / "day2.avi", 200, phase=77)
  config = fakes.own_config(videos, root / "data")
  train.train_and_evaluate(config, root / "run")
  return root, config


def test_records_follow_the_protocol(trained):
  _, config = trained
  handle = input_pipeline.prepare(config.data)
  assert handle.video_names == ["day1.mp4", "day2.avi"]
  validation = handle.load("validation")
  frames = validation["frame_index"][validation["video"] == 0]
  np.testing.assert_array_equal(np.unique(frames), np.arange(160, 200))
  train_split = handle.load("train")
  assert train_split["frame_index"][train_split["video"] == 0].max() < 160
  assert np.all(handle.load("test")["anomaly"] == 0)


def test_trained_run_flags_an_injected_anomaly(trained):
  root, _ = trained
  clip = fakes.write_scene(root / "clip.mp4", 150, phase=33, anomaly=fakes.SCENE_ANOMALY)
  run = score.load_run(root / "run")
  threshold = score.resolve_threshold(run)
  # 2 false events per hour, from 3.2 s of validation video: the run warned it cannot promise it.
  assert threshold.false_events_per_hour == pytest.approx(2.0) and "too short" in threshold.warning
  result = score.score_videos(run, [clip], root / "scored", threshold, progress=False)[str(clip)]
  assert isinstance(result, score.ScoredVideo), result
  scores = result.scores
  assert len(scores.score) == 150 and np.all(np.isfinite(scores.score))
  flagged = scores.score > threshold.value
  inside = np.zeros(150, bool)
  inside[fakes.SCENE_ANOMALY[0] : fakes.SCENE_ANOMALY[1]] = True
  assert flagged[inside].mean() > 0.5, scores.score[inside]
  assert flagged[~inside].mean() < 0.2
  # The frame after a flash carries its flow (motion from t-1 to t): leave it out of "outside".
  outside = ~inside
  outside[fakes.SCENE_ANOMALY[1] : fakes.SCENE_ANOMALY[1] + FLOW_SPILL_FRAMES] = False
  assert scores.score[inside].max() > 3 * scores.score[outside].max()
