"""CD counts, the CDacc accumulator, write rules, read-outs, no-autodiff, and a tiny overfit."""

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
  w = {"W": jnp.asarray(rs.normal(size=(6, 5)), jnp.float32), "bv": jnp.zeros(6),
       "bh": jnp.zeros(5)}
  dns = method.rbm_cd_counts(w, jnp.asarray(v0), KEY, 0.0, 0, "bernoulli", 1.5)
  # Recompute the same states (same key path) and count with a double loop.
  ks = jax.random.split(KEY, 6)
  h0 = model.sample(jax.nn.sigmoid(model.read(jnp.asarray(v0), w["W"], w["bh"], ks[0], 0.0)), ks[1])
  v1 = model.sample_visible(model.read(h0, w["W"].T, w["bv"], ks[2], 0.0), ks[3], 0)
  h1 = model.sample(jax.nn.sigmoid(model.read(v1, w["W"], w["bh"], ks[4], 0.0)), ks[5])
  v0n, h0n, v1n, h1n = (np.asarray(a) for a in (v0, h0, v1, h1))
  ref = np.zeros((6, 5), np.int64)
  for i in range(6):
    for j in range(5):
      for b in range(7):
        ref[i, j] += int(v0n[b, i] * h0n[b, j]) - int(v1n[b, i] * h1n[b, j])
  np.testing.assert_array_equal(np.asarray(dns["W"]), ref)
  np.testing.assert_array_equal(np.asarray(dns["bv"]), (v0n - v1n).sum(0).astype(int))
  np.testing.assert_array_equal(np.asarray(dns["bh"]), (h0n - h1n).sum(0).astype(int))
  chex.assert_type(dns["W"], jnp.int32)


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
  # multi_pulse: |k| pulses.
  new2, tal2 = method.apply_update(syn, dn, KEY, "cdacc", dict(hp, multi_pulse=True), scal)
  assert int(tal2["pulses"]) == 6 and int(tal2["events"]) == 4


def test_online_rounding_is_unbiased():
  spec = devices.get_device("ideal")
  scal = devices.device_scalars(spec)
  syn = _dev_syn((200, 200), spec)
  hp = dict(lr=0.1, batch_size=100, theta=100, multi_pulse=False, w_max=1.5)
  dn = jnp.full((200, 200), 30, jnp.int32)  # dW = 0.03 -> x = 0.03 * 128 / 3 = 1.28 pulses
  new, tal = method.apply_update(syn, dn, KEY, "online", hp, scal)
  assert int(tal["pulses"]) / 40000 == pytest.approx(1.28, abs=0.02)
  assert set(np.unique(np.asarray(new["count"]))) <= {1, 2}


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


def test_sampling_readout_matches_deterministic_at_low_temperature():
  w = _toy_dbn(scale=40.0)  # large |I|: sigmoid -> step, softmax -> argmax
  x = jnp.asarray((np.random.default_rng(3).random((16, 8)) > 0.5).astype(np.float32))
  det = model.predict(x, w, KEY, 0.0, 3, "det")
  samp = model.predict(x, w, KEY, 0.0, 3, "samp", n_samples=1000)
  np.testing.assert_array_equal(det, samp)
  chex.assert_shape(det, (16,))


def test_analog_readout_matches_deterministic_at_low_temperature():
  w = _toy_dbn(scale=40.0)
  x = jnp.asarray((np.random.default_rng(3).random((16, 8)) > 0.5).astype(np.float32))
  np.testing.assert_array_equal(model.predict(x, w, KEY, 0.0, 3, "analog"),
                                model.predict(x, w, KEY, 0.0, 3, "det"))
  with pytest.raises(ValueError, match="mode"):
    model.predict(x, w, KEY, 0.0, 3, "bogus")


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
  pen = jnp.ones((4, 5))
  lg = model.label_logits(pen, w, KEY, 0.0, 3, readout="free_energy")
  chex.assert_shape(lg, (4, 3))
  with pytest.raises(ValueError, match="readout"):
    model.label_logits(pen, w, KEY, 0.0, 3, readout="nope")


def test_no_autodiff_in_training_code():
  root = pathlib.Path(inspect.getfile(method)).parent
  for f in root.glob("*.py"):
    src = f.read_text()
    for banned in ("jax.grad", "value_and_grad", "jax.vjp", "custom_vjp", "jax.jvp"):
      assert banned not in src, f"{f.name} uses {banned}: CD training must not use autodiff"
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
