"""Shape and behaviour tests of MLP and SimpleCNN."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import nn as jnn

# Keys use the unsafe_rbg PRNG: XLA:CPU compiles threefry slowly (a jitted
# init of the tiny ResNet takes ~15 s with threefry, ~1.6 s with rbg on the
# 2-core machine), and these tests check the models, not the random numbers.
_key = functools.partial(jax.random.key, impl='unsafe_rbg')


@pytest.mark.parametrize('use_jit', [False, True])
def test_mlp_shapes(use_jit):
  model = jnn.get_model('mlp', 'tiny')
  x = jnp.ones((3, 7))
  params = jax.jit(model.init)(_key(0), x)['params']
  fn = jax.jit(model.apply) if use_jit else model.apply
  y = fn({'params': params}, x)
  chex.assert_shape(y, (3, 10))
  chex.assert_type(y, jnp.float32)
  assert set(params) == {'dense_0', 'dense_1'}


def test_mlp_last_layer_linear_and_hidden_sown():
  model = jnn.MLP((5, 4), activation='relu', use_bias=False)
  x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 3)), jnp.float32)
  params = jax.jit(model.init)(_key(0), x)['params']
  y, state = model.apply({'params': params}, x, mutable=['intermediates'])
  hidden = state['intermediates']['hidden_0'][0]
  np.testing.assert_allclose(
      hidden, np.maximum(x @ params['dense_0']['kernel'], 0), rtol=1e-5)
  # Linear output: negative values survive.
  np.testing.assert_allclose(y, hidden @ params['dense_1']['kernel'], rtol=1e-5)


def test_mlp_dropout_and_unknown_activation():
  model = jnn.MLP((32, 2), dropout_rate=0.5)
  x = jnp.ones((4, 3))
  params = jax.jit(model.init)(_key(0), x)['params']
  a = model.apply({'params': params}, x, train=True,
                  rngs={'dropout': _key(1)})
  b = model.apply({'params': params}, x)
  assert not np.allclose(a, b)
  with pytest.raises(KeyError, match='valid'):
    jnn.MLP((2,), activation='nope').init(_key(0), x)


@pytest.mark.parametrize('use_jit', [False, True])
def test_simple_cnn_shapes(use_jit):
  model = jnn.get_model('simple_cnn', 'tiny')
  x = jnp.ones((2, 28, 28, 1))
  params = jax.jit(model.init)(_key(0), x)['params']
  fn = jax.jit(model.apply, static_argnames='train') if use_jit else model.apply
  y = fn({'params': params}, x, train=True,
         rngs={'dropout': _key(1)})
  chex.assert_shape(y, (2, 10))
  chex.assert_tree_all_finite(y)
