"""TFDS builders of mouseflax's datasets, and the machinery they share.

Layout (ARCHITECTURE.md, "Layers"): `video_cache` preprocesses whole videos into `.npy` arrays (no
TFDS import), `raw_inputs` fingerprints the raw files a build read (no TFDS import),
`video_builder` is the builders' common base class, and each dataset has its own folder in the
`tfds new` layout. The package imports the `mouseflax` core (video, preprocess,
raw_formats, windows, streams, fileio), never `mouseflax.build_data` or the trainer.
"""


class MissingDataError(FileNotFoundError):
  """Raw recordings are missing from `manual_dir`; the message lists the expected paths."""
