"""Device-model unit tests (spec section 6.1): range, linearity, P_max pulses, inverse, a(NL)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.projects.memristive_dbn import devices
from jaxlab.projects.memristive_dbn import rng

KEY = jax.random.key(0, impl="unsafe_rbg")


def _pulse_train(spec, n_pulses, direction, g0, key=KEY, shape=(256,)):
  dev = devices.init_device_params(key, shape, spec)
  scal = devices.device_scalars(spec)

  def step(g, k):
    g = devices.device_pulse(g, jnp.full(shape, direction), dev, scal, k)
    return g, g

  _, trace = jax.lax.scan(step, jnp.full(shape, g0, jnp.float32),
                          jax.random.split(jax.random.fold_in(key, 1), n_pulses))
  return np.asarray(trace), dev


def test_param_a_matches_anchors_and_is_monotone():
  got = np.asarray(devices.param_a(jnp.asarray(devices._NL_ANCHORS)))
  np.testing.assert_allclose(got, devices._A_ANCHORS, rtol=1e-4)
  grid = np.asarray(devices.param_a(jnp.linspace(0.01, 9.0, 900)))
  assert np.all(np.diff(grid) < 0)
  # Sign of NL carries into A; |NL| ~ 0 is linear (huge A).
  assert float(devices.curve_a(-1.0, 100)) == pytest.approx(-125.2, rel=1e-3)
  assert float(devices.curve_a(0.0, 100)) > 1e8


@pytest.mark.parametrize("name", list(devices.DEVICES))
def test_conductance_stays_in_range(name):
  spec = dataclasses.replace(devices.get_device(name), d2d_nl=1.0, d2d_range=0.05, c2c=0.05)
  dev = devices.init_device_params(KEY, (64, 32), spec)
  scal = devices.device_scalars(spec)

  def step(g, k):
    n = jax.random.randint(k, (64, 32), -3, 4)
    g = devices.device_pulse(g, n, dev, scal, jax.random.fold_in(k, 7))
    return g, (jnp.all(g >= dev["lo"]) & jnp.all(g <= dev["hi"]) & jnp.all(jnp.isfinite(g)))

  _, ok = jax.lax.scan(step, jnp.full((64, 32), 0.5), jax.random.split(KEY, 60))
  assert bool(jnp.all(ok))


def test_nl_zero_is_linear():
  spec = devices.get_device("ideal", p_ltp=64, p_ltd=64)
  up, _ = _pulse_train(spec, 64, 1, 0.0, shape=(4,))
  np.testing.assert_allclose(np.diff(up[:, 0]), 1 / 64, atol=2e-6)
  down, _ = _pulse_train(spec, 64, -1, 1.0, shape=(4,))
  np.testing.assert_allclose(np.diff(down[:, 0]), -1 / 64, atol=2e-6)


@pytest.mark.parametrize("name", ["ag_si", "taox_hfox", "alox_hfo2", "epiram", "pcmo"])
def test_pmax_pulses_span_the_range(name):
  spec = dataclasses.replace(devices.get_device(name), c2c=0.0)
  up, _ = _pulse_train(spec, spec.p_ltp, 1, 0.0, shape=(2,))
  assert up[-1, 0] == pytest.approx(1.0, abs=1e-4)
  assert 0.0 < up[0, 0] < 1.0
  down, _ = _pulse_train(spec, spec.p_ltd, -1, 1.0, shape=(2,))
  assert down[-1, 0] == pytest.approx(0.0, abs=1e-4)
  # Nonlinear and asymmetric: first LTP step larger than the last, first LTD step largest.
  steps_up, steps_dn = np.diff(up[:, 0]), np.diff(down[:, 0])
  assert steps_up[0] > steps_up[-1] and abs(steps_dn[0]) > abs(steps_dn[-1])
  # With C2C noise the end point is reached up to the noise (clipped at G_max).
  c2c = devices.get_device(name).c2c
  noisy, _ = _pulse_train(devices.get_device(name), spec.p_ltp, 1, 0.0)
  assert abs(noisy[-1].mean() - 1.0) < 5 * c2c + 0.05


def test_inverse_curve():
  for nl, pm in [(2.4, 97), (-4.88, 100), (0.04, 128), (1.94, 40), (-6.76, 50), (0.0, 64)]:
    a = devices.curve_a(nl, pm)
    p = jnp.arange(pm + 1, dtype=jnp.float32)
    g = devices.g_of_p(p, a, pm)
    np.testing.assert_allclose(devices.p_of_g(g, a, pm), p, atol=2e-2 * max(1, pm / 50))
    assert float(g[0]) == pytest.approx(0.0, abs=1e-6) and float(g[-1]) == pytest.approx(1.0, abs=1e-5)


def test_closed_form_n_pulses_equals_n_single_pulses_and_fast_path():
  spec = dataclasses.replace(devices.get_device("ag_si"), c2c=0.0, d2d_nl=0.5)
  dev = devices.init_device_params(KEY, (128,), spec)
  scal = devices.device_scalars(spec)
  g0 = jax.random.uniform(KEY, (128,), minval=0.1, maxval=0.9)
  for d in (1, -1):
    g = g0
    for _ in range(5):
      g = devices.device_pulse(g, jnp.full((128,), d), dev, scal, KEY)
    g5 = devices.device_pulse(g0, jnp.full((128,), 5 * d), dev, scal, KEY)
    np.testing.assert_allclose(g, g5, atol=1e-5)
    fast = devices.device_single_pulse(g0, jnp.full((128,), d), dev, scal, KEY)
    slow = devices.device_pulse(g0, jnp.full((128,), d), dev, scal, KEY)
    np.testing.assert_allclose(fast, slow, atol=1e-6)
  untouched = devices.device_single_pulse(g0, jnp.zeros((128,), jnp.int32), dev, scal, KEY)
  np.testing.assert_array_equal(untouched, g0)


def test_c2c_noise_scale():
  spec = dataclasses.replace(devices.get_device("ideal"), c2c=0.03)
  dev = devices.init_device_params(KEY, (20000,), spec)
  scal = devices.device_scalars(spec)
  g = devices.device_pulse(jnp.full((20000,), 0.5), jnp.ones((20000,)), dev, scal, KEY)
  assert float(jnp.std(g)) == pytest.approx(0.03, rel=0.05)
  assert float(jnp.mean(g)) == pytest.approx(0.5 + 1 / 128, abs=1e-3)


def test_cheap_rng_moments():
  u = rng.uniform(KEY, (200000,))
  z = rng.normal(KEY, (200000,))
  assert float(u.min()) >= 0.0 and float(u.max()) < 1.0
  assert float(u.mean()) == pytest.approx(0.5, abs=5e-3)
  assert float(z.mean()) == pytest.approx(0.0, abs=1e-2)
  assert float(z.std()) == pytest.approx(1.0, abs=1e-2)
  # Different keys give different streams.
  assert float(jnp.mean(rng.uniform(jax.random.fold_in(KEY, 1), (1000,)) == u[:1000])) < 0.01
  b = rng.bernoulli(KEY, jnp.full((100000,), 0.3))
  assert float(b.mean()) == pytest.approx(0.3, abs=1e-2)


def test_unknown_device_error():
  with pytest.raises(ValueError, match="valid"):
    devices.get_device("nope")
