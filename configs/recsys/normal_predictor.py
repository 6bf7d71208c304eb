"""NormalPredictor (Surprise): ratings drawn from N(μ, σ²) of the training set.

  python scripts/train.py --config=configs/recsys/normal_predictor.py --workdir=workdirs/rs_np

Expected (ML-100K, 5-fold CV): RMSE 1.518 ± 0.02, MAE ≈ 1.219; about a second on a CPU.
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("normal_predictor", {}, arg=arg)
