"""DGMR with the paper's recovery recipe (EVA02-CLIP-E prune1 / OpenCLIP-g settings) applied to the
Fashion-MNIST ViT backbone: GS only, m=1, 10 epochs of distillation.

  python scripts/train.py --config=configs/dgmr/default.py --workdir=/work/workdirs/dgmr/default

Paper scale means the paper's schedule, not its models (ImageNet-1k and billion-parameter CLIP
towers are out of reach here): 10 epochs, AdamW (0.9, 0.95), lr = 6e-5 * batch/256 after a
one-epoch warm-up, cosine to min_lr 1e-6, weight decay cosine 0.04 -> 0.2, cls/patch MSE weights
1/1, head and final norm copied from the teacher. Expected: ~40 min on a shared 2-core CPU.
"""

import importlib.util
import pathlib

from jaxlab.configs import finalize

_spec = importlib.util.spec_from_file_location("dgmr_mini", pathlib.Path(__file__).with_name("mini.py"))
_mini = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mini)


def get_config(arg=None):
  c = _mini.get_config()
  c.unlock()
  c.prune.mlp_ratios = (1.0,)
  c.prune.methods = ("gs",)
  c.scratch.enabled = False
  c.distill.budgets = ()
  c.distill.extra_budgets = ()
  c.distill.full_epochs = 10
  c.distill.full_seeds = (0, 1, 2)
  c.seeds = (0, 1, 2)
  c.distill.full_methods = ("gs",)
  c.distill.optim.lr = 6e-5 * c.data.batch_size / 256
  c.distill.optim.min_lr = 1e-6
  c.distill.optim.warmup_frac = 0.1  # one of ten epochs
  c.distill.optim.wd = 0.04
  c.distill.optim.wd_end = 0.2
  c.smoke = False

  def smoke(c):
    _mini_smoke = _mini.get_config("smoke")
    for k in ("data", "teacher", "model", "eval", "train"):
      c[k] = _mini_smoke[k]
    c.prune.taylor_calib = 256
    c.prune.taylor_batch = 128
    c.distill.full_epochs = 1
    c.distill.full_seeds = (0,)
    c.seeds = (0,)
    c.distill.save_student = False
  return finalize(c, arg, smoke=smoke)
