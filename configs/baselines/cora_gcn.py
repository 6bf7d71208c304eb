"""GCN (Kipf & Welling 2017) on Planetoid Cora, public split, 5 seeds (baseline).

  python scripts/train.py --config=configs/baselines/cora_gcn.py --workdir=workdirs/cora_gcn
  python scripts/train.py --config=configs/baselines/cora_gcn.py:data.name=citeseer \
      --workdir=workdirs/citeseer_gcn

2 layers, 16 hidden, dropout 0.5, Adam lr 0.01, L2 5e-4 on the first layer, 200 epochs,
row-normalised features. Expected: mean test accuracy >= 80.0% on Cora (paper 81.5%), about
70% on CiteSeer (paper 70.3%); seconds on a CPU.
"""

from jaxlab.configs import base_config, finalize


def get_config(arg=None):
  c = base_config("baselines", task="node_classification")
  c.num_seeds = 5
  c.data.name = "cora"
  c.data.normalize_features = True
  c.data.pad_multiple = 64
  c.model.name = "gcn"
  c.model.variant = "kipf"
  c.model.kwargs = {}
  c.optim.name = "adam"
  c.optim.lr = 0.01
  c.optim.wd = 5e-4
  c.optim.wd_first_layer_only = True
  c.train.num_epochs = 200
  c.train.log_every = 10

  def smoke(c):
    c.num_seeds = 2
    c.train.num_epochs = 10
    c.train.log_every = 5
  return finalize(c, arg, smoke=smoke)
