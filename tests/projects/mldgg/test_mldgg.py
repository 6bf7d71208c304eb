"""Tests of MLDGG (jaxlab/projects/mldgg): shapes, closed forms, MAML gradients, padding
invariance, tiny overfit, data handling, configs and a smoke run."""

import dataclasses
import os

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxlab import train as jtrain
from jaxlab.configs import load_config, set_key
from jaxlab.ops import graph as gops
from jaxlab.projects.mldgg import data as D
from jaxlab.projects.mldgg import method as Mth
from jaxlab.projects.mldgg import model as M
from jaxlab.projects.mldgg import train as T

KEY = jax.random.key(0, impl="unsafe_rbg")
CONFIG = os.path.join(os.path.dirname(__file__), "../../../configs/mldgg/mini.py")
DATA = os.environ.get("JAXLAB_DATA", "/work/shared/data")


def ring_graph(n, d=6, n_pad=None, e_pad=None, seed=0):
  rng = np.random.default_rng(seed)
  s = np.arange(n)
  senders = np.concatenate([s, (s + 1) % n])
  receivers = np.concatenate([(s + 1) % n, s])
  labels = (np.arange(n) >= n // 2).astype(np.int32)  # two homophilous arcs
  x = rng.normal(size=(n, d)).astype(np.float32) + labels[:, None]
  g = D.make_graph(x, senders, receivers, labels)
  if n_pad is not None:
    g = D.pad_to(g, n_pad, e_pad)
  return {k: jnp.asarray(v) for k, v in g.items()}


def test_structure_learner_shapes_range_and_padding_rows():
  g = ring_graph(10, d=5, n_pad=16, e_pad=24)
  # Non-zero padding features: only the node mask can zero the padding rows.
  g["x"] = g["x"].at[10:].set(1.0)
  theta = M.init_structure_learner(KEY, 5, 3)
  piv = M.sample_pivots(KEY, g["node_mask"], 4)
  chex.assert_shape(piv, (4,))
  assert np.all(np.asarray(g["node_mask"])[np.asarray(piv)])          # pivots are real nodes
  assert len(set(np.asarray(piv).tolist())) == 4                       # distinct
  for key in (None, KEY):
    b = jax.jit(M.structure_learner, static_argnames="temperature")(
        theta, g["x"], piv, g["node_mask"], key)
    chex.assert_shape(b, (16, 4))
    chex.assert_type(b, jnp.float32)
    assert np.all((np.asarray(b) >= 0) & (np.asarray(b) <= 1))
    assert np.all(np.asarray(b)[10:] == 0)                            # padding rows zero
    assert np.all(np.asarray(b).sum(1) <= 4 + 1e-6)


def test_structure_heads_start_distinct_and_stay_distinct():
  """Heads that start equal get equal gradients and never separate (H heads = one head)."""
  g = ring_graph(10, d=5)
  theta = M.init_structure_learner(KEY, 5, 4)
  w = np.asarray(theta["w"])
  assert np.all(np.abs(w[1:] - w[0]).max(1) > 1e-3)
  piv = jnp.arange(0, 10, 2)
  loss = lambda th: jnp.sum(M.structure_learner(th, g["x"], piv, g["node_mask"]) ** 2)
  grad = np.asarray(jax.grad(loss)(theta)["w"])
  assert np.all(np.abs(grad[1:] - grad[0]).max(1) > 1e-6)


def test_structure_learner_eps_neighbourhood_zeroes_non_positive_similarity():
  """GraphGLOW's ε = 0 neighbourhood: a pivot with S <= 0 gets weight exactly 0, with or without
  the relaxed-Bernoulli noise; with every node a pivot and no noise, B = clip(S, 0, 1)."""
  g = ring_graph(8, d=4)
  theta = M.init_structure_learner(KEY, 4, 2)
  piv = jnp.arange(8)
  s = np.asarray(M.pivot_similarity(theta, g["x"], piv))
  assert (s <= 0).any() and (s > 0).any()
  for key in (None, KEY):
    b = np.asarray(M.structure_learner(theta, g["x"], piv, g["node_mask"], key))
    assert np.all(b[s <= 0] == 0.0) and np.all(b[s > 0] > 0.0)
  b = np.asarray(M.structure_learner(theta, g["x"], piv, g["node_mask"]))
  np.testing.assert_allclose(b, np.clip(s, 1e-4, 1 - 1e-4) * (s > 0), atol=1e-6)


def test_weighted_cosine_closed_form():
  rng = np.random.default_rng(1)
  z = rng.normal(size=(6, 4)).astype(np.float32)
  w = rng.normal(size=(2, 4)).astype(np.float32)
  piv = np.array([1, 4])
  s = np.asarray(M.pivot_similarity({"w": jnp.asarray(w)}, jnp.asarray(z), jnp.asarray(piv)))
  ref = np.zeros((6, 2))
  for h in range(2):
    a = z * w[h]
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    ref += a @ a[piv].T / 2
  np.testing.assert_allclose(s, ref, atol=1e-5)


def test_pivot_propagate_equals_dense_rownorm_and_no_nan():
  rng = np.random.default_rng(2)
  b = rng.uniform(size=(7, 3)).astype(np.float32)
  b[5] = 0.0                                       # isolated row (e.g. padding)
  h = rng.normal(size=(7, 4)).astype(np.float32)
  out = np.asarray(M.pivot_propagate(jnp.asarray(b), jnp.asarray(h)))
  rb = b / np.maximum(b.sum(1, keepdims=True), 1e-30)
  rbt = b.T / b.T.sum(1, keepdims=True)
  np.testing.assert_allclose(out, rb @ (rbt @ h), atol=1e-5)
  assert np.all(np.isfinite(out)) and np.all(out[5] == 0)


def test_lambda_one_is_plain_gcn_and_mix_closed_form():
  g = ring_graph(8, d=3)
  h = jnp.asarray(np.random.default_rng(3).normal(size=(8, 3)), jnp.float32)
  b = jax.random.uniform(KEY, (8, 5))
  a = gops.dense_adjacency(np.asarray(g["senders"]), np.asarray(g["receivers"]), 8)
  a_hat = gops.dense_normalized_adjacency(a)
  np.testing.assert_allclose(M.make_propagator(g, b, 1.0)(h), a_hat @ np.asarray(h), atol=1e-5)
  np.testing.assert_allclose(M.make_propagator(g)(h), a_hat @ np.asarray(h), atol=1e-5)
  mix = 0.3 * a_hat @ np.asarray(h) + 0.7 * np.asarray(M.pivot_propagate(b, h))
  np.testing.assert_allclose(M.make_propagator(g, b, 0.3)(h), mix, atol=1e-5)


def test_dense_learned_reference_is_row_normalised_clipped_similarity():
  """The O(N²) reference: RowNorm(clip(S_all, 0, 1)) H with S_all the node-node weighted cosine
  (what the pivot factorisation avoids materialising)."""
  g = ring_graph(6, d=4)
  theta = {"w": jnp.ones((2, 4))}
  out = M.dense_learned_propagate(theta, g["x"], g["node_mask"], jnp.eye(6))
  np.testing.assert_allclose(np.asarray(out).sum(1), 1.0, atol=1e-5)
  s = np.asarray(M.pivot_similarity(theta, g["x"], jnp.arange(6)))
  a = np.clip(s, 0, 1)
  np.testing.assert_allclose(out, a / a.sum(1, keepdims=True), atol=1e-5)


def test_structure_regularizer_closed_form():
  b = jnp.asarray([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
  r = jnp.asarray([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
  piv = jnp.asarray([0, 2])
  e = np.asarray(b).T @ np.asarray(b)
  e = e / e.max()
  d2 = np.array([[0.0, 4.0], [4.0, 0.0]])
  ref = 2.0 * np.mean(e * d2) + 0.5 * np.mean(np.asarray(b))
  mask = jnp.ones(3, bool)
  np.testing.assert_allclose(M.structure_regularizer(b, r, piv, 2.0, 0.5, mask), ref, rtol=1e-5)
  # Padding rows (zero in B, as the structure learner makes them) do not dilute mean(B).
  bp, rp = jnp.pad(b, ((0, 2), (0, 0))), jnp.pad(r, ((0, 2), (0, 0)), constant_values=7.0)
  maskp = jnp.arange(5) < 3
  np.testing.assert_allclose(M.structure_regularizer(bp, rp, piv, 2.0, 0.5, maskp), ref,
                             rtol=1e-5)


def test_gaussian_kl_closed_form_and_nonnegative():
  mu = jnp.asarray([[0.5, -1.0]])
  lv = jnp.asarray([[0.2, -0.3]])
  pm = jnp.asarray([0.1, 0.0])
  var = np.exp(np.asarray(lv))
  ref = 0.5 * np.sum(var + (np.asarray(mu) - np.asarray(pm)) ** 2 - 1 - np.asarray(lv))
  np.testing.assert_allclose(M.gaussian_kl(mu, lv, pm), [ref], rtol=1e-5)
  np.testing.assert_allclose(M.gaussian_kl(pm[None], jnp.zeros((1, 2)), pm), [0.0], atol=1e-7)
  kl = M.gaussian_kl(jax.random.normal(KEY, (50, 4)), jax.random.normal(KEY, (50, 4)),
                     jnp.zeros(4))
  assert np.all(np.asarray(kl) >= 0)


def test_rep_learner_shapes_jit_and_eval_determinism():
  theta = M.init_rep_learner(KEY, 8, 3, 2, 5)
  head = M.dense_init(KEY, 3, 4)
  r = jax.random.normal(KEY, (9, 8))
  f = jax.jit(M.rep_learner, static_argnames="d_s")
  for fn in (M.rep_learner, f):
    out = fn(theta, head, jnp.zeros(5), r, KEY, d_s=3)
    chex.assert_shape([out["logits"], out["recon"], out["kl"], out["s"], out["v"]],
                      [(9, 4), (9,), (9,), (9, 3), (9, 2)])
  a = f(theta, head, jnp.zeros(5), r, None, d_s=3)["logits"]
  np.testing.assert_array_equal(a, f(theta, head, jnp.zeros(5), r, None, d_s=3)["logits"])


@pytest.mark.parametrize("first_order", [False, True])
def test_maml_meta_gradient_hand_computed(first_order):
  """L_sup = ½ a θ², L_qry = ½ c (θ − t)²; one inner step θ' = (1 − α a) θ.
  Second order: dL_qry/dθ = c (θ' − t)(1 − α a); first order: c (θ' − t)."""
  a, c, t, alpha, theta = 2.0, 3.0, 0.5, 0.1, 1.5
  sup = lambda p, k: 0.5 * a * p["w"] ** 2
  qry = lambda p, k: 0.5 * c * (p["w"] - t) ** 2
  keys = jax.random.split(KEY, 1)
  g = jax.grad(Mth.maml_objective)({"w": jnp.float32(theta)}, sup, qry, keys, KEY, alpha,
                                   first_order)["w"]
  th1 = (1 - alpha * a) * theta
  ref = c * (th1 - t) * (1.0 if first_order else (1 - alpha * a))
  np.testing.assert_allclose(g, ref, rtol=1e-5)
  # Two inner steps: θ'' = (1 − α a)² θ.
  keys2 = jax.random.split(KEY, 2)
  g2 = jax.grad(Mth.maml_objective)({"w": jnp.float32(theta)}, sup, qry, keys2, KEY, alpha,
                                    first_order)["w"]
  th2 = (1 - alpha * a) ** 2 * theta
  ref2 = c * (th2 - t) * (1.0 if first_order else (1 - alpha * a) ** 2)
  np.testing.assert_allclose(g2, ref2, rtol=1e-5)


def _hp(**kw):
  base = dict(hidden=8, num_pivots=4, num_heads=2, d_s=4, d_v=3, enc_hidden=8, dropout=0.0)
  base.update(kw)
  return Mth.HParams(**base)


@pytest.mark.parametrize("use_sl,use_rl", [(False, True), (True, True)])
def test_padding_invariance_of_eval_loss(use_sl, use_rl):
  hp = _hp(use_sl=use_sl, use_rl=use_rl, num_pivots=12)   # P = N: every real node is a pivot
  task = Mth.Task("a", "a", "d")
  params = Mth.init_params(KEY, hp, {"a": 6}, {"a": 2}, ["d"])
  small, big = ring_graph(12, n_pad=13, e_pad=24), ring_graph(12, n_pad=40, e_pad=64)
  # Non-zero padding features and input bias: the masks, not zeros, must keep padding out.
  big["x"] = big["x"].at[12:].set(1.0)
  params["inp"]["a"]["b"] = params["inp"]["a"]["b"] + 0.5
  f = jax.jit(Mth.task_loss, static_argnums=(1, 2), static_argnames="train")
  l1, m1 = f(params, hp, task, small, small["node_mask"], KEY, train=False)
  l2, m2 = f(params, hp, task, big, big["node_mask"], KEY, train=False)
  np.testing.assert_allclose(l1, l2, rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(m1["acc"], m2["acc"])


def test_tiny_overfit_mldgg_finetune():
  hp = _hp()
  task = Mth.Task("a", "a", "d")
  g = ring_graph(16, n_pad=17, e_pad=32)
  params = Mth.init_params(KEY, hp, {"a": 6}, {"a": 2}, ["d"])
  params, losses = jax.jit(Mth.finetune, static_argnums=(1, 2),
                           static_argnames=("num_steps", "lr", "wd"))(
      params, hp, task, g, g["node_mask"], KEY, num_steps=150, lr=0.03)
  assert float(losses[-1]) < float(losses[0])
  assert float(Mth.accuracy(params, hp, task, g, g["node_mask"], KEY)) == 1.0


def test_rep_learner_logvar_init_and_mean_classifier():
  theta = M.init_rep_learner(KEY, 8, 3, 2, 5, logvar_init=-5.0)
  np.testing.assert_array_equal(theta["enc2"]["b"][:5], 0.0)
  np.testing.assert_array_equal(theta["enc2"]["b"][5:], -5.0)
  head = M.dense_init(KEY, 3, 4)
  r = jax.random.normal(KEY, (9, 8))
  det = M.rep_learner(theta, head, jnp.zeros(5), r, None, d_s=3)
  mean_ce = M.rep_learner(theta, head, jnp.zeros(5), r, KEY, d_s=3, ce_sample=False)
  sampled = M.rep_learner(theta, head, jnp.zeros(5), r, KEY, d_s=3, ce_sample=True)
  np.testing.assert_allclose(mean_ce["logits"], det["logits"], rtol=1e-6)   # no noise in CE
  assert not np.allclose(sampled["logits"], det["logits"])
  np.testing.assert_allclose(mean_ce["kl"], det["kl"], rtol=1e-6)


def test_rep_learner_encoder_dropout():
  """enc_dropout: rate 0 is bit-identical to no dropout; at evaluation (no key) it is inert; in
  training it drops whole entries of r / the hidden layer (the recon target stays the clean r)."""
  theta = M.init_rep_learner(KEY, 8, 3, 2, 5)
  head = M.dense_init(KEY, 3, 4)
  r = jax.random.normal(KEY, (9, 8)) + 2.0
  prior = jnp.zeros(5)
  base = M.rep_learner(theta, head, prior, r, KEY, d_s=3)
  zero = M.rep_learner(theta, head, prior, r, KEY, d_s=3, dropout=0.0)
  for k in base:
    np.testing.assert_array_equal(base[k], zero[k])
  ev = M.rep_learner(theta, head, prior, r, None, d_s=3)
  ev_drop = M.rep_learner(theta, head, prior, r, None, d_s=3, dropout=0.5)
  for k in ev:
    np.testing.assert_array_equal(ev[k], ev_drop[k])
  drop = M.rep_learner(theta, head, prior, r, KEY, d_s=3, dropout=0.5)
  assert not np.allclose(drop["logits"], base["logits"])
  # a vanishing rate keeps every entry (scale 1 / (1 - 1e-7)): the dropout path itself is exact
  tiny = M.rep_learner(theta, head, prior, r, KEY, d_s=3, dropout=1e-7)
  np.testing.assert_allclose(tiny["logits"], base["logits"], rtol=1e-5, atol=1e-5)


def test_s_branch_matches_gcn_head_when_kl_and_recon_vanish():
  """Limit w_rec = w_kl = 0, CE on the posterior mean: the representation learner is then a
  deterministic MLP head on r; the training loss equals the evaluation CE, and fine-tuning it
  fits a small graph as well as the plain GCN head does."""
  g = ring_graph(16, n_pad=17, e_pad=32)
  task = Mth.Task("a", "a", "d")
  hp_rl = _hp(use_sl=False, w_rec=0.0, w_kl=0.0, ce_sample=False, logvar_init=-5.0)
  params = Mth.init_params(KEY, hp_rl, {"a": 6}, {"a": 2}, ["d"])
  l_train, m_train = Mth.task_loss(params, hp_rl, task, g, g["node_mask"], KEY, train=True)
  l_eval, m_eval = Mth.task_loss(params, hp_rl, task, g, g["node_mask"], KEY, train=False)
  np.testing.assert_allclose(l_train, l_eval, rtol=1e-5)
  np.testing.assert_allclose(l_train, m_eval["ce"], rtol=1e-5)
  ft = jax.jit(Mth.finetune, static_argnums=(1, 2), static_argnames=("num_steps", "lr", "wd"))
  res = {}
  for name, hp in (("rl", hp_rl), ("gcn", _hp(use_sl=False, use_rl=False))):
    p0 = Mth.init_params(KEY, hp, {"a": 6}, {"a": 2}, ["d"])
    p1, losses = ft(p0, hp, task, g, g["node_mask"], KEY, num_steps=100, lr=0.03)
    res[name] = (float(losses[-1]), float(Mth.accuracy(p1, hp, task, g, g["node_mask"], KEY)))
  assert res["gcn"][1] == 1.0 and res["rl"][1] == 1.0
  assert res["rl"][0] < 0.1 and res["gcn"][0] < 0.1


def test_kl_warmup_ramps_weight():
  hp = _hp(use_sl=False)
  task = Mth.Task("a", "a", "d")
  g = ring_graph(16, n_pad=17, e_pad=32)
  params = Mth.init_params(KEY, hp, {"a": 6}, {"a": 2}, ["d"])
  l0, m = Mth.task_loss(params, hp, task, g, g["node_mask"], KEY, kl_scale=0.0)
  l1, _ = Mth.task_loss(params, hp, task, g, g["node_mask"], KEY, kl_scale=1.0)
  np.testing.assert_allclose(l1 - l0, hp.w_kl * m["kl"], rtol=1e-4)
  # lr = 0 keeps the params fixed, so two runs differ only by the KL scale of each step:
  # warm-up 0.5 of 6 steps ramps 1/3, 2/3, then 1.
  run = lambda h: np.asarray(Mth.pretrain(
      params, h, [task], [g], KEY, mode="erm", num_steps=6, lr=0.0, sup_frac=0.5,
      inner_lr=0.05, inner_steps=1, first_order=True)[1])
  warm, flat = run(dataclasses.replace(hp, kl_warmup=0.5)), run(hp)
  assert np.all(np.isfinite(warm))
  np.testing.assert_allclose(warm[2:], flat[2:], rtol=1e-6)
  for i, scale in enumerate((1 / 3, 2 / 3)):
    k = jax.random.fold_in(jax.random.split(KEY, 6)[i], 0)   # pretrain's key for task 0, step i
    kl = Mth.task_loss(params, hp, task, g, g["node_mask"], k)[1]["kl"]
    np.testing.assert_allclose(flat[i] - warm[i], (1 - scale) * hp.w_kl * kl, rtol=1e-3)


def test_pretrain_maml_reduces_query_loss_and_keeps_finite():
  hp = _hp()
  tasks = [Mth.Task("a", "a", "d0"), Mth.Task("a", "a", "d1")]
  graphs = [ring_graph(16, n_pad=17, e_pad=32, seed=s) for s in (0, 1)]
  params = Mth.init_params(KEY, hp, {"a": 6}, {"a": 2}, ["d0", "d1"])
  out, losses = Mth.pretrain(params, hp, tasks, graphs, KEY, mode="maml", num_steps=30, lr=0.02,
                             sup_frac=0.5, inner_lr=0.05, inner_steps=1, first_order=True)
  assert np.all(np.isfinite(np.asarray(losses)))
  assert float(losses[-5:].mean()) < float(losses[:5].mean())
  # target entries: shared space kept, a new domain's prior comes from `fresh`
  fresh = Mth.init_params(KEY, hp, {"a": 6}, {"a": 2}, ["tgt"])
  merged = Mth.with_target_entries(out, fresh, Mth.Task("a", "a", "tgt"))
  assert merged["inp"]["a"] is out["inp"]["a"] and "tgt" in merged["prior"]
  np.testing.assert_array_equal(merged["prior"]["tgt"], fresh["prior"]["tgt"])
  # 'source_mean': the target prior is the mean of the (trained, distinct) source priors
  src_priors = np.stack([np.asarray(out["prior"][d]) for d in ("d0", "d1")])
  assert not np.allclose(src_priors[0], src_priors[1])
  merged = Mth.with_target_entries(out, fresh, Mth.Task("a", "a", "tgt"), prior="source_mean")
  np.testing.assert_allclose(merged["prior"]["tgt"], src_priors.mean(0), rtol=1e-6)
  assert set(merged["prior"]) == {"d0", "d1", "tgt"}
  with pytest.raises(ValueError, match="source_mean"):
    Mth.with_target_entries(out, fresh, Mth.Task("a", "a", "tgt"), prior="sources")


def test_memory_pivot_smaller_than_dense():
  cfg = ml_collections.ConfigDict(dict(
      model=dict(hidden=16, num_pivots=32, num_heads=2),
      efficiency=dict(num_nodes=1024)))
  res = T.memory_experiment(cfg)
  if res["pivot_bytes"] is None:
    pytest.skip("backend has no memory_analysis")
  assert res["ratio"] > 4.0   # 1024x1024 floats vs 1024x32
  assert res["analytic_floats"]["ratio"] == 32.0


def test_data_helpers_and_errors():
  g = D.make_graph(np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32),
                   np.array([0, 1, 2]), np.array([1, 2, 3]), np.arange(40) % 4)
  doms = D.split_domains(g, 4)
  assert sorted(len(d["x"]) for d in doms) == [10, 10, 10, 10]
  with pytest.raises(ValueError, match="quantile"):
    D.split_domains(g, 4, method="spectral")
  with pytest.raises(ValueError, match="exceed"):
    D.pad_to(g, 40, 3)
  sup = D.support_masks(g["labels"], g["node_mask"], 3, [0, 1])
  chex.assert_shape(sup, (2, 40))
  assert np.all(sup.sum(1) == 12)
  x = np.random.default_rng(0).uniform(size=(30, 20))
  z = D.svd_features(x, 8, sign="none")
  chex.assert_shape(z, (30, 8))
  np.testing.assert_allclose(z.std(0), 1.0, atol=1e-3)
  # skew sign: every component's third moment >= 0, independent of the range finder's seed
  z1, z2 = (D.svd_features(x, 8, seed=s, sign="skew", power_iters=4) for s in (0, 1))
  assert np.all((z1 ** 3).sum(0) >= 0)
  np.testing.assert_allclose(z1[:, :4], z2[:, :4], atol=1e-2)
  # global scale keeps the spectrum's order (column std decreasing), mean column std 1
  xc = np.random.default_rng(1).normal(size=(400, 20)) * np.linspace(4.0, 0.2, 20)
  zg = D.svd_features(xc, 8, scale="global", power_iters=4)
  assert np.all(np.diff(zg.std(0)) < 0) and abs(zg.std(0).mean() - 1.0) < 1e-4
  with pytest.raises(ValueError, match="svd_scale"):
    D.svd_features(x, 8, scale="nope")


def test_config_smoke_and_bad_keys():
  c = load_config(CONFIG, "smoke")
  assert c.num_seeds == 2 and c.train.meta_steps <= 5
  with pytest.raises(KeyError, match="valid keys"):
    set_key(c, "train.inner_stepz", "2")
  with c.unlocked():
    c.methods = ("scratch", "nope")
  with pytest.raises(ValueError, match="unknown methods"):
    T.train_and_evaluate(c, "/tmp/mldgg_bad")
  with pytest.raises(ValueError, match="unknown setting"):
    T.setting_instances("pubmed", c, {})


@pytest.mark.parametrize("input_layer", ["shared", "per_space"])
def test_setting_a_two_sources_with_their_own_label_spaces(input_layer):
  """Cora + CiteSeer -> PubMed (fake graphs of the real widths and class counts): two source
  tasks with distinct label spaces, one target, every graph padded to one shape."""
  c = load_config(CONFIG, f"smoke,data.source=fake,model.input_layer={input_layer}")
  [(name, src, tasks, tgt, ttask)] = T.setting_instances("cora+citeseer->pubmed", c, {})
  assert name == "cora+citeseer->pubmed" and len(src) == 2
  assert [t.label_space for t in tasks] == ["src0", "src1"] and ttask.label_space == "tgt"
  spaces = [t.space for t in tasks] + [ttask.space]
  assert spaces == (["shared"] * 3 if input_layer == "shared" else ["src0", "src1", "tgt"])
  for g in src:
    chex.assert_equal_shape([g["x"], tgt["x"]])
    chex.assert_equal_shape([g["senders"], tgt["senders"]])
  # Label counts of the fake Cora / CiteSeer / PubMed: 7 / 6 / 3 classes.
  assert [int(g["labels"][g["node_mask"]].max()) + 1 for g in (*src, tgt)] == [7, 6, 3]


@pytest.mark.skipif(not os.path.exists(os.path.join(DATA, "planetoid")), reason="no data")
def test_real_cora_domains_and_svd():
  c = load_config(CONFIG, "smoke")
  insts = T.setting_instances("cora_domains", c, {})
  assert len(insts) == 4
  name, src, tasks, tgt, ttask = insts[0]
  assert len(src) == 3 and int(tgt["node_mask"].sum()) == 677
  assert sum(int(g["node_mask"].sum()) for g in src + [tgt]) == 2708
  assert tgt["x"].shape[1] == c.data.svd_dim
  sup = D.support_masks(tgt["labels"], tgt["node_mask"], 20, [0])
  lab = np.asarray(tgt["labels"])[np.asarray(tgt["node_mask"])]
  assert sup.sum() == sum(min(20, int((lab == c).sum()) // 2) for c in np.unique(lab))
  assert sup.sum() >= 100 and not np.any(sup & ~np.asarray(tgt["node_mask"]))


def test_smoke_run_two_methods(tmp_path):
  c = load_config(CONFIG, "smoke")
  with c.unlocked():
    c.data.source = "fake"
    c.settings = ("cora_domains",)
    c.data.held_out = (0,)
    c.methods = ("scratch", "mldgg")
    c.data.pad_multiple = 64
    c.train.progress = False
  res = T.train_and_evaluate(c, str(tmp_path))
  cell = res["settings"]["cora_domains"]
  assert set(cell) == {"scratch", "mldgg"}
  assert all(0.0 <= cell[m]["mean"] <= 100.0 and len(cell[m]["per_seed"]) == 2 for m in cell)
  assert res["efficiency"]["ratio"] > 1.0
  assert (tmp_path / "results.json").exists()
  # Resume: a subset of the methods reuses its cells; another fine-tuning budget is refused.
  with c.unlocked():
    c.methods = ("mldgg",)
  assert T.train_and_evaluate(c, str(tmp_path))["settings"]["cora_domains"]["mldgg"] == cell["mldgg"]
  with c.unlocked():
    c.train.ft_steps += 1
  with pytest.raises(jtrain.StageCacheError, match="train.ft_steps"):
    T.train_and_evaluate(c, str(tmp_path))


@pytest.mark.slow
def test_smoke_config_all_methods(tmp_path):
  c = load_config(CONFIG, "smoke")
  res = T.train_and_evaluate(c, str(tmp_path))
  assert set(res["settings"]["citeseer->cora"]) == set(T.METHODS)
