"""Registry tests."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from jaxlab import nn as jnn

NAMES = ['mlp', 'simple_cnn', 'resnet', 'vit', 'transformer_lm', 'llama', 'gcn', 'gat',
         'graphsage']


def test_every_name_has_tiny():
  models = jnn.list_models()
  assert sorted(models) == sorted(NAMES)
  for name in NAMES:
    assert 'tiny' in models[name]
    assert isinstance(jnn.get_model(name), nn.Module)


def test_variants_and_overrides():
  vit = jnn.get_model('vit', 'cifar_small', num_classes=100)
  assert isinstance(vit, jnn.ViT)
  assert (vit.patch_size, vit.hidden_size, vit.depth, vit.num_heads,
          vit.mlp_dim, vit.num_classes) == (4, 192, 6, 3, 384, 100)
  assert jnn.get_model('resnet', 'resnet20').depth == 20
  lm = jnn.get_model('transformer_lm', 'gpt2_small')
  assert (lm.vocab_size, lm.d_model, lm.num_layers, lm.max_len) == (
      50257, 768, 12, 1024)
  assert jnn.get_config('gcn', 'kipf')['hidden'] == 16


def test_unknown_name_or_variant():
  with pytest.raises(KeyError, match='transformer_lm'):
    jnn.get_model('nope')
  with pytest.raises(KeyError, match="'tiny', 'lenet300'"):
    jnn.get_model('mlp', 'huge')


@pytest.mark.parametrize('name,variant,expected', [
    ('resnet', 'resnet20', 272_474),
    ('vit', 'b16', 86_567_656),
    ('transformer_lm', 'gpt2_small', 124_439_808),
])
def test_parameter_counts(name, variant, expected):
  model = jnn.get_model(name, variant)
  if name == 'vit':
    x = jnp.zeros((1, 224, 224, 3))
  elif name == 'resnet':
    x = jnp.zeros((1, 32, 32, 3))
  else:
    x = jnp.zeros((1, 1), jnp.int32)
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)['params']
  assert sum(p.size for p in jax.tree.leaves(shapes)) == expected


def test_per_block_mlp_widths():
  from jaxlab.nn.attention import per_block_widths
  assert per_block_widths(8, 3) == (8, 8, 8)
  assert per_block_widths([4, 2], 2) == (4, 2)
  with pytest.raises(ValueError, match="3 mlp_dim entries for 2 blocks"):
    per_block_widths((1, 2, 3), 2)
