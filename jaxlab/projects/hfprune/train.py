"""HFPrune mini reproduction: the whole criterion comparison in one run.

  python scripts/train.py --config=configs/hfprune/mini.py --workdir=/work/workdirs/hfprune/mini

1. Backbone: the LLaMA-style char LM of `config.backbone.workdir` (`jaxlab.train.load_params`),
   or, when that is "" (smoke, tests), a tiny one trained here for `backbone.train_steps`.
2. Fixed evaluation set: the first `eval.num_windows` contiguous windows of the val split.
3. For every calibration seed: `prune.calib_windows` random train windows (numpy Generator
   seeded with the seed); scores of every criterion (entropy-Taylor, CE-Taylor, magnitude,
   Wanda-style, random); for every keep ratio, uniform per-layer top-k (and cross-layer global
   top-k for `prune.global_criteria`) -> physically sliced model -> val loss, fidelity KL,
   top-1 agreement, parameters, FLOPs.
4. Recovery: `recovery.steps` of fine-tuning (`recovery.modes`: full and/or LoRA) of the
   pruned models of `recovery.criteria` on the first seed, re-evaluated.
5. `results.json`: every row, the seed means, and the spec §6 acceptance gates.
"""

from __future__ import annotations

import json
import pathlib
import time

import jax
import numpy as np

from jaxlab import data as jdata
from jaxlab import train as jtrain
from jaxlab.projects.hfprune import method
from jaxlab.projects.hfprune.model import efficiency, flops_per_token, load_backbone


# ------------------------------------------------------------------------------------------
# Data


def calibration_batches(tokens, num_windows: int, seq_len: int, batch_size: int,
                        seed: int) -> list:
  """`num_windows` random windows of `seq_len + 1` tokens (seeded numpy Generator)."""
  if num_windows % batch_size:
    raise ValueError(f'prune.calib_windows={num_windows} must be a multiple of '
                     f'prune.calib_batch={batch_size} (static shapes)')
  tokens = np.asarray(tokens)
  rng = np.random.default_rng(seed)
  starts = rng.integers(0, len(tokens) - seq_len - 1, num_windows)
  win = tokens[starts[:, None] + np.arange(seq_len + 1)].astype(np.int32)
  return [dict(inputs=win[i:i + batch_size, :-1], targets=win[i:i + batch_size, 1:])
          for i in range(0, num_windows, batch_size)]


def eval_batches(tokens, num_windows: int, seq_len: int, batch_size: int) -> list:
  """The first `num_windows` contiguous val windows (a fixed set)."""
  if num_windows % batch_size:
    raise ValueError(f'eval.num_windows={num_windows} must be a multiple of '
                     f'eval.batch_size={batch_size}')
  out = list(jdata.lm_eval_batches(tokens, batch_size, seq_len,
                                   max_batches=num_windows // batch_size))
  if sum(int(b['mask'].sum()) for b in out) < num_windows:
    raise ValueError(f'the val split has fewer than {num_windows} windows of {seq_len}')
  return [dict(inputs=b['inputs'], targets=b['targets']) for b in out]


# ------------------------------------------------------------------------------------------
# Summary and gates


def summarize(rows: list) -> list:
  """Mean and std over seeds of each (stage, criterion, scope, keep, mode)."""
  groups = {}
  for r in rows:
    key = (r['stage'], r['criterion'], r['scope'], r['keep'], r.get('mode', ''))
    groups.setdefault(key, []).append(r)
  out = []
  for (stage, crit, scope, keep, mode), rs in sorted(groups.items(), key=str):
    s = dict(stage=stage, criterion=crit, scope=scope, keep=keep, mode=mode, n=len(rs))
    for m in ('loss', 'kl', 'top1_agree', 'ppl', 'params', 'flops_per_token',
              'flops_per_token_causal', 'flops_per_token_weights'):
      if any(m not in r for r in rs):
        continue
      v = np.array([r[m] for r in rs], np.float64)
      s[m], s[m + '_std'] = float(v.mean()), float(v.std())
    out.append(s)
  return out


def _find(summary, stage, crit, keep, scope='layer', mode=''):
  for s in summary:
    if (s['stage'], s['criterion'], s['keep'], s['scope'], s['mode']) == (
        stage, crit, keep, scope, mode):
      return s
  return None


def gates(summary: list, dense: dict, keeps, gcfg) -> dict:
  """Spec §6 acceptance figures 1-4 (speed is measured by scripts/bench_hfprune.py)."""
  g = {}
  for keep in keeps:
    e, c = _find(summary, 'pruned', 'entropy', keep), _find(summary, 'pruned', 'ce', keep)
    if e and c:
      g[f'fidelity_kl_keep{keep}'] = dict(
          entropy=e['kl'], ce=c['kl'], ratio=e['kl'] / c['kl'],
          limit=gcfg.kl_ratio, passed=e['kl'] <= gcfg.kl_ratio * c['kl'],
          strictly_better=e['kl'] < c['kl'])
      g[f'val_loss_keep{keep}'] = dict(
          entropy=e['loss'], ce=c['loss'], margin=e['loss'] - c['loss'],
          limit=gcfg.loss_margin, passed=e['loss'] <= c['loss'] + gcfg.loss_margin)
  keep = gcfg.weak_keep
  if keep in keeps:
    inc = lambda crit: (_find(summary, 'pruned', crit, keep) or {}).get('loss', np.nan) - dense[
        'loss']
    for crit in ('entropy', 'ce'):
      for weak, rel in (('random', gcfg.vs_random), ('magnitude', gcfg.vs_magnitude)):
        a, b = inc(crit), inc(weak)
        g[f'{crit}_vs_{weak}_keep{keep}'] = dict(
            increase=a, baseline_increase=b, relative_gain=1 - a / b, limit=rel,
            passed=bool(a <= (1 - rel) * b))
  for keep, lim in zip(gcfg.recovery_keeps, gcfg.recovery_limits):
    for mode in ('full', 'lora'):
      r = _find(summary, 'recovered', 'entropy', keep, mode=mode)
      if r:
        g[f'recovery_{mode}_keep{keep}'] = dict(
            loss=r['loss'], dense=dense['loss'], gap=r['loss'] - dense['loss'], limit=lim,
            passed=r['loss'] - dense['loss'] <= lim)
  for keep, (p_lim, f_lim) in zip(gcfg.eff_keeps, gcfg.eff_limits):
    e = _find(summary, 'pruned', 'entropy', keep)
    if e:
      pr = 1 - e['params'] / dense['params']
      red = lambda k: 1 - e[k] / dense[k] if k in e and k in dense else float('nan')
      # Gated on weight FLOPs per token (see model.flops_per_token); the attention-inclusive
      # reductions are reported beside it.
      fr = red('flops_per_token_weights')
      g[f'efficiency_keep{keep}'] = dict(
          param_reduction=pr, flop_reduction=fr, param_limit=p_lim, flop_limit=f_lim,
          flop_reduction_causal_attention=red('flops_per_token_causal'),
          flop_reduction_full_attention=red('flops_per_token'),
          passed=bool(pr >= p_lim and fr >= f_lim))
  return g


def markdown_table(results: dict) -> str:
  """The comparison as a markdown table (seed means +- std), dense first."""
  d = results['dense']
  lines = ['| stage | criterion | selection | keep | val loss | fidelity KL | top-1 agree | '
           'params | MFLOP/token | seeds |', '|' + '---|' * 10,
           f"| dense | - | - | 1.00 | {d['loss']:.4f} | 0 | 1 | {d['params']:,} | "
           f"{d['flops_per_token'] / 1e6:.3f} | - |"]
  order = {c: i for i, c in enumerate(('entropy', 'ce', 'wanda', 'magnitude', 'random'))}
  rows = sorted(results['summary'], key=lambda s: (s['stage'] != 'pruned', -s['keep'],
                                                   s['scope'], s['mode'],
                                                   order.get(s['criterion'], 9)))
  for s in rows:
    stage = s['stage'] if not s['mode'] else f"{s['stage']} ({s['mode']})"
    pm = lambda m, f: (f'{s[m]:{f}} +- {s[m + "_std"]:{f}}' if s['n'] > 1 else f'{s[m]:{f}}')
    lines.append(f"| {stage} | {s['criterion']} | {s['scope']} | {s['keep']:.2f} | "
                 f"{pm('loss', '.4f')} | {pm('kl', '.4f')} | {pm('top1_agree', '.3f')} | "
                 f"{int(s['params']):,} | {s['flops_per_token'] / 1e6:.3f} | {s['n']} |")
  return '\n'.join(lines) + '\n'


# ------------------------------------------------------------------------------------------


def train_and_evaluate(config, workdir) -> dict:
  t0 = time.time()
  workdir = pathlib.Path(workdir)
  jtrain.write_run_info(workdir, config)
  kw = dict(source=config.data.source, data_dir=config.data.dir or None)
  ds_train = jdata.get_dataset(config.data.name, 'train', **kw)
  ds_val = jdata.get_dataset(config.data.name, 'val', **kw)
  t = config.data.seq_len
  model, params, binfo = load_backbone(config, ds_train)
  t_backbone = time.time() - t0
  val = eval_batches(ds_val.tokens, config.eval.num_windows, t, config.eval.batch_size)
  evaluator = method.Evaluator(model, params, val)
  dense = {**evaluator(model, params), **efficiency(model, params, t)}
  progress = config.train.progress
  rows, widths_found, timings = [], {}, {}
  (workdir / 'scores').mkdir(parents=True, exist_ok=True)
  rcfg = config.recovery
  train_tokens = ds_train.tokens

  def add(row, pm, pp):
    rows.append({**row, **evaluator(pm, pp), **efficiency(pm, pp, t),
                 'widths': list(pm.mlp_dims())})
    # Partial rows as they come, so an interrupted run keeps what it measured.
    jtrain.write_results(workdir / 'partial', dict(dense=dense, rows=rows))

  keeps = list(config.prune.keep_ratios)
  for target in config.prune.get('target_ratios', ()):
    k = method.solve_k(params, target)  # uniform width removing `target` of ALL parameters
    keeps.append(k[0] / model.mlp_dims()[0])
  rec_keeps = tuple(rcfg.keep_ratios) or tuple(keeps)
  for si, seed in enumerate(config.prune.calib_seeds):
    calib = calibration_batches(train_tokens, config.prune.calib_windows, t,
                                config.prune.calib_batch, seed)
    for crit in config.prune.criteria:
      ts = time.time()
      scores = method.scores_for(crit, model, params, calib, seed, progress=progress)
      timings[f'score_{crit}_s{seed}'] = time.time() - ts
      np.savez(workdir / 'scores' / f'{crit}_seed{seed}.npz',
               **{f'layer{l}': s for l, s in enumerate(scores)})
      scopes = ['layer'] + (['global'] if crit in config.prune.global_criteria else [])
      for keep in keeps:
        for scope in scopes:
          pm, pp = method.prune(model, params, method.select(scores, keep, scope))
          base = dict(stage='pruned', criterion=crit, scope=scope, keep=keep, seed=seed, mode='')
          add(base, pm, pp)
          if scope == 'global':
            widths_found.setdefault(f'{crit}_keep{keep}', []).append(list(pm.mlp_dims()))
          if (scope == 'layer' and si == 0 and crit in rcfg.criteria
              and keep in rec_keeps and rcfg.steps > 0):
            for mode in rcfg.modes:
              ts = time.time()
              it = jdata.lm_iterator(train_tokens, rcfg.batch_size, t, seed=config.seed + 1)
              rp, train_loss = method.recover(
                  pm, pp, it, num_steps=rcfg.steps, mode=mode,
                  lr=rcfg.full_lr if mode == 'full' else rcfg.lora_lr,
                  wd=rcfg.full_wd if mode == 'full' else 0.0,
                  lora_rank=rcfg.lora_rank, lora_alpha=rcfg.lora_alpha, seed=config.seed,
                  progress=progress, desc=f'recover {crit} keep={keep} {mode}')
              timings[f'recover_{crit}_{keep}_{mode}'] = time.time() - ts
              add({**base, 'stage': 'recovered', 'mode': mode, 'train_loss': train_loss},
                  pm, rp)

  summary = summarize(rows)
  results = dict(
      dataset=config.data.name, seq_len=t, backbone=binfo, dense=dense,
      model=dict(d_model=model.d_model, num_layers=model.num_layers,
                 mlp_dim=list(model.mlp_dims()), vocab_size=model.vocab_size),
      keep_ratios=keeps, calib_seeds=list(config.prune.calib_seeds), calib_windows=config.prune.calib_windows,
      eval_windows=config.eval.num_windows, recovery=dict(rcfg),
      summary=summary, rows=rows, global_widths=widths_found,
      gates=gates(summary, dense, tuple(keeps), config.gates),
      timings=timings, backbone_time_s=t_backbone, wall_time_s=time.time() - t0,
      backend=jax.default_backend())
  jtrain.write_results(workdir, results)
  (workdir / 'table.md').write_text(markdown_table(results))
  return results


def merge_results(paths, gates_config) -> dict:
  """One results dict from runs that split the comparison (e.g. one calibration seed per
  process, recovery in its own runs): rows concatenated, summary and gates recomputed.

  All runs must share the backbone, data and evaluation windows (checked on the dense loss).
  A row measured twice (same stage, criterion, scope, keep, mode and seed: deterministic) is
  kept once.
  """
  runs = [json.loads(pathlib.Path(p).read_text()) for p in paths]
  dense = runs[0]['dense']
  for p, r in zip(paths, runs):
    if abs(r['dense']['loss'] - dense['loss']) > 1e-6:
      raise ValueError(f'{p}: dense loss {r["dense"]["loss"]} differs from {dense["loss"]}; '
                       'the runs do not share backbone/eval windows')
  rows, seen = [], set()
  m = runs[0].get('model')
  if m and 'flops_per_token_weights' not in dense:
    # Runs written before the causal/weights FLOP counts existed: fill them in from the widths.
    fpt = lambda widths: flops_per_token(
        seq_len=runs[0]['seq_len'], d_model=m['d_model'], num_layers=m['num_layers'],
        mlp_dims=widths, vocab_size=m['vocab_size'])
    dense = dict(dense, **fpt(m['mlp_dim']))
    for r in runs:
      for row in r['rows']:
        if 'flops_per_token_weights' not in row and row.get('widths'):
          row.update(fpt(row['widths']))
  for r in runs:  # the same (stage, criterion, scope, keep, mode, seed) twice: keep the first
    for row in r['rows']:
      key = tuple(row.get(k) for k in ('stage', 'criterion', 'scope', 'keep', 'mode', 'seed'))
      if key not in seen:
        seen.add(key)
        rows.append(row)
  summary = summarize(rows)
  keeps = sorted({row['keep'] for row in rows}, reverse=True)
  widths = {}
  for r in runs:
    for k, v in r.get('global_widths', {}).items():
      widths.setdefault(k, []).extend(v)
  out = {k: v for k, v in runs[0].items() if k not in ('rows', 'summary', 'gates', 'timings')}
  out.update(dense=dense, rows=rows, summary=summary, global_widths=widths, keep_ratios=keeps,
             calib_seeds=sorted({row['seed'] for row in rows}), merged_from=[str(p) for p in paths],
             gates=gates(summary, dense, tuple(keeps), gates_config),
             wall_time_s={str(p): r.get('wall_time_s') for p, r in zip(paths, runs)})
  return out


if __name__ == '__main__':
  import argparse
  from jaxlab.configs import load_config
  ap = argparse.ArgumentParser(description='Merge HFPrune results.json files into one table.')
  ap.add_argument('--out', required=True)
  ap.add_argument('--config', default='configs/hfprune/mini.py', help='for the gate thresholds')
  ap.add_argument('results', nargs='+')
  a = ap.parse_args()
  merged = merge_results(a.results, load_config(a.config).gates)
  pathlib.Path(a.out).parent.mkdir(parents=True, exist_ok=True)
  pathlib.Path(a.out).write_text(json.dumps(merged, indent=1, default=float))
  print(markdown_table(merged))
  for k, g in merged['gates'].items():
    print(k, 'PASS' if g['passed'] else 'MISS', {a: b for a, b in g.items() if a != 'passed'})
