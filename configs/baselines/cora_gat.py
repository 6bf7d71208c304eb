"""GAT (Velickovic et al. 2018) on Planetoid Cora, public split, 5 seeds (baseline).

  python scripts/train.py --config=configs/baselines/cora_gat.py --workdir=workdirs/cora_gat
  python scripts/train.py --config=configs/baselines/cora_gat.py:data.name=citeseer \
      --workdir=workdirs/citeseer_gat

8 heads x 8 hidden, ELU, 1 output head, dropout 0.6 on inputs and attention, Adam lr 0.005,
L2 5e-4, row-normalised features. Expected: mean test accuracy >= 81.0% on Cora (paper 83.0%),
about 72% on CiteSeer (paper 72.5%).
"""

from jaxlab.configs import base_config, finalize


def get_config(arg=None):
  c = base_config("baselines", task="node_classification")
  c.num_seeds = 5
  c.data.name = "cora"
  c.data.normalize_features = True
  c.data.pad_multiple = 64
  c.model.name = "gat"
  c.model.variant = "velickovic"
  c.model.kwargs = {}
  c.optim.name = "adam"
  c.optim.lr = 0.005
  c.optim.wd = 5e-4
  c.optim.wd_first_layer_only = False
  c.train.num_epochs = 400
  c.train.log_every = 10

  def smoke(c):
    c.num_seeds = 2
    c.train.num_epochs = 10
    c.train.log_every = 5
  return finalize(c, arg, smoke=smoke)
