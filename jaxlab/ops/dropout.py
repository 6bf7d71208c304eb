"""Functional inverted dropout for the projects whose models are plain parameter pytrees (no Flax
`nn.Dropout` module to carry the rng)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def inverted_dropout(key: jax.Array, x: jax.Array, rate: float) -> jax.Array:
  """Zero each entry of `x` with probability `rate`, scale the kept ones by 1 / (1 − rate), so
  the expectation is `x`. `rate` is a Python float in [0, 1); 0 returns `x` unchanged."""
  if not 0.0 <= rate < 1.0:
    raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
  if rate == 0.0:
    return x
  keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
  return jnp.where(keep, x / (1.0 - rate), 0.0)
