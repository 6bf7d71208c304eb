"""Factorization machine (Rendle 2010): user, item, genres, demographics, weekday/hour, 5-fold CV.

  python scripts/train.py --config=configs/recsys/fm.py --workdir=workdirs/rs_fm

Same hyper-parameters as configs/recsys/fm_user_item.py (the svd_minibatch recipe: k 100, Adam
3e-3, batch 512, L2 0.05, init N(0, 0.1²), 30 epochs), so the two runs differ only in the fields.
Acceptance (spec): RMSE ≤ FM(user+item) + 0.002 (side information does not hurt).
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("fm", dict(features=("user", "item", "genres", "age", "gender",
                                             "occupation", "weekday", "hour"),
                                   n_factors=100, n_epochs=30, lr=3e-3, lam_w=0.05, lam_v=0.05,
                                   batch_size=512, init_std=0.1),
                       smoke_hparams=dict(n_factors=4, n_epochs=2), arg=arg)
