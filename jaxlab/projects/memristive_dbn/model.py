"""The DBN on crossbars: synapse state, analog read (VMM + read noise), stochastic binary units,
and the two read-outs (deterministic `binary_frz` and sampling `binary_samp`).

Layout (Hinton 2006): 784 visible -> RBM1 (n_hid) -> RBM2 (n_pen) -> top RBM over (pen + 10
label units) <-> n_top. Every weight and bias is one synapse array; a bias is a row driven by a
constant input 1 (the bias line at V_read).

Synapse state of one array (a dict):
  software:        {"w"}                                  float weights
  device schemes:  {"g", "acc", "count", "dev": {a_ltp, a_ltd, lo, hi}}
                   g normalised conductance of G+ (G_ref fixed at mid range, w = 2 W_max (g - 0.5)),
                   acc the int32 digital CD accumulator, count the int32 pulses written per device.
  Y-Flash:         {"g", "qfg", "va", "beta", "acc", "count", "dev": {g_neg}}  (yflash.py; g is
                   the same normalised weight, derived from the floating-gate charge qfg)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlab.projects.memristive_dbn import devices
from jaxlab.projects.memristive_dbn import rng
from jaxlab.projects.memristive_dbn import yflash

SOFTWARE = "software"
SCHEMES = ("software", "cdacc", "online")
G_REF = 0.5


def layer_sizes(cfg):
  return int(cfg.model.n_vis), int(cfg.model.n_hid), int(cfg.model.n_pen), \
      int(cfg.model.n_top), int(cfg.model.n_labels)


def rbm_shapes(n_vis, n_hid):
  """Array name -> shape of one RBM: weights W [n_vis, n_hid], visible and hidden biases."""
  return {"W": (n_vis, n_hid), "bv": (n_vis,), "bh": (n_hid,)}


def init_synapses(key, shapes: dict, scheme: str, spec=None, w_std: float = 0.01,
                  w_max: float = 1.5, init_w: dict | None = None) -> dict:
  """Initial synapse state for named arrays: weights ~ N(0, w_std^2), biases 0 (or `init_w`).

  Device schemes map the same initial weights onto G+ = G_ref + w / (2 W_max) and draw the D2D
  parameters of every device. The same key gives the same initial weights for every scheme.
  A Y-Flash spec starts every array at the follow-up's initial floating-gate charge instead (its
  initial weights come from the device physics; `w_std` and `init_w` do not apply).
  """
  if scheme not in SCHEMES:
    raise ValueError(f"unknown scheme {scheme!r}; valid: {SCHEMES}")
  if scheme != SOFTWARE and yflash.is_yflash(spec):
    if init_w:
      raise ValueError("init_w is not supported for Y-Flash arrays (their state is a charge)")
    return {name: yflash.init_synapse(jax.random.fold_in(key, i), tuple(shape), spec)
            for i, (name, shape) in enumerate(sorted(shapes.items()))}
  out = {}
  for i, (name, shape) in enumerate(sorted(shapes.items())):
    k_w, k_d = jax.random.split(jax.random.fold_in(key, i))
    if init_w is not None and name in init_w:
      w = jnp.asarray(init_w[name], jnp.float32)
      if w.shape != tuple(shape):
        raise ValueError(f"init weight {name}: shape {w.shape}, expected {tuple(shape)}")
    elif len(shape) == 2:
      w = w_std * jax.random.normal(k_w, shape, jnp.float32)
    else:
      w = jnp.zeros(shape, jnp.float32)
    if scheme == SOFTWARE:
      out[name] = {"w": w}
    else:
      dev = devices.init_device_params(k_d, shape, spec)
      g = jnp.clip(G_REF + w / (2 * w_max), dev["lo"], dev["hi"])
      out[name] = {"g": g, "acc": jnp.zeros(shape, jnp.int32),
                   "count": jnp.zeros(shape, jnp.int32), "dev": dev}
  return out


def weight(syn: dict, w_max: float = 1.5):
  """The weight a synapse array represents: w itself, or 2 W_max (G+ - G_ref) normalised."""
  if "w" in syn:
    return syn["w"]
  return 2.0 * w_max * (syn["g"] - G_REF)


def weights(syns: dict, w_max: float = 1.5) -> dict:
  return {k: weight(v, w_max) for k, v in syns.items()}


def read(s, w, b, key, read_noise, w_max: float = 1.5):
  """Crossbar VMM in weight units: s [B, n_in] (binary read voltages) @ w + bias line.

  Read noise: every device's conductance fluctuates with sigma = read_noise (fraction of the
  range), so the column current gets N(0, (read_noise 2 W_max)^2 (sum_i s_i + 1)).
  """
  i = s @ w + b
  std = read_noise * 2.0 * w_max * jnp.sqrt(jnp.sum(s, axis=-1, keepdims=True) + 1.0)
  return i + std * rng.normal(key, i.shape)


def sample(p, key):
  """Stochastic binary neuron: 1[p > u], u ~ U(0, 1), as float32."""
  return rng.bernoulli(key, p)


def sample_visible(i_vis, key, n_labels: int, label_sampling: str = "bernoulli"):
  """Visible reconstruction of an RBM whose last `n_labels` units are a softmax label group.

  'bernoulli' (as coded by the authors): softmax probabilities, then an independent Bernoulli per
  label unit; 'categorical': one label unit on.
  """
  k1, k2 = jax.random.split(key)
  if n_labels == 0:
    return sample(jax.nn.sigmoid(i_vis), k1)
  body = sample(jax.nn.sigmoid(i_vis[:, :-n_labels]), k1)
  p_lab = jax.nn.softmax(i_vis[:, -n_labels:], axis=-1)
  if label_sampling == "bernoulli":
    lab = sample(p_lab, k2)
  elif label_sampling == "categorical":
    lab = jax.nn.one_hot(jax.random.categorical(k2, jnp.log(p_lab + 1e-30)), n_labels)
  else:
    raise ValueError(f"label_sampling must be 'bernoulli' or 'categorical', got {label_sampling!r}")
  return jnp.concatenate([body, lab], axis=-1)


READ_MODES = ("det", "samp", "analog")


def _states(p, key, mode: str):
  """Unit states from probabilities: 'det' 1[p > 0.5], 'samp' Bernoulli, 'analog' p itself."""
  if mode == "det":
    return (p > 0.5).astype(jnp.float32)
  if mode == "samp":
    return sample(p, key)
  if mode == "analog":
    return p
  raise ValueError(f"read-out mode must be one of {READ_MODES}, got {mode!r}")


def up_pass(x, w, key, read_noise, mode: str = "det", w_max: float = 1.5):
  """Recognition pass data -> hid -> pen with unit states as `_states(mode)`."""
  k1, k2, k3, k4 = jax.random.split(key, 4)
  h = _states(jax.nn.sigmoid(read(x, w["vishid"], w["hidrecb"], k1, read_noise, w_max)), k2, mode)
  return _states(jax.nn.sigmoid(read(h, w["hidpen"], w["penrecb"], k3, read_noise, w_max)), k4,
                 mode)


def label_logits(pen, w, key, read_noise, n_labels: int, mode: str = "det",
                 readout: str = "label_current", w_max: float = 1.5):
  """Label scores from pen states through the top RBM.

  'label_current' (the spec's read-out): top units from pen (labels off), states as
  `_states(mode)`, then the top-down current into the label units. 'free_energy': the exact
  log-probability of each label clamped with pen (Hinton 2006's classification).
  """
  wt, bv, bh = w["top_W"], w["top_bv"], w["top_bh"]
  n_pen = pen.shape[-1]
  k1, k2, k3 = jax.random.split(key, 3)
  if readout == "free_energy":
    i_top = read(pen, wt[:n_pen], bh, k1, read_noise, w_max)
    f = i_top[:, None, :] + wt[n_pen:][None, :, :]
    return bv[n_pen:][None, :] + jnp.sum(jax.nn.softplus(f), axis=-1)
  if readout != "label_current":
    raise ValueError(f"readout must be 'label_current' or 'free_energy', got {readout!r}")
  t = _states(jax.nn.sigmoid(read(pen, wt[:n_pen], bh, k1, read_noise, w_max)), k2, mode)
  return read(t, wt[n_pen:].T, bv[n_pen:], k3, read_noise, w_max)


def predict(x, w, key, read_noise, n_labels: int, mode: str = "det", n_samples: int = 1,
            readout: str = "label_current", w_max: float = 1.5):
  """Predicted class of images x [N, 784] in [0, 1], the three read-outs of the follow-up's
  test code (`binary_frz`, `binary_samp`, `analog`):

  'det': one up-pass with states 1[p > 0.5] at every layer (x is expected binary).
  'samp': `n_samples` stochastic passes; each draws the visible units as Bernoulli(x) afresh
    (a no-op on binary x; grey-level x gives the follow-up's per-pass pixel sampling) and every
    hidden layer as Bernoulli(p); the label currents are summed over passes, then the argmax.
  'analog': one mean-field pass, probabilities as states at every layer (x grey or binary).
  """
  if mode != "samp":
    pen = up_pass(x, w, key, read_noise, mode, w_max)
    return jnp.argmax(label_logits(pen, w, jax.random.fold_in(key, 1), read_noise, n_labels,
                                   mode, readout, w_max), -1)

  def one(k):
    v = sample(x, jax.random.fold_in(k, 2))
    pen = up_pass(v, w, k, read_noise, "samp", w_max)
    return label_logits(pen, w, jax.random.fold_in(k, 1), read_noise, n_labels, "samp", readout,
                        w_max)

  currents = jax.lax.map(one, jax.random.split(key, n_samples))
  return jnp.argmax(jnp.sum(currents, 0), -1)
