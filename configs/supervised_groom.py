"""Supervised baseline (CAE encoder + classifier), groom as the score class (section 3.4).

  python -m mouseflax.main --config=configs/supervised_groom.py --workdir=workdirs/supervised_groom
  \
      --config.data.manual_dir=/path/to/jhuang_full_database

Data: the Jhuang et al. home-cage 'full database' (12 .mpg videos + Annotator_group_1/ text files)
in manual_dir.
With `data.manual_dir` empty the job runs on SYNTHETIC recordings that the input
pipeline generates in the same on-disk layout (fine for a smoke run; its AUC says nothing about the
paper).
Expected runtime: supervised (CAE encoder + dense head), 120 epochs SGD: about 2x the CAE run
(estimates from measured step times, not measured end to end).
Paper: groom AUC 0.66 (section 3.4).
"""

import pathlib
import runpy

import ml_collections

# The experiment of supervised_hang.py, with groom held out instead of hang.
_HANG = pathlib.Path(__file__).with_name("supervised_hang.py")


def get_config() -> ml_collections.ConfigDict:
  """Returns the supervised_groom configuration: supervised_hang.py with groom held out."""
  config = runpy.run_path(str(_HANG))["get_config"]()
  config.data.dataset = "mouse_behavior/groom"
  return config
