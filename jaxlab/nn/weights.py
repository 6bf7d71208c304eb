"""Import of PyTorch / HuggingFace checkpoints into jaxlab parameters.

A state dict here is a flat `{name: numpy array}` mapping, as read by
`load_state_dict` from `.safetensors`, `.npz` or (when torch is installed)
torch `.bin`/`.pt` files. The importers are strict: missing or unexpected keys
and shape mismatches all raise one `ValueError` listing every problem, because
a silently half-loaded checkpoint is worse than none.

Layout conversions:
- torch `nn.Linear` weights are `[out, in]`; flax Dense kernels are
  `[in, out]` (transposed).
- GPT-2's `Conv1D` weights are already `[in, out]` (copied as is).
- torch conv weights `[out, in, kh, kw]` become flax kernels
  `[kh, kw, in, out]`.
- LayerNorm `weight` is flax's `scale`; embeddings copy over.

Importers for other model families (e.g. `jaxlab.nn.llama`) build on the public helpers
`linear_weight`, `copy_weight`, `as_module` and `build_params` (entries of
`(hf_key, our_path, convert)` checked strictly against the model's parameter shapes).
"""

import os
from typing import Any, Callable, Dict, List, Mapping, Tuple, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import safetensors.numpy

from jaxlab.nn import transformer
from jaxlab.nn import vit

StateDict = Dict[str, np.ndarray]
_Entry = Tuple[str, Tuple[str, ...], Callable[[np.ndarray], np.ndarray]]


def load_state_dict(path: Union[str, os.PathLike]) -> StateDict:
  """Reads a flat `{name: array}` checkpoint.

  Supports `.safetensors`, `.npz`, and torch `.bin`/`.pt`/`.pth` (only if
  torch is importable). Arrays come back as numpy; bfloat16 torch tensors are
  widened to float32.
  """
  path = os.fspath(path)
  if path.endswith('.safetensors'):
    return dict(safetensors.numpy.load_file(path))
  if path.endswith('.npz'):
    with np.load(path) as f:
      return {k: f[k] for k in f.files}
  if path.endswith(('.bin', '.pt', '.pth')):
    try:
      import torch  # pylint: disable=import-outside-toplevel
    except ImportError:
      raise ImportError(f'reading {path} needs torch; convert it to '
                        '.safetensors or .npz instead') from None
    sd = torch.load(path, map_location='cpu', weights_only=True)
    return {k: (v.float() if v.dtype == torch.bfloat16 else v).numpy()
            for k, v in sd.items()}
  raise ValueError(f'unsupported checkpoint format: {path} (expected '
                   '.safetensors, .npz, .bin, .pt or .pth)')


def linear_weight(w):
  return np.transpose(w)


def _encoder_block_entries(depth, hf_prefix, linears, norms):
  """Entries of every encoder block: HF Linear -> (kernel, bias), LayerNorm -> (scale, bias).

  `hf_prefix` is formatted with the block index (`'encoder.layer.{i}.'`); `linears` maps HF
  module names to `(module, submodule)` in our block, `norms` maps them to our norm names.
  """
  entries = []
  for i in range(depth):
    hf, block = hf_prefix.format(i=i), f'encoder_block_{i}'
    for src, dst in linears.items():
      entries.append((hf + src + '.weight', (block, *dst, 'kernel'), linear_weight))
      entries.append((hf + src + '.bias', (block, *dst, 'bias'), copy_weight))
    for src, dst in norms.items():
      entries.append((hf + src + '.weight', (block, dst, 'scale'), copy_weight))
      entries.append((hf + src + '.bias', (block, dst, 'bias'), copy_weight))
  return entries


def copy_weight(w):
  return w


def _conv(w):
  return np.transpose(w, (2, 3, 1, 0))


def _strip_prefix(state_dict: Mapping[str, Any], prefix: str):
  """`{short name: original name}` with `prefix` removed where present."""
  return {(k[len(prefix):] if k.startswith(prefix) else k): k
          for k in state_dict}


def _set(tree: dict, path: Tuple[str, ...], value):
  for p in path[:-1]:
    tree = tree.setdefault(p, {})
  tree[path[-1]] = value


def build_params(kind: str, state_dict: Mapping[str, Any], names: Dict[str, str],
           entries: List[_Entry], expected, ignore: Callable[[str], bool],
           extra_errors: List[str]) -> dict:
  """Applies `entries` and checks keys and shapes against `expected`."""
  missing = [hf for hf, _, _ in entries if hf not in names]
  mapped = {hf for hf, _, _ in entries}
  unexpected = sorted(names[k] for k in names
                      if k not in mapped and not ignore(k))
  params, mismatched = {}, []
  expected_flat = {
      tuple(p.key for p in path): leaf
      for path, leaf in jax.tree_util.tree_flatten_with_path(expected)[0]}
  for hf, path, fn in entries:
    if hf not in names:
      continue
    value = np.asarray(fn(np.asarray(state_dict[names[hf]])), np.float32)
    want = expected_flat.get(path)
    if want is None or tuple(want.shape) != value.shape:
      mismatched.append(
          f'{names[hf]}: {tuple(state_dict[names[hf]].shape)} gives '
          f'{"/".join(path)} {value.shape}, model expects '
          f'{None if want is None else tuple(want.shape)}')
      continue
    _set(params, path, jnp.asarray(value))
  problems = list(extra_errors)
  if missing:
    problems.append(f'missing keys: {missing}')
  if unexpected:
    problems.append(f'unexpected keys: {unexpected}')
  if mismatched:
    problems.append('shape mismatches:\n    ' + '\n    '.join(mismatched))
  if problems:
    raise ValueError(f'{kind} checkpoint does not match the model:\n  '
                     + '\n  '.join(problems))
  # Every model parameter must be covered (catches mapping gaps).
  uncovered = sorted('/'.join(p) for p in expected_flat
                     if p not in {e[1] for e in entries})
  if uncovered:
    raise ValueError(f'{kind} import does not cover parameters {uncovered}')
  return params


def as_module(model_config, cls):
  if isinstance(model_config, cls):
    return model_config
  if isinstance(model_config, nn.Module):
    raise TypeError(f'expected a {cls.__name__}, got {type(model_config)}')
  return cls(**dict(model_config))


def import_vit(state_dict: Mapping[str, np.ndarray],
               model_config: Union[vit.ViT, Mapping[str, Any]], *,
               image_size: int = 224, num_channels: int = 3,
               ignore_prefixes: Tuple[str, ...] = ('pooler.',)) -> dict:
  """Converts a HuggingFace `ViTModel` / `ViTForImageClassification` state dict.

  Keys may carry the `vit.` prefix (`ViTForImageClassification`) or not
  (`ViTModel`). `classifier.{weight,bias}` map to `head` and are required
  exactly when the model has a head (`num_classes` not None). HF's ViT uses
  `layer_norm_eps=1e-12`; pass it in the config for exact outputs.

  Args:
    state_dict: flat `{name: array}`.
    model_config: a `ViT` or its constructor arguments; must use
      `classifier='token'` (HF ViTs have a class token).
    image_size: input side the checkpoint's position embedding was made for.
    num_channels: image channels.
    ignore_prefixes: key prefixes (after removing `vit.`) that are skipped,
      such as `ViTModel`'s pooler.

  Returns:
    The `params` collection for `model_config`.

  Raises:
    ValueError: missing/unexpected keys or shape mismatches, all listed.
  """
  model = as_module(model_config, vit.ViT)
  if model.classifier != 'token':
    raise ValueError("HuggingFace ViT checkpoints need classifier='token'")
  names = _strip_prefix(state_dict, 'vit.')
  entries: List[_Entry] = [
      ('embeddings.cls_token', ('cls',), copy_weight),
      ('embeddings.position_embeddings', ('pos_embedding',), copy_weight),
      ('embeddings.patch_embeddings.projection.weight',
       ('embedding', 'kernel'), _conv),
      ('embeddings.patch_embeddings.projection.bias', ('embedding', 'bias'),
       copy_weight),
      ('layernorm.weight', ('encoder_norm', 'scale'), copy_weight),
      ('layernorm.bias', ('encoder_norm', 'bias'), copy_weight),
  ]
  linears = {'attention.attention.query': ('attn', 'query'),
             'attention.attention.key': ('attn', 'key'),
             'attention.attention.value': ('attn', 'value'),
             'attention.output.dense': ('attn', 'out'),
             'intermediate.dense': ('mlp', 'fc1'),
             'output.dense': ('mlp', 'fc2')}
  norms = {'layernorm_before': 'ln1', 'layernorm_after': 'ln2'}
  entries += _encoder_block_entries(model.depth, 'encoder.layer.{i}.', linears, norms)
  if model.num_classes is not None:
    entries.append(('classifier.weight', ('head', 'kernel'), linear_weight))
    entries.append(('classifier.bias', ('head', 'bias'), copy_weight))

  expected = jax.eval_shape(
      model.init, jax.random.key(0),
      jnp.zeros((1, image_size, image_size, num_channels)))['params']
  ignore = lambda k: k.startswith(tuple(ignore_prefixes))
  return build_params('ViT', state_dict, names, entries, expected, ignore, [])


def import_gpt2(state_dict: Mapping[str, np.ndarray],
                model_config: Union[transformer.TransformerLM,
                                    Mapping[str, Any]]) -> dict:
  """Converts a HuggingFace `GPT2Model` / `GPT2LMHeadModel` state dict.

  Keys may carry the `transformer.` prefix or not. The causal-mask buffers
  `h.{i}.attn.bias` / `masked_bias` of older checkpoints are skipped. With
  tied embeddings a `lm_head.weight`, if present, must equal `wte.weight`;
  untied models require it and map it to `lm_head`.

  Args:
    state_dict: flat `{name: array}`.
    model_config: a `TransformerLM` or its constructor arguments.

  Returns:
    The `params` collection for `model_config`.

  Raises:
    ValueError: missing/unexpected keys or shape mismatches, all listed.
  """
  model = as_module(model_config, transformer.TransformerLM)
  names = _strip_prefix(state_dict, 'transformer.')
  entries: List[_Entry] = [
      ('wte.weight', ('wte', 'embedding'), copy_weight),
      ('wpe.weight', ('wpe', 'embedding'), copy_weight),
      ('ln_f.weight', ('ln_f', 'scale'), copy_weight),
      ('ln_f.bias', ('ln_f', 'bias'), copy_weight),
  ]
  for i in range(model.num_layers):
    hf, block = f'h.{i}.', f'h_{i}'
    for sub in ('attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'):
      path = (block, *sub.split('.'))
      entries.append((f'{hf}{sub}.weight', path + ('kernel',), copy_weight))
      entries.append((f'{hf}{sub}.bias', path + ('bias',), copy_weight))
    for ln in ('ln_1', 'ln_2'):
      entries.append((f'{hf}{ln}.weight', (block, ln, 'scale'), copy_weight))
      entries.append((f'{hf}{ln}.bias', (block, ln, 'bias'), copy_weight))

  errors = []
  if model.tie_embeddings:
    if 'lm_head.weight' in names and 'wte.weight' in names:
      head, wte = (np.asarray(state_dict[names[k]])
                   for k in ('lm_head.weight', 'wte.weight'))
      if head.shape != wte.shape or not np.array_equal(head, wte):
        errors.append('lm_head.weight differs from wte.weight but the model '
                      'ties embeddings (use tie_embeddings=False)')
  else:
    entries.append(('lm_head.weight', ('lm_head', 'kernel'), linear_weight))

  def ignore(k):
    if k.endswith(('.attn.bias', '.attn.masked_bias')) and k.startswith('h.'):
      return True
    return model.tie_embeddings and k == 'lm_head.weight'

  expected = jax.eval_shape(model.init, jax.random.key(0),
                            jnp.zeros((1, 1), jnp.int32))['params']
  return build_params('GPT-2', state_dict, names, entries, expected, ignore, errors)


def _with_zeros(state_dict: Mapping[str, Any], names: Dict[str, str],
                zeros: Dict[str, Tuple[int, ...]]) -> Tuple[dict, Dict[str, str]]:
  """Adds all-zero entries (biases a checkpoint does not have) under synthetic names."""
  sd = dict(state_dict)
  names = dict(names)
  for short, shape in zeros.items():
    key = f'<zeros>{short}'
    sd[key] = np.zeros(shape, np.float32)
    names[short] = key
  return sd, names


def import_clip_vision(state_dict: Mapping[str, np.ndarray],
                       model_config: Union[vit.ViT, Mapping[str, Any]], *,
                       image_size: int = 224, num_channels: int = 3) -> dict:
  """Converts a HuggingFace `CLIPVisionModel(WithProjection)` state dict into a ViT.

  HF layout (keys with or without the `vision_model.` prefix; a full `CLIPModel` state dict
  works too, its text tower and `logit_scale` are skipped):

    embeddings.class_embedding [D], embeddings.patch_embedding.weight [D, C, P, P] (no bias),
    embeddings.position_embedding.weight [N+1, D], pre_layrnorm.{weight,bias},
    encoder.layers.{i}.{layer_norm1, layer_norm2}.{weight,bias},
    encoder.layers.{i}.self_attn.{q_proj,k_proj,v_proj,out_proj}.{weight,bias},
    encoder.layers.{i}.mlp.{fc1,fc2}.{weight,bias}, post_layernorm.{weight,bias},
    visual_projection.weight [E, D] (no bias; `WithProjection` / `CLIPModel`).

  The model must be built with `pre_norm=True`, `mlp_type='quick_gelu'` (OpenAI CLIP; use
  'gelu' for checkpoints with `hidden_act='gelu'`), `layer_norm_eps=1e-5`, `classifier='token'`
  and either `num_classes=None` (no projection) or `num_classes=E` (the projection becomes the
  head, with a zero bias). The patch embedding gets a zero bias. Our `cls` output equals HF's
  `pooler_output` (post_layernorm of the class token) and the head's output its `image_embeds`;
  our `patch_tokens` are post-norm too (HF's `last_hidden_state` is not).

  Raises:
    ValueError: missing/unexpected keys or shape mismatches, all listed, or a model config
      that cannot represent CLIP.
  """
  model = as_module(model_config, vit.ViT)
  problems = []
  if model.classifier != 'token':
    problems.append("CLIP needs classifier='token'")
  if not model.pre_norm:
    problems.append('CLIP needs pre_norm=True (its pre_layrnorm)')
  if model.layer_scale_init is not None:
    problems.append('CLIP has no LayerScale (layer_scale_init must be None)')
  if problems:
    raise ValueError('model config cannot hold a CLIP vision tower: ' + '; '.join(problems))
  d = model.hidden_size
  names = _strip_prefix(state_dict, 'vision_model.')
  entries: List[_Entry] = [
      ('embeddings.class_embedding', ('cls',), lambda w: w.reshape(1, 1, -1)),
      ('embeddings.position_embedding.weight', ('pos_embedding',), lambda w: w[None]),
      ('embeddings.patch_embedding.weight', ('embedding', 'kernel'), _conv),
      ('embeddings.patch_embedding.bias', ('embedding', 'bias'), copy_weight),
      ('pre_layrnorm.weight', ('pre_norm', 'scale'), copy_weight),
      ('pre_layrnorm.bias', ('pre_norm', 'bias'), copy_weight),
      ('post_layernorm.weight', ('encoder_norm', 'scale'), copy_weight),
      ('post_layernorm.bias', ('encoder_norm', 'bias'), copy_weight),
  ]
  zeros = {'embeddings.patch_embedding.bias': (d,)}
  linears = {'self_attn.q_proj': ('attn', 'query'), 'self_attn.k_proj': ('attn', 'key'),
             'self_attn.v_proj': ('attn', 'value'), 'self_attn.out_proj': ('attn', 'out'),
             'mlp.fc1': ('mlp', 'fc1'), 'mlp.fc2': ('mlp', 'fc2')}
  norms = {'layer_norm1': 'ln1', 'layer_norm2': 'ln2'}
  entries += _encoder_block_entries(model.depth, 'encoder.layers.{i}.', linears, norms)
  if model.num_classes is not None:
    entries.append(('visual_projection.weight', ('head', 'kernel'), linear_weight))
    entries.append(('visual_projection.bias', ('head', 'bias'), copy_weight))
    zeros['visual_projection.bias'] = (model.num_classes,)
  sd, names = _with_zeros(state_dict, names, zeros)

  def ignore(k):
    return (k.startswith(('text_model.', 'text_projection.', '<zeros>'))
            or k in ('logit_scale', 'embeddings.position_ids', 'visual_projection.weight'))

  expected = jax.eval_shape(
      model.init, jax.random.key(0),
      jnp.zeros((1, image_size, image_size, num_channels)))['params']
  return build_params('CLIP vision', sd, names, entries, expected, ignore, [])


def import_dinov2(state_dict: Mapping[str, np.ndarray],
                  model_config: Union[vit.ViT, Mapping[str, Any]], *,
                  image_size: int = 518, num_channels: int = 3) -> dict:
  """Converts a HuggingFace `Dinov2Model` state dict (GELU or SwiGLU MLPs) into a ViT.

  HF layout (keys with or without the `dinov2.` prefix of `Dinov2ForImageClassification`):

    embeddings.cls_token [1, 1, D], embeddings.mask_token [1, D] (skipped),
    embeddings.position_embeddings [1, N+1, D], embeddings.patch_embeddings.projection.{weight,
    bias}, encoder.layer.{i}.{norm1, norm2}.{weight,bias},
    encoder.layer.{i}.attention.attention.{query,key,value}.{weight,bias},
    encoder.layer.{i}.attention.output.dense.{weight,bias},
    encoder.layer.{i}.layer_scale{1,2}.lambda1 [D],
    encoder.layer.{i}.mlp.{fc1,fc2}.{weight,bias}               (GELU: ViT-S/B/L)
    encoder.layer.{i}.mlp.{weights_in [2H, D], weights_out}.{weight,bias}   (SwiGLU: ViT-g)
    layernorm.{weight,bias}; classifier.{weight,bias} when the model has a head.

  `weights_in` stacks the SiLU-gate half then the value half, which is exactly our fused
  `mlp_type='swiglu'` fc1, so MLP pruning slices both halves with the same indices. Build the
  model with `layer_scale_init=<any float>` (the values are loaded), `layer_norm_eps=1e-6`,
  `classifier='token'` and the `mlp_type` matching the checkpoint. `image_size` must match
  the checkpoint's position grid (518 for the released models; no interpolation here). HF's
  classifier head reads [cls, mean patch] concatenated; only `num_classes=None` (backbone) is
  supported.

  Raises:
    ValueError: missing/unexpected keys or shape mismatches, all listed.
  """
  model = as_module(model_config, vit.ViT)
  problems = []
  if model.classifier != 'token':
    problems.append("DINOv2 needs classifier='token'")
  if model.layer_scale_init is None:
    problems.append('DINOv2 needs LayerScale (set layer_scale_init, e.g. 1e-5)')
  if model.pre_norm:
    problems.append('DINOv2 has no pre-norm (pre_norm must be False)')
  if model.num_classes is not None:
    problems.append('only the backbone is imported: build the model with num_classes=None')
  if problems:
    raise ValueError('model config cannot hold a DINOv2 backbone: ' + '; '.join(problems))
  names = _strip_prefix(state_dict, 'dinov2.')
  entries: List[_Entry] = [
      ('embeddings.cls_token', ('cls',), copy_weight),
      ('embeddings.position_embeddings', ('pos_embedding',), copy_weight),
      ('embeddings.patch_embeddings.projection.weight', ('embedding', 'kernel'), _conv),
      ('embeddings.patch_embeddings.projection.bias', ('embedding', 'bias'), copy_weight),
      ('layernorm.weight', ('encoder_norm', 'scale'), copy_weight),
      ('layernorm.bias', ('encoder_norm', 'bias'), copy_weight),
  ]
  mlp = ({'mlp.weights_in': ('mlp', 'fc1'), 'mlp.weights_out': ('mlp', 'fc2')}
         if model.mlp_type == 'swiglu' else
         {'mlp.fc1': ('mlp', 'fc1'), 'mlp.fc2': ('mlp', 'fc2')})
  linears = {'attention.attention.query': ('attn', 'query'),
             'attention.attention.key': ('attn', 'key'),
             'attention.attention.value': ('attn', 'value'),
             'attention.output.dense': ('attn', 'out'), **mlp}
  norms = {'norm1': 'ln1', 'norm2': 'ln2'}
  entries += _encoder_block_entries(model.depth, 'encoder.layer.{i}.', linears, norms)
  for i in range(model.depth):
    hf, block = f'encoder.layer.{i}.', f'encoder_block_{i}'
    entries.append((hf + 'layer_scale1.lambda1', (block, 'ls1'), copy_weight))
    entries.append((hf + 'layer_scale2.lambda1', (block, 'ls2'), copy_weight))

  ignore = lambda k: k == 'embeddings.mask_token'
  expected = jax.eval_shape(
      model.init, jax.random.key(0),
      jnp.zeros((1, image_size, image_size, num_channels)))['params']
  return build_params('DINOv2', state_dict, names, entries, expected, ignore, [])
