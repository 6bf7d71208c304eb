"""MLDGG ablations only (spec §8: w/o SL, w/o SV, w/o MAML) plus second-order MAML, on mini.py.

  python scripts/train.py --config=configs/mldgg/ablations.py --workdir=/work/workdirs/mldgg/ablations

The main mini run already contains every ablation beside the baselines (same seeds); this file
re-runs only MLDGG and its ablations with second-order MAML (gradients through the inner step).
"""

import importlib.util
import pathlib

from jaxlab.configs import finalize

_spec = importlib.util.spec_from_file_location("_mldgg_mini",
                                               pathlib.Path(__file__).with_name("mini.py"))
mini = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mini)


def get_config(arg=None):
  c = mini.get_config()
  with c.unlocked():
    c.methods = ("mldgg_no_maml", "mldgg_no_sl", "mldgg_no_sv", "mldgg")
    c.train.first_order = False
  return finalize(c, arg, smoke=mini.smoke)
