"""Dual-stream CAE, groom held out (paper section 3.2, Table 1).

  python -m mouseflax.main --config=configs/cae_groom.py --workdir=workdirs/cae_groom \
      --config.data.manual_dir=/path/to/jhuang_full_database

Data: as cae_hang.py (Jhuang et al. 'full database' in manual_dir; empty -> SYNTHETIC).
Expected runtime (estimated from step times): 228 steps/epoch on the real data, so about 4-5 h for
the 60 epochs on a 2-core CPU at ~1.1 s/step; minutes on one GPU.
Paper: groom AUC 'marginally better than random' (Figure 3; no exact number given).
"""

import ml_collections

from configs import default as default_lib


def get_config() -> ml_collections.ConfigDict:
  """Returns the cae_groom configuration: default.py with groom held out."""
  config = default_lib.get_config()
  config.data.dataset = "mouse_behavior/groom"
  return config
