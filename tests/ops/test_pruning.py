"""Tests of jaxlab.ops.pruning: criteria, gate-gradient Taylor scores, selection, slicing, counts."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import nn as jnn
from jaxlab.ops import pruning as P

_key = functools.partial(jax.random.key, impl='unsafe_rbg')


# ---------------------------------------------------------------------------------- criteria

def test_entropy_closed_form():
  np.testing.assert_allclose(P.entropy(jnp.zeros((3, 4))), np.log(4.0) * np.ones(3), rtol=1e-6)
  # p = (0.5, 0.25, 0.25): H = 1.5 log 2
  logits = jnp.log(jnp.array([[0.5, 0.25, 0.25]]))
  np.testing.assert_allclose(P.entropy(logits), [1.5 * np.log(2)], rtol=1e-6)
  assert float(P.entropy(jnp.array([[1e4, 0.0]]))[0]) == pytest.approx(0.0, abs=1e-6)
  assert P.entropy(jnp.zeros((2, 3), jnp.bfloat16)).dtype == jnp.float32


def test_prediction_entropy_mask_and_cross_entropy():
  logits = jnp.array([[0.0, 0.0], [10.0, -10.0]])
  np.testing.assert_allclose(P.prediction_entropy(logits, jnp.array([1.0, 0.0])), np.log(2),
                             rtol=1e-6)
  np.testing.assert_allclose(P.cross_entropy(logits, jnp.array([1, 0])),
                             (np.log(2) + np.log1p(np.exp(-20.0))) / 2, rtol=1e-5)


def test_similarity_entropy_closed_form():
  # Two orthogonal unit features: S = s I, each row softmax over (s, 0).
  s = 2.0
  f = jnp.eye(2) * 3.0
  p = np.exp(s) / (np.exp(s) + 1)
  expected = -(p * np.log(p) + (1 - p) * np.log(1 - p))
  np.testing.assert_allclose(P.similarity_entropy(f, s), expected, rtol=1e-4)
  # identical features: uniform rows over B columns
  np.testing.assert_allclose(P.similarity_entropy(jnp.ones((5, 3)), s), np.log(5), rtol=1e-5)
  # masking the third image gives the 2-image value
  f3 = jnp.concatenate([f, jnp.ones((1, 2))])
  np.testing.assert_allclose(P.similarity_entropy(f3, s, jnp.array([1, 1, 0])), expected,
                             rtol=1e-4)
  with pytest.raises(ValueError, match=r'\[B, d\]'):
    P.similarity_entropy(jnp.ones((2, 3, 4)))


# ------------------------------------------------------------------------------------ Taylor

def _linear_model(w1, w2, x, gates):
  a = jnp.einsum('bnd,dh->bnh', x, w1)  # identity activation
  return jnp.einsum('bnh,hk->bnk', a * gates[0], w2)


def test_taylor_closed_form_on_linear_model():
  rng = np.random.default_rng(0)
  b, n, d, h, k = 3, 4, 5, 6, 2
  x = rng.normal(size=(b, n, d)).astype(np.float32)
  w1 = rng.normal(size=(d, h)).astype(np.float32)
  w2 = rng.normal(size=(h, k)).astype(np.float32)
  c = rng.normal(size=(k,)).astype(np.float32)
  # E = (1/B) sum_b sum_n c . y[b, n]  ->  dE/dg[b, j] = (1/B) sum_n a[b,n,j] (W2[j] . c)
  crit = lambda g: jnp.sum(_linear_model(w1, w2, x, g) @ c) / b
  a = np.einsum('bnd,dh->bnh', x, w1)
  c_bj = a.sum(1) * (w2 @ c)[None] / b  # [B, H]
  g = P.gate_gradients(crit, P.ones_gates([h], b))
  chex.assert_shape(g[0], (b, 1, h))
  np.testing.assert_allclose(g[0][:, 0], c_bj, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(P.aggregate_taylor(g, 'sample_abs')[0], np.abs(c_bj).mean(0),
                             rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(P.aggregate_taylor(g, 'signed')[0], c_bj.mean(0), rtol=1e-4,
                             atol=1e-5)
  # per-element gates: |a * dE/da| summed over b and n (abs BEFORE the token sum)
  ge = P.gate_gradients(crit, P.ones_gates([h], b, num_tokens=n))
  elem = np.abs(a * (w2 @ c)[None, None] / b).sum((0, 1))
  np.testing.assert_allclose(P.aggregate_taylor(ge, 'element_abs')[0], elem, rtol=1e-4)
  assert not np.allclose(elem, np.abs(c_bj).sum(0))  # the two aggregations differ
  with pytest.raises(ValueError, match='mode'):
    P.aggregate_taylor(g, 'abs')


def test_gate_gradient_equals_manual_activation_gradient():
  """dE/dg at g=1 equals sum_n a * dE/da computed from the sown activation."""
  model = jnn.get_model('vit', 'tiny', head_zero_init=False)
  x = np.random.default_rng(1).normal(size=(2, 16, 16, 3)).astype(np.float32)
  params = model.init(_key(0), x)['params']
  gates = P.ones_gates(model.mlp_dims(), 2)
  crit = lambda g: P.prediction_entropy(model.apply({'params': params}, x, mlp_gates=g)['logits'])
  gg = P.gate_gradients(crit, gates)

  # Perturbation of the hidden activation through a per-element additive offset e:
  # dE/da = dE/de at e=0; we reproduce it by gating with (1 + e / a).
  _, inter = model.apply({'params': params}, x, mutable=['intermediates'])
  a0 = inter['intermediates']['encoder_block_0']['mlp']['hidden'][0]
  ge = P.gate_gradients(crit, P.ones_gates(model.mlp_dims(), 2, num_tokens=17))
  # per-element gate gradient = a * dE/da; its token sum is the per-sample gate gradient
  np.testing.assert_allclose(ge[0].sum(1), gg[0][:, 0], rtol=1e-4, atol=1e-7)
  assert a0.shape == (2, 17, 64)


def test_taylor_matches_zeroing_neurons_first_order():
  """Spec unit check: the Taylor term predicts E(neuron zeroed) - E within 10% (first order).

  A random tiny ViT with 256 hidden neurons per block, so that one neuron is a small
  perturbation; 16 neurons of block 1 are zeroed one at a time with a traced mask (one
  compilation).
  """
  model = jnn.get_model('vit', 'tiny', head_zero_init=False, mlp_dim=256)
  x = np.random.default_rng(2).normal(size=(4, 16, 16, 3)).astype(np.float32)
  params = model.init(_key(3), x)['params']
  widths = model.mlp_dims()
  crit = jax.jit(lambda g: P.prediction_entropy(
      model.apply({'params': params}, x, mlp_gates=g)['logits']))
  ones = tuple(jnp.ones((h,)) for h in widths)
  grad = jax.grad(crit)(ones)
  base = float(crit(ones))
  idx = np.arange(0, 256, 16)
  delta = np.array([float(crit((ones[0], ones[1].at[j].set(0.0)))) - base for j in idx])
  pred = -np.asarray(grad[1])[idx]  # first order: E(g - e_j) - E(g) ~ -dE/dg_j
  rel = np.linalg.norm(delta - pred) / np.linalg.norm(delta)
  assert rel < 0.1, rel


def test_taylor_scores_loop_mean_and_sum():
  model = jnn.get_model('vit', 'tiny', head_zero_init=False)
  rng = np.random.default_rng(4)
  batches = [rng.normal(size=(2, 16, 16, 3)).astype(np.float32) for _ in range(3)]
  params = model.init(_key(5), batches[0])['params']
  crit = lambda p, xb, g: P.prediction_entropy(model.apply({'params': p}, xb, mlp_gates=g)['logits'])
  mean = P.taylor_scores(crit, params, batches, model.mlp_dims(), batch_size=2)
  total = P.taylor_scores(crit, params, batches, model.mlp_dims(), batch_size=2, reduce='sum')
  assert len(mean) == 2 and mean[0].shape == (64,) and mean[0].dtype == np.float32
  np.testing.assert_allclose(total[0], 3 * mean[0], rtol=1e-5)
  # equals the hand loop over batches
  per = [P.aggregate_taylor(P.gate_gradients(lambda g: crit(params, xb, g),
                                             P.ones_gates(model.mlp_dims(), 2)))[1]
         for xb in batches]
  np.testing.assert_allclose(mean[1], np.mean(per, axis=0), rtol=1e-4, atol=1e-8)
  assert (mean[0] >= 0).all()
  with pytest.raises(ValueError, match='num_tokens'):
    P.taylor_scores(crit, params, batches, model.mlp_dims(), batch_size=2, mode='element_abs')


# ------------------------------------------------------------------------- selection helpers

def test_keep_indices_masks_and_counts():
  s = np.array([0.1, 0.9, 0.5, 0.9, 0.0])
  np.testing.assert_array_equal(P.keep_indices(s, 3), [1, 2, 3])
  np.testing.assert_array_equal(P.ranking(s), [1, 3, 2, 0, 4])
  m = P.keep_masks([s, s[:3]], [2, 1])
  np.testing.assert_array_equal(m[0], [0, 1, 0, 1, 0])
  np.testing.assert_array_equal(m[1], [0, 1, 0])
  np.testing.assert_array_equal(P.masks_from_orders([P.ranking(s)], [2])[0], m[0])
  assert P.uniform_counts([384, 100], 0.3) == (115, 30)
  assert P.uniform_counts([10], 0.0) == (1,)
  assert sum(P.counts_with_total([384, 384, 100], 500)) == 500
  assert P.counts_with_total([100, 100], 101) in ((51, 50), (50, 51))
  with pytest.raises(ValueError):
    P.keep_indices(s, 6)
  with pytest.raises(ValueError):
    P.uniform_counts([4], 1.5)


def test_global_counts_ranks_jointly():
  scores = [np.array([5.0, 4.0, 0.1]), np.array([3.0, 0.2, 0.3])]
  assert P.global_counts(scores, 3, min_keep=0) == (2, 1)
  assert P.global_counts(scores, 4, min_keep=0) == (2, 2)  # 5, 4 | 3, 0.3
  assert P.global_counts(scores, 5, min_keep=0) == (2, 3)
  # min_keep guarantees a neuron in a block whose scores are all low
  assert P.global_counts([np.array([5.0, 4.0]), np.array([0.1, 0.0])], 2, min_keep=1) == (1, 1)


def test_binary_search_counts_invariants():
  widths = [64, 64, 64]
  orders = [np.arange(h) for h in widths]
  # criterion: each block's "loss" grows when fewer than need[l] neurons are kept
  need = [40, 10, 60]
  def eval_fn(masks):
    return sum(max(0.0, need[l] - float(np.sum(m))) * 0.01 for l, m in enumerate(masks))
  counts, trace = P.binary_search_counts(eval_fn, orders, delta=1e-6, steps=6)
  assert counts == (40, 10, 60)
  assert [t['block'] for t in trace[:6]] == [2] * 6  # last block first
  for t in trace:
    assert t['k'] % (64 // 2 ** 6) == 0
  # T=3 steps: resolution H/8, still satisfies the tolerance
  counts3, _ = P.binary_search_counts(eval_fn, orders, delta=1e-6, steps=3)
  assert all(c % 8 == 0 and c >= n for c, n in zip(counts3, need))
  # a huge tolerance prunes to the coarsest grid point
  countsh, _ = P.binary_search_counts(eval_fn, orders, delta=1e9, steps=6)
  assert countsh == (1, 1, 1)


# --------------------------------------------------------------------------------- slicing

@pytest.mark.parametrize('variant', ['tiny', 'tiny_swiglu'])
def test_masked_equals_sliced_logits(variant):
  model = jnn.get_model('vit', variant, head_zero_init=False)
  x = np.random.default_rng(6).normal(size=(3, 16, 16, 3)).astype(np.float32)
  params = model.init(_key(7), x)['params']
  widths = model.mlp_dims()
  assert P.mlp_widths(params) == widths
  scores = P.random_scores(_key(8), widths)
  counts = (40, 9)
  masks = P.keep_masks(scores, counts)
  keep = [P.keep_indices(s, k) for s, k in zip(scores, counts)]
  sliced, new_widths = P.slice_mlps(params, keep)
  assert new_widths == counts
  small = jnn.get_model('vit', variant, head_zero_init=False, mlp_dim=new_widths)
  out_masked = model.apply({'params': params}, x, mlp_gates=masks)
  out_sliced = jax.jit(small.apply)({'params': sliced}, x)
  np.testing.assert_allclose(out_sliced['logits'], out_masked['logits'], atol=1e-5)
  np.testing.assert_allclose(out_sliced['cls'], out_masked['cls'], atol=1e-5)
  # shapes after slicing
  fused = variant == 'tiny_swiglu'
  mlp = sliced['encoder_block_1']['mlp']
  chex.assert_shape(mlp['fc1']['kernel'], (32, 2 * 9 if fused else 9))
  chex.assert_shape(mlp['fc1']['bias'], (2 * 9 if fused else 9,))
  chex.assert_shape(mlp['fc2']['kernel'], (9, 32))
  chex.assert_shape(mlp['fc2']['bias'], (32,))
  assert P.mlp_layout(params['encoder_block_0']['mlp']).fused == fused
  # the original params are not modified
  assert params['encoder_block_1']['mlp']['fc2']['kernel'].shape == (64, 32)
  # masking everything away equals slicing to width 0 in effect: prediction still finite
  assert np.isfinite(np.asarray(out_sliced['logits'])).all()


def test_slice_split_gated_layout_and_lm():
  rng = np.random.default_rng(9)
  d, h = 4, 6
  mlp = {'gate_proj': {'kernel': rng.normal(size=(d, h))},
         'up_proj': {'kernel': rng.normal(size=(d, h))},
         'down_proj': {'kernel': rng.normal(size=(h, d))}}
  lay = P.mlp_layout(mlp)
  assert lay.inputs == ('gate_proj', 'up_proj') and not lay.fused
  out = P.slice_mlp(mlp, [4, 1])
  np.testing.assert_allclose(out['gate_proj']['kernel'], mlp['gate_proj']['kernel'][:, [1, 4]],
                             rtol=1e-6)
  np.testing.assert_allclose(out['up_proj']['kernel'], mlp['up_proj']['kernel'][:, [1, 4]],
                             rtol=1e-6)
  np.testing.assert_allclose(out['down_proj']['kernel'], mlp['down_proj']['kernel'][[1, 4]],
                             rtol=1e-6)
  assert P.params_per_neuron(mlp) == 3 * d
  # GPT-2-layout LM: masked == sliced
  lm = jnn.get_model('transformer_lm', 'tiny')
  tok = jnp.asarray(rng.integers(0, 64, size=(2, 8)), jnp.int32)
  params = lm.init(_key(10), tok)['params']
  assert P.mlp_layout(params['h_0']['mlp']) == P.MlpLayout(('c_fc',), 'c_proj')
  keep = [np.arange(0, 64, 2), np.arange(10)]
  sliced, widths = P.slice_mlps(params, keep)
  masks = tuple(jnp.zeros(64).at[k].set(1.0) for k in keep)
  small = jnn.get_model('transformer_lm', 'tiny', mlp_dim=widths)
  np.testing.assert_allclose(small.apply({'params': sliced}, tok),
                             lm.apply({'params': params}, tok, mlp_gates=masks), atol=1e-5)
  with pytest.raises(ValueError, match='duplicates'):
    P.slice_mlp(mlp, [1, 1])
  with pytest.raises(ValueError, match='range'):
    P.slice_mlp(mlp, [6])
  with pytest.raises(ValueError, match='unrecognised'):
    P.mlp_layout({'a': {}, 'b': {}})


def test_magnitude_and_fc1_scores():
  w1 = np.array([[3.0, 0.0], [4.0, 1.0]])  # [D=2, H=2]: column norms 5, 1
  w2 = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 2.0]])  # [H, D]: row norms 1, sqrt(8)
  mlp = {'fc1': {'kernel': w1, 'bias': np.zeros(2)}, 'fc2': {'kernel': w2.T.T[:, :2]}}
  mlp['fc2'] = {'kernel': np.array([[1.0, 0.0], [0.0, 2.0]])}
  np.testing.assert_allclose(P.magnitude_scores(mlp), [5.0, 2.0])
  np.testing.assert_allclose(P.fc1_norm_scores(mlp), [5.0, 1.0])
  # fused gated: both halves count
  fused = {'fc1': {'kernel': np.concatenate([w1, w1], axis=1)},
           'fc2': {'kernel': np.array([[1.0, 0.0], [0.0, 2.0]])}}
  np.testing.assert_allclose(P.magnitude_scores(fused), [5.0 * np.sqrt(2), 2.0 * np.sqrt(2)])
  r = P.random_scores(_key(0), [5, 7])
  assert [len(v) for v in r] == [5, 7]


# -------------------------------------------------------------------------------- counting

def test_counting_against_hand_arithmetic():
  # GELU ViT tiny on 16x16x3, patch 4, D=32, depth 2, H=64, 10 classes
  model = jnn.get_model('vit', 'tiny')
  params = jax.eval_shape(model.init, _key(0), jnp.zeros((1, 16, 16, 3)))['params']
  d, h = 32, 64
  mlp = (d * h + h) + (h * d + d)
  assert P.mlp_param_count(params) == 2 * mlp
  per_block = 2 * 2 * d + 4 * (d * d + d) + mlp  # 2 LayerNorms, q/k/v/out, MLP
  total = 4 * 4 * 3 * d + d + d + 17 * d + 2 * per_block + 2 * d + d * 10 + 10
  assert P.count_params(params) == total
  assert P.params_per_neuron(params['encoder_block_0']['mlp']) == 2 * d + 1
  n = 17
  flops = 2 * (16 * 48 * d + 2 * (n * 4 * d * d + 2 * n * n * d + n * 2 * d * h) + d * 10)
  assert P.vit_flops(image_size=16, patch_size=4, channels=3, hidden_size=d, depth=2,
                     mlp_dims=h, num_classes=10) == flops
  # per-block widths: one block at 16 neurons
  flops2 = flops - 2 * n * 2 * d * (h - 16)
  assert P.vit_flops(image_size=16, patch_size=4, channels=3, hidden_size=d, depth=2,
                     mlp_dims=(64, 16), num_classes=10) == flops2
  sw = P.vit_flops(image_size=16, patch_size=4, channels=3, hidden_size=d, depth=2,
                   mlp_dims=h, num_classes=10, mlp_type='swiglu')
  assert sw - flops == 2 * 2 * n * d * h
  # LM: T=8, D=32, 2 layers, H=64, V=64
  assert P.lm_flops(seq_len=8, d_model=32, num_layers=2, mlp_dims=64, vocab_size=64) == 2 * (
      2 * (4 * 8 * 32 * 32 + 2 * 64 * 32 + 2 * 8 * 32 * 64) + 8 * 32 * 64)
  # causal keeps T(T+1)/2 of the T^2 logits; 'none' is 2 x (weights touched per token) x T
  assert P.lm_flops(seq_len=8, d_model=32, num_layers=2, mlp_dims=64, vocab_size=64,
                    attention='causal') == 2 * (
      2 * (4 * 8 * 32 * 32 + 8 * 9 * 32 + 2 * 8 * 32 * 64) + 8 * 32 * 64)
  assert P.lm_flops(seq_len=8, d_model=32, num_layers=2, mlp_dims=64, vocab_size=64,
                    attention='none') == 2 * 8 * (2 * (4 * 32 * 32 + 2 * 32 * 64) + 32 * 64)
  with pytest.raises(ValueError, match='attention'):
    P.lm_flops(seq_len=8, d_model=32, num_layers=2, mlp_dims=64, vocab_size=64, attention='x')
  # SwiGLU tiny param count: fc1 is D x 2H (+2H), fc2 H x D (+D)
  sparams = jax.eval_shape(jnn.get_model('vit', 'tiny_swiglu').init, _key(0),
                           jnp.zeros((1, 16, 16, 3)))['params']
  assert P.mlp_param_count(sparams) == 2 * (d * 2 * h + 2 * h + h * d + d)
  assert P.params_per_neuron(sparams['encoder_block_0']['mlp']) == 3 * d + 2


def test_counts_for_param_reduction():
  lm = jnn.get_model('transformer_lm', 'tiny')
  params = jax.eval_shape(lm.init, _key(0), jnp.zeros((1, 8), jnp.int32))['params']
  total = P.count_params(params)
  k = P.counts_for_param_reduction(params, 0.2)
  removed = sum(64 - x for x in k) * (2 * 32 + 1)
  assert abs(removed / total - 0.2) < (2 * 32 + 1) * 2 / total
  with pytest.raises(ValueError, match='cannot be reached'):
    P.counts_for_param_reduction(params, 0.99)


# ---------------------------------------------------------------------------- distillation

def test_kl_distillation_loss():
  t = jnp.array([[1.0, 2.0, 0.5]])
  assert float(P.kl_distillation_loss(t, t)) == pytest.approx(0.0, abs=1e-7)
  g = jax.grad(lambda s: P.kl_distillation_loss(s, t))(t)
  np.testing.assert_allclose(g, 0.0, atol=1e-7)
  s = jnp.array([[0.0, 0.0, 0.0]])
  p = np.exp(t) / np.exp(t).sum()
  np.testing.assert_allclose(P.kl_distillation_loss(s, t),
                             np.sum(p * (np.log(p) - np.log(1 / 3))), rtol=1e-5)
  # temperature scaling by T^2 and teacher gradient stopped
  gt = jax.grad(lambda tt: P.kl_distillation_loss(s, tt, temperature=2.0))(t)
  np.testing.assert_allclose(gt, 0.0)


def test_token_mse_loss():
  s = {'cls': jnp.ones((2, 3)), 'patch_tokens': jnp.zeros((2, 4, 3))}
  t = {'cls': jnp.zeros((2, 3)), 'patch_tokens': jnp.full((2, 4, 3), 2.0)}
  assert float(P.token_mse_loss(s, t)) == pytest.approx(1.0 + 4.0)
  assert float(P.token_mse_loss(s, t, cls_coef=0.5, patch_coef=0.0)) == pytest.approx(0.5)
