"""Dual-stream 3D RAE on CUHK Avenue (section 3.1).

  python -m mouseflax.main --config=configs/rae_avenue.py --workdir=workdirs/rae_avenue \
      --config.data.manual_dir='/path/to/Avenue Dataset'

Data: CUHK Avenue ('Avenue Dataset/' with training_videos/, testing_videos/, ground_truth_demo/) in
manual_dir.
With `data.manual_dir` empty the job runs on SYNTHETIC recordings that the input
pipeline generates in the same on-disk layout (fine for a smoke run; its AUC says nothing about the
paper).
Expected runtime: RAE, 120 epochs at batch 64: many hours on a 2-core CPU (3D convolutions, slower
than the CAE), tens of minutes on one GPU
(estimates from measured step times, not measured end to end).
Paper: Avenue AUC 0.826 (Table 2).
"""

import pathlib
import runpy

import ml_collections

_DEFAULT = pathlib.Path(__file__).with_name("default.py")


def get_config() -> ml_collections.ConfigDict:
  """Returns the rae_avenue configuration: default.py with the overrides below."""
  config = runpy.run_path(str(_DEFAULT))["get_config"]()
  config.data.dataset = "cuhk_avenue"
  config.model.name = "rae"
  config.train.epochs = 120  # Table 1 (RAE).
  config.train.batch_size = 64
  config.train.loss_weights.gray = 0.75  # Table 1: RAE gray 0.75 / flow 1.0.
  return config
