"""Most-popular baseline on the Recommenders 75/25 per-user split, top-10 metrics.

  python scripts/train.py --config=configs/recsys/popularity.py --workdir=workdirs/rs_pop

Spec acceptance: BPR and iALS beat it by ≥ 0.05 nDCG@10. Seconds on a CPU.
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("popularity", dict(min_rating=0.0), protocol="split75", arg=arg)
