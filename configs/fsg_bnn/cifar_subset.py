"""FSG task B (reported only): binary ResNet-8-lite on the CIFAR-10 subset (4,000 / 1,000), W1A32.

  python scripts/train.py --config=configs/fsg_bnn/cifar_subset.py \
      --workdir=/work/workdirs/fsg_bnn/cifar_subset

STE and FSG (add methods=... for the others), one seed, crop + flip augmentation, full-precision
pretrain then binarised fine-tuning. The spec's task B (widths 16/32/64, 20 + 10 epochs) is cut
down to the mini widths 8/16/32 and 10 + 5 epochs so that it finishes on a shared 2-core CPU.
"""

from jaxlab.configs import config_module, finalize
import pathlib

_mini = config_module(pathlib.Path(__file__).with_name("mini.py"))


def get_config(arg=None):
  c = _mini.get_config(None)
  c.unlock()
  c.num_seeds = 1
  c.methods = ("ste", "fsg")
  c.data.name = "cifar10"
  c.data.train_limit = 0
  c.data.augment = "crop_flip"
  c.quant.act_bits = 32
  c.pretrain.epochs = 10.0
  c.pretrain.lr = 1e-3
  c.train.num_epochs = 5.0
  c.optim.decay_epochs = (4.0,)
  c.train.log_every = 10
  c.smoke = False
  return finalize(c, arg, smoke=_mini.smoke_variant)
