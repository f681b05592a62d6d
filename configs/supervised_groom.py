"""Supervised baseline (CAE encoder + classifier), groom as the score class (section 3.4).

  python -m mouseflax.main --config=configs/supervised_groom.py \
      --workdir=workdirs/supervised_groom --config.data.manual_dir=/path/to/jhuang_full_database

Data: the home-cage recordings of cae_groom.py (manual_dir, or SYNTHETIC when it is empty).
Expected runtime: as supervised_hang.py on a split about a quarter smaller: roughly 2-3 h on a
2-core CPU (an estimate from FLOPs, not measured).
Paper: groom AUC 0.66 (section 3.4).
"""

import ml_collections

from configs import supervised_hang


def get_config() -> ml_collections.ConfigDict:
  """Returns the supervised_groom configuration: supervised_hang.py with groom held out."""
  config = supervised_hang.get_config()
  config.data.dataset = "mouse_behavior/groom"
  return config
