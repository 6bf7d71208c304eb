"""AMP entry point: `train_and_evaluate(config, workdir)` runs the whole comparison.

  python scripts/train.py --config=configs/amp/mini.py --workdir=/work/workdirs/amp/mini
  python scripts/prune.py --method=amp --config=configs/amp/mini.py --workdir=/work/workdirs/amp/mini

The backbone is read from `config.backbone.workdir` (trained by `config.backbone.config`, e.g.
`configs/baselines/fmnist_vit.py`). When that folder has no checkpoint and
`config.backbone.train_if_missing` is set (the smoke config), the backbone config is trained
there first with `config.backbone.config_arg`.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

import numpy as np

from jaxlab import data as jdata
from jaxlab import train as jtrain
from jaxlab.projects.amp import model as amp_model

REPO = pathlib.Path(__file__).resolve().parents[3]


def _load_config_file(path: str, arg: str | None):
  p = pathlib.Path(path)
  if not p.is_absolute():
    p = REPO / p
  spec = importlib.util.spec_from_file_location(p.stem, p)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod.get_config(arg or None)


def backbone_workdir(config, workdir) -> pathlib.Path:
  return pathlib.Path(config.backbone.workdir or pathlib.Path(workdir) / 'backbone')


def load_backbone(config, workdir, train_arrays: dict) -> amp_model.Backbone:
  """The trained ViT with the normalisation it was trained with."""
  bdir = backbone_workdir(config, workdir)
  # results.json is written when the backbone run finished; a checkpoint without it is from an
  # interrupted run (its lr schedule not done), which `train_if_missing` resumes to the end.
  finished = (bdir / 'results.json').exists()
  if not finished and config.backbone.train_if_missing:
    from jaxlab.projects.baselines import train as btrain
    bcfg = _load_config_file(config.backbone.config, config.backbone.config_arg)
    btrain.train_and_evaluate(bcfg, str(bdir))
  elif not (bdir / 'checkpoints').is_dir():
    raise FileNotFoundError(
        f'no backbone checkpoint in {bdir}; train it first: python scripts/train.py '
        f'--config={config.backbone.config} --workdir={bdir}')
  elif not finished:
    print(f'[amp] warning: {bdir} holds an unfinished backbone run (no results.json); pruning '
          'its latest checkpoint', flush=True)
  r = jtrain.load_params(bdir)
  cfg = r['config']
  if cfg is None:
    raise FileNotFoundError(f'{bdir}/config.json missing: cannot rebuild the backbone model')
  if cfg['data']['name'] != config.data.name:
    raise ValueError(f"backbone trained on {cfg['data']['name']!r}, config.data.name is "
                     f'{config.data.name!r}')
  limit = cfg['data'].get('train_limit', 0) or len(train_arrays['image'])
  if limit > config.data.val_start:
    raise ValueError(f'the backbone trained on train[:{limit}], which overlaps the validation '
                     f'split train[{config.data.val_start}:]')
  mean, std = jdata.channel_stats(train_arrays['image'][:limit])
  model = amp_model.model_from_run_config(cfg, num_classes=int(np.max(train_arrays['label'])) + 1)
  return amp_model.Backbone(model=model, params=r['params'], mean=mean, std=std, config=cfg)


def save_pruned(directory, bb: amp_model.Backbone, keep) -> None:
  """Saves the pruned params (orbax) plus `hidden_sizes` and kept indices (JSON).

  Reload with `orbax.checkpoint.StandardCheckpointer().restore(dir/'params')` and
  `ViT(..., mlp_dim=hidden_sizes)`; `jaxlab.ops.pruning.mlp_widths(params)` also infers the widths
  from the shapes.
  """
  import orbax.checkpoint as ocp
  directory = pathlib.Path(directory).absolute()
  directory.mkdir(parents=True, exist_ok=True)
  target = directory / 'params'
  if target.exists():
    import shutil
    shutil.rmtree(target)
  ckpt = ocp.StandardCheckpointer()
  ckpt.save(target, bb.params)
  ckpt.wait_until_finished()
  (directory / 'pruned.json').write_text(json.dumps({
      'hidden_sizes': list(bb.widths), 'keep': [list(map(int, k)) for k in keep],
      'mean': bb.mean.tolist(), 'std': bb.std.tolist()}, indent=1))


def train_and_evaluate(config, workdir) -> dict:
  from jaxlab.projects.amp import method
  jtrain.write_run_info(workdir, config)
  results = method.run_comparison(config, workdir)
  jtrain.write_results(workdir, results)
  return results


if __name__ == '__main__':
  # python -m jaxlab.projects.amp.train --out results/amp/mini.json s0.json s1.json s2.json
  import argparse
  from jaxlab.configs import load_config
  from jaxlab.projects.amp import method
  ap = argparse.ArgumentParser(description='Aggregate AMP comparison runs of several seeds.')
  ap.add_argument('--out', required=True)
  ap.add_argument('--config', default='configs/amp/mini.py', help='for the primary criterion')
  ap.add_argument('results', nargs='+')
  a = ap.parse_args()
  runs = [json.loads(pathlib.Path(p).read_text()) for p in a.results]
  merged = method.aggregate_seeds(runs, load_config(a.config).prune)
  merged['merged_from'] = list(a.results)
  pathlib.Path(a.out).parent.mkdir(parents=True, exist_ok=True)
  pathlib.Path(a.out).write_text(json.dumps(merged, indent=1, default=float))
  for k, v in merged['no_finetune_over_seeds'].items():
    print(k, {c: f"{100 * t['mean']:.2f}+-{100 * t['std']:.2f}" for c, t in v.items()})
  print(json.dumps(merged['gates_over_seeds'], indent=1))
