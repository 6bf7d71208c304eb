"""Robustness sweep (spec section 6.4) on the TaOx/HfOx model: NL, C2C sigma, D2D sigma_NL, CDacc vs
conventional online CD, pre-training only (1 epoch per RBM), full MNIST.

  python scripts/train.py --config=configs/memristive_dbn/robustness.py --workdir=/work/workdirs/memristive_dbn/sweep

Points: one factor at a time from (NL 0, C2C 0, D2D 0) to the gate point (4, 2 %, 1), then the gate
point itself (the spec's full 4x3x2 grid is `sweep.points=...`). Net 784-256-256-(256+10)-1000 (half
of mini.py's width): the committed sweep was measured at this width; `model.n_hid=500,...` gives
the full one.
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
  c.model.n_hid = 256
  c.model.n_pen = 256
  c.model.n_top = 1000
  c.runs.software = False
  c.runs.cdacc_devices = ()
  c.runs.online_devices = ()
  c.sweep.enabled = True
  c.eval.n_samples = 0
  return finalize(c, arg, smoke=mini.smoke)
