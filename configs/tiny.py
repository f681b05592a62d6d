"""Tiny configuration for tests and smoke runs: a 4-channel CAE on a few seconds of synthetic video.

  python -m mouseflax.main --config=configs/tiny.py --workdir=/tmp/mouseflax_tiny

Data: always synthetic (`data.manual_dir` empty), a few short recordings. Expected runtime: well
under a minute on a 2-core CPU once the records exist. Its AUC means nothing; it exercises every
code path.
"""

import ml_collections

from configs import default as default_lib


def get_config() -> ml_collections.ConfigDict:
  """Returns the tiny configuration: default.py, shrunk."""
  config = default_lib.get_config()
  config.data.synthetic_videos = 4
  config.data.synthetic_frames = 300
  config.data.synthetic_test_frames = 320  # The shortest the test recording may be.
  config.model.width = 4
  config.train.epochs = 1
  config.train.batch_size = 4  # A multiple of 2: CI runs with two host devices.
  config.train.log_every_steps = 5
  config.eval.batch_size = 16
  config.eval.timeline_max_videos = 2
  return config
