"""recsys: collaborative filtering in pure JAX (Surprise-style explicit, implicit-style implicit).

  from jaxlab.projects import recsys
  model = recsys.fit("svd", train, seed=0)          # train: jaxlab.data.RatingsData
  recsys.predict(model, users, items)               # clipped ratings
  recsys.recommend(model, user=0, k=10)             # (items, scores), training items excluded
  recsys.save(model, "svd.npz"); recsys.load("svd.npz")

See README.md for the algorithm list, the protocols and the results table.
"""

from jaxlab.projects.recsys.models import (AlgoSpec, Model, ModelFileError, estimate, fit,
                                           get_spec, list_algorithms, load, predict, recommend,
                                           resolve_hparams, save, scores, seen_mask)

__all__ = ["AlgoSpec", "Model", "ModelFileError", "estimate", "fit", "get_spec",
           "list_algorithms", "load", "predict", "recommend", "resolve_hparams", "save",
           "scores", "seen_mask"]
