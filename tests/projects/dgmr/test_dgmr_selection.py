"""DGMR's Gram-Schmidt selection against the column-pivoted QR oracle (scipy, float64), the k-round
wrapper, the fc1-row / SwiGLU-concatenation layouts and the baselines' selection rules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from jaxlab import nn as jnn
from jaxlab.projects.dgmr import method


def _weights(h, d, seed=0):
  rng = np.random.default_rng(seed)
  # Row scales spread the norms so that the pivots are well separated (no near ties).
  return (rng.standard_normal((h, d)) * rng.uniform(0.3, 3.0, (h, 1))).astype(np.float32)


def _qr_pivots(w):
  _, r, piv = scipy.linalg.qr(np.asarray(w, np.float64).T, pivoting=True, mode="economic")
  return piv, np.abs(np.diag(r))


@pytest.mark.parametrize("h,d", [(48, 12), (96, 32), (40, 40)])
def test_gs_equals_pivoted_qr(h, d):
  w = _weights(h, d, seed=h + d)
  idx, norms = method.gs_select(jnp.asarray(w), jnp.ones((h,), bool), d)
  piv, rdiag = _qr_pivots(w)
  np.testing.assert_array_equal(np.asarray(idx), piv[:d])
  # The residual norm at pick time is |R_jj| of the QR.
  np.testing.assert_allclose(np.asarray(norms), rdiag[:d], rtol=1e-4, atol=1e-5)


def test_gs_round_exhausts_row_space_and_picks_distinct_rows():
  h, d = 64, 16
  w = _weights(h, d, seed=3)
  idx, _ = method.gs_select(jnp.asarray(w), jnp.ones((h,), bool), d)
  assert len(set(np.asarray(idx).tolist())) == d
  res = method.gs_residual(jnp.asarray(w), idx)
  assert float(jnp.linalg.norm(res)) < 1e-5 * float(np.linalg.norm(w))


def test_gs_rank_deficient_never_repicks():
  rng = np.random.default_rng(1)
  w = (rng.standard_normal((30, 3)) @ rng.standard_normal((3, 8))).astype(np.float32)  # rank 3
  idx, norms = method.gs_select(jnp.asarray(w), jnp.ones((30,), bool), 12)
  idx = np.asarray(idx)
  assert len(set(idx.tolist())) == 12
  assert np.all(np.asarray(norms)[3:] < 1e-4 * np.asarray(norms)[0])  # exhausted after rank 3
  np.testing.assert_array_equal(idx[:3], _qr_pivots(w)[0][:3])


def test_gs_respects_avail_mask_and_is_jittable():
  w = _weights(40, 10, seed=5)
  avail = np.ones((40,), bool)
  avail[::2] = False
  idx, _ = jax.jit(method.gs_select, static_argnames="k")(jnp.asarray(w), jnp.asarray(avail), 10)
  idx = np.asarray(idx)
  assert np.all(idx % 2 == 1)
  # Same as QR pivots of the available rows only.
  sub = np.flatnonzero(avail)
  np.testing.assert_array_equal(idx, sub[_qr_pivots(w[sub])[0][:10]])


def test_kround_restarts_from_original_rows():
  h, d = 60, 10
  w = _weights(h, d, seed=7)
  order = method.kround_gs_order(w, 25)  # m = 2.5: two full rounds and half a third
  assert order.shape == (25,) and len(set(order.tolist())) == 25
  piv1 = _qr_pivots(w)[0][:d]
  np.testing.assert_array_equal(order[:d], piv1)
  rest = np.setdiff1d(np.arange(h), piv1)
  np.testing.assert_array_equal(order[d:2 * d], rest[_qr_pivots(w[rest])[0][:d]])
  rest2 = np.setdiff1d(rest, order[d:2 * d])
  np.testing.assert_array_equal(order[2 * d:], rest2[_qr_pivots(w[rest2])[0][:5]])


def test_neuron_rows_plain_are_fc1_rows_and_swiglu_concatenates():
  x = jnp.zeros((1, 28, 28, 1))
  for variant, gated in (("tiny", False), ("tiny_swiglu", True)):
    model = jnn.get_model("vit", variant, patch_size=7)
    params = model.init(jax.random.key(0, impl="unsafe_rbg"), x)["params"]
    rows = method.neuron_rows_of_vit(params)
    k1 = np.asarray(params["encoder_block_0"]["mlp"]["fc1"]["kernel"])
    h = model.mlp_dims()[0]
    d = model.hidden_size
    if gated:
      assert rows[0].shape == (h, 2 * d)
      np.testing.assert_array_equal(rows[0][:, :d], k1[:, :h].T)
      np.testing.assert_array_equal(rows[0][:, d:], k1[:, h:].T)
    else:
      assert rows[0].shape == (h, d)
      np.testing.assert_array_equal(rows[0], k1.T)
    # GS over those rows is the pivot order of the QR of their transpose (fc1: W1^T).
    idx, _ = method.gs_select(jnp.asarray(rows[0]), jnp.ones((h,), bool), min(h, rows[0].shape[1]))
    piv = _qr_pivots(rows[0])[0]
    assert np.mean(np.asarray(idx) == piv[:len(idx)]) >= 0.95  # float32 init weights: ties rare


def test_select_neurons_baselines():
  rows = [_weights(32, 8, seed=s) for s in range(3)]
  k = 8
  gs = method.select_neurons("gs", rows, k)
  l2 = method.select_neurons("l2", rows, k)
  rnd = method.select_neurons("random", rows, k, rng=jax.random.key(0))
  scores = [np.arange(32.0)[::-1] for _ in rows]
  tay = method.select_neurons("taylor", rows, k, scores=scores)
  for sel in (gs, l2, rnd, tay):
    assert len(sel) == 3
    for s in sel:
      assert s.shape == (k,) and np.all(np.diff(s) > 0)  # sorted, distinct
  for r, s in zip(rows, l2):
    np.testing.assert_array_equal(s, np.sort(np.argsort(-np.linalg.norm(r, axis=1))[:k]))
  for s in tay:
    np.testing.assert_array_equal(s, np.arange(k))
  for r, s in zip(rows, gs):
    np.testing.assert_array_equal(s, np.sort(_qr_pivots(r)[0][:k]))


def test_selection_errors_are_clear():
  rows = [_weights(16, 4)]
  with pytest.raises(ValueError, match="unknown selection method"):
    method.select_neurons("magnitude", rows, 4)
  with pytest.raises(ValueError, match="needs rng"):
    method.select_neurons("random", rows, 4)
  with pytest.raises(ValueError, match="cannot keep"):
    method.select_neurons("l2", rows, 17)
  with pytest.raises(ValueError, match="mlp_ratio"):
    method.num_keep_for_ratio(5.0, 96, 384)
  assert method.num_keep_for_ratio(0.5, 96, 384) == 48
  assert method.num_keep_for_ratio(1, 96, 384) == 96
