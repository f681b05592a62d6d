"""Demo: the dual-stream CAE on synthetic home-cage recordings, hang held out (small, for a CPU).

  python -m mouseflax.main --config=configs/demo.py --workdir=workdirs/demo

Data: always synthetic (`data.manual_dir` empty): the input pipeline writes home-cage-like
recordings in the Jhuang layout once (`mouseflax/synthetic/`, generator v4: 5 recordings of 1,500
frames and the designated test recording of 6,000 frames, whose test half holds at least 5 bouts of
every behaviour), builds the records, and reuses them on later runs.
Expected runtime: under 5 minutes on a 2-core CPU, building the data included: 2:37 and 2:42 wall
(seeds 1 and 0, 2026-12-02, AMD EPYC, 2 cores, load ~2-3; writing the recordings ~19 s, 50 epochs
of training ~100 s). The epochs fill that budget; they were not chosen on the test split.
Expected AUC, hang held out, score `eval.score='mse_z'` (per-stream MSE z-scored with the normal
validation frames; the own_videos default, chosen on benchmarks/real_video_check.py, not on this
test split), with the baselines on the same test frames (2026-12-02):

  seed | mse_z | paper  mse  patch_z | gray  flow | PCA    flow magnitude  motion energy | bouts
  0    | 0.892 | 0.885 0.882 0.950   | 0.859 0.857 | 0.947  0.866          0.775         | 5/5
  1    | 0.913 | 0.859 0.859 0.906   | 0.955 0.824 | 0.950  0.834          0.711         | 5/5

The model beats motion energy and flow magnitude but NOT the 20-component PCA of the training
frames, which flags any dark mass high in the cage (rears as well: PCA's AUC of hang against rear
frames alone is 0.62-0.83, the model's 0.87-0.90); the model's flow stream does not tell hanging
from walking (AUC 0.38-0.41 on those frames alone: both move a lot and both reconstruct poorly). The
darkness of the crop's top 6 rows, the trivial cue of generator v3 (0.994), gives 0.644 / 0.617.
With `--config.data.dataset=mouse_behavior/groom`: seed 0 0.415, seed 1 0.472 (PCA 0.835 / 0.631,
flow magnitude 0.394 / 0.409, motion energy 0.438 / 0.423; no groom bout has a flagged frame at the
calibrated threshold): near chance against the still behaviours (0.52-0.53 against micromovement,
eating and rest), below it overall because walking and hanging frames reconstruct worse than
grooming; the paper finds its groom results "marginally better than random" on the real data. The
threshold: 40 s of normal validation frames cannot support 2 false events per hour, and
threshold.json says so (`warning`).
"""

import ml_collections

from configs import default as default_lib


def get_config() -> ml_collections.ConfigDict:
  """Returns the demo configuration: default.py, small enough for a CPU."""
  config = default_lib.get_config()
  config.data.synthetic_videos = 6
  config.data.synthetic_frames = 1500
  config.data.synthetic_test_frames = 6000
  config.model.width = 8
  config.optim.learning_rate = 2e-3  # 10x Table 1: fewer, shorter epochs than the paper.
  config.train.epochs = 70  # The 5-minute budget on 2 cores (docstring).
  config.train.batch_size = 16
  config.train.log_every_steps = 20
  config.eval.score = "mse_z"  # The own_videos default (docstring), not chosen on this test split.
  return config
