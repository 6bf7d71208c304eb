"""DPS at the official code's settings (spec §4) on CollegeMsg.

  python scripts/train.py --config=configs/dps/default.py --workdir=/work/workdirs/dps/default

Differences from mini.py: node_dim = time_dim = 128 (paper), K = 20 (10 GAS + 10 TDS),
≤ 50 epochs with patience 3, lr 1e-4; GAS pretrained ≤ 50 epochs with early stopping on val
AUC (patience 3, best epoch restored) as in the official code, GAS history cap 256, all 59,835
messages. Needs a GPU or many CPU hours.
"""

import importlib.util
import pathlib

from jaxlab.configs import finalize


def _mini():
  path = pathlib.Path(__file__).with_name("mini.py")
  spec = importlib.util.spec_from_file_location("_dps_mini_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def get_config(arg=None):
  mini = _mini()
  c = mini.get_config()
  c.data.max_events = 0
  c.model.node_dim = 128
  c.model.time_dim = 128
  c.model.num_neighbors = 20
  c.gas.num_neighbors = 20
  c.gas.max_history = 256
  c.gas.lr = 1e-4
  c.gas.pretrain_epochs = 50
  c.gas.pretrain_early_stop = True
  c.optim.lr = 1e-4
  c.train.num_epochs = 50
  c.train.patience = 3
  c.eval.batch_size = 200
  return finalize(c, arg, smoke=mini.smoke)
