"""The own-videos workflow: protocol of data_builders/own_videos, then train tiny and score.

The end-to-end test trains a tiny CAE on two short normal clips (`configs/own_videos.py` with tiny
overrides), then scores a clip of the same scene in which a bright square flashes and jumps around:
those frames must be flagged, few others.
"""

from collections.abc import Iterator
import pathlib

import cv2
import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np
import pytest

from data_builders.own_videos import own_videos_dataset_builder as own
from mouseflax import input_pipeline
from mouseflax import score
from mouseflax import train

SIZE = (64, 48)  # Width, height.
FPS = 25.0
ANOMALY = (80, 112)  # Frames [start, stop) where the square flashes.
FLOW_SPILL_FRAMES = 2


def scene_frames(
    num_frames: int, phase: int, anomaly: tuple[int, int] | None
) -> Iterator[np.ndarray]:
  """A fixed textured cage floor with a grey 'mouse' moving slowly in a loop."""
  width, height = SIZE
  background = cv2.GaussianBlur(
      np.random.default_rng(0).integers(0, 256, (height, width), dtype=np.uint8), (0, 0), 3
  )
  background = (background // 2 + 40).astype(np.uint8)
  for t in range(phase, phase + num_frames):
    frame = background.copy()
    center = (
        int(width / 2 + width / 4 * np.sin(t / 20)),
        int(height / 2 + height / 5 * np.cos(t / 27)),
    )
    cv2.ellipse(frame, center, (8, 5), (2 * t) % 180, 0, 360, 110, -1)
    if anomaly and anomaly[0] <= t - phase < anomaly[1] and t % 4 < 2:
      corner = ((7 * t) % (width - 16), (5 * t) % (height - 16))
      cv2.rectangle(frame, corner, (corner[0] + 16, corner[1] + 16), 255, -1)
    yield frame


def write_scene(
    path: pathlib.Path, num_frames: int, *, phase: int = 0, anomaly: tuple[int, int] | None = None
) -> pathlib.Path:
  return fakes.write_video(path, scene_frames(num_frames, phase, anomaly), "mp4v", FPS)


def own_config(video_dir: pathlib.Path, data_dir: pathlib.Path, **data):
  config = fakes.load_config("own_videos")
  config.data.video_dir = str(video_dir)
  config.data.data_dir = str(data_dir)
  config.data.build_workers = 1
  config.data.stride = 1
  for key, value in data.items():
    config.data[key] = value
  config.model.width = 4
  config.train.epochs = 4
  config.train.batch_size = 4
  config.eval.batch_size = 16
  return config


def test_cut_video_holds_out_the_end_by_time():
  config = own.OwnVideosConfig(name="t", stride=2, validation_fraction=0.25, video_fraction=0.8)
  splits = own.cut_video("v", 100, config)
  train_frames = np.concatenate([w for _, w in splits["train"]])
  validation = np.unique(np.concatenate([w for _, w in splits["validation"]]))
  test = np.unique(np.concatenate([w for _, w in splits["test"]]))
  assert train_frames.max() < 60  # used = 80, validation = the last 20 of them.
  np.testing.assert_array_equal(validation, np.arange(60, 80))
  np.testing.assert_array_equal(test, np.arange(60, 100))
  assert all(np.all(np.diff(w) == 2) for _, w in splits["train"])
  assert all(np.all(np.diff(w) == 1) for _, w in splits["validation"])


def test_short_video_and_bad_folders_raise(tmp_path):
  config = own.OwnVideosConfig(name="t")
  with pytest.raises(own.NoVideosError, match="use a longer video"):
    own.cut_video("short.mp4", 40, config)
  data = own_config(tmp_path, tmp_path).data
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
  write_scene(videos / "day1.mp4", 200)
  write_scene(videos / "day2.avi", 200, phase=77)
  config = own_config(videos, root / "data")
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
  clip = write_scene(root / "clip.mp4", 150, phase=33, anomaly=ANOMALY)
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
  inside[ANOMALY[0] : ANOMALY[1]] = True
  assert flagged[inside].mean() > 0.5, scores.score[inside]
  assert flagged[~inside].mean() < 0.2
  # The frame after a flash carries its flow (motion from t-1 to t): leave it out of "outside".
  outside = ~inside
  outside[ANOMALY[1] : ANOMALY[1] + FLOW_SPILL_FRAMES] = False
  assert scores.score[inside].max() > 3 * scores.score[outside].max()
