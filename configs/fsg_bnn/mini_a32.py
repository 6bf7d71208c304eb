"""FSG mini, the paper's W1A32 setting (full-precision activations) on MNIST; otherwise mini.py.

  python scripts/train.py --config=configs/fsg_bnn/mini_a32.py --workdir=/work/workdirs/fsg_bnn/mnist_a32
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
  c.quant.act_bits = 32
  c.smoke = False
  return finalize(c, arg, smoke=_mini.smoke_variant)
