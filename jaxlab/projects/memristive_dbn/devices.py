"""Behavioural models of pulsed memristive synapses (NeuroSim `RealDevice` form) in JAX.

Conductances are kept *normalised*: g = (G - G_min) / (G_max - G_min) of the nominal device, so
g in [0, 1] (per-device [lo, hi] when the conductance range varies device to device). A weight
is read from a differential pair, w = kappa * (g+ - g_ref) with g_ref = 0.5 (the fixed reference
device at mid range) and kappa = 2 * W_max, so w in [-W_max, W_max]. The on/off ratio of the
literature device therefore only enters through the table (it cancels in the normalised,
differential read-out).

One identical pulse moves the device one step along a nonlinear curve of P_max states:

    G(P) = B (1 - exp(-P / A)),  B = 1 / (1 - exp(-P_max / A)),  P in [0, P_max]
    n pulses in direction d = +-1:   g' = B - (B - g) exp(-n d / A)         (closed form)

written as dg = e / E + g e with e = expm1(-n d / A), E = expm1(-P_max / A), which is exact
for any A and tends to d n / P_max as A -> inf (NL = 0, linear device). A = a(NL) P_max with
a(NL) NeuroSim's normalised curvature (`param_a`), sign(NL) carried into A (negative NL gives a
convex curve: for LTD, large steps near G_max). Cycle-to-cycle noise N(0, sigma_c2c) sqrt(n) is
added per written device, then g is clipped to [lo, hi]. Device-to-device variation draws one NL
per device and direction at init (and optionally the range [lo, hi]).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.projects.memristive_dbn import rng

# NeuroSim's normalised A for |NL| (anchors quoted in the spec). Interpolated in log a,
# linearly in NL, between anchors; below 0.04 a ~ 1/NL (the small-curvature asymptote).
_NL_ANCHORS = np.array([0.04, 0.5, 0.61, 0.63, 1.0, 1.94, 2.4, 3.0, 3.68, 4.22, 4.88, 6.0, 6.76,
                        9.0])
_A_ANCHORS = np.array([31.57, 2.520, 2.063, 1.997, 1.252, 0.629, 0.499, 0.387, 0.301, 0.250,
                       0.200, 0.136, 0.100, 0.0228])
LINEAR_NL = 1e-3  # |NL| below this is treated as a linear (ideal) device


def param_a(nl):
  """NeuroSim's normalised curvature a(|NL|) (so A = a * P_max), for |NL| in (0, 9]."""
  x = jnp.clip(jnp.abs(jnp.asarray(nl, jnp.float32)), LINEAR_NL, 9.0)
  log_a = jnp.interp(x, jnp.asarray(_NL_ANCHORS, jnp.float32),
                     jnp.log(jnp.asarray(_A_ANCHORS, jnp.float32)))
  small = jnp.log(_A_ANCHORS[0] * _NL_ANCHORS[0]) - jnp.log(x)  # a = 1.2628 / NL
  return jnp.exp(jnp.where(x < _NL_ANCHORS[0], small, log_a))


def curve_a(nl, p_max):
  """Signed A of a curve: sign(NL) a(|NL|) P_max; +inf-like (1e9) for a linear device."""
  nl = jnp.asarray(nl, jnp.float32)
  lin = jnp.abs(nl) < LINEAR_NL
  a = jnp.sign(nl) * param_a(nl) * p_max
  return jnp.where(lin, 1e9, a)


def g_of_p(p, a, p_max):
  """Normalised conductance after p pulses from G_min on the curve with signed A."""
  return jnp.expm1(-p / a) / jnp.expm1(-p_max / a)


def p_of_g(g, a, p_max):
  """Inverse of `g_of_p`: pulse number of normalised conductance g."""
  e = jnp.expm1(-p_max / a)
  return -a * jnp.log1p(g * e)


def pulse_delta(g, n, direction, a, p_max):
  """dg of n consecutive identical pulses (direction +1 LTP / -1 LTD) from state g."""
  e = jnp.expm1(-n * direction / a)
  return e / jnp.expm1(-p_max / a) + g * e


@dataclasses.dataclass(frozen=True)
class DeviceSpec:
  """Nominal parameters of one device model (one row of the literature table)."""
  name: str
  p_ltp: int           # LTP states (pulses from G_min to G_max)
  p_ltd: int           # LTD states
  nl_ltp: float        # NeuroSim nonlinearity label of the LTP curve (>0: concave)
  nl_ltd: float        # of the LTD curve (<0: convex, the usual asymmetric depression)
  on_off: float        # G_max / G_min (informational: cancels in the normalised pair)
  c2c: float           # cycle-to-cycle sigma, fraction of the conductance range
  d2d_nl: float = 0.0  # device-to-device sigma of NL
  d2d_range: float = 0.0  # device-to-device sigma of G_min/G_max (fraction of range)
  read_noise: float = 0.0  # read noise sigma per device, fraction of the range
  source: str = ""


# The literature devices of the spec (NeuroSim table). PCMO is recalled, unverified.
DEVICES = {
    "ideal": DeviceSpec("ideal", 128, 128, 0.0, 0.0, 100.0, 0.0, source="reference"),
    "ag_si": DeviceSpec("ag_si", 97, 100, 2.40, -4.88, 12.5, 0.035, source="Jo 2010 Ag:a-Si"),
    "taox_hfox": DeviceSpec("taox_hfox", 128, 128, 0.04, -0.63, 10.0, 0.037,
                            source="Wu 2017 TaOx/HfOx"),
    "alox_hfo2": DeviceSpec("alox_hfo2", 40, 40, 1.94, -0.61, 4.4, 0.05,
                            source="Woo 2016 AlOx/HfO2"),
    "epiram": DeviceSpec("epiram", 64, 64, 0.5, -0.5, 50.0, 0.02, source="Choi 2018 EpiRAM"),
    "pcmo": DeviceSpec("pcmo", 50, 50, 3.68, -6.76, 6.84, 0.01,
                       source="Park 2013 PCMO (recalled, unverified)"),
}


def get_device(name: str, **overrides) -> DeviceSpec:
  if name not in DEVICES:
    raise ValueError(f"unknown device {name!r}; valid: {', '.join(DEVICES)}")
  return dataclasses.replace(DEVICES[name], **overrides)


def device_scalars(spec) -> dict:
  """Per-model scalars as float32 arrays (traced, so one compile serves every device)."""
  from jaxlab.projects.memristive_dbn import yflash  # yflash imports nothing from here
  if yflash.is_yflash(spec):
    return yflash.scalars(spec)
  f = lambda v: jnp.asarray(v, jnp.float32)
  return dict(p_ltp=f(spec.p_ltp), p_ltd=f(spec.p_ltd), c2c=f(spec.c2c),
              read_noise=f(spec.read_noise))


def init_device_params(key, shape, spec: DeviceSpec) -> dict:
  """Per-device parameters drawn once (D2D): signed A of both curves and the range [lo, hi]."""
  k1, k2, k3, k4 = jax.random.split(key, 4)
  nl_p = spec.nl_ltp + spec.d2d_nl * jax.random.normal(k1, shape)
  nl_d = spec.nl_ltd + spec.d2d_nl * jax.random.normal(k2, shape)
  lo = spec.d2d_range * jax.random.normal(k3, shape)
  hi = 1.0 + spec.d2d_range * jax.random.normal(k4, shape)
  lo, hi = jnp.minimum(lo, 0.45), jnp.maximum(hi, 0.55)
  a_ltp, a_ltd = curve_a(nl_p, spec.p_ltp), curve_a(nl_d, spec.p_ltd)
  lo, hi = lo.astype(jnp.float32), hi.astype(jnp.float32)
  # Single-pulse steps precomputed (the hot path): dg = span (e/E + u e) = s1 + (g - lo) e.
  span = hi - lo
  e_up, e_dn = jnp.expm1(-1.0 / a_ltp), jnp.expm1(1.0 / a_ltd)
  return dict(a_ltp=a_ltp, a_ltd=a_ltd, lo=lo, hi=hi,
              s1_up=span * e_up / jnp.expm1(-spec.p_ltp / a_ltp), e_up=e_up,
              s1_dn=span * e_dn / jnp.expm1(-spec.p_ltd / a_ltd), e_dn=e_dn)


def device_pulse(g, n, dev, scal, key):
  """Applies |n| identical pulses in direction sign(n) to every device (n = 0: untouched).

  Args:
    g: normalised conductances `[...]`.
    n: signed pulse numbers, same shape (int or float).
    dev: per-device params from `init_device_params` (arrays of g's shape).
    scal: `device_scalars` (p_ltp, p_ltd, c2c).
    key: key of the cycle-to-cycle noise.
  Returns:
    g' clipped to [lo, hi].
  """
  n = jnp.asarray(n, jnp.float32)
  m = jnp.abs(n)
  up = n > 0
  # Position within the device's own range, then the step on the curve of that direction.
  span = dev["hi"] - dev["lo"]
  u = (g - dev["lo"]) / span
  # Select the curve first, then one closed-form step (the same float ops as evaluating both
  # directions and selecting, at half the transcendental cost).
  du = pulse_delta(u, m, jnp.where(up, 1.0, -1.0), jnp.where(up, dev["a_ltp"], dev["a_ltd"]),
                   jnp.where(up, scal["p_ltp"], scal["p_ltd"]))
  noise = scal["c2c"] * jnp.sqrt(m) * rng.normal(key, g.shape)
  g_new = jnp.clip(g + span * du + noise, dev["lo"], dev["hi"])
  return jnp.where(m > 0, g_new, g)


def device_single_pulse(g, direction, dev, scal, key):
  """`device_pulse` for direction in {-1, 0, +1} with the precomputed single-pulse steps (no
  transcendental functions per batch): dg = s1 + (g - lo) e of the pulse's direction."""
  up = direction > 0
  off = g - dev["lo"]
  dg = jnp.where(up, dev["s1_up"] + off * dev["e_up"], dev["s1_dn"] + off * dev["e_dn"])
  noise = scal["c2c"] * rng.normal(key, g.shape)
  g_new = jnp.clip(g + dg + noise, dev["lo"], dev["hi"])
  return jnp.where(direction != 0, g_new, g)


def pulse_curve(spec: DeviceSpec, key=None, n_cycles=1):
  """G-vs-pulse trace (for plots/tests): P_max LTP pulses from G_min, then P_max LTD pulses."""
  key = jax.random.key(0) if key is None else key
  dev = init_device_params(key, (1,), dataclasses.replace(spec, d2d_nl=0.0, d2d_range=0.0))
  scal = device_scalars(spec)
  seq = jnp.concatenate([jnp.ones(spec.p_ltp), -jnp.ones(spec.p_ltd)] * n_cycles)

  def step(g, xs):
    d, k = xs
    g = device_pulse(g, d[None], dev, scal, k)
    return g, g[0]

  keys = jax.random.split(jax.random.fold_in(key, 1), seq.shape[0])
  _, trace = jax.lax.scan(step, jnp.zeros((1,)), (seq, keys))
  return np.concatenate([[0.0], np.asarray(trace)])
