"""Multi-layer perceptron."""

from typing import Any, Callable, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

_ACTIVATIONS = {
    'relu': nn.relu,
    'gelu': nn.gelu,
    'gelu_tanh': lambda x: nn.gelu(x, approximate=True),
    'silu': nn.silu,
    'swish': nn.silu,
    'tanh': jnp.tanh,
    'sigmoid': nn.sigmoid,
    'elu': nn.elu,
    'leaky_relu': nn.leaky_relu,
    'identity': lambda x: x,
}


def get_activation(name: Union[str, Callable[[Array], Array]]):
  """Activation function by name (or a callable passed through)."""
  if callable(name):
    return name
  try:
    return _ACTIVATIONS[name]
  except KeyError:
    raise KeyError(f'Unknown activation {name!r}; valid: '
                   f'{sorted(_ACTIVATIONS)}') from None


class MLP(nn.Module):
  """Stack of Dense layers; the last one has no activation.

  Layers are named `dense_{i}`. The activation of every hidden layer is sown
  into the `intermediates` collection as `hidden_{i}` (apply with
  `mutable=['intermediates']` to read them, e.g. for neuron pruning scores).

  Attributes:
    features: output width of every layer, e.g. `(300, 100, 10)`.
    activation: name in `get_activation` or a callable.
    dropout_rate: dropout after every hidden activation.
    use_bias: whether the Dense layers have biases.
    dtype: computation dtype; outputs are float32.
  """
  features: Sequence[int]
  activation: Union[str, Callable[[Array], Array]] = 'relu'
  dropout_rate: float = 0.0
  use_bias: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, *, train: bool = False) -> Array:
    """`[B, ..., F]` -> `[B, ..., features[-1]]`."""
    act = get_activation(self.activation)
    for i, width in enumerate(self.features):
      x = nn.Dense(width, use_bias=self.use_bias, dtype=self.dtype,
                   name=f'dense_{i}')(x)
      if i < len(self.features) - 1:
        x = act(x)
        self.sow('intermediates', f'hidden_{i}', x)
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return x.astype(jnp.float32)
