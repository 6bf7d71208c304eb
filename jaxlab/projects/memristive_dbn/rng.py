"""Cheap counter-based random numbers for device-sized arrays.

`jax.random.normal` over a 784x500 array costs ~60 ms per call on a 2-core CPU (bits alone ~30 ms),
which would dominate every batch. Here one scalar seed is drawn from the JAX key and each element
hashes (seed, flat index) with the `lowbias32` integer mixer (Wellons), ~1 ms for the same array.
Uniforms use the top 24 bits; normals are Irwin-Hall sums of the four bytes of a second hash
(mean 0, variance 1, range +-3.5 sigma): an approximation recorded in the module's deviations.
"""

import jax
import jax.numpy as jnp


def _mix(x):
  x = x ^ (x >> 16)
  x = x * jnp.uint32(0x7FEB352D)
  x = x ^ (x >> 15)
  x = x * jnp.uint32(0x846CA68B)
  return x ^ (x >> 16)


def _hash(key, shape, salt):
  seed = jax.random.bits(jax.random.fold_in(key, salt), (), jnp.uint32)
  n = 1
  for s in shape:
    n *= int(s)
  idx = jax.lax.iota(jnp.uint32, n).reshape(shape)
  return _mix(idx * jnp.uint32(0x9E3779B1) + _mix(seed))


def uniform(key, shape):
  """U[0, 1) float32 of `shape`."""
  return (_hash(key, shape, 0) >> 8).astype(jnp.float32) * jnp.float32(2.0 ** -24)


def normal(key, shape):
  """Approximately N(0, 1) float32 (Irwin-Hall of 4 bytes)."""
  h = _hash(key, shape, 1)
  s = ((h & 0xFF) + ((h >> 8) & 0xFF) + ((h >> 16) & 0xFF) + (h >> 24)).astype(jnp.float32)
  return (s - 510.0) * jnp.float32(1.0 / 147.80189)


def bernoulli(key, p):
  """1[p > u] as float32 (the stochastic binary neuron)."""
  return (p > uniform(key, jnp.shape(p))).astype(jnp.float32)
