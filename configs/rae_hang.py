"""Dual-stream 3D residual autoencoder (RAE), hang held out (Table 1).

  python -m mouseflax.main --config=configs/rae_hang.py --workdir=workdirs/rae_hang \
      --config.data.manual_dir=/path/to/jhuang_full_database

Data: the Jhuang et al. home-cage 'full database' (12 .mpg videos + Annotator_group_1/ text files)
in manual_dir.
With `data.manual_dir` empty the job runs on SYNTHETIC recordings that the input
pipeline generates in the same on-disk layout (fine for a smoke run; its AUC says nothing about the
paper).
Expected runtime: RAE, 120 epochs at batch 64: many hours on a 2-core CPU (3D convolutions, slower
than the CAE), tens of minutes on one GPU
(estimates from measured step times, not measured end to end).
Paper: hang AUC 'over 0.9' (Figure 4).
"""

import pathlib
import runpy

import ml_collections

_DEFAULT = pathlib.Path(__file__).with_name("default.py")


def get_config() -> ml_collections.ConfigDict:
  """Returns the rae_hang configuration: default.py with the overrides below."""
  config = runpy.run_path(str(_DEFAULT))["get_config"]()
  config.model.name = "rae"
  config.train.epochs = 120  # Table 1 (RAE).
  config.train.batch_size = 64
  config.train.loss_weights.gray = 0.75  # Table 1: RAE gray 0.75 / flow 1.0.
  return config
