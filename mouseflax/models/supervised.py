"""Supervised baseline (paper section 2.1): the CAE's grayscale encoder + a fully connected head.

Trained with labels (held-out behaviour vs. the rest, or all 8 behaviours); the softmax probability
of the held-out class is the anomaly score. Logits are per frame, [B,T,num_classes], so frame-level
AUC works. The encoder has the CAE's parameter names (`gray_encoder`), so it can start from a
trained CAE.
"""

import flax.linen as nn
import jax.numpy as jnp

from mouseflax.models import cae
from mouseflax.models import common
from mouseflax.models import layers


class Supervised(nn.Module):
  """Per-frame classifier on the CAE grayscale encoder."""

  num_classes: int = 2
  classifier_hidden: int = 64
  width: int = cae.WIDTH
  kernels: tuple[int, ...] = cae.KERNELS
  strides: tuple[int, ...] = cae.STRIDES
  dilations: tuple[int, ...] = cae.DILATIONS
  conv_impl: str = "auto"
  dtype: str = "float32"

  @nn.compact
  def __call__(self, inputs: dict, *, train: bool = False) -> dict:
    del train  # No dropout or normalisation.
    if self.num_classes < 2:
      raise ValueError(f"config.model.num_classes={self.num_classes}: need at least 2 classes.")
    cae.validate_layers(self.kernels, self.strides, self.dilations)
    common.check_inputs(inputs, ("gray",), spatial_rank=3)
    dtype = common.compute_dtype(self.dtype)
    x = cae.CAEEncoder(
        self.width,
        self.kernels,
        self.strides,
        self.dilations,
        self.conv_impl,
        dtype,
        name="gray_encoder",
    )(inputs["gray"].astype(dtype))
    x = cae.flatten_frames(x)  # [B,T,h*w*c]: one feature vector per frame.
    x = nn.relu(layers.Dense(self.classifier_hidden, dtype, name="hidden")(x))
    logits = layers.Dense(self.num_classes, dtype, name="logits")(x)
    return {"logits": logits.astype(jnp.float32)}
