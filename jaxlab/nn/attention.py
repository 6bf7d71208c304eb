"""Scaled dot-product attention shared by the ViT and the transformer LM.

Written out by hand rather than through `nn.MultiHeadDotProductAttention` so the
callers can return the attention probabilities (`[B, heads, Tq, Tk]`) that
token-pruning and routing projects score tokens with.
"""

from typing import Optional

import jax
import jax.numpy as jnp

Array = jax.Array


def attention_weights(query: Array, key: Array,
                      mask: Optional[Array] = None) -> Array:
  """Softmax attention probabilities.

  Args:
    query: `[B, Tq, H, Dh]`.
    key: `[B, Tk, H, Dh]`.
    mask: optional boolean array broadcastable to `[B, H, Tq, Tk]`; True means
      the query may attend to the key.

  Returns:
    `[B, H, Tq, Tk]` float32 probabilities; each row sums to 1 (a fully masked
    row gives a uniform distribution rather than NaN).
  """
  depth = query.shape[-1]
  query = query / jnp.sqrt(depth).astype(query.dtype)
  # Logits and softmax in float32 even for bfloat16 models: the softmax is the
  # numerically fragile part and the probabilities are returned to callers.
  logits = jnp.einsum('bqhd,bkhd->bhqk', query, key,
                      preferred_element_type=jnp.float32)
  if mask is not None:
    logits = jnp.where(mask, logits, jnp.finfo(jnp.float32).min)
  return jax.nn.softmax(logits, axis=-1)


def attend(probs: Array, value: Array) -> Array:
  """Weighted sum of values.

  Args:
    probs: `[B, H, Tq, Tk]`.
    value: `[B, Tk, H, Dh]`.

  Returns:
    `[B, Tq, H, Dh]`.
  """
  return jnp.einsum('bhqk,bkhd->bqhd', probs.astype(value.dtype), value)


def cached_keys_values(module, key: Array, value: Array, max_len: int,
                       mask: Array) -> tuple:
  """The fixed-size key/value cache of autoregressive decoding, for a Flax attention module.

  Call inside the module's compact `__call__` with this step's `key`/`value` (`[B, T, Hkv, Dh]`)
  and its causal `mask`. At init the cache variables (`cached_key`, `cached_value`: `[B, max_len,
  Hkv, Dh]`; `cache_index`) are only created and the inputs come back unchanged. Afterwards the
  step is written at `cache_index`, the index advances by T, and the whole cache comes back with
  a mask in which query j (absolute position i + j) sees keys 0..i + j, which also hides the
  slots not written yet. Shared by the GPT-2-style and LLaMA attention so the two stay equal.
  """
  initialized = module.has_variable('cache', 'cached_key')
  shape = (key.shape[0], max_len) + key.shape[2:]
  cached_key = module.variable('cache', 'cached_key', jnp.zeros, shape, key.dtype)
  cached_value = module.variable('cache', 'cached_value', jnp.zeros, shape, value.dtype)
  cache_index = module.variable('cache', 'cache_index', lambda: jnp.array(0, dtype=jnp.int32))
  if not initialized:
    return key, value, mask
  i, t = cache_index.value, key.shape[1]
  key = jax.lax.dynamic_update_slice(cached_key.value, key, (0, i, 0, 0))
  value = jax.lax.dynamic_update_slice(cached_value.value, value, (0, i, 0, 0))
  cached_key.value, cached_value.value = key, value
  cache_index.value = i + t
  mask = (jnp.arange(max_len)[None, :] <= (i + jnp.arange(t))[:, None])[None, None]
  return key, value, mask


def decode_positions(module, length: int, decode: bool) -> Array:
  """Absolute positions `[length]` of this call's tokens, for a Flax LM's compact `__call__`.

  Without `decode` they are 0..length-1. With it, a `position_index` cache variable (created at
  init, when positions also start at 0) offsets them and advances by `length`, so successive
  decoding calls continue where the cache left off. Shared by the GPT-2-style and LLaMA LMs.
  """
  positions = jnp.arange(length)
  if decode:
    initialized = module.has_variable('cache', 'position_index')
    index = module.variable('cache', 'position_index', lambda: jnp.array(0, dtype=jnp.int32))
    if initialized:
      positions = positions + index.value
      index.value = index.value + length
  return positions


def causal_mask(length: int) -> Array:
  """`[1, 1, T, T]` boolean lower-triangular mask."""
  return jnp.tril(jnp.ones((length, length), dtype=bool))[None, None]


def per_block_widths(mlp_dim, num_blocks: int) -> tuple:
  """One MLP width per block: an int is repeated; a sequence (pruned models) must have one entry
  per block. Shared by the ViT and the LM, whose MLPs pruning projects shrink block by block."""
  if isinstance(mlp_dim, int):
    return (mlp_dim,) * num_blocks
  dims = tuple(int(m) for m in mlp_dim)
  if len(dims) != num_blocks:
    raise ValueError(f'{len(dims)} mlp_dim entries for {num_blocks} blocks')
  return dims
