"""MLDGG model pieces: pivot structure learner, (pivot-)GCN, semantic/variation representation learner.

Paper: *MLDGG: Meta-Learning for Domain Generalization on Graphs*, Tian, Zhao, Shao, Wang, Lin,
Li (KDD 2025, arXiv 2411.12913).

Idea: node classification on an unseen target graph after training on K source graphs. Two
learners are meta-learned (MAML, one task per source graph) so that a few fine-tuning steps
adapt them to the target: a *structure learner* (GraphGLOW-style: node-pivot weighted-cosine
similarities, a relaxed-Bernoulli sample B [N, P], and message passing node -> pivot -> node on
the implicit graph A* = B Bᵀ, never materialised: O(N·P) memory) and a *representation
learner* that splits the GNN embedding r into a semantic factor s (which alone predicts y) and
a variation factor v, with a domain-specific Gaussian prior p_d(s, v) and an invariant decoder
p(r | s, v) (negative ELBO loss, CSG-style).

All functions here are pure: parameters are plain dicts of arrays (explicit pytrees make the
MAML inner loop a `tree_map`), every random draw takes a key, shapes are static ([N] padded
nodes, [E] padded edges, P pivots a Python int).

Deviations from the paper (the paper body was not readable; see /work/shared/specs/mldgg.md):
- Structure learner on the first-layer hidden features h0 = X W_in (not raw X): with per-graph
  feature spaces this is what makes θ_t transferable (spec §3.1 allows hidden features).
- Edge probabilities π = clip(S, 0, 1) of the head-averaged weighted cosine S (GraphGLOW's
  ε = 0 neighbourhood: pivots with S <= 0 get weight exactly 0, in training too); per-head
  weights Glorot-uniform as GraphGLOW (until 2026-12-07 they started at ones, so the H heads
  stayed identical: one head in effect); relaxed Bernoulli (logistic noise, temperature τ) in
  training, π itself at evaluation. Combination λ Â + (1 − λ) RowNorm(B) RowNorm(Bᵀ) (λ = graph_skip_conn,
  inferred from GraphGLOW). Optional top-k pivots per node (`top_k`, spec §3.1); off by
  default (GraphGLOW's ε = 0; top-k 16 measured within one seed's noise: 68.4 vs 67.1).
- R_struct uses means instead of sums (α mean(E ⊙ ‖r_p − r_q‖²) + β mean(B)), E = BᵀB, and the
  L0 term is relaxed to the sum of edge probabilities (inferred).
- Representation learner: Gaussian q(s, v | r) (one-hidden-layer MLP), decoder MLP, prior
  N(m_d, I) with a learnable mean per domain (no learned s-v correlation), reconstruction target
  stop_gradient(r) (otherwise the GNN could shrink r to cheat the reconstruction); ELBO terms on
  all real nodes (features are observed), cross-entropy on labelled ones (inferred forms).
- Posterior log-variance: the encoder's log-variance bias starts at `logvar_init` (−5 in the
  mini config, posterior std 0.08; 0 gave a unit-variance sample that drowned the class signal
  of s) and is soft-clipped to (−8, 2) (`soft_clip`: smooth, gradient never exactly zero; the
  former hard clip at ±8 let exp(logvar) explode the KL with a dead gradient).
- The classifier reads the posterior *mean* of s in training too (`ce_sample=False`, the
  mini default), i.e. log p(y | E_q[s]) replaces the ELBO's E_q[log p(y | s)]; evaluation
  always uses the mean (spec §3.3); the decoder always reads the sample.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlab.ops import graph as gops
from jaxlab.ops.dropout import inverted_dropout

EPS = 1e-8


def glorot(key, shape):
  lim = jnp.sqrt(6.0 / (shape[0] + shape[-1]))
  return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def dense_init(key, d_in, d_out):
  return {"w": glorot(key, (d_in, d_out)), "b": jnp.zeros((d_out,), jnp.float32)}


def dense(p, x):
  return x @ p["w"] + p["b"]


# ----------------------------------------------------------------------------------------------
# Structure learner f_t.

def init_structure_learner(key, dim, num_heads):
  """θ_t: one weight vector per head, [H, dim], Glorot-uniform as GraphGLOW's weighted cosine.

  The heads must start distinct: heads that start equal get equal gradients under Adam and stay
  equal for ever, which collapses the H-head learner into one head.
  """
  return {"w": glorot(key, (num_heads, dim))}


def sample_pivots(key, node_mask, num_pivots):
  """`num_pivots` distinct node ids drawn uniformly among the real nodes (node_mask True)."""
  n_real = node_mask.sum()
  p = node_mask.astype(jnp.float32) / jnp.maximum(n_real, 1)
  return jax.random.choice(key, node_mask.shape[0], (num_pivots,), replace=False, p=p)


def pivot_similarity(theta_t, z, pivots):
  """Multi-head weighted cosine S [N, P]: S_ip = mean_h cos(w_h ⊙ z_i, w_h ⊙ z_p)."""
  zh = z[None] * theta_t["w"][:, None, :]                       # [H, N, D]
  zh = zh * jax.lax.rsqrt(jnp.sum(zh * zh, axis=-1, keepdims=True) + EPS)  # NaN-free grad at 0
  return jnp.einsum("hnd,hpd->np", zh, zh[:, pivots]) / theta_t["w"].shape[0]


def structure_learner(theta_t, z, pivots, node_mask, key=None, *, temperature=0.5, top_k=0):
  """Node-pivot structure B [N, P] in [0, 1]; rows of padding nodes are zero.

  Args:
    theta_t: structure-learner params (`init_structure_learner`).
    z: node features [N, D] used for similarity (first-layer hidden features here).
    pivots: int [P] pivot node ids (real nodes).
    node_mask: bool [N].
    key: None -> deterministic B = π (evaluation); a key -> relaxed Bernoulli sample.
    temperature: relaxed-Bernoulli temperature τ.
    top_k: > 0 keeps only each node's `top_k` most similar pivots (spec §3.1's optional
      top-k per row; a Python int, static), 0 keeps all (GraphGLOW's ε = 0 neighbourhood).
  """
  sim = pivot_similarity(theta_t, z, pivots)
  # The clip keeps the logit finite; the ε = 0 neighbourhood mask below zeroes S <= 0 exactly.
  prob = jnp.clip(sim, 1e-4, 1.0 - 1e-4)
  if key is None:
    b = prob
  else:
    noise = jax.random.logistic(key, prob.shape)
    b = jax.nn.sigmoid((jnp.log(prob) - jnp.log1p(-prob) + noise) / temperature)
  b = b * (sim > 0.0).astype(b.dtype)
  if top_k:
    kth = jax.lax.top_k(jax.lax.stop_gradient(sim), top_k)[0][:, -1:]
    b = b * (sim >= kth).astype(b.dtype)
  return b * node_mask[:, None].astype(b.dtype)


def pivot_propagate(b, h):
  """RowNorm(B) RowNorm(Bᵀ) H in O(N·P): node -> pivot -> node; zero rows stay zero (no NaN)."""
  to_pivot = (b.T @ h) / (b.sum(0)[:, None] + EPS)              # [P, F]
  return (b @ to_pivot) / (b.sum(1)[:, None] + EPS)             # [N, F]


def dense_learned_propagate(theta_t, z, node_mask, h):
  """Reference without pivots: dense learned N×N adjacency RowNorm(π(S_all)) H (O(N²) memory)."""
  zh = z[None] * theta_t["w"][:, None, :]
  zh = zh * jax.lax.rsqrt(jnp.sum(zh * zh, axis=-1, keepdims=True) + EPS)  # NaN-free grad at 0
  s = jnp.einsum("hnd,hmd->nm", zh, zh) / theta_t["w"].shape[0]
  m = node_mask.astype(jnp.float32)
  a = jnp.clip(s, 0.0, 1.0) * m[:, None] * m[None, :]
  return (a @ h) / (a.sum(1)[:, None] + EPS)


def structure_regularizer(b, r, pivots, alpha, beta, node_mask):
  """R_struct = α mean_{p,q} E_pq ‖r_p − r_q‖² + β mean(B), E = Bᵀ B [P, P] (pivot-level Eq. 4).

  mean(B) runs over the real rows only (padding rows of B are zero; averaging over them made
  the L0 term shrink with the padding).
  """
  e = b.T @ b
  e = e / (jnp.max(e) + EPS)
  rp = r[pivots]
  sq = jnp.sum(rp * rp, -1)
  d2 = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * rp @ rp.T, 0.0)
  return alpha * jnp.mean(e * d2) + beta * gops.masked_mean(b.mean(1), node_mask)


# ----------------------------------------------------------------------------------------------
# GNN g on the (learned) structure.

def init_gcn(key, hidden):
  """The second GCN layer (the first one is the input layer, shared or per feature space)."""
  return dense_init(key, hidden, hidden)


def gcn_norm_graph(graph):
  """Symmetric-normalised Â = D^-1/2 (A + I) D^-1/2 as (senders, receivers, weights) with self loops.

  `graph` is a dict with senders/receivers [E] int32, edge_mask [E] bool, node_mask [N] bool.
  """
  n = graph["node_mask"].shape[0]
  s, r, w = gops.gcn_norm(graph["senders"], graph["receivers"], n,
                          graph["edge_mask"].astype(jnp.float32))
  return s, r, w


def make_propagator(graph, b=None, lam=1.0):
  """prop(H) = λ Â H + (1 − λ) RowNorm(B) RowNorm(Bᵀ) H (just Â H when b is None)."""
  s, r, w = gcn_norm_graph(graph)
  n = graph["node_mask"].shape[0]
  mask = graph["node_mask"].astype(jnp.float32)[:, None]

  def prop(h):
    out = gops.propagate(h, s, r, w, n)
    if b is not None:
      out = lam * out + (1.0 - lam) * pivot_propagate(b, h)
    return out * mask
  return prop


def gcn_forward(w_in, w_gcn, x, prop, key=None, dropout=0.0):
  """2-layer GCN: r = prop(relu(prop(X W_in)) W_2). Returns (h0 = X W_in, r)."""
  h0 = dense(w_in, x)
  h1 = jax.nn.relu(prop(h0))
  if key is not None and dropout > 0:
    h1 = inverted_dropout(key, h1, dropout)
  return h0, prop(dense(w_gcn, h1))


# ----------------------------------------------------------------------------------------------
# Representation learner f_r.

def init_rep_learner(key, hidden, d_s, d_v, enc_hidden, logvar_init=0.0):
  """θ_r. `logvar_init` is the initial bias of the posterior log-variances (0 -> unit variance:
  the sampled s is then mostly noise at the start; -5 gives std 0.08)."""
  k = jax.random.split(key, 4)
  enc2 = dense_init(k[1], enc_hidden, 2 * (d_s + d_v))
  enc2["b"] = enc2["b"].at[d_s + d_v:].set(logvar_init)
  return {"enc1": dense_init(k[0], hidden, enc_hidden), "enc2": enc2,
          "dec1": dense_init(k[2], d_s + d_v, enc_hidden),
          "dec2": dense_init(k[3], enc_hidden, hidden)}


LOGVAR_MIN, LOGVAR_MAX = -8.0, 2.0


def soft_clip(x, lo, hi):
  """Smooth clip to (lo, hi): lo + softplus(x − lo) − softplus(x − hi). ≈ x well inside the
  range, and unlike jnp.clip its gradient is never exactly zero (a hard clip of the posterior
  log-variance can trap it at the bound, where exp(logvar) makes the KL explode)."""
  return lo + jax.nn.softplus(x - lo) - jax.nn.softplus(x - hi)


def gaussian_kl(mu, logvar, prior_mu):
  """KL(N(mu, diag exp(logvar)) ‖ N(prior_mu, I)) per row; ≥ 0."""
  return 0.5 * jnp.sum(jnp.exp(logvar) + (mu - prior_mu) ** 2 - 1.0 - logvar, axis=-1)


def rep_learner(theta_r, head, prior_mu, r, key=None, *, d_s, ce_sample=True, dropout=0.0):
  """q(s, v | r), p(r | s, v), p(y | s).

  Args:
    theta_r: encoder/decoder params; head: classifier {w [d_s, C], b}; prior_mu [d_s + d_v].
    r: node representations [N, H]. key: None -> use the posterior means (evaluation).
    ce_sample: with a key, classify the reparameterised sample of s (the ELBO's
      E_q[log p(y | s)]); False classifies the posterior mean E_q[s] (as at evaluation) while
      the decoder still reads the sample.
    dropout: with a key, inverted dropout at this rate on the encoder's input r and on its
      hidden layer (the GCN drops only its own hidden layer; without this the encoder is an
      unregularised 2-layer MLP fitted to the few target labels). The reconstruction target
      stays the clean r.
  Returns:
    dict logits [N, C] (from s), recon [N] (‖sg(r) − dec(s, v)‖² / H), kl [N], s [N, d_s],
    v [N, d_v] (means).
  """
  if key is not None and dropout > 0:
    # fold_in keeps `key` itself for the posterior noise: dropout = 0 is bit-identical to before.
    k_in, k_hid = jax.random.split(jax.random.fold_in(key, 1))
    hid = jax.nn.relu(dense(theta_r["enc1"], inverted_dropout(k_in, r, dropout)))
    hid = inverted_dropout(k_hid, hid, dropout)
  else:
    hid = jax.nn.relu(dense(theta_r["enc1"], r))
  stats = dense(theta_r["enc2"], hid)
  mu, logvar = jnp.split(stats, 2, axis=-1)
  logvar = soft_clip(logvar, LOGVAR_MIN, LOGVAR_MAX)
  z = mu if key is None else mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape)
  s = z[:, :d_s] if ce_sample else mu[:, :d_s]
  recon_r = dense(theta_r["dec2"], jax.nn.relu(dense(theta_r["dec1"], z)))
  recon = jnp.mean((jax.lax.stop_gradient(r) - recon_r) ** 2, axis=-1)
  return {"logits": dense(head, s), "recon": recon, "kl": gaussian_kl(mu, logvar, prior_mu),
          "s": mu[:, :d_s], "v": mu[:, d_s:]}
