"""Pieces shared by the models: dtype parsing, input checks, activations."""

import jax
import jax.numpy as jnp

from mouseflax import streams

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
# Model inputs lie in [0, 1]; their middle is mid-grey and, for the flow, no motion.
# `centre_inputs` subtracts it (README: why).
INPUT_CENTRE = streams.FLOW_ZERO


def compute_dtype(name: str) -> jnp.dtype:
  """The compute dtype named by config.model.dtype."""
  if name not in DTYPES:
    raise ValueError(f"config.model.dtype={name!r} is not one of {sorted(DTYPES)}.")
  return DTYPES[name]


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
