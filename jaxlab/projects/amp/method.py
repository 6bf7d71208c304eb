"""AMP: importance scores, the adaptive per-layer search, and the full comparison in one run.

`run_comparison(config, workdir)` is the whole mini-scale experiment of spec §6 (also reached as
`scripts/prune.py --method=amp` and `scripts/train.py --config=configs/amp/mini.py`):

1. Taylor scores of every MLP neuron on a calibration subset of the training images, with the
   label-free entropy criteria (`ent_sim`: entropy of the softmax over batch cosine similarities,
   AMP's image-only form, s = temp_inv; `ent_cls`: entropy of the class softmax) and the one-hot
   `ce` baseline; weight `magnitude` and `random` scores.
2. AMP's binary search of the per-layer widths on a fixed validation split (last block first,
   T bisection steps, tolerance delta per block) for every delta of the sweep; the chosen delta
   is the largest whose validation accuracy without fine-tuning is within `acc_tol` points of the
   unpruned model.
3. Every criterion evaluated (test accuracy, no fine-tuning) at the AMP widths, at a uniform ratio
   with the same total, and at fixed uniform keep ratios.
4. The AMP model physically sliced (masked == sliced logits checked), counted (parameters,
   FLOPs), then recovered by label-free feature distillation (`distill.py`).
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Callable, Dict, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab import data as jdata
from jaxlab.ops import pruning
from jaxlab.projects.amp import model as amp_model

CRITERIA = ('ent_sim', 'ent_cls', 'ce', 'magnitude', 'random')
TAYLOR = {'ent_sim', 'ent_cls', 'ce'}


# ----------------------------------------------------------------------------------- criteria

def criterion_value(name: str, out: dict, labels=None, temp_inv: float = 15.0, mask=None):
  """The scalar criterion `name` of one batch's model outputs."""
  if name == 'ent_sim':
    return pruning.similarity_entropy(out['cls'], temp_inv, mask)
  if name == 'ent_cls':
    return pruning.prediction_entropy(out['logits'], mask)
  if name == 'ce':
    if labels is None:
      raise ValueError("the 'ce' criterion needs labels")
    return pruning.cross_entropy(out['logits'], labels, mask)
  raise ValueError(f'unknown criterion {name!r}; Taylor criteria: {sorted(TAYLOR)}')


def importance_scores(bb: amp_model.Backbone, name: str, calib: dict, *, batch_size: int,
                      temp_inv: float, seed: int, mode: str = 'sample_abs',
                      progress: bool = False) -> tuple:
  """Per-block `[H_l]` scores of criterion `name` (Taylor, magnitude or random)."""
  widths = bb.widths
  if name == 'magnitude':
    return tuple(pruning.magnitude_scores(m) for m in pruning.get_mlps(bb.params))
  if name == 'random':
    return pruning.random_scores(jax.random.key(seed + 1000), widths)
  if name not in TAYLOR:
    raise ValueError(f'unknown criterion {name!r}; valid: {CRITERIA}')

  def crit(params, batch, gates):
    out = amp_model.apply_masked(bb, params, batch['image'], gates)
    return criterion_value(name, out, batch['label'], temp_inv)

  # The official scoring loader is shuffled with drop_last.
  batches = jdata.batch_iterator(calib, batch_size, seed=seed, num_epochs=1)
  return pruning.taylor_scores(crit, bb.params, batches, widths, batch_size=batch_size,
                               mode=mode, progress=progress)


# ------------------------------------------------------------------------------- evaluation

def make_masked_eval(bb: amp_model.Backbone, batch_size: int) -> Callable:
  """`(params, masks, data) -> {'accuracy', 'count'}` over all of `data`, one compilation."""
  @jax.jit
  def step(params, masks, batch):
    out = amp_model.apply_masked(bb, params, batch['image'], masks)
    m = batch['mask'].astype(jnp.float32)
    return jnp.sum((out['logits'].argmax(-1) == batch['label']) * m), jnp.sum(m)

  def evaluate(params, masks, data):
    correct = total = 0.0
    for batch in jdata.eval_batches(data, batch_size):
      c, n = step(params, masks, batch)
      correct, total = correct + c, total + n
    return {'accuracy': float(correct / total), 'count': int(total)}
  return evaluate


class ValSearch:
  """The search's validation criterion on fixed batches, evaluated from cached block inputs.

  `value(masks, start)` runs only blocks `start..L-1` (the earlier blocks are unpruned while block
  `start` is searched) on the cached inputs of block `start`; one compilation per start block,
  masks traced. Returns the mean criterion over the batches and the accuracy.
  """

  def __init__(self, bb: amp_model.Backbone, val: dict, *, batch_size: int, criterion: str,
               temp_inv: float):
    n = (len(val['label']) // batch_size) * batch_size
    if n == 0:
      raise ValueError(f'validation split of {len(val["label"])} images is smaller than one '
                       f'search batch ({batch_size})')
    self.bb, self.batch_size, self.criterion, self.temp_inv = bb, batch_size, criterion, temp_inv
    images = val['image'][:n]
    self.labels = jnp.asarray(val['label'][:n]).reshape(-1, batch_size)
    inputs = jax.jit(lambda x: amp_model.block_inputs(bb, x))
    chunks = [inputs(images[i:i + batch_size]) for i in range(0, n, batch_size)]
    self.inputs = [jnp.stack([c[l] for c in chunks]) for l in range(bb.model.depth)]
    self._fns = {}

  def _fn(self, start):
    if start not in self._fns:
      model, params = self.bb.model, self.bb.params

      def one(args, masks):
        x, y = args
        out = amp_model.tail_apply(model, params, x, masks, start)
        e = criterion_value(self.criterion, out, y, self.temp_inv)
        return e, jnp.mean(out['logits'].argmax(-1) == y)

      self._fns[start] = jax.jit(lambda masks, xs, ys: jax.lax.map(
          lambda a: one(a, masks), (xs, ys)))
    return self._fns[start]

  def value(self, masks, start: int = 0):
    e, acc = self._fn(start)(masks, self.inputs[start], self.labels)
    return float(jnp.mean(e)), float(jnp.mean(acc))


def adaptive_search(search: ValSearch, orders, delta: float, steps: int, base: float,
                    progress: bool = False, cache: dict | None = None):
  """`pruning.binary_search_counts` with the evaluation restricted to the searched tail.

  `cache` (a dict shared across the delta sweep) memoises the criterion by the per-block counts:
  different deltas share their first bisection steps.
  """
  depth = len(orders)
  cache = {} if cache is None else cache

  def eval_fn(masks):
    counts = tuple(int(round(float(jnp.sum(m)))) for m in masks)
    if counts not in cache:
      # Blocks before the first pruned one are intact: start the tail there.
      start = next((i for i in range(depth) if counts[i] < len(orders[i])), depth - 1)
      cache[counts] = search.value(masks, start)[0]
    return cache[counts]

  return pruning.binary_search_counts(eval_fn, orders, delta, steps, base=base,
                                      progress=progress)


def mlp_reduction(widths: Sequence[int], counts: Sequence[int]) -> float:
  return 1.0 - sum(counts) / sum(widths)


# ------------------------------------------------------------------------------- comparison

def load_splits(config) -> tuple:
  """Calibration, validation and test arrays (dicts with `image`, `label`)."""
  kw = dict(source=config.data.source, data_dir=config.data.dir or None)
  tr = dict(jdata.get_dataset(config.data.name, 'train', **kw).arrays)
  te = dict(jdata.get_dataset(config.data.name, 'test', **kw).arrays)
  vs, vn = config.data.val_start, config.data.val_size
  if vs + vn > len(tr['label']):
    raise ValueError(f'data.val_start + data.val_size = {vs + vn} exceeds the '
                     f'{len(tr["label"])} training images')
  val = {k: v[vs:vs + vn] for k, v in tr.items()}
  rng = np.random.default_rng(config.seed)
  idx = np.sort(rng.choice(vs, size=min(config.data.calib_size, vs), replace=False))
  calib = {k: v[idx] for k, v in tr.items()}
  if config.data.test_limit:
    te = {k: v[:config.data.test_limit] for k, v in te.items()}
  return calib, val, te, tr


def run_comparison(config, workdir, *, backbone: amp_model.Backbone | None = None) -> dict:
  """The whole AMP comparison (see the module docstring); returns the results dict."""
  from jaxlab.projects.amp import distill as amp_distill
  from jaxlab.projects.amp import train as amp_train

  t0 = time.time()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  pc = config.prune
  progress = config.train.progress
  calib, val, test, train_arrays = load_splits(config)
  bb = backbone or amp_train.load_backbone(config, workdir, train_arrays)
  widths = bb.widths
  evaluate = make_masked_eval(bb, config.eval.batch_size)
  def log(msg):
    print(f'[amp {time.time() - t0:7.1f}s] {msg}', flush=True)
    # Partial results after every stage, so an interrupted run still leaves its numbers.
    (workdir / 'partial.json').write_text(json.dumps(dict(res, wall_time_s=time.time() - t0),
                                                     indent=1, default=float))

  res: Dict = {}
  res = {'seed': config.seed, 'widths': list(widths), 'backbone': str(config.backbone.workdir),
               'mlp_type': bb.model.mlp_type, 'primary': pc.primary,
               'search_criterion': pc.search_criterion}
  ones = tuple(jnp.ones((h,)) for h in widths)
  base_test = evaluate(bb.params, ones, test)['accuracy']
  search = ValSearch(bb, val, batch_size=pc.val_batch, criterion=pc.search_criterion,
                     temp_inv=pc.temp_inv)
  base_e, base_val = search.value(ones, 0)
  res['unpruned'] = {'test_accuracy': base_test, 'val_accuracy': base_val, 'val_criterion': base_e}
  log(f'unpruned: test {base_test:.4f} val {base_val:.4f} E_val {base_e:.4f}')

  # 1. scores
  scores, timing = {}, {}
  for name in pc.criteria:
    t1 = time.time()
    scores[name] = importance_scores(bb, name, calib, batch_size=pc.score_batch,
                                     temp_inv=pc.temp_inv, seed=config.seed,
                                     mode=pc.score_mode, progress=progress)
    timing[name] = time.time() - t1
  res['score_time_s'] = timing
  log(f'scores done: {timing}')
  primary = pc.primary
  orders = [pruning.ranking(s) for s in scores[primary]]

  # 2. adaptive search over the delta sweep
  sweep, cache = [], {}
  for delta in pc.deltas:
    t1 = time.time()
    counts, trace = adaptive_search(search, orders, float(delta), pc.steps, base_e, progress,
                                    cache)
    masks = pruning.masks_from_orders(orders, counts)
    e, acc = search.value(masks, 0)
    sweep.append({'delta': float(delta), 'counts': list(counts),
                  'mlp_reduction': mlp_reduction(widths, counts), 'val_accuracy': acc,
                  'val_criterion': e, 'evaluations': len(trace),
                  'test_accuracy': evaluate(bb.params, masks, test)['accuracy'],
                  'time_s': time.time() - t1})
    log(f'delta {delta:g}: counts {counts} red {sweep[-1]["mlp_reduction"]:.3f} val {acc:.4f}')
  res['search'] = sweep
  ok = [s for s in sweep if s['val_accuracy'] >= base_val - pc.acc_tol / 100.0]
  chosen = max(ok, key=lambda s: s['delta']) if ok else min(sweep, key=lambda s: s['delta'])
  counts = tuple(chosen['counts'])
  res['chosen'] = dict(chosen, within_tol=bool(ok))

  # 3. criteria at the AMP widths, at uniform widths of the same total, and at fixed ratios
  uniform_same = pruning.counts_with_total(widths, sum(counts))
  table = {'adaptive': {}, 'uniform_same_total': {}}
  for name in pc.criteria:
    table['adaptive'][name] = evaluate(bb.params, pruning.keep_masks(scores[name], counts),
                                       test)['accuracy']
    table['uniform_same_total'][name] = evaluate(
        bb.params, pruning.keep_masks(scores[name], uniform_same), test)['accuracy']
  for keep in pc.uniform_keeps:
    c = pruning.uniform_counts(widths, keep)
    table[f'uniform_keep_{keep:g}'] = {
        name: evaluate(bb.params, pruning.keep_masks(scores[name], c), test)['accuracy']
        for name in pc.criteria}
  res['no_finetune'] = table
  res['uniform_same_total_counts'] = list(uniform_same)
  log(f'no-finetune table: {json.dumps(table)}')

  # 4. slice, count, compare masked and sliced logits
  keep = [pruning.keep_indices(s, k) for s, k in zip(scores[primary], counts)]
  small = amp_model.slice_backbone(bb, keep)
  x = jnp.asarray(test['image'][:256])
  masked = amp_model.apply_masked(bb, bb.params, x, pruning.keep_masks(scores[primary], counts))
  sliced = jax.jit(lambda p, x: amp_model.apply_masked(small, p, x))(small.params, x)
  image = test['image'].shape[1]
  flops = lambda m: pruning.vit_flops(
      image_size=image, patch_size=m.patch_size, channels=test['image'].shape[-1],
      hidden_size=m.hidden_size, depth=m.depth, mlp_dims=m.mlp_dims(),
      num_classes=m.num_classes, classifier=m.classifier,
      mlp_type='swiglu' if m.mlp_type == 'swiglu' else 'gelu')
  res['efficiency'] = {
      'params': pruning.count_params(bb.params), 'params_pruned': pruning.count_params(small.params),
      'mlp_params': pruning.mlp_param_count(bb.params),
      'mlp_params_pruned': pruning.mlp_param_count(small.params),
      'flops': flops(bb.model), 'flops_pruned': flops(small.model),
      'max_abs_logit_diff_masked_vs_sliced': float(jnp.max(jnp.abs(masked['logits']
                                                                   - sliced['logits']))),
  }
  eff = res['efficiency']
  eff['param_reduction'] = 1 - eff['params_pruned'] / eff['params']
  eff['flop_reduction'] = 1 - eff['flops_pruned'] / eff['flops']
  eff['mlp_param_reduction'] = 1 - eff['mlp_params_pruned'] / eff['mlp_params']
  res['sliced_test_accuracy'] = make_masked_eval(small, config.eval.batch_size)(
      small.params, None, test)['accuracy']
  log(f'efficiency: {eff}')

  # 5. distillation recovery of the sliced AMP model
  if config.distill.epochs or config.distill.num_steps:
    student, dres = amp_distill.distill(bb, small, train_arrays, config, workdir / 'distill')
    dres['test_accuracy'] = make_masked_eval(student, config.eval.batch_size)(
        student.params, None, test)['accuracy']
    res['distill'] = dres
    log(f'distilled: {dres}')
    amp_train.save_pruned(workdir / 'pruned', student, keep)
  else:
    amp_train.save_pruned(workdir / 'pruned', small, keep)

  res['gates'] = gate_report(res, pc)
  res['wall_time_s'] = time.time() - t0
  res['devices'] = jax.device_count()
  res['backend'] = jax.default_backend()
  return res


def gate_report(res: dict, pc) -> dict:
  """Pass/fail of the spec §6 acceptance figures that one run measures.

  The criterion gates are decided on `pc.primary`; the other entropy form, when scored, is
  reported beside it under `<gate>[<criterion>]` keys.
  """
  base = res['unpruned']['test_accuracy']
  ch = res['chosen']
  t30 = res['no_finetune'].get('uniform_keep_0.3')
  g = {}
  g['search_reduction>=0.35_within_1pt'] = bool(ch['within_tol'] and ch['mlp_reduction'] >= 0.35)
  g['search_widths_differ'] = len(set(ch['counts'])) > 1
  for p in [pc.primary] + [c for c in ('ent_cls', 'ent_sim')
                           if c != pc.primary and t30 and c in t30]:
    tag = '' if p == pc.primary else f'[{p}]'
    if t30 and 'magnitude' in t30:
      g['keep30_ent>=mag+1.5' + tag] = bool(t30[p] >= t30['magnitude'] + 0.015)
    if t30 and 'random' in t30:
      g['keep30_ent>=random+8' + tag] = bool(t30[p] >= t30['random'] + 0.08)
    if t30 and 'ce' in t30:
      g['keep30_ent>=ce-0.5' + tag] = bool(t30[p] >= t30['ce'] - 0.005)
    g['adaptive>=uniform_same_total+0.5' + tag] = bool(
        res['no_finetune']['adaptive'][p] >= res['no_finetune']['uniform_same_total'][p] + 0.005)
  g['sliced_param_and_flop_reduction>=0.30'] = (res['efficiency']['param_reduction'] >= 0.30
                                                and res['efficiency']['flop_reduction'] >= 0.30)
  g['masked==sliced_logits(atol1e-5)'] = (
      res['efficiency']['max_abs_logit_diff_masked_vs_sliced'] <= 1e-5)
  if 'distill' in res:
    g['distilled_within_1pt'] = res['distill']['test_accuracy'] >= base - 0.01
  return g


def aggregate_seeds(runs: Sequence[dict], pc) -> dict:
  """Mean and std over runs with different seeds (calibration subset and random scores).

  The spec gates on the mean of 3 seeds. Each run must use the same backbone and the same
  search; the adaptive widths may differ between seeds (they are listed). Returns the seed-0-style
  record of the first run with `no_finetune` replaced by `{'mean', 'std', 'values'}` tables, the
  gates recomputed on the means, and the per-seed searches.
  """
  if not runs:
    raise ValueError('no runs to aggregate')
  base = runs[0]
  for r in runs[1:]:
    if r['backbone'] != base['backbone'] or r['search_criterion'] != base['search_criterion']:
      raise ValueError('runs differ in backbone or search criterion; aggregate like with like')
  tables = {}
  for key in base['no_finetune']:
    tables[key] = {}
    for crit in base['no_finetune'][key]:
      v = np.array([r['no_finetune'][key][crit] for r in runs], np.float64)
      tables[key][crit] = {'mean': float(v.mean()), 'std': float(v.std()), 'values': v.tolist()}
  mean_view = dict(base, no_finetune={k: {c: t['mean'] for c, t in tab.items()}
                                      for k, tab in tables.items()})
  # The search gate holds per seed: each seed's chosen delta must qualify on its own.
  g = gate_report(mean_view, pc)
  g['search_reduction>=0.35_within_1pt'] = all(
      r['chosen']['within_tol'] and r['chosen']['mlp_reduction'] >= 0.35 for r in runs)
  g['search_widths_differ'] = all(len(set(r['chosen']['counts'])) > 1 for r in runs)
  out = dict(base, no_finetune_over_seeds=tables, gates_over_seeds=g,
             seeds=[r['seed'] for r in runs],
             chosen_per_seed=[dict(r['chosen'], seed=r['seed']) for r in runs],
             search_per_seed={str(r['seed']): r['search'] for r in runs})
  return out
