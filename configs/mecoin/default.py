"""Mecoin at paper scale (spec section 4): h = 128, C = 100 codebooks x M = 800 keys,
2000 memory epochs per session, encoder pretraining up to 2000 epochs.

  python scripts/train.py --config=configs/mecoin/default.py --workdir=/work/workdirs/mecoin/default

The paper's CoraFull / Amazon-Computers / Coauthor-CS are not in the offline data, so this runs
Cora (3 base + 2 x 2-way 5-shot sessions); pass `data.name=citeseer,data.n_base=2` for CiteSeer.
Expect tens of minutes on a CPU (C x n x M distances per step); not run for the README table.
"""

from jaxlab.configs import finalize

import importlib.util as _ilu
import pathlib as _pl

_spec = _ilu.spec_from_file_location("_mecoin_mini", _pl.Path(__file__).with_name("mini.py"))
_mini = _ilu.module_from_spec(_spec)
_spec.loader.exec_module(_mini)


def get_config(arg=None):
  c = _mini.get_config(None)
  c.unlock()
  c.smoke = False
  c.model.hidden = 128
  c.model.num_books = 100
  c.model.num_pairs = 800
  c.pretrain.epochs = 2000
  c.baselines.epochs = 500
  c.mecoin.epochs = 2000
  c.mecoin.lr = 5e-4
  c.mecoin.prepare_steps = 300
  return finalize(c, arg, smoke=_mini.smoke_variant, variants={"citeseer": _mini.citeseer_variant})
