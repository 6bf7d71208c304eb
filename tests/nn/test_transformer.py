"""Transformer LM tests: shapes, causality, KV-cache decoding."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import nn as jnn

# unsafe_rbg keys: threefry compiles slowly on XLA:CPU (see test_resnet.py).
_key = functools.partial(jax.random.key, impl='unsafe_rbg')

B, T, V = 2, 8, 64


@pytest.fixture(scope='module')
def tiny():
  model = jnn.get_model('transformer_lm', 'tiny')
  tokens = jnp.asarray(np.random.default_rng(0).integers(0, V, (B, T)),
                       jnp.int32)
  params = jax.jit(model.init)(_key(0), tokens)['params']
  return model, tokens, params


@pytest.mark.parametrize('use_jit', [False, True])
def test_shapes(tiny, use_jit):
  model, tokens, params = tiny
  fn = jax.jit(model.apply) if use_jit else model.apply
  logits = fn({'params': params}, tokens)
  chex.assert_shape(logits, (B, T, V))
  chex.assert_type(logits, jnp.float32)
  assert set(params) == {'wte', 'wpe', 'h_0', 'h_1', 'ln_f'}
  assert set(params['h_0']) == {'ln_1', 'attn', 'ln_2', 'mlp'}
  chex.assert_shape(params['h_0']['attn']['c_attn']['kernel'], (32, 96))
  chex.assert_shape(params['h_0']['mlp']['c_fc']['kernel'], (32, 64))


def test_causality(tiny):
  model, tokens, params = tiny
  fn = jax.jit(lambda t: model.apply({'params': params}, t))
  changed = tokens.at[:, 5].set((tokens[:, 5] + 1) % V)
  a, b = fn(tokens), fn(changed)
  np.testing.assert_allclose(a[:, :5], b[:, :5], rtol=1e-6, atol=1e-6)
  assert not np.allclose(a[:, 5:], b[:, 5:])


@pytest.fixture(scope='module')
def greedy(tiny):
  model, tokens, params = tiny
  gen = jax.jit(functools.partial(jnn.generate, model, max_new_tokens=6,
                                  temperature=0.0, return_logits=True))
  return gen(params, tokens[:, :5], rng=_key(1))


def test_cached_greedy_decoding_matches_full_forward(tiny, greedy):
  model, tokens, params = tiny
  out, logits = greedy
  chex.assert_shape(out, (B, 11))
  chex.assert_shape(logits, (B, 6, V))
  np.testing.assert_array_equal(out[:, :5], tokens[:, :5])
  # No cache: recompute the whole sequence at once.
  full = jax.jit(model.apply)({'params': params}, out)
  np.testing.assert_allclose(logits, full[:, 4:-1], rtol=1e-4, atol=1e-5)
  np.testing.assert_array_equal(out[:, 5:], jnp.argmax(full[:, 4:-1], -1))


def test_top_k_sampling_and_length_check(tiny, greedy):
  model, tokens, params = tiny
  # top_k=1 sampling (temperature and categorical path) must be greedy.
  out = jax.jit(functools.partial(jnn.generate, model, max_new_tokens=6,
                                  temperature=0.7, top_k=1))(
                                      params, tokens[:, :5], rng=_key(3))
  assert out.dtype == jnp.int32
  np.testing.assert_array_equal(out, greedy[0])
  with pytest.raises(ValueError, match='max_len'):
    jnn.generate(model, params, tokens, max_new_tokens=30, rng=_key(0))


def test_cache_layout(tiny):
  model, _, _ = tiny
  cache = jnn.init_cache(model, batch_size=3)
  chex.assert_shape(cache['h_1']['attn']['cached_key'], (3, 32, 2, 16))
  assert int(cache['position_index']) == 0


def test_attention_intermediates_gates_and_untied_head(tiny):
  model, tokens, params = tiny
  logits, state = model.apply({'params': params}, tokens,
                              mutable=['intermediates'])
  probs = state['intermediates']['h_1']['attn']['attention'][0]
  chex.assert_shape(probs, (B, 2, T, T))
  np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
  assert float(jnp.abs(jnp.triu(probs, k=1)).max()) == 0.0
  chex.assert_shape(state['intermediates']['h_0']['mlp']['hidden'][0],
                    (B, T, 64))
  gated = model.apply({'params': params}, tokens,
                      mlp_gates=[jnp.ones(64), jnp.ones(64)])
  np.testing.assert_allclose(gated, logits, rtol=1e-6)

  untied = jnn.get_model('transformer_lm', 'tiny', tie_embeddings=False,
                         mlp_dim=(16, 8))
  shapes = jax.eval_shape(untied.init, _key(0), tokens)['params']
  chex.assert_shape(shapes['lm_head']['kernel'], (32, V))
  chex.assert_shape(shapes['h_1']['mlp']['c_fc']['kernel'], (32, 8))
