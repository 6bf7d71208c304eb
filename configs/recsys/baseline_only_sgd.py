"""BaselineOnly, SGD (Surprise bsl_options: 20 epochs, lr 0.005, reg 0.02), 5-fold CV.

  python scripts/train.py --config=configs/recsys/baseline_only_sgd.py --workdir=workdirs/rs_bsgd

Expected (ML-100K): close to the ALS baseline (RMSE ≈ 0.944); no separate published anchor.
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("baseline_only", dict(method="sgd", lr=0.005, reg=0.02, n_epochs=20),
                       smoke_hparams=dict(n_epochs=2), arg=arg)
