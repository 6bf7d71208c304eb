"""MEGU's two modules as pure functions: the predictive module f_θ (GCN by default; GAT,
GraphSAGE, GIN and SGC through `init_backbone` / `backbone_apply`) and the linear unlearning
module g_φ (see the package docstring for the paper and the deviations).

A graph is passed as `GraphArrays` (senders, receivers, base edge weights); an edited graph is the
same arrays with other `edge_weight`s, and feature unlearning is a row mask `row_keep [N]`, so
every request and every baseline runs through one compiled function.

GCN (MEGU's default backbone, PyG `GCNConv` x 2): `Â relu(Â (X W0)) W1` with
`Â = D̃^-1/2 (A + I) D̃^-1/2`, hidden 32, no bias, dropout 0.5 between the layers (not on the
input), glorot-uniform weights. `X_u W0 = diag(row_keep) X W0`, so masking feature rows costs
nothing and `X` itself is never copied per request (it stays unbatched under `vmap`).

Other backbones (`BACKBONES`, selected by `config.model.name`; layer settings of the official
code, `lib_gnn_model/*/*_net_batch.py` with PyG 2.3 layers, full batch here):

* `gat`: `GATConv(F, 8, heads=8) -> ELU -> GATConv(64, C, heads=1, concat=False)`, no bias,
  dropout 0.6 on the input features, on the hidden layer and on the attention coefficients of
  both layers; LeakyReLU(0.2) attention logits; self-loops added as PyG does (an edge list's
  own self-loops are dropped first, one weight-1 loop per node appended). `edge_weight` is a
  MASK here (`> 0` keeps the edge): masked edges get attention exactly 0 and the softmax runs
  over the kept incoming edges plus the self-loop. `hidden` is the width PER HEAD (8).
* `sage`: PyG `SAGEConv` (mean): `lin_l(mean_{j->i} h_j) + lin_r(h_i)`, bias on `lin_l` only,
  hidden 256 (official), ReLU, dropout 0.5 after the first layer. The mean is the
  `edge_weight`-weighted mean over incoming edges (for 0/1 weights: the mean over the kept
  neighbours; 0 for a node without kept neighbours, as PyG's scatter-mean).
* `gin`: PyG `GINConv(nn, eps=0)` with the official `nn = Linear(·, ·, bias=False)` (a single
  bias-free linear map, not a 2-layer MLP): `((1 + eps) h_i + sum_{j->i} w_j h_j) W`, hidden 32,
  ReLU, dropout 0.5 after the first layer.
* `sgc`: PyG `SGConv(F, C, K=2, bias=False)`: `Â² X W` (the GCN `Â` with self-loops), no
  hidden layer, no dropout (`hidden` and `dropout` are ignored).

The linear maps of `gin` / `sgc` / `sage`'s neighbour branch are applied BEFORE aggregation
(`(A X) W = A (X W)`, a bias added after), which keeps the messages at the hidden width; every
backbone applies `row_keep` to `X W` (equal to zeroing rows of `X`). Inits: glorot-uniform for
the GCN / GAT weights and GAT attention vectors (PyG `glorot`), PyTorch/PyG `Linear` default
`U(±1/sqrt(fan_in))` for SAGE / GIN / SGC weights and SAGE's bias.
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


# ---------------------------------------------------------------------------
# Other backbones of the paper (official layer settings; see the module docstring).

BACKBONES = ("gcn", "gat", "sage", "gin", "sgc")
GAT_HEADS = 8            # hidden-layer heads (concatenated); the output layer has 1 head
GAT_NEGATIVE_SLOPE = 0.2


def check_backbone(name: str) -> str:
  """`name` if it is a known backbone, else a ValueError listing the valid names."""
  if name not in BACKBONES:
    raise ValueError(f"unknown MEGU backbone model.name={name!r}; valid: "
                     f"{', '.join(BACKBONES)}")
  return name


def torch_linear_init(key, shape):
  """PyTorch / PyG `Linear` default init (kaiming-uniform, a=sqrt(5)): U(±1/sqrt(fan_in))."""
  lim = 1.0 / jnp.sqrt(float(shape[0]))
  return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def _edge_w(g, edge_weight):
  """`edge_weight` as float32 `[E]` (all ones when None)."""
  if edge_weight is None:
    return jnp.ones(g.senders.shape[0], jnp.float32)
  return jnp.asarray(edge_weight).astype(jnp.float32)


def _keep_rows(h, row_keep):
  return h if row_keep is None else h * row_keep[:, None].astype(h.dtype)


def _dropout_keys(rng, n, train, dropout):
  if train and dropout > 0:
    return list(jax.random.split(rng, n))
  return [None] * n


def _maybe_dropout(key, x, rate):
  return x if key is None else inverted_dropout(key, x, rate)


# -- GAT ------------------------------------------------------------------------------------

def init_gat(key, num_features: int, num_classes: int, hidden: int = 8) -> dict:
  """`w0 [F, 8·hidden]`, `att_src0/att_dst0 [8, hidden]`, `w1 [8·hidden, C]`,
  `att_src1/att_dst1 [1, C]`, glorot-uniform (PyG GATConv, bias=False)."""
  k = jax.random.split(key, 6)
  h = GAT_HEADS
  return {"w0": glorot(k[0], (num_features, h * hidden)),
          "att_src0": glorot(k[1], (h, hidden)), "att_dst0": glorot(k[2], (h, hidden)),
          "w1": glorot(k[3], (h * hidden, num_classes)),
          "att_src1": glorot(k[4], (1, num_classes)), "att_dst1": glorot(k[5], (1, num_classes))}


def gat_edges(g: GraphArrays, edge_weight: Array):
  """PyG's `remove_self_loops` + `add_self_loops` on the masked edge list: `(senders,
  receivers, keep)` of length `E + N`; `keep` is False on masked (`edge_weight <= 0`) edges and
  on the list's own self-loops, True on the N appended loops."""
  n = g.x.shape[0]
  keep = (_edge_w(g, edge_weight) > 0) & (g.senders != g.receivers)
  loops = jnp.arange(n, dtype=g.senders.dtype)
  return (jnp.concatenate([g.senders, loops]), jnp.concatenate([g.receivers, loops]),
          jnp.concatenate([keep, jnp.ones(n, bool)]))


def gat_attention(h: Array, att_src: Array, att_dst: Array, senders: Array, receivers: Array,
                  keep: Array) -> Array:
  """Attention coefficients `[E', heads]`: softmax over each receiver's KEPT incoming edges of
  `LeakyReLU(a_src·h_j + a_dst·h_i)`; exactly 0 on edges with `keep == False`."""
  n = h.shape[0]
  e = jax.nn.leaky_relu(jnp.sum(h * att_src, -1)[senders] + jnp.sum(h * att_dst, -1)[receivers],
                        GAT_NEGATIVE_SLOPE)                                   # [E', heads]
  k = keep[:, None]
  # The max over kept edges only (every node keeps its self-loop, so it is finite); masked
  # logits never enter exp (no inf, no NaN gradient) and their weight is an exact 0.
  m = jax.ops.segment_max(jnp.where(k, e, -jnp.inf), receivers, num_segments=n)
  ex = jnp.where(k, jnp.exp(jnp.where(k, e - jax.lax.stop_gradient(m)[receivers], 0.0)), 0.0)
  den = jax.ops.segment_sum(ex, receivers, num_segments=n)
  return ex / den[receivers]


def _gat_layer(h, att_src, att_dst, s, r, keep, att_key, dropout):
  """`h [N, heads, out]` (already `X W`) -> `[N, heads, out]` attention-weighted sums."""
  alpha = _maybe_dropout(att_key, gat_attention(h, att_src, att_dst, s, r, keep), dropout)
  return jax.ops.segment_sum(h[s] * alpha[..., None], r, num_segments=h.shape[0])


def gat_apply(params: dict, g: GraphArrays, edge_weight: Array, row_keep: Array | None = None,
              *, rng=None, train: bool = False, dropout: float = 0.6) -> Array:
  """Logits `[N, C]`: dropout -> GAT(8 heads, concat) -> ELU -> dropout -> GAT(1 head, mean);
  attention dropout on both layers. `edge_weight > 0` keeps an edge (a mask)."""
  n = g.x.shape[0]
  heads, hid = params["att_src0"].shape
  k_in, k_a0, k_h, k_a1 = _dropout_keys(rng, 4, train, dropout)
  s, r, keep = gat_edges(g, edge_weight)
  x = _maybe_dropout(k_in, g.x, dropout)
  h = _keep_rows(x @ params["w0"], row_keep).reshape(n, heads, hid)
  h = _gat_layer(h, params["att_src0"], params["att_dst0"], s, r, keep, k_a0, dropout)
  h = _maybe_dropout(k_h, jax.nn.elu(h.reshape(n, heads * hid)), dropout)
  h = (h @ params["w1"]).reshape(n, 1, -1)
  h = _gat_layer(h, params["att_src1"], params["att_dst1"], s, r, keep, k_a1, dropout)
  return jnp.mean(h, axis=1)


# -- GraphSAGE ------------------------------------------------------------------------------

def init_sage(key, num_features: int, num_classes: int, hidden: int = 256) -> dict:
  """Per layer i: `wl{i}` (neighbour branch, `lin_l`), `bl{i}` (its bias), `wr{i}` (root
  branch, `lin_r`, no bias); PyG `Linear` default init."""
  k = jax.random.split(key, 6)
  dims = [(num_features, hidden), (hidden, num_classes)]
  p = {}
  for i, (fi, fo) in enumerate(dims):
    p[f"wl{i}"] = torch_linear_init(k[3 * i], (fi, fo))
    lim = 1.0 / jnp.sqrt(float(fi))
    p[f"bl{i}"] = jax.random.uniform(k[3 * i + 1], (fo,), jnp.float32, -lim, lim)
    p[f"wr{i}"] = torch_linear_init(k[3 * i + 2], (fi, fo))
  return p


def mean_weights(g: GraphArrays, edge_weight: Array) -> Array:
  """Per-edge weights of the `edge_weight`-weighted mean over each receiver's incoming edges
  (`w_e / sum_{e' -> r_e} w_e'`; 0 where a receiver has no weight)."""
  n = g.x.shape[0]
  w = _edge_w(g, edge_weight)
  cnt = jax.ops.segment_sum(w, g.receivers, num_segments=n)
  inv = jnp.where(cnt > 0, 1.0 / jnp.where(cnt > 0, cnt, 1.0), 0.0)
  return w * inv[g.receivers]


def sage_apply(params: dict, g: GraphArrays, edge_weight: Array, row_keep: Array | None = None,
               *, rng=None, train: bool = False, dropout: float = 0.5) -> Array:
  """Logits `[N, C]`: SAGE(mean) -> ReLU -> dropout -> SAGE(mean)."""
  n = g.x.shape[0]
  s, r = g.senders, g.receivers
  norm = mean_weights(g, edge_weight)
  (k_h,) = _dropout_keys(rng, 1, train, dropout)

  def layer(h, i, keep):
    neigh = _keep_rows(h @ params[f"wl{i}"], keep)
    root = _keep_rows(h @ params[f"wr{i}"], keep)
    return gops.propagate(neigh, s, r, norm, n) + params[f"bl{i}"] + root

  h = _maybe_dropout(k_h, jax.nn.relu(layer(g.x, 0, row_keep)), dropout)
  return layer(h, 1, None)


# -- GIN ------------------------------------------------------------------------------------

def init_gin(key, num_features: int, num_classes: int, hidden: int = 32) -> dict:
  """`{'w0': [F, H], 'w1': [H, C]}`, the bias-free `Linear` of each GINConv (PyTorch init)."""
  k0, k1 = jax.random.split(key)
  return {"w0": torch_linear_init(k0, (num_features, hidden)),
          "w1": torch_linear_init(k1, (hidden, num_classes))}


GIN_EPS = 0.0


def gin_apply(params: dict, g: GraphArrays, edge_weight: Array, row_keep: Array | None = None,
              *, rng=None, train: bool = False, dropout: float = 0.5) -> Array:
  """Logits `[N, C]`: GIN -> ReLU -> dropout -> GIN, `GIN(h)_i = ((1 + eps) h_i + sum_{j->i}
  w_j h_j) W` (sum over incoming edges weighted by `edge_weight`, eps = 0)."""
  n = g.x.shape[0]
  s, r, w = g.senders, g.receivers, _edge_w(g, edge_weight)
  (k_h,) = _dropout_keys(rng, 1, train, dropout)

  def layer(hw):
    return (1.0 + GIN_EPS) * hw + gops.propagate(hw, s, r, w, n)

  h = jax.nn.relu(layer(_keep_rows(g.x @ params["w0"], row_keep)))
  h = _maybe_dropout(k_h, h, dropout)
  return layer(h @ params["w1"])


# -- SGC ------------------------------------------------------------------------------------

SGC_K = 2


def init_sgc(key, num_features: int, num_classes: int, hidden: int = 0) -> dict:
  """`{'w': [F, C]}` (PyG SGConv's `Linear`, bias=False); `hidden` is ignored."""
  del hidden
  return {"w": torch_linear_init(key, (num_features, num_classes))}


def sgc_apply(params: dict, g: GraphArrays, edge_weight: Array, row_keep: Array | None = None,
              *, rng=None, train: bool = False, dropout: float = 0.0) -> Array:
  """Logits `Â^K X W` (K = 2, no bias, no dropout: `rng`, `train`, `dropout` are ignored)."""
  del rng, train, dropout
  n = g.x.shape[0]
  s, r, norm = gops.gcn_norm(g.senders, g.receivers, n, edge_weight)
  h = _keep_rows(g.x @ params["w"], row_keep)
  for _ in range(SGC_K):
    h = gops.propagate(h, s, r, norm, n)
  return h


# -- dispatch -------------------------------------------------------------------------------

_INIT = {"gcn": init_gcn, "gat": init_gat, "sage": init_sage, "gin": init_gin, "sgc": init_sgc}
_APPLY = {"gcn": gcn_apply, "gat": gat_apply, "sage": sage_apply, "gin": gin_apply,
          "sgc": sgc_apply}


def init_backbone(name: str, key, num_features: int, num_classes: int, hidden: int) -> dict:
  """Parameters of backbone `name` (one of `BACKBONES`); `hidden` is the hidden width (GAT:
  per head; SGC: ignored). `init_backbone('gcn', ...)` is `init_gcn(...)`."""
  return _INIT[check_backbone(name)](key, num_features, num_classes, hidden)


def backbone_apply(name: str, params: dict, g: GraphArrays, edge_weight: Array,
                   row_keep: Array | None = None, *, rng=None, train: bool = False,
                   dropout: float = 0.5) -> Array:
  """Logits `[N, C]` of backbone `name` (static) on the graph with `edge_weight [E]` (0 = edge
  deleted) and feature rows scaled by `row_keep [N]`. For 'gcn' this is exactly `gcn_apply`."""
  return _APPLY[check_backbone(name)](params, g, edge_weight, row_keep, rng=rng, train=train,
                                      dropout=dropout)


def init_unlearning_module(key, num_classes: int) -> dict:
  """g_φ: Dense C -> C with bias, PyTorch `nn.Linear` default init U(±1/sqrt(C))."""
  kw, kb = jax.random.split(key)
  lim = 1.0 / jnp.sqrt(num_classes)
  return {"kernel": jax.random.uniform(kw, (num_classes, num_classes), jnp.float32, -lim, lim),
          "bias": jax.random.uniform(kb, (num_classes,), jnp.float32, -lim, lim)}


def unlearning_module_apply(phi: dict, z: Array) -> Array:
  return z @ phi["kernel"] + phi["bias"]
