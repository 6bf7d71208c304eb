"""Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words",
arXiv:2010.11929).

Pre-LN encoder blocks on non-overlapping patch embeddings, a learned position
embedding and, for `classifier='token'`, a class token. The parameter names are
stable so that pruning and weight-import code can find them:

  embedding                 Conv, kernel `[P, P, C, D]`
  cls                       `[1, 1, D]` (token classifier only)
  pos_embedding             `[1, N (+1), D]`
  encoder_block_{i}/ln1, attn/{query,key,value,out}, ln2, mlp/{fc1,fc2}
                            (`mlp_type='swiglu'`: fc1 kernel `[D, 2H]` holds the
                            gate half then the value half, as DINOv2's `w12`;
                            fc2 `[H, D]` is DINOv2's `w3`)
  encoder_norm              final LayerNorm
  head                      Dense classifier (absent when num_classes is None)

The cls token is prepended before the position embedding is added, as in the
HuggingFace/timm layout, so checkpoints import without reordering.
"""

from typing import Any, Optional, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.nn import attention

Array = jax.Array


class MultiHeadAttention(nn.Module):
  """Self-attention with separate `[D, D]` query, key, value, out layers.

  Returns `(out [B, N, D], probs [B, heads, N, N])`; the probabilities are
  also sown into `intermediates` as `attention`.
  """
  num_heads: int
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, *, mask: Optional[Array] = None,
               train: bool = False):
    d = x.shape[-1]
    if d % self.num_heads:
      raise ValueError(f'hidden size {d} not divisible by {self.num_heads} '
                       'heads')
    dense = lambda name: nn.Dense(d, dtype=self.dtype, name=name,
                                  kernel_init=nn.initializers.xavier_uniform())
    split = lambda y: y.reshape(y.shape[:-1] + (self.num_heads, -1))
    q, k, v = (split(dense(n)(x)) for n in ('query', 'key', 'value'))
    probs = attention.attention_weights(q, k, mask)
    self.sow('intermediates', 'attention', probs)
    dropped = nn.Dropout(self.dropout_rate, deterministic=not train)(probs)
    y = attention.attend(dropped, v)
    y = dense('out')(y.reshape(y.shape[:-2] + (d,)))
    return y, probs


class MlpBlock(nn.Module):
  """`fc1` -> GELU -> (gate) -> dropout -> `fc2`.

  The GELU output (`[B, N, mlp_dim]`, the neurons MLP pruning scores) is sown
  into `intermediates` as `hidden`. An optional `gate` broadcastable to it
  multiplies it: all ones for Taylor scores via `jax.grad` w.r.t. the gate, or a
  0/1 mask to evaluate a pruned width without changing shapes.
  """
  mlp_dim: int
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  activation: str = 'gelu'

  @nn.compact
  def __call__(self, x: Array, *, gate: Optional[Array] = None,
               train: bool = False) -> Array:
    d = x.shape[-1]
    init = nn.initializers.xavier_uniform()
    h = nn.Dense(self.mlp_dim, dtype=self.dtype, kernel_init=init,
                 name='fc1')(x)
    if self.activation == 'gelu':
      # Exact (erf) GELU, as in the original ViT and HuggingFace checkpoints.
      h = nn.gelu(h, approximate=False)
    elif self.activation == 'quick_gelu':
      # OpenAI CLIP's x * sigmoid(1.702 x).
      h = h * nn.sigmoid(1.702 * h)
    else:
      raise ValueError(f"activation must be 'gelu' or 'quick_gelu', got "
                       f'{self.activation!r}')
    if gate is not None:
      h = h * gate.astype(h.dtype)
    self.sow('intermediates', 'hidden', h)
    h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    h = nn.Dense(d, dtype=self.dtype, kernel_init=init, name='fc2')(h)
    return nn.Dropout(self.dropout_rate, deterministic=not train)(h)


class SwiGluMlpBlock(nn.Module):
  """Gated MLP (DINOv2's SwiGLUFFN): `fc1` -> SiLU(gate half) * value half ->
  (gate) -> dropout -> `fc2`.

  `fc1` is one Dense of width `2 * mlp_dim` whose first `mlp_dim` outputs are
  the SiLU gate and the last `mlp_dim` the value (the layout of DINOv2's fused
  `w12`), so hidden neuron j owns fc1 columns j and `mlp_dim + j` and fc2 row
  j. The product (`[B, N, mlp_dim]`) is sown as `hidden` and multiplied by the
  optional `gate`, exactly as in `MlpBlock`.
  """
  mlp_dim: int
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, *, gate: Optional[Array] = None,
               train: bool = False) -> Array:
    d = x.shape[-1]
    init = nn.initializers.xavier_uniform()
    h = nn.Dense(2 * self.mlp_dim, dtype=self.dtype, kernel_init=init,
                 name='fc1')(x)
    g, v = h[..., :self.mlp_dim], h[..., self.mlp_dim:]
    h = nn.silu(g) * v
    if gate is not None:
      h = h * gate.astype(h.dtype)
    self.sow('intermediates', 'hidden', h)
    h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    h = nn.Dense(d, dtype=self.dtype, kernel_init=init, name='fc2')(h)
    return nn.Dropout(self.dropout_rate, deterministic=not train)(h)


MLP_TYPES = ('gelu', 'quick_gelu', 'swiglu')


def _mlp(mlp_type: str, mlp_dim: int, dropout_rate: float, dtype) -> nn.Module:
  if mlp_type == 'swiglu':
    return SwiGluMlpBlock(mlp_dim, dropout_rate, dtype=dtype, name='mlp')
  if mlp_type in ('gelu', 'quick_gelu'):
    return MlpBlock(mlp_dim, dropout_rate, dtype=dtype, activation=mlp_type,
                    name='mlp')
  raise ValueError(f'mlp_type must be one of {MLP_TYPES}, got {mlp_type!r}')


class EncoderBlock(nn.Module):
  """Pre-LN block: `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.

  With `layer_scale_init` (DINOv2's LayerScale) each branch is multiplied by a
  learned `[D]` vector (`ls1`, `ls2`) before the residual add.

  Returns `(x [B, N, D], attention probs [B, heads, N, N])`.
  """
  num_heads: int
  mlp_dim: int
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0
  layer_norm_eps: float = 1e-6
  dtype: Any = jnp.float32
  mlp_type: str = 'gelu'
  layer_scale_init: Optional[float] = None

  @nn.compact
  def __call__(self, x: Array, *, mask: Optional[Array] = None,
               mlp_gate: Optional[Array] = None, train: bool = False):
    ln = lambda name: nn.LayerNorm(epsilon=self.layer_norm_eps,
                                   dtype=self.dtype, name=name)
    y, probs = MultiHeadAttention(self.num_heads, self.attention_dropout_rate,
                                  dtype=self.dtype, name='attn')(
                                      ln('ln1')(x), mask=mask, train=train)
    d = x.shape[-1]
    if self.layer_scale_init is not None:
      init = nn.initializers.constant(self.layer_scale_init)
      y = y * self.param('ls1', init, (d,)).astype(y.dtype)
    x = x + nn.Dropout(self.dropout_rate, deterministic=not train)(y)
    y = _mlp(self.mlp_type, self.mlp_dim, self.dropout_rate, self.dtype)(
        ln('ln2')(x), gate=mlp_gate, train=train)
    if self.layer_scale_init is not None:
      init = nn.initializers.constant(self.layer_scale_init)
      y = y * self.param('ls2', init, (d,)).astype(y.dtype)
    return x + y, probs


class ViT(nn.Module):
  """Vision Transformer classifier.

  Attributes:
    patch_size: side P of the square patches.
    hidden_size: token width D.
    depth: number of encoder blocks.
    num_heads: attention heads (D must be divisible by it).
    mlp_dim: hidden width of every block's MLP, or one width per block (for
      models whose MLPs were pruned to different widths).
    num_classes: logits of the head; None builds no head (feature extractor).
    dropout_rate: dropout on embeddings, attention output and MLP.
    attention_dropout_rate: dropout on the attention probabilities.
    classifier: 'token' (class token) or 'gap' (mean of the patch tokens).
    layer_norm_eps: 1e-6 as in big_vision; HuggingFace checkpoints use 1e-12.
    head_zero_init: zero-initialise the head (standard for ViT training).
    dtype: computation dtype; outputs are float32.
    mlp_type: 'gelu' (`MlpBlock`, the default), 'quick_gelu' (OpenAI CLIP's
      activation) or 'swiglu' (`SwiGluMlpBlock`, the DINOv2-style gated MLP;
      `mlp_dim` is then the gated hidden width).
    pre_norm: a LayerNorm (`pre_norm`) on the embedded tokens before the
      first block (CLIP's `pre_layrnorm`).
    layer_scale_init: DINOv2 LayerScale (`ls1`, `ls2` per block); None = off.
  """
  patch_size: int = 16
  hidden_size: int = 768
  depth: int = 12
  num_heads: int = 12
  mlp_dim: Union[int, Sequence[int]] = 3072
  num_classes: Optional[int] = 1000
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0
  classifier: str = 'token'
  layer_norm_eps: float = 1e-6
  head_zero_init: bool = True
  dtype: Any = jnp.float32
  mlp_type: str = 'gelu'
  pre_norm: bool = False
  layer_scale_init: Optional[float] = None

  def mlp_dims(self) -> tuple:
    """MLP hidden width of each block."""
    return attention.per_block_widths(self.mlp_dim, self.depth)

  @nn.compact
  def __call__(self, images: Array, *, train: bool = False,
               return_attention: bool = False,
               mlp_gates: Optional[Sequence[Optional[Array]]] = None) -> dict:
    """Classifies images.

    Args:
      images: `[B, H, W, C]`, H and W divisible by the patch size.
      train: enables dropout (needs a `dropout` rng).
      return_attention: also return every block's attention probabilities.
      mlp_gates: optional per-block gates for the MLP hidden activations, each
        broadcastable to `[B, N, mlp_dim_i]` (see `MlpBlock`).

    Returns:
      A dict with `logits [B, num_classes]` (when there is a head),
      `cls [B, D]` (the class token, or the mean patch token for 'gap', after
      the final LayerNorm), `patch_tokens [B, N, D]` (after the final
      LayerNorm) and, when requested, `attention`: a tuple over blocks of
      `[B, heads, N (+1), N (+1)]` arrays.
    """
    if self.mlp_type not in MLP_TYPES:
      raise ValueError(f'mlp_type must be one of {MLP_TYPES}, got '
                       f'{self.mlp_type!r}')
    if self.classifier not in ('token', 'gap'):
      raise ValueError(f"classifier must be 'token' or 'gap', got "
                       f'{self.classifier!r}')
    mlp_dims = self.mlp_dims()
    if mlp_gates is not None and len(mlp_gates) != self.depth:
      raise ValueError(f'{len(mlp_gates)} mlp_gates for depth {self.depth}')
    p = self.patch_size
    x = nn.Conv(self.hidden_size, (p, p), strides=(p, p), padding='VALID',
                dtype=self.dtype, name='embedding')(images.astype(self.dtype))
    b, h, w, d = x.shape
    x = x.reshape(b, h * w, d)
    if self.classifier == 'token':
      cls = self.param('cls', nn.initializers.zeros, (1, 1, d))
      x = jnp.concatenate([jnp.tile(cls, (b, 1, 1)).astype(x.dtype), x], axis=1)
    pos = self.param('pos_embedding', nn.initializers.normal(stddev=0.02),
                     (1, x.shape[1], d))
    x = x + pos.astype(x.dtype)
    if self.pre_norm:
      x = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                       name='pre_norm')(x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)

    attn = []
    for i in range(self.depth):
      x, probs = EncoderBlock(
          self.num_heads, mlp_dims[i], self.dropout_rate,
          self.attention_dropout_rate, self.layer_norm_eps, dtype=self.dtype,
          mlp_type=self.mlp_type, layer_scale_init=self.layer_scale_init,
          name=f'encoder_block_{i}')(
              x, mlp_gate=None if mlp_gates is None else mlp_gates[i],
              train=train)
      attn.append(probs)
    x = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name='encoder_norm')(x)

    if self.classifier == 'token':
      cls_out, patches = x[:, 0], x[:, 1:]
    else:
      cls_out, patches = jnp.mean(x, axis=1), x
    out = {'cls': cls_out.astype(jnp.float32),
           'patch_tokens': patches.astype(jnp.float32)}
    if self.num_classes is not None:
      init = (nn.initializers.zeros if self.head_zero_init
              else nn.initializers.lecun_normal())
      logits = nn.Dense(self.num_classes, dtype=self.dtype, kernel_init=init,
                        name='head')(cls_out)
      out['logits'] = logits.astype(jnp.float32)
    if return_attention:
      out['attention'] = tuple(attn)
    return out
