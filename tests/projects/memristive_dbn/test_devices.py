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


# ---------------------------------------------------------------------------------------------
# Measured-curve mode (NeuroSim MeasuredDevice).

G_MIN, G_MAX = 3.08e-9, 3.85e-8  # Ag:a-Si's range in siemens: the file holds raw conductances


def _formula_traces(spec):
  """The noise-free LTP / LTD pulse trains of a formula device, in siemens."""
  up, down = devices.formula_trace(spec)
  return G_MIN + (G_MAX - G_MIN) * up, G_MIN + (G_MAX - G_MIN) * down


def _apply(spec, g, n):
  g = jnp.asarray(g, jnp.float32)
  dev = devices.init_device_params(KEY, g.shape, spec)
  return np.asarray(devices.device_pulse(g, jnp.full(g.shape, n), dev,
                                         devices.device_scalars(spec), KEY))


def test_measured_trace_of_a_formula_device_reproduces_it(tmp_path):
  """Fed the formula's own pulse trains, the measured mode takes the formula's steps: exactly
  (to float32) from every state on the trace, for 1 and 3 pulses, LTP and LTD, and within the
  linear interpolation's error from states between them."""
  formula = dataclasses.replace(devices.get_device("ag_si"), c2c=0.0)
  ltp, ltd = _formula_traces(formula)
  meas = devices.measured_device(devices.write_measured_csv(tmp_path / "ag.csv", ltp, ltd))
  assert (meas.p_ltp, meas.p_ltd) == (formula.p_ltp, formula.p_ltd)
  assert devices.is_measured(meas) and not devices.is_measured(formula)
  np.testing.assert_allclose(meas.curve_ltp, (ltp - G_MIN) / (G_MAX - G_MIN), atol=1e-12)
  assert meas.on_off == pytest.approx(G_MAX / G_MIN)
  for n, trace in ((1, meas.curve_ltp[:-3]), (3, meas.curve_ltp[:-3]),
                   (-1, meas.curve_ltd[:-3]), (-3, meas.curve_ltd[:-3])):
    np.testing.assert_allclose(_apply(meas, trace, n), _apply(formula, trace, n), atol=2e-5)
  between = np.linspace(0.02, 0.98, 301)
  for n in (1, -1):
    err = np.abs(_apply(meas, between, n) - _apply(formula, between, n))
    assert err.max() < 2e-3  # a step is 0.3-8 % of the range; the chord error is its curvature
  # The single-pulse path (CDacc) is the same computation.
  spec0 = dataclasses.replace(meas, c2c=0.02)
  dev = devices.init_device_params(KEY, (301,), spec0)
  scal = devices.device_scalars(spec0)
  d = jnp.asarray(np.resize([1, -1, 0], 301))
  np.testing.assert_array_equal(
      devices.device_single_pulse(jnp.asarray(between, jnp.float32), d, dev, scal, KEY),
      devices.device_pulse(jnp.asarray(between, jnp.float32), d, dev, scal, KEY))


def test_measured_pulses_move_with_their_direction_only(tmp_path):
  """States anywhere in the range, including beyond the ends of a trace that does not span it:
  LTP never lowers g, LTD never raises it, P pulses reach the trace's end, g stays in [0, 1]."""
  ltp = np.array([0.10, 0.30, 0.45, 0.55, 0.62, 0.80])  # ends below G_max
  ltd = np.array([1.00, 0.70, 0.50, 0.35, 0.25, 0.15])  # ends above G_min
  spec = devices.measured_device(devices.write_measured_csv(tmp_path / "short.csv", ltp, ltd))
  g = np.linspace(0.0, 1.0, 201)
  up, down = _apply(spec, g, 1), _apply(spec, g, -1)
  assert np.all(up >= g - 1e-7) and np.all(down <= g + 1e-7)
  assert np.all((up >= 0) & (up <= 1)) and np.all((down >= 0) & (down <= 1))
  assert np.any(up > g + 0.05) and np.any(down < g - 0.05)
  np.testing.assert_allclose(_apply(spec, [0.0], spec.p_ltp), [spec.curve_ltp[-1]], atol=1e-6)
  np.testing.assert_allclose(_apply(spec, [1.0], -spec.p_ltd), [spec.curve_ltd[-1]], atol=1e-6)
  np.testing.assert_array_equal(_apply(spec, g, 0), g.astype(np.float32))  # no pulse, no change


@pytest.mark.parametrize("bins", [4096, 8])  # 8 bins: many trace points per bin (steps > 1)
def test_measured_lookup_equals_interpolation(bins):
  """The gather-based lookup is inverse + forward linear interpolation (jnp.interp, clamped at
  the trace ends), then the never-against-the-direction guard, for any state and pulse count."""
  r = np.random.default_rng(1)
  up = devices.monotone_trace(np.sort(r.uniform(0.0, 0.9, 40)) + np.linspace(0, 0.1, 40))
  dn = -devices.monotone_trace(-np.sort(r.uniform(0.05, 1.0, 25))[::-1])
  scal = {"measured": devices.measured_tables(up, dn, bins=bins)}
  if bins == 8:
    assert scal["measured"]["steps"].shape[0] > 1
  u = jnp.asarray(np.concatenate([r.uniform(-0.05, 1.05, 4000), up, dn]), jnp.float32)
  c_up, c_dn = jnp.asarray(up, jnp.float32), jnp.asarray(dn, jnp.float32)
  i_up, i_dn = jnp.arange(len(up), dtype=jnp.float32), jnp.arange(len(dn), dtype=jnp.float32)
  for m in (0.0, 1.0, 3.0):
    ref_up = jnp.maximum(u, jnp.interp(jnp.interp(u, c_up, i_up) + m, i_up, c_up))
    ref_dn = jnp.minimum(u, jnp.interp(jnp.interp(-u, -c_dn, i_dn) + m, i_dn, c_dn))
    for direction, ref in ((True, ref_up), (False, ref_dn)):
      got = devices.measured_step(u, jnp.full(u.shape, m), jnp.full(u.shape, direction), scal)
      np.testing.assert_allclose(got, ref, atol=2e-6)


def test_monotone_trace_bridges_plateaus_and_cuts_saturation():
  t = np.array([0.0, 0.2, 0.15, 0.2, 0.4, 0.4, 0.4, 0.7, 1.0, 0.98, 1.0])
  m = devices.monotone_trace(t)
  assert len(m) == 9 and np.all(np.diff(m) > 0)  # saturation after pulse 8 cut
  np.testing.assert_allclose(m[[0, 1, 4, 7, 8]], [0.0, 0.2, 0.4, 0.7, 1.0])
  np.testing.assert_allclose(m[2:4], [0.2 + 0.2 / 3, 0.2 + 0.4 / 3])  # the dip and plateau bridged


def test_measured_noisy_trace_trains_every_device_through(tmp_path):
  """A noisy measured trace with plateaus: a P_max pulse train from G_min climbs every step
  (no device sticks on a plateau) and ends at G_max."""
  r = np.random.default_rng(0)
  ltp = np.clip(np.linspace(0, 1, 60) ** 0.5 + 0.02 * r.normal(size=60), 0, 1)
  ltd = np.clip((1 - np.linspace(0, 1, 60)) ** 2 + 0.02 * r.normal(size=60), 0, 1)
  spec = devices.measured_device(devices.write_measured_csv(tmp_path / "noisy.csv", 1e-6 + 1e-5 * ltp,
                                            1e-6 + 1e-5 * ltd))
  trace, _ = _pulse_train(spec, spec.p_ltp, 1, 0.0, shape=(1,))
  assert np.all(np.diff(trace[:, 0]) > 0) and trace[-1, 0] == pytest.approx(1.0, abs=1e-6)
  trace, _ = _pulse_train(spec, spec.p_ltd, -1, 1.0, shape=(1,))
  assert np.all(np.diff(trace[:, 0]) < 0) and trace[-1, 0] == pytest.approx(0.0, abs=1e-6)
  # From G_min (below this trace's start) the first pulse lands on the trace, then follows it.
  np.testing.assert_allclose(devices.pulse_curve(spec)[1:spec.p_ltp + 1], spec.curve_ltp[1:],
                             atol=1e-6)


def test_measured_file_formats_and_errors(tmp_path):
  ltp, ltd = np.linspace(1.0, 5.0, 9) ** 0.7, np.linspace(5.0, 1.0, 7) ** 1.3
  a = devices.measured_device(devices.write_measured_csv(tmp_path / "t.csv", ltp, ltd))
  np.savez(tmp_path / "t.npz", ltp=ltp, ltd=ltd)
  b = devices.measured_device(tmp_path / "t.npz", c2c=0.01)
  assert (a.curve_ltp, a.curve_ltd) == (b.curve_ltp, b.curve_ltd) and b.c2c == 0.01
  assert a.curve_ltp[0] == 0.0 and a.curve_ltd[0] == 1.0 and (a.p_ltp, a.p_ltd) == (8, 6)
  # Phase names in any case, spaces around them, extra columns: as a spreadsheet exports them.
  rows = [f" {'LTP' if i % 2 else 'ltp'} ,{v!r},x" for i, v in enumerate(map(float, ltp))]
  rows += [f"Ltd,{v!r},y" for v in map(float, ltd)]
  (tmp_path / "case.csv").write_text("phase,conductance,note\n" + "\n".join(rows) + "\n")
  assert devices.measured_device(tmp_path / "case.csv").curve_ltp == a.curve_ltp
  with pytest.raises(FileNotFoundError, match="phase,conductance"):
    devices.measured_device(tmp_path / "none.csv")
  bad_csv = {"header": "pulse,G\n0,1\n",
             "ltp or ltd": "phase,conductance\nltp,1\nltp,2\npot,3\nltd,2\nltd,1\n",
             "not a number": "phase,conductance\nltp,1\nltp,2\nltd,2\n\nltd\n",  # no value
             "a conductance is not a number": "phase,conductance\nltp,1\nltp,x\nltd,2\nltd,1\n"}
  for i, (match, text) in enumerate(bad_csv.items()):
    (tmp_path / f"bad{i}.csv").write_text(text)
    with pytest.raises(ValueError, match=match):
      devices.measured_device(tmp_path / f"bad{i}.csv")
  with pytest.raises(ValueError, match="ltp trace must end above"):
    devices.measured_device(devices.write_measured_csv(tmp_path / "flip.csv", ltp[::-1], ltd))
  with pytest.raises(ValueError, match=">= 2 finite"):
    devices.measured_device(devices.write_measured_csv(tmp_path / "one.csv", ltp, ltd[:1]))
  np.savez(tmp_path / "keys.npz", up=ltp, ltd=ltd)
  with pytest.raises(ValueError, match="ltp"):
    devices.measured_device(tmp_path / "keys.npz")
  (tmp_path / "t.txt").write_text("")
  with pytest.raises(ValueError, match=r"\.csv"):
    devices.measured_device(tmp_path / "t.txt")
  with pytest.raises(ValueError, match="no NL to vary"):
    devices.init_device_params(KEY, (4,), dataclasses.replace(a, d2d_nl=0.5))
  # D2D range variation applies as for the formula devices.
  dev = devices.init_device_params(KEY, (1000,), dataclasses.replace(a, d2d_range=0.05))
  assert 0.03 < float(jnp.std(dev["lo"])) < 0.07 and set(dev) == {"lo", "hi"}
