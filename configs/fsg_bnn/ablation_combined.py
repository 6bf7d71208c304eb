"""FSG ablation: the slow grad also enters the real weight update (`fsg_combined`,
W <- W - lr AdamDir(alpha slow + (1 - alpha) c fast)) beside STE and FSG; otherwise mini.py.

  python scripts/train.py --config=configs/fsg_bnn/ablation_combined.py \
      --workdir=/work/workdirs/fsg_bnn/ablation_combined
"""

import importlib.util
import pathlib

from jaxlab.configs import finalize

_spec = importlib.util.spec_from_file_location("_fsg_mini", pathlib.Path(__file__).with_name("mini.py"))
_mini = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mini)


def get_config(arg=None):
  c = _mini.get_config(None)
  c.unlock()
  c.methods = ("ste", "fsg", "fsg_combined")
  c.num_seeds = 1
  c.smoke = False
  return finalize(c, arg, smoke=_mini.smoke_variant)
