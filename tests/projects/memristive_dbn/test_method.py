"""CD counts, the CDacc accumulator, write rules, read-outs, no-autodiff, and a tiny overfit."""

import ast
import inspect
import pathlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.projects.memristive_dbn import devices
from jaxlab.projects.memristive_dbn import method
from jaxlab.projects.memristive_dbn import model

KEY = jax.random.key(0, impl="unsafe_rbg")


def test_accumulator_conserves_exactly():
  rs = np.random.default_rng(0)
  acc = jnp.zeros((50, 40), jnp.int32)
  total = np.zeros((50, 40), np.int64)
  for _ in range(30):
    dn = jnp.asarray(rs.integers(-100, 101, (50, 40)), jnp.int32)
    new, k = method.accumulate(acc, dn, 100)
    np.testing.assert_array_equal(np.asarray(new) + 100 * np.asarray(k), np.asarray(acc + dn))
    assert np.all(np.abs(np.asarray(new)) < 100)  # fix(): remainder has |A| < theta
    # fix rounds toward zero: sign of the remainder follows the sum.
    s = np.asarray(acc + dn)
    np.testing.assert_array_equal(np.asarray(k), np.fix(s / 100).astype(int))
    total += np.asarray(k) * 100
    acc = new
  chex.assert_type(acc, jnp.int32)


def test_cd_counts_equal_brute_force():
  rs = np.random.default_rng(1)
  v0 = (rs.random((7, 6)) > 0.5).astype(np.float32)
  wn = {"W": rs.normal(size=(6, 5)), "bv": 2.0 * rs.normal(size=6), "bh": 2.0 * rs.normal(size=5)}
  wn = {k: v.astype(np.float32) for k, v in wn.items()}
  w = {k: jnp.asarray(v) for k, v in wn.items()}
  dns = method.rbm_cd_counts(w, jnp.asarray(v0), KEY, 0.0, 0, "bernoulli", 1.5)
  # Recompute the states with numpy currents (biases included here, not by model.read) and the
  # same uniforms (same key path), then count with a double loop.
  ks = jax.random.split(KEY, 6)
  up = lambda v, b=wn["bh"]: model.sample(jax.nn.sigmoid(v @ wn["W"] + b), ks[1])
  v0n = v0
  h0n = np.asarray(up(v0n))
  v1n = np.asarray(model.sample_visible(jnp.asarray(h0n @ wn["W"].T + wn["bv"]), ks[3], 0))
  h1n = np.asarray(model.sample(jax.nn.sigmoid(v1n @ wn["W"] + wn["bh"]), ks[5]))
  # The biases are large enough to change the sampled states (else they would go untested).
  assert np.any(np.asarray(up(v0n, 0.0)) != h0n)
  ref = np.zeros((6, 5), np.int64)
  for i in range(6):
    for j in range(5):
      for b in range(7):
        ref[i, j] += int(v0n[b, i] * h0n[b, j]) - int(v1n[b, i] * h1n[b, j])
  np.testing.assert_array_equal(np.asarray(dns["W"]), ref)
  np.testing.assert_array_equal(np.asarray(dns["bv"]), (v0n - v1n).sum(0).astype(int))
  np.testing.assert_array_equal(np.asarray(dns["bh"]), (h0n - h1n).sum(0).astype(int))
  chex.assert_type(dns["W"], jnp.int32)


def test_updown_counts_equal_brute_force():
  """Up-down statistics (Hinton 2006, appendix B) against a numpy double loop. Weights are
  multiples of K and biases odd multiples of K / 2, so every current is >= K / 2 = 1000 in size
  and every state is exactly its step function (sigmoid -> 0 or 1, u in [0, 1)); the label
  biases add distinct fractions of K, so the label softmax is exactly one-hot too."""
  rs = np.random.default_rng(5)
  K = 2000.0
  nv, nh, npn, nl, nt, b = 6, 5, 4, 3, 5, 8
  wi = lambda *s: K * rs.integers(-2, 3, s).astype(np.float32)
  bi = lambda n: K * (rs.integers(-2, 2, n) + 0.5).astype(np.float32)
  wn = {"vishid": wi(nv, nh), "hidrecb": bi(nh), "hidpen": wi(nh, npn), "penrecb": bi(npn),
        "hidvis": wi(nh, nv), "visgenb": bi(nv), "penhid": wi(npn, nh), "hidgenb": bi(nh),
        "top_W": wi(npn + nl, nt), "top_bh": bi(nt),
        "top_bv": np.concatenate([bi(npn), K * (rs.integers(-2, 2, nl) + 0.1 * np.arange(1, 4))])}
  wn = {k: v.astype(np.float32) for k, v in wn.items()}
  data = (rs.random((b, nv)) > 0.5).astype(np.float32)
  lab = np.eye(nl, dtype=np.float32)[rs.integers(0, nl, b)]
  cd_k = 2
  counts = jax.jit(method.updown_counts, static_argnums=(5, 6, 7, 8))  # one compile: faster
  dns = counts({k: jnp.asarray(v) for k, v in wn.items()}, jnp.asarray(data), jnp.asarray(lab),
               KEY, 0.0, nl, "bernoulli", cd_k, 1.5)
  f64 = {k: v.astype(np.float64) for k, v in wn.items()}
  up = lambda s, wm, bias: (s @ f64[wm] + f64[bias] > 0).astype(np.float64)
  wh = up(data, "vishid", "hidrecb")
  wp = up(wh, "hidpen", "penrecb")
  v_top0 = np.concatenate([wp, lab], 1)
  t0 = t = up(v_top0, "top_W", "top_bh")
  for _ in range(cd_k):
    i_v = t @ f64["top_W"].T + f64["top_bv"]
    v_neg = np.concatenate([i_v[:, :npn] > 0, np.eye(nl)[np.argmax(i_v[:, npn:], 1)]], 1)
    t = up(v_neg, "top_W", "top_bh")
  sp = v_neg[:, :npn]
  sh = up(sp, "penhid", "hidgenb")
  sv = up(sh, "hidvis", "visgenb")
  psp, psh = up(sh, "hidpen", "penrecb"), up(sv, "vishid", "hidrecb")
  pv, ph = up(wh, "hidvis", "visgenb"), up(wp, "penhid", "hidgenb")

  def outer(a, c):  # sum over the batch of a[r, i] c[r, j], one entry at a time
    ref = np.zeros((a.shape[1], c.shape[1]), np.int64)
    for i in range(a.shape[1]):
      for j in range(c.shape[1]):
        ref[i, j] = sum(int(a[r, i] * c[r, j]) for r in range(b))
    return ref

  ref = {"hidvis": outer(wh, data - pv), "visgenb": (data - pv).sum(0),
         "penhid": outer(wp, wh - ph), "hidgenb": (wh - ph).sum(0),
         "top_W": outer(v_top0, t0) - outer(v_neg, t), "top_bv": (v_top0 - v_neg).sum(0),
         "top_bh": (t0 - t).sum(0),
         "hidpen": outer(sh, sp - psp), "penrecb": (sp - psp).sum(0),
         "vishid": outer(sv, sh - psh), "hidrecb": (sh - psh).sum(0)}
  assert set(dns) == set(ref)
  for k in ref:
    assert np.any(ref[k] != 0), k  # every statistic is non-trivial here (a sign flip shows)
    np.testing.assert_array_equal(np.asarray(dns[k]), ref[k].astype(int), err_msg=k)
    chex.assert_type(dns[k], jnp.int32)


def _dev_syn(shape, spec):
  return model.init_synapses(KEY, {"W": shape}, "cdacc", spec)["W"]


def test_cdacc_writes_one_pulse_only_on_threshold_crossing():
  spec = devices.get_device("ideal")
  scal = devices.device_scalars(spec)
  syn = _dev_syn((3, 4), spec)
  hp = dict(lr=0.1, batch_size=100, theta=100, multi_pulse=False, w_max=1.5)
  dn = jnp.asarray([[99, 100, -100, 0], [250, -250, 1, -1], [0, 0, 0, 0]], jnp.int32)
  new, tal = method.apply_update(syn, dn, KEY, "cdacc", hp, scal)
  written = np.asarray([[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
  np.testing.assert_array_equal(np.asarray(new["count"]), written)
  np.testing.assert_array_equal(np.asarray(new["acc"]),
                                [[99, 0, 0, 0], [50, -50, 1, -1], [0, 0, 0, 0]])
  dg = np.asarray(new["g"] - syn["g"])
  np.testing.assert_allclose(dg[written == 1], np.sign(np.asarray(dn))[written == 1] / 128,
                             atol=1e-6)
  assert np.all(dg[written == 0] == 0)
  assert int(tal["pulses"]) == 4 and int(tal["events"]) == 4 and int(tal["events_a"]) == 7
  # multi_pulse: |k| pulses, each one step 1/P_max of the (unit) range on the linear ideal device.
  new2, tal2 = method.apply_update(syn, dn, KEY, "cdacc", dict(hp, multi_pulse=True), scal)
  assert int(tal2["pulses"]) == 6 and int(tal2["events"]) == 4
  k = np.asarray([[0, 1, -1, 0], [2, -2, 0, 0], [0, 0, 0, 0]])
  np.testing.assert_array_equal(np.asarray(new2["count"]), np.abs(k))
  np.testing.assert_allclose(np.asarray(new2["g"] - syn["g"]), k / 128, atol=1e-6)


def test_online_rounding_is_unbiased():
  """Asymmetric linear device (128 LTP, 64 LTD states): dW = +-0.03 is 1.28 LTP or 0.64 LTD
  pulses; either way the expected conductance change is dW / (2 W_max) = +-0.01."""
  spec = devices.get_device("ideal", p_ltd=64)
  scal = devices.device_scalars(spec)
  syn = _dev_syn((200, 200), spec)
  hp = dict(lr=0.1, batch_size=100, theta=100, multi_pulse=False, w_max=1.5)
  sign = np.where(np.arange(200)[:, None] < 100, 1, -1) * np.ones((1, 200), int)
  dn = jnp.asarray(30 * sign, jnp.int32)  # top half +30, bottom half -30
  new, tal = method.apply_update(syn, dn, KEY, "online", hp, scal)
  cnt, dg = np.asarray(new["count"]), np.asarray(new["g"] - syn["g"])
  pos, neg = sign > 0, sign < 0
  assert cnt[pos].mean() == pytest.approx(1.28, abs=0.02)
  assert cnt[neg].mean() == pytest.approx(0.64, abs=0.02)
  assert set(np.unique(cnt[pos])) <= {1, 2} and set(np.unique(cnt[neg])) <= {0, 1}
  assert int(tal["pulses"]) == cnt.sum()
  # LTP only where dN > 0, LTD only where dN < 0, each pulse one state of its own curve.
  assert np.all(dg[pos] > 0) and np.all(dg[neg] <= 0)
  np.testing.assert_allclose(dg[pos], cnt[pos] / 128, atol=1e-6)
  np.testing.assert_allclose(dg[neg], -cnt[neg] / 64, atol=1e-6)
  assert dg[pos].mean() == pytest.approx(0.01, abs=2e-4)
  assert dg[neg].mean() == pytest.approx(-0.01, abs=3e-4)


def test_software_update_is_float_cd():
  syn = {"w": jnp.zeros((2, 2))}
  hp = dict(lr=0.1, batch_size=100, theta=100, multi_pulse=False, w_max=1.5)
  new, tal = method.apply_update(syn, jnp.asarray([[10, -5], [0, 100]], jnp.int32), KEY,
                                 "software", hp, {})
  np.testing.assert_allclose(new["w"], [[0.01, -0.005], [0.0, 0.1]], atol=1e-7)
  assert int(tal["events_a"]) == 3 and int(tal["pulses"]) == 0


def test_weight_mapping_and_init_equal_across_schemes():
  spec = devices.get_device("ideal")
  shapes = model.rbm_shapes(6, 4)
  sw = model.init_synapses(KEY, shapes, "software", spec)
  dv = model.init_synapses(KEY, shapes, "cdacc", spec)
  for k in shapes:
    np.testing.assert_allclose(model.weight(dv[k]), sw[k]["w"], atol=1e-6)
  full = {"g": jnp.asarray([0.0, 0.5, 1.0])}
  np.testing.assert_allclose(model.weight(full), [-1.5, 0.0, 1.5])
  with pytest.raises(ValueError, match="scheme"):
    model.init_synapses(KEY, shapes, "bogus", spec)


def _toy_dbn(scale):
  rs = np.random.default_rng(2)
  shapes = {"vishid": (8, 6), "hidrecb": (6,), "hidpen": (6, 5), "penrecb": (5,),
            "top_W": (5 + 3, 7), "top_bv": (8,), "top_bh": (7,)}
  w = {k: jnp.asarray(scale * rs.normal(size=s), jnp.float32) for k, s in shapes.items()}
  return w


def _counting_dbn():
  """Three pixels copied up to three top units (steep sigmoids, +-20 currents); label k gets
  the current 10 (k s - k^2 / 2) from s top units on, so the label is the number of on pixels
  (margins >= 5): every read-out at low temperature must return x.sum(1)."""
  eye = 40.0 * np.eye(3, dtype=np.float32)
  k = np.arange(4, dtype=np.float32)
  lab = np.repeat(10.0 * k[:, None], 3, 1)
  f = lambda v: jnp.asarray(v, jnp.float32)
  off = f([-20.0] * 3)
  return {"vishid": f(eye), "hidrecb": off, "hidpen": f(eye), "penrecb": off,
          "top_W": f(np.concatenate([eye, lab])), "top_bh": off,
          "top_bv": f(np.concatenate([np.zeros(3), -5.0 * k ** 2]))}


def _all_binary(n):
  return jnp.asarray([[(i >> b) & 1 for b in range(n)] for i in range(2 ** n)], jnp.float32)


def test_sampling_readout_matches_deterministic_at_low_temperature():
  w = _counting_dbn()
  x = _all_binary(3)
  det = model.predict(x, w, KEY, 0.0, 4, "det")
  want = np.asarray(x).sum(1).astype(int)
  assert len(set(want)) == 4  # several classes, not one constant vector
  np.testing.assert_array_equal(det, want)
  samp = model.predict(x, w, KEY, 0.0, 4, "samp", n_samples=1000)
  np.testing.assert_array_equal(samp, want)
  chex.assert_shape(det, (8,))


def test_analog_readout_matches_deterministic_at_low_temperature():
  w = _counting_dbn()
  x = _all_binary(3)
  want = np.asarray(x).sum(1).astype(int)
  np.testing.assert_array_equal(model.predict(x, w, KEY, 0.0, 4, "det"), want)
  np.testing.assert_array_equal(model.predict(x, w, KEY, 0.0, 4, "analog"), want)
  with pytest.raises(ValueError, match="mode"):
    model.predict(x, w, KEY, 0.0, 4, "bogus")


def _copy_chain_dbn():
  """One pixel copied up to one top unit (steep sigmoids); the top unit on votes label 0 (+10
  current), off votes label 1 (+10): summed currents over passes are a majority vote."""
  f = lambda *v: jnp.asarray(v, jnp.float32)
  return {"vishid": f([40.0]).reshape(1, 1), "hidrecb": f(-20.0),
          "hidpen": f([40.0]).reshape(1, 1), "penrecb": f(-20.0),
          "top_W": f([40.0], [20.0], [-20.0]), "top_bh": f(-20.0), "top_bv": f(0.0, -10.0, 10.0)}


def test_sampling_readout_resamples_grey_pixels_each_pass_and_sums_currents():
  """The follow-up's binary_samp: pixels drawn as Bernoulli(grey) in every pass. One pass
  predicts label 0 with probability = the grey level; 25 summed passes are a majority vote
  (P[Bin(25, 0.3) >= 13] = 0.017); the mean-field read-out sees 0.3 as mostly off."""
  w = _copy_chain_dbn()
  x = jnp.full((4000, 1), 0.3, jnp.float32)
  one = np.asarray(model.predict(x, w, KEY, 0.0, 2, "samp", n_samples=1))
  assert abs((one == 0).mean() - 0.3) < 0.03
  many = np.asarray(model.predict(x, w, KEY, 0.0, 2, "samp", n_samples=25))
  assert (many == 0).mean() < 0.05
  assert np.all(np.asarray(model.predict(x, w, KEY, 0.0, 2, "analog")) == 1)
  binary = jnp.asarray([[0.0], [1.0]])  # Bernoulli(0/1) is the pixel itself
  np.testing.assert_array_equal(model.predict(binary, w, KEY, 0.0, 2, "samp", n_samples=3),
                                [1, 0])


def test_free_energy_readout_shape_and_bad_readout():
  w = _toy_dbn(1.0)
  pen = (np.random.default_rng(4).random((4, 5)) > 0.5).astype(np.float32)
  lg = model.label_logits(jnp.asarray(pen), w, KEY, 0.0, 3, readout="free_energy")
  chex.assert_shape(lg, (4, 3))
  # Hand-computed: v = (pen, one-hot label), -F(v) = bv.v + sum_j log(1 + exp(bh_j + v.W_j));
  # log p(label | pen) = -F - logsumexp over labels (a per-row constant cancels).
  wt, bv, bh = (np.asarray(w[k], np.float64) for k in ("top_W", "top_bv", "top_bh"))
  neg_f = np.zeros((4, 3))
  for b in range(4):
    for y in range(3):
      v = np.concatenate([pen[b], np.eye(3)[y]])
      neg_f[b, y] = v @ bv + sum(np.log1p(np.exp(bh[j] + v @ wt[:, j])) for j in range(7))
  ref = neg_f - np.log(np.exp(neg_f).sum(1, keepdims=True))
  np.testing.assert_allclose(np.asarray(jax.nn.log_softmax(lg, -1)), ref, atol=1e-4)
  assert np.ptp(ref, 0).max() > 0.1  # pen changes the label log-probabilities
  with pytest.raises(ValueError, match="readout"):
    model.label_logits(pen, w, KEY, 0.0, 3, readout="nope")


def test_no_autodiff_in_training_code():
  root = pathlib.Path(inspect.getfile(method)).parent
  # Names, not substrings: "grad" alone would match e.g. "degradation" in the Y-Flash docs.
  names = {"grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize",
           "linear_transpose", "custom_vjp", "custom_jvp"}
  for f in root.glob("*.py"):
    src = f.read_text()
    for banned in ("jax.grad", "import grad", "value_and_grad", "jax.vjp", "custom_vjp",
                   "jax.jvp", "jacrev", "jacfwd", "jax.hessian", "jax.linearize"):
      assert banned not in src, f"{f.name} uses {banned}: CD training must not use autodiff"
    for node in ast.walk(ast.parse(src)):
      used = ([a.name for a in node.names] if isinstance(node, ast.ImportFrom) else
              [node.attr] if isinstance(node, ast.Attribute) else
              [node.id] if isinstance(node, ast.Name) else [])
      assert not names & set(used), f"{f.name} uses {names & set(used)}: no autodiff in CD"
  # The jitted epoch traces to a jaxpr without any transpose/grad rule applications.
  spec = devices.get_device("ideal")
  syns = model.init_synapses(KEY, model.rbm_shapes(4, 3), "cdacc", spec)
  jaxpr = jax.make_jaxpr(lambda s, d: method.pretrain_epoch.__wrapped__(
      s, d, KEY, devices.device_scalars(spec), 0.1, scheme="cdacc", n_labels=0))(
          syns, jnp.zeros((2, 5, 4)))
  assert "custom_vjp" not in str(jaxpr)


def test_tiny_overfit_pretraining_learns_the_data():
  """CD-1 on two repeated patterns: reconstructions approach the data for software and CDacc."""
  pats = np.zeros((2, 16), np.float32)
  pats[0, :8] = 1
  pats[1, 8:] = 1
  data = jnp.asarray(np.tile(pats, (10, 1))[None].repeat(60, 0))  # [60 batches, 20, 16]
  for scheme, spec in (("software", devices.get_device("ideal")),
                       ("cdacc", devices.get_device("ideal", p_ltp=16, p_ltd=16))):
    scal = devices.device_scalars(spec)
    syns = model.init_synapses(KEY, model.rbm_shapes(16, 8), scheme, spec)
    for ep in range(3):
      syns, tal = method.pretrain_epoch(syns, data, jax.random.fold_in(KEY, ep), scal,
                                        jnp.float32(0.5), scheme=scheme, n_labels=0, theta=20,
                                        batch_size=20)
    w = model.weights(syns)
    h = jax.nn.sigmoid(jnp.asarray(pats) @ w["W"] + w["bh"])
    rec = jax.nn.sigmoid(h @ w["W"].T + w["bv"])
    err = float(jnp.mean(jnp.abs(rec - pats)))
    assert err < 0.2, (scheme, err)
    if scheme == "cdacc":
      assert int(tal["W"]["pulses"]) > 0 and int(tal["W"]["events_a"]) > int(tal["W"]["pulses"])


def test_read_noise_has_the_documented_column_statistics():
  """Each active row's device and the bias device add N(0, (r 2 W_max)^2) each, so a column's
  current has std r 2 W_max sqrt(sum_i s_i + 1) around the noiseless s @ W + b."""
  r, w_max = 0.01, 1.5
  s = jnp.asarray([[0.0] * 8, [1.0] * 2 + [0.0] * 6, [1.0] * 8], jnp.float32)
  w = jax.random.normal(jax.random.key(1), (8, 3)) * 0.3
  b = jnp.asarray([0.1, -0.2, 0.3], jnp.float32)
  exact = np.asarray(s @ w + b)
  np.testing.assert_array_equal(model.read(s, w, b, KEY, 0.0, w_max), exact)
  keys = jax.random.split(jax.random.key(2), 20000)
  i = np.asarray(jax.vmap(lambda k: model.read(s, w, b, k, r, w_max))(keys))  # [N, 3 rows, 3]
  want_std = r * 2 * w_max * np.sqrt(np.asarray(s).sum(1) + 1.0)  # 0.03, 0.052, 0.09
  np.testing.assert_allclose(i.mean(0), exact, atol=4 * want_std.max() / np.sqrt(len(keys)))
  np.testing.assert_allclose(i.std(0), np.broadcast_to(want_std[:, None], (3, 3)), rtol=0.03)
  # Same key, same draw; another key, another draw (the read-outs fold a key per chunk).
  np.testing.assert_array_equal(model.read(s, w, b, KEY, r, w_max),
                                model.read(s, w, b, KEY, r, w_max))
  assert not np.array_equal(i[0], i[1])


def test_read_noise_flips_deterministic_readout_near_threshold():
  """A unit whose current sits at the 0.5 threshold is decided by the read noise alone: about
  half the images flip label under noise, none without it, and a large noise drops the counting
  net's det read-out (exact without noise) below 50 %."""
  w = _copy_chain_dbn()
  w = dict(w, hidrecb=jnp.float32(-40.0))  # pixel on -> hidden current exactly 0 (p = 0.5)
  x = jnp.ones((4000, 1), jnp.float32)
  quiet = np.asarray(model.predict(x, w, KEY, 0.0, 2, "det"))
  assert len(set(quiet.tolist())) == 1
  noisy = np.asarray(model.predict(x, w, KEY, 0.01, 2, "det"))
  assert 0.4 < (noisy == 0).mean() < 0.6
  wc = _counting_dbn()
  xc = jnp.tile(_all_binary(3), (500, 1))
  want = np.asarray(xc).sum(1).astype(int)
  np.testing.assert_array_equal(model.predict(xc, wc, KEY, 0.0, 4, "det"), want)
  assert (np.asarray(model.predict(xc, wc, KEY, 5.0, 4, "det")) == want).mean() < 0.5
