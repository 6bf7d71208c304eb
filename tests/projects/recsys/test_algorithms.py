"""Closed-form and reference checks of every recsys algorithm against naive numpy versions of
Surprise's loops (float64) on tiny data sets."""

import heapq
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.projects import recsys
from jaxlab.projects.recsys import baseline, fm, implicit, knn, metrics, mf
from jaxlab.projects.recsys import data as rdata


def _toy(n=70, users=8, items=10, seed=0, integer=True):
  rng = np.random.RandomState(seed)
  pairs = rng.choice(users * items, n, replace=False)
  r = rng.randint(1, 6, n) if integer else rng.uniform(1, 5, n)
  return rdata.make_ratings(pairs // items, pairs % items, r, num_users=users,
                            num_items=items, timestamp=rng.randint(8.7e8, 8.9e8, n))


class Trainset:
  """The bits of Surprise's Trainset the reference loops use (inner ids by first appearance)."""

  def __init__(self, data):
    self.u2in, self.i2in, self.ur, self.ir = {}, {}, {}, {}
    for u, i, r in zip(data.user.tolist(), data.item.tolist(), data.rating.tolist()):
      uu = self.u2in.setdefault(u, len(self.u2in))
      ii = self.i2in.setdefault(i, len(self.i2in))
      self.ur.setdefault(uu, []).append((ii, r))
      self.ir.setdefault(ii, []).append((uu, r))
    self.mu = float(np.mean(data.rating.astype(np.float64)))
    self.nu, self.ni = len(self.u2in), len(self.i2in)

  def all_ratings(self):
    for u, lst in self.ur.items():
      for i, r in lst:
        yield u, i, r


def _pairs(data):
  return np.repeat(np.arange(data.num_users), data.num_items), np.tile(
      np.arange(data.num_items), data.num_users)


# ------------------------------------------------------------------------------ baselines


def test_baseline_als_equals_closed_form():
  d = _toy()
  ts = Trainset(d)
  bu, bi = np.zeros(d.num_users), np.zeros(d.num_items)
  for _ in range(3):
    for i in range(d.num_items):
      rs = [(u, r) for u, it, r in zip(d.user, d.item, d.rating) if it == i]
      bi[i] = sum(r - ts.mu - bu[u] for u, r in rs) / (10.0 + len(rs))
    for u in range(d.num_users):
      rs = [(i, r) for uu, i, r in zip(d.user, d.item, d.rating) if uu == u]
      bu[u] = sum(r - ts.mu - bi[i] for i, r in rs) / (15.0 + len(rs))
  m = recsys.fit("baseline_only", d, n_epochs=3)
  np.testing.assert_allclose(m.params["bu"], bu, atol=1e-5)
  np.testing.assert_allclose(m.params["bi"], bi, atol=1e-5)
  u, i = _pairs(d)
  np.testing.assert_allclose(recsys.predict(m, u, i, clip=False), ts.mu + bu[u] + bi[i],
                             atol=1e-5)


def test_baseline_sgd_equals_surprise_loop():
  d = _toy()
  ts = Trainset(d)
  bu, bi = np.zeros(ts.nu), np.zeros(ts.ni)
  for _ in range(4):
    for u, i, r in ts.all_ratings():
      err = r - (ts.mu + bu[u] + bi[i])
      bu[u] += 0.005 * (err - 0.02 * bu[u])
      bi[i] += 0.005 * (err - 0.02 * bi[i])
  m = recsys.fit("baseline_only", d, method="sgd", n_epochs=4)
  for raw, inner in ts.u2in.items():
    assert m.params["bu"][raw] == pytest.approx(bu[inner], abs=1e-6)
  for raw, inner in ts.i2in.items():
    assert m.params["bi"][raw] == pytest.approx(bi[inner], abs=1e-6)


def test_normal_predictor_moments():
  d = _toy(n=80)
  m = recsys.fit("normal_predictor", d, seed=3)
  assert m.meta["sigma"] == pytest.approx(np.std(d.rating.astype(np.float64)), rel=1e-6)
  p = recsys.predict(m, np.zeros(4000, np.int32), np.zeros(4000, np.int32), clip=False)
  assert float(p.mean()) == pytest.approx(m.meta["global_mean"], abs=0.05)


# ------------------------------------------------------------------------------ SVD family


def test_svd_single_step_hand_computed():
  rates = {f"{a}_{b}": v for a, v in (("lr", 0.1), ("reg", 0.5)) for b in
           ("bu", "bi", "pu", "qi")}
  bu, bi = jnp.array([0.2, 0.0]), jnp.array([0.0, -0.1, 0.3])
  P = jnp.array([[1.0, 2.0], [0.5, 0.5]])
  Q = jnp.array([[0.0, 1.0], [1.0, -1.0], [2.0, 0.0]])
  (bu2, bi2, P2, Q2), _ = mf.sgd_step((bu, bi, P, Q), (0, 2, 4.0), mu=3.0, rates=rates)
  err = 4.0 - (3.0 + 0.2 + 0.3 + 1.0 * 2.0 + 2.0 * 0.0)  # = -1.5
  assert float(bu2[0]) == pytest.approx(0.2 + 0.1 * (err - 0.5 * 0.2))
  assert float(bi2[2]) == pytest.approx(0.3 + 0.1 * (err - 0.5 * 0.3))
  np.testing.assert_allclose(P2[0], np.array([1, 2]) + 0.1 * (err * np.array([2, 0])
                                                            - 0.5 * np.array([1, 2])), rtol=1e-6)
  np.testing.assert_allclose(Q2[2], np.array([2, 0]) + 0.1 * (err * np.array([1, 2])
                                                            - 0.5 * np.array([2, 0])), rtol=1e-6)
  np.testing.assert_array_equal(P2[1], P[1])
  np.testing.assert_array_equal(Q2[:2], Q[:2])


def _naive_svd(ts, k, epochs, lr, reg, seed, pp=False):
  rng = np.random.RandomState(seed)
  bu, bi = np.zeros(ts.nu), np.zeros(ts.ni)
  pu = rng.normal(0, 0.1, (ts.nu, k))
  qi = rng.normal(0, 0.1, (ts.ni, k))
  yj = rng.normal(0, 0.1, (ts.ni, k)) if pp else None
  for _ in range(epochs):
    for u, i, r in ts.all_ratings():
      if pp:
        iu = [j for j, _ in ts.ur[u]]
        s = np.sqrt(len(iu))
        imp = sum(yj[j] for j in iu) / s
      else:
        imp = 0.0
      err = r - (ts.mu + bu[u] + bi[i] + qi[i] @ (pu[u] + imp))
      bu[u] += lr * (err - reg * bu[u])
      bi[i] += lr * (err - reg * bi[i])
      p_old, q_old = pu[u].copy(), qi[i].copy()
      pu[u] += lr * (err * q_old - reg * p_old)
      qi[i] += lr * (err * (p_old + imp) - reg * q_old)
      if pp:
        for j in iu:
          yj[j] += lr * (err * q_old / s - reg * yj[j])

  def predict(raw_u, raw_i):
    u, i = ts.u2in.get(raw_u), ts.i2in.get(raw_i)
    est = ts.mu + (bu[u] if u is not None else 0) + (bi[i] if i is not None else 0)
    if u is not None and i is not None:
      imp = sum(yj[j] for j, _ in ts.ur[u]) / np.sqrt(len(ts.ur[u])) if pp else 0.0
      est += qi[i] @ (pu[u] + imp)
    return est
  return predict


@pytest.mark.parametrize("algo", ["svd", "svdpp"])
def test_svd_and_svdpp_equal_surprise_loop(algo):
  """Same init (Surprise's RandomState draws over inner ids), same order, same updates; SVD++
  with the per-user block trick equals the per-rating recomputation."""
  d = _toy(n=60)
  ts = Trainset(d)
  lr, reg = (0.005, 0.02) if algo == "svd" else (0.007, 0.02)
  ref = _naive_svd(ts, 3, 3, lr, reg, seed=7, pp=(algo == "svdpp"))
  m = recsys.fit(algo, d, seed=7, n_factors=3, n_epochs=3, lr_all=lr, reg_all=reg)
  u, i = _pairs(d)
  want = np.array([ref(a, b) for a, b in zip(u, i)])
  np.testing.assert_allclose(recsys.predict(m, u, i, clip=False), want, atol=2e-5)


def test_svd_shuffle_order_and_unknown_fallback():
  d = _toy(n=60, users=10)
  present = set(d.user.tolist())
  unknown = [u for u in range(10) if u not in present]
  m = recsys.fit("svd", d, n_factors=4, n_epochs=2, order="shuffle")
  assert np.isfinite(np.asarray(m.params["P"])).all()
  if unknown:
    est = recsys.predict(m, [unknown[0]] * 3, [0, 1, 2], clip=False)
    np.testing.assert_allclose(est, m.meta["global_mean"] + np.asarray(m.params["bi"])[:3],
                               atol=1e-6)


def test_svd_overfits_tiny_set():
  d = _toy(n=120, users=12, items=15, seed=2)
  m = recsys.fit("svd", d, n_factors=10, n_epochs=300, lr_all=0.05, reg_all=0.0)
  rmse = float(metrics.rmse(recsys.predict(m, d.user, d.item), d.rating))
  assert rmse < 0.15, rmse
  assert m.meta["train_rmse_per_epoch"][-1] < m.meta["train_rmse_per_epoch"][0]


def test_svd_minibatch_learns():
  d = _toy(n=120, users=12, items=15, seed=2)
  m = recsys.fit("svd_minibatch", d, n_factors=8, n_epochs=60, lr=0.05, reg=0.0,
                 batch_size=32)
  hist = m.meta["train_rmse_per_epoch"]
  assert hist[-1] < 0.5 * hist[0]


def test_nmf_equals_surprise_loop():
  d = _toy(n=60)
  ts = Trainset(d)
  k, reg = 3, 0.06
  rng = np.random.RandomState(5)
  pu, qi = rng.uniform(0, 1, (ts.nu, k)), rng.uniform(0, 1, (ts.ni, k))
  for _ in range(4):
    un, ud = np.zeros((ts.nu, k)), np.zeros((ts.nu, k))
    inum, idn = np.zeros((ts.ni, k)), np.zeros((ts.ni, k))
    for u, i, r in ts.all_ratings():
      est = qi[i] @ pu[u]
      un[u] += qi[i] * r
      ud[u] += qi[i] * est
      inum[i] += pu[u] * r
      idn[i] += pu[u] * est
    for u in range(ts.nu):
      ud[u] += len(ts.ur[u]) * reg * pu[u]
      pu[u] *= un[u] / ud[u]
    for i in range(ts.ni):
      idn[i] += len(ts.ir[i]) * reg * qi[i]
      qi[i] *= inum[i] / idn[i]
  m = recsys.fit("nmf", d, seed=5, n_factors=k, n_epochs=4)
  for a, b in zip(d.user[:20], d.item[:20]):
    want = qi[ts.i2in[b]] @ pu[ts.u2in[a]]
    assert float(recsys.predict(m, [a], [b], clip=False)[0]) == pytest.approx(want, rel=1e-4)
  assert (np.asarray(m.params["P"]) >= 0).all()


# ------------------------------------------------------------------------------ kNN


def _naive_sim(R, M, name, bx=None, by=None, mu=0.0, min_support=1, shrinkage=100.0):
  n = R.shape[0]
  S = np.eye(n)
  for a in range(n):
    for b in range(n):
      if a == b:
        continue
      co = np.flatnonzero(M[a] & M[b])
      if len(co) < max(min_support, 1):
        continue
      x, y = R[a, co].astype(np.float64), R[b, co].astype(np.float64)
      if name == "msd":
        S[a, b] = 1 / (np.mean((x - y) ** 2) + 1)
      elif name == "cosine":
        S[a, b] = x @ y / np.sqrt((x @ x) * (y @ y))
      elif name == "pearson":
        xc, yc = x - x.mean(), y - y.mean()
        den = np.sqrt((xc @ xc) * (yc @ yc))
        S[a, b] = 0.0 if den == 0 else xc @ yc / den
      else:
        xr, yr = x - (mu + bx[a] + by[co]), y - (mu + bx[b] + by[co])
        den = np.sqrt((xr @ xr) * (yr @ yr))
        s = 0.0 if den == 0 else xr @ yr / den
        S[a, b] = s * (len(co) - 1) / (len(co) - 1 + shrinkage)
  return S


@pytest.mark.parametrize("name", knn.SIMILARITIES)
def test_similarity_matrices_match_naive(name):
  d = _toy(n=50, users=7, items=9, seed=3)
  R = rdata.dense_matrix(d)
  M = R > 0
  bx, by = np.random.RandomState(0).normal(0, 0.3, 7), np.random.RandomState(1).normal(0, 0.3, 9)
  mu = 3.1
  X = R - (mu + bx[:, None] + by[None]) if name == "pearson_baseline" else R
  got = knn.similarity_matrix(jnp.asarray(X), jnp.asarray(M), name=name)
  want = _naive_sim(R, M, name, bx, by, mu)
  np.testing.assert_allclose(got, want, atol=2e-5)
  got2 = knn.similarity_matrix(jnp.asarray(X), jnp.asarray(M), name=name, min_support=3)
  co = M.astype(int) @ M.T.astype(int)
  assert (np.asarray(got2)[(co < 3) & ~np.eye(7, dtype=bool)] == 0).all()


def _naive_knn(d, variant, k, user_based, sim_name="msd"):
  R = rdata.dense_matrix(d)
  M = R > 0
  mu = float(np.mean(d.rating.astype(np.float64)))
  bu, bi, _ = baseline.fit_biases(d)
  bu, bi = np.asarray(bu, np.float64), np.asarray(bi, np.float64)
  if not user_based:
    R, M, bu, bi = R.T, M.T, bi, bu
  S = _naive_sim(R, M, sim_name)
  n = M.sum(1)
  means = np.where(n > 0, R.sum(1) / np.maximum(n, 1), 0)
  sig = np.sqrt(np.where(n > 0, ((R - means[:, None]) ** 2 * M).sum(1) / np.maximum(n, 1), 0))
  sig = np.where(sig > 0, sig, 1.0)

  def est(x, y):
    known = M[x].any() and M[:, y].any()
    if variant == "baseline":
      e = mu + bu[x] + bi[y]
      if not known:
        return e
    elif not known:
      return mu
    nb = heapq.nlargest(k, [(S[x, v], v) for v in np.flatnonzero(M[:, y])],
                        key=lambda t: t[0])
    nb = [(s, v) for s, v in nb if s > 0]
    if not nb:
      return {"basic": mu, "with_means": means[x], "with_zscore": means[x],
              "baseline": mu + bu[x] + bi[y]}[variant]
    ss = sum(s for s, _ in nb)
    if variant == "basic":
      return sum(s * R[v, y] for s, v in nb) / ss
    if variant == "with_means":
      return means[x] + sum(s * (R[v, y] - means[v]) for s, v in nb) / ss
    if variant == "with_zscore":
      return means[x] + sig[x] * sum(s * (R[v, y] - means[v]) / sig[v] for s, v in nb) / ss
    return mu + bu[x] + bi[y] + sum(s * (R[v, y] - (mu + bu[v] + bi[y])) for s, v in nb) / ss
  return est


@pytest.mark.parametrize("variant", knn.VARIANTS)
@pytest.mark.parametrize("user_based", [True, False])
def test_knn_predictions_match_naive(variant, user_based):
  # Continuous ratings keep similarities tie-free, so the top-k sets are unambiguous.
  d = _toy(n=45, users=8, items=9, seed=4, integer=False)
  m = recsys.fit(f"knn_{variant}", d, k=3, user_based=user_based)
  ref = _naive_knn(d, variant, 3, user_based)
  u, i = _pairs(d)
  want = [ref(a, b) if user_based else ref(b, a) for a, b in zip(u, i)]
  np.testing.assert_allclose(recsys.predict(m, u, i, clip=False), want, atol=1e-4)


# ------------------------------------------------------------------------------ implicit


def test_ials_row_solve_equals_normal_equations():
  rng = np.random.RandomState(0)
  nu, ni, k, w0, lam = 5, 7, 3, 0.3, 0.1
  obs = rng.rand(nu, ni) < 0.4
  conf = 1.0 + 2.0 * rng.rand(nu, ni)
  Y = rng.normal(size=(ni, k))
  rows, cols = np.nonzero(obs)
  reg = lam * (obs.sum(1) + 1.0)
  X = implicit.solve_rows(jnp.asarray(rows), jnp.asarray(cols),
                          jnp.asarray(conf[rows, cols], jnp.float32), jnp.asarray(Y, jnp.float32),
                          jnp.asarray(reg, jnp.float32), jnp.float32(w0), num_rows=nu, chunk=4)
  for u in range(nu):
    c = np.where(obs[u], conf[u], w0)
    p = obs[u].astype(float)
    want = np.linalg.solve(Y.T @ (c[:, None] * Y) + reg[u] * np.eye(k), Y.T @ (c * p))
    np.testing.assert_allclose(X[u], want, rtol=1e-4, atol=1e-5)


def test_ials_loss_decreases_and_ranks_observed_higher():
  d = _toy(n=60)
  m = recsys.fit("ials", d, n_factors=6, n_iters=6, reg=0.1, alpha=3.0)
  loss = m.meta["loss_per_iter"]
  assert all(b <= a + 1e-4 for a, b in zip(loss, loss[1:]))
  s = np.asarray(recsys.scores(m, np.arange(d.num_users)))
  seen = recsys.seen_mask(m)
  assert s[seen].mean() > s[~seen].mean() + 0.2


def test_bpr_single_step_hand_computed():
  P = jnp.array([[0.5, -1.0]])
  Q = jnp.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
  b = jnp.array([0.1, 0.0, -0.2])
  lr, reg = 0.1, 0.01
  new, _ = implicit.bpr_update({"P": P, "Q": Q, "b": b}, jnp.array([0]), jnp.array([0]),
                               jnp.array([1]), jnp.array([1.0]), lr, reg)
  x = 0.5 * 1 - 1 * 0 + 0.1 - (0.5 * 0 - 1 * 1 + 0.0)  # 1.6
  z = 1 / (1 + math.exp(x))
  pu, qi, qj = np.array([0.5, -1.0]), np.array([1.0, 0.0]), np.array([0.0, 1.0])
  np.testing.assert_allclose(new["P"][0], pu + lr * (z * (qi - qj) - reg * pu), rtol=1e-6)
  np.testing.assert_allclose(new["Q"][0], qi + lr * (z * pu - reg * qi), rtol=1e-6)
  np.testing.assert_allclose(new["Q"][1], qj + lr * (-z * pu - reg * qj), rtol=1e-6)
  np.testing.assert_allclose(new["Q"][2], [2.0, 2.0])
  assert float(new["b"][0]) == pytest.approx(0.1 + lr * (z - reg * 0.1), rel=1e-6)
  assert float(new["b"][1]) == pytest.approx(lr * -z, rel=1e-6)


def test_bpr_negatives_are_unseen_and_training_ranks_positives():
  d = _toy(n=60, users=8, items=30)  # density 1/4: 8 tries miss with probability 4e-6
  mask = rdata.dense_matrix(d) > 0
  u, i, j, valid = implicit.sample_triples(
      jax.random.PRNGKey(0), jnp.asarray(d.user), jnp.asarray(d.item), jnp.asarray(mask), 256, 8)
  u, j, valid = np.asarray(u), np.asarray(j), np.asarray(valid)
  assert valid.mean() > 0.99 and not mask[u[valid > 0], j[valid > 0]].any()
  m = recsys.fit("bpr", d, n_factors=8, n_epochs=40, lr=0.05, reg=0.001, batch_size=8)
  s = np.asarray(recsys.scores(m, np.arange(d.num_users)))
  assert s[mask].mean() > s[~mask].mean()
  assert m.meta["loglik_per_epoch"][-1] > m.meta["loglik_per_epoch"][0]


def test_popularity_recommends_most_rated_unseen():
  d = rdata.make_ratings([0, 1, 1, 2, 2, 2, 3], [0, 0, 1, 0, 1, 2, 3], [5] * 7)
  m = recsys.fit("popularity", d)
  items, _ = recsys.recommend(m, 3, k=3)
  np.testing.assert_array_equal(items, [0, 1, 2])
  items, _ = recsys.recommend(m, 1, k=2)
  assert 0 not in items and 1 not in items


# ------------------------------------------------------------------------------ FM


def test_fm_apply_equals_naive_pairwise():
  rng = np.random.RandomState(0)
  n, k, B, F = 12, 4, 5, 3
  w, V = rng.normal(size=n), rng.normal(size=(n, k))
  idx = np.stack([rng.choice(n, F, replace=False) for _ in range(B)])
  val = rng.rand(B, F)
  got = fm.fm_apply(0.3, jnp.asarray(w), jnp.asarray(V), jnp.asarray(idx), jnp.asarray(val))
  for b in range(B):
    x = np.zeros(n)
    x[idx[b]] = val[b]
    want = 0.3 + w @ x + sum(V[a] @ V[c] * x[a] * x[c] for a in range(n) for c in range(a + 1, n))
    assert float(got[b]) == pytest.approx(want, rel=1e-5)


def test_fm_user_item_is_biased_mf():
  d = _toy(n=60)
  m = recsys.fit("fm", d, features=("user", "item"), n_factors=3, n_epochs=2)
  w, V, nu = np.asarray(m.params["w"]), np.asarray(m.params["V"]), d.num_users
  u, i = _pairs(d)
  want = float(m.params["w0"]) + w[u] + w[nu + i] + np.sum(V[u] * V[nu + i], -1)
  np.testing.assert_allclose(recsys.predict(m, u, i, clip=False), want, rtol=1e-5, atol=1e-5)


def test_fm_user_item_adam_step_equals_minibatch_svd_step():
  # Same objective: squared error + lam * (w_u² + w_i² + |v_u|² + |v_i|²) per rating. From
  # mapped parameters, one full-batch Adam step moves FM's (w_u, w_i, v_u, v_i) exactly like
  # svd_minibatch's (b_u, b_i, p_u, q_i) (only w0, trainable in the FM, differs from fixed mu).
  d = _toy(n=50)
  n, nu, k, lam = len(d), d.num_users, 3, 0.05
  rng = np.random.RandomState(0)
  P, Q = rng.normal(0, 0.1, (nu, k)), rng.normal(0, 0.1, (d.num_items, k))
  bu, bi = rng.normal(0, 0.1, nu), rng.normal(0, 0.1, d.num_items)
  mu = float(d.rating.mean())
  f32 = lambda x: jnp.asarray(x, jnp.float32)
  opt = mf._adam(0.01)
  mfp = {"bu": f32(bu), "bi": f32(bi), "P": f32(P), "Q": f32(Q)}
  key = jax.random.PRNGKey(0)
  data = (jnp.asarray(d.user), jnp.asarray(d.item), jnp.asarray(d.rating))
  mf_new, _, _ = mf._minibatch_epoch(mfp, opt.init(mfp), key, *data, jnp.float32(mu),
                                     jnp.float32(lam), batch_size=n, opt=opt, biased=True)
  fmp = {"w0": jnp.float32(mu), "w": f32(np.r_[bu, bi]), "V": f32(np.r_[P, Q])}
  offsets = {"user": 0, "item": nu}
  fm_new, _, _ = fm._fm_epoch(
      fmp, opt.init(fmp), key, {}, data[0], data[1], jnp.zeros(n, jnp.int32), data[2],
      jnp.float32(lam), jnp.float32(lam), features=("user", "item"),
      offsets=tuple(sorted(offsets.items())), batch_size=n, opt=opt)
  np.testing.assert_allclose(fm_new["w"], np.r_[mf_new["bu"], mf_new["bi"]], atol=1e-6)
  np.testing.assert_allclose(fm_new["V"], np.r_[mf_new["P"], mf_new["Q"]], atol=1e-6)
  assert not np.allclose(fm_new["V"], fmp["V"])  # the step did move the factors


def test_fm_side_features_and_time_context():
  d = _toy(n=80)
  m = recsys.fit("fm", d, n_factors=4, n_epochs=3, lr=0.01)
  ts = d.timestamp[:5]
  with_t = recsys.predict(m, d.user[:5], d.item[:5], timestamps=ts, clip=False)
  without = recsys.predict(m, d.user[:5], d.item[:5], clip=False)
  assert np.isfinite(np.asarray(with_t)).all() and not np.allclose(with_t, without)
  idx, val = fm.build_features(
      {"genres": jnp.ones((10, 19)) / 19, "age": jnp.zeros(8, jnp.int32),
       "gender": jnp.zeros(8, jnp.int32), "occupation": jnp.zeros(8, jnp.int32)},
      ("weekday", "hour"), {"weekday": 0, "hour": 7}, jnp.array([0]), jnp.array([0]),
      jnp.array([0]))  # 1970-01-01 00:00 UTC: Thursday (3), hour 0
  np.testing.assert_array_equal(idx[0], [3, 7])


def test_ials_cg_rows_converges_to_exact_solve():
  rng = np.random.RandomState(1)
  nu, ni, k, w0 = 6, 9, 4, 0.5
  obs = rng.rand(nu, ni) < 0.5
  rows, cols = np.nonzero(obs)
  conf = jnp.asarray(1.0 + 3.0 * rng.rand(len(rows)), jnp.float32)
  Y = jnp.asarray(rng.normal(size=(ni, k)), jnp.float32)
  reg = jnp.full(nu, 0.2, jnp.float32)
  args = (jnp.asarray(rows), jnp.asarray(cols), conf, Y, reg, jnp.float32(w0))
  exact = implicit.solve_rows(*args, num_rows=nu, chunk=8)
  x0 = jnp.zeros((nu, k))
  cg = implicit.cg_rows(x0, *args, num_rows=nu, steps=k)  # CG is exact after k steps
  np.testing.assert_allclose(cg, exact, rtol=2e-3, atol=2e-4)
  one = implicit.cg_rows(x0, *args, num_rows=nu, steps=1)
  assert np.abs(one - exact).max() > 10 * np.abs(cg - exact).max()  # the steps matter


def test_ials_dense_cg_equals_sparse_cg():
  rng = np.random.RandomState(2)
  nu, ni, k, w0 = 5, 8, 3, 0.7
  obs = rng.rand(nu, ni) < 0.5
  rows, cols = np.nonzero(obs)
  conf = (1.0 + 2.0 * rng.rand(len(rows))).astype(np.float32)
  Y = jnp.asarray(rng.normal(size=(ni, k)), jnp.float32)
  X0 = jnp.asarray(rng.normal(size=(nu, k)), jnp.float32)
  reg = jnp.asarray(0.1 + rng.rand(nu), jnp.float32)
  sparse = implicit.cg_rows(X0, jnp.asarray(rows), jnp.asarray(cols), jnp.asarray(conf), Y, reg,
                            jnp.float32(w0), num_rows=nu, steps=2)
  W, B = np.zeros((nu, ni), np.float32), np.zeros((nu, ni), np.float32)
  W[rows, cols], B[rows, cols] = conf - w0, conf
  dense = implicit.cg_rows_dense(X0, jnp.asarray(W), jnp.asarray(B), Y, reg, jnp.float32(w0),
                                 steps=2)
  np.testing.assert_allclose(dense, sparse, rtol=1e-4, atol=1e-5)
