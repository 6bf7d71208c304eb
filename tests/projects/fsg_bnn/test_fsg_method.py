"""FSG estimator: HGS FIFO, packed slow-net, look-ahead gradients (finite differences), step-0
semantics, the weight update against an Adam reference, frozen LRE, the reduction
FSG(fast = 1, slow = 0, alpha = 0) == STE + Adam; the LSTM hypernetworks (MetaQuant-LSTM,
FSG-LSTM): the cell against torch's LSTM equations, the state carried across steps, the reduction
to MetaQuant, look-ahead gradients against finite differences, errors for a state built without
the method."""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxlab.ops.ste import dorefa_scale, dorefa_weight
from jaxlab.projects.fsg_bnn import method as fm

KEY = jax.random.key(0, impl="unsafe_rbg")


def fsg_cfg(**kw):
  c = dict(alpha=0.9, hgs_length=3, expand=4, d_state=4, d_conv=4, fast_hidden=8,
           fast_nonlinear="none", fast_lr=1e-2, slow_lr=1e-3, chunk=64, lookahead=True,
           update_grad="stale", update_uses="fast")
  c.update(kw)
  return ml_collections.ConfigDict(c)


def toy(seed=0):
  """A 2-layer net: x [B, 4] -> tanh(x Wa) Wb + fc/bias; weights Wa [4, 3], Wb [3, 2]."""
  k = jax.random.split(jax.random.PRNGKey(seed), 4)
  weights = {"a/kernel": 0.5 * jax.random.normal(k[0], (4, 3)),
             "fc/kernel": 0.5 * jax.random.normal(k[1], (3, 2))}
  rest = {"fc/bias": jnp.zeros((2,))}
  x = jax.random.normal(k[2], (16, 4))
  y = jax.random.randint(k[3], (16,), 0, 2)

  def apply_fn(wq, rest, bs, images):
    return jnp.tanh(images @ wq["a/kernel"]) @ wq["fc/kernel"] + rest["fc/bias"], bs
  return weights, rest, x, y, apply_fn


def make_state(weights, rest, cfg, seed=1):
  hyper = fm.init_hyper(jax.random.PRNGKey(seed), cfg, len(weights))
  copy = lambda t: jax.tree.map(jnp.copy, t)  # the jitted step donates its state
  return fm.init_state(copy(weights), copy(rest), {}, hyper, cfg)


def test_fifo_keeps_last_L_in_order_and_grows():
  buf = jnp.zeros((3, 2))
  gs = [jnp.full((2,), float(i + 1)) for i in range(5)]
  for t, g in enumerate(gs):
    buf = fm.fifo_append(buf, g)
    k = min(t + 1, 3)
    expect = np.zeros((3, 2))
    expect[3 - k:] = np.stack([np.asarray(v) for v in gs[t + 1 - k:t + 1]])
    np.testing.assert_array_equal(buf, expect)   # oldest first, unfilled rows are zero in front


def test_hgs_sequence_places_embedding_before_valid_rows():
  buf = jnp.arange(1.0, 7.0).reshape(3, 2)   # rows: [1,2] [3,4] [5,6]
  u, mask, reset = fm.hgs_sequence(buf, jnp.asarray(2), jnp.asarray(-9.0), lead=1)
  # lead 1 + slot 0 + 6 values; 2 valid rows -> embedding at 1 + (3 - 2) * 2 = 3.
  np.testing.assert_array_equal(u, [0, 0, 1, -9, 3, 4, 5, 6])
  np.testing.assert_array_equal(mask, [0, 0, 0, 1, 1, 1, 1, 1])
  np.testing.assert_array_equal(reset, [0, 0, 0, 1, 0, 0, 0, 0])
  u0, m0, _ = fm.hgs_sequence(buf, jnp.asarray(0), jnp.asarray(-9.0))
  assert int(m0.sum()) == 1 and float(u0[-1]) == -9.0


def test_packed_slow_net_equals_per_layer_calls():
  cfg = fsg_cfg()
  hyper = fm.init_hyper(jax.random.PRNGKey(3), cfg, 2)
  hgs = {"a": jax.random.normal(KEY, (3, 12)), "b": jax.random.normal(jax.random.fold_in(KEY, 1), (3, 5))}
  for k in (1, 3):
    packed = fm.slow_grads(hyper["slow"], hyper["lre"], hgs, jnp.asarray(k), 16)
    ref = fm.slow_grads_per_layer(hyper["slow"], hyper["lre"], hgs, jnp.asarray(k), 16)
    for name in hgs:
      chex.assert_shape(packed[name], (hgs[name].shape[1],))
      np.testing.assert_allclose(packed[name], ref[name], rtol=1e-5, atol=1e-6)


def test_fast_net_is_elementwise_and_linear_by_default():
  th = fm.init_fast(jax.random.PRNGKey(0), 8)
  x = jnp.linspace(0.0, 1.0, 6).reshape(2, 3)
  out = fm.fast_apply(th, x)
  chex.assert_shape(out, (2, 3))
  np.testing.assert_allclose(out, x * fm.fast_apply(th, jnp.ones(())), rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(out, fm.fast_apply_elementwise(th, x), rtol=1e-5, atol=1e-7)
  g1 = jax.grad(lambda t: (fm.fast_apply(t, x) ** 2).sum())(th)
  g2 = jax.grad(lambda t: (fm.fast_apply_elementwise(t, x) ** 2).sum())(th)
  chex.assert_trees_all_close(g1, g2, rtol=1e-4, atol=1e-7)
  chex.assert_shape(fm.fast_apply(th, x, "relu"), (2, 3))
  with pytest.raises(ValueError, match="fast_nonlinear"):
    fm.fast_apply(th, x, "gelu")


def _filled_state(method, cfg, bits=1):
  """A state at step 2 with random g_prev / w~_prev / HGS / Adam directions."""
  weights, rest, x, y, apply_fn = toy()
  st = make_state(weights, rest, cfg)
  k = jax.random.split(jax.random.PRNGKey(9), 4)
  rnd = lambda kk, t: jax.tree.map(lambda v: jax.random.normal(kk, v.shape), t)
  st = st.replace(step=jnp.asarray(2, jnp.int32), g_prev=rnd(k[0], weights),
                  wt_prev=jax.tree.map(lambda v: jax.random.uniform(k[1], v.shape), weights),
                  dir_prev={"w": rnd(k[2], weights), "r": rnd(k[3], rest)},
                  hgs=jax.tree.map(lambda h: jax.random.normal(k[0], h.shape), st.hgs))
  return st, x, y, apply_fn


def _check_directional_fd(loss_of, h0, g_hyper, parts, *, eps, floor):
  """For each hypernet part: <dL/dpart, v> from the step equals a central finite difference
  of `loss_of` along a random direction v (relative 1e-3; |fd| above `floor`)."""
  for i, part in enumerate(parts):
    v = jax.tree.map(lambda a: jax.random.normal(jax.random.PRNGKey(5 + i), a.shape, a.dtype),
                     h0[part])
    shift = lambda s: {**h0, part: jax.tree.map(lambda a, b: a + s * b, h0[part], v)}
    fd = float((loss_of(shift(eps)) - loss_of(shift(-eps))) / (2 * eps))
    an = float(sum(jnp.vdot(a, b) for a, b in zip(jax.tree.leaves(g_hyper[part]),
                                                   jax.tree.leaves(v))))
    assert abs(fd) > floor, part
    np.testing.assert_allclose(an, fd, rtol=1e-3, err_msg=part)


@pytest.mark.parametrize("method,bits", [("fsg", 32), ("metaquant", 32), ("fsg", 1)])
def test_lookahead_hypernet_gradients_match_finite_differences(method, bits):
  """d loss / d (theta_fast, theta_slow, LRE) from the step equal finite differences of the
  look-ahead loss. The filled HGS makes the slow net's output (and its gradient) non-trivial."""
  cfg = fsg_cfg()
  st, x, y, apply_fn = _filled_state(method, cfg, bits)
  lr = 0.05
  _, grads = fm.make_train_step(method, apply_fn, cfg, bits=bits, with_grads=True)
  _, _, _, g_hyper = grads(st, x, y, lr)
  # The reference loss runs in float64: the LRE's effect on the loss (~1e-7 per unit) is below
  # float32 resolution of a finite difference.
  with jax.enable_x64(True):
    f64 = lambda t: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), t)
    W, h0, g_prev, wt_prev, x = f64((st.weights, st.hyper, st.g_prev, st.wt_prev, x))
    c = {k: dorefa_scale(w) for k, w in W.items()}
    fast_of = lambda h: {k: g_prev[k] * fm.fast_apply(h["fast"], wt_prev[k]) for k in W}
    if method == "fsg":
      hgs = {k: fm.fifo_append(f64(st.hgs[k]), g_prev[k]) for k in W}

      def delta_of(h):
        slow = fm.slow_grads(h["slow"], h["lre"], hgs, jnp.asarray(2), cfg.chunk)
        return {k: cfg.alpha * slow[k].reshape(W[k].shape) + (1 - cfg.alpha) * c[k] * fast_of(h)[k]
                for k in W}
      parts = ("fast", "slow", "lre")
    else:  # MetaQuant: value W - lr dir_prev, gradient through c * fast (the rest held constant)
      const = {k: f64(st.dir_prev["w"][k]) - c[k] * fast_of(h0)[k] for k in W}
      delta_of = lambda h: {k: c[k] * fast_of(h)[k] + const[k] for k in W}
      parts = ("fast",)
    wt0 = {k: W[k] - lr * delta_of(h0)[k] for k in W}
    m0 = {k: jnp.abs(jnp.tanh(v)).max() for k, v in wt0.items()}
    rest = f64({"fc/bias": st.rest["fc/bias"] - lr * st.dir_prev["r"]["fc/bias"]})

    @jax.jit  # one compile for all the perturbed evaluations below
    def loss_of(h):
      wt = {k: W[k] - lr * delta_of(h)[k] for k in W}
      if bits == 32:
        wq = wt
      else:  # STE surrogate: sign at the base point + the linear DoReFa map (max held) around it
        wq = {k: dorefa_weight(wt0[k], 1) + (jnp.tanh(wt[k]) - jnp.tanh(wt0[k])) / m0[k]
              for k in W}
      logits, _ = apply_fn(wq, rest, {}, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    # The check is relative: the LRE's gradient is ~1e-7.
    _check_directional_fd(loss_of, h0, g_hyper, parts, eps=1e-3, floor=1e-9)


def test_step0_updates_nothing_and_records_gq():
  cfg = fsg_cfg()
  weights, rest, x, y, apply_fn = toy()
  st = make_state(weights, rest, cfg)
  w0 = jax.tree.map(np.asarray, (st.weights, st.rest, st.hyper))
  step = fm.make_train_step("fsg", apply_fn, cfg, jit=False)
  st1, m = step(st, x, y, 1e-2)
  chex.assert_trees_all_equal((st1.weights, st1.rest, st1.hyper), w0)
  assert int(st1.step) == 1
  assert all(float(jnp.abs(g).sum()) > 0 for g in jax.tree.leaves(st1.g_prev))
  assert all(float(jnp.abs(h).sum()) == 0 for h in jax.tree.leaves(st1.hgs))
  st2, _ = step(st1, x, y, 1e-2)
  assert not np.allclose(st2.weights["a/kernel"], w0[0]["a/kernel"])
  # HGS after step 1 holds g_q of step 0 as its newest row.
  for k in weights:
    np.testing.assert_array_equal(st2.hgs[k][-1], np.asarray(st1.g_prev[k]).reshape(-1))


@pytest.mark.parametrize("update_grad", ["stale", "current"])
def test_weight_update_is_adam_of_c_times_fast_gradient(update_grad):
  """One step from a started state: W <- W - lr AdamDir(c(W) g_q FastNet(w~)), with (g_q, w~) of
  the previous step ('stale', the default, as the code) or of this step ('current')."""
  cfg = fsg_cfg(update_grad=update_grad)
  st, x, y, apply_fn = _filled_state("fsg", cfg)
  # A used Adam state: Adam's first step is ~sign(g), blind to c and to the gradient's scale.
  k = jax.random.split(jax.random.PRNGKey(11), 2)
  adam = optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8)
  tree = {"w": st.weights, "r": st.rest}
  mu = jax.tree.map(lambda v: 0.02 * jax.random.normal(k[0], v.shape), tree)
  nu = jax.tree.map(lambda v: 1e-3 * jax.random.uniform(k[1], v.shape, minval=0.5, maxval=1.5),
                    tree)
  st = st.replace(opt=adam.init(tree)._replace(count=jnp.asarray(2, jnp.int32), mu=mu, nu=nu))
  lr = 0.05
  step = fm.make_train_step("fsg", apply_fn, cfg)
  st1, _ = step(jax.tree.map(jnp.copy, st), x, y, lr)   # the step donates its input
  # 'current' reads this step's g_q and w~, which the step records as g_prev / wt_prev.
  g, wt = (st.g_prev, st.wt_prev) if update_grad == "stale" else (st1.g_prev, st1.wt_prev)
  th = st.hyper["fast"]   # the fast net before this step's hypernetwork update
  g_w = {}
  for name, w in st.weights.items():
    t = jnp.tanh(w)
    c = (1 - t * t) / jnp.abs(t).max()
    fast = (wt[name].reshape(-1, 1) @ th["w1"] @ th["w2"] @ th["w3"]).reshape(w.shape)
    g_w[name] = c * g[name] * fast
  dirs, _ = adam.update({"w": g_w, "r": jax.tree.map(jnp.zeros_like, st.rest)}, st.opt)
  expect = {name: st.weights[name] - lr * dirs["w"][name] for name in st.weights}
  chex.assert_trees_all_close(st1.weights, expect, rtol=1e-5, atol=1e-6)


def test_nolre_keeps_embedding_frozen_and_fsg_trains_it():
  cfg = fsg_cfg()
  weights, rest, x, y, apply_fn = toy()
  out = {}
  for method in ("fsg", "fsg_nolre"):
    st = make_state(weights, rest, cfg)
    lre0 = np.asarray(st.hyper["lre"])
    step = fm.make_train_step(method, apply_fn, cfg)
    for _ in range(3):
      st, _ = step(st, x, y, 1e-2)
    out[method] = np.abs(np.asarray(st.hyper["lre"]) - lre0).max()
  assert out["fsg_nolre"] == 0.0
  assert out["fsg"] > 0.0


def test_reduction_fsg_with_trivial_hypernets_is_ste_adam_bit_for_bit():
  """FastNet == 1, slow == 0, alpha = 0, no look-ahead and the current gradient: the FSG step
  machinery (quantiser, c, Adam direction + SGD step, state plumbing) must give STE + Adam.

  Covers only the path lookahead=False, update_grad='current' (W's update from this step's g_q);
  the slow net and alpha take no part in it, and FastNet == 1 hides the fast gain. The default
  path (look-ahead on, update_grad='stale') is checked against an Adam reference by
  test_weight_update_is_adam_of_c_times_fast_gradient."""
  cfg = fsg_cfg(alpha=0.0, lookahead=False, update_grad="current")
  weights, rest, x, y, apply_fn = toy()
  ste, grads = fm.make_train_step("ste", apply_fn, cfg, with_grads=True)
  fsg = fm.make_train_step("fsg", apply_fn, cfg, fast_fn=lambda th, w: jnp.ones_like(w),
                           slow_fn=lambda th, lre, hgs, k: jax.tree.map(
                               lambda h: jnp.zeros(h.shape[1:]), hgs))
  a = make_state(weights, rest, cfg)
  b = make_state(weights, rest, cfg)
  for t, lr in enumerate([1e-2, 1e-2, 5e-3, 5e-3, 1e-3]):
    xb = x + 0.1 * jax.random.normal(jax.random.fold_in(KEY, t), x.shape)
    # STE's weight gradient c * dL/dW_q equals autodiff through dorefa_weight (the STE) ...
    _, g_wq, g_rest, _ = grads(a, xb, y, lr)

    def loss(w, r):
      wq = {kk: dorefa_weight(v, 1) for kk, v in w.items()}
      return optax.softmax_cross_entropy_with_integer_labels(apply_fn(wq, r, {}, xb)[0], y).mean()
    gw, gr = jax.grad(loss, argnums=(0, 1))(a.weights, a.rest)
    chex.assert_trees_all_close({k: dorefa_scale(a.weights[k]) * g_wq[k] for k in gw}, gw,
                                rtol=1e-5, atol=1e-7)
    chex.assert_trees_all_close(g_rest, gr, rtol=1e-5, atol=1e-7)
    # ... and the FSG step with trivial hypernetworks reproduces it bit for bit.
    a, ma = ste(a, xb, y, lr)
    b, mb = fsg(b, xb, y, lr)
    assert float(ma["loss"]) == float(mb["loss"])
    chex.assert_trees_all_equal((a.weights, a.rest, a.opt), (b.weights, b.rest, b.opt))
  assert int(a.step) == 5


def test_unknown_method_and_bad_update_grad():
  weights, rest, x, y, apply_fn = toy()
  with pytest.raises(ValueError, match="unknown estimator"):
    fm.make_train_step("bop", apply_fn, fsg_cfg())
  with pytest.raises(ValueError, match="update_grad"):
    fm.make_train_step("fsg", apply_fn, fsg_cfg(update_grad="later"))
  # The 'current' update has no slow grad: combining it must be refused, not silently dropped.
  with pytest.raises(ValueError, match="combined"):
    fm.make_train_step("fsg_combined", apply_fn, fsg_cfg(update_grad="current"))
  with pytest.raises(ValueError, match="combined"):
    fm.make_train_step("fsg", apply_fn, fsg_cfg(update_grad="current", update_uses="combined"))


@pytest.mark.parametrize("method, part, lr", [
    ("metaquant", "fast", 1e-3), ("fsg", "fast", 1e-2),
    ("metaquant_lstm", "lstm", 1e-3), ("fsg_lstm", "lstm", 2e-3)])
def test_hypernets_have_their_own_learning_rates(method, part, lr):
  """Adam's first step moves every parameter with a nonzero gradient by lr: MetaQuant's fast net
  by `metaquant_lr` (the official MultiFC meta-optimizer's 1e-3), FSG's by `fast_lr`; the LSTM
  at the code's meta lr as MetaQuant's only net, at the slow-net's lr in FSG-LSTM."""
  cfg = fsg_cfg(metaquant_lr=1e-3, slow_lr=2e-3)
  tx = fm._hyper_txs(cfg, method)[part]
  init = {"fast": lambda k: fm.init_fast(k, 8), "lstm": lambda k: fm.init_lstm(k, 3)}[part]
  theta = init(jax.random.PRNGKey(0))
  g = jax.tree.map(lambda a: jnp.full_like(a, 0.3), theta)
  upd, _ = tx.update(g, tx.init(theta), theta)
  for u in jax.tree.leaves(upd):
    np.testing.assert_allclose(np.abs(np.asarray(u)), lr, rtol=1e-4)


# ----------------------------------------------------------------------------- LSTM hypernets

def _np_lstm(th, x, h, c):
  """torch.nn.LSTM's equations, one step, in float64 numpy (gate order i, f, g, o)."""
  th = {k: np.asarray(v, np.float64) for k, v in th.items()}
  sig = lambda v: 1.0 / (1.0 + np.exp(-v))
  hid = h.shape[-1]
  z = x.reshape(-1, 1) @ th["w_ih"] + th["b_ih"] + h @ th["w_hh"] + th["b_hh"]
  i, f, g, o = (z[:, j * hid:(j + 1) * hid] for j in range(4))
  c = sig(f) * c + sig(i) * np.tanh(g)
  h = sig(o) * np.tanh(c)
  return (h @ th["w_out"] + th["b_out"]).reshape(x.shape), h, c


def test_lstm_cell_matches_torch_equations_over_steps():
  th = fm.init_lstm(jax.random.PRNGKey(0), 5)
  chex.assert_shape((th["w_ih"], th["w_hh"], th["b_ih"], th["w_out"]), [(1, 20), (5, 20), (20,), (5, 1)])
  assert max(float(jnp.abs(v).max()) for v in jax.tree.leaves(th)) <= 5 ** -0.5
  carry = jnp.zeros((2, 6, 5))
  h, c = np.zeros((6, 5)), np.zeros((6, 5))
  for t in range(3):
    x = jax.random.uniform(jax.random.PRNGKey(t + 1), (2, 3))
    out, carry = fm.lstm_apply(th, x, carry)
    ref, h, c = _np_lstm(th, np.asarray(x, np.float64), h, c)
    chex.assert_shape(out, (2, 3))
    chex.assert_shape(carry, (2, 6, 5))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(carry[0], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(carry[1], c, rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="lstm_hidden"):
    fm.init_lstm(jax.random.PRNGKey(0), 0)


@pytest.mark.parametrize("method", ["metaquant_lstm", "fsg_lstm"])
def test_lstm_state_starts_at_step1_and_follows_the_recurrence(method):
  """Step 0 leaves the state at zero (the code makes no meta call); from step 1 on the state is
  the LSTM's recurrence over w~ of the previous steps, run with the pre-update parameters."""
  cfg = fsg_cfg(lstm_hidden=4)
  weights, rest, x, y, apply_fn = toy()
  hyper = fm.init_hyper(jax.random.PRNGKey(1), cfg, len(weights))
  st = fm.init_state(jax.tree.map(jnp.copy, weights), jax.tree.map(jnp.copy, rest), {}, hyper,
                     cfg, method=method)
  for k, w in weights.items():
    chex.assert_shape(st.lstm[k], (2, w.size, 4))
  step = fm.make_train_step(method, apply_fn, cfg)
  st, _ = step(st, x, y, 1e-2)
  assert all(float(jnp.abs(v).sum()) == 0 for v in st.lstm.values())
  for _ in range(3):
    th, wt, carry = st.hyper["lstm"], st.wt_prev, st.lstm
    expect = {k: fm.lstm_apply(th, wt[k], carry[k])[1] for k in weights}
    st, _ = step(st, x, y, 1e-2)
    chex.assert_trees_all_close(st.lstm, expect, rtol=1e-5, atol=1e-6)
  assert all(float(jnp.abs(v).sum()) > 0 for v in st.lstm.values())


def test_metaquant_lstm_with_unit_gain_is_metaquant_bit_for_bit():
  """An LSTM whose output is exactly 1 (zero output weights, bias 1, frozen by a zero meta lr)
  and MetaQuant with FastNet == 1 give the same trajectory: same look-ahead, same update, same
  Adam."""
  cfg = fsg_cfg(lstm_hidden=4, metaquant_lr=0.0)
  weights, rest, x, y, apply_fn = toy()
  hyper = fm.init_hyper(jax.random.PRNGKey(1), cfg, len(weights))
  hyper["lstm"] = {**hyper["lstm"], "w_out": jnp.zeros_like(hyper["lstm"]["w_out"]),
                   "b_out": jnp.ones_like(hyper["lstm"]["b_out"])}
  mk = lambda m: fm.init_state(jax.tree.map(jnp.copy, weights), jax.tree.map(jnp.copy, rest), {},
                               jax.tree.map(jnp.copy, hyper), cfg, method=m)
  a, b = mk("metaquant"), mk("metaquant_lstm")
  mq = fm.make_train_step("metaquant", apply_fn, cfg, fast_fn=lambda th, w: jnp.ones_like(w))
  ml, ml_grads = fm.make_train_step("metaquant_lstm", apply_fn, cfg, with_grads=True)
  for t in range(4):
    xb = x + 0.1 * jax.random.normal(jax.random.PRNGKey(t), x.shape)
    a, ma = mq(a, xb, y, 1e-2)
    b, mb = ml(b, xb, y, 1e-2)
    assert float(ma["loss"]) == float(mb["loss"])
    chex.assert_trees_all_equal((a.weights, a.rest, a.opt), (b.weights, b.rest, b.opt))
  # The LSTM gets a gradient (its output enters the look-ahead); the unused fast net is untouched.
  g_hyper = ml_grads(b, x, y, 1e-2)[3]
  assert float(jnp.abs(g_hyper["lstm"]["w_out"]).max()) > 0
  chex.assert_trees_all_equal(b.hyper["fast"], hyper["fast"])


@pytest.mark.parametrize("method", ["metaquant_lstm", "fsg_lstm"])
def test_lstm_lookahead_gradients_match_finite_differences(method):
  """d loss / d theta_lstm (and theta_fast for fsg_lstm) from the step equal finite differences
  of the look-ahead loss (W~ in float64, full-precision weights: bits = 32)."""
  cfg = fsg_cfg(lstm_hidden=4)
  st, x, y, apply_fn = _filled_state(method, cfg)
  hid = st.hyper["lstm"]["w_hh"].shape[0]
  st = st.replace(lstm={k: jax.random.normal(jax.random.PRNGKey(4), (2, w.size, hid))
                        for k, w in st.weights.items()})
  lr = 0.05
  _, grads = fm.make_train_step(method, apply_fn, cfg, bits=32, with_grads=True)
  _, _, _, g_hyper = grads(st, x, y, lr)
  with jax.enable_x64(True):
    f64 = lambda t: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), t)
    W, h0, g_prev, wt_prev, carry, x = f64((st.weights, st.hyper, st.g_prev, st.wt_prev, st.lstm, x))
    c = {k: dorefa_scale(w) for k, w in W.items()}
    lstm_of = lambda h: {k: g_prev[k] * fm.lstm_apply(h["lstm"], wt_prev[k], carry[k])[0]
                         for k in W}
    if method == "fsg_lstm":
      fast_of = lambda h: {k: g_prev[k] * fm.fast_apply(h["fast"], wt_prev[k]) for k in W}
      delta_of = lambda h: {k: cfg.alpha * lstm_of(h)[k] + (1 - cfg.alpha) * c[k] * fast_of(h)[k]
                            for k in W}
      parts = ("lstm", "fast")
    else:
      const = {k: f64(st.dir_prev["w"][k]) - c[k] * lstm_of(h0)[k] for k in W}
      delta_of = lambda h: {k: c[k] * lstm_of(h)[k] + const[k] for k in W}
      parts = ("lstm",)
    rest = f64({"fc/bias": st.rest["fc/bias"] - lr * st.dir_prev["r"]["fc/bias"]})

    @jax.jit
    def loss_of(h):
      wq = {k: W[k] - lr * delta_of(h)[k] for k in W}
      logits, _ = apply_fn(wq, rest, {}, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    _check_directional_fd(loss_of, h0, g_hyper, parts, eps=1e-4, floor=1e-7)
  # The Mamba slow-net and the LRE take no part in the LSTM methods.
  for part in ("slow", "lre"):
    assert all(float(jnp.abs(g).max()) == 0 for g in jax.tree.leaves(g_hyper[part]))


def test_lstm_methods_refuse_a_state_without_buffers_and_the_current_update():
  cfg = fsg_cfg(lstm_hidden=4)
  weights, rest, x, y, apply_fn = toy()
  hyper = fm.init_hyper(jax.random.PRNGKey(1), cfg, len(weights))
  st = fm.init_state(weights, rest, {}, hyper, cfg)   # no method: no LSTM buffers
  step = fm.make_train_step("fsg_lstm", apply_fn, cfg, jit=False)
  with pytest.raises(ValueError, match="method='fsg_lstm'"):
    step(st, x, y, 1e-2)
  with pytest.raises(ValueError, match="update_grad='stale'"):
    fm.make_train_step("metaquant_lstm", apply_fn, fsg_cfg(update_grad="current"))
