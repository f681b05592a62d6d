"""Synthetic recordings written in the real on-disk layouts (the project's embedded default data).

A new user without a dataset runs the demo on these recordings, and every test exercises the real
readers through them, so they are written exactly in the layouts the builders read (ARCHITECTURE.md,
"Raw layouts"):

- `home_cage`: a side view of a home cage, Jhuang et al. 2010 layout (`<stem>.mpg` and
  `Annotator_group_1/<stem>.txt`); the behaviours, their statistics and the recording conditions.
- `open_field`: a top view of one mouse in an open-field arena, `<stem>.mp4` with annotations in
  the same layout (the own-videos path, and an evaluation through the annotations).
- `avenue`: a street scene in the CUHK Avenue layout (`training_videos/`, `testing_videos/`,
  `volLabel` masks).
- `cache`: generate once into a folder named by the parameters (generator version included),
  atomically, and reuse it; `__main__`: the CLI,
  `python -m mouseflax.synthetic --kind=home_cage|open_field|avenue --output_dir=DIR --seed=N`.
- `common`: seeded streams, smooth noise, atomic files, worker processes.

Everything is deterministic for a fixed seed: the same seed gives byte-identical annotation and
label files and identical decoded frames.
"""

from mouseflax.synthetic.avenue import AVENUE_DEFAULTS
from mouseflax.synthetic.avenue import write_avenue
from mouseflax.synthetic.cache import GENERATOR_VERSION
from mouseflax.synthetic.cache import KINDS
from mouseflax.synthetic.cache import MARKER_NAME
from mouseflax.synthetic.cache import ensure_synthetic
from mouseflax.synthetic.cache import materialize
from mouseflax.synthetic.cache import synthetic_dir_name
from mouseflax.synthetic.cache import synthetic_params
from mouseflax.synthetic.common import SyntheticConfigError
from mouseflax.synthetic.home_cage import BEHAVIORS
from mouseflax.synthetic.home_cage import HOME_CAGE_DEFAULTS
from mouseflax.synthetic.home_cage import write_home_cage
from mouseflax.synthetic.open_field import OPEN_FIELD_DEFAULTS
from mouseflax.synthetic.open_field import write_open_field

__all__ = [
    "AVENUE_DEFAULTS",
    "BEHAVIORS",
    "GENERATOR_VERSION",
    "HOME_CAGE_DEFAULTS",
    "KINDS",
    "MARKER_NAME",
    "OPEN_FIELD_DEFAULTS",
    "SyntheticConfigError",
    "ensure_synthetic",
    "materialize",
    "synthetic_dir_name",
    "synthetic_params",
    "write_avenue",
    "write_home_cage",
    "write_open_field",
]
