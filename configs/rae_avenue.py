"""Dual-stream 3D RAE on CUHK Avenue (section 3.1).

  python -m mouseflax.main --config=configs/rae_avenue.py --workdir=workdirs/rae_avenue \
      --config.data.manual_dir='/path/to/Avenue Dataset'

Data: as cae_avenue.py (CUHK Avenue in manual_dir; empty -> SYNTHETIC).
Expected runtime: as rae_hang.py for ~15,000 training sequences: about 4 days on a 2-core CPU
(an estimate from the RAE's measured rate, not measured end to end).
Paper: Avenue AUC 0.826 (Table 2).
"""

import ml_collections

from configs import rae_hang


def get_config() -> ml_collections.ConfigDict:
  """Returns the rae_avenue configuration: rae_hang.py's model and schedule on CUHK Avenue."""
  config = rae_hang.get_config()
  config.data.dataset = "cuhk_avenue"
  return config
