"""recsys runs: fit one algorithm on every fold of a protocol, evaluate, write results.json.

  python scripts/train.py --config=configs/recsys/svd.py --workdir=workdirs/recsys_svd
  python scripts/train.py --config=configs/recsys/bpr.py:smoke --workdir=/tmp/bpr

Protocols (`config.eval.protocol`):
  cv5       Surprise's seeded shuffled 5-fold CV over all 100,000 ratings (`eval.cv_seed`).
  official  the u1..u5 base/test files of ML-100K.
  split75   per-user stratified 75/25 split (`eval.split_seed`, Recommenders benchmark).
  loo       leave the latest rating of each user out; full-ranking and sampled (100 negatives)
            metrics.
`eval.num_folds` caps the number of folds run (smoke: 1). Explicit models report RMSE/MAE (and
top-k metrics with `eval.ranking=True`); implicit models report top-k metrics.

results.json: per-fold metrics and times, mean and (population) std over folds, fit time per fold,
the time spent compiling (measured with `jax.monitoring` compile events) and the total time
without it. The first fold's model is saved as `model.npz` in the workdir (`eval.save_model`).
"""

from __future__ import annotations

import threading
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.projects.recsys import data as rdata
from jaxlab.projects.recsys import metrics as rmetrics
from jaxlab.projects.recsys import models
from jaxlab.train import MetricWriter, write_results, write_run_info

PROTOCOLS = ("cv5", "official", "split75", "loo")

_compile = {"secs": 0.0}
_lock = threading.Lock()
_listening = False


def _on_event(event, duration, **kwargs):
  if event.startswith("/jax/core/compile/"):
    with _lock:
      _compile["secs"] += float(duration)


def compile_seconds() -> float:
  """Seconds spent tracing/lowering/compiling in this process since the first call."""
  global _listening
  if not _listening:
    jax.monitoring.register_event_duration_secs_listener(_on_event)
    _listening = True
  return _compile["secs"]


def _hparams(config) -> dict:
  hp = config.model.get("hparams", {})
  hp = hp.to_dict() if hasattr(hp, "to_dict") else dict(hp)
  if "progress" in models.get_spec(config.model.name).defaults and "progress" not in hp:
    hp["progress"] = bool(config.train.get("progress", False))
  return hp


def _folds(config):
  d = config.data
  limit = int(d.get("limit", 0))
  load = lambda split: rdata.load(split, limit=limit, source=d.source, data_dir=d.dir or None,
                                  name=d.name)
  protocol = config.eval.protocol
  if protocol not in PROTOCOLS:
    raise ValueError(f"unknown eval.protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
  data_all = None if protocol == "official" else load("all")
  return rdata.protocol_folds(
      data_all, protocol, num_folds=int(config.eval.num_folds), seed=int(config.eval.cv_seed),
      load_fn=load, split_seed=int(config.eval.split_seed), ratio=float(config.eval.ratio))


def evaluate_fold(model, test, config) -> dict:
  """Rating metrics (explicit models) and top-k metrics (implicit, or eval.ranking)."""
  spec = models.get_spec(model.algo)
  out = {}
  if spec.kind == "explicit":
    extra = {"timestamps": test.timestamp} if model.algo == "fm" else {}
    pred = models.predict(model, test.user, test.item, **extra)
    out["rmse"] = float(rmetrics.rmse(pred, test.rating))
    out["mae"] = float(rmetrics.mae(pred, test.rating))
  if spec.kind == "implicit" or config.eval.ranking or config.eval.protocol == "loo":
    k = int(config.eval.k)
    users = jnp.arange(model.num_users)
    score = models.scores(model, users)
    seen = models.seen_mask(model)
    relevant = np.zeros((model.num_users, model.num_items), bool)
    relevant[test.user, test.item] = True
    out.update(rmetrics.evaluate_ranking(score, seen, relevant, k,
                                         config.eval.map_denominator))
    if config.eval.protocol == "loo":
      test_item = np.full(model.num_users, -1, np.int64)
      test_item[test.user] = test.item
      neg = rmetrics.sample_negatives(seen, test_item, int(config.eval.num_negatives),
                                      seed=int(config.eval.split_seed))
      has = test_item >= 0
      s = np.asarray(score)
      pos = s[np.arange(len(s)), np.maximum(test_item, 0)][has]
      negs = np.take_along_axis(s, neg, 1)[has]
      sm = rmetrics.sampled_metrics(jnp.asarray(pos), jnp.asarray(negs), k)
      out.update({n: float(v) for n, v in sm.items()})
  return out


def train_and_evaluate(config, workdir) -> dict:
  write_run_info(workdir, config)
  algo = config.model.name
  hp = _hparams(config)
  models.resolve_hparams(algo, hp)  # fail fast on unknown hyper-parameters
  t_start = time.perf_counter()
  c_start = compile_seconds()
  folds = _folds(config)
  writer = MetricWriter(workdir, tensorboard=bool(config.train.get("tensorboard", False)))
  fold_rows = []
  model_path = None
  progress = folds
  if config.train.get("progress", False) and len(folds) > 1:
    import tqdm
    progress = tqdm.tqdm(folds, desc=f"{algo} {config.eval.protocol}", leave=False)
  for f, (train, test) in enumerate(progress):
    c0, t0 = compile_seconds(), time.perf_counter()
    model = models.fit(algo, train, seed=int(config.seed), **hp)
    jax.block_until_ready(model.params)
    t1 = time.perf_counter()
    c1 = compile_seconds()
    row = {"fold": f + 1, "train_split": train.split, "test_split": test.split,
           "num_train": len(train), "num_test": len(test)}
    row.update(evaluate_fold(model, test, config))
    t2 = time.perf_counter()
    row.update(fit_time_s=t1 - t0, test_time_s=t2 - t1, fit_compile_time_s=c1 - c0,
               test_compile_time_s=compile_seconds() - c1)
    fold_rows.append(row)
    writer.write(f + 1, {f"test/{k}": v for k, v in row.items()
                         if isinstance(v, float) and not k.endswith("_s")})
    if f == 0 and config.eval.save_model:
      model_path = str(models.save(model, f"{workdir}/model.npz"))
  writer.close()
  total = time.perf_counter() - t_start
  compile_total = compile_seconds() - c_start
  results = {"algo": algo, "kind": models.get_spec(algo).kind,
             "protocol": config.eval.protocol, "num_folds": len(fold_rows),
             "data_limit": int(config.data.get("limit", 0)), "seed": int(config.seed),
             "hparams": models.resolve_hparams(algo, hp), "folds": fold_rows}
  metric_names = [k for k, v in fold_rows[0].items()
                  if isinstance(v, float) and not k.endswith("_s")]
  for k in metric_names:
    vals = np.array([r[k] for r in fold_rows], np.float64)
    results[f"{k}_mean"] = float(vals.mean())
    results[f"{k}_std"] = float(vals.std())
  results.update(
      fit_time_total_s=float(sum(r["fit_time_s"] for r in fold_rows)),
      test_time_total_s=float(sum(r["test_time_s"] for r in fold_rows)),
      compile_time_s=float(compile_total), total_time_s=float(total),
      total_time_excl_compile_s=float(total - compile_total), model_path=model_path)
  write_results(workdir, results)
  return results
