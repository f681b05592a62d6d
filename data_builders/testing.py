"""Helpers for the builders' tests: records read back as TFDS users read them, frame sets.

The builder tests run the checks of `tfds.testing.DatasetBuilderTestCase` (which needs TensorFlow)
against records read with `tfds.data_source` in a fresh interpreter, which must not import
TensorFlow.
"""

import json
import pathlib
import subprocess
import sys
from typing import Any

import numpy as np

# Reads every split with tfds.data_source in a fresh interpreter and saves them as one .npz.
READ_SCRIPT = """
import json, sys
import numpy as np
import tensorflow_datasets as tfds
data_dir, name, out = sys.argv[1:]
sources = tfds.data_source(name, data_dir=data_dir)
arrays = {}
for split, source in sources.items():
  examples = source.__getitems__(range(len(source)))
  for key in examples[0]:
    arrays[f"{split}/{key}"] = np.stack([np.asarray(e[key]) for e in examples])
np.savez(out, **arrays)
builder = tfds.builder(name, data_dir=data_dir)
print(json.dumps({"metadata": dict(builder.info.metadata), "tf": "tensorflow" in sys.modules}))
"""


def read_without_tf(
    data_dir: pathlib.Path, name: str, tmp_dir: pathlib.Path
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
  """(split -> key -> array, metadata) as read by a fresh process; asserts TF was never imported."""
  out = tmp_dir / "read.npz"
  result = subprocess.run(
      [sys.executable, "-c", READ_SCRIPT, str(data_dir), name, str(out)],
      capture_output=True,
      text=True,
      check=True,
  )
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert not report["tf"], "reading the records imported TensorFlow"
  arrays = {}
  with np.load(out) as npz:
    for key in npz.files:
      split, field = key.split("/")
      arrays.setdefault(split, {})[field] = npz[key]
  return arrays, report["metadata"]


def frame_set(split: dict[str, np.ndarray]) -> set[tuple[int, int]]:
  """The (video, frame_index) pairs of a split's windows."""
  pairs = zip(split["video"], split["frame_index"])
  return {(int(v), int(f)) for v, frames in pairs for f in frames}
