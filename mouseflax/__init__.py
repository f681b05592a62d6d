"""mouseflax: dual-stream autoencoders for unsupervised anomaly detection in animal videos."""

from mouseflax import xla_flags as _xla_flags

# XLA reads its flags once, when the backend starts: set ours before any array exists.
_xla_flags.configure()

__version__ = "0.1.0"
