"""BaselineOnly, ALS (Surprise defaults: 10 epochs, reg_u 15, reg_i 10), 5-fold CV.

  python scripts/train.py --config=configs/recsys/baseline_only.py --workdir=workdirs/rs_bsl

Expected (ML-100K): RMSE 0.944 ± 0.003, MAE 0.748 ± 0.003 (Surprise README); seconds on a CPU.
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("baseline_only", dict(method="als", reg_u=15.0, reg_i=10.0, n_epochs=10),
                       smoke_hparams=dict(n_epochs=2), arg=arg)
