"""HFPrune model side: the LLaMA-style backbone to prune and its analytic cost.

The backbone is `jaxlab.nn.llama.LlamaLM` (RMSNorm, RoPE, SwiGLU; HF LLaMA/Qwen2 import in that
module), trained by `configs/baselines/shakespeare_llama.py` and read back with
`jaxlab.train.load_params`. Pruned models are the same class with a per-block `mlp_dim`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxlab import data as jdata
from jaxlab import train as jtrain
from jaxlab.nn import registry
from jaxlab.ops import pruning


def _train_tiny_backbone(config, model, tokens):
  """Smoke/test stand-in for the backbone: `backbone.train_steps` of AdamW on train windows."""
  t = config.data.seq_len
  params = model.init(jax.random.key(config.seed, impl='unsafe_rbg'),
                      jnp.zeros((1, t), jnp.int32))['params']
  tx = optax.adamw(config.backbone.lr, weight_decay=0.0)
  opt = tx.init(params)

  @jax.jit
  def step(params, opt, batch):
    def loss_fn(p):
      logits = model.apply({'params': p}, batch['inputs'])
      return optax.softmax_cross_entropy_with_integer_labels(logits, batch['targets']).mean()
    loss, g = jax.value_and_grad(loss_fn)(params)
    upd, opt = tx.update(g, opt, params)
    return optax.apply_updates(params, upd), opt, loss

  it = jdata.lm_iterator(tokens, config.backbone.batch_size, t, seed=config.seed)
  for _ in range(config.backbone.train_steps):
    b = next(it)
    params, opt, _ = step(params, opt, {k: jnp.asarray(v) for k, v in b.items()})
  return params


def load_backbone(config, ds_train):
  """`(model, params, info)` of the LLaMA-style LM to prune."""
  wd = config.backbone.workdir
  if wd:
    run = jtrain.load_params(wd)
    rc = run['config'] or {}
    mc = rc.get('model', {})
    if mc.get('name') != 'llama':
      raise ValueError(f'backbone {wd} is a {mc.get("name")!r} model; HFPrune needs a '
                       "'llama' LM (configs/baselines/shakespeare_llama.py)")
    trained_len = rc.get('data', {}).get('seq_len', 0)
    if config.data.seq_len > trained_len:
      raise ValueError(f'data.seq_len={config.data.seq_len} exceeds the backbone\'s training '
                       f'context {trained_len}; RoPE models degrade beyond it')
    model = registry.get_model('llama', mc['variant'], vocab_size=ds_train.vocab_size,
                               max_len=trained_len, **dict(mc.get('kwargs') or {}))
    model = model.clone(dropout_rate=0.0)
    info = dict(workdir=str(wd), step=run['step'])
    return model, run['params'], info
  model = registry.get_model('llama', config.model.variant, vocab_size=ds_train.vocab_size,
                             max_len=config.data.seq_len, dropout_rate=0.0,
                             **dict(config.model.get('kwargs') or {}))
  params = _train_tiny_backbone(config, model, ds_train.tokens)
  return model, params, dict(workdir='', step=config.backbone.train_steps)


def flops_per_token(*, seq_len: int, d_model: int, num_layers: int, mlp_dims,
                    vocab_size: int) -> dict:
  """FLOPs per token under the three attention conventions of `pruning.lm_flops`.

  `flops_per_token` counts the full T x T attention the dense code computes (the strictest);
  `flops_per_token_causal` the causal half; `flops_per_token_weights` only the weight products
  (2 x weights), the convention of the spec's efficiency gate, whose 15%/30% thresholds track the
  17%/35% parameter cuts.
  """
  kw = dict(seq_len=seq_len, d_model=d_model, num_layers=num_layers, mlp_dims=mlp_dims,
            vocab_size=vocab_size, mlp_type='swiglu')
  suffix = {'full': '', 'causal': '_causal', 'none': '_weights'}
  return {f'flops_per_token{s}': pruning.lm_flops(attention=a, **kw) / seq_len
          for a, s in suffix.items()}


def efficiency(model, params, seq_len: int) -> dict:
  return dict(params=pruning.count_params(params), mlp_params=pruning.mlp_param_count(params),
              **flops_per_token(seq_len=seq_len, d_model=model.d_model,
                                num_layers=model.num_layers, mlp_dims=model.mlp_dims(),
                                vocab_size=model.vocab_size))
