"""Mecoin modules: the GCN encoder and the memory (SMU keys, MeCs, MRaM values, GKIM head).

Shapes: `N` nodes (padded), `F` features, `h` embedding width, `n` queried nodes, `C` codebooks
(`num_books`), `M` keys per codebook (`num_pairs`), `d_k = proj_dim + 1` key width, `Y` classes.

* `GCNEncoder`: 2-layer GCN `F -> 2h -> h` (ReLU, dropout) plus a linear classifier. The first
  layer multiplies the sparse bag-of-words features as (row, col, value) triples with a
  `segment_sum`, so a full-graph step costs O(nnz * 2h) instead of O(N * F * 2h); padding
  triples have value 0.
* `Mecoin`: `make_queries` (synapse scalar + fixed random projection per codebook),
  `construct` (MeCs: node queries cross-attend to the keys of their codebook), `read`
  (hard or soft retrieval of the per-key class-logit values), `classify` (the GKIM MLP head on
  the GNN embedding) and `__call__` (all of them).
* `ema_kmeans_update`: the pure EMA k-means step that initialises the keys ("prepare").
* `read_coverage`: share of test reads that land on keys some training shot reads (diagnostic).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


class SparseFeatures(NamedTuple):
  """Node features as COO triples: `rows, cols` int32 `[Z]`, `vals` float32 `[Z]`."""
  rows: Array
  cols: Array
  vals: Array


def sparse_features(dense, pad_to=None):
  """COO triples of a dense numpy `[N, F]` matrix, padded with zero-valued entries."""
  import numpy as np
  r, c = np.nonzero(dense)
  v = dense[r, c].astype(np.float32)
  z = len(r) if pad_to is None else int(pad_to)
  if z < len(r):
    raise ValueError(f"pad_to={pad_to} is smaller than the {len(r)} non-zeros.")
  pad = z - len(r)
  return SparseFeatures(np.concatenate([r, np.zeros(pad, r.dtype)]).astype(np.int32),
                        np.concatenate([c, np.zeros(pad, c.dtype)]).astype(np.int32),
                        np.concatenate([v, np.zeros(pad, np.float32)]))


def gcn_propagate(x, senders, receivers, edge_weight):
  """`D^-1/2 (A + I) D^-1/2 x` with `A[r, s] = edge_weight` (as `jaxlab.nn.gnn.GCNLayer`)."""
  n = x.shape[0]
  loops = jnp.arange(n, dtype=senders.dtype)
  s = jnp.concatenate([senders, loops])
  r = jnp.concatenate([receivers, loops])
  w = jnp.concatenate([edge_weight.astype(jnp.float32), jnp.ones(n, jnp.float32)])
  deg = jax.ops.segment_sum(w, r, num_segments=n)
  inv = jnp.where(deg > 0, jax.lax.rsqrt(jnp.maximum(deg, 1e-12)), 0.)
  norm = inv[s] * w * inv[r]
  return jax.ops.segment_sum(x[s] * norm[:, None], r, num_segments=n)


class GCNEncoder(nn.Module):
  """GCN `F -> 2h -> h` + linear classifier; returns `(embedding [N, h], logits [N, Y])`."""
  num_features: int
  hidden: int = 64
  num_classes: int = 7
  dropout: float = 0.5

  @nn.compact
  def __call__(self, feats: SparseFeatures, senders, receivers, edge_weight, *,
               num_nodes: int, train: bool = False):
    rows, cols, vals = feats
    if train and self.dropout > 0:
      keep = jax.random.bernoulli(self.make_rng("dropout"), 1 - self.dropout, vals.shape)
      vals = jnp.where(keep, vals / (1 - self.dropout), 0.)
    w1 = self.param("w1", nn.initializers.xavier_uniform(), (self.num_features, 2 * self.hidden))
    x = jax.ops.segment_sum(vals[:, None] * w1[cols], rows, num_segments=num_nodes)
    x = gcn_propagate(x, senders, receivers, edge_weight)
    x = nn.relu(x + self.param("b1", nn.initializers.zeros, (2 * self.hidden,)))
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    x = nn.Dense(self.hidden, use_bias=False, kernel_init=nn.initializers.xavier_uniform(),
                 name="w2")(x)
    x = gcn_propagate(x, senders, receivers, edge_weight)
    emb = nn.relu(x + self.param("b2", nn.initializers.zeros, (self.hidden,)))
    z = nn.Dropout(self.dropout, deterministic=not train)(emb)
    return emb, nn.Dense(self.num_classes, name="classifier")(z)


def _identity_init(key, shape, dtype=jnp.float32):
  del key
  return jnp.eye(shape[0], shape[1], dtype=dtype)


def random_projection(key, num_books, in_dim, out_dim):
  """Fixed Gaussian projections with unit-norm columns, `[C, h, d]` (DKVB's RandomDownProjection)."""
  p = jax.random.normal(key, (num_books, in_dim, out_dim))
  return p / jnp.linalg.norm(p, axis=1, keepdims=True)


class _Block(nn.Module):
  """Pre-LN attention + GELU FFN with residuals. `x [B, T, d]` attends to `kv [B, S, d]`."""
  num_heads: int = 2
  mlp_ratio: int = 1

  @nn.compact
  def __call__(self, x, kv=None, mask=None):
    d = x.shape[-1]
    y = nn.LayerNorm(name="ln_q")(x)
    kv_n = y if kv is None else nn.LayerNorm(name="ln_kv")(kv)
    x = x + nn.MultiHeadDotProductAttention(num_heads=self.num_heads, qkv_features=d,
                                            name="attn")(y, inputs_k=kv_n, mask=mask)
    y = nn.LayerNorm(name="ln_ffn")(x)
    y = nn.Dense(d, name="fc2")(nn.gelu(nn.Dense(self.mlp_ratio * d, name="fc1")(y)))
    return x + y


def distances(q, keys):
  """Squared distances `[n, C, M]` of queries `[n, C, d]` to keys `[C, M, d]`."""
  return (jnp.sum(q * q, -1)[..., None] - 2 * jnp.einsum("ncd,cmd->ncm", q, keys)
          + jnp.sum(keys * keys, -1)[None])


class Mecoin(nn.Module):
  """Structured Memory Unit + MeCs + MRaM + GKIM head.

  Variables: params {synapse, mecs, values [C, M, Y], mlp}; collection `memory`
  {proj [C, h, P], keys [C, M, d_k], embed_avg [C, M, d_k], cluster_size [C, M]} (never
  differentiated; keys change only in `ema_kmeans_update`).

  Attributes:
    embed_dim: h.
    num_classes: Y (all classes of the dataset; unseen ones are masked by the caller).
    num_books, num_pairs, proj_dim: C, M, P (d_k = P + 1 with the synapse).
    num_heads: heads of the synapse and MeCs attention.
    retrieval: "soft" (softmax(-d / (tau * mean d)) over keys, MeCs get gradients), "hard"
      (top-1 argmin as the official code: only values and the MLP learn) or
      "straight_through" (top-1 read forward, the soft read's gradient backward).
    tau: soft-retrieval temperature, relative to the mean key distance of the query.
    The class defaults (soft read, tau 0.01) are the `mecoin_soft` ablation; the project's
    configs build the default Mecoin with retrieval='straight_through', tau=0.1
    (configs/mecoin/mini.py `variant_defaults`).
    use_mecs: False skips MeCs (raw projection queries).
    code_faithful_attention: reproduce the official attention axes: the synapse attends across
      the nodes of the batch (masked), MeCs across the codebooks of one node.
    mlp_hidden: hidden widths of the GKIM head (empty: linear, as `MLP(128, 70)` in the code).
  """
  embed_dim: int
  num_classes: int
  num_books: int = 16
  num_pairs: int = 64
  proj_dim: int = 13
  num_heads: int = 2
  retrieval: str = "soft"
  tau: float = 0.01
  use_mecs: bool = True
  code_faithful_attention: bool = False
  mlp_hidden: Sequence[int] = ()

  def setup(self):
    if self.retrieval not in ("soft", "hard", "straight_through"):
      raise ValueError("retrieval must be 'soft', 'hard' or 'straight_through', got "
                       f"{self.retrieval!r}")
    C, M, dk = self.num_books, self.num_pairs, self.proj_dim + 1
    if dk % self.num_heads or self.embed_dim % self.num_heads:
      raise ValueError(f"num_heads={self.num_heads} must divide the key width proj_dim + 1 = "
                       f"{dk} and embed_dim={self.embed_dim}; change model.proj_dim/num_heads.")
    self.synapse = _Block(self.num_heads, mlp_ratio=1)
    self.synapse_out = nn.Dense(C)
    self.mecs = _Block(self.num_heads, mlp_ratio=1)
    self.mecs_out = nn.Dense(dk, kernel_init=_identity_init)
    self.values = self.param("values", nn.initializers.zeros, (C, M, self.num_classes))
    self.mlp = [nn.Dense(w) for w in self.mlp_hidden] + [nn.Dense(self.num_classes)]
    self.proj = self.variable("memory", "proj", lambda: random_projection(
        self.make_rng("params"), C, self.embed_dim, self.proj_dim))
    self.keys = self.variable("memory", "keys", lambda: jax.random.normal(
        self.make_rng("params"), (C, M, dk)))
    self.embed_avg = self.variable("memory", "embed_avg", lambda: self.keys.value)
    self.cluster_size = self.variable("memory", "cluster_size", lambda: jnp.zeros((C, M)))

  def make_queries(self, e, mask):
    """`[n, h]` embeddings -> `[n, C, d_k]` queries `[synapse_c(e) || P_c^T e]`."""
    if self.code_faithful_attention:  # attention across the nodes of the batch (official code)
      att = (mask[None, :] & mask[:, None])[None, None]
      s = self.synapse(e[None], mask=att)[0]
    else:  # one token per node: the node's own embedding only
      s = self.synapse(e[:, None])[:, 0]
    s = self.synapse_out(s)                                     # [n, C]
    p = jnp.einsum("nh,chd->ncd", e, self.proj.value)            # [n, C, P]
    return jnp.concatenate([s[..., None], p], -1)

  def construct(self, q):
    """MeCs: `[n, C, d_k]` -> `[n, C, d_k]`; identity when `use_mecs` is False."""
    if not self.use_mecs:
      return q
    if self.code_faithful_attention:  # sequence axis = codebooks, no node-key interaction
      x = self.mecs(q)
    else:  # each codebook's node queries attend to that codebook's keys
      keys = jax.lax.stop_gradient(self.keys.value)
      x = jnp.swapaxes(self.mecs(jnp.swapaxes(q, 0, 1), keys), 0, 1)
    return self.mecs_out(x)

  def read(self, qt, tau=None):
    """Memory logits `o [n, Y]` (mean over codebooks) and key weights `[n, C, M]`.

    `tau` (optional, may be traced) overrides the `tau` attribute."""
    tau = self.tau if tau is None else tau
    d = distances(qt, jax.lax.stop_gradient(self.keys.value))
    if self.retrieval != "hard":
      scale = jax.lax.stop_gradient(jnp.mean(d, -1, keepdims=True)) + 1e-6
      w = jax.nn.softmax(-d / (tau * scale), -1)
    if self.retrieval != "soft":
      hard = jax.nn.one_hot(jnp.argmin(d, -1), self.num_pairs, dtype=d.dtype)
      # Straight-through: the official top-1 read forward, the soft read's gradient backward.
      w = hard if self.retrieval == "hard" else w + jax.lax.stop_gradient(hard - w)
    return jnp.einsum("ncm,cmy->ny", w, self.values) / self.num_books, w

  def classify(self, e):
    """GKIM head `h_psi(e)`: `[n, h]` -> `[n, Y]`."""
    for layer in self.mlp[:-1]:
      e = nn.relu(layer(e))
    return self.mlp[-1](e)

  def query(self, e, mask):
    """Retrieval queries `[n, C, d_k]` (synapse + projection, then MeCs)."""
    return self.construct(self.make_queries(e, mask))

  def __call__(self, e, mask=None, tau=None):
    if mask is None:
      mask = jnp.ones(e.shape[0], bool)
    q = self.make_queries(e, mask)
    qt = self.construct(q)
    o, w = self.read(qt, tau)
    return {"memory_logits": o, "mlp_logits": self.classify(e), "queries": qt, "weights": w}


def read_coverage(q_shots, shot_mask, q_test, test_mask, keys):
  """Share of test reads (node x codebook, top-1 key) that land on a key a training shot reads.

  A key no shot reads gets its value only from the soft backward's tails (none at all with hard
  retrieval), so a low share means most test reads see untrained values.
  Args: queries `q_shots [n, C, d]`, `q_test [t, C, d]`; bool masks `[n]`, `[t]`; keys `[C, M, d]`.
  """
  M = keys.shape[1]
  hit = jax.nn.one_hot(jnp.argmin(distances(q_shots, keys), -1), M) > 0        # [n, C, M]
  covered = jnp.any(hit & shot_mask[:, None, None], 0)                          # [C, M]
  a_t = jnp.argmin(distances(q_test, keys), -1)                                 # [t, C]
  cov = jnp.take_along_axis(covered, a_t.T, 1).T                                # [t, C]
  m = test_mask.astype(jnp.float32)
  return jnp.sum(cov.mean(-1) * m) / jnp.maximum(m.sum(), 1.)


def ema_kmeans_update(memory, q, mask, rng, *, decay=0.95, eps=1e-5, dead_factor=0.1):
  """One EMA k-means step of every codebook (DKVB / VQ-VAE-2 style), with dead-key restarts.

  Args:
    memory: dict with keys [C, M, d], embed_avg [C, M, d], cluster_size [C, M] (proj passes
      through untouched).
    q: queries [n, C, d]; mask: bool [n] (padding rows are ignored).
    rng: key for sampling restart points.
  Returns:
    The updated memory dict and the mean quantisation error (before the update) of valid rows.
  """
  keys, avg, cs = memory["keys"], memory["embed_avg"], memory["cluster_size"]
  C, M, _ = keys.shape
  m = mask.astype(q.dtype)
  d = distances(q, keys)
  qerr = jnp.sum(jnp.min(d, -1).mean(-1) * m) / jnp.maximum(m.sum(), 1)
  onehot = jax.nn.one_hot(jnp.argmin(d, -1), M, dtype=q.dtype) * m[:, None, None]
  cs = decay * cs + (1 - decay) * onehot.sum(0)
  avg = decay * avg + (1 - decay) * jnp.einsum("ncm,ncd->cmd", onehot, q)
  total = cs.sum(-1, keepdims=True)
  smoothed = (cs + eps) / (total + M * eps) * total
  keys = avg / smoothed[..., None]
  # Dead keys (EMA usage below dead_factor * batch / M) restart at random valid queries.
  threshold = dead_factor * m.sum() / M
  dead = cs < threshold
  pick = jax.random.categorical(rng, jnp.where(mask, 0., -jnp.inf), shape=(C, M))
  fresh = q[pick, jnp.arange(C)[:, None]]                      # [C, M, d]
  # A restarted key gets a grace count of 2 * threshold before it can be restarted again, and an
  # EMA sum of fresh * count so that the next step's avg / count keeps it at `fresh`.
  reset = 2 * threshold
  keys = jnp.where(dead[..., None], fresh, keys)
  avg = jnp.where(dead[..., None], fresh * reset, avg)
  cs = jnp.where(dead, reset, cs)
  return dict(memory, keys=keys, embed_avg=avg, cluster_size=cs), qerr
