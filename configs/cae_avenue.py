"""Dual-stream CAE on CUHK Avenue (section 3.1, same hyper-parameters as the mouse data).

  python -m mouseflax.main --config=configs/cae_avenue.py --workdir=workdirs/cae_avenue \
      --config.data.manual_dir='/path/to/Avenue Dataset'

Data: CUHK Avenue in manual_dir; empty -> SYNTHETIC Avenue-like recordings (default.py). The paper
applies "no additional pre-processing" to Avenue, so training windows take consecutive frames
(`data.stride` 1), one starting every `data.train_hop` = 4 frames (why 4:
data_builders/cuhk_avenue); validation is the last 20% of each training video by time.
Expected runtime: 3,008 training windows (384 validation), 94 steps/epoch of batch 32 (MEASURED
2026-12-02 by building the synthetic Avenue layout with the real video count and frame total: 16
training videos of 958 frames, 15,328 frames; real videos differ in length, so expect a few windows
more or less). At ~1.1 s/step on a 2-core CPU that is about 2 h for 60 epochs, minutes on one GPU
(the time is an estimate from step times, not measured end to end).
Paper: Avenue AUC 0.832 (Table 2).
"""

import ml_collections

from configs import default as default_lib

AVENUE_STRIDE = 1  # Consecutive frames (data_builders/cuhk_avenue's rule).
AVENUE_TRAIN_HOP = 4  # A training window starts every 4 frames.


def use_avenue(config: ml_collections.ConfigDict) -> None:
  """Points `config` at CUHK Avenue with its training-window rule (every Avenue config's data)."""
  config.data.dataset = "cuhk_avenue"
  config.data.stride = AVENUE_STRIDE
  config.data.train_hop = AVENUE_TRAIN_HOP


def get_config() -> ml_collections.ConfigDict:
  """Returns the cae_avenue configuration: default.py on CUHK Avenue."""
  config = default_lib.get_config()
  use_avenue(config)
  return config
