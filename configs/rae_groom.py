"""Dual-stream 3D residual autoencoder (RAE), groom held out (Table 1).

  python -m mouseflax.main --config=configs/rae_groom.py --workdir=workdirs/rae_groom \
      --config.data.manual_dir=/path/to/jhuang_full_database

Data: the Jhuang et al. home-cage 'full database' (12 .mpg videos + Annotator_group_1/ text files)
in manual_dir.
With `data.manual_dir` empty the job runs on SYNTHETIC recordings that the input
pipeline generates in the same on-disk layout (fine for a smoke run; its AUC says nothing about the
paper).
Expected runtime: RAE, 120 epochs at batch 64: many hours on a 2-core CPU (3D convolutions, slower
than the CAE), tens of minutes on one GPU
(estimates from measured step times, not measured end to end).
Paper: groom AUC slightly above 0.5 (Figure 3).
"""

import pathlib
import runpy

import ml_collections

# The experiment of rae_hang.py, with groom held out instead of hang.
_HANG = pathlib.Path(__file__).with_name("rae_hang.py")


def get_config() -> ml_collections.ConfigDict:
  """Returns the rae_groom configuration: rae_hang.py with groom held out."""
  config = runpy.run_path(str(_HANG))["get_config"]()
  config.data.dataset = "mouse_behavior/groom"
  return config
