"""NMF (Surprise, biased=False): k 15, 50 epochs, reg_pu = reg_qi = 0.06, 5-fold CV.

  python scripts/train.py --config=configs/recsys/nmf.py --workdir=workdirs/rs_nmf

Expected (ML-100K): RMSE ≈ 0.963, MAE ≈ 0.758 (Surprise README).
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("nmf", dict(n_factors=15, n_epochs=50, reg_pu=0.06, reg_qi=0.06),
                       smoke_hparams=dict(n_epochs=2), arg=arg)
