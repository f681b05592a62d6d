"""Pieces shared by the models: dtype parsing, input checks, activations."""

import jax
import jax.numpy as jnp

from mouseflax import streams

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
# config.model.dtype="auto": the dtype that fits the machine (`resolve_dtype`).
AUTO_DTYPE = "auto"
DTYPE_CHOICES = (AUTO_DTYPE, *DTYPES)
# Backends whose matrix units run the models' convolutions several times faster in bfloat16.
# Not the CPU: XLA:CPU's convolutions run no faster in bfloat16 than in float32, on AMX and
# AVX512-BF16 CPUs alike (benchmarks/README.md), so "auto" keeps float32 there.
BFLOAT16_BACKENDS = ("gpu", "cuda", "rocm", "tpu")
AUTO_REASONS = {
    "bfloat16": "auto on {backend}: its matrix units run bfloat16 convolutions several times "
    "faster than float32 (parameters, optimiser state and losses stay float32)",
    "float32": "auto on {backend}: XLA's {backend} convolutions run no faster in bfloat16 "
    "(benchmarks/README.md), so float32",
}
# Model inputs lie in [0, 1]; their middle is mid-grey and, for the flow, no motion.
# `centre_inputs` subtracts it (README: why).
INPUT_CENTRE = streams.FLOW_ZERO


def resolve_dtype(name: str, backend: str | None = None) -> tuple[str, str]:
  """(dtype name, why) for config.model.dtype `name`; "auto" picks by `backend` (default: jax's)."""
  if name not in DTYPE_CHOICES:
    raise ValueError(f"config.model.dtype={name!r} is not one of {list(DTYPE_CHOICES)}.")
  if name != AUTO_DTYPE:
    return name, "set by config.model.dtype"
  backend = backend or jax.default_backend()
  dtype = "bfloat16" if backend in BFLOAT16_BACKENDS else "float32"
  return dtype, AUTO_REASONS[dtype].format(backend=backend)


def compute_dtype(name: str) -> jnp.dtype:
  """The compute dtype named by config.model.dtype ("auto" resolved for this process)."""
  return DTYPES[resolve_dtype(name)[0]]


def stream_input(inputs: dict, stream: str, dtype: jnp.dtype, centre: bool) -> jax.Array:
  """One stream's input in the compute dtype, minus INPUT_CENTRE when `centre`."""
  x = inputs[stream]
  return (x - INPUT_CENTRE if centre else x).astype(dtype)


def check_inputs(inputs: dict, stream_names: tuple[str, ...], spatial_rank: int) -> None:
  """Raises a clear error when a stream is missing or has the wrong rank/channels."""
  for stream in stream_names:
    if stream not in inputs:
      raise ValueError(f"model inputs lack stream {stream!r}; got keys {sorted(inputs)}.")
    x = inputs[stream]
    if x.ndim != spatial_rank + 2 or x.shape[-1] != streams.STREAM_CHANNELS[stream]:
      raise ValueError(
          f"inputs[{stream!r}] has shape {x.shape}; expected [B,T,H,W,"
          f"{streams.STREAM_CHANNELS[stream]}]."
      )


def to_output(x: jax.Array) -> jax.Array:
  """Sigmoid to [0,1], computed and returned in float32 so losses are exact in bfloat16 runs."""
  return jax.nn.sigmoid(x.astype(jnp.float32))
