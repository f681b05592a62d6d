"""Single-stream (grayscale) CAE, hang held out (section 3.4).

  python -m mouseflax.main --config=configs/cae_single_hang.py --workdir=workdirs/cae_single_hang \
      --config.data.manual_dir=/path/to/jhuang_full_database

Data: the home-cage recordings of cae_hang.py (manual_dir, or SYNTHETIC when it is empty).
Expected runtime: the grayscale CAE does half the dual CAE's arithmetic (0.65 vs 1.32 forward
GFLOP per sequence), so about 3 h on a 2-core CPU for 60 epochs of 299 steps (an estimate, not
measured). Paper: hang AUC 0.959 (section 3.4).
"""

import ml_collections

from configs import default as default_lib


def get_config() -> ml_collections.ConfigDict:
  """Returns the cae_single_hang configuration: default.py with the grayscale-only CAE."""
  config = default_lib.get_config()
  config.model.name = "cae_single"
  return config
