"""ViT tests."""

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

B, S = 2, 16  # tiny: patch 4 -> 16 patches + cls token


@pytest.fixture(scope='module')
def tiny():
  model = jnn.get_model('vit', 'tiny', head_zero_init=False)
  x = np.random.default_rng(0).normal(size=(B, S, S, 3)).astype(np.float32)
  params = jax.jit(model.init)(_key(1), x)['params']
  return model, x, params


@pytest.mark.parametrize('use_jit', [False, True])
def test_shapes_and_attention(tiny, use_jit):
  model, x, params = tiny
  fn = lambda p, x: model.apply({'params': p}, x, return_attention=True)
  out = (jax.jit(fn) if use_jit else fn)(params, x)
  chex.assert_shape(out['logits'], (B, 10))
  chex.assert_shape(out['cls'], (B, 32))
  chex.assert_shape(out['patch_tokens'], (B, 16, 32))
  assert len(out['attention']) == 2
  for a in out['attention']:
    chex.assert_shape(a, (B, 2, 17, 17))
    np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-5)
    assert (a >= 0).all()
  chex.assert_type([out['logits'], out['cls']], jnp.float32)


def test_no_attention_by_default_and_stable_names(tiny):
  model, x, params = tiny
  out = model.apply({'params': params}, x)
  assert 'attention' not in out
  block = params['encoder_block_1']
  assert set(block) == {'ln1', 'attn', 'ln2', 'mlp'}
  assert set(block['attn']) == {'query', 'key', 'value', 'out'}
  chex.assert_shape(block['mlp']['fc1']['kernel'], (32, 64))
  chex.assert_shape(block['mlp']['fc2']['kernel'], (64, 32))
  chex.assert_shape(params['embedding']['kernel'], (4, 4, 3, 32))
  chex.assert_shape(params['pos_embedding'], (1, 17, 32))


def test_mlp_gates_and_hidden(tiny):
  model, x, params = tiny
  ones = [jnp.ones((1, 1, 64))] * 2
  ref = model.apply({'params': params}, x)
  out, state = model.apply({'params': params}, x, mlp_gates=ones,
                           mutable=['intermediates'])
  np.testing.assert_allclose(out['logits'], ref['logits'], rtol=1e-6)
  hidden = state['intermediates']['encoder_block_0']['mlp']['hidden'][0]
  chex.assert_shape(hidden, (B, 17, 64))
  # A zero gate removes the MLP contribution of that neuron: masking every
  # neuron of block 0 equals dropping fc1's output entirely.
  zeros = [jnp.zeros((64,)), jnp.ones((64,))]
  masked = model.apply({'params': params}, x, mlp_gates=zeros)
  p2 = jax.tree.map(lambda a: a, params)
  p2['encoder_block_0']['mlp']['fc1']['kernel'] = jnp.zeros((32, 64))
  p2['encoder_block_0']['mlp']['fc1']['bias'] = jnp.zeros((64,))
  np.testing.assert_allclose(masked['logits'],
                             model.apply({'params': p2}, x)['logits'],
                             rtol=1e-5, atol=1e-6)


def test_gap_ragged_mlp_and_dropout():
  model = jnn.get_model('vit', 'tiny', classifier='gap', mlp_dim=(48, 16),
                        dropout_rate=0.1, num_classes=None)
  x = jnp.ones((1, 8, 8, 3))
  params = jax.jit(model.init)(_key(0), x)['params']
  assert 'cls' not in params and 'head' not in params
  chex.assert_shape(params['encoder_block_1']['mlp']['fc1']['kernel'],
                    (32, 16))
  out = jax.jit(functools.partial(model.apply, train=True))(
      {'params': params}, x, rngs={'dropout': _key(1)})
  assert 'logits' not in out
  chex.assert_shape(out['patch_tokens'], (1, 4, 32))
  np.testing.assert_allclose(out['cls'], out['patch_tokens'].mean(1),
                             rtol=1e-5, atol=1e-6)


def test_bfloat16_compute(tiny):
  _, x, params = tiny
  model = jnn.get_model('vit', 'tiny', dtype=jnp.bfloat16)
  out = jax.jit(functools.partial(model.apply, return_attention=True))(
      {'params': params}, x)
  chex.assert_type([out['logits'], out['attention'][0]], jnp.float32)


def test_swiglu_mlp_layout_and_closed_form():
  model = jnn.get_model('vit', 'tiny_swiglu', head_zero_init=False)
  x = np.random.default_rng(3).normal(size=(B, S, S, 3)).astype(np.float32)
  params = jax.jit(model.init)(_key(2), x)['params']
  mlp = params['encoder_block_0']['mlp']
  chex.assert_shape(mlp['fc1']['kernel'], (32, 128))  # [D, 2H]: gate half, value half
  chex.assert_shape(mlp['fc2']['kernel'], (64, 32))
  # the block's MLP on a random input equals silu(x W_g + b_g) * (x W_v + b_v) W2 + b2
  from jaxlab.nn import vit as jvit
  h = np.random.default_rng(4).normal(size=(2, 5, 32)).astype(np.float32)
  y = jvit.SwiGluMlpBlock(64).apply({'params': mlp}, h)
  u = h @ np.asarray(mlp['fc1']['kernel']) + np.asarray(mlp['fc1']['bias'])
  g, v = u[..., :64], u[..., 64:]
  ref = (g / (1 + np.exp(-g)) * v) @ np.asarray(mlp['fc2']['kernel']) + np.asarray(
      mlp['fc2']['bias'])
  np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
  out = model.apply({'params': params}, x, mlp_gates=[jnp.ones((64,))] * 2)
  np.testing.assert_allclose(out['logits'], model.apply({'params': params}, x)['logits'],
                             rtol=1e-6)


def test_clip_and_dinov2_options():
  x = jnp.ones((1, 16, 16, 3))
  model = jnn.get_model('vit', 'tiny', pre_norm=True, mlp_type='quick_gelu',
                        layer_scale_init=0.5)
  params = jax.jit(model.init)(_key(0), x)['params']
  assert 'pre_norm' in params
  np.testing.assert_allclose(params['encoder_block_0']['ls1'], 0.5)
  chex.assert_shape(params['encoder_block_1']['ls2'], (32,))
  # defaults keep the original parameter set
  plain = jax.eval_shape(jnn.get_model('vit', 'tiny').init, _key(0), x)['params']
  assert 'pre_norm' not in plain and 'ls1' not in plain['encoder_block_0']
  with pytest.raises(ValueError, match='mlp_type'):
    jnn.get_model('vit', 'tiny', mlp_type='relu').init(_key(0), x)
