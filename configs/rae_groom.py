"""Dual-stream 3D residual autoencoder (RAE), groom held out (Table 1).

  python -m mouseflax.main --config=configs/rae_groom.py --workdir=workdirs/rae_groom \
      --config.data.manual_dir=/path/to/jhuang_full_database

Data: the home-cage recordings of cae_groom.py (manual_dir, or SYNTHETIC when it is empty).
Expected runtime: as rae_hang.py for ~7,300 training sequences instead of ~9,600: about 2 days on
a 2-core CPU (an estimate from the RAE's measured rate, not measured end to end).
Paper: groom AUC slightly above 0.5 (Figure 3).
"""

import ml_collections

from configs import rae_hang


def get_config() -> ml_collections.ConfigDict:
  """Returns the rae_groom configuration: rae_hang.py with groom held out."""
  config = rae_hang.get_config()
  config.data.dataset = "mouse_behavior/groom"
  return config
