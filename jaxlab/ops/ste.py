"""Straight-through estimators (STE) for quantised and binary networks, as `jax.custom_vjp`.

A quantiser Q (sign, rounding) has a zero or undefined derivative almost everywhere, so its
backward pass is replaced (Bengio et al. 2013, arXiv:1308.3432; Courbariaux et al. 2016,
arXiv:1602.02830; DoReFa-Net, Zhou et al. 2016, arXiv:1606.06160):

* `ste_sign(x)`: forward sign(x) in {-1, +1} (sign(0) = +1), backward g * 1[|x| <= clip]
  (the clipped STE, "hardtanh" gradient).
* `ste_round(w, bits)`: forward round(w (2^b - 1)) / (2^b - 1), backward g * 1[|w| <= 1]
  (DoReFa's quantize_k; the gate is always open for w in [0, 1]).
* `dorefa_normalize(w)`: the DoReFa weight map tanh(w) / max|tanh(w)| / 2 + 1/2 into [0, 1]
  with the max held constant (detached), as the official MetaQuant/FSG code does.
* `dorefa_weight(w, bits)`: 2 ste_round(dorefa_normalize(w), bits) - 1; for bits = 1 this is
  sign(w) in {-1, +1}. Its gradient w.r.t. w is `dorefa_scale(w) * g` (plain autodiff through
  the two pieces above).
* `dorefa_scale(w)`: the chain-rule factor c = (1 - tanh^2 w) / max|tanh w| of `dorefa_weight`
  (detached), which hypernetwork estimators (MetaQuant, FSG) multiply their learned gradients by.
* `meta_ste(w, scale)`: forward identity, backward g * scale for a *given* per-weight scale.
  Handy to plug a fixed, already computed gradient correction into a backward pass. It does
  not train the network that produced `scale` (the scale enters only the backward pass, so it
  receives no gradient); MetaQuant/FSG train their hypernetworks through a look-ahead weight
  instead (see `jaxlab.projects.fsg_bnn`).

All functions are elementwise, jit/vmap-safe and keep the input dtype.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _sign(x):
  return jnp.where(x >= 0, jnp.ones_like(x), -jnp.ones_like(x))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def ste_sign(x: jax.Array, clip: float = 1.0) -> jax.Array:
  """sign(x) in {-1, +1} with the clipped straight-through gradient g * 1[|x| <= clip]."""
  return _sign(x)


def _ste_sign_fwd(x, clip):
  return _sign(x), x


def _ste_sign_bwd(clip, x, g):
  return (g * (jnp.abs(x) <= clip).astype(g.dtype),)


ste_sign.defvjp(_ste_sign_fwd, _ste_sign_bwd)


def _check_bits(bits):
  if not isinstance(bits, int) or bits < 1:
    raise ValueError(f"bits must be a Python int >= 1 (32 means no quantisation), got {bits!r}")


def _round_forward(w, bits):
  n = float(2 ** bits - 1)
  return jnp.round(w * n) / n


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _ste_round(w, bits):
  return _round_forward(w, bits)


def _ste_round_fwd(w, bits):
  return _round_forward(w, bits), w


def _ste_round_bwd(bits, w, g):
  return (g * (jnp.abs(w) <= 1).astype(g.dtype),)


_ste_round.defvjp(_ste_round_fwd, _ste_round_bwd)


def ste_round(w: jax.Array, bits: int = 1) -> jax.Array:
  """DoReFa's quantize_k: round(w (2^b-1)) / (2^b-1), backward g * 1[|w| <= 1]."""
  _check_bits(bits)
  return _ste_round(w, bits)


def dorefa_normalize(w: jax.Array) -> jax.Array:
  """tanh(w) / max|tanh(w)| / 2 + 1/2 in [0, 1]; the max is detached (as in the official code)."""
  t = jnp.tanh(w)
  m = jax.lax.stop_gradient(jnp.max(jnp.abs(t)))
  m = jnp.maximum(m, jnp.finfo(t.dtype).tiny)
  return t / m * 0.5 + 0.5


def dorefa_weight(w: jax.Array, bits: int = 1) -> jax.Array:
  """DoReFa weight quantiser: 2 ste_round(dorefa_normalize(w), bits) - 1 (bits = 1: sign(w))."""
  if bits == 32:
    return w
  return 2.0 * ste_round(dorefa_normalize(w), bits) - 1.0


def dorefa_scale(w: jax.Array) -> jax.Array:
  """c = (1 - tanh^2 w) / max|tanh w|: d dorefa_weight / d w with the max held constant."""
  w = jax.lax.stop_gradient(w)
  t = jnp.tanh(w)
  m = jnp.maximum(jnp.max(jnp.abs(t)), jnp.finfo(t.dtype).tiny)
  return (1.0 - t * t) / m


@jax.custom_vjp
def meta_ste(w: jax.Array, scale: jax.Array) -> jax.Array:
  """Identity forward; backward multiplies the incoming gradient by the given `scale`.

  `scale` gets a zero cotangent: a network producing it is not trained by this op.
  """
  return w


def _meta_fwd(w, scale):
  return w, scale


def _meta_bwd(scale, g):
  return g * scale, jnp.zeros_like(scale)


meta_ste.defvjp(_meta_fwd, _meta_bwd)


def quantize_activation(x: jax.Array, bits: int) -> jax.Array:
  """act_bits in {32, 1}: identity, or `ste_sign` with clip 1."""
  if bits == 32:
    return x
  if bits == 1:
    return ste_sign(x, 1.0)
  raise ValueError(f"activation bits must be 32 or 1, got {bits!r}")
