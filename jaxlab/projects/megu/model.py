"""MEGU's two modules as pure functions: the GCN predictive module f_θ and the linear
unlearning module g_φ (see the package docstring for the paper and the deviations).

A graph is passed as `GraphArrays` (senders, receivers, base edge weights); an edited graph is the
same arrays with other `edge_weight`s, and feature unlearning is a row mask `row_keep [N]`, so
every request and every baseline runs through one compiled function.

GCN (MEGU's default backbone, PyG `GCNConv` x 2): `Â relu(Â (X W0)) W1` with
`Â = D̃^-1/2 (A + I) D̃^-1/2`, hidden 32, no bias, dropout 0.5 between the layers (not on the
input), glorot-uniform weights. `X_u W0 = diag(row_keep) X W0`, so masking feature rows costs
nothing and `X` itself is never copied per request (it stays unbatched under `vmap`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlab.ops import graph as gops
from jaxlab.ops.dropout import inverted_dropout

Array = jax.Array


class GraphArrays(NamedTuple):
  """Static-shape graph: `x [N, F]`, `senders/receivers [E]` int32 (both directions)."""
  x: Array
  senders: Array
  receivers: Array


def glorot(key, shape):
  lim = jnp.sqrt(6.0 / (shape[0] + shape[1]))
  return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def init_gcn(key, num_features: int, num_classes: int, hidden: int = 32) -> dict:
  """`{'w0': [F, H], 'w1': [H, C]}` glorot-uniform (PyG GCNConv, bias=False)."""
  k0, k1 = jax.random.split(key)
  return {"w0": glorot(k0, (num_features, hidden)), "w1": glorot(k1, (hidden, num_classes))}


def gcn_apply(params: dict, g: GraphArrays, edge_weight: Array, row_keep: Array | None = None,
              *, rng=None, train: bool = False, dropout: float = 0.5) -> Array:
  """Logits `[N, C]` of the 2-layer GCN on the graph with `edge_weight [E]` and feature rows
  scaled by `row_keep [N]` (0 = feature row removed). `rng` is needed when `train` and
  `dropout > 0`."""
  n = g.x.shape[0]
  s, r, norm = gops.gcn_norm(g.senders, g.receivers, n, edge_weight)
  h = g.x @ params["w0"]
  if row_keep is not None:
    h = h * row_keep[:, None].astype(h.dtype)
  h = jax.nn.relu(gops.propagate(h, s, r, norm, n))
  if train and dropout > 0:
    h = inverted_dropout(rng, h, dropout)
  return gops.propagate(h @ params["w1"], s, r, norm, n)


def init_unlearning_module(key, num_classes: int) -> dict:
  """g_φ: Dense C -> C with bias, PyTorch `nn.Linear` default init U(±1/sqrt(C))."""
  kw, kb = jax.random.split(key)
  lim = 1.0 / jnp.sqrt(num_classes)
  return {"kernel": jax.random.uniform(kw, (num_classes, num_classes), jnp.float32, -lim, lim),
          "bias": jax.random.uniform(kb, (num_classes,), jnp.float32, -lim, lim)}


def unlearning_module_apply(phi: dict, z: Array) -> Array:
  return z @ phi["kernel"] + phi["bias"]
