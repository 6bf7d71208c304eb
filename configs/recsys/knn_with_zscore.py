"""KNN with_zscore (Surprise KNN*): user-based, k 40, min_k 1, MSD similarity, 5-fold CV.

  python scripts/train.py --config=configs/recsys/knn_with_zscore.py --workdir=workdirs/rs_knn_with_zscore
  (item-based / other similarity: append :model.hparams.user_based=False,model.hparams.sim_name=pearson_baseline)

Expected (ML-100K): no README anchor (Surprise docs: close to KNNWithMeans) (Surprise README).
"""

from jaxlab.projects.recsys.config_lib import recsys_config


def get_config(arg=None):
  return recsys_config("knn_with_zscore", dict(k=40, min_k=1, sim_name="msd", user_based=True),
                       smoke_hparams=dict(k=5), arg=arg)
