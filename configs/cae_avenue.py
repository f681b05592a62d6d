"""Dual-stream CAE on CUHK Avenue (section 3.1, same hyper-parameters as the mouse data).

  python -m mouseflax.main --config=configs/cae_avenue.py --workdir=workdirs/cae_avenue \
      --config.data.manual_dir='/path/to/Avenue Dataset'

Data: CUHK Avenue in manual_dir; empty -> SYNTHETIC Avenue-like recordings (default.py).
Expected runtime: ~480 steps/epoch of batch 32 on the real data: about 9 h for 60 epochs on a
2-core CPU (~1.1 s/step), minutes on one GPU (estimates from step times, not measured end to end).
Paper: Avenue AUC 0.832 (Table 2).
"""

import ml_collections

from configs import default as default_lib


def get_config() -> ml_collections.ConfigDict:
  """Returns the cae_avenue configuration: default.py on CUHK Avenue."""
  config = default_lib.get_config()
  config.data.dataset = "cuhk_avenue"
  return config
