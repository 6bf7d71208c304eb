"""LLaMA-style LM: shapes, KV cache, MLP gates, and HF LLaMA/Qwen2 import checked
against an independent numpy forward written from HF's modeling code conventions
(`[out, in]` Linear weights, `rotate_half` RoPE, `repeat_kv`, fp32 RMSNorm)."""

import json
import math
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from safetensors.numpy import save_file

from jaxlab.nn import llama
from jaxlab.nn import registry
from jaxlab.nn import transformer

HF_LLAMA = dict(model_type='llama', vocab_size=40, hidden_size=16,
                num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, intermediate_size=24,
                max_position_embeddings=16, rope_theta=10000.0,
                rms_norm_eps=1e-5, tie_word_embeddings=False)
HF_QWEN2 = dict(HF_LLAMA, model_type='qwen2', num_key_value_heads=4,
                rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=True)


def _state_dict(cfg, rng):
  d, i_, v = cfg['hidden_size'], cfg['intermediate_size'], cfg['vocab_size']
  h, kv = cfg['num_attention_heads'], cfg['num_key_value_heads']
  dh = d // h
  r = lambda *s: rng.normal(scale=0.3, size=s).astype(np.float32)
  sd = {'model.embed_tokens.weight': r(v, d), 'model.norm.weight': 1 + r(d)}
  for n in range(cfg['num_hidden_layers']):
    p = f'model.layers.{n}.'
    sd.update({
        p + 'self_attn.q_proj.weight': r(h * dh, d),
        p + 'self_attn.k_proj.weight': r(kv * dh, d),
        p + 'self_attn.v_proj.weight': r(kv * dh, d),
        p + 'self_attn.o_proj.weight': r(d, h * dh),
        p + 'mlp.gate_proj.weight': r(i_, d),
        p + 'mlp.up_proj.weight': r(i_, d),
        p + 'mlp.down_proj.weight': r(d, i_),
        p + 'input_layernorm.weight': 1 + r(d),
        p + 'post_attention_layernorm.weight': 1 + r(d),
        p + 'self_attn.rotary_emb.inv_freq': r(dh // 2),  # old buffer
    })
    if cfg['model_type'] == 'qwen2':
      sd.update({p + 'self_attn.q_proj.bias': r(h * dh),
                 p + 'self_attn.k_proj.bias': r(kv * dh),
                 p + 'self_attn.v_proj.bias': r(kv * dh)})
  if cfg['tie_word_embeddings']:
    sd['lm_head.weight'] = sd['model.embed_tokens.weight'].copy()
  else:
    sd['lm_head.weight'] = r(v, d)
  return sd


def _reference_forward(sd, cfg, tokens):
  """numpy float64 forward of HF LlamaForCausalLM / Qwen2ForCausalLM."""
  g = lambda k: np.asarray(sd[k], np.float64)
  d, h = cfg['hidden_size'], cfg['num_attention_heads']
  kv, dh, eps = cfg['num_key_value_heads'], d // h, cfg['rms_norm_eps']
  lin = lambda x, k, bias=False: x @ g(k + '.weight').T + (
      g(k + '.bias') if bias else 0)
  rms = lambda x, k: x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g(k)
  t = tokens.shape[0]
  inv_freq = 1.0 / cfg['rope_theta'] ** (np.arange(0, dh, 2) / dh)
  freqs = np.outer(np.arange(t), inv_freq)
  emb = np.concatenate([freqs, freqs], -1)
  cos, sin = np.cos(emb), np.sin(emb)

  def rope(x):  # [heads, T, dh]
    x1, x2 = x[..., :dh // 2], x[..., dh // 2:]
    return x * cos + np.concatenate([-x2, x1], -1) * sin

  bias = cfg['model_type'] == 'qwen2'
  x = g('model.embed_tokens.weight')[tokens]
  for n in range(cfg['num_hidden_layers']):
    p = f'model.layers.{n}.'
    y = rms(x, p + 'input_layernorm.weight')
    q = lin(y, p + 'self_attn.q_proj', bias).reshape(t, h, dh).transpose(1, 0, 2)
    k = lin(y, p + 'self_attn.k_proj', bias).reshape(t, kv, dh).transpose(1, 0, 2)
    v = lin(y, p + 'self_attn.v_proj', bias).reshape(t, kv, dh).transpose(1, 0, 2)
    q, k = rope(q), rope(k)
    k, v = np.repeat(k, h // kv, 0), np.repeat(v, h // kv, 0)
    s = q @ k.transpose(0, 2, 1) / math.sqrt(dh)
    s = np.where(np.tril(np.ones((t, t), bool)), s, -np.inf)
    pr = np.exp(s - s.max(-1, keepdims=True))
    pr /= pr.sum(-1, keepdims=True)
    a = (pr @ v).transpose(1, 0, 2).reshape(t, d)
    x = x + lin(a, p + 'self_attn.o_proj')
    y = rms(x, p + 'post_attention_layernorm.weight')
    gt = lin(y, p + 'mlp.gate_proj')
    x = x + lin(gt / (1 + np.exp(-gt)) * lin(y, p + 'mlp.up_proj'),
                p + 'mlp.down_proj')
  x = rms(x, 'model.norm.weight')
  return x @ g('lm_head.weight').T


@pytest.mark.parametrize('hf_cfg', [HF_LLAMA, HF_QWEN2],
                         ids=['llama_gqa_untied', 'qwen2_bias_tied'])
def test_hf_import_matches_numpy_reference(hf_cfg):
  sd = _state_dict(hf_cfg, np.random.default_rng(0))
  kwargs = llama.config_from_hf(hf_cfg)
  assert kwargs['qkv_bias'] == (hf_cfg['model_type'] == 'qwen2')
  model = llama.LlamaLM(**kwargs)
  params = llama.import_llama(sd, model)
  tokens = np.random.default_rng(1).integers(0, hf_cfg['vocab_size'], (2, 11))
  logits = jax.jit(model.apply)({'params': params}, jnp.asarray(tokens))
  chex.assert_shape(logits, (2, 11, hf_cfg['vocab_size']))
  for b in range(2):
    ref = _reference_forward(sd, hf_cfg, tokens[b])
    np.testing.assert_allclose(np.asarray(logits[b]), ref, rtol=2e-4,
                               atol=2e-4)


def test_export_and_folder_roundtrip(tmp_path):
  sd = _state_dict(HF_QWEN2, np.random.default_rng(0))
  folder = tmp_path / 'qwen'
  folder.mkdir()
  save_file({k: v for k, v in sd.items()},
            os.fspath(folder / 'model.safetensors'))
  (folder / 'config.json').write_text(json.dumps(HF_QWEN2))
  model, params = llama.load_hf(folder)
  out = llama.export_llama(params, model)
  expected = {k for k in sd if not k.endswith('inv_freq')
              and k != 'lm_head.weight'}  # tied: HF re-ties lm_head
  assert set(out) == expected
  for k in expected:
    np.testing.assert_array_equal(out[k], sd[k])
  # Pruned (ragged) widths survive save_hf -> load_hf.
  pruned = llama.LlamaLM(**{**llama.config_from_hf(HF_LLAMA),
                            'mlp_dim': (8, 12)})
  p = pruned.init(jax.random.key(0), jnp.zeros((1, 4), jnp.int32))['params']
  llama.save_hf(tmp_path / 'pruned', p, pruned)
  cfg = json.loads((tmp_path / 'pruned' / 'config.json').read_text())
  assert cfg['intermediate_size'] == [8, 12]
  m2, p2 = llama.load_hf(tmp_path / 'pruned')
  assert m2.mlp_dims() == (8, 12)
  chex.assert_trees_all_close(p2, p)


def test_import_reports_every_problem():
  sd = _state_dict(HF_LLAMA, np.random.default_rng(0))
  del sd['model.layers.1.mlp.up_proj.weight']
  sd['model.layers.0.mlp.gate_proj.weight'] = np.zeros((5, 16), np.float32)
  sd['model.extra.weight'] = np.zeros(3, np.float32)
  with pytest.raises(ValueError) as e:
    llama.import_llama(sd, llama.config_from_hf(HF_LLAMA))
  msg = str(e.value)
  assert 'layers.1.mlp.up_proj.weight' in msg
  assert 'layers.0.mlp.gate_proj.weight' in msg and 'extra.weight' in msg
  with pytest.raises(ValueError, match='rope_scaling'):
    llama.config_from_hf(dict(HF_LLAMA, rope_scaling={'type': 'linear'}))


def _tiny(**kw):
  return registry.get_model('llama', 'tiny', **kw)


def test_shapes_gates_and_per_block_widths():
  model = _tiny(mlp_dim=(16, 24))
  tokens = jnp.arange(20, dtype=jnp.int32).reshape(2, 10) % 64
  variables = model.init(jax.random.key(0, impl='unsafe_rbg'), tokens)
  params = variables['params']
  chex.assert_shape(params['layers_1']['mlp']['up_proj']['kernel'], (32, 24))
  logits, inter = model.apply({'params': params}, tokens,
                              mutable=['intermediates'])
  chex.assert_shape(logits, (2, 10, 64))
  chex.assert_type(logits, jnp.float32)
  chex.assert_shape(inter['intermediates']['layers_1']['mlp']['hidden'][0],
                    (2, 10, 24))
  ones = [jnp.ones((2, 10, 16)), jnp.ones((2, 10, 24))]
  np.testing.assert_allclose(
      model.apply({'params': params}, tokens, mlp_gates=ones), logits,
      rtol=1e-6, atol=1e-6)
  # Gating neurons to zero equals removing them from the weights.
  keep = np.array([1, 3, 4, 9, 10, 15])
  mask = jnp.zeros(16).at[keep].set(1.0)
  gated = model.apply({'params': params}, tokens,
                      mlp_gates=[mask, None])
  sliced = jax.tree.map(lambda x: x, params)
  mlp0 = params['layers_0']['mlp']
  sliced['layers_0']['mlp'] = {
      'gate_proj': {'kernel': mlp0['gate_proj']['kernel'][:, keep]},
      'up_proj': {'kernel': mlp0['up_proj']['kernel'][:, keep]},
      'down_proj': {'kernel': mlp0['down_proj']['kernel'][keep]}}
  small = _tiny(mlp_dim=(len(keep), 24))
  np.testing.assert_allclose(small.apply({'params': sliced}, tokens), gated,
                             rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match='mlp_gates'):
    model.apply({'params': params}, tokens, mlp_gates=ones[:1])


def test_kv_cache_matches_full_forward_and_generate():
  model = _tiny()
  tokens = (jnp.arange(24, dtype=jnp.int32).reshape(2, 12) * 7) % 64
  params = model.init(jax.random.key(0, impl='unsafe_rbg'), tokens)['params']
  full = model.apply({'params': params}, tokens)
  cache = transformer.init_cache(model, 2)
  out1, st = model.apply({'params': params, 'cache': cache}, tokens[:, :5],
                         decode=True, mutable=['cache'])
  outs = [out1]
  cache = st['cache']
  for i in range(5, 12):
    o, st = model.apply({'params': params, 'cache': cache}, tokens[:, i:i + 1],
                        decode=True, mutable=['cache'])
    cache = st['cache']
    outs.append(o)
  np.testing.assert_allclose(jnp.concatenate(outs, 1), full, rtol=1e-4,
                             atol=1e-4)
  seq, logits = transformer.generate(model, params, tokens[:, :4],
                                     max_new_tokens=6, rng=jax.random.key(1),
                                     temperature=0.0, return_logits=True)
  chex.assert_shape(seq, (2, 10))
  # Greedy decoding: each new token is the argmax of the full forward.
  ref = model.apply({'params': params}, seq)
  np.testing.assert_array_equal(np.asarray(seq[:, 4:]),
                                np.asarray(ref[:, 3:9].argmax(-1)))
  np.testing.assert_allclose(logits, ref[:, 3:9], rtol=1e-4, atol=1e-4)


def test_rope_is_relative():
  """RoPE scores depend only on the position difference."""
  rng = np.random.default_rng(0)
  q = jnp.asarray(rng.normal(size=(1, 1, 1, 8)), jnp.float32)
  k = jnp.asarray(rng.normal(size=(1, 1, 1, 8)), jnp.float32)

  def score(i, j):
    ci, si = llama.rope_tables(jnp.array([i]), 8)
    cj, sj = llama.rope_tables(jnp.array([j]), 8)
    return float((llama.apply_rope(q, ci, si) * llama.apply_rope(k, cj, sj)).sum())

  np.testing.assert_allclose(score(3, 1), score(9, 7), rtol=1e-5)
  assert abs(score(3, 1) - score(3, 2)) > 1e-4
  with pytest.raises(ValueError, match='divisible'):
    _tiny(num_kv_heads=3).init(jax.random.key(0), jnp.zeros((1, 4), jnp.int32))
