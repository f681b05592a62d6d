"""Pieces shared by the models: dtype parsing, stream channels, activations."""

import jax
import jax.numpy as jnp

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
# Channels of each input stream (ARCHITECTURE.md tensor conventions).
STREAM_CHANNELS = {"gray": 1, "flow": 2}


def compute_dtype(name: str) -> jnp.dtype:
  """The compute dtype named by config.model.dtype."""
  if name not in DTYPES:
    raise ValueError(f"config.model.dtype={name!r} is not one of {sorted(DTYPES)}.")
  return DTYPES[name]


def check_inputs(inputs: dict, streams: tuple[str, ...], spatial_rank: int) -> None:
  """Raises a clear error when a stream is missing or has the wrong rank/channels."""
  for stream in streams:
    if stream not in inputs:
      raise ValueError(f"model inputs lack stream {stream!r}; got keys {sorted(inputs)}.")
    x = inputs[stream]
    if x.ndim != spatial_rank + 2 or x.shape[-1] != STREAM_CHANNELS[stream]:
      raise ValueError(
          f"inputs[{stream!r}] has shape {x.shape}; expected [B,T,H,W,"
          f"{STREAM_CHANNELS[stream]}]."
      )


def to_output(x: jax.Array) -> jax.Array:
  """Sigmoid to [0,1], computed and returned in float32 so losses are exact in bfloat16 runs."""
  return jax.nn.sigmoid(x.astype(jnp.float32))
