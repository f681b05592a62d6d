"""Single-stream (grayscale) CAE on CUHK Avenue (section 3.1).

  python -m mouseflax.main --config=configs/cae_single_avenue.py \
      --workdir=workdirs/cae_single_avenue --config.data.manual_dir='/path/to/Avenue Dataset'

Data: as cae_avenue.py (CUHK Avenue in manual_dir; empty -> SYNTHETIC): 94 steps/epoch of batch
32 (measured, cae_avenue.py).
Expected runtime: about half of cae_avenue.py's 2 h, i.e. ~1 h on a 2-core CPU (half the
arithmetic per step; estimated, not measured).
Paper: Avenue AUC 0.784 (Table 2).
"""

import ml_collections

from configs import cae_avenue


def get_config() -> ml_collections.ConfigDict:
  """Returns the cae_single_avenue configuration: cae_avenue.py with the grayscale-only CAE."""
  config = cae_avenue.get_config()
  config.model.name = "cae_single"
  return config
