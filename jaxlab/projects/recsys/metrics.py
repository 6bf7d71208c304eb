"""Rating and ranking metrics for recommenders (pure jnp functions).

Rating prediction: RMSE, MAE (Surprise `accuracy.rmse` / `accuracy.mae`).

Top-N (Recommenders `python_evaluation` definitions, binary relevance = item is in the user's
test set), averaged over the users that have at least one test item:
  * precision@k = hits in top-k / k
  * recall@k    = hits in top-k / |test items|
  * nDCG@k      = Σ_{rank r ≤ k, hit} 1/log2(r + 1) / Σ_{r ≤ min(k, |test|)} 1/log2(r + 1)
  * MAP@k       = Σ_{rank r ≤ k, hit} precision@r / |test items| — Recommenders' `map`
    (the benchmark notebook's "MAP" column). `map_denominator="min_k"` divides by
    min(k, |test items|) instead (Recommenders' `map_at_k` since 1.2, the usual MAP@k).
Seen items (training interactions) are removed from the candidates with −inf scores before the
top-k, so they can neither be recommended nor count as hits.

Sampled metrics (NCF protocol): the held-out item is ranked among `num_negatives` sampled
unobserved items; HR@k and NDCG@k = 1/log2(rank + 2) if rank < k. These are *sampled* metrics
(Krichene & Rendle, KDD 2020): they are not consistent with the full-ranking ones and can reorder
models; reported only under that name.

Deviations: ties in scores are broken by `lax.top_k` (lower item index first); in sampled
metrics a negative with a score equal to the positive's does not push it down (optimistic).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


def rmse(pred, target):
  pred, target = jnp.asarray(pred, jnp.float32), jnp.asarray(target, jnp.float32)
  return jnp.sqrt(jnp.mean(jnp.square(pred - target)))


def mae(pred, target):
  pred, target = jnp.asarray(pred, jnp.float32), jnp.asarray(target, jnp.float32)
  return jnp.mean(jnp.abs(pred - target))


@functools.partial(jax.jit, static_argnames=("k",))
def top_k_unseen(scores, seen, k: int):
  """Top-k item indices per row of `scores` [U, I], excluding `seen` [U, I] (bool)."""
  masked = jnp.where(seen, -jnp.inf, scores)
  return jax.lax.top_k(masked, k)[1]


@functools.partial(jax.jit, static_argnames=("k", "map_denominator"))
def ranking_metrics(top, relevant, k: int, map_denominator: str = "n_relevant"):
  """P@k, R@k, nDCG@k, MAP@k of recommendation lists.

  Args:
    top: int [U, >=k], recommended items per user, best first.
    relevant: bool [U, I], the user's test items.
    k: cut-off (static).
    map_denominator: "n_relevant" (Recommenders' `map`) or "min_k" (classic MAP@k).

  Returns:
    dict of scalar means over users with >= 1 relevant item, plus "num_users".
  """
  top = top[:, :k]
  hits = jnp.take_along_axis(relevant, top, axis=1).astype(jnp.float32)  # [U, k]
  n_rel = relevant.sum(axis=1).astype(jnp.float32)
  valid = n_rel > 0
  denom_users = jnp.maximum(valid.sum(), 1)
  ranks = jnp.arange(1, k + 1, dtype=jnp.float32)
  discount = 1.0 / jnp.log2(ranks + 1.0)
  dcg = (hits * discount).sum(1)
  ideal_len = jnp.minimum(n_rel, k)
  idcg = jnp.where(ranks[None, :] <= ideal_len[:, None], discount[None, :], 0.0).sum(1)
  prec_at_rank = jnp.cumsum(hits, axis=1) / ranks
  ap_num = (prec_at_rank * hits).sum(1)
  if map_denominator == "n_relevant":
    ap = ap_num / jnp.maximum(n_rel, 1)
  elif map_denominator == "min_k":
    ap = ap_num / jnp.maximum(ideal_len, 1)
  else:
    raise ValueError(f"map_denominator must be 'n_relevant' or 'min_k', got {map_denominator!r}")
  mean = lambda x: jnp.where(valid, x, 0.0).sum() / denom_users
  return {
      f"precision@{k}": mean(hits.sum(1) / k),
      f"recall@{k}": mean(hits.sum(1) / jnp.maximum(n_rel, 1)),
      f"ndcg@{k}": mean(dcg / jnp.maximum(idcg, 1e-12)),
      f"map@{k}": mean(ap),
      "num_users": valid.sum(),
  }


def evaluate_ranking(scores, seen, relevant, k=10, map_denominator="n_relevant") -> dict:
  """Full-ranking top-k metrics from a score matrix; host floats."""
  top = top_k_unseen(jnp.asarray(scores), jnp.asarray(seen), k)
  out = ranking_metrics(top, jnp.asarray(relevant), k, map_denominator)
  return {name: (int(v) if name == "num_users" else float(v)) for name, v in out.items()}


def sample_negatives(seen, test_item, num_negatives=100, seed=0):
  """[U, num_negatives] items each user never interacted with (train nor test), uniform.

  `seen` is bool [U, I] of training interactions; `test_item` int [U] (−1: user not evaluated).
  """
  rng = np.random.RandomState(seed)
  num_users, num_items = seen.shape
  out = np.zeros((num_users, num_negatives), np.int32)
  for u in range(num_users):  # host-side, once per protocol
    forbidden = seen[u].copy()
    if test_item[u] >= 0:
      forbidden[test_item[u]] = True
    pool = np.flatnonzero(~forbidden)
    out[u] = rng.choice(pool, num_negatives, replace=len(pool) < num_negatives)
  return out


@functools.partial(jax.jit, static_argnames=("k",))
def sampled_metrics(pos_scores, neg_scores, k: int = 10):
  """HR@k and NDCG@k of each positive ranked among its sampled negatives [U, N] (means)."""
  rank = (neg_scores > pos_scores[:, None]).sum(1)
  hit = rank < k
  return {f"sampled_hr@{k}": hit.mean(),
          f"sampled_ndcg@{k}": jnp.where(hit, 1.0 / jnp.log2(rank + 2.0), 0.0).mean()}
