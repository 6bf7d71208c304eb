#!/usr/bin/env python
"""Train-step benchmark: jaxlab (jax.jit) vs the same model in PyTorch (eager and torch.compile).

  python scripts/bench_step.py [--models=resnet20,vit,gcn,lm] [--repeats=5] [--steps=10]
      [--threads=2] [--quick] [--no_torch_compile] [--attn_impl=sdpa|manual]
      [--xla_flags="--xla_cpu_enable_fast_math=true"] [--out=results/bench_step.json]

Needs the bench venv (jaxlab + `.[bench]`: torch==2.13.0, torch_geometric); see
benchmarks/README.md. Everything runs in one process. Per model:

  1. our side: `get_model(...)`, `TrainState.create`, `jaxlab.train.make_train_step` (jit,
     donated state), lowered and compiled explicitly (lower / compile / first call timed
     separately; XLA's own FLOP count from `compiled.cost_analysis()`);
  2. the PyTorch twin from benchmarks/torch_models.py (parameter counts asserted equal), eager,
     and `torch.compile(model)` (optimizer step stays eager) unless disabled or it fails;
  3. `repeats` rounds; each round times one block of `steps` steps of every variant, rotating
     which variant goes first so that background load hits all of them alike. The reported
     time is the median over rounds of the per-block mean seconds per step.

Same batch, loss (softmax cross-entropy), optimizer and float32 on both sides; torch gets
`torch.set_num_threads(threads)`, XLA keeps its defaults (its CPU thread pool is sized by the
core count; recorded in the JSON). Input pipelines are not timed: the batch is already on the
device (fixed random data; no augmentation). Also measured: fp32 matmul peak (jitted jnp.dot
and torch.mm), and the achieved FLOP rate of our LM step (see `lm_train_flops`).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ALL_MODELS = ('resnet20', 'vit', 'gcn', 'lm')


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--models', default=','.join(ALL_MODELS),
                 help=f'comma-separated subset of {",".join(ALL_MODELS)}')
  p.add_argument('--repeats', type=int, default=None, help='timed rounds (default 5; quick 2)')
  p.add_argument('--steps', type=int, default=None,
                 help='steps per timed block (default 10; quick 2)')
  p.add_argument('--threads', type=int, default=2, help='torch.set_num_threads')
  p.add_argument('--quick', action='store_true',
                 help='smoke test: small batches, few steps, small matmul; numbers not comparable')
  p.add_argument('--no_torch_compile', action='store_true', help='skip torch.compile')
  p.add_argument('--torch_compile_mode', default=None,
                 help="torch.compile mode (None, 'max-autotune-no-cudagraphs', ...)")
  p.add_argument('--attn_impl', default='sdpa', choices=('sdpa', 'manual'),
                 help='PyTorch attention: F.scaled_dot_product_attention or written out')
  p.add_argument('--channels_last', action='store_true',
                 help='PyTorch ResNet in channels_last memory format (NHWC, like flax)')
  p.add_argument('--matmul_n', type=int, default=None,
                 help='side of the square fp32 matmul for the peak (default 4096; quick 1024)')
  p.add_argument('--xla_flags', default='',
                 help='appended to XLA_FLAGS before jax is imported, e.g. '
                      '--xla_flags="--xla_cpu_enable_fast_math=true"')
  p.add_argument('--out', default=str(REPO / 'results' / 'bench_step.json'))
  args = p.parse_args(argv)
  args.models = [m.strip() for m in args.models.split(',') if m.strip()]
  bad = sorted(set(args.models) - set(ALL_MODELS))
  if bad:
    p.error(f'unknown models {bad}; valid: {",".join(ALL_MODELS)}')
  q = args.quick
  args.repeats = args.repeats or (2 if q else 5)
  args.steps = args.steps or (2 if q else 10)
  args.matmul_n = args.matmul_n or (1024 if q else 4096)
  # Batch sizes: the real ones, or small ones for --quick (model configs stay the real ones).
  args.image_batch = 16 if q else 128
  args.lm_batch = 4 if q else 32
  return args


# ----------------------------------------------------------------------------- timing helpers


def _now():
  return time.perf_counter(), time.process_time()


class Variant:
  """One way of running a model's train step: `step()` runs one step and syncs."""

  def __init__(self, name, step, sync=lambda: None):
    self.name, self._step, self._sync = name, step, sync
    self.blocks, self.cpu_blocks = [], []

  def run_block(self, steps):
    gc.collect()
    w0, c0 = _now()
    for _ in range(steps):
      self._step()
    self._sync()
    w1, c1 = _now()
    self.blocks.append((w1 - w0) / steps)
    self.cpu_blocks.append((c1 - c0) / steps)

  def summary(self):
    if not self.blocks:
      return None
    return {'median_s_per_step': statistics.median(self.blocks),
            'min_s_per_step': min(self.blocks),
            'blocks_s_per_step': self.blocks,
            'median_cpu_s_per_step': statistics.median(self.cpu_blocks)}


# ------------------------------------------------------------------------------------- data


def make_image_batch(batch, seed=0):
  import numpy as np
  rng = np.random.default_rng(seed)
  images = rng.standard_normal((batch, 32, 32, 3), dtype=np.float32)
  labels = rng.integers(0, 10, batch).astype(np.int32)
  return images, labels


def make_lm_batch(batch, length, vocab, seed=0):
  import numpy as np
  rng = np.random.default_rng(seed)
  tokens = rng.integers(0, vocab, (batch, length)).astype(np.int32)
  targets = rng.integers(0, vocab, (batch, length)).astype(np.int32)
  return tokens, targets


def make_cora_like_graph(num_nodes=2708, num_features=1433, num_edges=10556, num_classes=7,
                         num_train=140, seed=0):
  """Random graph of Cora's sizes: `num_edges` directed edges = `num_edges / 2` undirected
  pairs listed both ways, binary bag-of-words-like features (~1.3% ones, as Cora)."""
  import numpy as np
  rng = np.random.default_rng(seed)
  pairs = set()
  while len(pairs) < num_edges // 2:
    a, b = rng.integers(0, num_nodes, 2)
    if a != b:
      pairs.add((min(a, b), max(a, b)))
  pairs = np.array(sorted(pairs), dtype=np.int32)
  senders = np.concatenate([pairs[:, 0], pairs[:, 1]])
  receivers = np.concatenate([pairs[:, 1], pairs[:, 0]])
  feats = (rng.random((num_nodes, num_features)) < 0.0127).astype(np.float32)
  labels = rng.integers(0, num_classes, num_nodes).astype(np.int32)
  mask = np.zeros(num_nodes, np.float32)
  mask[rng.choice(num_nodes, num_train, replace=False)] = 1.0
  return feats, senders, receivers, labels, mask


# ------------------------------------------------------------------------------------ FLOPs


def lm_train_flops(*, n_params_nonembedding, vocab_size, d_model, num_layers, seq_len,
                   tokens):
  """Analytic FLOPs of one LM train step (forward + backward), dense causal attention.

  Per token: `6 * (N + V * d) + 12 * L * T * d`, where

  - `6 N` is the standard estimate for the weight matmuls (2 FLOPs per multiply-add forward,
    twice that backward): Kaplan et al. 2020, "Scaling Laws for Neural Language Models",
    arXiv:2001.08361, section 2.1 / Table 1 (C ~= 6 N per training token), with N the
    non-embedding parameters;
  - `6 V d` is the output projection (tied to the token embedding here, so it is not in N but
    is a real matmul; the input embedding lookup costs no FLOPs);
  - `12 L T d` is attention, QK^T and AV, 2 * 2 T d per layer forward, x3 for training,
    with the full (unmasked) T x T score matrix as computed densely: Chowdhery et al. 2022,
    "PaLM", arXiv:2204.02311, appendix B (`6N + 12 L H Q T` per token, H Q = d).

  Layer norms, softmax, GELU, the loss and the optimizer update are ignored (a few %).
  """
  per_token = (6 * (n_params_nonembedding + vocab_size * d_model)
               + 12 * num_layers * seq_len * d_model)
  return per_token * tokens


def _cost_flops(compiled):
  try:
    cost = compiled.cost_analysis()
  except Exception as e:  # pylint: disable=broad-except
    return None, f'{type(e).__name__}: {e}'
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  flops = (cost or {}).get('flops')
  return (float(flops) if flops is not None else None), None


# --------------------------------------------------------------------------- model builders


def count_params(tree):
  import jax
  return int(sum(x.size for x in jax.tree.leaves(tree)))


def jax_case(name, args):
  """(jax variant factory, info): builds our model, state, batch and jitted step."""
  import jax
  import jax.numpy as jnp
  import jraph
  import optax

  from jaxlab import train
  from jaxlab.nn import get_model

  mesh = train.create_mesh(jax.devices()[:1])
  key = jax.random.PRNGKey(0)
  init_key, state_key = jax.random.split(key)
  uses_bn = False
  info = {}

  if name in ('resnet20', 'vit'):
    images, labels = make_image_batch(args.image_batch)
    batch = {'image': jnp.asarray(images), 'label': jnp.asarray(labels)}
    if name == 'resnet20':
      model = get_model('resnet', 'resnet20')
      tx = optax.sgd(0.1, momentum=0.9)
      info['optimizer'] = 'sgd(lr=0.1, momentum=0.9)'
    else:
      model = get_model('vit', 'cifar_small')
      tx = optax.adamw(1e-3, weight_decay=0.05)
      info['optimizer'] = 'adamw(lr=1e-3, wd=0.05, all params)'
    variables = model.init(init_key, batch['image'][:1], train=False)
    uses_bn = 'batch_stats' in variables
    info['batch'] = f'{args.image_batch} x 32x32x3 images'

    def loss_fn(params, b, rng, batch_stats=None):
      v = {'params': params}
      if uses_bn:
        v['batch_stats'] = batch_stats
        out, upd = model.apply(v, b['image'], train=True, mutable=['batch_stats'],
                               rngs={'dropout': rng})
      else:
        out, upd = model.apply(v, b['image'], train=True, rngs={'dropout': rng}), None
      logits = out['logits'] if isinstance(out, dict) else out
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, b['label']).mean()
      return (loss, ({}, upd['batch_stats'])) if uses_bn else (loss, {})

  elif name == 'lm':
    model = get_model('transformer_lm', 'char_small', vocab_size=65, max_len=128)
    tokens, targets = make_lm_batch(args.lm_batch, 128, 65)
    batch = {'tokens': jnp.asarray(tokens), 'targets': jnp.asarray(targets)}
    variables = model.init(init_key, batch['tokens'][:1], train=False)
    tx = optax.adamw(1e-3, weight_decay=0.1)
    info['optimizer'] = 'adamw(lr=1e-3, wd=0.1, all params)'
    info['batch'] = f'{args.lm_batch} x 128 tokens, vocab 65, dropout 0.1'

    def loss_fn(params, b, rng):
      logits = model.apply({'params': params}, b['tokens'], train=True, rngs={'dropout': rng})
      return optax.softmax_cross_entropy_with_integer_labels(logits, b['targets']).mean(), {}

  elif name == 'gcn':
    feats, senders, receivers, labels, mask = make_cora_like_graph()
    n = feats.shape[0]
    graph = jraph.GraphsTuple(nodes=jnp.asarray(feats), edges=None,
                              senders=jnp.asarray(senders), receivers=jnp.asarray(receivers),
                              n_node=jnp.asarray([n]), n_edge=jnp.asarray([len(senders)]),
                              globals=None)
    model = get_model('gcn', 'kipf', num_classes=7)
    batch = {'graph': graph, 'labels': jnp.asarray(labels), 'mask': jnp.asarray(mask)}
    variables = model.init(init_key, graph)
    tx = optax.adam(0.01)
    info['optimizer'] = 'adam(lr=0.01)'
    info['batch'] = (f'full graph: {n} nodes, {feats.shape[1]} feats, {len(senders)} edges, '
                     f'{int(mask.sum())} train nodes, dropout 0.5')

    def loss_fn(params, b, rng):
      logits = model.apply({'params': params}, b['graph'], train=True, rngs={'dropout': rng})
      ce = optax.softmax_cross_entropy_with_integer_labels(logits, b['labels'])
      return (ce * b['mask']).sum() / b['mask'].sum(), {}
  else:
    raise ValueError(name)

  state = train.TrainState.create(apply_fn=model.apply, params=variables['params'], tx=tx,
                                  rng=state_key, batch_stats=variables.get('batch_stats'))
  step = train.make_train_step(loss_fn, mesh=mesh, uses_batch_stats=uses_bn)
  state = train.replicate(state, mesh)
  batch = train.shard_batch(batch, mesh)
  info['params'] = count_params(state.params)
  info['model'] = model
  return step, state, batch, info


def torch_case(name, args, jax_model):
  """(model, optimizer, inputs, loss_fn) of the PyTorch twin."""
  import torch
  import torch.nn.functional as F

  from benchmarks import torch_models as tm

  torch.manual_seed(0)
  if name in ('resnet20', 'vit'):
    images, labels = make_image_batch(args.image_batch)
    x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
    y = torch.from_numpy(labels).long()
    if name == 'resnet20':
      def build():
        m = tm.CifarResNet(depth=jax_model.depth, width=jax_model.width,
                           num_classes=jax_model.num_classes)
        return m.to(memory_format=torch.channels_last) if args.channels_last else m
      if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
      make_opt = lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    else:
      def build():
        return tm.ViT(patch_size=jax_model.patch_size, hidden_size=jax_model.hidden_size,
                      depth=jax_model.depth, num_heads=jax_model.num_heads,
                      mlp_dim=jax_model.mlp_dim, num_classes=jax_model.num_classes,
                      layer_norm_eps=jax_model.layer_norm_eps, attn_impl=args.attn_impl)
      make_opt = lambda m: torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05)
    inputs = (x,)
    loss_fn = lambda out: F.cross_entropy(out, y)
  elif name == 'lm':
    tokens, targets = make_lm_batch(args.lm_batch, 128, 65)
    inputs = (torch.from_numpy(tokens).long(),)
    tgt = torch.from_numpy(targets).long().reshape(-1)

    def build():
      m = jax_model
      return tm.TransformerLM(vocab_size=m.vocab_size, d_model=m.d_model,
                              num_layers=m.num_layers, num_heads=m.num_heads,
                              mlp_dim=m.mlp_dim, max_len=m.max_len,
                              dropout_rate=m.dropout_rate, layer_norm_eps=m.layer_norm_eps,
                              attn_impl=args.attn_impl)
    make_opt = lambda m: torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.1)
    loss_fn = lambda out: F.cross_entropy(out.reshape(-1, out.shape[-1]), tgt)
  elif name == 'gcn':
    feats, senders, receivers, labels, mask = make_cora_like_graph()
    edge_index = torch.from_numpy(__import__('numpy').stack([senders, receivers])).long()
    inputs = (torch.from_numpy(feats), edge_index)
    y = torch.from_numpy(labels).long()
    m_ = torch.from_numpy(mask)

    def build():
      return tm.GCN(feats.shape[1], hidden=jax_model.hidden, num_classes=jax_model.num_classes,
                    num_layers=jax_model.num_layers, dropout=jax_model.dropout)
    make_opt = lambda m: torch.optim.Adam(m.parameters(), lr=0.01)
    # Same masked mean as the jax side.
    loss_fn = lambda out: (F.cross_entropy(out, y, reduction='none') * m_).sum() / m_.sum()
  else:
    raise ValueError(name)
  return build, make_opt, inputs, loss_fn


# ------------------------------------------------------------------------------- benchmark


def bench_model(name, args, out):
  import jax
  import torch

  from benchmarks import torch_models as tm

  rec = {'model': name}
  print(f'\n== {name}', flush=True)

  # --- jax: build, lower, compile, first call.
  step, state, batch, info = jax_case(name, args)
  jax_model = info.pop('model')
  rec.update(info)
  w0 = time.perf_counter()
  lowered = step.lower(state, batch)
  w1 = time.perf_counter()
  compiled = lowered.compile()
  w2 = time.perf_counter()
  flops, flops_err = _cost_flops(compiled)
  holder = {'state': state}
  del state

  def jax_step():
    holder['state'], _ = compiled(holder['state'], batch)

  w3 = time.perf_counter()
  jax_step()
  jax.block_until_ready(holder['state'])
  w4 = time.perf_counter()
  rec['jax'] = {'lower_s': w1 - w0, 'compile_s': w2 - w1, 'first_call_s': w4 - w3,
                'compile_total_s': w4 - w0, 'xla_flops_per_step': flops}
  if flops_err:
    rec['jax']['xla_flops_error'] = flops_err
  print(f'  jax: {rec["params"]:,} params; lower {w1 - w0:.2f}s compile {w2 - w1:.2f}s '
        f'first call {w4 - w3:.2f}s; XLA flops/step {flops and flops / 1e9:.2f} G', flush=True)
  variants = [Variant('jax', jax_step, lambda: jax.block_until_ready(holder['state']))]

  # --- torch: eager and compiled twins.
  build, make_opt, inputs, loss_fn = torch_case(name, args, jax_model)

  def torch_stepper(model):
    opt = make_opt(model)
    model.train()

    def s():
      opt.zero_grad(set_to_none=True)
      loss_fn(model(*inputs)).backward()
      opt.step()
    return s

  eager_model = build()
  n_torch = tm.num_params(eager_model)
  rec['torch_params'] = n_torch
  print(f'  torch: {n_torch:,} params', flush=True)
  assert n_torch == rec['params'], (
      f'{name}: parameter counts differ: jax {rec["params"]} torch {n_torch}')
  eager = Variant('torch_eager', torch_stepper(eager_model))
  w0 = time.perf_counter()
  eager._step()  # pylint: disable=protected-access
  rec['torch_eager'] = {'first_call_s': time.perf_counter() - w0}
  variants.append(eager)

  rec['torch_compile'] = {'enabled': not args.no_torch_compile}
  if not args.no_torch_compile:
    try:
      cmodel = torch.compile(build(), mode=args.torch_compile_mode)
      cstep = torch_stepper(cmodel)
      w0 = time.perf_counter()
      cstep()
      w1 = time.perf_counter()
      cstep()  # a second call can still trigger a recompile; count it as warm-up
      rec['torch_compile'].update({'first_call_s': w1 - w0,
                                   'second_call_s': time.perf_counter() - w1,
                                   'mode': args.torch_compile_mode or 'default',
                                   'scope': 'model forward+backward; optimizer step eager'})
      print(f'  torch.compile first call {w1 - w0:.1f}s', flush=True)
      variants.append(Variant('torch_compiled', cstep))
    except Exception as e:  # pylint: disable=broad-except
      msg = f'{type(e).__name__}: {str(e)[:2000]}'
      rec['torch_compile']['error'] = msg
      print(f'  torch.compile FAILED: {msg[:300]}', flush=True)

  # --- warm-up, then alternating timed rounds.
  for v in variants:
    v._step()  # pylint: disable=protected-access
    v._sync()  # pylint: disable=protected-access
  for r in range(args.repeats):
    k = r % len(variants)
    for v in variants[k:] + variants[:k]:
      v.run_block(args.steps)
    print('  round %d: %s' % (r, '  '.join(f'{v.name} {v.blocks[-1] * 1e3:.1f}ms'
                                           for v in variants)), flush=True)
  for v in variants:
    rec.setdefault(v.name, {}).update(v.summary())
  j = rec['jax']['median_s_per_step']
  if flops:
    rec['jax']['xla_gflops_per_s'] = flops / j / 1e9
  for v in variants[1:]:
    rec[v.name]['ratio_torch_over_jax'] = rec[v.name]['median_s_per_step'] / j

  if name == 'lm':
    p = holder['state'].params
    n_emb = p['wte']['embedding'].size + p['wpe']['embedding'].size
    analytic = lm_train_flops(n_params_nonembedding=rec['params'] - n_emb,
                              vocab_size=jax_model.vocab_size, d_model=jax_model.d_model,
                              num_layers=jax_model.num_layers, seq_len=128,
                              tokens=args.lm_batch * 128)
    rec['lm_flops'] = {'analytic_flops_per_step': analytic,
                       'analytic_formula': '6*(N_nonemb + V*d) + 12*L*T*d per token',
                       'n_params_nonembedding': rec['params'] - n_emb,
                       'xla_flops_per_step': flops,
                       'analytic_gflops_per_s': analytic / j / 1e9,
                       'xla_gflops_per_s': flops / j / 1e9 if flops else None,
                       'tokens_per_s': args.lm_batch * 128 / j}
  del holder, compiled, lowered
  out['models'][name] = rec
  return rec


def matmul_peak(n, reps, threads):
  """Median GFLOP/s of an n^3 fp32 matmul: jitted jnp.dot and torch.mm (alternating)."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  import torch

  rng = np.random.default_rng(0)
  a_np = rng.standard_normal((n, n), dtype=np.float32)
  b_np = rng.standard_normal((n, n), dtype=np.float32)
  a, b = jnp.asarray(a_np), jnp.asarray(b_np)
  f = jax.jit(jnp.dot)
  f(a, b).block_until_ready()
  ta, tb = torch.from_numpy(a_np), torch.from_numpy(b_np)
  torch.mm(ta, tb)
  tj, tt = [], []
  for _ in range(reps):
    w0 = time.perf_counter()
    f(a, b).block_until_ready()
    w1 = time.perf_counter()
    torch.mm(ta, tb)
    w2 = time.perf_counter()
    tj.append(w1 - w0)
    tt.append(w2 - w1)
  fl = 2.0 * n**3
  return {'n': n, 'reps': reps, 'torch_threads': threads,
          'jax_gflops_per_s': fl / statistics.median(tj) / 1e9,
          'torch_gflops_per_s': fl / statistics.median(tt) / 1e9,
          'jax_s': tj, 'torch_s': tt}


# ------------------------------------------------------------------------------ environment


def environment(args):
  import flax
  import jax
  import jaxlib
  import numpy as np
  import optax
  import torch

  def ver(mod):
    try:
      return __import__(mod).__version__
    except Exception:  # pylint: disable=broad-except
      return None

  cpu_model, flags = None, []
  try:
    for line in Path('/proc/cpuinfo').read_text().splitlines():
      if line.startswith('model name') and cpu_model is None:
        cpu_model = line.split(':', 1)[1].strip()
      if line.startswith('flags') and not flags:
        flags = line.split(':', 1)[1].split()
  except OSError:
    pass
  git = {}
  try:
    r = subprocess.run(['git', '-C', str(REPO), 'rev-parse', '--verify', '-q', 'HEAD'],
                       capture_output=True, text=True)
    git['commit'] = r.stdout.strip() if r.returncode == 0 else None
    git['dirty'] = bool(subprocess.run(['git', '-C', str(REPO), 'status', '--porcelain'],
                                       capture_output=True, text=True).stdout.strip())
  except OSError:
    pass
  env_keys = ('XLA_FLAGS', 'JAX_PLATFORMS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS',
              'OPENBLAS_NUM_THREADS', 'TORCHINDUCTOR_COMPILE_THREADS', 'KMP_AFFINITY')
  return {
      'date_utc': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
      'python': platform.python_version(),
      'platform': platform.platform(),
      'versions': {'jax': jax.__version__, 'jaxlib': jaxlib.__version__,
                   'flax': flax.__version__, 'optax': optax.__version__,
                   'numpy': np.__version__, 'torch': torch.__version__,
                   'torch_geometric': ver('torch_geometric'), 'jraph': ver('jraph')},
      'cpu_model': cpu_model,
      'cpu_flags_simd': sorted(f for f in flags if f.startswith(('avx', 'fma', 'amx', 'sse4'))),
      'os_cpu_count': os.cpu_count(),
      'sched_affinity': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else None,
      'torch_threads': torch.get_num_threads(),
      'torch_interop_threads': torch.get_num_interop_threads(),
      'torch_mkldnn': torch.backends.mkldnn.is_available(),
      'jax_devices': [str(d) for d in jax.devices()],
      'env': {k: os.environ.get(k) for k in env_keys},
      'loadavg_start': os.getloadavg(),
      'git': git,
      'args': {k: v for k, v in vars(args).items()},
  }


# ------------------------------------------------------------------------------------ output


def print_table(out):
  rows = [('model', 'params', 'jax ms', 'torch ms', 'tc ms', 'eager/jax', 'tc/jax',
           'jax comp s', 'tc comp s', 'jax GF/s')]
  f = lambda x, fmt: '-' if x is None else format(x, fmt)
  for name, r in out['models'].items():
    j, e, c = r['jax'], r.get('torch_eager', {}), r.get('torch_compiled', {})
    rows.append((name, f'{r["params"]:,}', f(j.get('median_s_per_step', 0) * 1e3, '.1f'),
                 f(e.get('median_s_per_step') and e['median_s_per_step'] * 1e3, '.1f'),
                 f(c.get('median_s_per_step') and c['median_s_per_step'] * 1e3, '.1f'),
                 f(e.get('ratio_torch_over_jax'), '.2f'), f(c.get('ratio_torch_over_jax'), '.2f'),
                 f(j['compile_total_s'], '.1f'),
                 f(r['torch_compile'].get('first_call_s'), '.1f'),
                 f(j.get('xla_gflops_per_s'), '.1f')))
  widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
  print()
  for k, row in enumerate(rows):
    print('  '.join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    if k == 0:
      print('  '.join('-' * w for w in widths))
  print('(ms = median ms/step; tc = torch.compile; ratio > 1: jaxlab faster; '
        'comp s = jax lower+compile+first call, torch.compile first call; '
        'GF/s = XLA-counted FLOPs / jax step time)')
  mm = out.get('matmul')
  if mm:
    print(f'\nfp32 matmul {mm["n"]}^3 peak: jax {mm["jax_gflops_per_s"]:.1f} GFLOP/s, '
          f'torch {mm["torch_gflops_per_s"]:.1f} GFLOP/s')
  lm = out['models'].get('lm', {}).get('lm_flops')
  if lm:
    peak = mm and max(mm['jax_gflops_per_s'], mm['torch_gflops_per_s'])
    pct = lambda g: f' ({100 * g / peak:.0f}% of matmul peak)' if peak and g else ''
    print(f'LM step: analytic {lm["analytic_flops_per_step"] / 1e9:.1f} GFLOP '
          f'-> {lm["analytic_gflops_per_s"]:.1f} GFLOP/s{pct(lm["analytic_gflops_per_s"])}; '
          f'XLA count {f(lm["xla_flops_per_step"] and lm["xla_flops_per_step"] / 1e9, ".1f")} GFLOP'
          f' -> {f(lm["xla_gflops_per_s"], ".1f")} GFLOP/s{pct(lm["xla_gflops_per_s"])}; '
          f'{lm["tokens_per_s"]:.0f} tokens/s')
  la = out['env'].get('loadavg_start'), out['env'].get('loadavg_end')
  print(f'load average start {la[0]}, end {la[1]} on {out["env"]["os_cpu_count"]} CPUs'
        + ('  <-- machine was busy; numbers unreliable'
           if la[0] and la[0][0] > 0.5 * (out['env']['os_cpu_count'] or 1) else ''))


def main(argv=None):
  args = parse_args(argv)
  if args.xla_flags:
    os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' ' + args.xla_flags).strip()
  if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
  import torch
  torch.set_num_threads(args.threads)
  import jax  # noqa: F401  (after XLA_FLAGS)

  out = {'env': environment(args), 'models': {}}
  for name in args.models:
    bench_model(name, args, out)
    gc.collect()
  out['matmul'] = matmul_peak(args.matmul_n, 3 if args.quick else 7, args.threads)
  lm = out['models'].get('lm', {}).get('lm_flops')
  if lm:
    peak = max(out['matmul']['jax_gflops_per_s'], out['matmul']['torch_gflops_per_s'])
    lm['matmul_peak_gflops_per_s'] = peak
    lm['analytic_pct_of_peak'] = 100 * lm['analytic_gflops_per_s'] / peak
    if lm['xla_gflops_per_s']:
      lm['xla_pct_of_peak'] = 100 * lm['xla_gflops_per_s'] / peak
  out['env']['loadavg_end'] = os.getloadavg()
  print_table(out)
  path = Path(args.out)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(out, indent=1, default=str))
  print(f'\nwrote {path}')


if __name__ == '__main__':
  main()
