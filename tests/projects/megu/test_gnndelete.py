"""MEGU's GNNDelete baseline: shapes, the deletion operator's locality (identity outside the
enclosing subgraph, θ0 frozen), the subgraph masks and each loss term in closed form, the
layer-wise gradient routing, negative pairs, padding invariance, a short run that lowers the
loss, config errors and the grid wiring (None for feature requests / other backbones)."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.configs import load_config
from jaxlab.projects.megu import method
from jaxlab.projects.megu import model as mmodel
from jaxlab.projects.megu import train as mtrain

_key = functools.partial(jax.random.key, impl="unsafe_rbg")
C, H = 3, 4


def _graph(n=20, f=5, seed=0, p=0.2):
  rng = np.random.default_rng(seed)
  pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < p]
  s = np.array([i for i, j in pairs] + [j for i, j in pairs], np.int32)
  r = np.array([j for i, j in pairs] + [i for i, j in pairs], np.int32)
  x = rng.random((n, f)).astype(np.float32)
  return x, s, r, len(pairs)


def _problem(n=20, seed=0, deleted=(0, 1)):
  """Graph, θ, w0 and an edge request deleting undirected edges `deleted` (both directions)."""
  x, s, r, m = _graph(n, seed=seed)
  g = mmodel.GraphArrays(jnp.asarray(x), jnp.asarray(s), jnp.asarray(r))
  theta = mmodel.init_gcn(_key(seed), x.shape[1], C, H)
  w0 = jnp.ones(len(s), jnp.float32)
  idx = np.concatenate([np.asarray(deleted), np.asarray(deleted) + m])
  w = w0.at[jnp.asarray(idx)].set(0.0)
  return theta, g, w0, w, jnp.ones(n, bool)


def _path(n=8):
  s = np.array(list(range(n - 1)) + list(range(1, n)), np.int32)
  r = np.array(list(range(1, n)) + list(range(n - 1)), np.int32)
  return jnp.asarray(s), jnp.asarray(r)


@functools.partial(jax.jit, static_argnames=("num_epochs", "init", "backbone"))
def _jit_run(theta, g, w0, w, valid, lr, alpha, *, num_epochs, init, backbone):
  return method.gnndelete_unlearn(theta, g, w0, w, None, valid, _key(7), num_epochs=num_epochs,
                                  lr=lr, alpha=alpha, init=init, backbone=backbone)


_neg_pairs = jax.jit(method.sample_negative_pairs, static_argnames=("rounds",))
_prepare = jax.jit(lambda theta, g, w0, w, valid: method.gnndelete_prepare(
    theta, g, w0, w, None, valid, _key(7))[0])


def _run(theta, g, w0, w, valid, *, num_epochs=6, lr=1e-2, alpha=0.5, init="ones",
         backbone="gcn"):
  """Jitted, lr and α traced: the tests on `_problem()` share one compilation."""
  return _jit_run(theta, g, w0, w, valid, jnp.float32(lr), jnp.float32(alpha),
                  num_epochs=num_epochs, init=init, backbone=backbone)


def test_shapes_and_dtypes_with_and_without_jit():
  theta, g, w0, w, valid = _problem()
  n = g.x.shape[0]
  ops, logits, st = _run(theta, g, w0, w, valid)
  chex.assert_shape(ops["d0"], (H, H))
  chex.assert_shape(ops["d1"], (C, C))
  chex.assert_shape(logits, (n, C))
  chex.assert_shape(st["loss"], (6,))
  chex.assert_shape((st["dec_last"], st["ni_last"]), (2,))
  chex.assert_type((ops["d0"], ops["d1"], logits, st["loss"]), jnp.float32)
  assert int(st["num_df"]) == 4  # two undirected edges, both directions
  # The pieces without jit (the loop itself is a lax.scan: it always compiles).
  prep = _prepare(theta, g, w0, w, valid)
  _, layer2 = method.gcn_layer_fns(theta, g, w, None)
  z1, z2 = method.gnndelete_apply(ops, prep["h1"], layer2, prep["subs"])
  chex.assert_shape((z1, z2), ((n, H), (n, C)))
  np.testing.assert_allclose(z2, logits, rtol=1e-6, atol=1e-6)
  loss, aux = method.gnndelete_loss(ops, prep, layer2, g.senders, g.receivers, 0.5)
  chex.assert_shape(loss, ())
  np.testing.assert_allclose(loss, st["loss_last"], rtol=1e-5)
  chex.assert_type((prep["df"], prep["ends"], prep["neg_a"]), (bool, bool, jnp.int32))
  init = method.init_deletion_operators((H, C))  # the official torch.ones(d, d) / 1000
  np.testing.assert_array_equal(init["d0"], np.full((H, H), 1e-3, np.float32))
  np.testing.assert_array_equal(method.init_deletion_operators((C,), "identity")["d0"],
                                np.eye(C, dtype=np.float32))


def test_masks_closed_form_on_a_path():
  s, r = _path(8)
  w0 = jnp.ones(s.shape[0], jnp.float32)
  valid = jnp.ones(8, bool)
  w = w0.at[jnp.asarray([2, 9])].set(0.0)  # the undirected edge 2-3
  df, ends, (s1, s2) = method.gnndelete_masks(w0, w, s, r, valid)
  assert set(np.flatnonzero(np.asarray(df))) == {2, 9}
  assert set(np.flatnonzero(np.asarray(ends))) == {2, 3}
  # Hops are counted on the ORIGINAL graph (the deleted edge still connects 2 and 3).
  assert set(np.flatnonzero(np.asarray(s1))) == {1, 2, 3, 4}
  assert set(np.flatnonzero(np.asarray(s2))) == {0, 1, 2, 3, 4, 5}
  # A node request (every edge of node 2): the endpoints are node 2 and its old neighbours.
  w = w0.at[jnp.asarray([1, 2, 8, 9])].set(0.0)
  df, ends, (s1, s2) = method.gnndelete_masks(w0, w, s, r, valid)
  assert set(np.flatnonzero(np.asarray(ends))) == {1, 2, 3}
  assert set(np.flatnonzero(np.asarray(s1))) == {0, 1, 2, 3, 4}
  assert set(np.flatnonzero(np.asarray(s2))) == {0, 1, 2, 3, 4, 5}
  # Feature requests delete no edge: nothing for GNNDelete to act on.
  df, ends, (s1, s2) = method.gnndelete_masks(w0, w0, s, r, valid)
  assert not (np.asarray(df).any() or np.asarray(ends).any() or np.asarray(s2).any())


def test_operator_is_the_identity_outside_the_subgraph():
  theta, g, w0, w, valid = _problem()
  h1, layer2 = method.gcn_layer_fns(theta, g, w, None)
  # Split at its layers, with identity operators: the backbone itself.
  np.testing.assert_allclose(layer2(h1), mmodel.gcn_apply(theta, g, w), rtol=1e-6, atol=1e-6)
  _, _, subs = method.gnndelete_masks(w0, w, g.senders, g.receivers, valid)
  ops = {"d0": jax.random.normal(_key(1), (H, H)), "d1": jax.random.normal(_key(2), (C, C))}
  z1, z2 = method.gnndelete_apply(ops, h1, layer2, subs)
  out1, out2 = ~np.asarray(subs[0]), ~np.asarray(subs[1])
  assert out2.any() and (~out2).any()
  np.testing.assert_array_equal(np.asarray(z1)[out1], np.asarray(h1)[out1])
  np.testing.assert_array_equal(np.asarray(z1)[~out1], np.asarray(h1 @ ops["d0"])[~out1])
  np.testing.assert_array_equal(np.asarray(z2)[out2], np.asarray(layer2(z1))[out2])


def test_theta_stays_frozen_outside_the_subgraph():
  """After a run with a large step the logits outside S^2 are θ0's on the edited graph, bit for
  bit, and inside they are the trained operators on θ0's layers: θ was not trained."""
  theta, g, w0, w, valid = _problem()
  ops, logits, _ = _run(theta, g, w0, w, valid, lr=0.5)
  _, _, subs = method.gnndelete_masks(w0, w, g.senders, g.receivers, valid)
  out = ~np.asarray(subs[1])
  noop = np.asarray(mmodel.gcn_apply(theta, g, w))
  np.testing.assert_allclose(np.asarray(logits)[out], noop[out], rtol=1e-6, atol=1e-6)
  assert np.abs(np.asarray(logits)[~out] - noop[~out]).max() > 1e-2
  h1, layer2 = method.gcn_layer_fns(theta, g, w, None)
  np.testing.assert_array_equal(logits, method.gnndelete_apply(ops, h1, layer2, subs)[1])


def test_layer_loss_closed_form():
  z = jnp.asarray([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5], [2.0, 2.0]])
  z_ref = jnp.asarray([[0.5, 2.0], [1.0, -1.0], [3.0, 1.5], [-1.0, 0.0]])
  senders = jnp.asarray([0, 1, 2, 3, 1])
  receivers = jnp.asarray([1, 0, 3, 2, 2])
  df = jnp.asarray([True, True, False, False, False])      # edge 0-1, both directions
  neg_a = jnp.asarray([2, 3, 0, 0, 0])
  neg_b = jnp.asarray([3, 2, 0, 0, 0])
  ni = jnp.asarray([False, False, True, True])
  loss, dec, nil = method.gnndelete_layer_loss(z, z_ref, df, senders, receivers, neg_a, neg_b,
                                              ni, 0.3)
  zn, rn = np.asarray(z), np.asarray(z_ref)
  # torch.nn.MSELoss()(cat([z[s], z[r]]), cat([z_ref[a], z_ref[b]])) over the deleted edges.
  pos = np.concatenate([zn[[0, 1]], zn[[1, 0]]])
  neg = np.concatenate([rn[[2, 3]], rn[[3, 2]]])
  want_dec = np.mean((pos - neg) ** 2)
  want_ni = np.mean((zn[[2, 3]] - rn[[2, 3]]) ** 2)
  np.testing.assert_allclose(float(dec), want_dec, rtol=1e-6)
  np.testing.assert_allclose(float(nil), want_ni, rtol=1e-6)
  np.testing.assert_allclose(float(loss), 0.3 * want_dec + 0.7 * want_ni, rtol=1e-6)
  # Empty sets give 0, not NaN.
  none = jnp.zeros_like(df)
  _, dec0, ni0 = method.gnndelete_layer_loss(z, z_ref, none, senders, receivers, neg_a, neg_b,
                                            jnp.zeros(4, bool), 0.5)
  assert float(dec0) == 0.0 and float(ni0) == 0.0


def test_each_operator_gets_only_its_own_layers_gradient():
  theta, g, w0, w, valid = _problem()
  prep = _prepare(theta, g, w0, w, valid)
  _, layer2 = method.gcn_layer_fns(theta, g, w, None)
  ops = {"d0": jax.random.normal(_key(1), (H, H)), "d1": jax.random.normal(_key(2), (C, C))}
  alpha = 0.4
  grads = jax.grad(lambda o: method.gnndelete_loss(o, prep, layer2, g.senders, g.receivers,
                                                   alpha)[0])(ops)

  def layer_loss(o, layer):
    z = method.gnndelete_apply(o, prep["h1"], layer2, prep["subs"])[layer]
    return method.gnndelete_layer_loss(z, prep["refs"][layer], prep["df"], g.senders,
                                       g.receivers, prep["neg_a"], prep["neg_b"],
                                       prep["ni_masks"][layer], alpha)[0]

  g1 = jax.grad(layer_loss)(ops, 0)
  g2 = jax.grad(layer_loss)(ops, 1)
  np.testing.assert_allclose(grads["d0"], g1["d0"], rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(grads["d1"], g2["d1"], rtol=1e-5, atol=1e-7)
  assert np.abs(np.asarray(g2["d0"])).max() > 1e-6  # L^2 does depend on d0: it is cut off
  assert np.abs(np.asarray(g1["d1"])).max() == 0.0


def test_negative_pairs_are_non_edges_of_valid_nodes():
  x, s, r, _ = _graph(12, p=0.5)
  n_pad = 16
  s, r = jnp.asarray(s), jnp.asarray(r)
  valid = jnp.arange(n_pad) < 12
  w0 = jnp.ones(s.shape[0], jnp.float32)
  a, b = _neg_pairs(_key(0), s, r, w0, valid, rounds=20)
  a, b = np.asarray(a), np.asarray(b)
  edges = set(zip(np.asarray(s).tolist(), np.asarray(r).tolist()))
  assert a.max() < 12 and b.max() < 12 and np.all(a != b)
  assert not any((i, j) in edges for i, j in zip(a.tolist(), b.tolist()))
  assert len(set(zip(a.tolist(), b.tolist()))) > s.shape[0] // 2  # random, not one pair
  # With no redraw about half of the pairs of this dense graph are edges.
  a0, b0 = _neg_pairs(_key(0), s, r, w0, valid, rounds=0)
  assert any((i, j) in edges for i, j in zip(np.asarray(a0).tolist(), np.asarray(b0).tolist()))


def test_padding_invariance():
  """Extra padded nodes (non-zero features, not valid) and padded edges (weight 0) change no
  real row, no statistic and no loss."""
  theta, g, w0, w, valid = _problem()
  n, e = g.x.shape[0], g.senders.shape[0]
  ops, logits, st = _run(theta, g, w0, w, valid)
  extra_n, extra_e = 5, 7
  rng = np.random.default_rng(1)
  x = jnp.concatenate([g.x, jnp.asarray(rng.random((extra_n, g.x.shape[1])), jnp.float32)])
  ps = jnp.asarray(rng.integers(0, n + extra_n, extra_e), jnp.int32)
  pr = jnp.asarray(rng.integers(0, n + extra_n, extra_e), jnp.int32)
  gp = mmodel.GraphArrays(x, jnp.concatenate([g.senders, ps]), jnp.concatenate([g.receivers, pr]))
  zeros = jnp.zeros(extra_e, jnp.float32)
  vp = jnp.concatenate([valid, jnp.zeros(extra_n, bool)])
  ops_p, logits_p, st_p = _run(theta, gp, jnp.concatenate([w0, zeros]),
                               jnp.concatenate([w, zeros]), vp)
  np.testing.assert_allclose(logits_p[:n], logits, rtol=1e-5, atol=1e-6)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), ops_p, ops)
  np.testing.assert_allclose(st_p["loss"], st["loss"], rtol=1e-5)
  for k in ("num_s1", "num_s2", "num_df"):
    assert int(st_p[k]) == int(st[k])
  a, b = _neg_pairs(_key(4), g.senders, g.receivers, w0, valid)
  ap, bp = _neg_pairs(_key(4), gp.senders, gp.receivers, jnp.concatenate([w0, zeros]), vp)
  np.testing.assert_array_equal(ap[:e], a)
  np.testing.assert_array_equal(bp[:e], b)


def test_short_run_lowers_the_loss():
  # A θ trained a little, so the representations carry signal.
  theta, g, w0, w, valid = _problem(n=30, seed=2)
  labels = jnp.asarray(np.argmax(np.asarray(g.x)[:, :C], 1).astype(np.int32))
  theta, _ = method.train_supervised(theta, g, w0, None, labels, valid, _key(5), num_epochs=30,
                                     lr=0.05, wd=0.0, dropout=0.0)
  _, _, st = _run(theta, g, w0, w, valid, num_epochs=60, lr=1e-2)
  first, last = float(st["loss"][0]), float(st["loss_last"])
  assert np.isfinite(last) and last < 0.8 * first, (first, last)
  assert np.all(np.diff(np.asarray(st["loss"])[10:]) < 1e-4)  # a steady descent


def test_config_errors_and_unsupported_backbone(tmp_path):
  base = load_config("configs/megu/mini.py", "smoke")
  mtrain.check_gnndelete_config(base)
  assert dict(base.gnndelete) == {"enabled": True, "num_epochs": 5, "lr": 1e-3, "alpha": 0.5,
                                  "init": "ones", "neg_rounds": 3}
  assert load_config("configs/megu/mini.py").gnndelete.num_epochs == 1500
  for bad, match in (("gnndelete.num_epochs=0", "num_epochs"), ("gnndelete.lr=0.0", "lr"),
                     ("gnndelete.alpha=1.5", "alpha"), ("gnndelete.init='eye'", "init"),
                     ("gnndelete.neg_rounds=-1", "neg_rounds")):
    c = load_config("configs/megu/mini.py", f"smoke,{bad}")
    with pytest.raises(ValueError, match=match):
      mtrain.check_gnndelete_config(c)
  # train_and_evaluate refuses it before writing anything.
  c = load_config("configs/megu/mini.py", "smoke,data.source=fake,gnndelete.alpha=-0.1")
  with pytest.raises(ValueError, match="alpha"):
    mtrain.train_and_evaluate(c, tmp_path / "bad")
  assert not (tmp_path / "bad").exists()
  with pytest.raises(ValueError, match="init"):
    method.init_deletion_operators((3,), "xavier")
  with pytest.raises(ValueError, match="GNNDelete is implemented"):
    method.check_gnndelete_backbone("gat")
  theta, g, w0, w, valid = _problem()
  with pytest.raises(ValueError, match="GNNDelete is implemented"):
    method.gnndelete_unlearn(theta, g, w0, w, None, valid, _key(0), num_epochs=1, lr=1e-3,
                             alpha=0.5, backbone="sage")
  assert not mtrain.gnndelete_runs(load_config("configs/megu/mini.py", "smoke,model.name=gat"))
  assert not mtrain.gnndelete_runs(load_config("configs/megu/mini.py",
                                               "smoke,gnndelete.enabled=False"))


def _cheap_unlearn_all(self, d, theta0, key, req, hp):
  """Stands in for every other method (the full program is run by the smoke tests)."""
  del self, d, key, req, hp
  out = {m: jnp.float32(0.5) for m in mtrain.METHODS if m != "gnndelete"}
  out.update({s: jnp.float32(1.0) for s in (
      "num_u", "num_hin", "num_khop", "megu_loss_first", "megu_loss_last", "gif_step_norm",
      "gif_autoscale_scale", "gif_autoscale_step_norm")})
  return out, theta0


def test_grid_runs_gnndelete_on_node_and_edge_requests_only(tmp_path, monkeypatch):
  monkeypatch.setattr(mtrain.Pipeline, "unlearn_all", _cheap_unlearn_all)
  c = load_config("configs/megu/mini.py",
                  "smoke,data.source=fake,rng_impl=unsafe_rbg,num_seeds=1,train.num_epochs=3,"
                  "unlearn.num_epochs=2,unlearn.finetune_epochs=2,unlearn.cs_steps=2,"
                  "unlearn.hin_feature_chunk=0,gnndelete.num_epochs=3")
  res = mtrain.train_and_evaluate(c, tmp_path / "on")
  cell = res["datasets"]["cora"]["results"]
  assert res["gnndelete_ran"] and "gnndelete_grid_s" in res["datasets"]["cora"]
  assert cell["feature"]["gnndelete"] is None and cell["feature"]["gnndelete_num_df"] is None
  for kind in mtrain.GNNDELETE_KINDS:
    assert 0.0 <= cell[kind]["gnndelete"]["mean"] <= 100.0
    assert cell[kind]["gnndelete_num_df"] > 0 and cell[kind]["gnndelete_num_s2"] > 0
  with c.unlocked():
    c.gnndelete.enabled = False
  off = mtrain.train_and_evaluate(c, tmp_path / "off")
  assert not off["gnndelete_ran"]
  for kind in c.unlearn.kinds:
    assert off["datasets"]["cora"]["results"][kind]["gnndelete"] is None
