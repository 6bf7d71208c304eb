"""The pure-JAX Mamba slow-net: chunked scan vs a sequential reference, recurrent mode, causality,
masked-prefix and packed-sequence equivalence."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.projects.fsg_bnn import slownet

KEY = jax.random.key(0, impl="unsafe_rbg")


def _params(d_inner=6, d_state=4, d_conv=4):
  return slownet.init_mamba(jax.random.PRNGKey(0), d_inner=d_inner, d_state=d_state, d_conv=d_conv)


def test_init_shapes_and_mamba_ssm_init():
  p = _params(d_inner=16, d_state=16, d_conv=8)
  chex.assert_shape(p["in_proj"], (1, 32))
  chex.assert_shape(p["conv_w"], (8, 16))
  chex.assert_shape(p["x_proj"], (16, 1 + 32))
  chex.assert_shape(p["dt_proj_w"], (1, 16))
  np.testing.assert_allclose(-np.exp(p["A_log"][3]), -np.arange(1, 17), rtol=1e-6)
  np.testing.assert_array_equal(p["D"], 1.0)
  dt = jax.nn.softplus(p["dt_proj_b"])
  assert float(dt.min()) >= 1e-3 * 0.999 and float(dt.max()) <= 1e-1 * 1.001


def test_chunked_scan_matches_sequential_reference():
  p = _params()
  u = jax.random.normal(KEY, (53,))
  ref = slownet.mamba_reference(p, u)
  for chunk in (8, 16, 53, 64):
    out = slownet.mamba_apply(p, u, chunk=chunk)
    chex.assert_shape(out, (53,))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_recurrent_step_mode_matches_scan():
  p = _params()
  u = jax.random.normal(KEY, (12,))
  state = slownet.init_step_state(p)
  outs = []
  for t in range(12):
    state, y = slownet.mamba_step(p, state, u[t])
    outs.append(y)
  np.testing.assert_allclose(jnp.stack(outs), slownet.mamba_apply(p, u, chunk=4),
                             rtol=1e-5, atol=1e-5)


def test_causality_output_i_ignores_inputs_after_i():
  p = _params()
  u = jax.random.normal(KEY, (20,))
  jac = jax.jacrev(lambda v: slownet.mamba_apply(p, v, chunk=8))(u)   # [out, in]
  upper = np.triu(np.abs(np.asarray(jac)), k=1)
  assert upper.max() == 0.0
  assert np.abs(np.diag(np.asarray(jac))).min() > 0  # and it does depend on the current input


def test_masked_prefix_equals_unpadded_sequence():
  p = _params()
  u = jax.random.normal(KEY, (15,))
  pad = 9
  padded = jnp.concatenate([jnp.zeros((pad,)), u])
  mask = jnp.arange(pad + 15) >= pad
  out = slownet.mamba_apply(p, padded, mask, chunk=8)[pad:]
  np.testing.assert_allclose(out, slownet.mamba_apply(p, u, chunk=8), rtol=1e-5, atol=1e-6)


def test_reset_packs_independent_sequences():
  p = _params(d_conv=4)
  a = jax.random.normal(KEY, (10,))
  b = jax.random.normal(jax.random.fold_in(KEY, 1), (7,))
  lead = 3
  seq = jnp.concatenate([a, jnp.zeros((lead,)), b])
  mask = jnp.ones(seq.shape, bool).at[10:10 + lead].set(False)
  reset = jnp.zeros(seq.shape, bool).at[10 + lead].set(True)
  out = slownet.mamba_apply(p, seq, mask, chunk=8, reset=reset)
  np.testing.assert_allclose(out[-7:], slownet.mamba_apply(p, b, chunk=8), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(out[:10], slownet.mamba_apply(p, a, chunk=8), rtol=1e-5, atol=1e-6)
