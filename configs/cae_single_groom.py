"""Single-stream (grayscale) CAE, groom held out (section 3.4).

  python -m mouseflax.main --config=configs/cae_single_groom.py --workdir=workdirs/cae_single_groom
  \
      --config.data.manual_dir=/path/to/jhuang_full_database

Data: the Jhuang et al. home-cage 'full database' (12 .mpg videos + Annotator_group_1/ text files)
in manual_dir.
With `data.manual_dir` empty the job runs on SYNTHETIC recordings that the input
pipeline generates in the same on-disk layout (fine for a smoke run; its AUC says nothing about the
paper).
Expected runtime: CAE, 60 epochs at batch 32 (228 steps/epoch on the real data): about 2-3 h on a
2-core CPU (~1.1 s/step), minutes on one GPU
(estimates from measured step times, not measured end to end).
Paper: groom AUC 0.644 (section 3.4).
"""

import pathlib
import runpy

import ml_collections

_DEFAULT = pathlib.Path(__file__).with_name("default.py")


def get_config() -> ml_collections.ConfigDict:
  """Returns the cae_single_groom configuration: default.py with the overrides below."""
  config = runpy.run_path(str(_DEFAULT))["get_config"]()
  config.data.dataset = "mouse_behavior/groom"
  config.model.name = "cae_single"
  return config
