"""CIFAR ResNet tests."""

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


@pytest.fixture(scope='module')
def tiny():
  model = jnn.get_model('resnet', 'tiny')
  x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(np.float32)
  variables = jax.jit(model.init)(_key(1), x)
  return model, x, variables


@pytest.mark.parametrize('use_jit', [False, True])
def test_shapes(tiny, use_jit):
  model, x, variables = tiny
  fn = jax.jit(model.apply) if use_jit else model.apply
  y = fn(variables, x)
  chex.assert_shape(y, (2, 10))
  chex.assert_type(y, jnp.float32)


def test_structure(tiny):
  _, _, variables = tiny
  params = variables['params']
  # depth 8 -> one block per stage; stages 2 and 3 project the shortcut.
  assert {'stem_conv', 'stem_bn', 'stage1_block1', 'stage2_block1',
          'stage3_block1', 'head'} == set(params)
  assert 'proj_conv' not in params['stage1_block1']
  chex.assert_shape(params['stage3_block1']['proj_conv']['kernel'],
                    (1, 1, 8, 16))
  assert set(variables['batch_stats']['stem_bn']) == {'mean', 'var'}


def test_batch_stats_update_in_train_mode(tiny):
  model, x, variables = tiny
  y, state = model.apply(variables, x, train=True, mutable=['batch_stats'])
  chex.assert_shape(y, (2, 10))
  old = variables['batch_stats']['stem_bn']['mean']
  new = state['batch_stats']['stem_bn']['mean']
  assert not np.allclose(old, new)
  # momentum 0.9: new = 0.9 * old + 0.1 * batch mean of the stem conv output.
  conv = jax.lax.conv_general_dilated(
      x, variables['params']['stem_conv']['kernel'], (1, 1), 'SAME',
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  np.testing.assert_allclose(new, 0.1 * conv.mean(axis=(0, 1, 2)), atol=1e-5)
  # Eval mode leaves the statistics alone and does not need them mutable.
  model.apply(variables, x, train=False)


def test_features_without_head_and_bad_depth():
  x = jnp.ones((1, 8, 8, 3))
  model = jnn.CifarResNet(depth=8, width=4, num_classes=None)
  variables = jax.eval_shape(model.init, _key(0), x)
  chex.assert_shape(jax.eval_shape(model.apply, variables, x), (1, 16))
  with pytest.raises(ValueError, match='6n'):
    jnn.CifarResNet(depth=10).init(_key(0), x)
