"""Pure graph operators over (padded) edge lists, shared by the graph projects.

Conventions (those of `jaxlab.nn.gnn` and `jaxlab.data.graphs`):

* A graph is an edge list `senders [E]`, `receivers [E]` (int32) over `num_nodes` nodes; a
  message flows sender -> receiver and undirected graphs list both directions. Node arrays are
  `[N, ...]` with `N = num_nodes` static (taken from the array shape under `jit`).
* `edge_weight [E]` (optional, default all ones) is the adjacency value of each edge: 0 deletes
  an edge while keeping every shape static. Deleting edges, isolating nodes and masking
  features are therefore multiplications by masks, and one compiled function serves every
  edited graph.
* Padding. `GraphData.padded` (jraph.pad_with_graphs) adds padding edges between padding nodes
  only, so nothing reaches a real node; pass `edge_weight=gd.edge_mask` anyway to make padding
  edges weightless (then padding nodes get degree 0 (+1 with self loops) and stay isolated).
  Every function here returns, on the real nodes, exactly the values of the unpadded graph.
* All functions are pure, jit-able (static sizes are Python ints: `num_nodes`, `k`, `fanout`)
  and differentiable where that makes sense. Host-side (numpy) helpers are marked "host".

Contents:
  degree, gcn_norm, propagate, normalized_adjacency_apply (Â^k X), dense_adjacency,
  dense_normalized_adjacency (numpy references), khop_mask, hop_distance,
  reverse_edge_index (host), remove_edges, remove_undirected_edges, isolate_nodes,
  mask_features, append_edges (host), build_csr (host) / sample_neighbors (fixed fan-out
  uniform sampler), masked_mean.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def _weights(senders, edge_weight, dtype=jnp.float32):
  if edge_weight is None:
    return jnp.ones(senders.shape[0], dtype)
  if edge_weight.shape != senders.shape:
    raise ValueError(f"edge_weight has shape {edge_weight.shape}; expected {senders.shape} "
                     "(one weight per directed edge).")
  return jnp.asarray(edge_weight).astype(dtype)


def _check_edges(senders, receivers):
  if senders.shape != receivers.shape or senders.ndim != 1:
    raise ValueError(f"senders {senders.shape} and receivers {receivers.shape} must be "
                     "1-D arrays of the same length [E].")


def degree(receivers: Array, num_nodes: int, edge_weight: Optional[Array] = None, *,
           add_self_loops: bool = False) -> Array:
  """Weighted in-degree `deg[i] = sum_{e: r_e = i} w_e` (+1 with self loops), float32 `[N]`."""
  w = _weights(receivers, edge_weight)
  deg = jax.ops.segment_sum(w, receivers, num_segments=num_nodes)
  return deg + 1.0 if add_self_loops else deg


def gcn_norm(senders: Array, receivers: Array, num_nodes: int,
             edge_weight: Optional[Array] = None, *, add_self_loops: bool = True,
             r: float = 0.5):
  """Edge list and weights of `Â = D^(r-1) Ã D^(-r)`, `Ã = A (+ I)`.

  `A[i, j] = w_e` for the edge `e: j -> i`, `D = diag(row sums of Ã)` (in-degree, as PyG's
  `gcn_norm`). `r = 0.5` is the symmetric `D^-1/2 Ã D^-1/2`; `r = 0` the row-stochastic
  `D^-1 Ã` (mean aggregation), `r = 1` the column-stochastic `Ã D^-1`. Zero-degree nodes get
  zero rows/columns (no NaN).

  A self-loop already in the edge list is kept, so with `add_self_loops` its node gets weight
  2 on the diagonal (PyG's `add_remaining_self_loops` keeps 1); the dataset readers strip
  self-loops, so this only matters for hand-built graphs.

  Returns:
    `(senders, receivers, norm)`, each `[E + N]` with self loops (appended, weight 1 before
    normalisation) or `[E]` without.
  """
  _check_edges(senders, receivers)
  w = _weights(senders, edge_weight)
  if add_self_loops:
    loops = jnp.arange(num_nodes, dtype=senders.dtype)
    senders = jnp.concatenate([senders, loops])
    receivers = jnp.concatenate([receivers, loops])
    w = jnp.concatenate([w, jnp.ones(num_nodes, w.dtype)])
  deg = jax.ops.segment_sum(w, receivers, num_segments=num_nodes)
  safe = jnp.maximum(deg, 1e-12)
  pos = deg > 0
  left = jnp.where(pos, safe ** (r - 1.0), 0.0)   # row scale of the receiver
  right = jnp.where(pos, safe ** (-r), 0.0)       # column scale of the sender
  return senders, receivers, left[receivers] * w * right[senders]


def propagate(x: Array, senders: Array, receivers: Array, weights: Array,
              num_nodes: Optional[int] = None) -> Array:
  """Message passing `out[i] = sum_{e: r_e = i} weights_e * x[s_e]` (segment sum), `[N, ...]`."""
  n = x.shape[0] if num_nodes is None else num_nodes
  msg = x[senders] * weights.reshape((-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)
  return jax.ops.segment_sum(msg, receivers, num_segments=n)


def normalized_adjacency_apply(x: Array, senders: Array, receivers: Array,
                               edge_weight: Optional[Array] = None, *, k: int = 1,
                               add_self_loops: bool = True, r: float = 0.5) -> Array:
  """`Â^k X` with `Â` from `gcn_norm` (default `D̃^-1/2 (A+I) D̃^-1/2`); `k` static, `[N, F]`."""
  n = x.shape[0]
  s, rc, norm = gcn_norm(senders, receivers, n, edge_weight, add_self_loops=add_self_loops,
                         r=r)
  for _ in range(int(k)):
    x = propagate(x, s, rc, norm, n)
  return x


def khop_mask(seed_mask: Array, senders: Array, receivers: Array, k: int,
              edge_weight: Optional[Array] = None, *, include_seeds: bool = True) -> Array:
  """Nodes reachable from `seed_mask` within `k` hops along edges with weight > 0, bool `[N]`.

  Messages flow sender -> receiver (for symmetric edge lists: the undirected k-hop
  neighbourhood). `include_seeds=False` removes the seeds themselves.
  """
  n = seed_mask.shape[0]
  live = _weights(senders, edge_weight) > 0
  m = seed_mask.astype(bool)
  for _ in range(int(k)):
    hit = jax.ops.segment_max((m[senders] & live).astype(jnp.int32), receivers,
                              num_segments=n) > 0
    m = m | hit
  return m if include_seeds else m & ~seed_mask.astype(bool)


def hop_distance(seed_mask: Array, senders: Array, receivers: Array, max_hops: int,
                 edge_weight: Optional[Array] = None) -> Array:
  """Shortest hop count from the seed set (0 on seeds), `max_hops + 1` when farther, int32 `[N]`."""
  dist = jnp.where(seed_mask, 0, max_hops + 1).astype(jnp.int32)
  m = seed_mask.astype(bool)
  for h in range(1, int(max_hops) + 1):
    new = khop_mask(m, senders, receivers, 1, edge_weight)
    dist = jnp.where(new & ~m, h, dist)
    m = new
  return dist


def masked_mean(values: Array, mask: Array) -> Array:
  """`sum(mask * values) / max(sum(mask), 1)` over the leading axis (safe for empty masks)."""
  mask = mask.astype(values.dtype)
  mask = mask.reshape(mask.shape + (1,) * (values.ndim - mask.ndim))
  return jnp.sum(values * mask, axis=0) / jnp.maximum(jnp.sum(mask, axis=0), 1.0)


# ---------------------------------------------------------------------------
# Editing a graph with static shapes.

def remove_edges(edge_weight: Array, remove: Array) -> Array:
  """Zero the weight of the edges where `remove [E]` is True (both directions are the caller's)."""
  return jnp.where(remove, 0.0, edge_weight).astype(edge_weight.dtype)


def reverse_edge_index(senders, receivers) -> np.ndarray:
  """Host: `rev[e]` = index of the edge `r_e -> s_e`, or -1 when the list has no reverse."""
  s = np.asarray(senders, np.int64)
  r = np.asarray(receivers, np.int64)
  n = int(max(s.max(initial=-1), r.max(initial=-1))) + 1
  key = s * n + r
  order = np.argsort(key, kind="stable")
  sorted_key = key[order]
  want = r * n + s
  pos = np.searchsorted(sorted_key, want)
  pos = np.minimum(pos, len(key) - 1)
  found = sorted_key[pos] == want if len(key) else np.zeros(0, bool)
  return np.where(found, order[pos], -1).astype(np.int64)


def remove_undirected_edges(edge_weight: Array, remove: Array, reverse: Array) -> Array:
  """Zero each edge in `remove [E]` and its reverse direction (`reverse` from `reverse_edge_index`)."""
  remove = jnp.asarray(remove, bool)
  rev = jnp.asarray(reverse)
  hit_rev = jnp.zeros(remove.shape, jnp.int32).at[jnp.where(rev >= 0, rev, 0)].max(
      (remove & (rev >= 0)).astype(jnp.int32)) > 0
  return remove_edges(edge_weight, remove | hit_rev)


def isolate_nodes(edge_weight: Array, senders: Array, receivers: Array,
                  node_remove: Array) -> Array:
  """Zero every edge incident to a node in `node_remove [N]` (node deletion, shapes kept)."""
  hit = node_remove[senders] | node_remove[receivers]
  return remove_edges(edge_weight, hit)


def mask_features(x: Array, node_remove: Array, fill: float = 0.0) -> Array:
  """Replace the feature rows of `node_remove [N]` by `fill` (feature unlearning)."""
  return jnp.where(node_remove[:, None], jnp.asarray(fill, x.dtype), x)


def append_edges(senders, receivers, edge_weight, new_senders, new_receivers,
                 new_weight=1.0):
  """Host: concatenate new edges (e.g. injected adversarial edges); returns numpy arrays.

  Put them in slots of weight 0 (`new_weight=0`) to get a graph whose edges can be switched on
  later without changing shapes.
  """
  s = np.concatenate([np.asarray(senders), np.asarray(new_senders)]).astype(np.int32)
  r = np.concatenate([np.asarray(receivers), np.asarray(new_receivers)]).astype(np.int32)
  w = np.concatenate([np.asarray(edge_weight, np.float32),
                      np.full(len(new_senders), new_weight, np.float32)])
  return s, r, w


# ---------------------------------------------------------------------------
# Dense references (numpy, for tests and tiny graphs).

def dense_adjacency(senders, receivers, num_nodes, edge_weight=None) -> np.ndarray:
  """Host: `A[r, s] += w` for each edge, float64 `[N, N]`."""
  a = np.zeros((num_nodes, num_nodes))
  w = np.ones(len(senders)) if edge_weight is None else np.asarray(edge_weight, np.float64)
  np.add.at(a, (np.asarray(receivers), np.asarray(senders)), w)
  return a


def dense_normalized_adjacency(a: np.ndarray, add_self_loops=True, r=0.5) -> np.ndarray:
  """Host: `D^(r-1) (A + I) D^(-r)` with `D` the row sums; zero rows stay zero."""
  a = np.asarray(a, np.float64)
  if add_self_loops:
    a = a + np.eye(a.shape[0])
  d = a.sum(1)
  with np.errstate(divide="ignore"):
    left = np.where(d > 0, d ** (r - 1.0), 0.0)
    right = np.where(d > 0, d ** (-r), 0.0)
  return left[:, None] * a * right[None, :]


# ---------------------------------------------------------------------------
# Neighbour sampling (GraphSAGE / NeighborLoader style fan-out).

def build_csr(senders, receivers, num_nodes, edge_weight=None):
  """Host: incoming-edge CSR `(offsets [N+1], neighbours [E'])` of the edges with weight > 0.

  `neighbours[offsets[i]:offsets[i+1]]` are the senders of the edges into node `i`.
  """
  s = np.asarray(senders)
  r = np.asarray(receivers)
  if edge_weight is not None:
    keep = np.asarray(edge_weight) > 0
    s, r = s[keep], r[keep]
  order = np.argsort(r, kind="stable")
  counts = np.bincount(r, minlength=num_nodes)
  offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
  return offsets, s[order].astype(np.int32)


def sample_neighbors(key: Array, nodes: Array, offsets: Array, neighbours: Array,
                     fanout: int):
  """Uniform fan-out sampling (with replacement) of each node's in-neighbours.

  Args:
    key: PRNG key.
    nodes: int `[B]` node ids.
    offsets, neighbours: from `build_csr`.
    fanout: samples per node (static).

  Returns:
    `(sampled [B, fanout] int32, valid [B, fanout] bool)`; a node without neighbours gets
    `valid = False` everywhere (and `sampled` = the node itself).
  """
  start = offsets[nodes]
  deg = offsets[nodes + 1] - start
  u = jax.random.uniform(key, (nodes.shape[0], fanout))
  pick = start[:, None] + jnp.floor(u * deg[:, None]).astype(jnp.int32)
  valid = jnp.broadcast_to(deg[:, None] > 0, pick.shape)
  pick = jnp.clip(pick, 0, max(int(neighbours.shape[0]) - 1, 0))
  sampled = jnp.where(valid, neighbours[pick] if neighbours.shape[0] else 0,
                      nodes[:, None]).astype(jnp.int32)
  return sampled, valid
