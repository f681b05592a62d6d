"""Dual-stream 3D RAE on CUHK Avenue (section 3.1).

  python -m mouseflax.main --config=configs/rae_avenue.py --workdir=workdirs/rae_avenue \
      --config.data.manual_dir='/path/to/Avenue Dataset'

Data: as cae_avenue.py (CUHK Avenue in manual_dir, consecutive frames, a window every 4 frames;
empty -> SYNTHETIC).
Expected runtime: 3,008 training windows, 47 steps/epoch of batch 64 (MEASURED on the synthetic
Avenue layout with the real video count and frame total, cae_avenue.py); at the RAE's ~5
sequences/s on a 2-core CPU (benchmarks/README.md) about 10 min per epoch, 20 h for 120 epochs (an
estimate, not measured end to end).
Paper: Avenue AUC 0.826 (Table 2).
"""

import ml_collections

from configs import cae_avenue
from configs import rae_hang


def get_config() -> ml_collections.ConfigDict:
  """Returns the rae_avenue configuration: rae_hang.py's model and schedule on CUHK Avenue."""
  config = rae_hang.get_config()
  cae_avenue.use_avenue(config)
  return config
