"""BPR-MF (Rendle 2009) on the Recommenders 75/25 per-user split, top-10 metrics.

  python scripts/train.py --config=configs/recsys/bpr.py --workdir=workdirs/rs_bpr
  (implicit-library defaults: :model.hparams.n_factors=100,model.hparams.lr=0.01,model.hparams.reg=0.01,model.hparams.n_epochs=100)

Recommenders/cornac benchmark setting: k 200, 15 epochs, lr 0.075, reg 1e-3. Expected: nDCG@10 ≥
0.40, P@10 ≥ 0.35 (cornac anchor 0.442 / 0.388). Not yet measured here.
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("bpr", dict(n_factors=200, n_epochs=15, lr=0.075, reg=0.001, batch_size=64),
                       protocol="split75", smoke_hparams=dict(n_factors=8, n_epochs=2), arg=arg)
