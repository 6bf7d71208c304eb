"""MEGU's GIF baseline: the LiSSA recursion against dense Hessian algebra, its fixed point
against a direct solve, the loss masks in closed form, the no-op request, and the ratio sweep
stage (cached per ratio, plotted)."""

import functools
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxlab.configs import load_config
from jaxlab.data import graphs as dgraphs
from jaxlab.projects.megu import method
from jaxlab.projects.megu import model as mmodel
from jaxlab.projects.megu import train as mtrain

REPO = pathlib.Path(__file__).resolve().parents[3]

_key = functools.partial(jax.random.key, impl="unsafe_rbg")
C = 3


def _problem(backbone="gcn", n=24, f=5, seed=0):
  """A small random graph, a trained-ish model and an edge request (weights of 4 edges to 0)."""
  rng = np.random.default_rng(seed)
  pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.2]
  s = np.array([i for i, j in pairs] + [j for i, j in pairs], np.int32)
  r = np.array([j for i, j in pairs] + [i for i, j in pairs], np.int32)
  x = rng.random((n, f)).astype(np.float32)
  labels = jnp.asarray(np.argmax(x[:, :C], 1).astype(np.int32))
  g = mmodel.GraphArrays(jnp.asarray(x), jnp.asarray(s), jnp.asarray(r))
  theta = mmodel.init_backbone(backbone, _key(seed), f, C, 4)
  train = jnp.asarray(rng.random(n) < 0.7)
  w0 = jnp.ones(len(s), jnp.float32)
  w = w0.at[jnp.asarray([0, 1, len(pairs), len(pairs) + 1])].set(0.0)
  u = jnp.zeros(n, bool).at[jnp.asarray(s[[0, 1]])].set(True).at[jnp.asarray(r[[0, 1]])].set(True)
  return theta, g, labels, train, w0, w, u


def _dense(theta, g, labels, train, m1, m2, w0, w, keep, backbone):
  """v and the dense Hessian of the full train sum-CE on the flattened parameters."""
  flat, unravel = ravel_pytree(theta)

  def loss(p, ew, rk, mask):
    return method.sum_ce(mmodel.backbone_apply(backbone, unravel(p), g, ew, rk), labels, mask)

  v = jax.grad(loss)(flat, w0, None, m1) - jax.grad(loss)(flat, w, keep, m2)
  h = jax.hessian(loss)(flat, w0, None, train)
  return np.asarray(flat, np.float64), np.asarray(v, np.float64), np.asarray(h, np.float64)


@pytest.mark.parametrize("backbone", ["gcn", "sgc"])
def test_gif_recursion_matches_dense_hessian_algebra(backbone):
  theta, g, labels, train, w0, w, u = _problem(backbone)
  m1, m2 = method.gif_masks(u, g.senders, g.receivers, w0, train, train, 2)
  keep = jnp.ones(g.x.shape[0], jnp.float32)
  new, stats = jax.jit(functools.partial(method.gif_unlearn, iterations=5, scale=50.0, damp=0.1,
                                         backbone=backbone))(
      theta, g, labels, train, m1, m2, w0, w, keep)
  flat, v, hess = _dense(theta, g, labels, train, m1, m2, w0, w, keep, backbone)
  assert np.linalg.norm(v) > 1e-3  # the request changes the loss
  h = v.copy()
  for _ in range(5):
    h = v + 0.9 * h - hess @ h / 50.0
  got = np.asarray(ravel_pytree(new)[0], np.float64)
  np.testing.assert_allclose(got, flat + h / 50.0, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(float(stats["v_norm"]), np.linalg.norm(v), rtol=1e-4)
  np.testing.assert_allclose(float(stats["step_norm"]), np.linalg.norm(h) / 50.0, rtol=1e-4)


def test_gif_fixed_point_is_the_damped_newton_step():
  """`h / scale → (H + damp·scale·I)⁻¹ v` when the recursion converges (SGC: convex CE)."""
  theta, g, labels, train, w0, w, u = _problem("sgc")
  m1, m2 = method.gif_masks(u, g.senders, g.receivers, w0, train, train, 2)
  keep = jnp.ones(g.x.shape[0], jnp.float32)
  flat, v, hess = _dense(theta, g, labels, train, m1, m2, w0, w, keep, "sgc")
  scale = 2.0 * float(np.linalg.eigvalsh(hess).max()) + 1.0
  damp = 0.05 / scale  # damp·scale = 0.05: a ridge that makes the solve well posed
  new, _ = method.gif_unlearn(theta, g, labels, train, m1, m2, w0, w, keep, iterations=3000,
                              scale=scale, damp=damp, backbone="sgc")
  want = flat + np.linalg.solve(hess + 0.05 * np.eye(len(flat)), v)
  np.testing.assert_allclose(np.asarray(ravel_pytree(new)[0]), want, rtol=2e-3, atol=2e-4)


def test_gif_masks_closed_form_on_a_path():
  # Path 0-1-2-3-4-5-6, U = {1}; train = every node but 5; node request: U loses its label.
  n = 7
  s = np.array(list(range(n - 1)) + list(range(1, n)), np.int32)
  r = np.array(list(range(1, n)) + list(range(n - 1)), np.int32)
  u = jnp.zeros(n, bool).at[1].set(True)
  train = jnp.ones(n, bool).at[5].set(False)
  keep = train.at[1].set(False)
  w0 = jnp.ones(len(s), jnp.float32)
  for hops, reach in ((2, {0, 1, 2, 3}), (3, {0, 1, 2, 3, 4})):
    m1, m2 = method.gif_masks(u, jnp.asarray(s), jnp.asarray(r), w0, train, keep, hops)
    assert set(np.flatnonzero(np.asarray(m1))) == reach
    assert set(np.flatnonzero(np.asarray(m2))) == reach - {1}
  # Hops count on the ORIGINAL graph: a zero-weight edge there blocks them.
  m1, _ = method.gif_masks(u, jnp.asarray(s), jnp.asarray(r), w0.at[jnp.asarray([2, 8])].set(0),
                           train, keep, 3)
  assert set(np.flatnonzero(np.asarray(m1))) == {0, 1, 2}


def test_gif_leaves_theta_unchanged_for_an_empty_request():
  theta, g, labels, train, w0, _, _ = _problem()
  u = jnp.zeros(g.x.shape[0], bool)
  m1, m2 = method.gif_masks(u, g.senders, g.receivers, w0, train, train, 2)
  assert not np.asarray(m1).any()
  new, stats = method.gif_unlearn(theta, g, labels, train, m1, m2, w0, w0,
                                  jnp.ones(g.x.shape[0]), iterations=5, scale=50.0)
  assert float(stats["v_norm"]) == 0.0
  jax.tree.map(np.testing.assert_array_equal, new, theta)


def test_request_kind_id_picks_gif_hops():
  x = np.random.default_rng(0).random((30, 4)).astype(np.float32)
  s = np.arange(29, dtype=np.int32)
  s, r = np.concatenate([s, s + 1]), np.concatenate([s + 1, s])
  m = np.zeros(30, bool)
  gd = dgraphs.make_graph_data(x, s, r, np.zeros(30, np.int32), m, m, m, 2)
  c = load_config("configs/megu/mini.py", "smoke")
  reqs = mtrain.make_requests(gd, c, [0], list(method.KINDS))
  assert np.asarray(reqs["kind_id"]).tolist() == [0, 1, 2]
  assert dict(c.gif.hops) == {"feature": 2, "node": 3, "edge": 2}


def test_ratio_sweep_stage_runs_caches_and_plots(tmp_path):
  c = load_config("configs/megu/mini.py",
                  "smoke,data.source=fake,rng_impl=unsafe_rbg,num_seeds=1,train.num_epochs=3,"
                  "unlearn.num_epochs=2,unlearn.finetune_epochs=2,unlearn.cs_steps=2,"
                  "unlearn.hin_feature_chunk=0,sweep.enabled=True,sweep.ratios=(0.1,0.3),"
                  "data.names=()")
  res = mtrain.train_and_evaluate(c, tmp_path)
  sw = res["sweep"]
  assert sw["ratios"] == [0.1, 0.3] and set(sw["table"]) == set(c.unlearn.kinds)
  for kind, cell in sw["table"].items():
    assert set(cell) == set(mtrain.METHODS)
    assert all(len(cell[m]["mean"]) == 2 for m in cell)
  assert (tmp_path / "ratio_sweep.png").stat().st_size > 10_000
  for ratio in ("0.1", "0.3"):
    assert (tmp_path / f"sweep_cora_{ratio}.json").exists()
  for kind in c.unlearn.kinds:  # the same split, a larger request
    assert sw["num_u"][kind][0] < sw["num_u"][kind][1]
  small = (tmp_path / "sweep_cora_0.1.json").read_text()
  again = mtrain.train_and_evaluate(c, tmp_path)  # resumes from the per-ratio caches
  assert again["sweep"]["table"] == sw["table"]
  assert (tmp_path / "sweep_cora_0.1.json").read_text() == small


def test_top_eigenvalue_closed_form():
  d = {"a": jnp.asarray([1.0, -3.0, 2.0]), "b": jnp.asarray([[0.5, 7.0]])}
  hvp = lambda t: jax.tree.map(jnp.multiply, d, t)  # diagonal operator, eigenvalues = entries
  assert abs(float(method.top_eigenvalue(hvp, d, 200)) - 7.0) < 1e-4
  d["b"] = d["b"].at[0, 1].set(-9.0)  # the largest MAGNITUDE, sign kept
  assert abs(float(method.top_eigenvalue(hvp, d, 200)) + 9.0) < 1e-4


def test_gif_autoscale_uses_the_top_hessian_eigenvalue():
  theta, g, labels, train, w0, w, u = _problem("gcn")
  m1, m2 = method.gif_masks(u, g.senders, g.receivers, w0, train, train, 2)
  keep = jnp.ones(g.x.shape[0], jnp.float32)
  flat, v, hess = _dense(theta, g, labels, train, m1, m2, w0, w, keep, "gcn")
  lam = np.abs(np.linalg.eigvalsh(hess)).max()
  kw = dict(iterations=5, damp=0.0, backbone="gcn")
  new, stats = method.gif_unlearn(theta, g, labels, train, m1, m2, w0, w, keep, scale=1e-3,
                                  power_iters=300, **kw)
  np.testing.assert_allclose(float(stats["scale"]), lam, rtol=1e-3)
  h = v.copy()
  for _ in range(5):
    h = v + h - hess @ h / lam
  np.testing.assert_allclose(np.asarray(ravel_pytree(new)[0]), flat + h / lam, rtol=1e-3,
                             atol=1e-4)
  # A scale already above |λ_max| is kept.
  _, stats = method.gif_unlearn(theta, g, labels, train, m1, m2, w0, w, keep,
                                scale=10 * lam, power_iters=300, **kw)
  np.testing.assert_allclose(float(stats["scale"]), 10 * lam, rtol=1e-6)


def test_plot_sweep_draws_a_committed_sweep_saved_before_gnndelete(tmp_path):
  """The notebook plots results/megu/mini.json's sweep, written before GNNDelete existed: a
  method absent from a saved table is skipped, not a KeyError."""
  sweep = json.loads((REPO / "results/megu/mini.json").read_text())["sweep"]
  assert "gnndelete" not in sweep["table"]["edge"]
  mtrain.plot_sweep(sweep, tmp_path / "sweep.png")
  assert (tmp_path / "sweep.png").stat().st_size > 10_000
