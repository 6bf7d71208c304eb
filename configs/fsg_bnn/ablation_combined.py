"""FSG ablation: the slow grad also enters the real weight update (`fsg_combined`,
W <- W - lr AdamDir(alpha slow + (1 - alpha) c fast)) beside STE and FSG; otherwise mini.py.

  python scripts/train.py --config=configs/fsg_bnn/ablation_combined.py \
      --workdir=/work/workdirs/fsg_bnn/ablation_combined
"""

import pathlib

from jaxlab.configs import config_module, finalize

_mini = config_module(pathlib.Path(__file__).with_name("mini.py"))


def get_config(arg=None):
  c = _mini.get_config(None)
  c.unlock()
  c.methods = ("ste", "fsg", "fsg_combined")
  c.num_seeds = 1
  c.smoke = False
  return finalize(c, arg, smoke=_mini.smoke_variant)
