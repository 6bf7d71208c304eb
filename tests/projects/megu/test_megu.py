"""MEGU: closed-form checks of the model, losses, HIN selection and C&S; request editing;
padding invariance; tiny overfit; config and smoke runs; the real-data request sizes."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import train as jtrain
from jaxlab.configs import load_config
from jaxlab.data import graphs as dgraphs
from jaxlab.ops import graph as gops
from jaxlab.projects.megu import method
from jaxlab.projects.megu import model as mmodel
from jaxlab.projects.megu import train as mtrain

_key = functools.partial(jax.random.key, impl="unsafe_rbg")
N, F, C = 10, 6, 3


def _graph(seed=0, n=N, p=0.3):
  rng = np.random.default_rng(seed)
  pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < p]
  s = np.array([i for i, j in pairs] + [j for i, j in pairs], np.int32)
  r = np.array([j for i, j in pairs] + [i for i, j in pairs], np.int32)
  x = rng.random((n, F)).astype(np.float32)
  x /= x.sum(1, keepdims=True)
  return x, s, r


def _gd(seed=0, n=40):
  x, s, r = _graph(seed, n, p=0.12)
  labels = np.argmax(x[:, :C], 1).astype(np.int32)  # learnable from the features
  m = np.zeros(n, bool)
  return dgraphs.make_graph_data(x, s, r, labels, m, m, m, C)


def _dense_ahat(s, r, n, w=None):
  return gops.dense_normalized_adjacency(gops.dense_adjacency(s, r, n, w))


# ---------------------------------------------------------------------------- model

def test_gcn_matches_dense_reference_with_edits():
  x, s, r = _graph()
  params = mmodel.init_gcn(_key(0), F, C, hidden=5)
  chex.assert_shape((params["w0"], params["w1"]), [(F, 5), (5, C)])
  w = np.ones(len(s), np.float32)
  w[:3] = 0.0
  keep = np.ones(N, np.float32)
  keep[2] = 0.0
  g = mmodel.GraphArrays(jnp.asarray(x), jnp.asarray(s), jnp.asarray(r))
  out = jax.jit(mmodel.gcn_apply)(params, g, jnp.asarray(w), jnp.asarray(keep))
  chex.assert_shape(out, (N, C))
  a = _dense_ahat(s, r, N, w)
  xu = x * keep[:, None]
  ref = a @ np.maximum(a @ xu @ np.asarray(params["w0"]), 0) @ np.asarray(params["w1"])
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_gcn_dropout_only_in_train():
  x, s, r = _graph()
  g = mmodel.GraphArrays(jnp.asarray(x), jnp.asarray(s), jnp.asarray(r))
  params = mmodel.init_gcn(_key(0), F, C)
  w = jnp.ones(len(s))
  a = mmodel.gcn_apply(params, g, w, rng=_key(1), train=False)
  b = mmodel.gcn_apply(params, g, w, rng=_key(1), train=True)
  c = mmodel.gcn_apply(params, g, w, rng=_key(1), train=True)
  assert not np.allclose(a, b)
  np.testing.assert_array_equal(b, c)


def test_unlearning_module_shapes_and_init_range():
  phi = mmodel.init_unlearning_module(_key(0), 7)
  chex.assert_shape((phi["kernel"], phi["bias"]), [(7, 7), (7,)])
  assert float(jnp.max(jnp.abs(phi["kernel"]))) <= 1 / np.sqrt(7)
  z = jnp.ones((4, 7))
  chex.assert_shape(mmodel.unlearning_module_apply(phi, z), (4, 7))


# ---------------------------------------------------------------------------- losses

def test_kd_loss_closed_form():
  rng = np.random.default_rng(0)
  p, q = rng.normal(size=(5, C)), rng.normal(size=(5, C))
  mask = np.array([1, 1, 0, 1, 0], bool)
  t = 1.5
  got = method.kd_loss(jnp.asarray(p), jnp.asarray(q), jnp.asarray(mask), t)
  sq = np.exp(q / t) / np.exp(q / t).sum(1, keepdims=True)
  sp = np.exp(p / t) / np.exp(p / t).sum(1, keepdims=True)
  ref = (sq * (np.log(sq) - np.log(sp))).sum(1)[mask].mean()
  np.testing.assert_allclose(got, ref, rtol=1e-5)
  np.testing.assert_allclose(method.kd_loss(jnp.asarray(p), jnp.asarray(p),
                                            jnp.ones(5, bool), t), 0.0, atol=1e-6)
  assert float(method.kd_loss(jnp.asarray(p), jnp.asarray(q), jnp.zeros(5, bool), t)) == 0.0
  assert float(method.masked_ce(jnp.asarray(p), jnp.zeros(5, jnp.int32),
                                jnp.zeros(5, bool))) == 0.0


def test_megu_loss_gradient_routing():
  """With H empty, φ's gradient is that of −κ·CE(g(z_U), ŷ_U) only: the KD term on U is
  detached from φ (its target is sg(ẑ)). With U empty, θ still gets the KD gradient of L_p
  through z (only the KD target is detached)."""
  x, s, r = _graph()
  g = mmodel.GraphArrays(jnp.asarray(x), jnp.asarray(s), jnp.asarray(r))
  theta = mmodel.init_gcn(_key(0), F, C)
  phi = mmodel.init_unlearning_module(_key(1), C)
  w = jnp.ones(len(s))
  u = jnp.zeros(N, bool).at[:3].set(True)
  y_hat = jnp.asarray(np.arange(N) % C)
  kw = dict(kappa=0.3, temperature=1.5, dropout=0.0)
  gphi = jax.jit(jax.grad(lambda ph: method.megu_loss(theta, ph, g, w, None, u, jnp.zeros(N, bool),
                                              y_hat, None, **kw)[0]))(phi)
  z = mmodel.gcn_apply(theta, g, w)
  ref = jax.jit(jax.grad(lambda ph: -0.3 * method.masked_ce(
      mmodel.unlearning_module_apply(ph, z), y_hat, u)))(phi)
  chex.assert_trees_all_close(gphi, ref, rtol=1e-5, atol=1e-7)
  h = ~u
  gth = jax.jit(jax.grad(lambda th: method.megu_loss(
      th, phi, g, w, None, jnp.zeros(N, bool), h, y_hat, None, **kw)[0]))(theta)
  ce_only = jax.jit(jax.grad(
      lambda th: method.masked_ce(mmodel.gcn_apply(th, g, w), y_hat, h)))(theta)
  diff = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), gth, ce_only)
  assert max(jax.tree.leaves(diff)) > 1e-6  # the KD term of L_p reaches θ


# ---------------------------------------------------------------------------- HIN

def test_propagated_cosine_closed_form_and_chunking():
  x, s, r = _graph(seed=1)
  u = np.zeros(N, bool)
  u[[0, 4]] = True
  cos = jax.jit(method.propagated_cosine, static_argnames=("k", "feature_chunk"))
  sim = cos(jnp.asarray(x), s, r, None, jnp.asarray(u), k=2)
  a2 = np.linalg.matrix_power(_dense_ahat(s, r, N), 2)
  p, pr = a2 @ x, a2 @ np.where(u[:, None], 1 - x, x)
  ref = (p * pr).sum(1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(pr, axis=1))
  np.testing.assert_allclose(sim, ref, rtol=1e-5)
  for chunk in (1, 4, 5):  # 4 does not divide F=6: the last chunk overlaps
    got = cos(jnp.asarray(x), s, r, None, jnp.asarray(u), k=2, feature_chunk=chunk)
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_adaptive_threshold_closed_form():
  valid = jnp.ones(6, bool)
  # bands: 0.05 | 0.15 | 0.25 | (0.3-0.4 empty) | 0.95 -> stops at alpha 0.4 (adds nothing).
  sim = jnp.array([0.05, 0.15, 0.25, 0.95, 0.97, 1.0])
  sel, alpha = method.adaptive_threshold_set(sim, valid)
  np.testing.assert_array_equal(sel, [1, 1, 1, 0, 0, 0])
  np.testing.assert_allclose(alpha, 0.4, rtol=1e-6)
  # No node below 0.3: alpha rises while S is empty, then the first gap stops it.
  sel, alpha = method.adaptive_threshold_set(jnp.array([0.35, 0.36, 0.9, 1.0, 1.0, 1.0]),
                                             valid)
  np.testing.assert_array_equal(sel, [1, 1, 0, 0, 0, 0])
  # Invalid (padding) nodes are never selected.
  sel, _ = method.adaptive_threshold_set(sim, jnp.array([0, 1, 1, 1, 1, 1], bool))
  assert not bool(sel[0])


def _hin_reference(x, s, r, u, k=2, gamma=0.1):
  """Numpy re-computation of Algorithm 1 as documented: dense cosine, the adaptive threshold
  loop (α from 0.1 in steps of γ, stop when a step adds no larger similarity),
  H = S ∩ k-hop \\ U."""
  n = len(x)
  ak = np.linalg.matrix_power(_dense_ahat(s, r, n), k)
  p, pr = ak @ x, ak @ np.where(u[:, None], 1 - x, x)
  sim = (p * pr).sum(1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(pr, axis=1))
  alpha, m = 0.1, 0.0
  while True:
    sel = sim <= alpha
    if sel.any():
      if sim[sel].max() == m:
        break
      m = sim[sel].max()
    alpha += gamma
  a = np.eye(n)
  a[r, s] = 1
  hop = (np.linalg.matrix_power(a, k) @ u > 0) & ~u
  return sel & hop, hop


def test_hin_subset_of_khop_and_disjoint_from_u():
  # Path 0-1-...-11 with one-hot features, U = {1, 10}: the path ends (degree 1) mostly see the
  # reversed U row (s ≈ 0.64, U itself ≈ 0.635) while the other 2-hop nodes stay above 0.84, so
  # the threshold stops at α = 0.8 with S = {0, 1, 10, 11} and H = S \ U = {0, 11}: non-empty
  # and a proper subset of the 2-hop set {0, 2, 3, 8, 9, 11}.
  n = 12
  s = np.array(list(range(n - 1)) + list(range(1, n)), np.int32)
  r = np.array(list(range(1, n)) + list(range(n - 1)), np.int32)
  x = np.eye(F, dtype=np.float32)[np.arange(n) % F]
  u = np.zeros(n, bool)
  u[[1, 10]] = True
  h, hop, sim = jax.jit(functools.partial(method.hin_select, k=2))(
      jnp.asarray(x), s, r, None, jnp.asarray(u), jnp.ones(n, bool))
  h, hop, sim = map(np.asarray, (h, hop, sim))
  ref_h, ref_hop = _hin_reference(x, s, r, u)
  expect = np.isin(np.arange(n), [0, 11])
  np.testing.assert_array_equal(ref_h, expect)  # the hand derivation above
  np.testing.assert_array_equal(h, expect)
  np.testing.assert_array_equal(hop, ref_hop)
  np.testing.assert_array_equal(hop, np.isin(np.arange(n), [0, 2, 3, 8, 9, 11]))
  far = gops.hop_distance(jnp.asarray(u), s, r, 2) > 2
  np.testing.assert_allclose(sim[np.asarray(far)], 1.0, atol=1e-6)


# ---------------------------------------------------------------------------- C&S

def _cs_reference(y, lab, yl, a, a1, a2, steps):
  e0 = np.where(lab[:, None], yl - y, 0.0)
  e = e0.copy()
  for _ in range(steps):
    e = a1 * a @ e + (1 - a1) * e0
    e[lab] = e0[lab]
  g0 = np.where(lab[:, None], yl, y + e)
  g = g0.copy()
  for _ in range(steps):
    g = np.clip(a2 * a @ g + (1 - a2) * g0, 0, 1)
  return g


@pytest.mark.parametrize("alphas", [(0.8, 0.5), (0.0, 0.0)])
def test_correct_and_smooth_matches_dense(alphas):
  x, s, r = _graph(seed=3)
  w = np.ones(len(s), np.float32)
  w[:4] = 0
  rng = np.random.default_rng(0)
  y = jax.nn.softmax(jnp.asarray(rng.normal(size=(N, C))))
  lab = np.zeros(N, bool)
  lab[:4] = True
  yl = np.eye(C)[rng.integers(0, C, N)]
  cs = jax.jit(functools.partial(method.correct_and_smooth, steps1=7, steps2=7))
  got = cs(y, jnp.asarray(lab), jnp.asarray(yl), s, r, jnp.asarray(w), alpha1=alphas[0],
           alpha2=alphas[1])
  a = gops.dense_normalized_adjacency(gops.dense_adjacency(s, r, N, w), add_self_loops=False)
  ref = _cs_reference(np.asarray(y), lab, yl, a, *alphas, 7)
  np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
  if alphas == (0.0, 0.0):  # no propagation: unlabelled rows keep their input
    np.testing.assert_allclose(got[~lab], np.asarray(y)[~lab], rtol=1e-6)


# ---------------------------------------------------------------------------- requests

@pytest.mark.parametrize("kind", method.KINDS)
def test_requests_edit_graph_with_static_shapes(kind):
  gd = _gd(seed=4, n=60).padded(multiple=16)
  g = gd.graph
  train, test = method.random_split(gd.num_nodes, g.nodes.shape[0], 0.2,
                                    np.random.default_rng(0))
  assert not (train & test).any() and (train | test).sum() == gd.num_nodes
  req = method.make_request(kind, np.random.default_rng(1), train, g.senders, g.receivers,
                            gd.edge_mask, 0.1)
  u, w = req["u_mask"], req["edge_weight"]
  assert u.shape == (g.nodes.shape[0],) and w.shape == g.senders.shape
  assert u.sum() > 0 and not u[~gd.node_mask].any()
  assert (w <= gd.edge_mask).all()
  if kind == "feature":
    assert u.sum() == int(0.1 * train.sum()) and (u <= train).all()
    np.testing.assert_array_equal(req["row_keep"] == 0, u)
    np.testing.assert_array_equal(w, gd.edge_mask)
  elif kind == "node":
    assert (u <= train).all() and not (req["train_keep"] & u).any()
    np.testing.assert_array_equal(w == 0, (u[g.senders] | u[g.receivers]) | ~gd.edge_mask)
  else:
    removed = (w == 0) & gd.edge_mask
    assert removed.sum() == 2 * round(0.1 * gd.num_edges / 2)
    rev = gops.reverse_edge_index(g.senders, g.receivers)
    np.testing.assert_array_equal(removed, removed[rev])
    np.testing.assert_array_equal(
        u, np.isin(np.arange(len(u)), np.concatenate([g.senders[removed], g.receivers[removed]])))
  with pytest.raises(ValueError, match="kind"):
    method.make_request("graph", np.random.default_rng(1), train, g.senders, g.receivers,
                        gd.edge_mask, 0.1)


def test_inject_adversarial_edges():
  gd = _gd(seed=5, n=50)
  g = gd.graph
  train = np.zeros(50, bool)
  train[:30] = True
  s, r = method.inject_adversarial_edges(np.random.default_rng(0), gd.labels, train,
                                         g.senders, g.receivers, 20)
  assert len(s) == 40
  existing = set(zip(g.senders.tolist(), g.receivers.tolist()))
  assert not existing & set(zip(s.tolist(), r.tolist()))
  assert len(set(zip(s.tolist(), r.tolist()))) == 40
  assert (gd.labels[s] != gd.labels[r]).all() and train[s].all() and train[r].all()


# ---------------------------------------------------------------------------- invariance

def test_padding_invariance_of_model_hin_and_cs():
  gd = _gd(seed=6, n=50)
  params = mmodel.init_gcn(_key(0), F, C)

  @jax.jit
  def run(x, senders, receivers, w, u, valid, lab):
    ga = mmodel.GraphArrays(x, senders, receivers)
    logits = mmodel.gcn_apply(params, ga, w)
    h, _, _ = method.hin_select(x, senders, receivers, w, u, valid, feature_chunk=4)
    cs = method.correct_and_smooth(jax.nn.softmax(logits), lab,
                                   jax.nn.one_hot(jnp.argmax(logits, -1), C), senders,
                                   receivers, w, alpha1=0.8, alpha2=0.5, steps1=5, steps2=5)
    return logits, h, cs

  # Reference: the unpadded graph (every node real); padding must not change any real row.
  ref = run(jnp.asarray(gd.graph.nodes), gd.graph.senders, gd.graph.receivers,
            jnp.ones(gd.num_edges), np.isin(np.arange(gd.num_nodes), [3, 9]),
            np.ones(gd.num_nodes, bool), np.arange(gd.num_nodes) < 10)
  ref = [np.asarray(a) for a in ref]
  assert ref[1].any()  # a non-empty H, so dropping the padding mask would show
  for mult in (8, 64):
    p = gd.padded(multiple=mult)
    g = p.graph
    npad = g.nodes.shape[0]
    u = np.zeros(npad, bool)
    u[[3, 9]] = True
    lab = np.zeros(npad, bool)
    lab[:10] = True
    res = run(jnp.asarray(g.nodes), g.senders, g.receivers, jnp.asarray(p.edge_mask, jnp.float32),
              u, p.node_mask, lab)
    for a, b in zip(res, ref):
      np.testing.assert_allclose(np.asarray(a)[:gd.num_nodes], b, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- training

def test_tiny_overfit_and_unlearning_loop():
  gd = _gd(seed=7, n=40)
  g = gd.graph
  ga = mmodel.GraphArrays(jnp.asarray(g.nodes), jnp.asarray(g.senders), jnp.asarray(g.receivers))
  labels = jnp.asarray(gd.labels)
  w = jnp.ones(len(g.senders))
  mask = jnp.ones(40, bool)
  params = mmodel.init_gcn(_key(0), F, C, hidden=32)
  params, losses = jax.jit(functools.partial(
      method.train_supervised, num_epochs=150, lr=0.05, wd=0.0, dropout=0.0))(
          params, ga, w, None, labels, mask, _key(1))
  assert float(losses[-1]) < 0.5 * float(losses[0])
  acc = method.masked_accuracy(mmodel.gcn_apply(params, ga, w), labels, mask)
  assert float(acc) > 0.7
  u = jnp.zeros(40, bool).at[:4].set(True)
  y_hat = jnp.argmax(mmodel.gcn_apply(params, ga, w), -1)
  phi = mmodel.init_unlearning_module(_key(2), C)
  # Dropout off: the per-epoch losses are then the objective κ L_u + L_p at each iterate.
  th, ph, l = jax.jit(functools.partial(
      method.megu_unlearn, num_epochs=5, lr=0.05, kappa=0.01, temperature=1.5, dropout=0.0))(
          params, phi, ga, w, None, u, ~u, y_hat, _key(3))
  chex.assert_shape(l, (5,))
  chex.assert_trees_all_equal_shapes(th, params)
  l = np.asarray(l)
  assert np.isfinite(l).all()
  assert (np.diff(l) < 0).all() and l[-1] < 0.9 * l[0]  # SGD descends the objective
  for new, old in ((th, params), (ph, phi)):  # both modules evolve (θ is what gets released)
    assert all(float(jnp.abs(a - b).max()) > 1e-3
               for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(old)))


def test_unlearning_with_dropout_draws_a_fresh_mask_each_epoch():
  """With dropout on, epoch i's loss is the objective at the i-th iterate under the mask of
  fold_in(key, i) (a plain Python loop as reference), and the masks differ between epochs."""
  gd = _gd(seed=7, n=40)
  g = gd.graph
  ga = mmodel.GraphArrays(jnp.asarray(g.nodes), jnp.asarray(g.senders), jnp.asarray(g.receivers))
  w = jnp.ones(len(g.senders))
  params = mmodel.init_gcn(_key(0), F, C, hidden=32)
  phi = mmodel.init_unlearning_module(_key(2), C)
  u = jnp.zeros(40, bool).at[:4].set(True)
  y_hat = jnp.argmax(mmodel.gcn_apply(params, ga, w), -1)
  kw = dict(kappa=0.3, temperature=1.5, dropout=0.5)
  th, ph, losses = method.megu_unlearn(params, phi, ga, w, None, u, ~u, y_hat, _key(3),
                                       num_epochs=4, lr=0.05, **kw)
  grad_fn = jax.value_and_grad(method.megu_loss, argnums=(0, 1), has_aux=True)
  t, p, ref = params, phi, []
  for i in range(4):
    (loss, _), (gt, gp) = grad_fn(t, p, ga, w, None, u, ~u, y_hat,
                                  jax.random.fold_in(_key(3), i), **kw)
    ref.append(float(loss))
    t = jax.tree.map(lambda a, b: a - 0.05 * b, t, gt)
    p = jax.tree.map(lambda a, b: a - 0.05 * b, p, gp)
  np.testing.assert_allclose(np.asarray(losses), ref, rtol=2e-5, atol=1e-6)
  chex.assert_trees_all_close(th, t, rtol=2e-5, atol=1e-6)
  chex.assert_trees_all_close(ph, p, rtol=2e-5, atol=1e-6)
  # Dropout is active (the loss is not the dropout-free objective) and the mask is redrawn:
  # the same iterate under epoch 0's and epoch 1's keys gives different losses.
  at = lambda k, d: float(method.megu_loss(params, phi, ga, w, None, u, ~u, y_hat, k,
                                           **dict(kw, dropout=d))[0])
  assert at(jax.random.fold_in(_key(3), 0), 0.0) != pytest.approx(ref[0], rel=1e-3)
  assert at(jax.random.fold_in(_key(3), 1), 0.5) != pytest.approx(ref[0], rel=1e-3)


# ---------------------------------------------------------------------------- configs / runs

def test_configs_load_and_reject_bad_keys():
  c = load_config("configs/megu/mini.py")
  assert c.num_seeds == 5 and c.unlearn.num_epochs == 30 and c.train.num_epochs == 200
  s = load_config("configs/megu/mini.py", "smoke")
  assert s.num_seeds == 2 and not s.attack.enabled
  d = load_config("configs/megu/default.py", "smoke")
  assert d.project == "megu" and d.num_seeds == 2
  assert load_config("configs/megu/default.py").num_seeds == 10
  with pytest.raises(KeyError, match="unknown config key"):
    load_config("configs/megu/mini.py", "unlearn.lrr=0.1")
  with pytest.raises(KeyError, match="hyper-parameters"):
    mtrain.hparams_for(c, "ogbn_arxiv")


def test_smoke_run_on_fake_graph(tmp_path):
  c = load_config("configs/megu/mini.py",
                  "smoke,data.source=fake,rng_impl=unsafe_rbg,train.num_epochs=5,"
                  "unlearn.num_epochs=3,unlearn.finetune_epochs=3,unlearn.hin_feature_chunk=0")
  res = mtrain.train_and_evaluate(c, tmp_path)
  cell = res["datasets"]["cora"]["results"]
  assert set(cell) == set(c.unlearn.kinds)
  for kind in c.unlearn.kinds:
    for m in mtrain.METHODS:
      if kind == "feature" and m == "gnndelete":  # GNNDelete deletes edges only
        assert cell[kind][m] is None
        continue
      assert 0.0 <= cell[kind][m]["mean"] <= 100.0
    assert cell[kind]["num_u"] > 0
  assert (tmp_path / "results.json").exists()
  # Resumes from the cached stage; display settings do not matter, result settings do.
  again = mtrain.train_and_evaluate(c, tmp_path)
  assert again["datasets"] == res["datasets"]
  with c.unlocked():
    c.train.progress = not c.train.progress
  assert mtrain.train_and_evaluate(c, tmp_path)["datasets"] == res["datasets"]
  grid = (tmp_path / "grid_cora.json").read_text()
  with c.unlocked():
    c.unlearn.num_epochs = 4
  with pytest.raises(jtrain.StageCacheError, match="unlearn.num_epochs: 3 -> 4"):
    mtrain.train_and_evaluate(c, tmp_path)
  assert (tmp_path / "grid_cora.json").read_text() == grid


def test_real_cora_request_sizes(data_dir):
  c = load_config("configs/megu/mini.py", f"data.dir={data_dir}")
  gd = mtrain.pad(mtrain.load_graph(c, "cora"), c)
  assert gd.num_nodes == 2708 and gd.num_edges == 10556
  reqs = mtrain.make_requests(gd, c, [0], list(method.KINDS))
  train = np.asarray(reqs["train_mask"][0])
  assert train.sum() == 2708 - 542
  u = np.asarray(reqs["u_mask"]).sum(1)
  assert u[0] == u[1] == 216  # feature / node: 0.1 * 2166 train nodes
  removed = (np.asarray(gd.edge_mask) & (np.asarray(reqs["edge_weight"][2]) == 0)).sum()
  assert removed == 2 * 528  # 0.1 * 5278 undirected edges
