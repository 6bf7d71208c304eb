"""Y-Flash synapse: the physics model of the authors' follow-up (Wang et al., Nature Electronics
2022, arXiv 2203.09046), vectorised over whole crossbar arrays.

A Y-Flash cell is two floating-gate transistors sharing one floating gate: a read transistor and an
injection transistor. The stored charge Q_fg sets the floating-gate voltage through the coupling
capacitances,

    V_fg = (Q_fg + C_gd V_d + C_gsr V_sr + C_gsi V_si) / (C_gd + C_gsr + C_gsi)

(a floating terminal drops out of both sums). Each transistor's drain current is the harmonic
combination of a sub-threshold current I_sub = I_s0 exp((V_fg - V_th) / (n kT)) (1 - exp(-V_ds/kT))
and an above-threshold one I_ab = s I_s0 (1 - exp(-V_ds/kT)) + K/2 (V_fg - V_th)^2 (saturation)
or K (V_fg - V_th - V_ds/2) V_ds (triode), s = 5. Writing moves charge through the gate:

  program (V_d = 5 V, read source floating, injection source 0 V, 200 us): hot-electron
      injection, I_g = -I_s P_0 exp(-V_a / V_fg)  (V_fg >= 0.1 V)   -> Q_fg falls, G falls
  erase (V_d = 0, read source floating, injection source 8 V, 100 us): Fowler-Nordheim
      tunnelling, I_g = xi (V_sg - V_bi)^2 exp(-beta / (V_sg - V_bi))  (V_sg > V_bi) -> G rises

Q_fg += I_g t_p. Cycling degradation: every program pulse moves the device's V_a towards V_a,max
(V_a += (V_a,max - V_a)(exp(t_p / tau_Va) - 1)), every erase pulse moves beta towards beta_max, so
both writes weaken with use. Device-to-device variation: V_a ~ N(23.4, 0.8), beta ~ N(9, 0.8) per
device, Q_fg at init ~ Q_0 (1 + 0.01 N(0, 1)). The conductance is the read current at V_d = 2 V,
both sources at 0, divided by V_read.

Weights: w = V_read (G+ - G-) / I_0 with I_0 = I_max / (W_max - W_min), G- the fixed reference cell
(its own Q_fg draw, never written). Stored as the normalised g = 0.5 + w / (2 W_max) of
`model.weight`, so the read-out and training code see one weight convention for every device.
The weight range is whatever the physics gives (no clipping at W_max), as in the authors' code.

CDacc maps a positive accumulator step (potentiation) to one erase pulse and a negative step to one
program pulse, exactly the follow-up's `weight_update.m`. Conventional online CD (b) needs a pulse
size 2 W_max / P_max, which this model does not have, so it is refused with a clear error.

Deviations / choices (listed in the package docstring too):
  * The model is re-derived from the follow-up's equations and parameter values (read here, not
    copied); written in float32. The harmonic current combination is evaluated as
    1 / (exp(-x) / (I_s0 c) + 1 / I_ab), which equals the authors' form and neither overflows at
    high V_fg nor divides by zero at low V_fg.
  * No read noise or cycle-to-cycle noise (the follow-up's DBN simulation has neither); the
    standalone C2C/D2D fitting data of the follow-up are not modelled.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

KT = 0.026  # thermal voltage [V]
C_GD, C_GSR, C_GSI = 1.5e-11, 1e-12, 1e-12  # coupling capacitances [F]
SMOOTH = 5.0  # above-threshold leakage factor s


@dataclasses.dataclass(frozen=True)
class Transistor:
  vth: float
  k: float
  is0: float
  n: float
  prob0: float  # lucky-electron injection probability prefactor
  vbi: float    # tunnelling barrier offset
  xi: float     # tunnelling prefactor


READ_T = Transistor(vth=0.87, k=1.7e-5, is0=3e-8, n=1.85, prob0=0.0, vbi=5.0, xi=2.5e-8)
INJECT_T = Transistor(vth=0.87 + 0.45, k=2 * 1.7e-5, is0=2 * 3e-8, n=1.85 * 1.3, prob0=5e-3,
                      vbi=5.0, xi=3e-9)


@dataclasses.dataclass(frozen=True)
class YFlashSpec:
  """Y-Flash cell and write protocol (the follow-up's values)."""
  name: str = "yflash"
  qfg_init: float = -1e-11      # initial floating-gate charge [C]
  qfg_init_rel_sigma: float = 0.01
  va_mean: float = 23.4         # D2D: hot-electron energy parameter V_a [V]
  va_sigma: float = 0.8
  beta_mean: float = 9.0        # D2D: tunnelling exponent beta [V]
  beta_sigma: float = 0.8
  va_max: float = 24.0          # cycling degradation targets and time constants
  tau_va: float = 1.0
  beta_max: float = 11.5
  tau_beta: float = 0.5
  cycling: bool = True
  v_prog: float = 5.0           # drain voltage of a program pulse
  v_erase: float = 8.0          # injection-source voltage of an erase pulse
  tp_prog: float = 200e-6       # pulse widths [s]
  tp_erase: float = 100e-6
  v_read: float = 2.0
  i_max: float = 3e-6           # current of the full weight span [A]
  read_noise: float = 0.0       # per-device read noise (fraction of the normalised range)
  c2c: float = 0.0              # kept at 0: the follow-up's DBN has no C2C term
  source: str = "Wang 2022 Y-Flash (Nature Electronics follow-up), physics model"


SPEC = YFlashSpec()


def is_yflash(spec) -> bool:
  return isinstance(spec, YFlashSpec)


def scalars(spec: YFlashSpec) -> dict:
  """Traced float32 scalars of the write protocol (one compile serves every parameter set)."""
  f = lambda v: jnp.asarray(v, jnp.float32)
  return dict(read_noise=f(spec.read_noise), c2c=f(spec.c2c),
              va_step=f(np.expm1(spec.tp_prog / spec.tau_va) * spec.cycling), va_max=f(spec.va_max),
              beta_step=f(np.expm1(spec.tp_erase / spec.tau_beta) * spec.cycling),
              beta_max=f(spec.beta_max), tp_prog=f(spec.tp_prog), tp_erase=f(spec.tp_erase),
              v_prog=f(spec.v_prog), v_erase=f(spec.v_erase), v_read=f(spec.v_read),
              i_max=f(spec.i_max))


def drain_current(vfg, vds, t: Transistor):
  """Source current of one transistor (0 where V_ds <= 0)."""
  on = vds > 0
  vds = jnp.where(on, vds, 1.0)
  c = -jnp.expm1(-vds / KT)
  ov = vfg - t.vth
  quad = jnp.where(ov >= vds, t.k * (ov - vds / 2) * vds, t.k / 2 * ov ** 2)
  i_ab = SMOOTH * t.is0 * c + jnp.where(ov >= 0, quad, 0.0)
  inv_sub = jnp.exp(jnp.minimum(-ov / (t.n * KT), 80.0)) / (t.is0 * c)
  return jnp.where(on, 1.0 / (inv_sub + 1.0 / i_ab), 0.0)


def gate_current(vfg, vd, vs, i_s, t: Transistor, va, beta):
  """Floating-gate current: hot-electron injection (negative) + tunnelling to the source."""
  lucky = jnp.where(vfg >= 0.1, -i_s * t.prob0 * jnp.exp(-va / jnp.maximum(vfg, 0.1)), 0.0)
  vsg = vs - vfg - t.vbi
  safe = jnp.maximum(vsg, 1e-3)
  tunnel = jnp.where(vsg > 0, t.xi * safe ** 2 * jnp.exp(-beta / safe), 0.0)
  return lucky + tunnel


def conductance(qfg, v_read=2.0):
  """Read conductance: both transistors' current at V_d = V_read, sources at 0, over V_read."""
  vfg = (qfg + C_GD * v_read) / (C_GD + C_GSR + C_GSI)
  return (drain_current(vfg, v_read, READ_T) + drain_current(vfg, v_read, INJECT_T)) / v_read


def program(qfg, va, beta, scal):
  """One program pulse (hot-electron injection; tunnelling too, should V_fg fall below -V_bi):
  returns (Q_fg', V_a')."""
  vd = scal["v_prog"]
  vfg = (qfg + C_GD * vd) / (C_GD + C_GSI)  # read source floating, injection source at 0
  i_s = drain_current(vfg, vd, INJECT_T)
  ig = gate_current(vfg, vd, 0.0, i_s, INJECT_T, va, beta)
  return qfg + ig * scal["tp_prog"], va + (scal["va_max"] - va) * scal["va_step"]


def erase(qfg, va, beta, scal):
  """One erase pulse (Fowler-Nordheim tunnelling to the injection source): (Q_fg', beta')."""
  vs = scal["v_erase"]
  vfg = (qfg + C_GSI * vs) / (C_GD + C_GSI)  # drain at 0, read source floating
  ig = gate_current(vfg, 0.0, vs, 0.0, INJECT_T, va, beta)  # no channel current: I_s = 0
  return qfg + ig * scal["tp_erase"], beta + (scal["beta_max"] - beta) * scal["beta_step"]


def normalised(g_pos, g_neg, scal):
  """g = 0.5 + w / (2 W_max) with w = V_read (G+ - G-) / I_0, I_0 = I_max / (2 W_max)."""
  return 0.5 + scal["v_read"] * (g_pos - g_neg) / scal["i_max"]


def init_synapse(key, shape, spec: YFlashSpec) -> dict:
  """One array of Y-Flash pairs at the follow-up's initial state (its weights come from the
  physics, not from `w_std`): {g, qfg, va, beta, acc, count, dev: {g_neg}}."""
  k1, k2, k3, k4 = jax.random.split(key, 4)
  q = lambda k: spec.qfg_init * (1 + spec.qfg_init_rel_sigma * jax.random.normal(k, shape))
  qfg = q(k1).astype(jnp.float32)
  g_neg = conductance(q(k2).astype(jnp.float32), spec.v_read)
  scal = scalars(spec)
  return {"g": normalised(conductance(qfg, spec.v_read), g_neg, scal), "qfg": qfg,
          "va": (spec.va_mean + spec.va_sigma * jax.random.normal(k3, shape)).astype(jnp.float32),
          "beta": (spec.beta_mean + spec.beta_sigma * jax.random.normal(k4, shape)).astype(
              jnp.float32),
          "acc": jnp.zeros(shape, jnp.int32), "count": jnp.zeros(shape, jnp.int32),
          "dev": {"g_neg": g_neg}}


def single_pulse(syn, direction, scal):
  """One pulse per device: direction > 0 erase (potentiation), < 0 program, 0 untouched.

  Returns the updated {g, qfg, va, beta} (other keys untouched)."""
  q_p, va_p = program(syn["qfg"], syn["va"], syn["beta"], scal)
  q_e, beta_e = erase(syn["qfg"], syn["va"], syn["beta"], scal)
  up, down = direction > 0, direction < 0
  qfg = jnp.where(up, q_e, jnp.where(down, q_p, syn["qfg"]))
  out = dict(syn, qfg=qfg, va=jnp.where(down, va_p, syn["va"]),
             beta=jnp.where(up, beta_e, syn["beta"]))
  out["g"] = normalised(conductance(qfg, scal["v_read"]), syn["dev"]["g_neg"], scal)
  return out


def pulses(syn, n, scal):
  """|n| pulses per device in direction sign(n) (multi_pulse CDacc): a loop over pulse index up
  to max |n|, each device stepping while it has pulses left."""
  m = jnp.abs(n)

  def body(i, s):
    return single_pulse(s, jnp.where(m > i, jnp.sign(n), 0), scal)

  return jax.lax.fori_loop(0, jnp.max(m), body, syn)


def pulse_curve(spec: YFlashSpec = SPEC, n_erase: int = 200, n_prog: int = 200):
  """Conductance trace of one nominal cell (no D2D): n_erase erase pulses from the initial state,
  then n_prog program pulses (for plots and tests). Returns G [S] including the start."""
  scal = scalars(spec)
  q0 = jnp.full((1,), spec.qfg_init, jnp.float32)
  syn = {"qfg": q0, "va": jnp.full((1,), spec.va_mean, jnp.float32),
         "beta": jnp.full((1,), spec.beta_mean, jnp.float32),
         "dev": {"g_neg": jnp.zeros((1,), jnp.float32)}}
  seq = jnp.concatenate([jnp.ones(n_erase), -jnp.ones(n_prog)])

  def step(s, d):
    s = single_pulse(s, d[None], scal)
    return s, s["qfg"][0]

  syn["g"] = jnp.zeros((1,), jnp.float32)
  _, q = jax.lax.scan(step, syn, seq)
  q = jnp.concatenate([q0, q])
  return np.asarray(conductance(q, spec.v_read))
