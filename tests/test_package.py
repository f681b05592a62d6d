"""Package-level checks: the library imports and sets its XLA flags without clobbering the
user's."""

import os
import subprocess
import sys


def test_import_appends_cpu_flags_to_user_flags():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  env.pop("MOUSEFLAX_NO_XLA_FLAGS", None)
  code = "import os, mouseflax; print(os.environ['XLA_FLAGS'])"
  out = subprocess.run(
      [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
  )
  flags = out.stdout.strip()
  assert "--xla_force_host_platform_device_count=2" in flags
  assert "--xla_cpu_experimental_ynn_fusion_type" in flags
