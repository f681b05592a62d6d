"""XLA:CPU flags that make convolutions fast on the CPU.

jax 0.10's XLA:CPU sends convolutions to a library path (YNN) that runs them on one core; this flag
sends them back to the multi-threaded path (2.4x on a 3x3 conv on a 2-core machine; measurements in
benchmarks/README.md, "XLA:CPU convolutions: why they are slow and what helps"). Flags are appended
to any the user set, never replacing them, and `MOUSEFLAX_NO_XLA_FLAGS=1` turns ours off.
"""

import os

CPU_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=-individual_convolution,-individual_dot",)


def configure() -> None:
  """Appends the CPU flags to XLA_FLAGS unless disabled or already present."""
  if os.environ.get("MOUSEFLAX_NO_XLA_FLAGS") == "1":
    return
  flags = os.environ.get("XLA_FLAGS", "")
  missing = [f for f in CPU_FLAGS if f.split("=")[0] not in flags]
  if missing:
    os.environ["XLA_FLAGS"] = " ".join([flags, *missing]).strip()
