"""Latent-factor models for explicit ratings: SVD (biased MF), minibatch SVD, SVD++, NMF.

  * Koren, Bell, Volinsky, "Matrix Factorization Techniques for Recommender Systems",
    IEEE Computer 2009 (biased MF, "SVD" in Surprise).
  * Koren, "Factorization Meets the Neighborhood: a Multifaceted Collaborative Filtering Model",
    KDD 2008 (SVD++).
  * Luo et al., "An Efficient Non-Negative Matrix-Factorization-Based Approach to Collaborative
    Filtering for Recommender Systems", IEEE TII 2014 (Surprise's NMF updates).

Idea: r̂_ui = μ + b_u + b_i + q_iᵀ p_u, learned by per-rating SGD on the regularised squared
error, e = r − r̂: b_u += γ(e − λ b_u), b_i += γ(e − λ b_i), p_u += γ(e q_i − λ p_u),
q_i += γ(e p_u − λ q_i) (old values on the right-hand sides). SVD++ adds implicit feedback:
p_u → p_u + |R_u|^{-1/2} Σ_{j∈R_u} y_j, with y_j += γ(e |R_u|^{-1/2} q_i − λ y_j) for all
j ∈ R_u at every rating of u. NMF keeps p, q ≥ 0 with multiplicative updates
p_uf ← p_uf Σ_i q_if r_ui / (Σ_i q_if r̂_ui + |R_u| λ_u p_uf) (and q likewise, from the same
epoch's sums).

Implementation: the sequential SGD is one `lax.scan` over the ratings (inner) inside a
`lax.scan` over epochs, carrying (b_u, b_i, P, Q) and updating single rows with `.at[].set`;
one compilation per shape. The visiting order is Surprise's (`order="surprise"`): ratings
grouped by user in order of first appearance in the trainset, the same order every epoch
(Surprise never reshuffles between epochs; the randomness comes from the shuffled CV fold).
`order="shuffle"` reshuffles every epoch from the seed. Initial factors reproduce Surprise's
`RandomState(seed).normal(init_mean, init_std, (n_users, k))` then `(n_items, k)` over its
inner ids (see `data.surprise_init`).

SVD++ trick (exact, O(k) per rating instead of O(|R_u| k)): within one user's block of
consecutive ratings every y_j (j ∈ R_u) receives the same update, so y_j = a·y_j⁰ + c with a
scalar a and a shared vector c, and z_u = |R_u|^{-1/2} Σ y_j follows
z ← (1 − γλ) z + γ e q_i. We gather z_u at the first rating of the block and write a·y + c back to
the |R_u| rows at its last (both in a `lax.cond`). Equal to Surprise's per-rating recomputation
in exact arithmetic (tested against a naive loop); it needs the user-grouped order.

Deviations from the reference (Surprise 1.1):
  * float32 instead of float64 (the scan's rounding differs from Cython's).
  * SVD++ uses the block trick above (same maths, different rounding); SVD++ supports only the
    user-grouped (Surprise) order.
  * NMF: only `biased=False` (Surprise's default); its biased variant is not implemented.
  * `svd_minibatch` (not in Surprise): Adam on shuffled minibatches of the same objective, with
    the L2 term applied per occurrence in the batch, as per-rating SGD does.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab.projects.recsys import data as rdata
from jaxlab.projects.recsys import models


def _rates(lr_all, reg_all, **overrides):
  out = {}
  for name in ("bu", "bi", "pu", "qi", "yj"):
    out[f"lr_{name}"] = float(overrides.get(f"lr_{name}") if overrides.get(f"lr_{name}")
                              is not None else lr_all)
    out[f"reg_{name}"] = float(overrides.get(f"reg_{name}") if overrides.get(f"reg_{name}")
                               is not None else reg_all)
  return out


def _known(train):
  return (rdata.counts(train.user, train.num_users) > 0,
          rdata.counts(train.item, train.num_items) > 0)


def epoch_orders(train, n_epochs, order, seed):
  """[n_epochs, N] visiting orders: Surprise's fixed user-grouped order or per-epoch shuffles."""
  if order == "surprise":
    o = rdata.surprise_order(train.user)
    return np.broadcast_to(o, (n_epochs, len(o))).astype(np.int32)
  if order == "shuffle":
    rng = np.random.RandomState(seed + 1)
    return np.stack([rng.permutation(len(train)) for _ in range(n_epochs)]).astype(np.int32)
  raise ValueError(f"order must be 'surprise' or 'shuffle', got {order!r}")


# ----------------------------------------------------------------------------------------------
# SVD: sequential per-rating SGD


def pack(bu, bi, P, Q):
  """W [U + I, k + 1]: user rows [P | b_u] on top of item rows [Q | b_i].

  One matrix lets a step write both touched rows with a single 2-row scatter. With separate P
  and Q, XLA (CPU) copies the whole matrices at every scan step (the slice p_u is still live
  when P is written), which made a k = 100 step ~50x slower.
  """
  return jnp.concatenate([jnp.concatenate([P, bu[:, None]], 1),
                          jnp.concatenate([Q, bi[:, None]], 1)], 0)


def unpack(W, num_users):
  return W[:num_users, -1], W[num_users:, -1], W[:num_users, :-1], W[num_users:, :-1]


def _rate_rows(rates, k, biased):
  """Per-column learning rates / regularisers of a user row and an item row of W."""
  b = 1.0 if biased else 0.0
  col = lambda f, bias: jnp.concatenate([jnp.full(k, f), jnp.full(1, bias)])
  return (col(rates["lr_pu"], b * rates["lr_bu"]), col(rates["reg_pu"], rates["reg_bu"]),
          col(rates["lr_qi"], b * rates["lr_bi"]), col(rates["reg_qi"], rates["reg_bi"]))


def packed_sgd_step(W, x, *, mu, rows_rates, num_users):
  """One Surprise SVD update of packed W for rating x = (u, i, r)."""
  lr_u, reg_u, lr_i, reg_i = rows_rates
  u, i, r = x
  iu = num_users + i
  wu, wi = W[u], W[iu]
  pu, qi = wu[:-1], wi[:-1]
  err = r - (mu + wu[-1] + wi[-1] + jnp.dot(pu, qi))
  one = jnp.ones(1, W.dtype)
  new_u = wu + lr_u * (err * jnp.concatenate([qi, one]) - reg_u * wu)
  new_i = wi + lr_i * (err * jnp.concatenate([pu, one]) - reg_i * wi)
  W = W.at[jnp.stack([u, iu])].set(jnp.stack([new_u, new_i]))
  return W, err * err


def sgd_step(carry, x, *, mu, rates, biased=True):
  """One Surprise SVD update of (b_u, b_i, P, Q) for x = (u, i, r); the unpacked form of
  `packed_sgd_step` (reference/tests)."""
  bu, bi, P, Q = carry
  W, sq = packed_sgd_step(pack(bu, bi, P, Q), x, mu=mu,
                          rows_rates=_rate_rows(rates, P.shape[1], biased),
                          num_users=P.shape[0])
  return unpack(W, P.shape[0]), sq


@functools.partial(jax.jit, static_argnames=("biased", "unroll", "rate_items", "num_users"))
def _svd_sgd(W, user, item, rating, orders, mu, rate_items, *, biased, num_users, unroll=1):
  rows_rates = _rate_rows(dict(rate_items), W.shape[1] - 1, biased)

  def step(W, x):
    return packed_sgd_step(W, x, mu=mu, rows_rates=rows_rates, num_users=num_users)[0], None

  def epoch(W, order):
    # The scan carries W alone: adding a running sum of squared errors to the carry, or emitting
    # the errors as per-step outputs, made XLA (CPU) copy W at every step (~40x slower).
    W, _ = jax.lax.scan(step, W, (user[order], item[order], rating[order]), unroll=unroll)
    u, i = W[user], W[num_users + item]
    est = mu + u[:, -1] + i[:, -1] + jnp.sum(u[:, :-1] * i[:, :-1], -1)
    return W, jnp.sqrt(jnp.mean(jnp.square(rating - est)))  # end-of-epoch train RMSE

  return jax.lax.scan(epoch, W, orders)


def fit_svd(train, *, seed=0, n_factors=100, n_epochs=20, biased=True, init_mean=0.0,
            init_std=0.1, lr_all=0.005, reg_all=0.02, lr_bu=None, lr_bi=None, lr_pu=None,
            lr_qi=None, reg_bu=None, reg_bi=None, reg_pu=None, reg_qi=None, order="surprise",
            unroll=4):
  hp = dict(n_factors=n_factors, n_epochs=n_epochs, biased=biased, init_mean=init_mean,
            init_std=init_std, lr_all=lr_all, reg_all=reg_all, lr_bu=lr_bu, lr_bi=lr_bi,
            lr_pu=lr_pu, lr_qi=lr_qi, reg_bu=reg_bu, reg_bi=reg_bi, reg_pu=reg_pu,
            reg_qi=reg_qi, order=order, unroll=unroll)
  rates = _rates(lr_all, reg_all, lr_bu=lr_bu, lr_bi=lr_bi, lr_pu=lr_pu, lr_qi=lr_qi,
                 reg_bu=reg_bu, reg_bi=reg_bi, reg_pu=reg_pu, reg_qi=reg_qi)
  rng = np.random.RandomState(seed)
  draw = lambda shape: rng.normal(init_mean, init_std, shape)
  P = rdata.surprise_init(train.user, train.num_users, n_factors, draw)
  Q = rdata.surprise_init(train.item, train.num_items, n_factors, draw)
  mu = float(np.mean(np.asarray(train.rating, np.float64))) if biased else 0.0
  W = pack(jnp.zeros(train.num_users, jnp.float32), jnp.zeros(train.num_items, jnp.float32),
           jnp.asarray(P), jnp.asarray(Q))
  orders = epoch_orders(train, n_epochs, order, seed)
  W, train_rmse = _svd_sgd(
      W, jnp.asarray(train.user), jnp.asarray(train.item), jnp.asarray(train.rating),
      jnp.asarray(orders), jnp.float32(mu), tuple(sorted(rates.items())), biased=biased,
      num_users=train.num_users, unroll=int(unroll))
  bu, bi, P, Q = unpack(W, train.num_users)
  ku, ki = _known(train)
  return models.make_model(
      "svd", train, {"bu": bu, "bi": bi, "P": P, "Q": Q, "user_known": ku, "item_known": ki},
      hp, train_rmse_per_epoch=[float(x) for x in np.asarray(train_rmse)])


def _mf_estimate(params, meta, users, items, user_vec=None):
  ku = params["user_known"][users]
  ki = params["item_known"][items]
  pu = params["P"][users] if user_vec is None else user_vec
  dot = jnp.where(ku & ki, jnp.sum(pu * params["Q"][items], -1), 0.0)
  if meta["hparams"].get("biased", True):
    return (meta["global_mean"] + jnp.where(ku, params["bu"][users], 0.0)
            + jnp.where(ki, params["bi"][items], 0.0) + dot)
  return jnp.where(ku & ki, dot, meta["global_mean"])


def estimate_svd(params, meta, users, items):
  return _mf_estimate(params, meta, users, items)


def _mf_score_matrix(params, meta, users, user_mat=None):
  ku = params["user_known"][users][:, None]
  ki = params["item_known"][None, :]
  P = params["P"][users] if user_mat is None else user_mat
  dot = jnp.where(ku & ki, P @ params["Q"].T, 0.0)
  if meta["hparams"].get("biased", True):
    return (meta["global_mean"] + jnp.where(ku, params["bu"][users][:, None], 0.0)
            + jnp.where(ki, params["bi"][None, :], 0.0) + dot)
  return jnp.where(ku & ki, dot, meta["global_mean"])


SVD_DEFAULTS = dict(n_factors=100, n_epochs=20, biased=True, init_mean=0.0, init_std=0.1,
                    lr_all=0.005, reg_all=0.02, lr_bu=None, lr_bi=None, lr_pu=None, lr_qi=None,
                    reg_bu=None, reg_bi=None, reg_pu=None, reg_qi=None, order="surprise",
                    unroll=4)

models.register(
    "svd", fit=fit_svd, estimate=estimate_svd, kind="explicit", defaults=SVD_DEFAULTS,
    score_matrix=_mf_score_matrix,
    description="biased MF, sequential per-rating SGD (Surprise SVD); biased=False is PMF")


# ----------------------------------------------------------------------------------------------
# SVD with minibatch Adam


@functools.partial(jax.jit, static_argnames=("batch_size", "opt", "biased"))
def _minibatch_epoch(params, opt_state, key, user, item, rating, mu, reg, *, batch_size, opt,
                     biased):
  n = user.shape[0]
  num_batches = -(-n // batch_size)
  perm = jax.random.permutation(key, n)
  pad = num_batches * batch_size - n
  idx = jnp.concatenate([perm, jnp.zeros(pad, perm.dtype)]).reshape(num_batches, batch_size)
  w = jnp.concatenate([jnp.ones(n), jnp.zeros(pad)]).reshape(num_batches, batch_size)

  def loss_fn(p, u, i, r, wb):
    bu, bi = (p["bu"][u], p["bi"][i]) if biased else (0.0, 0.0)
    pu, qi = p["P"][u], p["Q"][i]
    err = r - (mu + bu + bi + jnp.sum(pu * qi, -1))
    l2 = jnp.sum(pu * pu, -1) + jnp.sum(qi * qi, -1)
    if biased:
      l2 = l2 + bu * bu + bi * bi
    denom = jnp.maximum(wb.sum(), 1.0)
    return jnp.sum(wb * (err * err + reg * l2)) / denom, jnp.sum(wb * err * err) / denom

  def step(carry, b):
    p, s = carry
    ib, wb = b
    (_, mse), g = jax.value_and_grad(loss_fn, has_aux=True)(
        p, user[ib], item[ib], rating[ib], wb)
    updates, s = opt.update(g, s, p)
    return (optax.apply_updates(p, updates), s), mse

  (params, opt_state), mse = jax.lax.scan(step, (params, opt_state), (idx, w))
  return params, opt_state, jnp.sqrt(mse.mean())


@functools.lru_cache(maxsize=8)
def _adam(lr):
  return optax.adam(lr)  # cached: the jitted epoch takes the optimizer as a static argument


def fit_svd_minibatch(train, *, seed=0, n_factors=100, n_epochs=30, biased=True, init_std=0.1,
                      lr=0.003, reg=0.05, batch_size=512, progress=False):
  hp = dict(n_factors=n_factors, n_epochs=n_epochs, biased=biased, init_std=init_std, lr=lr,
            reg=reg, batch_size=batch_size, progress=progress)
  key = jax.random.PRNGKey(seed)
  kp, kq, key = jax.random.split(key, 3)
  params = {"bu": jnp.zeros(train.num_users), "bi": jnp.zeros(train.num_items),
            "P": init_std * jax.random.normal(kp, (train.num_users, n_factors)),
            "Q": init_std * jax.random.normal(kq, (train.num_items, n_factors))}
  opt = _adam(float(lr))
  opt_state = opt.init(params)
  mu = float(np.mean(np.asarray(train.rating, np.float64))) if biased else 0.0
  data = (jnp.asarray(train.user), jnp.asarray(train.item), jnp.asarray(train.rating))
  hist = []
  epochs = range(n_epochs)
  if progress:
    import tqdm
    epochs = tqdm.tqdm(epochs, desc="svd_minibatch", leave=False)
  for e in epochs:  # python loop over epochs only; each epoch is one jitted scan
    params, opt_state, r = _minibatch_epoch(
        params, opt_state, jax.random.fold_in(key, e), *data, jnp.float32(mu),
        jnp.float32(reg), batch_size=int(batch_size), opt=opt, biased=biased)
    hist.append(float(r))
  ku, ki = _known(train)
  params.update(user_known=ku, item_known=ki)
  return models.make_model("svd_minibatch", train, params, hp, train_rmse_per_epoch=hist)


models.register(
    "svd_minibatch", fit=fit_svd_minibatch, estimate=estimate_svd, kind="explicit",
    score_matrix=_mf_score_matrix,
    defaults=dict(n_factors=100, n_epochs=30, biased=True, init_std=0.1, lr=0.003, reg=0.05,
                  batch_size=512, progress=False),
    description="biased MF, Adam on shuffled minibatches (not in Surprise)")


# ----------------------------------------------------------------------------------------------
# SVD++


def svdpp_step(carry, x, *, mu, rates, items_pad, items_mask, inv_sqrt_n):
  """One SVD++ rating update with the per-user block trick (see module docstring)."""
  bu, bi, P, Q, Y, z, a, c = carry
  u, i, r, first, last = x
  rows = items_pad[u]

  def start(_):
    zz = (Y[rows] * items_mask[u][:, None]).sum(0) * inv_sqrt_n[u]
    return zz, jnp.ones_like(a), jnp.zeros_like(c)

  z, a, c = jax.lax.cond(first, start, lambda _: (z, a, c), None)
  pu, qi = P[u], Q[i]
  err = r - (mu + bu[u] + bi[i] + jnp.dot(qi, pu + z))
  bu = bu.at[u].add(rates["lr_bu"] * (err - rates["reg_bu"] * bu[u]))
  bi = bi.at[i].add(rates["lr_bi"] * (err - rates["reg_bi"] * bi[i]))
  P = P.at[u].set(pu + rates["lr_pu"] * (err * qi - rates["reg_pu"] * pu))
  Q = Q.at[i].set(qi + rates["lr_qi"] * (err * (pu + z) - rates["reg_qi"] * qi))
  decay = 1.0 - rates["lr_yj"] * rates["reg_yj"]
  a = a * decay
  c = c * decay + rates["lr_yj"] * err * qi * inv_sqrt_n[u]
  z = z * decay + rates["lr_yj"] * err * qi

  def flush(Y):
    return Y.at[rows].set(a * Y[rows] + c)

  Y = jax.lax.cond(last, flush, lambda Y: Y, Y)
  return (bu, bi, P, Q, Y, z, a, c), err * err


def _svdpp_sse_step(carry, x, **kw):
  inner, sse = carry
  inner, sq = svdpp_step(inner, x, **kw)
  return (inner, sse + sq), None


@functools.partial(jax.jit, static_argnames=("rate_items", "unroll"))
def _svdpp_sgd(carry, xs, mu, items_pad, items_mask, inv_sqrt_n, n_epochs_arr, rate_items,
               unroll=1):
  step = functools.partial(_svdpp_sse_step, mu=mu, rates=dict(rate_items),
                           items_pad=items_pad, items_mask=items_mask, inv_sqrt_n=inv_sqrt_n)

  def epoch(c, _):
    (c, sse), _ = jax.lax.scan(step, (c, jnp.float32(0.0)), xs, unroll=unroll)
    return c, jnp.sqrt(sse / xs[0].shape[0])

  return jax.lax.scan(epoch, carry, n_epochs_arr)


def svdpp_inputs(train):
  """Ordered (u, i, r, first, last) and the padded per-user item lists of a trainset."""
  order = rdata.surprise_order(train.user)
  u = np.asarray(train.user)[order]
  first = np.r_[True, u[1:] != u[:-1]]
  last = np.r_[u[1:] != u[:-1], True]
  items_pad, items_mask, _ = rdata.padded_lists(train.user, train.item, train.num_users,
                                                pad_value=train.num_items)
  n = rdata.counts(train.user, train.num_users)
  inv_sqrt_n = np.where(n > 0, 1.0 / np.sqrt(np.maximum(n, 1)), 0.0).astype(np.float32)
  xs = (u.astype(np.int32), np.asarray(train.item)[order].astype(np.int32),
        np.asarray(train.rating)[order].astype(np.float32), first, last)
  return xs, items_pad, items_mask, inv_sqrt_n


def fit_svdpp(train, *, seed=0, n_factors=20, n_epochs=20, init_mean=0.0, init_std=0.1,
              lr_all=0.007, reg_all=0.02, lr_bu=None, lr_bi=None, lr_pu=None, lr_qi=None,
              lr_yj=None, reg_bu=None, reg_bi=None, reg_pu=None, reg_qi=None, reg_yj=None,
              unroll=2):
  hp = dict(n_factors=n_factors, n_epochs=n_epochs, init_mean=init_mean, init_std=init_std,
            lr_all=lr_all, reg_all=reg_all, lr_bu=lr_bu, lr_bi=lr_bi, lr_pu=lr_pu, lr_qi=lr_qi,
            lr_yj=lr_yj, reg_bu=reg_bu, reg_bi=reg_bi, reg_pu=reg_pu, reg_qi=reg_qi,
            reg_yj=reg_yj, unroll=unroll)
  rates = _rates(lr_all, reg_all, lr_bu=lr_bu, lr_bi=lr_bi, lr_pu=lr_pu, lr_qi=lr_qi,
                 lr_yj=lr_yj, reg_bu=reg_bu, reg_bi=reg_bi, reg_pu=reg_pu, reg_qi=reg_qi,
                 reg_yj=reg_yj)
  rng = np.random.RandomState(seed)
  draw = lambda shape: rng.normal(init_mean, init_std, shape)
  P = rdata.surprise_init(train.user, train.num_users, n_factors, draw)
  Q = rdata.surprise_init(train.item, train.num_items, n_factors, draw)
  Y = rdata.surprise_init(train.item, train.num_items, n_factors, draw)
  Y = np.concatenate([Y, np.zeros((1, n_factors), np.float32)])  # padding row
  mu = float(np.mean(np.asarray(train.rating, np.float64)))
  xs, items_pad, items_mask, inv_sqrt_n = svdpp_inputs(train)
  carry = (jnp.zeros(train.num_users, jnp.float32), jnp.zeros(train.num_items, jnp.float32),
           jnp.asarray(P), jnp.asarray(Q), jnp.asarray(Y), jnp.zeros(n_factors, jnp.float32),
           jnp.float32(1.0), jnp.zeros(n_factors, jnp.float32))
  carry, train_rmse = _svdpp_sgd(
      carry, tuple(jnp.asarray(x) for x in xs), jnp.float32(mu), jnp.asarray(items_pad),
      jnp.asarray(items_mask), jnp.asarray(inv_sqrt_n), jnp.zeros(n_epochs),
      tuple(sorted(rates.items())), unroll=int(unroll))
  bu, bi, P, Q, Y = carry[:5]
  Y = Y[:-1]
  Z = implicit_sum(Y, items_pad, items_mask, inv_sqrt_n)
  ku, ki = _known(train)
  return models.make_model(
      "svdpp", train, {"bu": bu, "bi": bi, "P": P, "Q": Q, "Y": Y, "Z": Z,
                       "user_known": ku, "item_known": ki},
      hp, train_rmse_per_epoch=[float(x) for x in np.asarray(train_rmse)])


@jax.jit
def implicit_sum(Y, items_pad, items_mask, inv_sqrt_n):
  """Z[u] = |R_u|^{-1/2} Σ_{j∈R_u} y_j  ([U, k])."""
  Yp = jnp.concatenate([Y, jnp.zeros((1, Y.shape[1]), Y.dtype)])
  return (Yp[items_pad] * items_mask[..., None]).sum(1) * inv_sqrt_n[:, None]


def estimate_svdpp(params, meta, users, items):
  return _mf_estimate(params, meta, users, items,
                      user_vec=params["P"][users] + params["Z"][users])


def _svdpp_score_matrix(params, meta, users):
  return _mf_score_matrix(params, meta, users, user_mat=params["P"][users] + params["Z"][users])


models.register(
    "svdpp", fit=fit_svdpp, estimate=estimate_svdpp, kind="explicit",
    score_matrix=_svdpp_score_matrix,
    defaults=dict(n_factors=20, n_epochs=20, init_mean=0.0, init_std=0.1, lr_all=0.007,
                  reg_all=0.02, lr_bu=None, lr_bi=None, lr_pu=None, lr_qi=None, lr_yj=None,
                  reg_bu=None, reg_bi=None, reg_pu=None, reg_qi=None, reg_yj=None, unroll=2),
    description="SVD++ (Koren 2008), sequential SGD with the exact per-user block trick")


# ----------------------------------------------------------------------------------------------
# NMF


@functools.partial(jax.jit, static_argnames=("n_epochs",))
def nmf_updates(P, Q, user, item, rating, n_u, n_i, reg_pu, reg_qi, *, n_epochs):
  """Surprise NMF (biased=False) epochs: sums from the old P, Q, then P, then Q."""
  nu, ni = P.shape[0], Q.shape[0]

  def epoch(carry, _):
    P, Q = carry
    pu, qi = P[user], Q[item]
    est = jnp.sum(pu * qi, -1, keepdims=True)
    r = rating[:, None]
    user_num = jax.ops.segment_sum(qi * r, user, nu)
    user_den = jax.ops.segment_sum(qi * est, user, nu) + n_u[:, None] * reg_pu * P
    item_num = jax.ops.segment_sum(pu * r, item, ni)
    item_den = jax.ops.segment_sum(pu * est, item, ni) + n_i[:, None] * reg_qi * Q
    P = jnp.where(user_den > 0, P * user_num / jnp.where(user_den > 0, user_den, 1.0), P)
    Q = jnp.where(item_den > 0, Q * item_num / jnp.where(item_den > 0, item_den, 1.0), Q)
    return (P, Q), None

  return jax.lax.scan(epoch, (P, Q), None, length=n_epochs)[0]


def fit_nmf(train, *, seed=0, n_factors=15, n_epochs=50, reg_pu=0.06, reg_qi=0.06,
            init_low=0.0, init_high=1.0):
  hp = dict(n_factors=n_factors, n_epochs=n_epochs, reg_pu=reg_pu, reg_qi=reg_qi,
            init_low=init_low, init_high=init_high, biased=False)
  if init_low < 0:
    raise ValueError("NMF needs init_low >= 0")
  rng = np.random.RandomState(seed)
  draw = lambda shape: rng.uniform(init_low, init_high, shape)
  P = rdata.surprise_init(train.user, train.num_users, n_factors, draw)
  Q = rdata.surprise_init(train.item, train.num_items, n_factors, draw)
  n_u = rdata.counts(train.user, train.num_users).astype(np.float32)
  n_i = rdata.counts(train.item, train.num_items).astype(np.float32)
  P, Q = nmf_updates(jnp.asarray(P), jnp.asarray(Q), jnp.asarray(train.user),
                     jnp.asarray(train.item), jnp.asarray(train.rating), jnp.asarray(n_u),
                     jnp.asarray(n_i), jnp.float32(reg_pu), jnp.float32(reg_qi),
                     n_epochs=int(n_epochs))
  ku, ki = _known(train)
  return models.make_model("nmf", train, {"P": P, "Q": Q, "user_known": ku, "item_known": ki},
                           hp)


models.register(
    "nmf", fit=fit_nmf, estimate=estimate_svd, kind="explicit", score_matrix=_mf_score_matrix,
    defaults=dict(n_factors=15, n_epochs=50, reg_pu=0.06, reg_qi=0.06, init_low=0.0,
                  init_high=1.0),
    description="non-negative MF with multiplicative updates (Surprise NMF, biased=False)")
