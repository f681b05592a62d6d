"""Dual-stream CAE, hang held out (paper section 3.3, Table 1): exactly default.py.

  python -m mouseflax.main --config=configs/cae_hang.py --workdir=workdirs/cae_hang \
      --config.data.manual_dir=/path/to/jhuang_full_database

Data: the Jhuang et al. home-cage 'full database' in manual_dir; empty -> SYNTHETIC recordings
(default.py's docstring describes both). Expected runtime (an estimate from measured step times, not
measured end to end): 60 epochs at batch 32, 299 steps/epoch on the real data, ~1.1 s/step: about
5-6 h on a 2-core CPU; minutes on one GPU.
Paper: hang AUC 'over 0.9' for the two-stream models (Figure 4; no exact number given).
"""

import ml_collections

from configs import default as default_lib


def get_config() -> ml_collections.ConfigDict:
  """Returns the cae_hang configuration: default.py, which is this experiment, unchanged."""
  return default_lib.get_config()
