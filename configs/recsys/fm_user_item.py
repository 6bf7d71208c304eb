"""Factorization machine with only user and item one-hots (= biased MF), 5-fold CV.

  python scripts/train.py --config=configs/recsys/fm_user_item.py --workdir=workdirs/rs_fm_ui

Acceptance (spec): within 0.01 RMSE of biased SVD (0.934) - not yet measured.
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("fm", dict(features=("user", "item"), n_factors=32, n_epochs=30, lr=1e-3,
                                   lam_w=1e-4, lam_v=1e-4),
                       smoke_hparams=dict(n_factors=4, n_epochs=2), arg=arg)
