"""Implicit-feedback recommenders: popularity, WMF / iALS, BPR-MF.

  * Hu, Koren, Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008
    (weighted matrix factorisation, WMF, solved by ALS).
  * Rendle, Krichene, Zhang, Koren, "Revisiting the Performance of iALS on Item Recommendation
    Benchmarks", RecSys 2022 / arXiv:2110.14037 (unobserved weight α₀, frequency-scaled L2).
  * Rendle, Freudenthaler, Gantner, Schmidt-Thieme, "BPR: Bayesian Personalized Ranking from
    Implicit Feedback", UAI 2009 (arXiv:1205.2618).

Preferences p_ui = 1 for observed pairs (optionally only ratings ≥ `min_rating`), else 0.

WMF/iALS minimises Σ_{(u,i) observed} c_ui (1 − x_uᵀy_i)² + α₀ Σ_{unobserved} (x_uᵀy_i)²
+ Σ_u λ_u ‖x_u‖² + Σ_i λ_i ‖y_i‖², c_ui = 1 + α·v_ui (v = 1, or the rating with
`confidence="rating"`), λ_u = λ (|R_u| + α₀ |I|)^ν (ν = 0: plain λ as in Hu et al. and
`implicit`). Each half-sweep solves every row exactly:
  x_u = (α₀ YᵀY + Σ_{i∈R_u} (c_ui − α₀) y_i y_iᵀ + λ_u I)^{-1} Σ_{i∈R_u} c_ui y_i,
with the Gramian YᵀY computed once per sweep (the Hu et al. trick) and the per-row corrections
accumulated by `segment_sum` over the observed pairs in fixed-size chunks (`lax.scan`), then a
batched `jnp.linalg.solve`.

BPR-MF maximises Σ ln σ(x̂_ui − x̂_uj) − λ‖Θ‖² over sampled triples (u, i ∈ R_u, j ∉ R_u),
x̂_ui = p_uᵀq_i + b_i, by SGD: with z = σ(−x̂_uij), p_u += γ(z(q_i − q_j) − λp_u),
q_i += γ(z p_u − λq_i), q_j += γ(−z p_u − λq_j), b_i += γ(z − λb_i), b_j += γ(−z − λb_j).
An epoch draws as many triples as there are positives.

Popularity: score_i = number of training positives of i.

Deviations from the references:
  * BPR updates a minibatch of `batch_size` triples at once (all from the same old parameters,
    summed with scatter-add) instead of `implicit`'s Hogwild per-triple updates; batch_size=1 is
    the per-sample SGD. Negatives are "verified": up to `neg_tries` uniform draws per triple,
    the first j ∉ R_u is used; a triple without one is skipped (masked).
  * iALS solves exactly by default (`solver="exact"`, batched `jnp.linalg.solve`);
    `solver="cg"` takes `cg_steps` warm-started conjugate-gradient steps per row and sweep
    (`implicit`'s default, Takács et al. 2011), O(k·nnz) instead of O(k²·nnz) per sweep; when
    users × items ≤ `dense_limit` (ML-100K: 1.6M) the CG products use dense [U, I] weight
    matrices (two matmuls per step, multi-threaded) instead of serial scatter-adds.
    `implicit`'s convention c_ui = α·v (no +1) is not used (compare.py maps between the two).
  * float32 throughout.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.projects.recsys import data as rdata
from jaxlab.projects.recsys import models


def positives(train, min_rating=0.0):
  """(user, item, value) of the training pairs that count as positive (duplicates kept)."""
  keep = np.asarray(train.rating) >= min_rating
  return (np.asarray(train.user)[keep], np.asarray(train.item)[keep],
          np.asarray(train.rating)[keep])


def _score_matrix(params, meta, users):
  s = params["P"][users] @ params["Q"].T
  if "b" in params:
    s = s + params["b"][None, :]
  return s


def _estimate(params, meta, users, items):
  s = jnp.sum(params["P"][users] * params["Q"][items], -1)
  if "b" in params:
    s = s + params["b"][items]
  return s


# ----------------------------------------------------------------------------------------------
# Popularity


def fit_popularity(train, *, seed=0, min_rating=0.0):
  del seed
  _, item, _ = positives(train, min_rating)
  count = rdata.counts(item, train.num_items).astype(np.float32)
  return models.make_model("popularity", train, {"count": count}, dict(min_rating=min_rating))


models.register(
    "popularity", fit=fit_popularity, kind="implicit", defaults=dict(min_rating=0.0),
    estimate=lambda params, meta, users, items: params["count"][items],
    score_matrix=lambda params, meta, users: jnp.broadcast_to(
        params["count"][None], (users.shape[0], params["count"].shape[0])),
    description="items ranked by training interaction count")


# ----------------------------------------------------------------------------------------------
# WMF / iALS


@functools.partial(jax.jit, static_argnames=("num_rows", "chunk"))
def solve_rows(rows, cols, conf, F, reg_rows, w0, *, num_rows, chunk=1024):
  """Exact weighted least-squares rows X [num_rows, k] given the other side's factors F.

  Row r minimises Σ_{observed (r,c)} conf (1 − x·f_c)² + w0 Σ_{unobserved} (x·f_c)²
  + reg_rows[r] ‖x‖². `rows`, `cols`, `conf` list the observed pairs (no duplicates).
  """
  k = F.shape[1]
  n = rows.shape[0]
  pad = (-n) % chunk
  rows_p = jnp.concatenate([rows, jnp.full(pad, num_rows, rows.dtype)]).reshape(-1, chunk)
  cols_p = jnp.concatenate([cols, jnp.zeros(pad, cols.dtype)]).reshape(-1, chunk)
  conf_p = jnp.concatenate([conf, jnp.zeros(pad, conf.dtype)]).reshape(-1, chunk)

  def body(carry, xs):
    A, b = carry
    r, c, w = xs
    f = F[c]
    outer = (f * (w - w0)[:, None])[:, :, None] * f[:, None, :]
    A = A + jax.ops.segment_sum(outer, r, num_rows + 1)
    b = b + jax.ops.segment_sum(f * w[:, None], r, num_rows + 1)
    return (A, b), None

  init = (jnp.zeros((num_rows + 1, k, k), F.dtype), jnp.zeros((num_rows + 1, k), F.dtype))
  (A, b), _ = jax.lax.scan(body, init, (rows_p, cols_p, conf_p))
  # Padding rows carry conf 0 and land in the extra segment num_rows, which is dropped.
  gram = jnp.matmul(F.T, F, precision=jax.lax.Precision.HIGHEST)
  A = A[:num_rows] + w0 * gram[None] + reg_rows[:, None, None] * jnp.eye(k, dtype=F.dtype)
  return jnp.linalg.solve(A, b[:num_rows][..., None])[..., 0]


@functools.partial(jax.jit, static_argnames=("num_rows", "steps"))
def cg_rows(X, rows, cols, conf, F, reg_rows, w0, *, num_rows, steps=3):
  """`steps` conjugate-gradient steps on every row's normal equations, warm-started at X.

  Same system as `solve_rows`, A_r = w0 FᵀF + Σ_{c∈R_r} (conf − w0) f_c f_cᵀ + reg_r I,
  b_r = Σ_{c∈R_r} conf f_c, but A_r is never formed: A_r p costs O(k |R_r|) + one shared
  [k, k] product (Takács et al. 2011; `implicit`'s default, 3 steps). With steps ≥ k it equals
  the exact solve up to rounding.
  """
  gram = w0 * jnp.matmul(F.T, F, precision=jax.lax.Precision.HIGHEST)
  Fc = F[cols]  # [nnz, k]

  def matvec(P):
    s = jnp.sum(P[rows] * Fc, -1) * (conf - w0)
    return P @ gram + reg_rows[:, None] * P + jax.ops.segment_sum(
        s[:, None] * Fc, rows, num_rows)

  b = jax.ops.segment_sum(conf[:, None] * Fc, rows, num_rows)
  return _row_cg(matvec, X, b, steps)


@functools.partial(jax.jit, static_argnames=("steps",))
def cg_rows_dense(X, W, B, F, reg_rows, w0, *, steps=3):
  """`cg_rows` with the observed weights as dense matrices (small data sets such as ML-100K).

  W [R, C] holds conf − w0 on observed pairs and 0 elsewhere, B [R, C] holds conf on observed
  pairs: A p = w0 FᵀF p + reg p + ((P Fᵀ) ⊙ W) F and b = B F are then two dense matmuls, which
  XLA runs multi-threaded (scatter-adds of the sparse form are serial on CPU).
  """
  hi = jax.lax.Precision.HIGHEST
  gram = w0 * jnp.matmul(F.T, F, precision=hi)

  def matvec(P):
    return P @ gram + reg_rows[:, None] * P + ((P @ F.T) * W) @ F

  return _row_cg(matvec, X, B @ F, steps)


def _row_cg(matvec, X, b, steps):
  """`steps` conjugate-gradient iterations, warm-started at X, on the independent per-row
  systems A_i x_i = b_i, where `matvec(P)` applies every A_i to its row of P at once."""
  r = b - matvec(X)
  p = r
  rs = jnp.sum(r * r, -1)

  def body(carry, _):
    x, r, p, rs = carry
    Ap = matvec(p)
    a = rs / jnp.maximum(jnp.sum(p * Ap, -1), 1e-30)
    x = x + a[:, None] * p
    r = r - a[:, None] * Ap
    rs_new = jnp.sum(r * r, -1)
    p = r + (rs_new / jnp.maximum(rs, 1e-30))[:, None] * p
    return (x, r, p, rs_new), None

  (X, _, _, _), _ = jax.lax.scan(body, (X, r, p, rs), None, length=steps)
  return X


@jax.jit
def ials_loss(X, Y, rows, cols, conf, w0):
  """The WMF objective without the L2 term (for logging)."""
  s = jnp.sum(X[rows] * Y[cols], -1)
  all_sq = jnp.sum((X.T @ X) * (Y.T @ Y))
  return w0 * all_sq + jnp.sum(conf * (1.0 - s) ** 2 - w0 * s * s)


def fit_ials(train, *, seed=0, n_factors=100, n_iters=15, reg=0.01, alpha=1.0,
             unobserved_weight=1.0, reg_exponent=0.0, init_std=0.01, confidence="binary",
             min_rating=0.0, solver="exact", cg_steps=3, dense_limit=4_000_000, chunk=1024,
             progress=False):
  """`dense_limit`: with solver="cg", use `cg_rows_dense` when users × items ≤ this."""
  hp = dict(n_factors=n_factors, n_iters=n_iters, reg=reg, alpha=alpha,
            unobserved_weight=unobserved_weight, reg_exponent=reg_exponent, init_std=init_std,
            confidence=confidence, min_rating=min_rating, solver=solver, cg_steps=cg_steps,
            dense_limit=dense_limit, chunk=chunk, progress=progress)
  if solver not in ("exact", "cg"):
    raise ValueError(f"solver must be 'exact' or 'cg', got {solver!r}")
  u, i, v = positives(train, min_rating)
  key = np.unique(u.astype(np.int64) * train.num_items + i)  # drop duplicate pairs
  u, i = (key // train.num_items).astype(np.int32), (key % train.num_items).astype(np.int32)
  if confidence == "binary":
    conf = np.full(len(u), 1.0 + alpha, np.float32)
  elif confidence == "rating":
    dense = rdata.dense_matrix(train)
    conf = (1.0 + alpha * dense[u, i]).astype(np.float32)
  else:
    raise ValueError(f"confidence must be 'binary' or 'rating', got {confidence!r}")
  w0 = float(unobserved_weight)
  n_u = rdata.counts(u, train.num_users)
  n_i = rdata.counts(i, train.num_items)
  reg_u = (reg * (n_u + w0 * train.num_items) ** reg_exponent).astype(np.float32)
  reg_i = (reg * (n_i + w0 * train.num_users) ** reg_exponent).astype(np.float32)
  rng = jax.random.PRNGKey(seed)
  kx, ky = jax.random.split(rng)
  X = init_std * jax.random.normal(kx, (train.num_users, n_factors))
  Y = init_std * jax.random.normal(ky, (train.num_items, n_factors))
  ju, ji, jc = jnp.asarray(u), jnp.asarray(i), jnp.asarray(conf)
  its = range(n_iters)
  if progress:
    import tqdm
    its = tqdm.tqdm(its, desc="ials", leave=False)
  losses = []
  ru, ri = jnp.asarray(reg_u), jnp.asarray(reg_i)
  dense = solver == "cg" and train.num_users * train.num_items <= dense_limit
  if dense:
    Wd = np.zeros((train.num_users, train.num_items), np.float32)
    Wd[u, i] = conf - w0
    Bd = np.zeros_like(Wd)
    Bd[u, i] = conf
    Wd, Bd = jnp.asarray(Wd), jnp.asarray(Bd)
    WdT, BdT = Wd.T, Bd.T
  for _ in its:  # python loop over sweeps; each half-sweep is one jitted solve
    if solver == "exact":
      X = solve_rows(ju, ji, jc, Y, ru, jnp.float32(w0), num_rows=train.num_users,
                     chunk=int(chunk))
      Y = solve_rows(ji, ju, jc, X, ri, jnp.float32(w0), num_rows=train.num_items,
                     chunk=int(chunk))
    elif dense:
      X = cg_rows_dense(X, Wd, Bd, Y, ru, jnp.float32(w0), steps=int(cg_steps))
      Y = cg_rows_dense(Y, WdT, BdT, X, ri, jnp.float32(w0), steps=int(cg_steps))
    else:
      X = cg_rows(X, ju, ji, jc, Y, ru, jnp.float32(w0), num_rows=train.num_users,
                  steps=int(cg_steps))
      Y = cg_rows(Y, ji, ju, jc, X, ri, jnp.float32(w0), num_rows=train.num_items,
                  steps=int(cg_steps))
    losses.append(float(ials_loss(X, Y, ju, ji, jc, jnp.float32(w0))))
  return models.make_model("ials", train, {"P": X, "Q": Y}, hp, loss_per_iter=losses)


models.register(
    "ials", fit=fit_ials, estimate=_estimate, score_matrix=_score_matrix, kind="implicit",
    defaults=dict(n_factors=100, n_iters=15, reg=0.01, alpha=1.0, unobserved_weight=1.0,
                  reg_exponent=0.0, init_std=0.01, confidence="binary", min_rating=0.0,
                  solver="exact", cg_steps=3, dense_limit=4_000_000, chunk=1024,
                  progress=False),
    description="WMF / iALS with exact (or conjugate-gradient) per-row solves, Gramian trick")


# ----------------------------------------------------------------------------------------------
# BPR


def bpr_update(params, u, i, j, valid, lr, reg):
  """One (mini)batch BPR SGD update from the old parameters; returns (params, mean log-lik)."""
  P, Q, b = params["P"], params["Q"], params["b"]
  pu, qi, qj = P[u], Q[i], Q[j]
  x = jnp.sum(pu * (qi - qj), -1) + b[i] - b[j]
  z = jax.nn.sigmoid(-x) * valid
  m = valid[:, None]
  P = P.at[u].add(lr * m * (z[:, None] * (qi - qj) - reg * pu))
  Q = Q.at[i].add(lr * m * (z[:, None] * pu - reg * qi))
  Q = Q.at[j].add(lr * m * (-z[:, None] * pu - reg * qj))
  b = b.at[i].add(lr * valid * (z - reg * b[i]))
  b = b.at[j].add(lr * valid * (-z - reg * b[j]))
  ll = jnp.sum(valid * jax.nn.log_sigmoid(x)) / jnp.maximum(valid.sum(), 1.0)
  return {"P": P, "Q": Q, "b": b}, ll


def sample_triples(key, pos_user, pos_item, pos_mask, batch_size, neg_tries):
  """(u, i, j, valid) with (u, i) a uniform positive and j the first of `neg_tries` uniform
  items that u has not interacted with (valid = one was found)."""
  k1, k2 = jax.random.split(key)
  idx = jax.random.randint(k1, (batch_size,), 0, pos_user.shape[0])
  u, i = pos_user[idx], pos_item[idx]
  cand = jax.random.randint(k2, (batch_size, neg_tries), 0, pos_mask.shape[1])
  free = ~pos_mask[u[:, None], cand]
  j = jnp.take_along_axis(cand, jnp.argmax(free, axis=1)[:, None], axis=1)[:, 0]
  return u, i, j, free.any(axis=1).astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=("steps", "batch_size", "neg_tries", "item_bias"))
def _bpr_epoch(params, key, pos_user, pos_item, pos_mask, lr, reg, *, steps, batch_size,
               neg_tries, item_bias):
  def step(p, k):
    u, i, j, valid = sample_triples(k, pos_user, pos_item, pos_mask, batch_size, neg_tries)
    p, ll = bpr_update(p, u, i, j, valid, lr, reg)
    if not item_bias:
      p = dict(p, b=jnp.zeros_like(p["b"]))
    return p, ll

  return jax.lax.scan(step, params, jax.random.split(key, steps))


def fit_bpr(train, *, seed=0, n_factors=100, n_epochs=100, lr=0.01, reg=0.01, batch_size=64,
            init_std=0.01, item_bias=True, neg_tries=16, min_rating=0.0, progress=False):
  hp = dict(n_factors=n_factors, n_epochs=n_epochs, lr=lr, reg=reg, batch_size=batch_size,
            init_std=init_std, item_bias=item_bias, neg_tries=neg_tries, min_rating=min_rating,
            progress=progress)
  u, i, _ = positives(train, min_rating)
  mask = np.zeros((train.num_users, train.num_items), bool)
  mask[np.asarray(train.user), np.asarray(train.item)] = True  # all seen pairs are non-negative
  key = jax.random.PRNGKey(seed)
  kp, kq, key = jax.random.split(key, 3)
  params = {"P": init_std * jax.random.normal(kp, (train.num_users, n_factors)),
            "Q": init_std * jax.random.normal(kq, (train.num_items, n_factors)),
            "b": jnp.zeros(train.num_items)}
  steps = max(-(-len(u) // int(batch_size)), 1)
  args = (jnp.asarray(u), jnp.asarray(i), jnp.asarray(mask), jnp.float32(lr), jnp.float32(reg))
  epochs = range(n_epochs)
  if progress:
    import tqdm
    epochs = tqdm.tqdm(epochs, desc="bpr", leave=False)
  hist = []
  for e in epochs:  # python loop over epochs only; each epoch is one jitted scan
    params, ll = _bpr_epoch(params, jax.random.fold_in(key, e), *args, steps=steps,
                            batch_size=int(batch_size), neg_tries=int(neg_tries),
                            item_bias=bool(item_bias))
    hist.append(float(ll.mean()))
  if not item_bias:
    params.pop("b")
  return models.make_model("bpr", train, params, hp, loglik_per_epoch=hist)


models.register(
    "bpr", fit=fit_bpr, estimate=_estimate, score_matrix=_score_matrix, kind="implicit",
    defaults=dict(n_factors=100, n_epochs=100, lr=0.01, reg=0.01, batch_size=64, init_std=0.01,
                  item_bias=True, neg_tries=16, min_rating=0.0, progress=False),
    description="BPR-MF with item bias, verified uniform negatives, minibatch SGD")
