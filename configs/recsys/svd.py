"""SVD = biased MF with Surprise's sequential per-rating SGD (lax.scan), 5-fold CV.

  python scripts/train.py --config=configs/recsys/svd.py --workdir=workdirs/rs_svd

k 100, 20 epochs, lr 0.005, reg 0.02, init N(0, 0.1²). Expected (ML-100K): RMSE 0.934 ± 0.006,
MAE 0.737 ± 0.005 (Surprise README: 0.934 / 0.737). Spec budget: ≤ 30 s for 5 folds on 2 CPU
cores excluding compilation.
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("svd", dict(n_factors=100, n_epochs=20, lr_all=0.005, reg_all=0.02,
                                   init_std=0.1, order="surprise"),
                       smoke_hparams=dict(n_factors=8, n_epochs=2), arg=arg)
