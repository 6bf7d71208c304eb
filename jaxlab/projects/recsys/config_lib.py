"""The shared shape of every configs/recsys/<algo>.py file."""

from __future__ import annotations

import ml_collections

from jaxlab.configs import base_config, finalize


def recsys_config(algo: str, hparams: dict, *, protocol="cv5", smoke_hparams=None, arg=None,
                  ranking=False, smoke_limit=2000):
  """A locked recsys config: `model.name=algo`, `model.hparams`, `eval.protocol`, `smoke`.

  smoke: 1 fold, the first `smoke_limit` ratings, `smoke_hparams` (e.g. 2 epochs), no progress.
  """
  c = base_config("recsys")
  c.data.name = "movielens100k"
  c.data.limit = 0  # >0: keep only the first `limit` ratings of each split (smoke runs)
  c.model.name = algo
  c.model.hparams = ml_collections.ConfigDict(dict(hparams))
  c.eval.protocol = protocol  # cv5 | official | split75 | loo
  c.eval.num_folds = 5
  c.eval.cv_seed = 0  # Surprise KFold(random_state=0)
  c.eval.split_seed = 42  # Recommenders python_stratified_split(seed=42)
  c.eval.ratio = 0.75
  c.eval.k = 10
  c.eval.ranking = ranking  # explicit models: also top-k metrics
  c.eval.map_denominator = "n_relevant"  # Recommenders `map`; "min_k" for classic MAP@k
  c.eval.num_negatives = 100  # loo protocol: sampled metrics
  c.eval.save_model = True
  c.train.progress = True
  c.train.tensorboard = False

  def smoke(c):
    c.eval.num_folds = 1
    c.data.limit = smoke_limit
    c.train.progress = False
    for k, v in (smoke_hparams or {}).items():
      c.model.hparams[k] = v
  return finalize(c, arg, smoke=smoke)
