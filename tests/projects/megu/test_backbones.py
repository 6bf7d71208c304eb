"""MEGU backbones (GCN, GAT, GraphSAGE, GIN, SGC): shapes, exact edge deletion through
`edge_weight = 0`, padding invariance, `row_keep`, closed forms on a hand-written 4-node graph,
GAT's masked attention, the `model.name` dispatch and the per-backbone config recipes."""

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
F, C = 5, 3
NAMES = mmodel.BACKBONES
HIDDEN = {"gcn": 6, "gat": 4, "sage": 7, "gin": 6, "sgc": 0}


def _random_graph(seed=0, n=12, p=0.3):
  """Undirected random graph (both directions listed), random non-negative features."""
  rng = np.random.default_rng(seed)
  pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < p]
  s = np.array([i for i, j in pairs] + [j for i, j in pairs], np.int32)
  r = np.array([j for i, j in pairs] + [i for i, j in pairs], np.int32)
  x = rng.random((n, F)).astype(np.float32)
  return x, s, r


def _ga(x, s, r):
  return mmodel.GraphArrays(jnp.asarray(x), jnp.asarray(s), jnp.asarray(r))


def _params(name, seed=0):
  return mmodel.init_backbone(name, _key(seed), F, C, HIDDEN[name])


@functools.lru_cache(maxsize=None)
def _apply(name, train=False):
  return jax.jit(functools.partial(mmodel.backbone_apply, name, train=train, dropout=0.5))


def _deletion(s, r, num_pairs, seed=1):
  """Weights deleting `num_pairs` undirected edges (both directions), incl. every edge of
  node 0 (so one node loses all its neighbours)."""
  rng = np.random.default_rng(seed)
  und = np.flatnonzero(s < r)
  drop = set(rng.choice(und, num_pairs, replace=False).tolist())
  drop |= set(np.flatnonzero((s == 0) | (r == 0)).tolist())
  w = np.ones(len(s), np.float32)
  for e in list(drop):
    w[e] = 0.0
    w[np.flatnonzero((s == r[e]) & (r == s[e]))] = 0.0
  return w


# ---------------------------------------------------------------------------- shapes

@pytest.mark.parametrize("name", NAMES)
def test_shapes_dtypes_and_dropout(name):
  x, s, r = _random_graph()
  p = _params(name)
  chex.assert_type(jax.tree.leaves(p), jnp.float32)
  out = _apply(name)(p, _ga(x, s, r), jnp.ones(len(s)), None)
  chex.assert_shape(out, (len(x), C))
  chex.assert_type(out, jnp.float32)
  chex.assert_tree_all_finite(out)
  a = _apply(name, True)(p, _ga(x, s, r), jnp.ones(len(s)), None, rng=_key(1))
  b = _apply(name, True)(p, _ga(x, s, r), jnp.ones(len(s)), None, rng=_key(1))
  np.testing.assert_array_equal(a, b)
  if name == "sgc":  # no dropout in SGC: train mode is eval mode
    np.testing.assert_allclose(a, out, rtol=1e-6)
  else:
    assert not np.allclose(a, out)


def test_param_shapes_follow_official_layers():
  shapes = lambda name, h: jax.tree.map(jnp.shape, mmodel.init_backbone(name, _key(0), 10, 4, h))
  assert shapes("gat", 8) == {"w0": (10, 64), "att_src0": (8, 8), "att_dst0": (8, 8),
                              "w1": (64, 4), "att_src1": (1, 4), "att_dst1": (1, 4)}
  assert shapes("sage", 16) == {"wl0": (10, 16), "bl0": (16,), "wr0": (10, 16),
                                "wl1": (16, 4), "bl1": (4,), "wr1": (16, 4)}
  assert shapes("gin", 32) == {"w0": (10, 32), "w1": (32, 4)}
  assert shapes("sgc", 32) == {"w": (10, 4)}
  assert shapes("gcn", 32) == {"w0": (10, 32), "w1": (32, 4)}
  # PyTorch Linear default init U(±1/sqrt(fan_in)) for GIN / SGC / SAGE.
  assert float(jnp.abs(mmodel.init_backbone("sgc", _key(0), 100, 4, 0)["w"]).max()) <= 0.1


# ---------------------------------------------------------------------------- edge deletion

@pytest.mark.parametrize("name", NAMES)
def test_edge_weight_zero_equals_graph_without_those_edges(name):
  x, s, r = _random_graph(seed=2)
  w = _deletion(s, r, 4)
  assert 0 < (w == 0).sum() < len(w) and (w[(s == 0) | (r == 0)] == 0).all()
  kept = w > 0
  p = _params(name, seed=3)
  full = _apply(name)(p, _ga(x, s, r), jnp.asarray(w), None)
  small = _apply(name)(p, _ga(x, s[kept], r[kept]), jnp.ones(int(kept.sum())), None)
  np.testing.assert_allclose(full, small, rtol=1e-5, atol=1e-6)
  # ... and it is a real edit: the output changes where the edges were.
  assert not np.allclose(full, _apply(name)(p, _ga(x, s, r), jnp.ones(len(s)), None))
  # Gradients w.r.t. the parameters agree too (what training on an edited graph sees).
  grad = jax.jit(jax.grad(lambda pp, g, ww: jnp.sum(jnp.sin(
      mmodel.backbone_apply(name, pp, g, ww)))))
  gf = grad(p, _ga(x, s, r), jnp.asarray(w))
  gs = grad(p, _ga(x, s[kept], r[kept]), jnp.ones(int(kept.sum())))
  chex.assert_tree_all_finite(gf)
  chex.assert_trees_all_close(gf, gs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["gcn", "sage", "gin", "sgc"])
def test_edge_deletion_exact_in_train_mode(name):
  """Node-level dropout masks have the same shape on both graphs, so train mode matches too
  (GAT's attention dropout is per edge, so its masks differ between the two edge lists)."""
  x, s, r = _random_graph(seed=4)
  w = _deletion(s, r, 3)
  kept = w > 0
  p = _params(name)
  full = _apply(name, True)(p, _ga(x, s, r), jnp.asarray(w), None, rng=_key(5))
  small = _apply(name, True)(p, _ga(x, s[kept], r[kept]), jnp.ones(int(kept.sum())), None,
                             rng=_key(5))
  np.testing.assert_allclose(full, small, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- padding

@pytest.mark.parametrize("name", NAMES)
def test_padding_invariance(name):
  """Extra padding nodes (non-zero features) and padding edges among them, weight 0 (as the
  pipeline passes `edge_mask`) or 1, leave every real node's output unchanged."""
  x, s, r = _random_graph(seed=6, n=10)
  n = len(x)
  p = _params(name)
  w = _deletion(s, r, 2)
  ref = np.asarray(_apply(name)(p, _ga(x, s, r), jnp.asarray(w), None))
  rng = np.random.default_rng(0)
  for pad_nodes, pad_w in ((3, 0.0), (6, 1.0)):
    xp = np.concatenate([x, rng.random((pad_nodes, F)).astype(np.float32)])
    ps = n + rng.integers(0, pad_nodes, 8)
    pr = n + rng.integers(0, pad_nodes, 8)
    sp = np.concatenate([s, ps]).astype(np.int32)
    rp = np.concatenate([r, pr]).astype(np.int32)
    wp = np.concatenate([w, np.full(8, pad_w, np.float32)])
    keep = np.ones(n + pad_nodes, np.float32)
    out = _apply(name)(p, _ga(xp, sp, rp), jnp.asarray(wp), jnp.asarray(keep))
    np.testing.assert_allclose(np.asarray(out)[:n], ref, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- row_keep

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("train", [False, True])
def test_row_keep_equals_zeroed_feature_rows(name, train):
  x, s, r = _random_graph(seed=7)
  keep = np.ones(len(x), np.float32)
  keep[[1, 5]] = 0.0
  x0 = x * keep[:, None]
  p = _params(name)
  w = jnp.ones(len(s))
  a = _apply(name, train)(p, _ga(x, s, r), w, jnp.asarray(keep), rng=_key(2))
  b = _apply(name, train)(p, _ga(x0, s, r), w, None, rng=_key(2))
  np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
  assert not np.allclose(a, _apply(name, train)(p, _ga(x, s, r), w, None, rng=_key(2)))


# ---------------------------------------------------------------------------- closed forms

# Hand-written toy graph: edges 0-1, 1-2, 2-3, 1-3; the request deletes 1-3.
S4 = np.array([0, 1, 1, 2, 2, 3, 1, 3], np.int32)
R4 = np.array([1, 0, 2, 1, 3, 2, 3, 1], np.int32)
A4 = np.array([[0, 1, 0, 0],
               [1, 0, 1, 1],
               [0, 1, 0, 1],
               [0, 1, 1, 0]], np.float64)
A4_DEL = np.array([[0, 1, 0, 0],
                   [1, 0, 1, 0],
                   [0, 1, 0, 1],
                   [0, 0, 1, 0]], np.float64)
W4_DEL = np.array([1, 1, 1, 1, 1, 1, 0, 0], np.float32)
X4 = np.array([[1.0, 0.0, 2.0, 0.5, 0.0],
               [0.0, 1.0, 0.0, 1.0, 3.0],
               [2.0, 1.0, 1.0, 0.0, 0.0],
               [0.5, 0.0, 0.0, 2.0, 1.0]], np.float32)


def _toy(name, w):
  p = _params(name, seed=11)
  out = _apply(name)(p, _ga(X4, S4, R4), jnp.asarray(w), None)
  return jax.tree.map(lambda a: np.asarray(a, np.float64), p), np.asarray(out)


@pytest.mark.parametrize("a, w", [(A4, np.ones(8, np.float32)), (A4_DEL, W4_DEL)])
def test_sgc_closed_form(a, w):
  p, out = _toy("sgc", w)
  at = a + np.eye(4)
  d = at.sum(1)
  ahat = at / np.sqrt(d)[:, None] / np.sqrt(d)[None, :]
  np.testing.assert_allclose(out, ahat @ ahat @ X4 @ p["w"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("a, w", [(A4, np.ones(8, np.float32)), (A4_DEL, W4_DEL)])
def test_gin_closed_form(a, w):
  p, out = _toy("gin", w)
  m = np.eye(4) + a  # (1 + eps) h_i + sum_j h_j, eps = 0
  ref = m @ np.maximum(m @ X4 @ p["w0"], 0.0) @ p["w1"]
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("a, w", [(A4, np.ones(8, np.float32)), (A4_DEL, W4_DEL)])
def test_sage_closed_form(a, w):
  p, out = _toy("sage", w)
  mean = a / a.sum(1, keepdims=True)
  h = np.maximum(mean @ X4 @ p["wl0"] + p["bl0"] + X4 @ p["wr0"], 0.0)
  ref = mean @ h @ p["wl1"] + p["bl1"] + h @ p["wr1"]
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def _gat_layer_np(h, a_src, a_dst, adj):
  """Dense GAT layer: h [N, heads, out]; attention over {j: adj[i, j]} ∪ {i}."""
  n, heads, _ = h.shape
  out = np.zeros_like(h)
  for i in range(n):
    nb = [j for j in range(n) if adj[i, j] > 0 and j != i] + [i]
    for k in range(heads):
      e = np.array([(h[j, k] @ a_src[k]) + (h[i, k] @ a_dst[k]) for j in nb])
      e = np.where(e > 0, e, 0.2 * e)
      al = np.exp(e - e.max())
      al /= al.sum()
      out[i, k] = sum(al[t] * h[j, k] for t, j in enumerate(nb))
  return out


@pytest.mark.parametrize("a, w", [(A4, np.ones(8, np.float32)), (A4_DEL, W4_DEL)])
def test_gat_closed_form(a, w):
  p, out = _toy("gat", w)
  heads, hid = p["att_src0"].shape
  h = _gat_layer_np((X4 @ p["w0"]).reshape(4, heads, hid), p["att_src0"], p["att_dst0"], a)
  h = h.reshape(4, heads * hid)
  h = np.where(h > 0, h, np.expm1(h))  # ELU
  h = _gat_layer_np((h @ p["w1"]).reshape(4, 1, C), p["att_src1"], p["att_dst1"], a)
  np.testing.assert_allclose(out, h.mean(1), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- GAT attention

def test_gat_attention_is_exactly_zero_on_masked_edges():
  x, s, r = _random_graph(seed=8)
  w = _deletion(s, r, 4)
  p = _params("gat")
  g = _ga(x, s, r)
  n = len(x)
  heads, hid = p["att_src0"].shape
  h = (g.x @ p["w0"]).reshape(n, heads, hid) * 30.0  # large logits: masked ones would dominate
  es, er, keep = mmodel.gat_edges(g, jnp.asarray(w))
  assert len(es) == len(s) + n and bool(keep[len(s):].all())
  alpha = np.asarray(jax.jit(mmodel.gat_attention)(h, p["att_src0"], p["att_dst0"], es, er,
                                                   keep))
  chex.assert_shape(alpha, (len(s) + n, heads))
  masked = np.concatenate([w == 0, np.zeros(n, bool)])
  assert (alpha[masked] == 0.0).all()  # exactly zero, not small
  assert (alpha[~masked] > 0).all()
  sums = np.zeros((n, heads))
  np.add.at(sums, np.asarray(er), alpha)
  np.testing.assert_allclose(sums, 1.0, rtol=1e-5)
  # Node 0 lost every neighbour: all its attention sits on its self-loop.
  np.testing.assert_allclose(alpha[len(s) + 0], 1.0, rtol=1e-6)
  # Gradients stay finite with masked edges (no inf/NaN through the masked exp).
  gr = jax.jit(jax.grad(lambda pp: jnp.sum(mmodel.gat_apply(pp, g, jnp.asarray(w)))))(p)
  chex.assert_tree_all_finite(gr)


def test_gat_drops_listed_self_loops_as_pyg():
  """PyG GATConv removes the edge list's own self-loops and adds one per node: a listed loop
  gives the same output as none."""
  x, s, r = _random_graph(seed=9)
  p = _params("gat")
  base = _apply("gat")(p, _ga(x, s, r), jnp.ones(len(s)), None)
  s2 = np.concatenate([s, [2, 5]]).astype(np.int32)
  r2 = np.concatenate([r, [2, 5]]).astype(np.int32)
  with_loops = _apply("gat")(p, _ga(x, s2, r2), jnp.ones(len(s2)), None)
  np.testing.assert_allclose(with_loops, base, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- dispatch / config

def test_gcn_dispatch_is_gcn_apply():
  x, s, r = _random_graph(seed=10)
  p = mmodel.init_gcn(_key(0), F, C, 6)
  chex.assert_trees_all_equal(mmodel.init_backbone("gcn", _key(0), F, C, 6), p)
  w = jnp.ones(len(s))
  keep = jnp.ones(len(x)).at[2].set(0.0)
  for train in (False, True):
    a = mmodel.backbone_apply("gcn", p, _ga(x, s, r), w, keep, rng=_key(1), train=train)
    b = mmodel.gcn_apply(p, _ga(x, s, r), w, keep, rng=_key(1), train=train)
    np.testing.assert_array_equal(a, b)


def test_bad_backbone_name_lists_valid_names(tmp_path):
  with pytest.raises(ValueError, match="valid: gcn, gat, sage, gin, sgc"):
    mmodel.init_backbone("gatt", _key(0), F, C, 8)
  with pytest.raises(ValueError, match="valid: gcn, gat, sage, gin, sgc"):
    load_config("configs/megu/mini.py", "model.name=mlp")
  c = load_config("configs/megu/mini.py", "smoke,data.source=fake")
  with c.unlocked():
    c.model.name = "graphsage"
  with pytest.raises(ValueError, match="valid: gcn, gat, sage, gin, sgc"):
    mtrain.train_and_evaluate(c, tmp_path)
  assert not list(tmp_path.iterdir())  # failed before writing anything


def test_config_backbone_recipes_and_explicit_overrides():
  rec = {name: load_config("configs/megu/mini.py", f"model.name={name}") for name in NAMES}
  got = {n: (c.optim.lr, c.optim.wd, c.model.hidden, c.model.dropout) for n, c in rec.items()}
  assert got == {"gcn": (0.05, 1e-4, 32, 0.5), "gat": (0.01, 1e-4, 8, 0.6),
                 "sage": (0.01, 0.0, 256, 0.5), "gin": (0.01, 1e-3, 32, 0.5),
                 "sgc": (0.05, 0.0, 32, 0.0)}
  # The default config is the GCN recipe; unlearning hyper-parameters do not depend on it.
  base = load_config("configs/megu/mini.py")
  assert (base.model.name, base.optim.lr, base.optim.wd) == ("gcn", 0.05, 1e-4)
  assert all(c.unlearn.hparams.cora == base.unlearn.hparams.cora for c in rec.values())
  # Explicit values win whatever their position in the argument.
  c = load_config("configs/megu/mini.py", "optim.lr=0.3,model.name='gat',model.dropout=0.1")
  assert (c.model.name, c.optim.lr, c.optim.wd, c.model.dropout) == ("gat", 0.3, 1e-4, 0.1)
  d = load_config("configs/megu/default.py", "smoke,model.name=sage,optim.wd=0.5")
  assert (d.model.hidden, d.optim.lr, d.optim.wd, d.num_seeds) == (256, 0.01, 0.5, 2)


# ---------------------------------------------------------------------------- training

@pytest.mark.parametrize("name", ["gat", "sage", "gin", "sgc"])
def test_backbone_trains_and_unlearns(name):
  x, s, r = _random_graph(seed=12, n=40, p=0.1)
  labels = jnp.asarray(np.argmax(x[:, :C], 1))
  g = _ga(x, s, r)
  w = jnp.ones(len(s))
  mask = jnp.ones(len(x), bool)
  p0 = mmodel.init_backbone(name, _key(0), F, C, 16)
  lr = {"gat": 0.01, "sage": 0.01, "gin": 0.01, "sgc": 0.05}[name]  # the official lr's
  p, losses = jax.jit(functools.partial(
      method.train_supervised, num_epochs=60, lr=lr, wd=0.0, dropout=0.0, backbone=name))(
          p0, g, w, None, labels, mask, _key(1))
  assert float(losses[-1]) < 0.9 * float(losses[0])
  logits = mmodel.backbone_apply(name, p, g, w)
  assert float(method.masked_accuracy(logits, labels, mask)) > 0.5  # chance: 1/3
  u = jnp.zeros(len(x), bool).at[:4].set(True)
  y_hat = jnp.argmax(logits, -1)
  phi = mmodel.init_unlearning_module(_key(2), C)
  th, _, l = jax.jit(functools.partial(
      method.megu_unlearn, num_epochs=3, lr=0.05, kappa=0.01, temperature=1.5, dropout=0.5,
      backbone=name))(p, phi, g, w, None, u, ~u, y_hat, _key(3))
  chex.assert_trees_all_equal_shapes(th, p)
  assert np.isfinite(np.asarray(l)).all()
  assert any(float(jnp.abs(a - b).max()) > 0 for a, b in zip(jax.tree.leaves(th),
                                                                jax.tree.leaves(p)))


def test_smoke_run_with_another_backbone(tmp_path):
  c = load_config("configs/megu/mini.py",
                  "smoke,model.name=gat,data.source=fake,rng_impl=unsafe_rbg,num_seeds=1,"
                  "train.num_epochs=3,unlearn.num_epochs=2,unlearn.finetune_epochs=2,"
                  "unlearn.cs_steps=2,unlearn.hin_feature_chunk=0")
  res = mtrain.train_and_evaluate(c, tmp_path)
  assert res["backbone"] == {"name": "gat", "hidden": 8, "dropout": 0.6, "lr": 0.01,
                             "wd": 1e-4}
  assert not res["gnndelete_ran"]  # implemented for GCN only: its cells are None
  for kind in c.unlearn.kinds:
    for m in mtrain.METHODS:
      cell = res["datasets"]["cora"]["results"][kind][m]
      if m == "gnndelete":
        assert cell is None
        continue
      assert 0.0 <= cell["mean"] <= 100.0
