"""WMF / iALS (Hu et al. 2008; Rendle et al. 2021) on the 75/25 per-user split, top-10.

  python scripts/train.py --config=configs/recsys/ials.py --workdir=workdirs/rs_ials

Defaults of the implicit library (k 100, reg 0.01, alpha 1, 15 iterations) with Hu et al.'s
confidence c = 1 + alpha. Spec acceptance: nDCG@10 ≥ 0.40 (no official anchor on this split);
not yet measured - the regularisation will likely need tuning (try reg_exponent=1 with reg 1e-3).
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("ials", dict(n_factors=100, n_iters=15, reg=0.01, alpha=1.0,
                                    unobserved_weight=1.0),
                       protocol="split75", smoke_hparams=dict(n_factors=8, n_iters=2), arg=arg)
