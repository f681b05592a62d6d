"""What every mouseflax video builder shares: worker processes, a preprocessing cache, record
features.

Each builder (`mouse_behavior`, `cuhk_avenue`, `own_videos`) preprocesses whole videos in worker
processes into a temporary cache beside the records, then cuts 8-frame sequences from the cache.
"""

from collections.abc import Callable
import dataclasses
import tempfile
from typing import Any

import tensorflow_datasets as tfds

from mouseflax import build_data

# Fields every TFDS BuilderConfig has (name, version, ...): not part of a protocol.
_TFDS_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(tfds.core.BuilderConfig))


def protocol_of(
    config: tfds.core.BuilderConfig, to_json: Callable[[Any], Any] = lambda value: value
) -> dict[str, Any]:
  """A builder config's own parameters as a JSON-able dict (stored in the dataset's metadata)."""
  return {
      f.name: to_json(getattr(config, f.name))
      for f in dataclasses.fields(config)
      if f.name not in _TFDS_CONFIG_FIELDS
  }


class VideoSequenceBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Base of the video builders (not a dataset itself: `skip_registration`)."""

  HOMEPAGE: str | None = None  # The dataset's page, shown in its DatasetInfo.

  def __init__(self, *, num_workers: int = 1, **kwargs: Any):
    super().__init__(**kwargs)
    self._num_workers = num_workers  # Processes preprocessing videos; does not change the bytes.
    self._cache_dir: str | None = None

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=build_data.sequence_features(
            self.builder_config.sequence_length, self.builder_config.preprocess
        ),
        homepage=self.HOMEPAGE,
        disable_shuffling=True,  # Generation order: by video, then time.
        metadata=tfds.core.MetadataDict(),
    )

  def _download_and_prepare(self, dl_manager, download_config=None) -> None:
    # Preprocessed whole videos (~4 KB per frame) live beside the records only during the build.
    with (
        tempfile.TemporaryDirectory(prefix=".preprocess-", dir=self.data_dir_root) as cache_dir,
        build_data.deterministic_serialization(),
    ):
      self._cache_dir = cache_dir
      try:
        super()._download_and_prepare(dl_manager, download_config)
      finally:
        self._cache_dir = None
