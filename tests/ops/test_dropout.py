"""Inverted dropout: identity at rate 0, the kept fraction and the scale, expectation preserved."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.ops import inverted_dropout


def test_rate_zero_is_identity():
  x = jnp.arange(12.0).reshape(3, 4)
  assert inverted_dropout(jax.random.key(0), x, 0.0) is x


def test_kept_entries_scaled_and_fraction_matches_rate():
  x = jnp.ones((200, 500), jnp.float32)
  y = inverted_dropout(jax.random.key(1), x, 0.3)
  chex.assert_shape(y, x.shape)
  chex.assert_type(y, jnp.float32)
  vals = np.unique(np.asarray(y))
  np.testing.assert_allclose(vals, [0.0, 1.0 / 0.7], rtol=1e-6)
  drop_frac = float(jnp.mean(y == 0))
  assert abs(drop_frac - 0.3) < 0.01      # 1e5 draws: std 0.0014
  assert abs(float(jnp.mean(y)) - 1.0) < 0.02


def test_same_key_same_mask_and_jit():
  x = jax.random.normal(jax.random.key(2), (8, 16))
  f = jax.jit(lambda k, x: inverted_dropout(k, x, 0.5))
  np.testing.assert_array_equal(f(jax.random.key(3), x), inverted_dropout(jax.random.key(3), x, 0.5))


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_bad_rate_raises(rate):
  with pytest.raises(ValueError, match="dropout rate"):
    inverted_dropout(jax.random.key(0), jnp.ones(3), rate)
