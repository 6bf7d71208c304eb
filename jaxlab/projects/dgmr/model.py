"""Teacher/student ViTs for DGMR: building a model of given per-block MLP widths, the pre-norm
token features distillation matches, and per-block physical slicing of the MLPs.

Students are the `jaxlab.nn` ViT with `mlp_dim` = one width per block (`hidden_sizes`, static
config), so a sliced student is an ordinary parameter tree of smaller shapes. The features are the
output of the last encoder block, i.e. the tokens before `encoder_norm` and `head` (the paper
replaces both by identity on teacher and student and copies the teacher's back afterwards).
"""

from __future__ import annotations

from typing import Sequence

import flax
import jax
import jax.numpy as jnp
import numpy as np

from jaxlab import nn as jnn
from jaxlab.ops import pruning

FROZEN = ("head", "encoder_norm")  # copied from the teacher, never trained


def create_model(model_config: dict, hidden_sizes: Sequence[int] | int | None = None):
  """`jaxlab.nn` ViT from `{'variant': ..., **overrides}` with MLP widths `hidden_sizes`."""
  kw = dict(model_config)
  variant = kw.pop("variant")
  kw.pop("name", None)
  if hidden_sizes is not None:
    kw["mlp_dim"] = (int(hidden_sizes) if np.ndim(hidden_sizes) == 0
                     else tuple(int(h) for h in hidden_sizes))
  return jnn.get_model("vit", variant, **kw)


def hidden_sizes_of(params) -> tuple[int, ...]:
  """Per-block MLP hidden widths read from the fc2 kernels (as the official loader does)."""
  blocks = sorted((k for k in params if k.startswith("encoder_block_")),
                  key=lambda s: int(s.rsplit("_", 1)[1]))
  return tuple(int(np.shape(params[b]["mlp"]["fc2"]["kernel"])[0]) for b in blocks)


def prenorm_features(model, params, images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """`(cls [B, D], patches [B, N, D])`: the last block's tokens, before the final norm.

  Read with flax `capture_intermediates` on the last encoder block, so the shared ViT needs no
  extra output; the unused norm/head computation is removed by XLA's dead-code elimination.
  """
  last = f"encoder_block_{model.depth - 1}"
  _, state = model.apply({"params": params}, images, train=False,
                         capture_intermediates=lambda mdl, name: (mdl.name == last
                                                                  and name == "__call__"),
                         mutable=["intermediates"])
  x = state["intermediates"][last]["__call__"][0][0]  # the block returns (tokens, attn probs)
  if model.classifier == "token":
    return x[:, 0], x[:, 1:]
  return jnp.mean(x, axis=1), x


def slice_vit(params, keep: Sequence[np.ndarray]):
  """Physically slices every block's MLP to the neurons `keep[l]` (`jaxlab.ops.pruning.slice_mlps`:
  indices sorted ascending; SwiGLU takes the same neurons from the gate and the value half)."""
  return pruning.slice_mlps(flax.core.unfreeze(params), keep)[0]


def masks_for(hidden: Sequence[int], keep: Sequence[np.ndarray]) -> list[jax.Array]:
  """0/1 masks `[H_l]` (broadcast as the ViT's `mlp_gates`) equivalent to `slice_vit(keep)`."""
  out = []
  for h, idx in zip(hidden, keep):
    m = np.zeros((h,), np.float32)
    m[np.asarray(idx)] = 1.0
    out.append(jnp.asarray(m))
  return out


def copy_frozen(student_params, teacher_params):
  """The teacher's head and final norm written back into the student (spec §3.5)."""
  out = dict(flax.core.unfreeze(student_params))
  for k in FROZEN:
    if k in teacher_params:
      out[k] = jax.tree.map(jnp.asarray, teacher_params[k])
  return out
