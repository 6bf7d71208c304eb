"""AMP project tests: block-wise forwards, scores, adaptive search, distillation, smoke run."""

import functools
import importlib.util
import json
import pathlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import nn as jnn
from jaxlab.ops import pruning
from jaxlab.projects.amp import distill as amp_distill
from jaxlab.projects.amp import method
from jaxlab.projects.amp import model as amp_model

_key = functools.partial(jax.random.key, impl='unsafe_rbg')
REPO = pathlib.Path(__file__).resolve().parents[3]


def _config(arg=None):
  spec = importlib.util.spec_from_file_location('amp_mini', REPO / 'configs/amp/mini.py')
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod.get_config(arg)


def _backbone(variant='tiny'):
  model = jnn.get_model('vit', variant, patch_size=7, num_classes=10, head_zero_init=False)
  x = jnp.zeros((1, 28, 28, 1))
  params = jax.jit(model.init)(_key(0), x)['params']
  return amp_model.Backbone(model=model, params=params, mean=np.array([0.3], np.float32),
                            std=np.array([0.3], np.float32))


def _images(n, seed=0):
  rng = np.random.default_rng(seed)
  return {'image': rng.integers(0, 256, size=(n, 28, 28, 1)).astype(np.uint8),
          'label': rng.integers(0, 10, size=n).astype(np.int32)}


@pytest.mark.parametrize('variant', ['tiny', 'tiny_swiglu'])
def test_tail_and_block_inputs_match_full_forward(variant):
  bb = _backbone(variant)
  data = _images(4)
  masks = pruning.keep_masks(pruning.random_scores(_key(1), bb.widths), (20, 33))
  full = amp_model.apply_masked(bb, bb.params, data['image'], masks)
  inputs = amp_model.block_inputs(bb, data['image'])
  assert len(inputs) == 2
  chex.assert_shape(inputs, (4, 17, 32))
  # block 0 masked: start at 0; with block 0 unpruned the tail can start at block 1
  tail0 = amp_model.tail_apply(bb.model, bb.params, inputs[0], masks, 0)
  np.testing.assert_allclose(tail0['logits'], full['logits'], atol=1e-5)
  np.testing.assert_allclose(tail0['cls'], full['cls'], atol=1e-5)
  masks1 = (jnp.ones(64), masks[1])
  full1 = amp_model.apply_masked(bb, bb.params, data['image'], masks1)
  tail1 = amp_model.tail_apply(bb.model, bb.params, inputs[1], masks1, 1)
  np.testing.assert_allclose(tail1['logits'], full1['logits'], atol=1e-5)


def test_prenorm_features_feed_norm_and_head():
  bb = _backbone()
  x = bb.normalize(_images(3)['image'])
  f = amp_model.prenorm_features(bb.model, bb.params, x)
  chex.assert_shape(f['cls'], (3, 32))
  chex.assert_shape(f['patch_tokens'], (3, 16, 32))
  out = bb.model.apply({'params': bb.params}, x)
  # the post-norm outputs are LayerNorm(pre-norm tokens)
  h = jnp.concatenate([f['cls'][:, None], f['patch_tokens']], axis=1)
  mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
  ln = bb.params['encoder_norm']
  normed = (h - mu) / jnp.sqrt(var + bb.model.layer_norm_eps) * ln['scale'] + ln['bias']
  np.testing.assert_allclose(normed[:, 0], out['cls'], atol=1e-4)


def test_importance_scores_every_criterion():
  bb = _backbone()
  calib = _images(16)
  for name in method.CRITERIA:
    s = method.importance_scores(bb, name, calib, batch_size=8, temp_inv=15.0, seed=0)
    assert len(s) == 2 and all(v.shape == (64,) for v in s), name
    assert all(np.isfinite(v).all() for v in s)
    if name in ('ent_sim', 'ent_cls', 'ce', 'magnitude'):
      assert all((v >= 0).all() for v in s), name
  with pytest.raises(ValueError, match='unknown criterion'):
    method.importance_scores(bb, 'fisher', calib, batch_size=8, temp_inv=15.0, seed=0)


def test_adaptive_search_grid_and_tolerance():
  bb = _backbone()
  val = _images(32, seed=3)
  search = method.ValSearch(bb, val, batch_size=16, criterion='ent_sim', temp_inv=15.0)
  ones = tuple(jnp.ones((h,)) for h in bb.widths)
  base, _ = search.value(ones)
  scores = method.importance_scores(bb, 'ent_sim', _images(16), batch_size=8, temp_inv=15.0,
                                    seed=0)
  orders = [pruning.ranking(s) for s in scores]
  cache = {}
  counts, trace = method.adaptive_search(search, orders, 1e-3, 4, base, cache=cache)
  assert all(c % (64 // 16) == 0 for c in counts)  # resolution H / 2^T
  assert [t['block'] for t in trace[:4]] == [1] * 4  # last block first
  # every accepted step respects the tolerance relative to the previous accepted value
  e, _ = search.value(pruning.masks_from_orders(orders, counts))
  assert e - base <= 2 * 1e-3 + 1e-6
  # memoised: a second delta reuses evaluations
  n = len(cache)
  method.adaptive_search(search, orders, 1e-3, 4, base, cache=cache)
  assert len(cache) == n
  with pytest.raises(ValueError, match='smaller than one search batch'):
    method.ValSearch(bb, _images(4), batch_size=16, criterion='ent_sim', temp_inv=15.0)


def test_distillation_reduces_loss_and_keeps_head():
  teacher = _backbone()
  scores = pruning.random_scores(_key(4), teacher.widths)
  keep = [pruning.keep_indices(s, 16) for s in scores]
  student = amp_model.slice_backbone(teacher, keep)
  assert student.widths == (16, 16)
  cfg = _config('smoke,distill.num_steps=30,distill.lr=3e-3,distill.batch_size=16')
  train = _images(64, seed=5)
  with cfg.unlocked():
    cfg.data.val_start = 64
  out, info = amp_distill.distill(teacher, student, train, cfg, '/tmp/unused')
  assert info['num_steps'] == 30
  assert info['loss_last'] < info['loss_first']
  np.testing.assert_array_equal(out.params['head']['kernel'], teacher.params['head']['kernel'])
  np.testing.assert_array_equal(out.params['encoder_norm']['scale'],
                                teacher.params['encoder_norm']['scale'])


def test_config_variants_and_errors():
  c = _config()
  assert c.project == 'amp' and c.prune.primary == 'ent_cls' and c.prune.steps == 6
  assert _config('sim').prune.search_criterion == 'ent_sim'
  assert _config('swiglu').backbone.workdir.endswith('fmnist_vit_swiglu')
  with pytest.raises(KeyError, match='unknown config key'):
    _config('prune.delta=0.1')


def test_missing_backbone_error(tmp_path):
  from jaxlab.projects.amp import train as amp_train
  c = _config(f'smoke,backbone.workdir={tmp_path}/nope,backbone.train_if_missing=False')
  with pytest.raises(FileNotFoundError, match='train it first'):
    amp_train.load_backbone(c, tmp_path, _images(8))


def test_smoke_run(tmp_path):
  """`:smoke` end to end: trains a 10-step backbone on fake data, runs every stage."""
  from jaxlab.projects.amp import train as amp_train
  res = amp_train.train_and_evaluate(_config('smoke'), str(tmp_path))
  assert set(res['no_finetune']) == {'adaptive', 'uniform_same_total', 'uniform_keep_0.3'}
  assert res['efficiency']['max_abs_logit_diff_masked_vs_sliced'] < 1e-5
  assert res['efficiency']['mlp_params_pruned'] < res['efficiency']['mlp_params']
  assert abs(res['sliced_test_accuracy'] - res['no_finetune']['adaptive']['ent_cls']) < 1e-6
  assert 'distill' in res and res['distill']['num_steps'] == 4
  saved = json.loads((tmp_path / 'pruned' / 'pruned.json').read_text())
  assert saved['hidden_sizes'] == res['chosen']['counts']
  assert (tmp_path / 'results.json').exists()


def test_aggregate_seeds_means_and_gates():
  """Means/stds over seeds are exact; criterion gates are decided on the means."""
  def run(seed, ent, mag):
    t = {'ent_cls': ent, 'ent_sim': ent - 0.01, 'ce': ent - 0.002, 'magnitude': mag,
         'random': 0.5}
    return {'seed': seed, 'backbone': 'b', 'search_criterion': 'ent_cls',
            'unpruned': {'test_accuracy': 0.9}, 'search': [],
            'chosen': {'within_tol': True, 'mlp_reduction': 0.4, 'counts': [3, 5]},
            'no_finetune': {'uniform_keep_0.3': t, 'adaptive': dict(t),
                            'uniform_same_total': dict(t, ent_cls=ent - 0.006,
                                                       ent_sim=ent - 0.02)},
            'efficiency': {'param_reduction': 0.3, 'flop_reduction': 0.3,
                           'max_abs_logit_diff_masked_vs_sliced': 0.0}}
  pc = _config().prune
  out = method.aggregate_seeds([run(0, 0.80, 0.79), run(1, 0.82, 0.79)], pc)
  t = out['no_finetune_over_seeds']['uniform_keep_0.3']
  np.testing.assert_allclose([t['ent_cls']['mean'], t['ent_cls']['std']], [0.81, 0.01])
  g = out['gates_over_seeds']
  assert g['keep30_ent>=mag+1.5'] is True          # 0.81 vs 0.79 + 0.015
  assert g['keep30_ent>=mag+1.5[ent_sim]'] is False  # 0.80 vs 0.805
  assert g['adaptive>=uniform_same_total+0.5'] is True
  assert g['search_reduction>=0.35_within_1pt'] is True
  bad = run(2, 0.8, 0.7)
  bad['chosen'] = dict(bad['chosen'], mlp_reduction=0.2)
  assert not method.aggregate_seeds([run(0, 0.8, 0.7), bad], pc)['gates_over_seeds'][
      'search_reduction>=0.35_within_1pt']
  with pytest.raises(ValueError, match='like with like'):
    method.aggregate_seeds([run(0, 0.8, 0.7), dict(run(1, 0.8, 0.7), backbone='c')], pc)
