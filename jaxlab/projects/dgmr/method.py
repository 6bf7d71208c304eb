"""DGMR neuron selection: Gram-Schmidt diversity order (k rounds) and the baselines it is compared to.

Everything here works on one MLP at a time through its neuron matrix `W` `[H, D]`: row j holds the
input weights of hidden neuron j (the transposed flax `fc1` kernel; for a SwiGLU block the gate row
and the value row of neuron j side by side, `[H, 2D]`). `gs_select` is one jitted greedy
Gram-Schmidt round; `kround_gs_order` chains rounds as the paper's `--mlp_ratio` path does;
`select_neurons` dispatches on the criterion name (gs, l2, random, taylor) and returns, per block,
the sorted indices of the kept neurons, ready for `jaxlab.ops.pruning` slicing.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

METHODS = ("gs", "l2", "random", "taylor")


@functools.partial(jax.jit, static_argnames=("k",))
def gs_select(w: jax.Array, avail: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
  """One greedy Gram-Schmidt round over the rows of `w` (column-pivoted QR of `w.T`).

  Args:
    w: `[H, D]` neuron rows (float; computed in float32).
    avail: `[H]` bool, rows that may be picked (earlier rounds' picks are False).
    k: number of picks (static). Must not exceed the number of available rows (checked by the
      callers that know `avail` on the host).

  Returns:
    `(idx [k] int32, residual_norms [k] float32)`: the picked rows in pick order and the residual
    norm each had when picked (the |R_jj| of the QR). Picks are always distinct: taken rows are
    masked to -inf, so rank exhaustion (k > rank) cannot re-pick a row.
  """
  r = w.astype(jnp.float32)
  h = r.shape[0]
  if avail.shape != (h,):
    raise ValueError(f"avail must have shape ({h},), got {avail.shape}")

  def body(i, carry):
    r, taken, idx, norms = carry
    n2 = jnp.sum(r * r, axis=1)
    n2 = jnp.where(taken | ~avail, -jnp.inf, n2)
    j = jnp.argmax(n2)
    nrm = jnp.sqrt(jnp.maximum(n2[j], 0.0))
    # After rank exhaustion the residual is noise (or exactly 0): project nothing out then.
    v = jnp.where(nrm > 0, r[j] / jnp.where(nrm > 0, nrm, 1.0), 0.0)
    r = r - jnp.outer(r @ v, v)
    return (r, taken.at[j].set(True), idx.at[i].set(j.astype(jnp.int32)),
            norms.at[i].set(nrm))

  init = (r, jnp.zeros((h,), bool), jnp.zeros((k,), jnp.int32), jnp.zeros((k,), jnp.float32))
  _, _, idx, norms = jax.lax.fori_loop(0, k, body, init)
  return idx, norms


def gs_residual(w: jax.Array, idx: jax.Array) -> jax.Array:
  """Rows of `w` minus their projection on the span of rows `idx` (for the exhaustion check)."""
  q, _ = jnp.linalg.qr(w[idx].T.astype(jnp.float32))
  w = w.astype(jnp.float32)
  return w - (w @ q) @ q.T


def kround_gs_order(w, num_keep: int) -> np.ndarray:
  """DGMR's k-round selection (spec §3.3): the first `num_keep` neurons in priority order.

  Each round restarts Gram-Schmidt from the ORIGINAL rows of the neurons not yet picked and picks
  at most `rank <= D` of them (the row width); rounds repeat until `num_keep` neurons are picked,
  and the last round stops after the picks still needed (a greedy prefix, so this equals
  truncating a full round). `num_keep = floor(m * D)` gives the paper's `--mlp_ratio m`.
  """
  w = jnp.asarray(w)
  h, d = w.shape
  if not 0 < num_keep <= h:
    raise ValueError(f"num_keep must be in [1, {h}] (the MLP width), got {num_keep}")
  avail = np.ones((h,), bool)
  order: list[int] = []
  while len(order) < num_keep:
    k = min(d, num_keep - len(order), int(avail.sum()))
    idx, _ = gs_select(w, jnp.asarray(avail), k)
    idx = np.asarray(idx)
    order.extend(idx.tolist())
    avail[idx] = False
  return np.asarray(order[:num_keep], np.int32)


def l2_order(w) -> np.ndarray:
  """Neurons by descending L2 norm of their row (the official `l2` baseline), stable on ties."""
  norms = np.linalg.norm(np.asarray(w, np.float64), axis=1)
  return np.argsort(-norms, kind="stable").astype(np.int32)


def random_order(rng: jax.Array, num_neurons: int) -> np.ndarray:
  """A uniformly random order WITHOUT replacement (the official code samples with replacement)."""
  return np.asarray(jax.random.permutation(rng, num_neurons), np.int32)


def score_order(scores) -> np.ndarray:
  """Neurons by descending importance score (e.g. entropy-Taylor), stable on ties."""
  return np.argsort(-np.asarray(scores, np.float64), kind="stable").astype(np.int32)


def num_keep_for_ratio(mlp_ratio: float, hidden_size: int, mlp_width: int) -> int:
  """`floor(m * D)` neurons, the paper's `--mlp_ratio` (relative to D, not to H)."""
  k = int(math.floor(mlp_ratio * hidden_size + 1e-9))
  if not 0 < k <= mlp_width:
    raise ValueError(f"mlp_ratio={mlp_ratio} keeps {k} of {mlp_width} neurons (D={hidden_size}); "
                     f"it must keep between 1 and {mlp_width}, i.e. 0 < m <= "
                     f"{mlp_width / hidden_size:g}")
  return k


def select_neurons(method: str, neuron_rows: Sequence, num_keep: int | Sequence[int], *,
                   rng: jax.Array | None = None, scores: Sequence | None = None
                   ) -> list[np.ndarray]:
  """Kept neuron indices per block, sorted ascending (slicing order never depends on pick order).

  Args:
    method: 'gs' (DGMR), 'l2', 'random' (needs `rng`) or 'taylor' (needs per-block `scores`).
    neuron_rows: per block, the `[H_l, D']` neuron matrix (`neuron_rows_of_vit`).
    num_keep: neurons kept per block (one int for all blocks, or one per block).
    rng: key of the random baseline (split per block).
    scores: per block `[H_l]` importance scores for 'taylor'.
  """
  if method not in METHODS:
    raise ValueError(f"unknown selection method {method!r}; valid: {', '.join(METHODS)}")
  n = len(neuron_rows)
  ks = [int(num_keep)] * n if np.ndim(num_keep) == 0 else [int(k) for k in num_keep]
  if len(ks) != n:
    raise ValueError(f"{len(ks)} num_keep entries for {n} blocks")
  if method == "random" and rng is None:
    raise ValueError("method 'random' needs rng=jax.random.key(...)")
  if method == "taylor" and (scores is None or len(scores) != n):
    raise ValueError("method 'taylor' needs one score vector per block (scores=...)")
  rngs = jax.random.split(rng, n) if method == "random" else [None] * n
  out = []
  for l, (w, k) in enumerate(zip(neuron_rows, ks)):
    h = np.shape(w)[0]
    if not 0 < k <= h:
      raise ValueError(f"block {l}: cannot keep {k} of {h} neurons")
    if method == "gs":
      order = kround_gs_order(w, k)
    elif method == "l2":
      order = l2_order(w)
    elif method == "random":
      order = random_order(rngs[l], h)
    else:
      if np.shape(scores[l]) != (h,):
        raise ValueError(f"block {l}: scores of shape {np.shape(scores[l])}, expected ({h},)")
      order = score_order(scores[l])
    out.append(np.sort(np.asarray(order[:k], np.int32)))
  return out


def neuron_rows_of_vit(params, *, gated: bool | None = None) -> list[np.ndarray]:
  """Per encoder block, the `[H, D]` fc1 neuron rows of a `jaxlab.nn` ViT (`[H, 2D]` for SwiGLU).

  A flax Dense kernel is `[in, out]`, so W1 = kernel.T. For a SwiGLU block (fc1 of width 2H, gate
  half then value half) neuron j owns kernel columns j and H + j; their rows are concatenated
  (DGMR's "same S from both halves"). `gated=None` infers the layout from fc1 vs fc2 widths.
  """
  blocks = sorted((k for k in params if k.startswith("encoder_block_")),
                  key=lambda s: int(s.rsplit("_", 1)[1]))
  if not blocks:
    raise ValueError("params hold no encoder_block_{i}: not a jaxlab.nn ViT parameter tree")
  rows = []
  for b in blocks:
    mlp = params[b]["mlp"]
    k1 = np.asarray(mlp["fc1"]["kernel"])
    h = np.shape(mlp["fc2"]["kernel"])[0]
    is_gated = (k1.shape[1] == 2 * h) if gated is None else gated
    if is_gated:
      rows.append(np.concatenate([k1[:, :h].T, k1[:, h:].T], axis=1))
    else:
      if k1.shape[1] != h:
        raise ValueError(f"{b}: fc1 width {k1.shape[1]} != fc2 input {h} for a plain MLP")
      rows.append(k1.T)
  return rows
