"""Temporal neighbour finder and the two parameterised DPS samplers (structure-sampling stage).

* `NeighborFinder` (host numpy, like TGAT's): per-node adjacency sorted by time (edges treated
  as undirected), CSR offsets, and one `searchsorted` on int64 keys `node·BIG + (t − t0)` that
  gives r = #events of u strictly before t for a whole batch at once. Every sampler returns
  positions among those r events only, so no neighbour with time ≥ the query time is ever
  sampled (causality; tested). Output: fixed-shape `[Q, K]` ids / Δt / mask, 0 = padding.
  Samplers: "uniform" (with replacement, TGAT), "recent" (last K), or a precomputed cache
  table `[Σ_u (deg_u + 1), K]` indexed by `row_offset[u] + r` (TDS / GAS), as spec §7 asks.
* Time Decay Sampler (TDS, spec §3.2): per-node decay λ_u ∈ [0, 100] fitted by maximum
  likelihood of repeated interactions, ℓ_u(λ) = Σ_i [logsumexp_{j<i} λ t̃_j − λ t̃_last(i)],
  convex; its derivative Σ_i (E_{p_λ}[t̃] − t̃_last(i)) is monotone, so a 60-step bisection in
  `lax.fori_loop`, vmapped over nodes, replaces the official cvxpy/ECOS solve exactly. Cache:
  K draws without replacement from p ∝ exp(λ_u t̃_j) (Gumbel top-K) per (u, r).
* Gumbel Attention Sampler (GAS, spec §3.3): a 1-layer 1-head TGAT pretrained on link
  prediction with uniform sampling (see `train.py`), fine-tuned one epoch with Gumbel-softmax
  attention over the (padded) full past of each node, then frozen: the cache stores, per (u, r),
  the top-K past neighbours by deterministic attention score.

Deviations from the paper:
* candidate histories for the caches and the Gumbel fine-tuning are capped at the most recent
  `max_history` events of u (spec §7 suggests 256; mini uses smaller caps);
* the GAS cache row (u, r) scores candidates at the time of u's r-th event (r < deg_u) or of its
  last event (r = deg_u); queries at other times reuse that row (the official cache also keys
  on (u, r) only);
* nodes with no repeated interaction in the training graph (ℓ_u ≡ 0) get λ_u = 0 (uniform);
* the fine-tuning batches the 200 events of a batch with `vmap` (mean loss, Adam lr 1e-4),
  equivalent for Adam to the official per-event gradient accumulation with lr 1e-4/200.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


class NeighborFinder:
  """Time-sorted undirected adjacency of events `(src, dst, t)` over node ids 1..N (0 = pad)."""

  def __init__(self, src, dst, t, num_nodes):
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    t = np.asarray(t, np.int64)
    if not (src.shape == dst.shape == t.shape) or src.ndim != 1:
      raise ValueError(f"src, dst, t must be 1-D of equal length, got {src.shape}, {dst.shape}, "
                       f"{t.shape}")
    if len(src) and (min(src.min(), dst.min()) < 1 or max(src.max(), dst.max()) > num_nodes):
      raise ValueError(f"node ids must lie in 1..{num_nodes} (0 is padding)")
    self.num_nodes = int(num_nodes)
    eid = np.arange(len(src))
    node = np.concatenate([src, dst])
    nbr = np.concatenate([dst, src])
    tt = np.concatenate([t, t])
    ee = np.concatenate([eid, eid])
    order = np.lexsort((ee, tt, node))
    self.node, self.nbr, self.t, self.eid = node[order], nbr[order], tt[order], ee[order]
    self.deg = np.bincount(self.node, minlength=num_nodes + 1).astype(np.int64)
    self.offsets = np.concatenate([[0], np.cumsum(self.deg)]).astype(np.int64)
    self.t0 = int(tt.min()) if len(tt) else 0
    span = int(tt.max() - self.t0) if len(tt) else 0
    self.big = span + 2
    self.keys = self.node * self.big + (self.t - self.t0)
    # cache rows: one per (u, r), r = 0..deg_u
    self.row_offset = (self.offsets[:-1] + np.arange(num_nodes + 1)).astype(np.int64)
    self.num_rows = int(self.offsets[-1] + num_nodes + 1)

  def count_before(self, u, t):
    """r = number of events of u with time strictly before t (vectorised)."""
    u = np.asarray(u, np.int64)
    rel = np.clip(np.asarray(t, np.int64) - self.t0, -1, self.big - 1)
    return np.searchsorted(self.keys, u * self.big + rel, side="left") - self.offsets[u]

  # -------------------------------------------------------------------------------- sampling
  def positions(self, kind, u, t, k, rng=None, table=None):
    """Global adjacency positions `[Q, k]` (−1 = padding) of sampled past neighbours."""
    u = np.asarray(u, np.int64).reshape(-1)
    r = self.count_before(u, t).reshape(-1)
    base = self.offsets[u][:, None]
    if kind == "uniform":
      if rng is None:
        raise ValueError("uniform sampling needs a numpy Generator `rng`")
      rel = np.floor(rng.random((len(u), k)) * r[:, None]).astype(np.int64)
      rel = np.sort(rel, axis=1)
      valid = r[:, None] > 0
    elif kind == "recent":
      rel = r[:, None] - k + np.arange(k)[None, :]
      valid = rel >= 0
    elif kind == "cache":
      if table is None:
        raise ValueError("cache sampling needs `table` [num_rows, K] from build_cache")
      rel = table[self.row_offset[u] + r][:, :k].astype(np.int64)
      valid = rel >= 0
    else:
      raise ValueError(f"unknown sampler {kind!r}; valid: uniform, recent, cache")
    return np.where(valid, base + rel, -1)

  def gather(self, pos, t_query):
    """ids / Δt (float32, query time − event time) / mask for positions `pos [Q, k]`."""
    mask = pos >= 0
    p = np.where(mask, pos, 0)
    ids = np.where(mask, self.nbr[p], 0).astype(np.int32) if len(self.nbr) else \
        np.zeros(pos.shape, np.int32)
    tn = np.where(mask, self.t[p], 0) if len(self.t) else np.zeros(pos.shape, np.int64)
    dt = np.where(mask, np.asarray(t_query, np.int64).reshape(-1, 1) - tn, 0).astype(np.float32)
    return ids, tn, dt, mask

  def candidate_positions(self, rows_u, rows_r, max_history):
    """The most recent `max_history` past positions `[R, H]` (−1 pad) of cache rows (u, r)."""
    rel = rows_r[:, None] - max_history + np.arange(max_history)[None, :]
    return np.where(rel >= 0, self.offsets[rows_u][:, None] + rel, -1)

  def row_index(self):
    """(u, r) of every cache row, in row order."""
    u = np.repeat(np.arange(self.num_nodes + 1), self.deg + 1)
    r = np.arange(self.num_rows) - self.row_offset[u]
    return u, r


def sample_neighbours(finder, samplers, u, t, rng=None, tables=None):
    """Multi-sampler neighbourhoods of queries (u, t).

    samplers: tuple of (name, k); name in {"uniform", "recent"} or a key of `tables`.
    Returns ids `[Q, S, K]` int32, neighbour times `[Q, S, K]` int64, Δt float32, mask bool.
    """
    outs = []
    ks = {k for _, k in samplers}
    if len(ks) != 1:
      raise ValueError(f"all samplers of a model must draw the same K, got {samplers}")
    for name, k in samplers:
      if name in ("uniform", "recent"):
        pos = finder.positions(name, u, t, k, rng=rng)
      else:
        if tables is None or name not in tables:
          raise ValueError(f"sampler {name!r} needs a cache table; have {list(tables or {})}")
        pos = finder.positions("cache", u, t, k, table=tables[name])
      outs.append(finder.gather(pos, t))
    return tuple(np.stack(x, 1) for x in zip(*outs))


def two_hop(finder, samplers, u, t, rng=None, tables=None, num_layers=2):
  """Dense padded 1- and 2-hop neighbour tensors for queries (u [Q], t [Q]) → dict of arrays."""
  u = np.asarray(u, np.int64)
  t = np.asarray(t, np.int64)
  ids1, t1, dt1, m1 = sample_neighbours(finder, samplers, u, t, rng, tables)
  out = {"ids0": u.astype(np.int32), "ids1": ids1, "dt1": dt1, "mask1": m1}
  if num_layers == 2:
    Q, S, K = ids1.shape
    ids2, _, dt2, m2 = sample_neighbours(finder, samplers, ids1.reshape(-1), t1.reshape(-1), rng,
                                         tables)
    out.update(ids2=ids2.reshape(Q, S, K, S, K), dt2=dt2.reshape(Q, S, K, S, K),
               mask2=m2.reshape(Q, S, K, S, K))
  return out


# ======================================================================== Time Decay Sampler
def repeat_positions(finder, num_positions, rng):
  """Per node: up to `num_positions` random history positions i whose neighbour occurred
  earlier, and last(i) (latest earlier occurrence). Returns lists of (i [P], last [P])."""
  out = []
  for u in range(finder.num_nodes + 1):
    a, b = finder.offsets[u], finder.offsets[u + 1]
    nb = finder.nbr[a:b]
    seen = {}
    pos, last = [], []
    for i, v in enumerate(nb):
      v = int(v)
      if v in seen:
        pos.append(i)
        last.append(seen[v])
      seen[v] = i
    pos, last = np.asarray(pos, np.int64), np.asarray(last, np.int64)
    if len(pos) > num_positions:
      sel = np.sort(rng.choice(len(pos), num_positions, replace=False))
      pos, last = pos[sel], last[sel]
    out.append((pos, last))
  return out


def tds_objective(lam, tt, pos, tlast, pmask):
  """ℓ(λ) and ℓ'(λ) of one node: history t̃ `tt [H]`, positions `pos [P]` (candidates j < i),
  t̃_last(i) `tlast [P]`, valid positions `pmask [P]`.

  Written on the differences d_ij = t̃_j − t̃_last(i) (ℓ = Σ_i logsumexp_j λ d_ij,
  ℓ' = Σ_i E_p[d_i]) so that float32 keeps the root accurate where ℓ is flat (large λ).
  """
  H = tt.shape[-1]
  before = (jnp.arange(H)[None, :] < pos[:, None]) & pmask[:, None]  # [P, H]
  d = tt[None, :] - tlast[:, None]
  logits = jnp.where(before, lam * d, -jnp.inf)
  lse = jax.nn.logsumexp(jnp.where(pmask[:, None], logits, 0.0), axis=-1)
  p = jnp.where(before, jnp.exp(logits - lse[:, None]), 0.0)
  loss = jnp.where(pmask, lse, 0.0).sum()
  grad = jnp.where(pmask, (p * d).sum(-1), 0.0).sum()
  return loss, grad


@functools.partial(jax.jit, static_argnames=("steps",))
def fit_lambda(tt, pos, tlast, pmask, lam_max=100.0, steps=60):
  """Bisection root of ℓ'_u on [0, lam_max], vmapped over nodes (`tt [C, H]`, others `[C, P]`).

  ℓ' is non-decreasing (ℓ'' = Σ Var ≥ 0): ℓ'(0) ≥ 0 → 0, ℓ'(max) ≤ 0 → max, else bisect.
  Nodes without positions → 0.
  """
  def one(tt, pos, tlast, pmask):
    g = lambda lam: tds_objective(lam, tt, pos, tlast, pmask)[1]

    def body(_, lohi):
      lo, hi = lohi
      mid = 0.5 * (lo + hi)
      up = g(mid) > 0
      return jnp.where(up, lo, mid), jnp.where(up, mid, hi)

    lo, hi = jax.lax.fori_loop(0, steps, body, (jnp.float32(0.0), jnp.float32(lam_max)))
    lam = 0.5 * (lo + hi)
    lam = jnp.where(g(jnp.float32(0.0)) >= 0, 0.0, lam)
    lam = jnp.where(g(jnp.float32(lam_max)) <= 0, lam_max, lam)
    return jnp.where(pmask.any(), lam, 0.0)

  return jax.vmap(one)(tt, pos, tlast, pmask)


def normalised_times(finder, t_min, t_max):
  return (finder.t - t_min) / max(float(t_max - t_min), 1.0)


def fit_tds(finder, *, num_positions=100, lam_max=100.0, seed=0, chunk=32, progress=None):
  """λ_u for every node id 0..N of a (training) finder; returns float32 `[N + 1]`."""
  rng = np.random.default_rng(seed)
  reps = repeat_positions(finder, num_positions, rng)
  tt_all = normalised_times(finder, finder.t.min() if len(finder.t) else 0,
                            finder.t.max() if len(finder.t) else 1).astype(np.float32)
  lam = np.zeros(finder.num_nodes + 1, np.float32)
  nodes = [u for u in range(finder.num_nodes + 1) if len(reps[u][0])]
  # bucket by padded history length (powers of two) → few compilations
  H_of = lambda u: 1 << int(np.ceil(np.log2(max(int(reps[u][0].max()) + 1, 8))))
  nodes.sort(key=H_of)
  P = num_positions
  it = range(0, len(nodes), chunk)
  for s in (progress(it) if progress else it):
    grp = nodes[s:s + chunk]
    H = max(H_of(u) for u in grp)
    C = chunk
    tt = np.zeros((C, H), np.float32)
    pos = np.zeros((C, P), np.int32)
    tl = np.zeros((C, P), np.float32)
    pm = np.zeros((C, P), bool)
    for c, u in enumerate(grp):
      a = finder.offsets[u]
      i, last = reps[u]
      n = min(int(i.max()) + 1, H)
      tt[c, :n] = tt_all[a:a + n]
      pos[c, :len(i)] = i
      tl[c, :len(i)] = tt_all[a + last]
      pm[c, :len(i)] = True
    lam[grp] = np.asarray(fit_lambda(tt, pos, tl, pm, lam_max))[:len(grp)]
  return lam


def build_cache(finder, score_fn, k, max_history, *, chunk=8192, progress=None):
  """Cache table `[num_rows, k]` of relative positions (−1 pad), ordered by decreasing key.

  score_fn(rows_u, rows_r, cand_pos [R, H], cand_mask) → keys `[R, H]` (higher = chosen).
  """
  rows_u, rows_r = finder.row_index()
  table = np.full((finder.num_rows, k), -1, np.int32)
  it = range(0, finder.num_rows, chunk)
  for s in (progress(it) if progress else it):
    u, r = rows_u[s:s + chunk], rows_r[s:s + chunk]
    cand = finder.candidate_positions(u, r, max_history)
    mask = cand >= 0
    keys = np.where(mask, np.asarray(score_fn(u, r, cand, mask), np.float64), -np.inf)
    kk = min(k, max_history)
    top = np.argsort(-keys, axis=1, kind="stable")[:, :kk]
    sel = np.take_along_axis(cand, top, 1)
    ok = np.take_along_axis(mask, top, 1)
    rel = np.where(ok, sel - finder.offsets[u][:, None], -1)
    table[s:s + chunk, :kk] = rel
  return table


def tds_score_fn(finder, lam, t_min, t_max, seed):
  """Gumbel-top-K keys λ_u t̃_j + g_j: K draws without replacement from p ∝ exp(λ_u t̃_j)."""
  tt = normalised_times(finder, t_min, t_max)
  rng = np.random.default_rng(seed)

  def score(u, r, cand, mask):
    g = rng.gumbel(size=cand.shape)
    return lam[u][:, None] * tt[np.where(mask, cand, 0)] + g
  return score


def gas_score_fn(finder, gas_params, num_heads=1):
  """Deterministic 1-layer attention logits of the frozen GAS at the row's query time."""
  from jaxlab.projects.dps import model as dmodel

  # device arrays: the jitted scorer closes over them and indexes them with traced ids, which
  # numpy arrays (e.g. params loaded from disk) do not allow
  gas_params = jax.tree_util.tree_map(jnp.asarray, gas_params)
  p = gas_params["layers"][0]["attn"][0]

  @jax.jit
  def scores(u, v, dt):
    E = gas_params["emb"]
    te0 = dmodel.time_encode(gas_params["time"], jnp.zeros((), jnp.float32))
    q = jnp.concatenate([E[u], jnp.broadcast_to(te0, (u.shape[0],) + te0.shape)], -1)
    kv = jnp.concatenate([E[v], dmodel.time_encode(gas_params["time"], dt)], -1)
    return dmodel.attention_scores(p, q, kv, num_heads).mean(-2)

  def score(u, r, cand, mask):
    a = finder.offsets[u]
    deg = finder.deg[u]
    qpos = a + np.minimum(r, np.maximum(deg - 1, 0))
    tq = np.where(deg > 0, finder.t[np.minimum(qpos, len(finder.t) - 1)], 0)
    c = np.where(mask, cand, 0)
    v = np.where(mask, finder.nbr[c], 0).astype(np.int32)
    dt = np.where(mask, tq[:, None] - finder.t[c], 0).astype(np.float32)
    return np.asarray(scores(jnp.asarray(u, jnp.int32), jnp.asarray(v), jnp.asarray(dt)))
  return score
