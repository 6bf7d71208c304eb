"""Neighbourhood collaborative filtering: KNNBasic, KNNWithMeans, KNNWithZScore, KNNBaseline.

Aggarwal, *Recommender Systems: The Textbook* (2016), ch. 2; Koren, "Factor in the Neighbors:
Scalable and Accurate Collaborative Filtering", TKDD 2010 (baseline-corrected neighbours and the
shrunk pearson_baseline similarity); as implemented in Surprise (`surprise.prediction_algorithms.
knns`, `surprise.similarities`).

Idea: predict r_ui from the ratings of item i by the k users most similar to u (user-based) or
from u's ratings of the k items most similar to i (item-based):
  KNNBasic       r̂ = Σ s·r_v / Σ s
  KNNWithMeans   r̂ = μ_u + Σ s·(r_v − μ_v) / Σ s
  KNNWithZScore  r̂ = μ_u + σ_u Σ s·(r_v − μ_v)/σ_v / Σ s
  KNNBaseline    r̂ = b_ui + Σ s·(r_v − b_vi) / Σ s   (b from ALS baselines)
The neighbours are the k most similar among those who rated i (whatever the sign of s); only
those with s > 0 are accumulated; with fewer than min_k of them the prediction falls back to μ
(Basic; also for unknown users/items), μ_u (WithMeans/ZScore) or b_ui (Baseline).

Similarities (over co-rated items; 0 below min_support co-ratings; diagonal 1):
  msd              1 / (mean squared difference + 1)
  cosine           Σ r_u r_v / sqrt(Σ r_u² Σ r_v²)
  pearson          centred on each side's mean over the co-rated items
  pearson_baseline Pearson of the residuals r − b_ui (not centred), times
                   (n − 1) / (n − 1 + shrinkage)

Implementation: all co-rated sums are masked matmuls of the dense [users, items] rating matrix R
and mask M: n = M Mᵀ, Σ r_u r_v = R Rᵀ, Σ r_u² = R² Mᵀ, Σ (r_u − r_v)² = R²Mᵀ + M R²ᵀ − 2RRᵀ,
... (HIGHEST precision; exact for integer ratings in float32). Prediction masks the similarity row
of u with −inf where v did not rate i and takes `lax.top_k` with the static k, in chunks of test
pairs (`lax.map`) to bound memory.

Deviations from the reference (Surprise 1.1):
  * float32 (Surprise: float64); similarity sums in a different order.
  * Ties among neighbour similarities are broken by `lax.top_k` (lower index first), Surprise's
    `heapq.nlargest` by visiting order; this can swap equally similar neighbours.
  * pearson_baseline with a zero denominator gives 0 (Surprise would produce nan).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.projects.recsys import baseline
from jaxlab.projects.recsys import data as rdata
from jaxlab.projects.recsys import models

SIMILARITIES = ("msd", "cosine", "pearson", "pearson_baseline")
VARIANTS = ("basic", "with_means", "with_zscore", "baseline")
_HI = jax.lax.Precision.HIGHEST


@functools.partial(jax.jit, static_argnames=("name", "min_support"))
def similarity_matrix(X, M, *, name="msd", min_support=1, shrinkage=100.0):
  """[N, N] similarities between the rows of X [N, D] over co-observed columns (mask M)."""
  if name not in SIMILARITIES:
    raise ValueError(f"unknown similarity {name!r}; valid: {', '.join(SIMILARITIES)}")
  M = M.astype(jnp.float32)
  X = X.astype(jnp.float32) * M
  dot = lambda a, b: jnp.matmul(a, b.T, precision=_HI)
  freq = dot(M, M)
  X2 = X * X
  ok = (freq >= min_support) & (freq > 0)
  if name == "msd":
    sqdiff = jnp.maximum(dot(X2, M) + dot(M, X2) - 2.0 * dot(X, X), 0.0)
    sim = 1.0 / (sqdiff / jnp.where(ok, freq, 1.0) + 1.0)
  else:
    prods = dot(X, X)
    sqi, sqj = dot(X2, M), dot(M, X2)
    if name == "pearson":
      si, sj = dot(X, M), dot(M, X)
      num = freq * prods - si * sj
      den2 = jnp.maximum(freq * sqi - si * si, 0.0) * jnp.maximum(freq * sqj - sj * sj, 0.0)
    else:  # cosine, pearson_baseline (X holds residuals)
      num, den2 = prods, sqi * sqj
    ok = ok & (den2 > 0)
    sim = num / jnp.sqrt(jnp.where(ok, den2, 1.0))
    if name == "pearson_baseline":
      sim = sim * (freq - 1.0) / (freq - 1.0 + shrinkage)
  sim = jnp.where(ok, sim, 0.0)
  return jnp.where(jnp.eye(sim.shape[0], dtype=bool), 1.0, sim)


def fit_knn(train, *, seed=0, variant="basic", k=40, min_k=1, sim_name="msd", user_based=True,
            min_support=1, shrinkage=100.0, bsl_method="als", bsl_reg_u=15.0, bsl_reg_i=10.0,
            bsl_n_epochs=0, bsl_lr=0.005, bsl_reg=0.02):
  del seed  # deterministic
  if variant not in VARIANTS:
    raise ValueError(f"unknown kNN variant {variant!r}; valid: {', '.join(VARIANTS)}")
  hp = dict(variant=variant, k=k, min_k=min_k, sim_name=sim_name, user_based=user_based,
            min_support=min_support, shrinkage=shrinkage, bsl_method=bsl_method,
            bsl_reg_u=bsl_reg_u, bsl_reg_i=bsl_reg_i, bsl_n_epochs=bsl_n_epochs, bsl_lr=bsl_lr,
            bsl_reg=bsl_reg)
  R = rdata.dense_matrix(train)
  M = rdata.dense_matrix(train, values=np.ones(len(train), np.float32)) > 0
  need_bsl = variant == "baseline" or sim_name == "pearson_baseline"
  if need_bsl:
    bu, bi, mu = baseline.fit_biases(train, method=bsl_method, reg_u=bsl_reg_u,
                                     reg_i=bsl_reg_i, n_epochs=bsl_n_epochs or None, lr=bsl_lr,
                                     reg=bsl_reg)
    bu, bi = np.asarray(bu), np.asarray(bi)
  else:
    bu, bi = np.zeros(train.num_users, np.float32), np.zeros(train.num_items, np.float32)
    mu = float(np.mean(np.asarray(train.rating, np.float64)))
  if not user_based:
    R, M, bu, bi = R.T, M.T, bi, bu  # x = items, y = users
  bx, by = bu, bi
  X = R - (mu + bx[:, None] + by[None, :]) if sim_name == "pearson_baseline" else R
  sim = similarity_matrix(jnp.asarray(X), jnp.asarray(M), name=sim_name,
                          min_support=int(min_support), shrinkage=float(shrinkage))
  n_x = M.sum(1)
  means = np.where(n_x > 0, (R * M).sum(1) / np.maximum(n_x, 1), 0.0)
  var = np.where(n_x > 0, ((R - means[:, None]) ** 2 * M).sum(1) / np.maximum(n_x, 1), 0.0)
  sigmas = np.where(var > 0, np.sqrt(var), 1.0)
  params = {"sim": sim, "RT": R.T.copy(), "MT": M.T.copy(), "means": means.astype(np.float32),
            "sigmas": sigmas.astype(np.float32), "bx": bx.astype(np.float32),
            "by": by.astype(np.float32), "x_known": n_x > 0, "y_known": M.sum(0) > 0}
  return models.make_model(f"knn_{variant}", train, params, hp)


def _knn_chunk(params, meta, xs, ys, *, variant, k, min_k):
  s = params["sim"][xs]
  rated = params["MT"][ys]
  vals, idx = jax.lax.top_k(jnp.where(rated, s, -jnp.inf), k)
  r = jnp.take_along_axis(params["RT"][ys], idx, axis=1)
  pos = vals > 0
  w = jnp.where(pos, vals, 0.0)
  sum_sim = w.sum(1)
  enough = (pos.sum(1) >= min_k) & (sum_sim > 0)
  known = params["x_known"][xs] & params["y_known"][ys]
  mu = meta["global_mean"]
  safe = jnp.where(enough, sum_sim, 1.0)
  if variant == "basic":
    est = jnp.where(enough & known, (w * r).sum(1) / safe, mu)
  elif variant in ("with_means", "with_zscore"):
    mx = params["means"][xs]
    dev = r - params["means"][idx]
    if variant == "with_zscore":
      dev = dev / params["sigmas"][idx]
    corr = (w * dev).sum(1) / safe
    if variant == "with_zscore":
      corr = corr * params["sigmas"][xs]
    est = jnp.where(known, mx + jnp.where(enough, corr, 0.0), mu)
  else:  # baseline
    by = params["by"][ys]
    b = mu + params["bx"][xs] + by
    corr = (w * (r - (mu + params["bx"][idx] + by[:, None]))).sum(1) / safe
    est = b + jnp.where(enough & known, corr, 0.0)
  return est


@functools.partial(jax.jit, static_argnames=("variant", "k", "min_k", "chunk"))
def _knn_estimate(params, xs, ys, mu, *, variant, k, min_k, chunk):
  n = xs.shape[0]
  pad = (-n) % chunk
  xs_p = jnp.concatenate([xs, jnp.zeros(pad, xs.dtype)]).reshape(-1, chunk)
  ys_p = jnp.concatenate([ys, jnp.zeros(pad, ys.dtype)]).reshape(-1, chunk)
  meta = {"global_mean": mu}
  f = lambda a: _knn_chunk(params, meta, a[0], a[1], variant=variant, k=k, min_k=min_k)
  return jax.lax.map(f, (xs_p, ys_p)).reshape(-1)[:n]


def estimate_knn(params, meta, users, items, chunk=256):
  hp = meta["hparams"]
  xs, ys = (users, items) if hp["user_based"] else (items, users)
  k = min(int(hp["k"]), params["sim"].shape[0])
  return _knn_estimate(params, xs, ys, jnp.float32(meta["global_mean"]), variant=hp["variant"],
                       k=k, min_k=int(hp["min_k"]), chunk=int(chunk))


_KNN_DEFAULTS = dict(k=40, min_k=1, sim_name="msd", user_based=True, min_support=1,
                     shrinkage=100.0, bsl_method="als", bsl_reg_u=15.0, bsl_reg_i=10.0,
                     bsl_n_epochs=0, bsl_lr=0.005, bsl_reg=0.02)

for _v in VARIANTS:
  models.register(
      f"knn_{_v}", fit=functools.partial(fit_knn, variant=_v), estimate=estimate_knn,
      kind="explicit", defaults=_KNN_DEFAULTS,
      description=f"KNN{_v} (Surprise), k 40, MSD, user-based by default")
