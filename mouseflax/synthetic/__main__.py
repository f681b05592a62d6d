"""CLI"""

from __future__ import annotations

import logging

from mouseflax.synthetic import cache

# --------------------------------------------------------------------------------------------------
# CLI.

_SIZE_FLAGS = (
    "num_videos",
    "frames_per_video",
    "test_frames",
    "width",
    "height",
    "fps",
    "num_train",
    "num_test",
)


def _define_flags() -> None:
  """Defined only when run as a script, so that importing this module adds no global flags."""
  from absl import flags  # pylint: disable=g-import-not-at-top

  flags.DEFINE_enum("kind", "home_cage", list(cache.KINDS), "Which layout to write.")
  flags.DEFINE_string(
      "output_dir", None, "Folder to create (must not hold other files).", required=True
  )
  flags.DEFINE_integer("seed", 0, "Random seed: the same seed gives the same recordings.")
  flags.DEFINE_integer(
      "num_videos", None, "home_cage / open_field: number of recordings (default 8 / 4)."
  )
  flags.DEFINE_integer(
      "frames_per_video",
      None,
      "Frames per recording (home_cage 4500, open_field 1800, avenue 240).",
  )
  flags.DEFINE_integer("width", None, "Frame width (home_cage 320, open_field 640, avenue 640).")
  flags.DEFINE_integer("height", None, "Frame height (home_cage 240, open_field 480, avenue 360).")
  flags.DEFINE_float("fps", None, "Frames per second (home_cage 30, open_field 30, avenue 25).")
  flags.DEFINE_integer(
      "test_frames",
      None,
      "home_cage: frames of the designated test recording synth_cage_01 (default: twice "
      "frames_per_video).",
  )
  flags.DEFINE_integer("num_train", None, "avenue: training videos (default 16).")
  flags.DEFINE_integer("num_test", None, "avenue: test videos (default 21).")
  flags.DEFINE_integer("num_workers", None, "Processes rendering videos (default: automatic).")


def _main(argv: list[str]) -> None:
  from absl import flags  # pylint: disable=g-import-not-at-top

  del argv
  fv = flags.FLAGS
  size = {name: fv[name].value for name in _SIZE_FLAGS if fv[name].value is not None}
  params = cache.synthetic_params(fv.kind, seed=fv.seed, **size)
  folder = cache.materialize(fv.output_dir, params, num_workers=fv.num_workers)
  logging.info("Synthetic %s recordings ready in %s", fv.kind, folder)


if __name__ == "__main__":
  from mouseflax import cli  # pylint: disable=g-import-not-at-top

  _define_flags()
  cli.run(_main)
