"""Robustness sweep (spec section 6.4) on the TaOx/HfOx model: NL, C2C sigma, D2D sigma_NL, CDacc vs
conventional online CD, pre-training only (1 epoch per RBM), full MNIST.

  python scripts/train.py --config=configs/memristive_dbn/robustness.py --workdir=/work/workdirs/memristive_dbn/sweep

Points: one factor at a time from (NL 0, C2C 0, D2D 0) to the gate point (4, 2 %, 1), then the gate
point itself. Net 784-256-256-(256+10)-1000 (half of mini.py's width).

Variants (`--config=configs/memristive_dbn/robustness.py:grid,full_width`):
  grid        the spec's full grid NL {0, 2, 4, 6} x C2C {0, 2, 5 %} x D2D sigma_NL {0, 1} (24 points)
  full_width  mini.py's net, 784-500-500-(500+10)-2000
Every point and scheme is one `runs/sweep_*.json`, skipped when it exists, so the grid can be split
over processes that share a workdir (`sweep.points=(...)` per process), then completed by one
more call that finds everything cached and writes the gate into results.json.
"""

import importlib.util
import pathlib

from jaxlab.configs import finalize

_spec = importlib.util.spec_from_file_location(
    "_memristive_dbn_mini", pathlib.Path(__file__).with_name("mini.py"))
mini = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mini)


GRID = tuple((nl, c2c, d2d) for nl in (0, 2, 4, 6) for c2c in (0.0, 0.02, 0.05)
             for d2d in (0.0, 1.0))


def grid(c):
  c.sweep.points = GRID


def full_width(c):
  c.model.n_hid = 500
  c.model.n_pen = 500
  c.model.n_top = 2000


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
  return finalize(c, arg, smoke=mini.smoke, variants={"grid": grid, "full_width": full_width})
