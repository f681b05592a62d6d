"""Dual-stream 3D residual autoencoder (RAE), hang held out (Table 1).

  python -m mouseflax.main --config=configs/rae_hang.py --workdir=workdirs/rae_hang \
      --config.data.manual_dir=/path/to/jhuang_full_database

Data: the home-cage recordings of cae_hang.py (manual_dir, or SYNTHETIC when it is empty).
Expected runtime (an estimate, not measured end to end): the RAE trains at ~5 sequences/s on a
2-core CPU (benchmarks/README.md), so one epoch of the ~9,600 hang training sequences takes ~32 min
and the 120 epochs about 2.5-3 days; tens of minutes on one GPU (not measured).
Paper: hang AUC 'over 0.9' (Figure 4).
"""

import ml_collections

from configs import default as default_lib


def get_config() -> ml_collections.ConfigDict:
  """Returns the rae_hang configuration: default.py with the RAE and its Table 1 schedule."""
  config = default_lib.get_config()
  config.model.name = "rae"
  config.train.epochs = 120  # Table 1 (RAE).
  config.train.batch_size = 64
  config.train.loss_weights.gray = 0.75  # Table 1: RAE gray 0.75 / flow 1.0.
  return config
