"""Y-Flash physics model: against a scalar re-derivation of the equations, write directions,
cycling degradation in closed form, and its use by the CDacc write rule and the DBN assembly."""

import dataclasses
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.projects.memristive_dbn import method
from jaxlab.projects.memristive_dbn import model
from jaxlab.projects.memristive_dbn import train
from jaxlab.projects.memristive_dbn import yflash

KEY = jax.random.key(0, impl="unsafe_rbg")
KT = 0.026
CGD, CGSR, CGSI = 1.5e-11, 1e-12, 1e-12
READ = dict(vth=0.87, k=1.7e-5, is0=3e-8, n=1.85)
INJ = dict(vth=1.32, k=3.4e-5, is0=6e-8, n=1.85 * 1.3)


def _is(vfg, vds, p):
  """Scalar drain current in the authors' written form (harmonic sum of the two regimes)."""
  if vds <= 0:
    return 0.0
  sub = p["is0"] * math.exp((vfg - p["vth"]) / (p["n"] * KT)) * (1 - math.exp(-vds / KT))
  ab = 5 * p["is0"] * (1 - math.exp(-vds / KT))
  ov = vfg - p["vth"]
  if 0 <= ov < vds:
    ab += p["k"] / 2 * ov ** 2
  elif ov >= vds:
    ab += p["k"] * (ov - vds / 2) * vds
  return 1.0 / (1.0 / sub + 1.0 / ab)


def _g(q):
  vfg = (q + CGD * 2) / (CGSR + CGD + CGSI)
  return (_is(vfg, 2, READ) + _is(vfg, 2, INJ)) / 2


def _program(q, va):
  vfg = (q + CGD * 5) / (CGD + CGSI)
  ig = 0.0 if vfg < 0.1 else -_is(vfg, 5, INJ) * 5e-3 * math.exp(-va / vfg)
  return q + ig * 200e-6, va + (24.0 - va) * (math.exp(200e-6 / 1.0) - 1)


def _erase(q, beta):
  vfg = (q + CGSI * 8) / (CGD + CGSI)
  vsg = 8 - vfg
  ig = 0.0 if vsg <= 5 else 3e-9 * (vsg - 5) ** 2 * math.exp(-beta / (vsg - 5))
  return q + ig * 100e-6, beta + (11.5 - beta) * (math.exp(100e-6 / 0.5) - 1)


def test_pulse_curve_matches_scalar_equations():
  g = yflash.pulse_curve(yflash.SPEC, n_erase=150, n_prog=150)
  q, va, beta = -1e-11, 23.4, 9.0
  ref = [_g(q)]
  for _ in range(150):
    q, beta = _erase(q, beta)
    ref.append(_g(q))
  for _ in range(150):
    q, va = _program(q, va)
    ref.append(_g(q))
  ref = np.asarray(ref)
  assert g.shape == ref.shape == (301,)
  np.testing.assert_allclose(g, ref, rtol=2e-4, atol=1e-16)


def test_erase_raises_and_program_lowers_conductance():
  g = yflash.pulse_curve(yflash.SPEC, n_erase=60, n_prog=60)
  assert np.all(np.diff(g[:61]) > 0) and np.all(np.diff(g[60:]) < 0)
  assert np.all(g >= 0)
  # One erase step at the initial state moves the weight by a few percent of W_max.
  scal = yflash.scalars(yflash.SPEC)
  dw = 2 * 1.5 * float(yflash.normalised(g[1], g[0], scal) - 0.5)
  assert 0.01 < dw < 0.2


def test_cycling_degradation_closed_form():
  scal = yflash.scalars(yflash.SPEC)
  q = jnp.full((3,), -1e-11, jnp.float32)
  va0 = jnp.asarray([22.0, 23.4, 25.0], jnp.float32)
  va = va0
  for _ in range(50):
    q, va = yflash.program(q, va, jnp.full((3,), 9.0), scal)
  s = math.expm1(200e-6 / 1.0)
  np.testing.assert_allclose(np.asarray(va), 24.0 - (24.0 - np.asarray(va0)) * (1 - s) ** 50,
                             rtol=1e-6)
  no_cyc = yflash.scalars(dataclasses.replace(yflash.SPEC, cycling=False))
  assert float(yflash.program(q, va0, jnp.full((3,), 9.0), no_cyc)[1][0]) == pytest.approx(22.0)


def test_init_shapes_and_small_initial_weights():
  syn = yflash.init_synapse(KEY, (30, 20), yflash.SPEC)
  for k in ("g", "qfg", "va", "beta"):
    chex.assert_shape(syn[k], (30, 20))
    chex.assert_type(syn[k], jnp.float32)
  chex.assert_type(syn["acc"], jnp.int32)
  w = np.asarray(model.weight(syn))
  # 1 % charge spread around the same initial state: weights of a few hundredths.
  assert 0 < np.std(w) < 0.2 and abs(np.mean(w)) < 0.05
  with pytest.raises(ValueError, match="init_w"):
    model.init_synapses(KEY, {"W": (3, 2)}, "cdacc", yflash.SPEC, init_w={"W": np.zeros((3, 2))})


def test_cdacc_update_writes_only_crossing_devices_in_the_right_direction():
  syns = model.init_synapses(KEY, {"W": (6, 5)}, "cdacc", yflash.SPEC)
  syn = dict(syns["W"], acc=jnp.zeros((6, 5), jnp.int32))
  dn = jnp.zeros((6, 5), jnp.int32).at[0, 0].set(100).at[1, 1].set(-250).at[2, 2].set(99)
  hp = dict(theta=100, multi_pulse=False, lr=0.1, batch_size=100, w_max=1.5)
  scal = yflash.scalars(yflash.SPEC)
  new, tal = method.apply_update(syn, dn, KEY, "cdacc", hp, scal)
  w0, w1 = np.asarray(model.weight(syn)), np.asarray(model.weight(new))
  assert w1[0, 0] > w0[0, 0] and w1[1, 1] < w0[1, 1]
  changed = np.argwhere(w1 != w0)
  np.testing.assert_array_equal(changed, [[0, 0], [1, 1]])
  assert int(tal["pulses"]) == 2 and int(tal["events"]) == 2 and int(tal["events_a"]) == 3
  np.testing.assert_array_equal(np.asarray(new["acc"])[[0, 1, 2], [0, 1, 2]], [0, -50, 99])
  assert int(new["count"].sum()) == 2
  # Only the programmed device degrades its V_a, only the erased one its beta.
  assert np.count_nonzero(np.asarray(new["va"]) != np.asarray(syn["va"])) == 1
  assert np.count_nonzero(np.asarray(new["beta"]) != np.asarray(syn["beta"])) == 1
  # multi_pulse: |k| = 2 pulses equal two single pulses.
  new2, tal2 = method.apply_update(syn, dn, KEY, "cdacc", dict(hp, multi_pulse=True), scal)
  d = jnp.zeros((6, 5), jnp.int32).at[0, 0].set(1).at[1, 1].set(-1)
  twice = yflash.single_pulse(yflash.single_pulse(syn, d, scal),
                              jnp.zeros_like(d).at[1, 1].set(-1), scal)
  np.testing.assert_allclose(np.asarray(new2["qfg"]), np.asarray(twice["qfg"]), rtol=1e-6)
  assert int(tal2["pulses"]) == 3 and int(tal2["events"]) == 2


def test_online_scheme_is_refused_with_a_clear_error():
  syn = model.init_synapses(KEY, {"W": (3, 2)}, "online", yflash.SPEC)["W"]
  hp = dict(theta=100, multi_pulse=False, lr=0.1, batch_size=100, w_max=1.5)
  with pytest.raises(ValueError, match="only the 'cdacc' scheme"):
    method.apply_update(syn, jnp.ones((3, 2), jnp.int32), KEY, "online", hp,
                        yflash.scalars(yflash.SPEC))


def test_generative_arrays_copy_the_cell_state_and_gates_exclude_yflash():
  shapes = [(8, 6, 0), (6, 4, 0), (4 + 2, 5, 2)]
  rbms = [model.init_synapses(jax.random.fold_in(KEY, i), model.rbm_shapes(v, h), "cdacc",
                              yflash.SPEC) for i, (v, h, _) in enumerate(shapes)]
  rbms[0]["W"]["acc"] = jnp.ones((8, 6), jnp.int32)
  dbn = train._dbn_from_rbms(*rbms, KEY, "cdacc", yflash.SPEC)
  np.testing.assert_array_equal(np.asarray(dbn["hidvis"]["qfg"]), np.asarray(rbms[0]["W"]["qfg"]).T)
  np.testing.assert_array_equal(np.asarray(dbn["hidvis"]["dev"]["g_neg"]),
                                np.asarray(rbms[0]["W"]["dev"]["g_neg"]).T)
  assert int(jnp.abs(dbn["hidvis"]["acc"]).sum()) == 0
  tot = {"pulses": 10, "events": 10, "events_a": 1000}
  runs = {"cdacc_yflash": {"scheme": "cdacc", "device": "yflash", "acc_pretrain_det": 0.5,
                           "acc_det": 0.97, "totals": tot, "totals_pretrain": tot}}
  g = train.summarize(None, runs)["gates"]
  assert "cdacc_3_devices_ge_94_best_ge_95" not in g
  assert "cdacc_devices_ge_88" not in g.get("pretrain_only", {}).get("parts", {})
