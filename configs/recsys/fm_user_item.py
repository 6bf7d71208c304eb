"""Factorization machine with only user and item one-hots (= biased MF), 5-fold CV.

  python scripts/train.py --config=configs/recsys/fm_user_item.py --workdir=workdirs/rs_fm_ui

Acceptance (spec): within 0.01 RMSE of biased SVD (0.934). Hyper-parameters = the svd_minibatch
recipe (k 100, Adam 3e-3, batch 512, L2 0.05 per occurrence, init N(0, 0.1²), 30 epochs), so this
run optimises the same objective as configs/recsys/svd_minibatch.py: a consistency check. The
spec's proposal (k 32, Adam 1e-3, L2 1e-4) overfits: RMSE 1.028 (5-fold CV, measured). See the
README for the measured numbers and a stronger-L2 variant (lam_v 0.1, k 32).
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("fm", dict(features=("user", "item"), n_factors=100, n_epochs=30, lr=3e-3,
                                   lam_w=0.05, lam_v=0.05, batch_size=512, init_std=0.1),
                       smoke_hparams=dict(n_factors=4, n_epochs=2), arg=arg)
