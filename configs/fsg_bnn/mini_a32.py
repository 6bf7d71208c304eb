"""FSG mini, the paper's W1A32 setting (full-precision activations) on MNIST; otherwise mini.py.

  python scripts/train.py --config=configs/fsg_bnn/mini_a32.py --workdir=/work/workdirs/fsg_bnn/mnist_a32
"""

import pathlib

from jaxlab.configs import config_module, finalize

_mini = config_module(pathlib.Path(__file__).with_name("mini.py"))


def get_config(arg=None):
  c = _mini.get_config(None)
  c.unlock()
  c.quant.act_bits = 32
  c.smoke = False
  return finalize(c, arg, smoke=_mini.smoke_variant)
