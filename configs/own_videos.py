"""Your own recordings: every video in a folder is normal behaviour; train, calibrate, then score.

  python -m mouseflax.main --config=configs/own_videos.py --workdir=workdirs/my_cage \
      --config.data.video_dir=/path/to/my/videos
  python -m mouseflax.score --workdir=workdirs/my_cage --video=/path/to/new.mp4 --output_dir=scored

Data: every video in `data.video_dir` (subfolders too), no annotations; the last
`data.validation_fraction` of each video's used part (by time) is held out for validation and for
the threshold (`eval.false_alarm_rate` of those frames flagged), one training-window span away from
the last training window. `data.video_fraction` < 1 leaves the end of every video out of training,
to score it afterwards. Protocol: data_builders/own_videos/.
Short recordings work as they are: training windows overlap (`data.train_hop` 4: a window of every
5th frame starts every 4 frames), so a single 50-second clip at 30 fps gives 283 training windows
(233 at 25 fps) instead of 29; when a split still holds fewer windows than `train.batch_size`,
training uses the largest batch that fits (a logged note).
Expected runtime: the dual-stream CAE on a 2-core CPU trains at roughly 30 sequences/s (1.1 s per
step of 32): the 283 windows of a 50-second clip take about 10 s per epoch, about 10 min for
default.py's 60 epochs. One hour of 30 fps video gives about 21,600 windows with train_hop 4,
about 12 min per epoch (12 h for 60 epochs); with hours of video, `--config.data.train_hop=0` (no
overlap, about 2,200 windows per hour) trains 10x faster. Estimates from step times, not measured
end to end; minutes on one GPU. There are no labels, so the AUCs in results.json are None.

Score: `eval.score='mse_z'` (the per-stream MSE, each z-scored with the normal validation frames,
averaged), chosen on benchmarks/real_video_check.py, never on a test split: on the real open-field
recording with six injected anomalies (README, "The real-video check") it gave AUC 0.792 against
0.777 ('mse'), 0.752 ('paper') and 0.729 ('patch_z'), and beat both baselines (PCA 0.749, motion
energy 0.622; measured 2026-12-02). The threshold: 2 false events per hour of normal validation
video (configs/default.py); threshold.json warns when the validation video is too short for it.

Fusion: `model.fusion='cross'` (each decoder reads both streams' codes, trains only its own;
mouseflax/models/README.md), chosen on the same check, 2026-12-03 (AMD EPYC, 2 cores, 30 epochs,
one run each): at this config's width 32 `mse_z` 0.793 against the paper's shared fusion's 0.748
(both streams learnt more: gray 0.64 / 0.50, flow 0.25 / 0.08), at width 8 0.832 / 0.836 against
0.805 / 0.824 (seeds 0 / 1); baselines on the same frames: PCA 0.747, motion energy 0.623. Runs
trained before this choice keep the shared fusion (config.json); resuming one with this config
stops and names the field (pass --config.model.fusion=shared).
"""

import ml_collections

from configs import default as default_lib


def get_config() -> ml_collections.ConfigDict:
  """Returns the own-videos configuration: default.py on the videos of `data.video_dir`."""
  config = default_lib.get_config()
  config.data.dataset = "own_videos"
  # Overlapping training windows: a few hundred from a 50-second clip (docstring).
  config.data.train_hop = 4
  config.eval.score = "mse_z"  # Chosen on the real-video check (docstring), not on a test split.
  config.model.fusion = "cross"  # Chosen on the real-video check too (docstring).
  return config
