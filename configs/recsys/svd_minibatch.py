"""Biased MF trained with Adam on shuffled minibatches (jaxlab variant), 5-fold CV.

  python scripts/train.py --config=configs/recsys/svd_minibatch.py --workdir=workdirs/rs_svdmb

Acceptance (spec): RMSE ≤ 0.940 on ML-100K. The defaults (k 100, batch 512, Adam 3e-3,
reg 0.05, 30 epochs) are a first guess, not yet tuned or measured.
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("svd_minibatch", dict(n_factors=100, n_epochs=30, lr=0.003, reg=0.05,
                                             batch_size=512),
                       smoke_hparams=dict(n_factors=8, n_epochs=2), arg=arg)
