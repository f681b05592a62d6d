"""Single-stream (grayscale) CAE, groom held out (section 3.4).

  python -m mouseflax.main --config=configs/cae_single_groom.py \
      --workdir=workdirs/cae_single_groom --config.data.manual_dir=/path/to/jhuang_full_database

Data: the home-cage recordings of cae_groom.py (manual_dir, or SYNTHETIC when it is empty).
Expected runtime: half of cae_groom.py's (half its arithmetic per step): about 2-3 h on a 2-core
CPU; an estimate, not measured. Paper: groom AUC 0.644 (section 3.4).
"""

import ml_collections

from configs import cae_groom


def get_config() -> ml_collections.ConfigDict:
  """Returns the cae_single_groom configuration: cae_groom.py with the grayscale-only CAE."""
  config = cae_groom.get_config()
  config.model.name = "cae_single"
  return config
