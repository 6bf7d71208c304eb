"""Decoder-only causal transformer language model (GPT-2 layout: Radford et al.,
"Language Models are Unsupervised Multitask Learners", 2019).

Pre-LN blocks, learned token and position embeddings, tanh-GELU MLPs, a final
LayerNorm and (by default) an output projection tied to the token embedding.
Submodules are named like HuggingFace GPT-2 so checkpoints map one to one:

  wte, wpe                  Embed `[V, D]`, `[max_len, D]`
  h_{i}/ln_1, attn/{c_attn `[D, 3D]`, c_proj}, ln_2, mlp/{c_fc, c_proj}
  ln_f                      final LayerNorm
  lm_head                   Dense without bias, only if not tie_embeddings

Autoregressive decoding uses a fixed-size KV cache in the `cache` collection,
following flax's `MultiHeadDotProductAttention(decode=True)` pattern: create it
with `init_cache` (or `model.init(rng, tokens [B, max_len], decode=True)`), then
call with `decode=True, mutable=['cache']`. Each call writes its T tokens at the
cache index and advances it, so a whole prompt can be prefilled in one call and
then extended one token at a time; see `generate`.
"""

from typing import Any, Optional, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.nn import attention

Array = jax.Array

_init = nn.initializers.normal(stddev=0.02)


class CausalSelfAttention(nn.Module):
  """Causal multi-head self-attention with fused `c_attn` and a KV cache.

  Returns `(out [B, T, D], probs [B, heads, T, T_k])` where `T_k` is T, or
  `max_len` when decoding from the cache. Probabilities are also sown into
  `intermediates` as `attention`.
  """
  num_heads: int
  max_len: int
  num_layers: int = 1
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, *, decode: bool = False, train: bool = False):
    b, t, d = x.shape
    if d % self.num_heads:
      raise ValueError(f'd_model {d} not divisible by {self.num_heads} heads')
    qkv = nn.Dense(3 * d, dtype=self.dtype, kernel_init=_init,
                   name='c_attn')(x)
    q, k, v = (y.reshape(b, t, self.num_heads, -1)
               for y in jnp.split(qkv, 3, axis=-1))

    mask = attention.causal_mask(t)
    if decode:  # during init the cache is only created; the forward is plain causal
      k, v, mask = attention.cached_keys_values(self, k, v, self.max_len, mask)

    probs = attention.attention_weights(q, k, mask)
    self.sow('intermediates', 'attention', probs)
    dropped = nn.Dropout(self.dropout_rate, deterministic=not train)(probs)
    y = attention.attend(dropped, v).reshape(b, t, d)
    # GPT-2 scales the residual projections by 1/sqrt(2 * num_layers).
    proj_init = nn.initializers.normal(0.02 / (2 * self.num_layers) ** 0.5)
    y = nn.Dense(d, dtype=self.dtype, kernel_init=proj_init, name='c_proj')(y)
    return nn.Dropout(self.dropout_rate, deterministic=not train)(y), probs


class DecoderMlp(nn.Module):
  """`c_fc` -> tanh-GELU -> (gate) -> `c_proj`; GELU output sown as `hidden`.

  `gate`, broadcastable to `[B, T, mlp_dim]`, multiplies the hidden activation
  (Taylor pruning scores, or a 0/1 mask for a pruned width).
  """
  mlp_dim: int
  num_layers: int = 1
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, *, gate: Optional[Array] = None,
               train: bool = False) -> Array:
    d = x.shape[-1]
    h = nn.Dense(self.mlp_dim, dtype=self.dtype, kernel_init=_init,
                 name='c_fc')(x)
    h = nn.gelu(h, approximate=True)  # GPT-2's "gelu_new".
    if gate is not None:
      h = h * gate.astype(h.dtype)
    self.sow('intermediates', 'hidden', h)
    proj_init = nn.initializers.normal(0.02 / (2 * self.num_layers) ** 0.5)
    h = nn.Dense(d, dtype=self.dtype, kernel_init=proj_init, name='c_proj')(h)
    return nn.Dropout(self.dropout_rate, deterministic=not train)(h)


class DecoderBlock(nn.Module):
  """Pre-LN decoder block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`."""
  num_heads: int
  mlp_dim: int
  max_len: int
  num_layers: int = 1
  dropout_rate: float = 0.0
  layer_norm_eps: float = 1e-5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, *, decode: bool = False, train: bool = False,
               mlp_gate: Optional[Array] = None):
    ln = lambda name: nn.LayerNorm(epsilon=self.layer_norm_eps,
                                   dtype=self.dtype, name=name)
    y, probs = CausalSelfAttention(self.num_heads, self.max_len,
                                   self.num_layers, self.dropout_rate,
                                   dtype=self.dtype, name='attn')(
                                       ln('ln_1')(x), decode=decode,
                                       train=train)
    x = x + y
    x = x + DecoderMlp(self.mlp_dim, self.num_layers, self.dropout_rate,
                dtype=self.dtype, name='mlp')(ln('ln_2')(x), gate=mlp_gate,
                                              train=train)
    return x, probs


class TransformerLM(nn.Module):
  """GPT-2 style causal language model.

  Attributes:
    vocab_size: V.
    d_model: residual width D.
    num_layers: number of blocks.
    num_heads: attention heads.
    mlp_dim: MLP hidden width, or one width per block (pruned models).
    max_len: context length; size of `wpe` and of the KV cache.
    dropout_rate: embedding, attention-probability and residual dropout.
    tie_embeddings: output logits use `wte` transposed (GPT-2) instead of a
      separate `lm_head`.
    layer_norm_eps: 1e-5 as in GPT-2.
    dtype: computation dtype; logits are float32.
  """
  vocab_size: int = 50257
  d_model: int = 768
  num_layers: int = 12
  num_heads: int = 12
  mlp_dim: Union[int, Sequence[int]] = 3072
  max_len: int = 1024
  dropout_rate: float = 0.0
  tie_embeddings: bool = True
  layer_norm_eps: float = 1e-5
  dtype: Any = jnp.float32

  def mlp_dims(self) -> tuple:
    """MLP hidden width of each block."""
    return attention.per_block_widths(self.mlp_dim, self.num_layers)

  @nn.compact
  def __call__(self, tokens: Array, *, train: bool = False,
               decode: bool = False,
               mlp_gates: Optional[Sequence[Optional[Array]]] = None) -> Array:
    """Next-token logits.

    Args:
      tokens: `[B, T]` int32.
      train: enables dropout (needs a `dropout` rng).
      decode: read and extend the KV cache (apply with `mutable=['cache']`).
        Positions continue from the cache index; the caller must keep the
        total length within `max_len` (the cache write is clamped otherwise).
      mlp_gates: optional per-block gates for the MLP hidden activations, each
        broadcastable to `[B, T, mlp_dim_i]`.

    Returns:
      `[B, T, V]` float32 logits. Attention probabilities and MLP hidden
      activations are sown into `intermediates` (`h_{i}/attn/attention`,
      `h_{i}/mlp/hidden`).
    """
    mlp_dims = self.mlp_dims()
    if mlp_gates is not None and len(mlp_gates) != self.num_layers:
      raise ValueError(f'{len(mlp_gates)} mlp_gates for {self.num_layers} '
                       'layers')
    t = tokens.shape[1]
    wte = nn.Embed(self.vocab_size, self.d_model, embedding_init=_init,
                   dtype=self.dtype, name='wte')
    wpe = nn.Embed(self.max_len, self.d_model, embedding_init=_init,
                   dtype=self.dtype, name='wpe')
    positions = attention.decode_positions(self, t, decode)
    x = wte(tokens) + wpe(positions)[None]
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    for i in range(self.num_layers):
      x, _ = DecoderBlock(
          self.num_heads, mlp_dims[i], self.max_len, self.num_layers,
          self.dropout_rate, self.layer_norm_eps, dtype=self.dtype,
          name=f'h_{i}')(
              x, decode=decode, train=train,
              mlp_gate=None if mlp_gates is None else mlp_gates[i])
    x = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name='ln_f')(x)
    if self.tie_embeddings:
      logits = wte.attend(x)
    else:
      logits = nn.Dense(self.vocab_size, use_bias=False, dtype=self.dtype,
                        kernel_init=_init, name='lm_head')(x)
    return logits.astype(jnp.float32)


def init_cache(model: TransformerLM, batch_size: int):
  """An empty KV cache (`cache` collection) for `batch_size` sequences."""
  shapes = jax.eval_shape(
      lambda: model.init(jax.random.key(0),
                         jnp.zeros((batch_size, model.max_len), jnp.int32),
                         decode=True))
  return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes['cache'])


def _sample(rng: Array, logits: Array, temperature: float,
            top_k: Optional[int]) -> Array:
  """Samples `[B]` token ids from `[B, V]` logits; temperature 0 is greedy."""
  if temperature == 0.0:
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)
  logits = logits / temperature
  if top_k is not None:
    kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
    logits = jnp.where(logits < kth, -jnp.inf, logits)
  return jax.random.categorical(rng, logits, axis=-1).astype(jnp.int32)


def generate(model: TransformerLM, params, prompt: Array, *,
             max_new_tokens: int, rng: Array, temperature: float = 1.0,
             top_k: Optional[int] = None, return_logits: bool = False):
  """Autoregressive sampling with the KV cache.

  Prefills the cache with the whole prompt in one call, then runs a
  `lax.scan` over the remaining tokens, one token per step. All arguments but
  `params`, `prompt` and `rng` are static, so it can be jitted with e.g.
  `jax.jit(functools.partial(generate, model, max_new_tokens=32))`.

  Args:
    model: the `TransformerLM` (its dropout is disabled here).
    params: the model's `params` collection.
    prompt: `[B, T0]` int32, the same length for every sequence.
    max_new_tokens: number of tokens to generate; `T0 + max_new_tokens` must
      not exceed `model.max_len`.
    rng: sampling key.
    temperature: softmax temperature; 0 means greedy decoding.
    top_k: sample only among the k most likely tokens.
    return_logits: also return the logits each new token was drawn from.

  Returns:
    `[B, T0 + max_new_tokens]` int32 tokens (prompt included) and, with
    `return_logits`, `[B, max_new_tokens, V]` float32 logits.
  """
  b, t0 = prompt.shape
  if t0 + max_new_tokens > model.max_len:
    raise ValueError(f'prompt length {t0} + max_new_tokens {max_new_tokens} '
                     f'exceeds max_len {model.max_len}')
  if max_new_tokens < 1:
    raise ValueError('max_new_tokens must be >= 1')
  prompt = prompt.astype(jnp.int32)
  logits, state = model.apply({'params': params, 'cache': init_cache(model, b)},
                              prompt, decode=True, mutable=['cache'])
  keys = jax.random.split(rng, max_new_tokens)
  first_logits = logits[:, -1]
  first = _sample(keys[0], first_logits, temperature, top_k)

  def step(carry, key):
    cache, token = carry
    logits, state = model.apply({'params': params, 'cache': cache},
                                token[:, None], decode=True, mutable=['cache'])
    logits = logits[:, 0]
    nxt = _sample(key, logits, temperature, top_k)
    return (state['cache'], nxt), (nxt, logits)

  _, (tokens, step_logits) = jax.lax.scan(step, (state['cache'], first),
                                          keys[1:])
  tokens = jnp.concatenate([prompt, first[:, None], tokens.T], axis=1)
  if not return_logits:
    return tokens
  all_logits = jnp.concatenate(
      [first_logits[:, None], jnp.swapaxes(step_logits, 0, 1)], axis=1)
  return tokens, all_logits
