"""Single-stream (grayscale) CAE on CUHK Avenue (section 3.1).

  python -m mouseflax.main --config=configs/cae_single_avenue.py
  --workdir=workdirs/cae_single_avenue \
      --config.data.manual_dir='/path/to/Avenue Dataset'

Data: CUHK Avenue ('Avenue Dataset/' with training_videos/, testing_videos/, ground_truth_demo/) in
manual_dir.
With `data.manual_dir` empty the job runs on SYNTHETIC recordings that the input
pipeline generates in the same on-disk layout (fine for a smoke run; its AUC says nothing about the
paper).
Expected runtime: CAE, 60 epochs at batch 32 (~480 steps/epoch on the real data): about 5 h on a
2-core CPU (~1.1 s/step), minutes on one GPU
(estimates from measured step times, not measured end to end).
Paper: Avenue AUC 0.784 (Table 2).
"""

import pathlib
import runpy

import ml_collections

_DEFAULT = pathlib.Path(__file__).with_name("default.py")


def get_config() -> ml_collections.ConfigDict:
  """Returns the cae_single_avenue configuration: default.py with the overrides below."""
  config = runpy.run_path(str(_DEFAULT))["get_config"]()
  config.data.dataset = "cuhk_avenue"
  config.model.name = "cae_single"
  return config
