"""Factorization Machine with user demographics, item genres and time context.

Rendle, "Factorization Machines", ICDM 2010.

Idea: ŷ(x) = w₀ + Σ_i w_i x_i + Σ_{i<j} ⟨v_i, v_j⟩ x_i x_j over a sparse feature vector x,
computed in O(k·nnz) as ½ Σ_f [(Σ_i v_if x_i)² − Σ_i v_if² x_i²]. With only the user and item
one-hots it is biased MF (w₀ = μ, w_u = b_u, w_i = b_i, ⟨v_u, v_i⟩ = p_uᵀq_i); further fields fold
content and context into the same pairwise model.

Fields for ML-100K (`features`), each a fixed number of (index, value) slots so that a batch is two
static-shape arrays idx/val [B, F]:
  user (1 one-hot), item (1), genres (19 slots, multi-hot normalised to sum 1), age (1, bucket
  <18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+), gender (1), occupation (1 of 21),
  weekday (1 of 7, UTC), hour (1 of 24, UTC) of the rating's timestamp.
Loss: squared error + per-occurrence L2 (λ_w on w, λ_v on v), Adam on shuffled minibatches.
Defaults = the `svd_minibatch` recipe (k 100, Adam 3e-3, batch 512, λ 0.05 per occurrence,
init N(0, 0.1²), 30 epochs), so that the user+item FM optimises exactly the minibatch biased-MF
objective (w₀ is trained from μ). The spec's proposal (k 32, Adam 1e-3, λ 1e-4) is
under-regularised: user+item RMSE 1.028 on ML-100K (5-fold CV), 0.09 worse than SVD.

Deviations from the paper and the spec: the spec's proposed hyper-parameters are replaced by
the recipe above (measured; see README); Adam minibatches instead of SGD/ALS/MCMC (libFM);
context features come from the timestamp only ("last item rated" not implemented); when `predict`/`recommend` get
no timestamps the context fields are left empty (value 0).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab.projects.recsys import data as rdata
from jaxlab.projects.recsys import models

FIELDS = ("user", "item", "genres", "age", "gender", "occupation", "weekday", "hour")
NUM_GENRES = 19
NUM_OCCUPATIONS = 21


def fm_apply(w0, w, V, idx, val):
  """ŷ [B] of sparse inputs idx/val [B, F] with biases w [n], factors V [n, k] (O(k·F))."""
  lin = jnp.sum(w[idx] * val, -1)
  vx = V[idx] * val[..., None]  # [B, F, k]
  pair = 0.5 * jnp.sum(jnp.square(vx.sum(1)) - jnp.square(vx).sum(1), -1)
  return w0 + lin + pair


def field_sizes(num_users, num_items, num_age_buckets=7):
  return {"user": num_users, "item": num_items, "genres": NUM_GENRES, "age": num_age_buckets,
          "gender": 2, "occupation": NUM_OCCUPATIONS, "weekday": 7, "hour": 24}


def _offsets(features, sizes):
  off, out = 0, {}
  for f in features:
    out[f] = off
    off += sizes[f]
  return out, off


def build_features(tables, features, offsets, users, items, timestamps=None):
  """idx/val [B, F] for aligned users/items (jnp; used in training and prediction)."""
  idx, val = [], []
  one = jnp.ones(users.shape, jnp.float32)
  for f in features:
    o = offsets[f]
    if f == "user":
      idx.append(o + users[:, None]); val.append(one[:, None])
    elif f == "item":
      idx.append(o + items[:, None]); val.append(one[:, None])
    elif f == "genres":
      g = tables["genres"][items]  # [B, 19] normalised
      idx.append(o + jnp.broadcast_to(jnp.arange(NUM_GENRES), g.shape)); val.append(g)
    elif f in ("age", "gender", "occupation"):
      idx.append(o + tables[f][users][:, None]); val.append(one[:, None])
    elif f in ("weekday", "hour"):
      if timestamps is None:
        idx.append(jnp.full((users.shape[0], 1), o)); val.append(jnp.zeros_like(one)[:, None])
      else:
        ts = timestamps
        if f == "weekday":
          c = ((ts // 86400) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        else:
          c = (ts // 3600) % 24
        idx.append(o + c.astype(jnp.int32)[:, None]); val.append(one[:, None])
    else:
      raise ValueError(f"unknown FM feature {f!r}; valid: {', '.join(FIELDS)}")
  return jnp.concatenate(idx, 1).astype(jnp.int32), jnp.concatenate(val, 1)


def _tables(train, data_dir=None):
  if train.item_genres is not None and train.item_genres.shape[1] == NUM_GENRES:
    g = np.asarray(train.item_genres, np.float32)
  else:
    g = np.zeros((train.num_items, NUM_GENRES), np.float32)
  g = g / np.maximum(g.sum(1, keepdims=True), 1.0)
  if train.name == "movielens100k" and train.num_users == 943:
    uf = rdata.load_user_features(data_dir or None)
  else:
    uf = rdata.fake_user_features(train.num_users)
  return {"genres": g, "age": uf.age_bucket, "gender": uf.gender, "occupation": uf.occupation}


@functools.lru_cache(maxsize=8)
def _adam(lr):
  return optax.adam(lr)


@functools.partial(jax.jit, static_argnames=("features", "offsets", "batch_size", "opt"))
def _fm_epoch(params, opt_state, key, tables, user, item, ts, rating, lam_w, lam_v, *, features,
              offsets, batch_size, opt):
  n = user.shape[0]
  num_batches = -(-n // batch_size)
  pad = num_batches * batch_size - n
  perm = jax.random.permutation(key, n)
  ib = jnp.concatenate([perm, jnp.zeros(pad, perm.dtype)]).reshape(num_batches, batch_size)
  wb = jnp.concatenate([jnp.ones(n), jnp.zeros(pad)]).reshape(num_batches, batch_size)
  offs = dict(offsets)

  def loss_fn(p, b, m):
    idx, val = build_features(tables, features, offs, user[b], item[b], ts[b])
    err = rating[b] - fm_apply(p["w0"], p["w"], p["V"], idx, val)
    active = (val != 0).astype(jnp.float32)
    l2 = lam_w * jnp.sum(active * p["w"][idx] ** 2, -1) + lam_v * jnp.sum(
        active[..., None] * p["V"][idx] ** 2, (-1, -2))
    denom = jnp.maximum(m.sum(), 1.0)
    return jnp.sum(m * (err * err + l2)) / denom, jnp.sum(m * err * err) / denom

  def step(carry, xs):
    p, s = carry
    (_, mse), g = jax.value_and_grad(loss_fn, has_aux=True)(p, *xs)
    upd, s = opt.update(g, s, p)
    return (optax.apply_updates(p, upd), s), mse

  (params, opt_state), mse = jax.lax.scan(step, (params, opt_state), (ib, wb))
  return params, opt_state, jnp.sqrt(mse.mean())


def fit_fm(train, *, seed=0, features=FIELDS, n_factors=100, n_epochs=30, lr=3e-3, lam_w=0.05,
           lam_v=0.05, batch_size=512, init_std=0.1, data_dir="", progress=False):
  features = tuple(features)
  hp = dict(features=list(features), n_factors=n_factors, n_epochs=n_epochs, lr=lr, lam_w=lam_w,
            lam_v=lam_v, batch_size=batch_size, init_std=init_std, data_dir=data_dir,
            progress=progress)
  for f in features:
    if f not in FIELDS:
      raise ValueError(f"unknown FM feature {f!r}; valid: {', '.join(FIELDS)}")
  tables = _tables(train, data_dir)
  sizes = field_sizes(train.num_users, train.num_items)
  offsets, n = _offsets(features, sizes)
  key = jax.random.PRNGKey(seed)
  kv, key = jax.random.split(key)
  mu = float(np.mean(np.asarray(train.rating, np.float64)))
  params = {"w0": jnp.float32(mu), "w": jnp.zeros(n),
            "V": init_std * jax.random.normal(kv, (n, n_factors))}
  opt = _adam(float(lr))
  opt_state = opt.init(params)
  jt = {k: jnp.asarray(v) for k, v in tables.items()}
  ts = np.asarray(train.timestamp)  # seconds; int32 is safe until 2038
  data = (jnp.asarray(train.user), jnp.asarray(train.item), jnp.asarray(ts.astype(np.int32)),
          jnp.asarray(train.rating))
  epochs = range(n_epochs)
  if progress:
    import tqdm
    epochs = tqdm.tqdm(epochs, desc="fm", leave=False)
  hist = []
  for e in epochs:  # python loop over epochs only; each epoch is one jitted scan
    params, opt_state, r = _fm_epoch(
        params, opt_state, jax.random.fold_in(key, e), jt, *data, jnp.float32(lam_w),
        jnp.float32(lam_v), features=features, offsets=tuple(sorted(offsets.items())),
        batch_size=int(batch_size), opt=opt)
    hist.append(float(r))
  out = dict(params)
  out.update({f"table_{k}": v for k, v in tables.items()})
  return models.make_model("fm", train, out, hp, train_rmse_per_epoch=hist,
                           offsets=offsets)


def estimate_fm(params, meta, users, items, timestamps=None):
  tables = {k[len("table_"):]: v for k, v in params.items() if k.startswith("table_")}
  features = tuple(meta["hparams"]["features"])
  ts = None if timestamps is None else jnp.asarray(np.asarray(timestamps).astype(np.int32))
  idx, val = build_features(tables, features, meta["offsets"], users, items, ts)
  return fm_apply(params["w0"], params["w"], params["V"], idx, val)


models.register(
    "fm", fit=fit_fm, estimate=estimate_fm, kind="explicit",
    defaults=dict(features=FIELDS, n_factors=100, n_epochs=30, lr=3e-3, lam_w=0.05, lam_v=0.05,
                  batch_size=512, init_std=0.1, data_dir="", progress=False),
    description="factorization machine over user/item one-hots, genres, demographics, time")
