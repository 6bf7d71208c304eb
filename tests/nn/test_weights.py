"""Checkpoint import tests against independent numpy forwards of HF models."""

import math

import jax
import numpy as np
import pytest
from safetensors.numpy import save_file

from jaxlab import nn as jnn

GPT2 = dict(vocab_size=50, d_model=16, num_layers=2, num_heads=2, mlp_dim=64,
            max_len=12)
VIT = dict(patch_size=4, hidden_size=16, depth=2, num_heads=2, mlp_dim=32,
           num_classes=5, layer_norm_eps=1e-12)
IMAGE = 8


def _ln(x, w, b, eps):
  mu = x.mean(-1, keepdims=True)
  var = ((x - mu) ** 2).mean(-1, keepdims=True)
  return (x - mu) / np.sqrt(var + eps) * w + b


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _mha(q, k, v, heads, causal):
  """`[T, D]` each -> `[T, D]`."""
  t, d = q.shape
  split = lambda a: a.reshape(-1, heads, d // heads).transpose(1, 0, 2)
  q, k, v = split(q), split(k), split(v)
  s = q @ k.transpose(0, 2, 1) / math.sqrt(d // heads)
  if causal:
    s = np.where(np.tril(np.ones((t, t), bool)), s, -np.inf)
  return (_softmax(s) @ v).transpose(1, 0, 2).reshape(t, d)


def _gelu_tanh(x):
  return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _gelu_erf(x):
  return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _gpt2_state_dict(rng, prefix='transformer.'):
  d, m, v, t = GPT2['d_model'], GPT2['mlp_dim'], GPT2['vocab_size'], GPT2[
      'max_len']
  r = lambda *s: rng.normal(scale=0.2, size=s).astype(np.float32)
  sd = {'wte.weight': r(v, d), 'wpe.weight': r(t, d),
        'ln_f.weight': 1 + r(d), 'ln_f.bias': r(d)}
  for i in range(GPT2['num_layers']):
    h = f'h.{i}.'
    sd.update({
        h + 'ln_1.weight': 1 + r(d), h + 'ln_1.bias': r(d),
        h + 'attn.c_attn.weight': r(d, 3 * d), h + 'attn.c_attn.bias': r(3 * d),
        h + 'attn.c_proj.weight': r(d, d), h + 'attn.c_proj.bias': r(d),
        h + 'ln_2.weight': 1 + r(d), h + 'ln_2.bias': r(d),
        h + 'mlp.c_fc.weight': r(d, m), h + 'mlp.c_fc.bias': r(m),
        h + 'mlp.c_proj.weight': r(m, d), h + 'mlp.c_proj.bias': r(d),
        # Causal-mask buffer of older HF checkpoints; must be skipped.
        h + 'attn.bias': np.tril(np.ones((1, 1, t, t), np.float32)),
    })
  return {prefix + k: a for k, a in sd.items()}


def _gpt2_reference(sd, tokens):
  """HF GPT2LMHeadModel forward of one sequence, from HF names."""
  g = lambda k: sd['transformer.' + k].astype(np.float64)
  x = g('wte.weight')[tokens] + g('wpe.weight')[np.arange(len(tokens))]
  for i in range(GPT2['num_layers']):
    p = lambda k: g(f'h.{i}.{k}')
    a = _ln(x, p('ln_1.weight'), p('ln_1.bias'), 1e-5)
    qkv = a @ p('attn.c_attn.weight') + p('attn.c_attn.bias')  # Conv1D
    q, k, v = np.split(qkv, 3, axis=-1)
    a = _mha(q, k, v, GPT2['num_heads'], causal=True)
    x = x + a @ p('attn.c_proj.weight') + p('attn.c_proj.bias')
    a = _ln(x, p('ln_2.weight'), p('ln_2.bias'), 1e-5)
    a = _gelu_tanh(a @ p('mlp.c_fc.weight') + p('mlp.c_fc.bias'))
    x = x + a @ p('mlp.c_proj.weight') + p('mlp.c_proj.bias')
  x = _ln(x, g('ln_f.weight'), g('ln_f.bias'), 1e-5)
  return x @ g('wte.weight').T


def test_gpt2_import_matches_numpy_reference(tmp_path):
  sd = _gpt2_state_dict(np.random.default_rng(0))
  sd['lm_head.weight'] = sd['transformer.wte.weight'].copy()  # tied copy
  save_file(sd, str(tmp_path / 'model.safetensors'))
  loaded = jnn.load_state_dict(tmp_path / 'model.safetensors')
  params = jnn.import_gpt2(loaded, GPT2)
  tokens = np.array([[3, 14, 15, 9, 2, 6, 5, 35, 8]], np.int32)
  model = jnn.TransformerLM(**GPT2)
  logits = jax.jit(model.apply)({'params': params}, tokens)
  ref = _gpt2_reference(sd, tokens[0])
  np.testing.assert_allclose(logits[0], ref, rtol=1e-4, atol=1e-4)


def test_gpt2_untied_and_npz(tmp_path):
  rng = np.random.default_rng(1)
  sd = _gpt2_state_dict(rng, prefix='')
  head = rng.normal(size=(GPT2['vocab_size'], GPT2['d_model'])).astype(
      np.float32)
  sd['lm_head.weight'] = head
  np.savez(tmp_path / 'gpt2.npz', **sd)
  params = jnn.import_gpt2(jnn.load_state_dict(tmp_path / 'gpt2.npz'),
                           jnn.TransformerLM(**GPT2, tie_embeddings=False))
  np.testing.assert_array_equal(params['lm_head']['kernel'], head.T)
  # A tied model refuses a head that differs from wte.
  with pytest.raises(ValueError, match='lm_head.weight differs'):
    jnn.import_gpt2(sd, GPT2)


def test_gpt2_strict_errors():
  sd = _gpt2_state_dict(np.random.default_rng(2))
  del sd['transformer.h.1.mlp.c_fc.bias']
  sd['transformer.h.0.extra.weight'] = np.zeros(3, np.float32)
  sd['transformer.wpe.weight'] = np.zeros((7, GPT2['d_model']), np.float32)
  with pytest.raises(ValueError) as err:
    jnn.import_gpt2(sd, GPT2)
  msg = str(err.value)
  assert "missing keys: ['h.1.mlp.c_fc.bias']" in msg
  assert "unexpected keys: ['transformer.h.0.extra.weight']" in msg
  assert 'transformer.wpe.weight: (7, 16)' in msg and '(12, 16)' in msg


def _vit_state_dict(rng):
  d, m, p, c = VIT['hidden_size'], VIT['mlp_dim'], VIT['patch_size'], 3
  n = (IMAGE // p) ** 2
  r = lambda *s: rng.normal(scale=0.2, size=s).astype(np.float32)
  sd = {
      'vit.embeddings.cls_token': r(1, 1, d),
      'vit.embeddings.position_embeddings': r(1, n + 1, d),
      'vit.embeddings.patch_embeddings.projection.weight': r(d, c, p, p),
      'vit.embeddings.patch_embeddings.projection.bias': r(d),
      'vit.layernorm.weight': 1 + r(d), 'vit.layernorm.bias': r(d),
      'classifier.weight': r(VIT['num_classes'], d),
      'classifier.bias': r(VIT['num_classes']),
  }
  for i in range(VIT['depth']):
    h = f'vit.encoder.layer.{i}.'
    for name in ('query', 'key', 'value'):
      sd[h + f'attention.attention.{name}.weight'] = r(d, d)
      sd[h + f'attention.attention.{name}.bias'] = r(d)
    sd.update({
        h + 'attention.output.dense.weight': r(d, d),
        h + 'attention.output.dense.bias': r(d),
        h + 'intermediate.dense.weight': r(m, d),
        h + 'intermediate.dense.bias': r(m),
        h + 'output.dense.weight': r(d, m), h + 'output.dense.bias': r(d),
        h + 'layernorm_before.weight': 1 + r(d),
        h + 'layernorm_before.bias': r(d),
        h + 'layernorm_after.weight': 1 + r(d),
        h + 'layernorm_after.bias': r(d),
    })
  return sd


def _vit_reference(sd, image):
  """HF ViTForImageClassification forward of one `[H, W, C]` image."""
  g = lambda k: sd[k].astype(np.float64)
  p, eps = VIT['patch_size'], VIT['layer_norm_eps']
  h, w, c = image.shape
  patches = image.reshape(h // p, p, w // p, p, c).transpose(0, 2, 4, 1, 3)
  patches = patches.reshape(-1, c, p, p)  # torch [C, P, P] per patch
  e = 'vit.embeddings.'
  weight = g(e + 'patch_embeddings.projection.weight')  # [D, C, P, P]
  x = np.einsum('ncij,dcij->nd', patches, weight)
  x = x + g(e + 'patch_embeddings.projection.bias')
  x = np.concatenate([g(e + 'cls_token')[0], x]) + g(
      e + 'position_embeddings')[0]
  lin = lambda a, k: a @ g(k + '.weight').T + g(k + '.bias')  # torch Linear
  for i in range(VIT['depth']):
    l = f'vit.encoder.layer.{i}.'
    a = _ln(x, g(l + 'layernorm_before.weight'), g(l + 'layernorm_before.bias'),
            eps)
    q, k, v = (lin(a, l + f'attention.attention.{n}')
               for n in ('query', 'key', 'value'))
    x = x + lin(_mha(q, k, v, VIT['num_heads'], causal=False),
                l + 'attention.output.dense')
    a = _ln(x, g(l + 'layernorm_after.weight'), g(l + 'layernorm_after.bias'),
            eps)
    x = x + lin(_gelu_erf(lin(a, l + 'intermediate.dense')),
                l + 'output.dense')
  x = _ln(x, g('vit.layernorm.weight'), g('vit.layernorm.bias'), eps)
  return lin(x[0], 'classifier'), x


def test_vit_import_matches_numpy_reference(tmp_path):
  rng = np.random.default_rng(3)
  sd = _vit_state_dict(rng)
  sd['vit.pooler.dense.weight'] = np.zeros((16, 16), np.float32)  # ignored
  save_file(sd, str(tmp_path / 'vit.safetensors'))
  params = jnn.import_vit(jnn.load_state_dict(tmp_path / 'vit.safetensors'),
                          VIT, image_size=IMAGE)
  images = rng.normal(size=(2, IMAGE, IMAGE, 3)).astype(np.float32)
  out = jax.jit(jnn.ViT(**VIT).apply)({'params': params}, images)
  for b in range(2):
    logits, tokens = _vit_reference(sd, images[b].astype(np.float64))
    np.testing.assert_allclose(out['logits'][b], logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out['patch_tokens'][b], tokens[1:], rtol=1e-4,
                               atol=1e-4)


def test_vit_strict_errors_and_headless_import():
  sd = _vit_state_dict(np.random.default_rng(4))
  # ViTModel naming (no prefix, no classifier) into a headless model.
  base = {k[len('vit.'):]: a for k, a in sd.items() if k.startswith('vit.')}
  headless = dict(VIT, num_classes=None)
  params = jnn.import_vit(base, headless, image_size=IMAGE)
  assert 'head' not in params
  with pytest.raises(ValueError, match=r"missing keys: \['classifier.weight'"):
    jnn.import_vit(base, VIT, image_size=IMAGE)
  with pytest.raises(ValueError, match=r"unexpected keys: \['classifier.bias'"):
    jnn.import_vit(sd, headless, image_size=IMAGE)
  with pytest.raises(ValueError, match='position_embeddings'):
    jnn.import_vit(sd, VIT, image_size=2 * IMAGE)
  with pytest.raises(ValueError, match="classifier='token'"):
    jnn.import_vit(sd, dict(VIT, classifier='gap'), image_size=IMAGE)


def test_load_state_dict_rejects_unknown_format(tmp_path):
  with pytest.raises(ValueError, match='unsupported'):
    jnn.load_state_dict(tmp_path / 'model.ckpt')


# ---- HF CLIP vision and DINOv2 layouts (random checkpoints with the real key names) ----------

from jaxlab.nn import weights as jweights  # noqa: E402

CLIP = dict(patch_size=4, hidden_size=16, depth=2, num_heads=2, mlp_dim=32, num_classes=6,
            layer_norm_eps=1e-5, pre_norm=True, mlp_type='quick_gelu')
DINO = dict(patch_size=4, hidden_size=16, depth=2, num_heads=2, mlp_dim=24, num_classes=None,
            layer_norm_eps=1e-6, layer_scale_init=1e-5)


def _patchify(image, p):
  h, w, c = image.shape
  patches = image.reshape(h // p, p, w // p, p, c).transpose(0, 2, 4, 1, 3)
  return patches.reshape(-1, c, p, p)  # torch [C, P, P] per patch


def _clip_state_dict(rng):
  d, m, p, e = CLIP['hidden_size'], CLIP['mlp_dim'], CLIP['patch_size'], CLIP['num_classes']
  n = (IMAGE // p) ** 2
  r = lambda *s: rng.normal(scale=0.2, size=s).astype(np.float32)
  sd = {'embeddings.class_embedding': r(d), 'embeddings.patch_embedding.weight': r(d, 3, p, p),
        'embeddings.position_embedding.weight': r(n + 1, d),
        'embeddings.position_ids': np.arange(n + 1)[None].astype(np.int64),
        'pre_layrnorm.weight': 1 + r(d), 'pre_layrnorm.bias': r(d),
        'post_layernorm.weight': 1 + r(d), 'post_layernorm.bias': r(d)}
  for i in range(CLIP['depth']):
    h = f'encoder.layers.{i}.'
    for name in ('q_proj', 'k_proj', 'v_proj', 'out_proj'):
      sd[h + f'self_attn.{name}.weight'] = r(d, d)
      sd[h + f'self_attn.{name}.bias'] = r(d)
    sd.update({h + 'mlp.fc1.weight': r(m, d), h + 'mlp.fc1.bias': r(m),
               h + 'mlp.fc2.weight': r(d, m), h + 'mlp.fc2.bias': r(d)})
    for ln in ('layer_norm1', 'layer_norm2'):
      sd[h + ln + '.weight'] = 1 + r(d)
      sd[h + ln + '.bias'] = r(d)
  sd = {'vision_model.' + k: v for k, v in sd.items()}
  sd['visual_projection.weight'] = r(e, d)
  # a full CLIPModel also holds the text tower: skipped
  sd['text_model.embeddings.token_embedding.weight'] = r(10, d)
  sd['text_projection.weight'] = r(e, d)
  sd['logit_scale'] = np.array(2.6592, np.float32)
  return sd


def _clip_reference(sd, image):
  """HF CLIPVisionModelWithProjection: (image_embeds, pooler_output) of one image."""
  g = lambda k: sd['vision_model.' + k].astype(np.float64)
  eps = CLIP['layer_norm_eps']
  x = np.einsum('ncij,dcij->nd', _patchify(image, CLIP['patch_size']),
                g('embeddings.patch_embedding.weight'))  # no bias
  x = np.concatenate([g('embeddings.class_embedding')[None], x])
  x = x + g('embeddings.position_embedding.weight')
  x = _ln(x, g('pre_layrnorm.weight'), g('pre_layrnorm.bias'), eps)
  lin = lambda a, k: a @ g(k + '.weight').T + g(k + '.bias')
  quick_gelu = lambda a: a / (1 + np.exp(-1.702 * a))
  for i in range(CLIP['depth']):
    l = f'encoder.layers.{i}.'
    a = _ln(x, g(l + 'layer_norm1.weight'), g(l + 'layer_norm1.bias'), eps)
    q, k, v = (lin(a, l + f'self_attn.{n}_proj') for n in 'qkv')
    x = x + lin(_mha(q, k, v, CLIP['num_heads'], causal=False), l + 'self_attn.out_proj')
    a = _ln(x, g(l + 'layer_norm2.weight'), g(l + 'layer_norm2.bias'), eps)
    x = x + lin(quick_gelu(lin(a, l + 'mlp.fc1')), l + 'mlp.fc2')
  pooled = _ln(x[0], g('post_layernorm.weight'), g('post_layernorm.bias'), eps)
  return pooled @ sd['visual_projection.weight'].astype(np.float64).T, pooled


def test_clip_vision_import_matches_numpy_reference():
  rng = np.random.default_rng(5)
  sd = _clip_state_dict(rng)
  params = jweights.import_clip_vision(sd, CLIP, image_size=IMAGE)
  np.testing.assert_array_equal(params['embedding']['bias'], 0.0)
  images = rng.normal(size=(2, IMAGE, IMAGE, 3)).astype(np.float32)
  out = jax.jit(jnn.ViT(**CLIP).apply)({'params': params}, images)
  for b in range(2):
    embeds, pooled = _clip_reference(sd, images[b].astype(np.float64))
    np.testing.assert_allclose(out['logits'][b], embeds, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out['cls'][b], pooled, rtol=1e-4, atol=1e-4)
  # headless import of CLIPVisionModel keys (no prefix, no projection)
  base = {k[len('vision_model.'):]: v for k, v in sd.items() if k.startswith('vision_model.')}
  params = jweights.import_clip_vision(base, dict(CLIP, num_classes=None), image_size=IMAGE)
  assert 'head' not in params and 'pre_norm' in params


def test_clip_vision_import_errors():
  sd = _clip_state_dict(np.random.default_rng(6))
  del sd['vision_model.encoder.layers.1.mlp.fc2.bias']
  with pytest.raises(ValueError, match=r"missing keys: \['encoder.layers.1.mlp.fc2.bias'\]"):
    jweights.import_clip_vision(sd, CLIP, image_size=IMAGE)
  with pytest.raises(ValueError, match='pre_norm=True'):
    jweights.import_clip_vision(sd, dict(CLIP, pre_norm=False), image_size=IMAGE)


def _dino_state_dict(rng, swiglu):
  d, m, p = DINO['hidden_size'], DINO['mlp_dim'], DINO['patch_size']
  n = (IMAGE // p) ** 2
  r = lambda *s: rng.normal(scale=0.2, size=s).astype(np.float32)
  sd = {'embeddings.cls_token': r(1, 1, d), 'embeddings.mask_token': r(1, d),
        'embeddings.position_embeddings': r(1, n + 1, d),
        'embeddings.patch_embeddings.projection.weight': r(d, 3, p, p),
        'embeddings.patch_embeddings.projection.bias': r(d),
        'layernorm.weight': 1 + r(d), 'layernorm.bias': r(d)}
  for i in range(DINO['depth']):
    h = f'encoder.layer.{i}.'
    for name in ('query', 'key', 'value'):
      sd[h + f'attention.attention.{name}.weight'] = r(d, d)
      sd[h + f'attention.attention.{name}.bias'] = r(d)
    sd[h + 'attention.output.dense.weight'] = r(d, d)
    sd[h + 'attention.output.dense.bias'] = r(d)
    if swiglu:
      sd.update({h + 'mlp.weights_in.weight': r(2 * m, d), h + 'mlp.weights_in.bias': r(2 * m),
                 h + 'mlp.weights_out.weight': r(d, m), h + 'mlp.weights_out.bias': r(d)})
    else:
      sd.update({h + 'mlp.fc1.weight': r(m, d), h + 'mlp.fc1.bias': r(m),
                 h + 'mlp.fc2.weight': r(d, m), h + 'mlp.fc2.bias': r(d)})
    for ln in ('norm1', 'norm2'):
      sd[h + ln + '.weight'] = 1 + r(d)
      sd[h + ln + '.bias'] = r(d)
    sd[h + 'layer_scale1.lambda1'] = 1 + r(d)
    sd[h + 'layer_scale2.lambda1'] = 1 + r(d)
  return sd


def _dino_reference(sd, image, swiglu):
  """HF Dinov2Model last_hidden_state (after the final layernorm) of one image."""
  g = lambda k: sd[k].astype(np.float64)
  eps = DINO['layer_norm_eps']
  x = np.einsum('ncij,dcij->nd', _patchify(image, DINO['patch_size']),
                g('embeddings.patch_embeddings.projection.weight'))
  x = x + g('embeddings.patch_embeddings.projection.bias')
  x = np.concatenate([g('embeddings.cls_token')[0], x]) + g('embeddings.position_embeddings')[0]
  lin = lambda a, k: a @ g(k + '.weight').T + g(k + '.bias')
  for i in range(DINO['depth']):
    l = f'encoder.layer.{i}.'
    a = _ln(x, g(l + 'norm1.weight'), g(l + 'norm1.bias'), eps)
    q, k, v = (lin(a, l + f'attention.attention.{n}') for n in ('query', 'key', 'value'))
    a = lin(_mha(q, k, v, DINO['num_heads'], causal=False), l + 'attention.output.dense')
    x = x + a * g(l + 'layer_scale1.lambda1')
    a = _ln(x, g(l + 'norm2.weight'), g(l + 'norm2.bias'), eps)
    if swiglu:
      x1, x2 = np.split(lin(a, l + 'mlp.weights_in'), 2, axis=-1)
      a = lin(x1 / (1 + np.exp(-x1)) * x2, l + 'mlp.weights_out')
    else:
      a = lin(_gelu_erf(lin(a, l + 'mlp.fc1')), l + 'mlp.fc2')
    x = x + a * g(l + 'layer_scale2.lambda1')
  return _ln(x, g('layernorm.weight'), g('layernorm.bias'), eps)


@pytest.mark.parametrize('swiglu', [False, True])
def test_dinov2_import_matches_numpy_reference(swiglu):
  rng = np.random.default_rng(7)
  sd = _dino_state_dict(rng, swiglu)
  cfg = dict(DINO, mlp_type='swiglu' if swiglu else 'gelu')
  params = jweights.import_dinov2({'dinov2.' + k: v for k, v in sd.items()}, cfg,
                                  image_size=IMAGE)
  images = rng.normal(size=(2, IMAGE, IMAGE, 3)).astype(np.float32)
  model = jnn.ViT(**cfg)
  out = jax.jit(model.apply)({'params': params}, images)
  for b in range(2):
    ref = _dino_reference(sd, images[b].astype(np.float64), swiglu)
    np.testing.assert_allclose(out['cls'][b], ref[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out['patch_tokens'][b], ref[1:], rtol=1e-4, atol=1e-4)
  if swiglu:
    # the imported gated MLP prunes like ours: masked == sliced
    from jaxlab.ops import pruning
    keep = [np.arange(0, 24, 3), np.arange(5)]
    sliced, widths = pruning.slice_mlps(params, keep)
    masks = tuple(np.isin(np.arange(24), k).astype(np.float32) for k in keep)
    small = jnn.ViT(**dict(cfg, mlp_dim=widths))
    np.testing.assert_allclose(small.apply({'params': sliced}, images)['cls'],
                               model.apply({'params': params}, images, mlp_gates=masks)['cls'],
                               atol=1e-5)


def test_dinov2_import_errors():
  sd = _dino_state_dict(np.random.default_rng(8), swiglu=True)
  with pytest.raises(ValueError, match='missing keys'):  # a GELU model expects fc1/fc2
    jweights.import_dinov2(sd, dict(DINO, mlp_type='gelu'), image_size=IMAGE)
  with pytest.raises(ValueError, match='LayerScale'):
    jweights.import_dinov2(sd, dict(DINO, mlp_type='swiglu', layer_scale_init=None),
                           image_size=IMAGE)
