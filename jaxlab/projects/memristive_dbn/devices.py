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

Measured-curve mode (NeuroSim's `MeasuredDevice`): instead of the formula, a device follows a
measured pulse-response trace, G after 0, 1, ..., P pulses of an LTP train from the low state and
of an LTD train from the high state (`read_measured_curve`, `measured_device`). A pulse finds the
device's pulse number on the trace of its direction by inverse linear interpolation, adds the
pulses, and reads the new conductance off the same trace. C2C noise, D2D range variation and read
noise apply as for the formula devices; D2D variation of NL has no meaning for a measured trace.
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib

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
  # Measured-curve mode: normalised g after 0..p_ltp LTP pulses from the low state (strictly
  # increasing) and after 0..p_ltd LTD pulses from the high state (strictly decreasing).
  curve_ltp: tuple = ()
  curve_ltd: tuple = ()


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


def read_measured_curve(path) -> tuple[np.ndarray, np.ndarray]:
  """Reads a measured pulse-response trace: (G_ltp, G_ltd), conductances after 0, 1, ..., P
  pulses of an LTP train from the low state and of an LTD train from the high state, in any one
  unit. Either a `.csv` with a header and the columns `phase,conductance` (phase `ltp` or `ltd`,
  rows in pulse order) or a `.npz` with the arrays `ltp` and `ltd`."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(
        f"measured device curve {path} not found: give a .csv with the columns phase,conductance "
        f"(phase ltp/ltd, rows in pulse order) or a .npz with arrays ltp and ltd")
  if path.suffix == ".npz":
    with np.load(path) as z:
      missing = {"ltp", "ltd"} - set(z.files)
      if missing:
        raise ValueError(f"{path}: arrays {sorted(missing)} missing (has {sorted(z.files)})")
      ltp, ltd = (np.asarray(z[k], np.float64).ravel() for k in ("ltp", "ltd"))
  elif path.suffix == ".csv":
    with open(path, newline="") as f:
      rows = list(csv.DictReader(f))
    if not rows or not {"phase", "conductance"} <= set(rows[0]):
      raise ValueError(f"{path}: needs a header with the columns phase,conductance")
    phases = [(r["phase"] or "").strip().lower() for r in rows]
    unknown = sorted(set(phases) - {"ltp", "ltd"})
    if unknown:  # a misspelt phase would otherwise drop its rows silently
      raise ValueError(f"{path}: phase must be ltp or ltd, got {unknown}")
    try:
      traces = {ph: np.array([float(r["conductance"]) for r, p in zip(rows, phases) if p == ph])
                for ph in ("ltp", "ltd")}
    except (TypeError, ValueError) as e:
      raise ValueError(f"{path}: a conductance is not a number ({e})") from e
    ltp, ltd = traces["ltp"], traces["ltd"]
  else:
    raise ValueError(f"{path}: use a .csv (phase,conductance) or a .npz (ltp, ltd)")
  for name, t in (("ltp", ltp), ("ltd", ltd)):
    if t.size < 2 or not np.all(np.isfinite(t)):
      raise ValueError(f"{path}: the {name} trace needs >= 2 finite values (got {t.size})")
  if not ltp[-1] > ltp[0] or not ltd[-1] < ltd[0]:
    raise ValueError(f"{path}: the ltp trace must end above its start and the ltd trace below "
                     f"its start (ltp {ltp[0]:g} -> {ltp[-1]:g}, ltd {ltd[0]:g} -> {ltd[-1]:g})")
  return ltp, ltd


def monotone_trace(t) -> np.ndarray:
  """A rising trace made strictly rising for inversion: the running maximum, its plateaus
  bridged linearly between the pulses where it rises, and the trailing plateau (saturation)
  cut. A measured trace's scatter is C2C noise, which the model adds separately."""
  c = np.maximum.accumulate(np.asarray(t, np.float64))
  rise = np.flatnonzero(np.diff(c) > 0) + 1
  keep = np.concatenate([[0], rise])
  return np.interp(np.arange(keep[-1] + 1), keep, c[keep])


def measured_device(path, *, name="measured", c2c=0.0, **overrides) -> DeviceSpec:
  """A `DeviceSpec` of the measured-curve mode from a trace file (`read_measured_curve`).
  Both traces are normalised by the overall G_min/G_max, made monotone (`monotone_trace`), and
  P_ltp / P_ltd are their pulse counts to saturation. `c2c` is the cycle-to-cycle sigma per
  pulse as a fraction of the range (the trace itself carries none)."""
  ltp, ltd = read_measured_curve(path)
  g_min, g_max = min(ltp.min(), ltd.min()), max(ltp.max(), ltd.max())
  up = monotone_trace((ltp - g_min) / (g_max - g_min))
  down = -monotone_trace(-(ltd - g_min) / (g_max - g_min))
  spec = DeviceSpec(name, len(up) - 1, len(down) - 1, 0.0, 0.0,
                    float(g_max / g_min) if g_min > 0 else 0.0, float(c2c),  # 0: unknown
                    source=f"measured: {path}", curve_ltp=tuple(map(float, up)),
                    curve_ltd=tuple(map(float, down)))
  return dataclasses.replace(spec, **overrides)


def formula_trace(spec: DeviceSpec) -> tuple[np.ndarray, np.ndarray]:
  """The noise-free LTP / LTD pulse trains of a formula device (normalised g after 0..P pulses
  from G_min, resp. G_max): what `measured_device` needs to reproduce that device."""
  a_p, a_d = curve_a(spec.nl_ltp, spec.p_ltp), curve_a(spec.nl_ltd, spec.p_ltd)
  up = g_of_p(jnp.arange(spec.p_ltp + 1.0), a_p, spec.p_ltp)
  down = g_of_p(spec.p_ltd - jnp.arange(spec.p_ltd + 1.0), a_d, spec.p_ltd)
  return np.asarray(up, np.float64), np.asarray(down, np.float64)


def write_measured_csv(path, ltp, ltd) -> pathlib.Path:
  """Writes a trace in the `.csv` format `read_measured_curve` reads (phase,conductance)."""
  path = pathlib.Path(path)
  with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["phase", "conductance"])
    w.writerows([("ltp", repr(float(v))) for v in ltp] + [("ltd", repr(float(v))) for v in ltd])
  return path


def is_measured(spec) -> bool:
  return bool(getattr(spec, "curve_ltp", ()))


def device_scalars(spec) -> dict:
  """Per-model scalars as float32 arrays (traced, so one compile serves every device); a
  measured device adds its traces' lookup tables (`measured`, see `measured_tables`)."""
  from jaxlab.projects.memristive_dbn import yflash  # yflash imports nothing from here
  if yflash.is_yflash(spec):
    return yflash.scalars(spec)
  f = lambda v: jnp.asarray(v, jnp.float32)
  out = dict(p_ltp=f(spec.p_ltp), p_ltd=f(spec.p_ltd), c2c=f(spec.c2c),
             read_noise=f(spec.read_noise))
  if is_measured(spec):
    out["measured"] = measured_tables(spec.curve_ltp, spec.curve_ltd)
  return out


def init_device_params(key, shape, spec: DeviceSpec) -> dict:
  """Per-device parameters drawn once (D2D): signed A of both curves and the range [lo, hi]
  (a measured device: the range only)."""
  k1, k2, k3, k4 = jax.random.split(key, 4)
  lo = spec.d2d_range * jax.random.normal(k3, shape)
  hi = 1.0 + spec.d2d_range * jax.random.normal(k4, shape)
  lo, hi = jnp.minimum(lo, 0.45), jnp.maximum(hi, 0.55)
  lo, hi = lo.astype(jnp.float32), hi.astype(jnp.float32)
  if is_measured(spec):
    if spec.d2d_nl:
      raise ValueError("a measured device has no NL to vary: set d2d_nl=0 (d2d_range applies)")
    return dict(lo=lo, hi=hi)
  nl_p = spec.nl_ltp + spec.d2d_nl * jax.random.normal(k1, shape)
  nl_d = spec.nl_ltd + spec.d2d_nl * jax.random.normal(k2, shape)
  a_ltp, a_ltd = curve_a(nl_p, spec.p_ltp), curve_a(nl_d, spec.p_ltd)
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
  if "measured" in scal:
    return _finish(g, span * (measured_step(u, m, up, scal) - u), m, dev, scal, key)
  # Select the curve first, then one closed-form step (the same float ops as evaluating both
  # directions and selecting, at half the transcendental cost).
  du = pulse_delta(u, m, jnp.where(up, 1.0, -1.0), jnp.where(up, dev["a_ltp"], dev["a_ltd"]),
                   jnp.where(up, scal["p_ltp"], scal["p_ltd"]))
  return _finish(g, span * du, m, dev, scal, key)


def _finish(g, dg, m, dev, scal, key):
  """Adds the C2C noise of m pulses to the step dg, clips to the device's range, and leaves
  devices with m = 0 untouched."""
  noise = scal["c2c"] * jnp.sqrt(m) * rng.normal(key, g.shape)
  g_new = jnp.clip(g + dg + noise, dev["lo"], dev["hi"])
  return jnp.where(m > 0, g_new, g)


def measured_tables(curve_ltp, curve_ltd, bins: int = 4096) -> dict:
  """The two traces as device scalars for `measured_step` (host side, once per device model).

  Both are stored rising in one flat table (LTD through -g). Inverse interpolation is a gather,
  not a search (jnp.interp's search made a CDacc epoch ~7x slower than the formula devices):
  the trace's value range is cut into `bins` uniform bins, `bins[d, b]` holds the segment that
  contains bin b's left edge, and at most `steps` trace points fall inside one bin, so `steps`
  compare-and-advance passes find the exact segment. `steps` is carried as a shape (static)."""
  flat, start, first, span, off, segs, steps = [], [], [], [], [], [], 1
  for t in (np.asarray(curve_ltp, np.float64), -np.asarray(curve_ltd, np.float64)):
    o = sum(len(f) for f in flat)
    n_seg = len(t) - 1
    edges = t[0] + (t[-1] - t[0]) * np.arange(bins + 1) / bins
    start.append(o + np.clip(np.searchsorted(t, edges[:-1], side="right") - 1, 0, n_seg - 1))
    inside = np.searchsorted(t, edges[1:], side="right") - np.searchsorted(t, edges[:-1],
                                                                            side="right")
    steps = max(steps, int(inside.max()))
    flat.append(t)
    first.append(t[0])
    span.append(t[-1] - t[0])
    off.append(o)
    segs.append(n_seg)
  f32 = lambda v: jnp.asarray(np.asarray(v), jnp.float32)
  i32 = lambda v: jnp.asarray(np.asarray(v), jnp.int32)
  return dict(table=f32(np.concatenate(flat)), bins=i32(np.stack(start)), first=f32(first),
              span=f32(span), off=i32(off), segs=i32(segs), steps=jnp.zeros((steps,), jnp.int8))


def measured_step(u, m, up, scal):
  """Position u' in [0, 1] of the device range after m pulses (direction: `up`) on the measured
  traces. LTP: p = trace_ltp^-1(u), u' = trace_ltp(p + m); LTD likewise on the falling trace
  (both linear interpolation, clamped at the trace ends, as jnp.interp would give). A pulse
  never moves a device against its direction (above the end of the LTP trace it stays put)."""
  t = scal["measured"]
  tab = t["table"]
  pick = lambda a: jnp.where(up, a[0], a[1])  # per-direction scalars: a select, not a gather
  x = jnp.where(up, u, -u)  # the rising coordinate of the pulse's own trace
  off, segs = pick(t["off"]), pick(t["segs"])
  nb = t["bins"].shape[1]
  b = jnp.clip(jnp.floor((x - pick(t["first"])) / pick(t["span"]) * nb), 0, nb - 1)
  k = t["bins"].reshape(-1)[jnp.where(up, 0, nb) + b.astype(jnp.int32)]
  last = off + segs - 1  # the last segment's start
  for _ in range(t["steps"].shape[0]):
    k = jnp.where((k < last) & (x >= tab[k + 1]), k + 1, k)
  lo, hi = tab[k], tab[k + 1]
  p = (k - off) + jnp.clip((x - lo) / (hi - lo), 0.0, 1.0) + m
  p = jnp.clip(p, 0.0, segs.astype(jnp.float32))
  j = off + jnp.minimum(jnp.floor(p).astype(jnp.int32), segs - 1)
  x_new = tab[j] + (p - (j - off)) * (tab[j + 1] - tab[j])
  x_new = jnp.maximum(x, x_new)
  return jnp.where(up, x_new, -x_new)


def device_single_pulse(g, direction, dev, scal, key):
  """`device_pulse` for direction in {-1, 0, +1} with the precomputed single-pulse steps (no
  transcendental functions per batch): dg = s1 + (g - lo) e of the pulse's direction."""
  up = direction > 0
  if "measured" in scal:
    return device_pulse(g, direction, dev, scal, key)
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
