"""AMP backbone handling: load the trained ViT, masked / sliced forwards, block-wise tails.

The backbone is a `jaxlab.nn.ViT` classifier trained by `configs/baselines/fmnist_vit*.py` and read
with `jaxlab.train.load_params`. Pruning decisions use masks (0/1 `[H_l]` gates, unchanged
shapes, one compilation); the final model is physically sliced (`jaxlab.ops.pruning.slice_mlps`)
and rebuilt with per-block widths.

For the adaptive search the blocks before the one being searched are intact, so their output on
the validation images is fixed: `block_inputs` computes every block's input once and `tail_apply`
runs only blocks `start..L-1` plus the final norm and head (about half the cost of a full pass).
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from jaxlab import nn as jnn
from jaxlab.nn import vit as jvit
from jaxlab.ops import pruning


@dataclasses.dataclass(frozen=True)
class Backbone:
  """A loaded classifier: module, params, and the input normalisation it was trained with."""
  model: jvit.ViT
  params: dict
  mean: np.ndarray
  std: np.ndarray
  config: Optional[dict] = None

  @property
  def widths(self) -> tuple:
    return self.model.mlp_dims()

  def normalize(self, images):
    from jaxlab import ops
    return ops.normalize(images, self.mean, self.std)

  def with_params(self, params, widths: Optional[Sequence[int]] = None) -> 'Backbone':
    model = self.model if widths is None else self.model.clone(mlp_dim=tuple(int(w) for w in widths))
    return dataclasses.replace(self, model=model, params=params)


def model_from_run_config(cfg: dict, num_classes: int = 10) -> jvit.ViT:
  """The ViT a baselines run trained (`config.json`'s model.name/variant/kwargs)."""
  m = cfg['model']
  if m['name'] != 'vit':
    raise ValueError(f"AMP prunes ViTs; the backbone run trained {m['name']!r}")
  return jnn.get_model('vit', m['variant'], num_classes=num_classes, **dict(m.get('kwargs') or {}))


def apply_masked(bb: Backbone, params, images, masks=None, *, train=False, rngs=None):
  """Model outputs (dict) of normalised `images` with MLP gates `masks` (None = unpruned)."""
  return bb.model.apply({'params': params}, bb.normalize(images), mlp_gates=masks, train=train,
                        rngs=rngs)


def _block(model: jvit.ViT, i: int) -> jvit.EncoderBlock:
  return jvit.EncoderBlock(model.num_heads, model.mlp_dims()[i], 0.0, 0.0, model.layer_norm_eps,
                           dtype=model.dtype, mlp_type=model.mlp_type,
                           layer_scale_init=model.layer_scale_init)


def block_inputs(bb: Backbone, images) -> list:
  """`[B, N+1, D]` input of every block (block 0: the embedded tokens) for the unpruned model."""
  names = {f'encoder_block_{i}' for i in range(bb.model.depth)}
  _, state = bb.model.apply(
      {'params': bb.params}, bb.normalize(images),
      capture_intermediates=lambda mdl, method: method == '__call__' and mdl.name in names,
      mutable=['intermediates'])
  inter = state['intermediates']
  outs = [inter[f'encoder_block_{i}']['__call__'][0][0] for i in range(bb.model.depth)]
  emb = embed(bb, images)
  return [emb] + outs[:-1]


def embed(bb: Backbone, images):
  """Patch embedding + cls token + position embedding (block 0's input)."""
  model, params = bb.model, bb.params
  p = model.patch_size
  x = nn.Conv(model.hidden_size, (p, p), strides=(p, p), padding='VALID', dtype=model.dtype).apply(
      {'params': params['embedding']}, bb.normalize(images).astype(model.dtype))
  b, h, w, d = x.shape
  x = x.reshape(b, h * w, d)
  if model.classifier == 'token':
    x = jnp.concatenate([jnp.tile(params['cls'], (b, 1, 1)).astype(x.dtype), x], axis=1)
  x = x + params['pos_embedding'].astype(x.dtype)
  if model.pre_norm:
    x = nn.LayerNorm(epsilon=model.layer_norm_eps, dtype=model.dtype).apply(
        {'params': params['pre_norm']}, x)
  return x


def tail_apply(model: jvit.ViT, params, x, masks, start: int) -> dict:
  """Blocks `start..L-1`, final norm and head on block `start`'s input `x`.

  `masks[i]` gates block i (only the entries i >= start are used). Returns `cls` and `logits`.
  """
  for i in range(start, model.depth):
    x, _ = _block(model, i).apply({'params': params[f'encoder_block_{i}']}, x,
                                  mlp_gate=None if masks is None else masks[i])
  x = nn.LayerNorm(epsilon=model.layer_norm_eps, dtype=model.dtype).apply(
      {'params': params['encoder_norm']}, x)
  cls = x[:, 0] if model.classifier == 'token' else jnp.mean(x, axis=1)
  logits = nn.Dense(model.num_classes, dtype=model.dtype).apply({'params': params['head']}, cls)
  return {'cls': cls.astype(jnp.float32), 'logits': logits.astype(jnp.float32)}


def prenorm_features(model: jvit.ViT, params, x_normalized, *, train=False, rngs=None) -> dict:
  """Distillation targets: the last block's output before the final norm, as `cls` (token 0)
  and `patch_tokens` (the rest), plus the usual `logits`. (The papers replace the final norm and
  head by identity on teacher and student; our ViT's outputs are post-norm, so the pre-norm
  tokens are captured.)"""
  last = f'encoder_block_{model.depth - 1}'
  out, state = model.apply(
      {'params': params}, x_normalized, train=train, rngs=rngs,
      capture_intermediates=lambda mdl, method: method == '__call__' and mdl.name == last,
      mutable=['intermediates'])
  h = state['intermediates'][last]['__call__'][0][0]
  return {'cls': h[:, 0], 'patch_tokens': h[:, 1:], 'logits': out['logits']}


def slice_backbone(bb: Backbone, keep: Sequence[Sequence[int]]) -> Backbone:
  """Physically sliced copy of the backbone keeping neurons `keep[l]` of block l."""
  params, widths = pruning.slice_mlps(bb.params, keep)
  return bb.with_params(params, widths)
