"""NormalPredictor and BaselineOnly (global mean + user bias + item bias).

Koren, "Factor in the Neighbors: Scalable and Accurate Collaborative Filtering", TKDD 2010,
§2.1 (baseline estimates); as implemented in Surprise (`NormalPredictor`, `BaselineOnly`).

Idea: r̂_ui = μ + b_u + b_i. The biases minimise Σ (r_ui − μ − b_u − b_i)² + λ_u Σ b_u² +
λ_i Σ b_i², either by alternating exact least squares (ALS: each b_i given b, then each b_u; the
closed forms are b_i = Σ_{u∈U_i}(r_ui − μ − b_u)/(reg_i + |U_i|), b_u likewise with reg_u) or by
per-rating SGD. NormalPredictor draws r̂ ~ N(μ̂, σ̂²) with the maximum-likelihood μ̂, σ̂.

Deviations from the reference (Surprise 1.1):
  * float32 instead of float64.
  * NormalPredictor samples from a JAX key (`rng=` argument of `predict`, default the model's
    seed), not from numpy's global state.
  * ALS sums use `segment_sum` (order of floating-point additions differs).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.projects.recsys import data as rdata
from jaxlab.projects.recsys import models


# ----------------------------------------------------------------------------------------------
# Shared baseline solvers (also used by KNNBaseline and the pearson_baseline similarity)


@functools.partial(jax.jit, static_argnames=("num_users", "num_items", "n_epochs"))
def als_biases(user, item, rating, mu, *, num_users, num_items, reg_u=15.0, reg_i=10.0,
               n_epochs=10):
  """Surprise's `baseline_als`: per epoch all b_i (given b_u), then all b_u (given b_i)."""
  n_u = jax.ops.segment_sum(jnp.ones_like(rating), user, num_users)
  n_i = jax.ops.segment_sum(jnp.ones_like(rating), item, num_items)

  def epoch(carry, _):
    bu, bi = carry
    bi = jax.ops.segment_sum(rating - mu - bu[user], item, num_items) / (reg_i + n_i)
    bu = jax.ops.segment_sum(rating - mu - bi[item], user, num_users) / (reg_u + n_u)
    return (bu, bi), None

  init = (jnp.zeros(num_users, jnp.float32), jnp.zeros(num_items, jnp.float32))
  (bu, bi), _ = jax.lax.scan(epoch, init, None, length=n_epochs)
  return bu, bi


@functools.partial(jax.jit, static_argnames=("num_users", "num_items", "n_epochs"))
def sgd_biases(user, item, rating, order, mu, *, num_users, num_items, lr=0.005, reg=0.02,
               n_epochs=20):
  """Surprise's `baseline_sgd`: per-rating SGD visiting ratings in `order` each epoch."""
  u, i, r = user[order], item[order], rating[order]

  def step(carry, x):
    bu, bi = carry
    uu, ii, rr = x
    err = rr - (mu + bu[uu] + bi[ii])
    bu = bu.at[uu].add(lr * (err - reg * bu[uu]))
    bi = bi.at[ii].add(lr * (err - reg * bi[ii]))
    return (bu, bi), None

  def epoch(carry, _):
    return jax.lax.scan(step, carry, (u, i, r))[0], None

  init = (jnp.zeros(num_users, jnp.float32), jnp.zeros(num_items, jnp.float32))
  (bu, bi), _ = jax.lax.scan(epoch, init, None, length=n_epochs)
  return bu, bi


def fit_biases(train, *, method="als", reg_u=15.0, reg_i=10.0, n_epochs=None, lr=0.005,
               reg=0.02):
  """(b_u, b_i, μ) by Surprise's `bsl_options` conventions (ALS: 10 epochs; SGD: 20)."""
  mu = float(np.mean(np.asarray(train.rating, np.float64)))
  args = (jnp.asarray(train.user), jnp.asarray(train.item), jnp.asarray(train.rating))
  if method == "als":
    bu, bi = als_biases(*args, jnp.float32(mu), num_users=train.num_users,
                        num_items=train.num_items, reg_u=reg_u, reg_i=reg_i,
                        n_epochs=int(n_epochs or 10))
  elif method == "sgd":
    order = jnp.asarray(rdata.surprise_order(train.user))
    bu, bi = sgd_biases(*args, order, jnp.float32(mu), num_users=train.num_users,
                        num_items=train.num_items, lr=lr, reg=reg,
                        n_epochs=int(n_epochs or 20))
  else:
    raise ValueError(f"baseline method must be 'als' or 'sgd', got {method!r}")
  return bu, bi, mu


# ----------------------------------------------------------------------------------------------
# BaselineOnly


def fit_baseline_only(train, *, seed=0, method="als", reg_u=15.0, reg_i=10.0, n_epochs=0,
                      lr=0.005, reg=0.02):
  del seed  # deterministic
  hp = dict(method=method, reg_u=reg_u, reg_i=reg_i, n_epochs=n_epochs, lr=lr, reg=reg)
  bu, bi, _ = fit_biases(train, method=method, reg_u=reg_u, reg_i=reg_i,
                         n_epochs=n_epochs or None, lr=lr, reg=reg)
  return models.make_model("baseline_only", train, {"bu": bu, "bi": bi}, hp)


def estimate_baseline_only(params, meta, users, items):
  return meta["global_mean"] + params["bu"][users] + params["bi"][items]


models.register(
    "baseline_only", fit=fit_baseline_only, estimate=estimate_baseline_only, kind="explicit",
    defaults=dict(method="als", reg_u=15.0, reg_i=10.0, n_epochs=0, lr=0.005, reg=0.02),
    description="μ + b_u + b_i by ALS (10 epochs, reg_u 15, reg_i 10) or SGD (20, 0.005, 0.02);"
                " n_epochs=0 takes the method's default")


# ----------------------------------------------------------------------------------------------
# NormalPredictor


def fit_normal(train, *, seed=0):
  r = np.asarray(train.rating, np.float64)
  sigma = float(np.sqrt(np.mean((r - r.mean()) ** 2))) if len(r) else 0.0
  return models.make_model("normal_predictor", train, {}, {}, sigma=sigma, seed=int(seed))


def estimate_normal(params, meta, users, items, rng=None):
  del params, items
  key = jax.random.PRNGKey(meta["seed"]) if rng is None else rng
  return meta["global_mean"] + meta["sigma"] * jax.random.normal(key, users.shape)


models.register(
    "normal_predictor", fit=fit_normal, estimate=estimate_normal, kind="explicit", defaults={},
    description="r̂ ~ N(μ, σ²) of the training ratings (Surprise NormalPredictor)")
