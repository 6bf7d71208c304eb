"""On-device image augmentation: pure, keyed, jit-friendly (static shapes, no host loops).

Doing augmentation inside the jitted train step keeps the host loop to index gathering, which
matters on small machines where a Python/numpy per-image loop would dominate the step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def normalize(images: jax.Array, mean, std) -> jax.Array:
  """uint8 or [0,1] float `[B, H, W, C]` -> standardised float32."""
  x = images.astype(jnp.float32)
  if images.dtype == jnp.uint8:
    x = x / 255.0
  return (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)


def random_crop(rng: jax.Array, images: jax.Array, padding: int = 4) -> jax.Array:
  """Zero-pads each side by `padding` and takes a random crop of the original size per image."""
  b, h, w, c = images.shape
  padded = jnp.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  offsets = jax.random.randint(rng, (b, 2), 0, 2 * padding + 1)

  def crop(img, off):
    return jax.lax.dynamic_slice(img, (off[0], off[1], 0), (h, w, c))
  return jax.vmap(crop)(padded, offsets)


def random_flip(rng: jax.Array, images: jax.Array) -> jax.Array:
  """Horizontal flip of each image with probability 1/2."""
  flip = jax.random.bernoulli(rng, 0.5, (images.shape[0], 1, 1, 1))
  return jnp.where(flip, images[:, :, ::-1, :], images)


def crop_flip(rng: jax.Array, images: jax.Array, padding: int = 4) -> jax.Array:
  """The standard CIFAR augmentation (He et al. 2016): pad-4 random crop + horizontal flip."""
  k1, k2 = jax.random.split(rng)
  return random_flip(k2, random_crop(k1, images, padding))
