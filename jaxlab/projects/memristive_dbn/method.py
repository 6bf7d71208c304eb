"""Training: CD statistics as integer coincidence counts, the three write rules, and the jitted
epoch functions (greedy CD-1 pre-training of one RBM, up-down fine-tuning of the whole DBN).

Write rules for one synapse array given the batch's integer count dN (the same counts drive all
three, so the schemes differ only in how a count becomes a weight change):
  software  w += lr dN / B                                   (float baseline, the ceiling)
  cdacc     A += dN; k = fix(A / theta); A -= k theta; one pulse sign(k) where k != 0
            (multi_pulse=True: |k| pulses)                    (the proposed digital CD)
  online    dW = lr dN / B -> n = floor(|x|) + Bernoulli(frac |x|) pulses, x = dW / dw_pulse,
            dw_pulse = 2 W_max / P_max, written every batch    (conventional online training)
Every rule returns per-array int32 tallies: pulses, write events (devices written), and the
"(a)" events of conventional online CD on the same trajectory (devices with dN != 0).
No autodiff anywhere: CD is not backprop.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxlab.projects.memristive_dbn import devices
from jaxlab.projects.memristive_dbn import model
from jaxlab.projects.memristive_dbn import rng
from jaxlab.projects.memristive_dbn import yflash

STAT_KEYS = ("pulses", "events", "events_a")


def counts(a, b):
  """Exact integer sum over the batch of outer products a^T b of binary states (as int32)."""
  return jnp.rint(a.T @ b).astype(jnp.int32)


def bias_counts(a):
  return jnp.rint(jnp.sum(a, axis=0)).astype(jnp.int32)


def accumulate(acc, dn, theta: int):
  """Digital CD: acc + dN, k = fix(acc / theta) (toward zero), acc - k theta. Exact integers."""
  acc = acc + dn
  k = jnp.trunc(acc.astype(jnp.float32) / jnp.float32(theta)).astype(jnp.int32)  # exact: |acc| < 2^24
  return acc - k * theta, k


def _count(x):
  """Exact int32 sum of a small non-negative integer-valued array, summed in float32.

  XLA:CPU's int32 reductions are ~8x slower than float32 ones over a 510x2000 array; summing
  columns first keeps every partial sum an integer below 2^24, so the float result is exact.
  """
  x = x.astype(jnp.float32)
  if x.ndim == 2:
    x = jnp.sum(x, axis=0)
  return jnp.rint(jnp.sum(x)).astype(jnp.int32)


def apply_update(syn, dn, key, scheme: str, hp: dict, scal: dict):
  """One array's write rule. Returns (new synapse state, tallies dict of int32 scalars)."""
  if dn.size >= 2 ** 24:
    raise ValueError(f"array of {dn.size} devices: tallies are exact only below 2^24")
  events_a = _count(dn != 0)
  if scheme == "software":
    w = syn["w"] + hp["lr"] * dn.astype(jnp.float32) / hp["batch_size"]
    z = jnp.zeros((), jnp.int32)
    return {"w": w}, {"pulses": z, "events": z, "events_a": events_a}
  k_round, k_c2c = jax.random.split(key)
  acc = syn["acc"]
  if "qfg" in syn:
    return _yflash_update(syn, dn, scheme, hp, scal, events_a)
  if scheme == "cdacc":
    acc, k = accumulate(acc, dn, hp["theta"])
    n = k if hp["multi_pulse"] else jnp.sign(k)
  elif scheme == "online":
    dw = hp["lr"] * dn.astype(jnp.float32) / hp["batch_size"]
    p_max = jnp.where(dw > 0, scal["p_ltp"], scal["p_ltd"])
    x = jnp.abs(dw) * p_max / (2.0 * hp["w_max"])
    lo = jnp.floor(x)
    m = lo + (rng.uniform(k_round, x.shape) < (x - lo))
    n = (jnp.sign(dw) * m).astype(jnp.int32)
  else:
    raise ValueError(f"unknown scheme {scheme!r}; valid: {model.SCHEMES}")
  if scheme == "cdacc" and not hp["multi_pulse"]:
    g = devices.device_single_pulse(syn["g"], n, syn["dev"], scal, k_c2c)
  else:
    g = devices.device_pulse(syn["g"], n, syn["dev"], scal, k_c2c)
  m = jnp.abs(n)
  new = {"g": g, "acc": acc, "count": syn["count"] + m, "dev": syn["dev"]}
  events = _count(m > 0)
  single = scheme == "cdacc" and not hp["multi_pulse"]
  return new, {"pulses": events if single else _count(m), "events": events, "events_a": events_a}


def _yflash_update(syn, dn, scheme, hp, scal, events_a):
  """CDacc on Y-Flash cells: k > 0 erase (G up), k < 0 program (G down), as the follow-up codes."""
  if scheme != "cdacc":
    raise ValueError("Y-Flash arrays support only the 'cdacc' scheme: conventional online CD "
                     "needs a pulse size 2 W_max / P_max, which the Y-Flash physics model lacks")
  acc, k = accumulate(syn["acc"], dn, hp["theta"])
  if hp["multi_pulse"]:
    new = yflash.pulses(syn, k, scal)
    m = jnp.abs(k)
  else:
    m = jnp.abs(jnp.sign(k))
    new = yflash.single_pulse(syn, jnp.sign(k), scal)
  new = dict(new, acc=acc, count=syn["count"] + m)
  return new, {"pulses": _count(m), "events": _count(m > 0), "events_a": events_a}


def update_all(syns, dns, key, scheme, hp, scal):
  new, tal = {}, {}
  for i, name in enumerate(sorted(dns)):
    new[name], tal[name] = apply_update(syns[name], dns[name], jax.random.fold_in(key, i),
                                        scheme, hp, scal)
  for name in syns:
    if name not in new:
      new[name] = syns[name]
  return new, tal


def split_static(syns):
  """(per-batch state, constant device parameters): the D2D parameters never change, so they are
  closed over by the epoch's scan instead of being carried (carrying them copied ~8 device-sized
  arrays per array and batch)."""
  dyn = {n: {k: v for k, v in s.items() if k != "dev"} for n, s in syns.items()}
  dev = {n: s["dev"] for n, s in syns.items() if "dev" in s}
  return dyn, dev


def merge_static(dyn, dev):
  return {n: (dict(s, dev=dev[n]) if n in dev else s) for n, s in dyn.items()}


def zero_tallies(names):
  return {n: {k: jnp.zeros((), jnp.int32) for k in STAT_KEYS} for n in names}


def add_tallies(a, b):
  return jax.tree.map(jnp.add, a, b)


# ---------------------------------------------------------------------------------------------
# Greedy CD-1 pre-training of one RBM.

def rbm_cd_counts(w, v0, key, read_noise, n_labels, label_sampling, w_max, cd_k=1):
  """CD-k statistics of one batch: integer counts for W, bv, bh (and the states)."""
  ks = jax.random.split(key, 2 + 4 * cd_k)
  h0 = model.sample(jax.nn.sigmoid(model.read(v0, w["W"], w["bh"], ks[0], read_noise, w_max)),
                    ks[1])
  h = h0
  for i in range(cd_k):
    kr1, ks1, kr2, ks2 = ks[2 + 4 * i: 6 + 4 * i]
    v1 = model.sample_visible(model.read(h, w["W"].T, w["bv"], kr1, read_noise, w_max), ks1,
                              n_labels, label_sampling)
    h = model.sample(jax.nn.sigmoid(model.read(v1, w["W"], w["bh"], kr2, read_noise, w_max)),
                     ks2)
  dns = {"W": counts(v0, h0) - counts(v1, h), "bv": bias_counts(v0) - bias_counts(v1),
         "bh": bias_counts(h0) - bias_counts(h)}
  return dns


@functools.partial(jax.jit, static_argnames=("scheme", "n_labels", "label_sampling", "theta",
                                             "multi_pulse", "batch_size"), donate_argnums=(0,))
def pretrain_epoch(syns, data, key, scal, lr, *, scheme, n_labels, label_sampling="bernoulli",
                   theta=100, multi_pulse=False, batch_size=100, w_max=1.5):
  """One epoch of CD-1 on one RBM: lax.scan over data [n_batches, B, n_vis] (binary float).

  Returns (synapses, tallies per array summed over the epoch).
  """
  hp = dict(lr=lr, batch_size=batch_size, theta=theta, multi_pulse=multi_pulse, w_max=w_max)

  dyn, dev = split_static(syns)

  def step(carry, xs):
    dyn, tal = carry
    v0, i = xs
    k = jax.random.fold_in(key, i)
    k_cd, k_up = jax.random.split(k)
    syns = merge_static(dyn, dev)
    w = model.weights(syns, w_max)
    dns = rbm_cd_counts(w, v0, k_cd, scal["read_noise"], n_labels, label_sampling, w_max)
    syns, t = update_all(syns, dns, k_up, scheme, hp, scal)
    return (split_static(syns)[0], add_tallies(tal, t)), None

  n = data.shape[0]
  (dyn, tal), _ = jax.lax.scan(step, (dyn, zero_tallies(syns)),
                               (data, jnp.arange(n, dtype=jnp.int32)))
  return merge_static(dyn, dev), tal


@functools.partial(jax.jit, static_argnames=("chunk",))
def deterministic_up(syns, x, key, read_noise, *, chunk=1000, w_max=1.5):
  """Deterministic states 1[sigmoid(I) > 0.5] of a frozen RBM for the whole set x [N, n_vis]."""
  w = model.weights(syns, w_max)
  xs = x.reshape(-1, chunk, x.shape[-1])

  def one(args):
    xb, i = args
    i_h = model.read(xb, w["W"], w["bh"], jax.random.fold_in(key, i), read_noise, w_max)
    return (i_h > 0.0).astype(jnp.float32)

  out = jax.lax.map(one, (xs, jnp.arange(xs.shape[0])))
  return out.reshape(x.shape[0], -1)


# ---------------------------------------------------------------------------------------------
# Up-down (wake-sleep) fine-tuning, every update through the same write rule.

DBN_ARRAYS = ("vishid", "hidrecb", "hidpen", "penrecb", "hidvis", "visgenb", "penhid", "hidgenb",
              "top_W", "top_bv", "top_bh")


def updown_counts(w, data, lab, key, read_noise, n_labels, label_sampling, cd_k, w_max):
  """Integer statistics of one up-down step (Hinton 2006) with stochastic binary states.

  Predictions are sampled binary states too, so every difference is an integer count
  ("wake states minus predictions", "sleep states minus predictions").
  """
  ks = iter(jax.random.split(key, 24 + 4 * cd_k))
  rd = lambda s, wm, b: model.read(s, wm, b, next(ks), read_noise, w_max)
  bern = lambda i: model.sample(jax.nn.sigmoid(i), next(ks))
  # Wake: bottom-up with recognition weights.
  wh = bern(rd(data, w["vishid"], w["hidrecb"]))
  wp = bern(rd(wh, w["hidpen"], w["penrecb"]))
  v_top0 = jnp.concatenate([wp, lab], -1)
  t0 = bern(rd(v_top0, w["top_W"], w["top_bh"]))
  # CD-k in the top RBM (static k: unrolled).
  t = t0
  for _ in range(cd_k):
    v_neg = model.sample_visible(rd(t, w["top_W"].T, w["top_bv"]), next(ks), n_labels,
                                 label_sampling)
    t = bern(rd(v_neg, w["top_W"], w["top_bh"]))
  n_pen = wp.shape[-1]
  # Sleep: top-down with generative weights.
  sp = v_neg[:, :n_pen]
  sh = bern(rd(sp, w["penhid"], w["hidgenb"]))
  sv = bern(rd(sh, w["hidvis"], w["visgenb"]))
  # Predictions.
  psp = bern(rd(sh, w["hidpen"], w["penrecb"]))
  psh = bern(rd(sv, w["vishid"], w["hidrecb"]))
  pv = bern(rd(wh, w["hidvis"], w["visgenb"]))
  ph = bern(rd(wp, w["penhid"], w["hidgenb"]))
  return {
      "hidvis": counts(wh, data - pv), "visgenb": bias_counts(data - pv),
      "penhid": counts(wp, wh - ph), "hidgenb": bias_counts(wh - ph),
      "top_W": counts(v_top0, t0) - counts(v_neg, t),
      "top_bv": bias_counts(v_top0) - bias_counts(v_neg),
      "top_bh": bias_counts(t0) - bias_counts(t),
      "hidpen": counts(sh, sp - psp), "penrecb": bias_counts(sp - psp),
      "vishid": counts(sv, sh - psh), "hidrecb": bias_counts(sh - psh),
  }


@functools.partial(jax.jit, static_argnames=("scheme", "n_labels", "label_sampling", "theta",
                                             "multi_pulse", "batch_size", "cd_k"),
                   donate_argnums=(0,))
def finetune_epoch(syns, data, labels, key, scal, lr, *, scheme, n_labels, cd_k,
                   label_sampling="bernoulli", theta=100, multi_pulse=False, batch_size=100,
                   w_max=1.5):
  """One epoch of up-down fine-tuning: lax.scan over data [nb, B, 784], labels [nb, B, 10]."""
  hp = dict(lr=lr, batch_size=batch_size, theta=theta, multi_pulse=multi_pulse, w_max=w_max)

  dyn, dev = split_static(syns)

  def step(carry, xs):
    dyn, tal = carry
    x, y, i = xs
    k_cd, k_up = jax.random.split(jax.random.fold_in(key, i))
    syns = merge_static(dyn, dev)
    w = model.weights(syns, w_max)
    dns = updown_counts(w, x, y, k_cd, scal["read_noise"], n_labels, label_sampling, cd_k, w_max)
    syns, t = update_all(syns, dns, k_up, scheme, hp, scal)
    return (split_static(syns)[0], add_tallies(tal, t)), None

  (dyn, tal), _ = jax.lax.scan(step, (dyn, zero_tallies(syns)),
                               (data, labels, jnp.arange(data.shape[0], dtype=jnp.int32)))
  return merge_static(dyn, dev), tal


@functools.partial(jax.jit, static_argnames=("n_labels", "mode", "n_samples", "readout",
                                             "chunk"))
def evaluate(syns, x, y, key, read_noise, *, n_labels, mode="det", n_samples=1,
             readout="label_current", chunk=1000, w_max=1.5):
  """Test accuracy of the DBN read-out `mode` (model.predict) on images x [N, 784], labels y [N]."""
  w = model.weights(syns, w_max)
  xs = x.reshape(-1, chunk, x.shape[-1])

  def one(args):
    xb, i = args
    return model.predict(xb, w, jax.random.fold_in(key, i), read_noise, n_labels, mode,
                         n_samples, readout, w_max)

  pred = jax.lax.map(one, (xs, jnp.arange(xs.shape[0]))).reshape(-1)
  return jnp.mean((pred == y).astype(jnp.float32))
