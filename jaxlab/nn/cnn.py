"""Small convolutional network for MNIST-sized images."""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


class SimpleCNN(nn.Module):
  """conv3x3-relu-maxpool blocks, then a hidden Dense layer and a classifier.

  With the defaults this is the usual MNIST convnet: conv32 and conv64 (each
  followed by 2x2 max-pooling, which keeps the Dense layer small on CPU), dense
  128, dropout 0.5, dense `num_classes`.

  Attributes:
    num_classes: number of output logits.
    features: channels of the conv layers (`conv_{i}`).
    hidden: width of the Dense layer after flattening (`dense`).
    dropout_rate: dropout before the classifier (`head`).
    dtype: computation dtype; logits are float32.
  """
  num_classes: int = 10
  features: Sequence[int] = (32, 64)
  hidden: int = 128
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, *, train: bool = False) -> Array:
    """`[B, H, W, C]` images -> `[B, num_classes]` logits."""
    x = x.astype(self.dtype)
    for i, width in enumerate(self.features):
      x = nn.Conv(width, (3, 3), dtype=self.dtype, name=f'conv_{i}')(x)
      x = nn.relu(x)
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = x.reshape((x.shape[0], -1))
    x = nn.Dense(self.hidden, dtype=self.dtype, name='dense')(x)
    x = nn.relu(x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = nn.Dense(self.num_classes, dtype=self.dtype, name='head')(x)
    return x.astype(jnp.float32)
