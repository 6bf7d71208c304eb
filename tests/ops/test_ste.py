"""Straight-through estimators: forward values and custom_vjp gradients against the closed form."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.ops import ste

X = jnp.array([-2.0, -1.0, -0.5, 0.0, 0.3, 1.0, 1.5], jnp.float32)


def test_ste_sign_forward_and_clipped_gradient():
  y = ste.ste_sign(X)
  np.testing.assert_array_equal(y, [-1, -1, -1, 1, 1, 1, 1])  # sign(0) = +1, never 0
  g = jax.grad(lambda x: (ste.ste_sign(x) * jnp.arange(7.0)).sum())(X)
  np.testing.assert_array_equal(g, np.arange(7.0) * (np.abs(np.asarray(X)) <= 1))
  g2 = jax.grad(lambda x: ste.ste_sign(x, 0.4).sum())(X)
  np.testing.assert_array_equal(g2, (np.abs(np.asarray(X)) <= 0.4).astype(np.float32))
  chex.assert_type(y, jnp.float32)


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_ste_round_forward_levels_and_identity_gradient(bits):
  w = jnp.linspace(0.0, 1.0, 37)
  q = ste.ste_round(w, bits)
  n = 2 ** bits - 1
  np.testing.assert_allclose(q, np.round(np.asarray(w) * n) / n)
  assert len(np.unique(np.asarray(q))) <= n + 1
  v = jnp.linspace(-1.0, 1.0, 37)
  g = jax.grad(lambda x: (ste.ste_round(x, bits) * v).sum())(w)
  np.testing.assert_array_equal(g, v)   # gate |w| <= 1 open on [0, 1]: exactly the identity
  g_out = jax.grad(lambda x: ste.ste_round(x, bits).sum())(jnp.array([1.5, -1.2, 0.5]))
  np.testing.assert_array_equal(g_out, [0.0, 0.0, 1.0])


def test_ste_round_rejects_bad_bits():
  with pytest.raises(ValueError, match="bits"):
    ste.ste_round(X, 0)


def test_dorefa_weight_binary_is_sign_and_gradient_is_c():
  w = jax.random.normal(jax.random.key(0, impl="unsafe_rbg"), (5, 7)) * 0.3
  q = ste.dorefa_weight(w, 1)
  np.testing.assert_array_equal(q, np.where(np.asarray(w) >= 0, 1.0, -1.0))
  v = jax.random.normal(jax.random.key(1, impl="unsafe_rbg"), w.shape)
  g = jax.grad(lambda x: (ste.dorefa_weight(x, 1) * v).sum())(w)
  np.testing.assert_allclose(g, ste.dorefa_scale(w) * v, rtol=1e-6, atol=1e-7)


def test_dorefa_scale_matches_finite_differences_with_max_held():
  w = np.asarray(jax.random.normal(jax.random.key(2, impl="unsafe_rbg"), (20,)), np.float64) * 0.5
  m = np.abs(np.tanh(w)).max()
  eps = 1e-4
  # d/dw_i of 2 * (tanh(w_i)/m * 0.5 + 0.5) - 1 = tanh(w_i)/m with m constant.
  fd = (np.tanh(w + eps) - np.tanh(w - eps)) / (2 * eps) / m
  np.testing.assert_allclose(ste.dorefa_scale(jnp.asarray(w, jnp.float32)), fd, rtol=1e-4)
  # And jax.grad of the normalisation (max detached) gives c / 2.
  g = jax.grad(lambda x: ste.dorefa_normalize(x).sum())(jnp.asarray(w, jnp.float32))
  np.testing.assert_allclose(2 * g, fd, rtol=1e-4)


def test_dorefa_normalize_range():
  w = jax.random.normal(jax.random.key(3, impl="unsafe_rbg"), (100,)) * 3
  n = ste.dorefa_normalize(w)
  assert float(n.min()) >= 0.0 and float(n.max()) <= 1.0
  assert np.isclose(float(jnp.abs(2 * n - 1).max()), 1.0)


def test_meta_ste_scales_backward_and_blocks_scale_gradient():
  w = jnp.array([0.5, -1.0, 2.0])
  s = jnp.array([2.0, 0.0, -1.0])
  np.testing.assert_array_equal(ste.meta_ste(w, s), w)
  gw, gs = jax.grad(lambda a, b: (ste.meta_ste(a, b) * jnp.array([1.0, 2.0, 3.0])).sum(),
                    argnums=(0, 1))(w, s)
  np.testing.assert_array_equal(gw, [2.0, 0.0, -3.0])
  np.testing.assert_array_equal(gs, [0.0, 0.0, 0.0])


def test_quantize_activation():
  np.testing.assert_array_equal(ste.quantize_activation(X, 32), X)
  np.testing.assert_array_equal(ste.quantize_activation(X, 1), ste.ste_sign(X))
  with pytest.raises(ValueError, match="32 or 1"):
    ste.quantize_activation(X, 4)


def test_jit_and_vmap():
  f = jax.jit(jax.vmap(lambda x: ste.dorefa_weight(x, 2)))
  out = f(jnp.ones((3, 4)) * jnp.arange(4.0))
  chex.assert_shape(out, (3, 4))
  chex.assert_tree_all_finite(out)
