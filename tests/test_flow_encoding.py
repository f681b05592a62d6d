"""The flow encoding travels from config.data to the records, preprocess.json and `score`.

A run trained with `data.flow_encoding='softsign'` stores it in preprocess.json and `score` encodes
new recordings the same way; a preprocess.json written before the encoding was selectable (key
`flow_max_disp`, no `flow_encoding`) still loads, as the "clip" encoding it describes.
"""

import dataclasses
import json

import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import numpy as np
import pytest

from mouseflax import input_pipeline
from mouseflax import preprocess
from mouseflax import run_files
from mouseflax import score
from mouseflax import train

SOFTSIGN = preprocess.PreprocessConfig(flow_encoding=preprocess.FLOW_SOFTSIGN, flow_scale_px=0.5)
JUMP_PX = 9  # A bright square jumping 9 px per frame at 64x48 (4.5 px at 32x32): clip saturates.
SIZE = (64, 48)


def jumping_square(num_frames: int) -> list[np.ndarray]:
  width, height = SIZE
  frames = []
  for t in range(num_frames):
    frame = np.full((height, width), 60, np.uint8)
    left = (JUMP_PX * t) % (width - 12)
    frame[18:30, left : left + 12] = 220 - 8 * (np.arange(12) % 3)
    frames.append(frame)
  return frames


@pytest.mark.parametrize("dataset", ["mouse_behavior/hang", "cuhk_avenue", "own_videos"])
def test_config_keys_reach_the_builder_config(dataset, tmp_path):
  config = fakes.load_config("own_videos" if dataset == "own_videos" else "default")
  config.data.dataset = dataset
  if dataset == "own_videos":
    fakes.write_video(tmp_path / "clip.avi", jumping_square(60))
    config.data.video_dir = str(tmp_path)
  config.data.flow_encoding = SOFTSIGN.flow_encoding
  config.data.flow_scale_px = SOFTSIGN.flow_scale_px
  builder_config = input_pipeline.builder_config(config.data)
  assert preprocess.PreprocessConfig.from_dict(builder_config.preprocess) == SOFTSIGN
  assert builder_config.name not in ("hang", "default")  # Other bytes: a config of its own.


def test_the_avenue_configs_ask_for_the_builders_default_protocol():
  for name in ("cae_avenue", "rae_avenue", "cae_single_avenue"):
    assert input_pipeline.builder_config(fakes.load_config(name).data).name == "default", name


@pytest.fixture(scope="module")
def softsign_run(tmp_path_factory):
  """A tiny run trained on records whose preprocessing is `SOFTSIGN` (random arrays)."""
  workdir = tmp_path_factory.mktemp("softsign") / "run"
  handle = fakes.FakeHandle()
  handle.preprocess = SOFTSIGN
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(input_pipeline, "prepare", lambda data_config, seed=0: handle)
    train.train_and_evaluate(fakes.tiny_config(), workdir)
  return workdir


def test_preprocess_json_stores_the_encoding_and_score_uses_it(softsign_run, tmp_path):
  stored = json.loads((softsign_run / run_files.PREPROCESS_FILE).read_text())
  assert stored["flow_encoding"] == "softsign" and stored["flow_scale_px"] == 0.5
  run = score.load_run(softsign_run)
  assert run.preprocess == SOFTSIGN
  clip = fakes.write_video(tmp_path / "jump.avi", jumping_square(24))
  softsign_scores = score.score_video(run, clip, progress=False)
  clip_run = dataclasses.replace(run, preprocess=preprocess.PreprocessConfig())
  clip_scores = score.score_video(clip_run, clip, progress=False)
  # Only the flow input differs (the streams meet at the bottleneck, so gray moves a little too).
  flow_change = np.abs(softsign_scores.error_flow - clip_scores.error_flow).max()
  gray_change = np.abs(softsign_scores.error_gray - clip_scores.error_gray).max()
  assert flow_change > 1e-4 and flow_change > 100 * gray_change


def test_a_legacy_preprocess_json_loads_and_scores_as_clip(softsign_run, tmp_path):
  legacy = preprocess.PreprocessConfig(flow_scale_px=2.0).to_dict()
  legacy["flow_max_disp"] = legacy.pop("flow_scale_px")
  del legacy["flow_encoding"]
  (softsign_run / run_files.PREPROCESS_FILE).write_text(json.dumps(legacy))
  run = score.load_run(softsign_run)
  assert run.preprocess == preprocess.PreprocessConfig(flow_scale_px=2.0)
  clip = fakes.write_video(tmp_path / "jump.avi", jumping_square(16))
  frames = list(preprocess.preprocess_video(clip, run.preprocess))
  flow = np.stack([f for _, _, f in frames])
  legacy_encoding = np.clip(2 * flow - 1, -1, 1)  # The encoding of the runs that wrote such files.
  assert np.abs(legacy_encoding).max() == pytest.approx(1.0)  # Clipped at +-2 px.
  assert score.score_video(run, clip, progress=False).score.shape == (16,)
