"""FSG's slow-net: one Mamba block (Gu & Dao 2023, arXiv:2312.00752) on a scalar sequence, in pure JAX.

Layout and init follow `mamba_ssm.Mamba` (d_model = 1 here, as FSG uses it):

  u [T] -> in_proj (1 -> 2 d_inner, no bias) -> x, z
  x -> causal depthwise conv1d (kernel d_conv, left zero pad, bias) -> SiLU
  x -> x_proj (d_inner -> dt_rank + 2 d_state) -> dt_low, B, C
  dt = softplus(dt_proj(dt_low) + dt_bias)
  h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t ;  y_t = C_t . h_t + D x_t
  out = out_proj(y * SiLU(z))  (d_inner -> 1, no bias)

A = -exp(A_log), A_log = log(1..d_state); dt_bias = softplus^{-1}(dt) with dt log-uniform in
[1e-3, 1e-1]; D = 1. The scan runs as `lax.associative_scan` inside fixed-size chunks and a
`lax.scan` carrying h across chunks (chunk body under `jax.checkpoint`), so memory is
O(chunk d_inner d_state) and no [T, d_inner, d_state] array is ever materialised.

`mask` [T] (True = real token) makes padded positions exact no-ops: x = 0 and dt = 0 there, so the
state passes through unchanged. Padding must sit *before* the real tokens and its input u must be
0, then the causal conv of the real tokens sees the same zeros as mamba-ssm's own left padding and
the output on the real tokens equals the output of the unpadded sequence.

This module is generic; it lives in the project until a second project needs a Mamba block
(then it moves to `jaxlab/nn/mamba.py`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def init_mamba(rng, *, d_inner: int, d_state: int = 16, d_conv: int = 8, dt_rank: int | None = None,
               dt_min: float = 1e-3, dt_max: float = 1e-1, dt_init_floor: float = 1e-4) -> dict:
  """Parameters of a d_model = 1 Mamba block, initialised as mamba_ssm.Mamba does."""
  d_model = 1
  dt_rank = dt_rank or math.ceil(d_model / 16)
  ks = jax.random.split(rng, 6)

  def unif(k, shape, fan_in):  # torch nn.Linear / Conv1d default init
    b = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(k, shape, jnp.float32, -b, b)

  dt = jnp.exp(jax.random.uniform(ks[4], (d_inner,)) * (math.log(dt_max) - math.log(dt_min))
               + math.log(dt_min))
  dt = jnp.maximum(dt, dt_init_floor)
  dt_bias = dt + jnp.log(-jnp.expm1(-dt))  # inverse softplus
  dt_std = dt_rank ** -0.5
  return {
      "in_proj": unif(ks[0], (d_model, 2 * d_inner), d_model),
      "conv_w": unif(ks[1], (d_conv, d_inner), d_conv),
      "conv_b": unif(ks[2], (d_inner,), d_conv),
      "x_proj": unif(ks[3], (d_inner, dt_rank + 2 * d_state), d_inner),
      "dt_proj_w": jax.random.uniform(ks[5], (dt_rank, d_inner), jnp.float32, -dt_std, dt_std),
      "dt_proj_b": dt_bias.astype(jnp.float32),
      "A_log": jnp.log(jnp.tile(jnp.arange(1, d_state + 1, dtype=jnp.float32), (d_inner, 1))),
      "D": jnp.ones((d_inner,), jnp.float32),
      "out_proj": unif(jax.random.fold_in(rng, 7), (d_inner, d_model), d_inner),
  }


def _dims(p):
  d_inner = p["D"].shape[0]
  d_state = p["A_log"].shape[1]
  dt_rank = p["dt_proj_w"].shape[0]
  return d_inner, d_state, dt_rank


def _pre_scan(p, u, mask):
  """u [T] -> (x, z, dt [T, Di], B, C [T, N]) with masked positions zeroed in x and dt."""
  d_inner, d_state, dt_rank = _dims(p)
  xz = u[:, None] * p["in_proj"][0][None, :]
  x, z = xz[:, :d_inner], xz[:, d_inner:]
  k = p["conv_w"].shape[0]
  xp = jnp.pad(x, ((k - 1, 0), (0, 0)))
  # Causal depthwise conv: out_t = sum_j w_j x_{t - (k-1) + j}.
  x = sum(xp[j:j + x.shape[0]] * p["conv_w"][j] for j in range(k)) + p["conv_b"]
  x = jax.nn.silu(x)
  dbc = x @ p["x_proj"]
  dt_low, b, c = dbc[:, :dt_rank], dbc[:, dt_rank:dt_rank + d_state], dbc[:, dt_rank + d_state:]
  dt = jax.nn.softplus(dt_low @ p["dt_proj_w"] + p["dt_proj_b"])
  if mask is not None:
    m = mask.astype(x.dtype)[:, None]
    x, dt = x * m, dt * m
  return x, z, dt, b, c


def _post(p, x, z, y):
  y = y + x * p["D"]
  return (y * jax.nn.silu(z)) @ p["out_proj"][:, 0]


def mamba_apply(p: dict, u: jax.Array, mask: jax.Array | None = None, *, chunk: int = 256,
                reset: jax.Array | None = None) -> jax.Array:
  """Output [T] of the block on the scalar sequence `u` [T] (chunked selective scan).

  `reset` [T] (bool, optional) zeroes the state before position t, so several independent
  sequences can be packed into one scan (each preceded by >= d_conv - 1 masked zeros so the
  causal conv does not leak across them either).
  """
  if u.ndim != 1:
    raise ValueError(f"mamba_apply expects a 1-D scalar sequence [T], got shape {u.shape}")
  x, z, dt, b, c = _pre_scan(p, u, mask)
  a = -jnp.exp(p["A_log"])  # [Di, N]
  keep = (jnp.ones_like(dt[:, :1]) if reset is None
          else 1.0 - reset.astype(dt.dtype)[:, None])  # [T, 1]
  t = u.shape[0]
  chunk = int(min(chunk, t))
  pad = (-t) % chunk
  if pad:  # trailing pad: dt = 0, x = 0 -> state unchanged; outputs are dropped below
    x_s, dt_s = jnp.pad(x, ((0, pad), (0, 0))), jnp.pad(dt, ((0, pad), (0, 0)))
    b_s, c_s = jnp.pad(b, ((0, pad), (0, 0))), jnp.pad(c, ((0, pad), (0, 0)))
    k_s = jnp.pad(keep, ((0, pad), (0, 0)), constant_values=1.0)
  else:
    x_s, dt_s, b_s, c_s, k_s = x, dt, b, c, keep
  n = (t + pad) // chunk
  split = lambda v: v.reshape((n, chunk) + v.shape[1:])

  def combine(left, right):
    a1, b1 = left
    a2, b2 = right
    return a1 * a2, a2 * b1 + b2

  @jax.checkpoint
  def body(h, inp):
    xc, dtc, bc, cc, kc = inp
    da = jnp.exp(dtc[:, :, None] * a[None]) * kc[:, :, None]    # [chunk, Di, N]
    dbx = (dtc * xc)[:, :, None] * bc[:, None, :]               # [chunk, Di, N]
    cum_a, cum_b = jax.lax.associative_scan(combine, (da, dbx), axis=0)
    hs = cum_a * h[None] + cum_b
    y = jnp.einsum("tdn,tn->td", hs, cc)
    return hs[-1], y

  h0 = jnp.zeros(a.shape, x.dtype)
  _, y = jax.lax.scan(body, h0, (split(x_s), split(dt_s), split(b_s), split(c_s),
                                        split(k_s)))
  y = y.reshape((n * chunk, -1))[:t]
  return _post(p, x, z, y)


def mamba_reference(p: dict, u: jax.Array, mask: jax.Array | None = None) -> jax.Array:
  """Naive sequential `lax.scan` over time (the test reference)."""
  x, z, dt, b, c = _pre_scan(p, u, mask)
  a = -jnp.exp(p["A_log"])

  def step(h, inp):
    xt, dtt, bt, ct = inp
    h = jnp.exp(dtt[:, None] * a) * h + (dtt * xt)[:, None] * bt[None, :]
    return h, h @ ct

  _, y = jax.lax.scan(step, jnp.zeros(a.shape, x.dtype), (x, dt, b, c))
  return _post(p, x, z, y)


def mamba_step(p: dict, state: tuple, u_t: jax.Array) -> tuple[tuple, jax.Array]:
  """Recurrent (inference) mode of mamba_ssm: one token, state = (conv window [k-1, Di], h [Di, N])."""
  d_inner, d_state, dt_rank = _dims(p)
  conv_buf, h = state
  xz = u_t * p["in_proj"][0]
  x, z = xz[:d_inner], xz[d_inner:]
  window = jnp.concatenate([conv_buf, x[None]], 0)             # [k, Di]
  x = jax.nn.silu((window * p["conv_w"]).sum(0) + p["conv_b"])
  dbc = x @ p["x_proj"]
  dt_low, b, c = dbc[:dt_rank], dbc[dt_rank:dt_rank + d_state], dbc[dt_rank + d_state:]
  dt = jax.nn.softplus(dt_low @ p["dt_proj_w"] + p["dt_proj_b"])
  a = -jnp.exp(p["A_log"])
  h = jnp.exp(dt[:, None] * a) * h + (dt * x)[:, None] * b[None, :]
  y = h @ c + p["D"] * x
  out = (y * jax.nn.silu(z)) @ p["out_proj"][:, 0]
  return (window[1:], h), out


def init_step_state(p: dict):
  d_inner, d_state, _ = _dims(p)
  k = p["conv_w"].shape[0]
  return jnp.zeros((k - 1, d_inner)), jnp.zeros((d_inner, d_state))
