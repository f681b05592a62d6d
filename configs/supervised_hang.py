"""Supervised baseline (CAE encoder + classifier), hang as the score class (section 3.4).

  python -m mouseflax.main --config=configs/supervised_hang.py --workdir=workdirs/supervised_hang \
      --config.data.manual_dir=/path/to/jhuang_full_database

Data: the home-cage recordings of cae_hang.py (manual_dir, or SYNTHETIC when it is empty), with
the labelled splits, which keep the held-out behaviour.
Expected runtime: twice the CAE's epochs at about a quarter of its arithmetic per step (0.36 vs
1.32 forward GFLOP per sequence), on a somewhat larger split: roughly 3-4 h on a 2-core CPU (an
estimate from FLOPs, not measured). Paper: hang AUC 0.99 (section 3.4).
"""

import ml_collections

from configs import default as default_lib


def get_config() -> ml_collections.ConfigDict:
  """Returns the supervised_hang configuration: default.py with the supervised model and SGD."""
  config = default_lib.get_config()
  config.model.name = "supervised"
  # Section 3.4: SGD, lr 5e-4, 120 epochs, cross-entropy on per-frame behaviour labels;
  # score = probability of the held-out behaviour (which the labelled splits keep).
  config.optim.name = "sgd"
  config.optim.learning_rate = 5e-4
  config.train.epochs = 120
  config.train.train_split = "train_labelled"
  config.train.val_split = "validation_labelled"
  return config
