"""SVD++ (Koren 2008) with Surprise's sequential SGD, 5-fold CV.

  python scripts/train.py --config=configs/recsys/svdpp.py --workdir=workdirs/rs_svdpp

k 20, 20 epochs, lr 0.007, reg 0.02. Expected (ML-100K): RMSE ≤ 0.925 (Surprise 0.919, MAE 0.721).
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("svdpp", dict(n_factors=20, n_epochs=20, lr_all=0.007, reg_all=0.02),
                       smoke_hparams=dict(n_factors=4, n_epochs=2), arg=arg)
