"""HFPrune: Taylor gate gradients vs a manual VJP, slicing == masking, solve_k, scores, LoRA,
recovery, the gates logic and a smoke run of the whole comparison."""

import os
import pathlib

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.configs import load_config
from jaxlab.nn import registry
from jaxlab.ops import pruning
from jaxlab.projects.hfprune import method
from jaxlab.projects.hfprune import train as hf_train

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope='module')
def tiny():
  model = registry.get_model('llama', 'tiny', mlp_dim=(16, 24))
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, 64, (6, 13)).astype(np.int32)
  batches = [dict(inputs=tokens[i:i + 3, :-1], targets=tokens[i:i + 3, 1:])
             for i in (0, 3)]
  params = model.init(jax.random.key(0, impl='unsafe_rbg'),
                      jnp.asarray(batches[0]['inputs']))['params']
  # Non-trivial norms so that every neuron differs.
  params = jax.tree.map(lambda x: x * 3.0 if x.ndim == 2 else x, params)
  return model, params, batches


def _down_proj_input_grads(model, params, batch, criterion):
  """dE/da' for the input a' of every down_proj, by intercepting the Dense call (no gates)."""
  widths = model.mlp_dims()
  b, t = batch['inputs'].shape

  def loss(deltas):
    def icpt(next_fun, args, kwargs, context):
      mod = context.module
      if (isinstance(mod, nn.Dense) and mod.name == 'down_proj'
          and context.method_name == '__call__'):
        layer = int(mod.parent.parent.name.split('_')[1])
        args = (args[0] + deltas[layer],) + args[1:]
      return next_fun(*args, **kwargs)
    with nn.intercept_methods(icpt):
      return criterion(params, batch, None)

  zeros = tuple(jnp.zeros((b, t, w)) for w in widths)
  return jax.grad(loss)(zeros)


@pytest.mark.parametrize('crit', ['entropy', 'ce'])
def test_gate_gradient_is_activation_times_manual_vjp(tiny, crit):
  model, params, batches = tiny
  batch = {k: jnp.asarray(v) for k, v in batches[0].items()}
  fn = method.entropy_criterion(model) if crit == 'entropy' else method.ce_criterion(model)
  gates = pruning.ones_gates(model.mlp_dims(), 3, 12)
  g_gate = jax.grad(lambda g: fn(params, batch, g))(gates)
  _, inter = model.apply({'params': params}, batch['inputs'], mutable=['intermediates'])
  d_a = _down_proj_input_grads(model, params, batch, fn)
  for l in range(2):
    a = inter['intermediates'][f'layers_{l}']['mlp']['hidden'][0]
    np.testing.assert_allclose(g_gate[l], a * d_a[l], rtol=1e-4, atol=1e-7)
  # The project score is the per-element |.| summed over tokens and batches (fp32).
  scores = method.taylor_importance(model, params, batches, crit)
  manual = [np.zeros(w) for w in model.mlp_dims()]
  for bt in batches:
    bt = {k: jnp.asarray(v) for k, v in bt.items()}
    g = jax.grad(lambda g: fn(params, bt, g))(gates)
    for l in range(2):
      manual[l] += np.abs(np.asarray(g[l])).sum((0, 1))
  for s, m in zip(scores, manual):
    chex.assert_shape(s, m.shape)
    np.testing.assert_allclose(s, m, rtol=1e-5)
    assert s.dtype == np.float32


def test_entropy_criterion_closed_form():
  logits = jnp.log(jnp.array([[[0.5, 0.25, 0.25], [1.0, 1e-30, 1e-30]]]))
  e = float(pruning.prediction_entropy(logits))
  expected = (-(0.5 * np.log(0.5) + 0.5 * np.log(0.25)) + 0.0) / 2
  np.testing.assert_allclose(e, expected, rtol=1e-5)


def test_slice_equals_mask_and_global_selection(tiny):
  model, params, batches = tiny
  scores = method.magnitude_importance(params)
  x = jnp.asarray(batches[0]['inputs'])
  for scope in ('layer', 'global'):
    keep = method.select(scores, 0.5, scope)
    assert sum(len(k) for k in keep) == 8 + 12
    pm, pp = method.prune(model, params, keep)
    assert pm.mlp_dims() == tuple(len(k) for k in keep)
    masks = []
    for k, w in zip(keep, model.mlp_dims()):
      masks.append(jnp.zeros(w).at[k].set(1.0))
    np.testing.assert_allclose(pm.apply({'params': pp}, x),
                               model.apply({'params': params}, x, mlp_gates=masks),
                               rtol=1e-5, atol=1e-5)
  # Global ranking of comparable raw scores: a layer with larger scores keeps more.
  boosted = (scores[0] * 100, scores[1])
  widths = [len(k) for k in method.select(boosted, 0.5, 'global')]
  assert widths[0] == 16 and widths[1] == 4
  with pytest.raises(ValueError, match='scope'):
    method.select(scores, 0.5, 'block')


def test_solve_k_hits_target_within_one_neuron():
  model = registry.get_model('llama', 'char_small', vocab_size=65)
  shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 4), jnp.int32))
  params = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes['params'])
  total = pruning.count_params(params)
  per_neuron = 3 * model.d_model
  for target in (0.1, 0.2, 0.3):
    k = method.solve_k(params, target)
    assert len(set(k)) == 1
    removed = sum(model.mlp_dims()) - sum(k)
    # Within one neuron per layer of the exact target.
    assert abs(removed * per_neuron - target * total) <= per_neuron * model.num_layers
    pm, pp = method.prune(model, params, [np.arange(kk) for kk in k])
    got = 1 - pruning.count_params(pp) / total
    assert abs(got - target) <= per_neuron * model.num_layers / total


def test_magnitude_and_wanda_closed_form(tiny):
  model, params, batches = tiny
  mags = method.magnitude_importance(params)
  wanda = method.wanda_importance(model, params, batches)
  for l in range(2):
    m = params[f'layers_{l}']['mlp']
    g, u, d = (np.asarray(m[n]['kernel']) for n in ('gate_proj', 'up_proj', 'down_proj'))
    np.testing.assert_allclose(
        mags[l], np.linalg.norm(g, axis=0) * np.linalg.norm(u, axis=0)
        * np.linalg.norm(d, axis=1), rtol=1e-5)
    acts = []
    for b in batches:
      _, inter = model.apply({'params': params}, jnp.asarray(b['inputs']),
                             mutable=['intermediates'])
      acts.append(np.asarray(inter['intermediates'][f'layers_{l}']['mlp']['hidden'][0])
                  .reshape(-1, d.shape[0]))
    a = np.concatenate(acts)
    np.testing.assert_allclose(wanda[l], np.linalg.norm(a, axis=0)
                               * np.linalg.norm(d, axis=1), rtol=1e-4)
  r1, r2 = method.random_importance(3, (16, 24)), method.random_importance(3, (16, 24))
  chex.assert_trees_all_close(r1, r2)
  with pytest.raises(ValueError, match='criterion'):
    method.scores_for('l1', model, params, batches, 0)


def test_evaluator_and_metrics(tiny):
  model, params, batches = tiny
  ev = method.Evaluator(model, params, batches)
  dense = ev(model, params)
  assert abs(dense['kl']) < 1e-6 and dense['top1_agree'] == 1.0
  logits = model.apply({'params': params}, jnp.asarray(batches[0]['inputs']))
  m = method.lm_metrics(logits, logits, jnp.asarray(batches[0]['targets']))
  ce = float(-jnp.take_along_axis(jax.nn.log_softmax(logits), jnp.asarray(
      batches[0]['targets'])[..., None], -1).mean())
  np.testing.assert_allclose(float(m['loss'] / m['count']), ce, rtol=1e-5)
  pm, pp = method.prune(model, params, method.select(method.magnitude_importance(params),
                                                      0.25))
  pruned = ev(pm, pp)
  assert pruned['kl'] > 0 and pruned['top1_agree'] < 1


def test_lora_merge_and_recovery_overfit(tiny):
  model, params, batches = tiny
  lora = method.lora_init(params, jax.random.key(0), rank=2)
  assert len(lora) == 2 * 7 and 'layers_1/mlp/down_proj' in lora
  chex.assert_shape(lora['layers_1/mlp/down_proj']['a'], (24, 2))
  chex.assert_trees_all_close(method.lora_merge(params, lora, 2.0), params)
  batch = {k: jnp.asarray(v) for k, v in batches[0].items()}
  it = iter([batch] * 40)
  ev = method.Evaluator(model, params, [batch])
  before = ev(model, params)['loss']
  for mode, lr in (('lora', 1e-2), ('full', 3e-3)):
    new, _ = method.recover(model, params, iter([batch] * 40), num_steps=40, mode=mode, lr=lr,
                            lora_rank=4, lora_alpha=8.0)
    after = ev(model, new)['loss']
    assert after < before - 0.1, (mode, before, after)
    if mode == 'lora':  # norms and embeddings are frozen; only adapted kernels change
      chex.assert_trees_all_close(new['layers_0']['input_layernorm'],
                                  params['layers_0']['input_layernorm'])
      chex.assert_trees_all_close(new['embed_tokens'], params['embed_tokens'])
  with pytest.raises(ValueError, match='mode'):
    method.recover(model, params, it, num_steps=1, mode='qlora')


def test_calibration_windows_are_seeded():
  tokens = np.arange(1000) % 65
  a = hf_train.calibration_batches(tokens, 8, 16, 4, seed=1)
  b = hf_train.calibration_batches(tokens, 8, 16, 4, seed=1)
  c = hf_train.calibration_batches(tokens, 8, 16, 4, seed=2)
  assert len(a) == 2
  chex.assert_shape(a[0]['inputs'], (4, 16))
  np.testing.assert_array_equal(a[0]['inputs'][:, 1:], a[0]['targets'][:, :-1])
  np.testing.assert_array_equal(a[1]['inputs'], b[1]['inputs'])
  assert not np.array_equal(a[0]['inputs'], c[0]['inputs'])
  with pytest.raises(ValueError, match='multiple'):
    hf_train.calibration_batches(tokens, 6, 16, 4, seed=1)


def test_gates_logic():
  cfg = load_config(str(REPO / 'configs/hfprune/mini.py'))
  flops = lambda keep: dict(flops_per_token_weights=100 * keep,
                            flops_per_token_causal=100 * keep + 5,
                            flops_per_token=100 * keep + 10)
  dense = dict(loss=1.0, params=100, **flops(1.0))
  mk = lambda stage, crit, keep, loss, kl, mode='': dict(
      stage=stage, criterion=crit, scope='layer', keep=keep, mode=mode, loss=loss, kl=kl,
      params=100 * keep, **flops(keep))
  summary = [mk('pruned', 'entropy', 0.5, 1.2, 0.10), mk('pruned', 'ce', 0.5, 1.2, 0.11),
             mk('pruned', 'random', 0.5, 2.0, 0.5), mk('pruned', 'magnitude', 0.5, 1.21, 0.3),
             mk('recovered', 'entropy', 0.5, 1.05, 0.05, 'full')]
  g = hf_train.gates(summary, dense, (0.5,), cfg.gates)
  assert g['fidelity_kl_keep0.5']['passed'] and g['fidelity_kl_keep0.5']['strictly_better']
  assert g['entropy_vs_random_keep0.5']['passed']
  assert not g['entropy_vs_magnitude_keep0.5']['passed']  # increase 0.20 > 0.9 * 0.21
  assert g['recovery_full_keep0.5']['passed']
  eff = g['efficiency_keep0.5']
  assert eff['passed'] and abs(eff['flop_reduction'] - 0.5) < 1e-9  # gated on weight FLOPs
  assert abs(eff['flop_reduction_full_attention'] - (1 - 60 / 110)) < 1e-9
  assert abs(eff['flop_reduction_causal_attention'] - (1 - 55 / 105)) < 1e-9


def test_smoke_run(tmp_path):
  if not os.path.isdir(os.environ.get('JAXLAB_DATA', '')):
    pytest.skip('JAXLAB_DATA not set')
  cfg = load_config(str(REPO / 'configs/hfprune/mini.py'),
                    'smoke,prune.criteria=("entropy","ce","random"),recovery.modes=("lora",)')
  res = hf_train.train_and_evaluate(cfg, tmp_path)
  assert (tmp_path / 'results.json').exists()
  rows = res['rows']
  assert {r['criterion'] for r in rows} == {'entropy', 'ce', 'random'}
  assert {r['scope'] for r in rows} == {'layer', 'global'}
  assert any(r['stage'] == 'recovered' for r in rows)
  assert all(np.isfinite(r['loss']) and r['kl'] >= -1e-6 for r in rows)
  assert 'fidelity_kl_keep0.5' in res['gates']


def test_merge_results_recomputes_summary(tmp_path):
  cfg = load_config(str(REPO / 'configs/hfprune/mini.py'))
  dense = dict(loss=1.0, kl=0.0, top1_agree=1.0, ppl=np.e, params=100, flops_per_token=100)
  row = lambda seed, loss: dict(stage='pruned', criterion='entropy', scope='layer', keep=0.5,
                                mode='', seed=seed, loss=loss, kl=0.1, top1_agree=0.9,
                                ppl=np.exp(loss), params=60, flops_per_token=70)
  paths = []
  for seed, loss in ((0, 1.2), (1, 1.4)):
    p = tmp_path / f'r{seed}.json'
    p.write_text(__import__('json').dumps(dict(dense=dense, rows=[row(seed, loss)])))
    paths.append(p)
  merged = hf_train.merge_results(paths, cfg.gates)
  (s,) = merged['summary']
  assert s['n'] == 2 and abs(s['loss'] - 1.3) < 1e-9 and abs(s['loss_std'] - 0.1) < 1e-9
  assert merged['calib_seeds'] == [0, 1]
  bad = tmp_path / 'bad.json'
  bad.write_text(__import__('json').dumps(dict(dense={**dense, 'loss': 2.0}, rows=[])))
  with pytest.raises(ValueError, match='dense loss'):
    hf_train.merge_results(paths + [bad], cfg.gates)
