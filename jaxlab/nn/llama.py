"""LLaMA-style decoder-only language model (Touvron et al., "LLaMA: Open and
Efficient Foundation Language Models", arXiv 2302.13971), with the Qwen2
variations (q/k/v biases, grouped-query attention).

Pre-norm blocks with RMSNorm, rotary position embeddings (RoPE, in HF's
`rotate_half` convention: the first and second halves of each head's
dimensions are the two coordinates of a rotation), causal attention with
optional grouped-query attention (`num_kv_heads < num_heads`), a SwiGLU MLP
`down(SiLU(gate(x)) * up(x))` without biases, a final RMSNorm, and logits tied
to the token embedding or from a separate `lm_head`.

Submodules are named like HuggingFace `LlamaForCausalLM` / `Qwen2ForCausalLM`
so checkpoints map one to one (`import_llama`, `export_llama`):

  embed_tokens                          Embed `[V, D]`
  layers_{i}/input_layernorm            RMSNorm (`scale` = HF `weight`)
  layers_{i}/self_attn/{q,k,v,o}_proj   Dense (`q,k,v` have biases in Qwen2)
  layers_{i}/post_attention_layernorm
  layers_{i}/mlp/{gate,up,down}_proj    Dense without bias
  norm                                  final RMSNorm
  lm_head                               only if not tie_embeddings

The interface is that of `jaxlab.nn.transformer.TransformerLM`: tokens
`[B, T]` -> float32 logits `[B, T, V]`; `mlp_gates` (one per block) multiply
the SwiGLU hidden activation `SiLU(gate) * up` right before `down_proj` (Taylor
pruning scores, 0/1 masks); `mlp_dim` may be one width per block (pruned
models, see `jaxlab.nn.attention.per_block_widths`); `decode=True` uses a
fixed-size KV cache, so `jaxlab.nn.transformer.generate` / `init_cache` work
unchanged. The blocks are an unrolled Python list (not `nn.scan`), which
handles ragged per-block widths after global pruning.
"""

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.nn import attention
from jaxlab.nn import weights

Array = jax.Array

_init = nn.initializers.normal(stddev=0.02)


class RMSNorm(nn.Module):
  """`x / sqrt(mean(x^2) + eps) * scale`, normalised in float32 (as HF)."""
  eps: float = 1e-6
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    scale = self.param('scale', nn.initializers.ones, (x.shape[-1],),
                       jnp.float32)
    x32 = x.astype(jnp.float32)
    y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True)
                            + self.eps)
    return scale.astype(self.dtype) * y.astype(self.dtype)


def rope_tables(positions: Array, head_dim: int, theta: float = 10000.0):
  """`(cos, sin)`, each `[T, head_dim]`, for integer `positions` `[T]`.

  HF layout: `inv_freq = theta^(-2i/head_dim)` for i < head_dim/2, and the
  angle table is the frequencies repeated twice, `[f_0..f_{h/2-1}, f_0..]`.
  """
  if head_dim % 2:
    raise ValueError(f'RoPE needs an even head dimension, got {head_dim}')
  inv_freq = 1.0 / (theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32)
                              / head_dim))
  freqs = positions.astype(jnp.float32)[:, None] * inv_freq[None]
  emb = jnp.concatenate([freqs, freqs], axis=-1)
  return jnp.cos(emb), jnp.sin(emb)


def rotate_half(x: Array) -> Array:
  """`[-x2, x1]` for `x = [x1, x2]` split along the last axis (HF)."""
  x1, x2 = jnp.split(x, 2, axis=-1)
  return jnp.concatenate([-x2, x1], axis=-1)


def apply_rope(x: Array, cos: Array, sin: Array) -> Array:
  """Rotates `x` `[B, T, H, Dh]` by the tables `[T, Dh]` (float32 math)."""
  x32 = x.astype(jnp.float32)
  c, s = cos[None, :, None, :], sin[None, :, None, :]
  return (x32 * c + rotate_half(x32) * s).astype(x.dtype)


class LlamaAttention(nn.Module):
  """Causal self-attention with RoPE, GQA and a KV cache.

  Returns `(out [B, T, D], probs [B, heads, T, T_k])`; probabilities are also
  sown into `intermediates` as `attention`.
  """
  num_heads: int
  num_kv_heads: int
  max_len: int
  rope_theta: float = 10000.0
  qkv_bias: bool = False
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, positions: Array, *, decode: bool = False,
               train: bool = False):
    b, t, d = x.shape
    if d % self.num_heads:
      raise ValueError(f'd_model {d} not divisible by {self.num_heads} heads')
    if self.num_heads % self.num_kv_heads:
      raise ValueError(f'{self.num_heads} heads not divisible by '
                       f'{self.num_kv_heads} key/value heads')
    dh = d // self.num_heads
    dense = lambda n, name, bias: nn.Dense(
        n, use_bias=bias, dtype=self.dtype, kernel_init=_init, name=name)
    q = dense(self.num_heads * dh, 'q_proj', self.qkv_bias)(x)
    k = dense(self.num_kv_heads * dh, 'k_proj', self.qkv_bias)(x)
    v = dense(self.num_kv_heads * dh, 'v_proj', self.qkv_bias)(x)
    q = q.reshape(b, t, self.num_heads, dh)
    k = k.reshape(b, t, self.num_kv_heads, dh)
    v = v.reshape(b, t, self.num_kv_heads, dh)
    cos, sin = rope_tables(positions, dh, self.rope_theta)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)

    mask = attention.causal_mask(t)
    if decode:  # during init the cache is only created; the forward is plain causal
      k, v, mask = attention.cached_keys_values(self, k, v, self.max_len, mask)

    rep = self.num_heads // self.num_kv_heads
    if rep > 1:  # HF repeat_kv: query head h reads key/value head h // rep.
      k, v = jnp.repeat(k, rep, axis=2), jnp.repeat(v, rep, axis=2)
    probs = attention.attention_weights(q, k, mask)
    self.sow('intermediates', 'attention', probs)
    dropped = nn.Dropout(self.dropout_rate, deterministic=not train)(probs)
    y = attention.attend(dropped, v).reshape(b, t, d)
    y = dense(d, 'o_proj', False)(y)
    return nn.Dropout(self.dropout_rate, deterministic=not train)(y), probs


class SwiGLU(nn.Module):
  """`down_proj(SiLU(gate_proj(x)) * up_proj(x) * gate)`, no biases.

  The hidden activation (the input of `down_proj`, after the gate) is sown
  into `intermediates` as `hidden`.
  """
  mlp_dim: int
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, *, gate: Optional[Array] = None,
               train: bool = False) -> Array:
    dense = lambda n, name: nn.Dense(n, use_bias=False, dtype=self.dtype,
                                     kernel_init=_init, name=name)
    h = nn.silu(dense(self.mlp_dim, 'gate_proj')(x)) * dense(
        self.mlp_dim, 'up_proj')(x)
    if gate is not None:
      h = h * gate.astype(h.dtype)
    self.sow('intermediates', 'hidden', h)
    y = dense(x.shape[-1], 'down_proj')(h)
    return nn.Dropout(self.dropout_rate, deterministic=not train)(y)


class LlamaBlock(nn.Module):
  """`x + attn(norm(x))`, then `x + mlp(norm(x))`."""
  num_heads: int
  num_kv_heads: int
  mlp_dim: int
  max_len: int
  rope_theta: float = 10000.0
  rms_norm_eps: float = 1e-6
  qkv_bias: bool = False
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, positions: Array, *, decode: bool = False,
               train: bool = False, mlp_gate: Optional[Array] = None):
    norm = lambda name: RMSNorm(self.rms_norm_eps, self.dtype, name=name)
    y, probs = LlamaAttention(
        self.num_heads, self.num_kv_heads, self.max_len, self.rope_theta,
        self.qkv_bias, self.dropout_rate, self.dtype, name='self_attn')(
            norm('input_layernorm')(x), positions, decode=decode, train=train)
    x = x + y
    x = x + SwiGLU(self.mlp_dim, self.dropout_rate, self.dtype, name='mlp')(
        norm('post_attention_layernorm')(x), gate=mlp_gate, train=train)
    return x, probs


class LlamaLM(nn.Module):
  """LLaMA / Qwen2 style causal language model.

  Attributes:
    vocab_size: V.
    d_model: residual width D (HF `hidden_size`).
    num_layers: number of blocks.
    num_heads: query heads.
    num_kv_heads: key/value heads (grouped-query attention); None = num_heads.
    mlp_dim: SwiGLU hidden width (HF `intermediate_size`), or one per block.
    max_len: context length; size of the KV cache (RoPE has no table limit).
    rope_theta: RoPE base.
    rms_norm_eps: RMSNorm epsilon (LLaMA-2 1e-5, Qwen2 1e-6).
    qkv_bias: biases on q/k/v projections (Qwen2).
    tie_embeddings: logits from `embed_tokens` transposed.
    dropout_rate: embedding, attention-probability and residual dropout
      (0 in LLaMA; useful for small models trained from scratch).
    dtype: computation dtype; logits are float32.
  """
  vocab_size: int = 32000
  d_model: int = 4096
  num_layers: int = 32
  num_heads: int = 32
  num_kv_heads: Optional[int] = None
  mlp_dim: Union[int, Sequence[int]] = 11008
  max_len: int = 4096
  rope_theta: float = 10000.0
  rms_norm_eps: float = 1e-5
  qkv_bias: bool = False
  tie_embeddings: bool = False
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  def mlp_dims(self) -> tuple:
    """MLP hidden width of each block."""
    return attention.per_block_widths(self.mlp_dim, self.num_layers)

  @property
  def kv_heads(self) -> int:
    return self.num_kv_heads or self.num_heads

  @nn.compact
  def __call__(self, tokens: Array, *, train: bool = False,
               decode: bool = False,
               mlp_gates: Optional[Sequence[Optional[Array]]] = None) -> Array:
    """Next-token logits.

    Args:
      tokens: `[B, T]` int32.
      train: enables dropout (needs a `dropout` rng).
      decode: read and extend the KV cache (apply with `mutable=['cache']`);
        positions continue from the cache index.
      mlp_gates: optional per-block gates on the SwiGLU hidden activations,
        each broadcastable to `[B, T, mlp_dim_i]`.

    Returns:
      `[B, T, V]` float32 logits. Attention probabilities and MLP hidden
      activations are sown into `intermediates`
      (`layers_{i}/self_attn/attention`, `layers_{i}/mlp/hidden`).
    """
    if tokens.ndim != 2:
      raise ValueError(f'tokens must be [B, T] int, got shape {tokens.shape}')
    mlp_dims = self.mlp_dims()
    if mlp_gates is not None and len(mlp_gates) != self.num_layers:
      raise ValueError(f'{len(mlp_gates)} mlp_gates for {self.num_layers} '
                       'layers')
    t = tokens.shape[1]
    embed = nn.Embed(self.vocab_size, self.d_model, embedding_init=_init,
                     dtype=self.dtype, name='embed_tokens')
    positions = attention.decode_positions(self, t, decode)
    x = embed(tokens)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    for i in range(self.num_layers):
      x, _ = LlamaBlock(
          self.num_heads, self.kv_heads, mlp_dims[i], self.max_len,
          self.rope_theta, self.rms_norm_eps, self.qkv_bias,
          self.dropout_rate, self.dtype, name=f'layers_{i}')(
              x, positions, decode=decode, train=train,
              mlp_gate=None if mlp_gates is None else mlp_gates[i])
    x = RMSNorm(self.rms_norm_eps, self.dtype, name='norm')(x)
    if self.tie_embeddings:
      logits = embed.attend(x)
    else:
      logits = nn.Dense(self.vocab_size, use_bias=False, dtype=self.dtype,
                        kernel_init=_init, name='lm_head')(x)
    return logits.astype(jnp.float32)


# ---------------------------------------------------------------------------
# HuggingFace LLaMA / Qwen2 checkpoints.
# ---------------------------------------------------------------------------

_LINEARS = ('self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj',
            'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj',
            'mlp.down_proj')
_NORMS = ('input_layernorm', 'post_attention_layernorm')


def config_from_hf(hf_config: Mapping[str, Any]) -> Dict[str, Any]:
  """`LlamaLM` keyword arguments from a HF `config.json` dict.

  Understands `model_type` 'llama' and 'qwen2' (Qwen2 has q/k/v biases).
  A pruned export may carry a list `intermediate_size` (one per layer).
  """
  model_type = hf_config.get('model_type', 'llama')
  if model_type not in ('llama', 'qwen2', 'mistral'):
    raise ValueError(f'unsupported model_type {model_type!r}; expected llama, '
                     'qwen2 or mistral')
  if hf_config.get('rope_scaling'):
    raise ValueError('rope_scaling is not supported (plain RoPE only); got '
                     f'{hf_config["rope_scaling"]}')
  d, h = hf_config['hidden_size'], hf_config['num_attention_heads']
  if hf_config.get('head_dim') not in (None, d // h):
    raise ValueError('head_dim != hidden_size / num_attention_heads is not '
                     'supported')
  inter = hf_config['intermediate_size']
  return dict(
      vocab_size=hf_config['vocab_size'], d_model=d,
      num_layers=hf_config['num_hidden_layers'], num_heads=h,
      num_kv_heads=hf_config.get('num_key_value_heads') or h,
      mlp_dim=tuple(inter) if isinstance(inter, (list, tuple)) else inter,
      max_len=hf_config.get('max_position_embeddings', 2048),
      rope_theta=float(hf_config.get('rope_theta', 10000.0)),
      rms_norm_eps=float(hf_config.get('rms_norm_eps', 1e-6)),
      qkv_bias=bool(hf_config.get('attention_bias', model_type == 'qwen2')),
      tie_embeddings=bool(hf_config.get('tie_word_embeddings', False)))


def config_to_hf(model: LlamaLM, model_type: str = 'llama') -> Dict[str, Any]:
  """A HF `config.json` dict for `model` (list `intermediate_size` if ragged).

  HF's own classes need one `intermediate_size`; a ragged (globally pruned)
  export is readable by `config_from_hf` / `load_hf` here only.
  """
  dims = model.mlp_dims()
  return dict(
      model_type=model_type, architectures=[
          'Qwen2ForCausalLM' if model_type == 'qwen2' else 'LlamaForCausalLM'],
      vocab_size=model.vocab_size, hidden_size=model.d_model,
      num_hidden_layers=model.num_layers,
      num_attention_heads=model.num_heads,
      num_key_value_heads=model.kv_heads,
      intermediate_size=dims[0] if len(set(dims)) == 1 else list(dims),
      max_position_embeddings=model.max_len, rope_theta=model.rope_theta,
      rms_norm_eps=model.rms_norm_eps, hidden_act='silu',
      attention_bias=model.qkv_bias,
      tie_word_embeddings=model.tie_embeddings)


def _entries(model: LlamaLM) -> List[tuple]:
  """`(hf key, flax path, hf->flax fn)` for every parameter of `model`."""
  entries = [('embed_tokens.weight', ('embed_tokens', 'embedding'),
              weights.copy_weight),
             ('norm.weight', ('norm', 'scale'), weights.copy_weight)]
  for i in range(model.num_layers):
    hf, block = f'layers.{i}.', f'layers_{i}'
    for lin in _LINEARS:
      path = (block, *lin.split('.'))
      entries.append((f'{hf}{lin}.weight', path + ('kernel',),
                      weights.linear_weight))
      if model.qkv_bias and lin.split('.')[1] in ('q_proj', 'k_proj',
                                                   'v_proj'):
        entries.append((f'{hf}{lin}.bias', path + ('bias',), weights.copy_weight))
    for norm in _NORMS:
      entries.append((f'{hf}{norm}.weight', (block, norm, 'scale'),
                      weights.copy_weight))
  return entries


def import_llama(state_dict: Mapping[str, np.ndarray],
                 model_config: Union[LlamaLM, Mapping[str, Any]]) -> dict:
  """Converts a HF `LlamaForCausalLM` / `Qwen2ForCausalLM` state dict.

  Keys may carry the `model.` prefix (`*ForCausalLM`) or not (`*Model`).
  `rotary_emb.inv_freq` buffers of older checkpoints are skipped. Untied
  models require `lm_head.weight`; tied ones accept it only if it equals
  `embed_tokens.weight`. HF already stores q/k in the `rotate_half` RoPE
  layout this model uses, so no permutation is needed (Meta's original
  `consolidated.*.pth` files use interleaved pairs: convert them with HF's
  `convert_llama_weights_to_hf.py` first).

  Raises:
    ValueError: missing/unexpected keys or shape mismatches, all listed.
  """
  model = weights.as_module(model_config, LlamaLM)
  names = {}
  for k in state_dict:
    short = k[len('model.'):] if k.startswith('model.') else k
    names[short] = k
  entries = list(_entries(model))
  errors = []
  if model.tie_embeddings:
    if 'lm_head.weight' in names and 'embed_tokens.weight' in names:
      head, emb = (np.asarray(state_dict[names[k]])
                   for k in ('lm_head.weight', 'embed_tokens.weight'))
      if head.shape != emb.shape or not np.array_equal(head, emb):
        errors.append('lm_head.weight differs from embed_tokens.weight but '
                      'the model ties embeddings (use tie_embeddings=False)')
  else:
    entries.append(('lm_head.weight', ('lm_head', 'kernel'), weights.linear_weight))

  def ignore(k):
    if k.endswith('rotary_emb.inv_freq'):
      return True
    return model.tie_embeddings and k == 'lm_head.weight'

  expected = jax.eval_shape(model.init, jax.random.key(0),
                            jnp.zeros((1, 1), jnp.int32))['params']
  return weights.build_params('LLaMA', state_dict, names, entries, expected, ignore,
                        errors)


def export_llama(params: Mapping[str, Any], model: LlamaLM,
                 prefix: str = 'model.') -> Dict[str, np.ndarray]:
  """The inverse of `import_llama`: a HF-layout `{key: float32 array}`.

  With tied embeddings `lm_head.weight` is omitted (HF re-ties it).
  """
  flat = {tuple(p.key for p in path): np.asarray(leaf, np.float32)
          for path, leaf in
          jax.tree_util.tree_flatten_with_path(jax.device_get(params))[0]}
  out = {}
  for hf, path, fn in _entries(model):
    w = flat[path]
    out[prefix + hf] = np.ascontiguousarray(
        w.T if fn is weights.linear_weight else w)
  if not model.tie_embeddings:
    out['lm_head.weight'] = np.ascontiguousarray(flat[('lm_head', 'kernel')].T)
  return out


def save_hf(directory: Union[str, os.PathLike], params, model: LlamaLM,
            model_type: str = 'llama') -> None:
  """Writes `config.json` + `model.safetensors` in HF's layout."""
  import safetensors.numpy  # pylint: disable=import-outside-toplevel
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, 'config.json'), 'w') as f:
    json.dump(config_to_hf(model, model_type), f, indent=1)
  safetensors.numpy.save_file(export_llama(params, model),
                              os.path.join(directory, 'model.safetensors'))


def load_hf(directory: Union[str, os.PathLike], **overrides):
  """`(model, params)` from a HF checkpoint folder.

  Reads `config.json` and `model.safetensors`, or the shards listed in
  `model.safetensors.index.json`, or `pytorch_model.bin` (needs torch).
  `overrides` replace `LlamaLM` arguments (e.g. `max_len`, `dtype`).
  """
  directory = os.fspath(directory)
  cfg_path = os.path.join(directory, 'config.json')
  if not os.path.exists(cfg_path):
    raise FileNotFoundError(f'{cfg_path} not found: pass a HF checkpoint '
                            'folder (config.json + *.safetensors)')
  with open(cfg_path) as f:
    model = LlamaLM(**{**config_from_hf(json.load(f)), **overrides})
  index = os.path.join(directory, 'model.safetensors.index.json')
  if os.path.exists(index):
    with open(index) as f:
      files = sorted(set(json.load(f)['weight_map'].values()))
  elif os.path.exists(os.path.join(directory, 'model.safetensors')):
    files = ['model.safetensors']
  elif os.path.exists(os.path.join(directory, 'pytorch_model.bin')):
    files = ['pytorch_model.bin']
  else:
    raise FileNotFoundError(f'no model.safetensors(.index.json) or '
                            f'pytorch_model.bin in {directory}')
  state_dict = {}
  for name in files:
    state_dict.update(weights.load_state_dict(os.path.join(directory, name)))
  return model, import_llama(state_dict, model)
