"""Factorization machine (Rendle 2010): user, item, genres, demographics, weekday/hour, 5-fold CV.

  python scripts/train.py --config=configs/recsys/fm.py --workdir=workdirs/rs_fm

k 32, Adam 1e-3, L2 1e-4, 30 epochs (spec proposal). Acceptance: RMSE ≤ FM(user+item) + 0.002
(configs/recsys/fm_user_item.py) - not yet measured.
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("fm", dict(features=("user", "item", "genres", "age", "gender",
                                             "occupation", "weekday", "hour"),
                                   n_factors=32, n_epochs=30, lr=1e-3, lam_w=1e-4, lam_v=1e-4),
                       smoke_hparams=dict(n_factors=4, n_epochs=2), arg=arg)
