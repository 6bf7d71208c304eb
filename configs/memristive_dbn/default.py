"""Memristive DBN at paper scale: 784-500-500-(500+10)-2000, 30 epochs of CD-1 per RBM, 30 epochs of
up-down fine-tuning with CD-20 in the top RBM, deterministic and 50-pass sampling read-out.

  python scripts/train.py --config=configs/memristive_dbn/default.py --workdir=/work/workdirs/memristive_dbn/default

Measured on one CPU core, seeds 0 / 1 (det / sampling read-out): software 95.33 / 95.28 % det,
97.27 / 97.24 % sampling; CDacc on the ideal device 94.95 / 95.27 % det; on PCMO 95.09 / 94.81 % det,
96.42 / 96.50 % sampling. 24-28 min per run on a quiet core (55-83 min on a shared one);
every figure and command is in jaxlab/projects/memristive_dbn/README.md. A restarted run resumes
from its last epoch-end checkpoint. Paper
(abstract): 95-97 % MNIST test accuracy across devices, ~100x fewer writes than conventional
online training.
"""

import importlib.util
import pathlib

from jaxlab.configs import finalize

_spec = importlib.util.spec_from_file_location(
    "_memristive_dbn_mini", pathlib.Path(__file__).with_name("mini.py"))
mini = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mini)


def get_config(arg=None):
  c = mini.base()
  c.model.n_hid = 500
  c.model.n_pen = 500
  c.model.n_top = 2000
  c.train.pretrain_epochs = 30
  c.train.finetune_epochs = 30
  c.method.cd_k_finetune = 20
  c.eval.n_samples = 50
  c.runs.online_devices = mini.LITERATURE
  return finalize(c, arg, smoke=mini.smoke)
