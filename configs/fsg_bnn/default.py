"""FSG at paper scale (GPU): binary ResNet-20 on full CIFAR-10, W1A32, official hyper-parameters.

  python scripts/train.py --config=configs/fsg_bnn/default.py --workdir=workdirs/fsg_bnn_resnet20

Official settings (two-tiger/FSG `meta-quantize.py -meta MetaFastAndSlow`): DoReFa 1-bit weights
for every conv/fc, FP activations, Adam direction + SGD step at lr 1e-3, x0.1 every 30 epochs,
100 epochs, batch 128, crop + flip; fast-net MultiFC (hidden 100, linear, Adam 1e-2); slow-net
Mamba (d_model 1, d_state 16, d_conv 8, expand 100, Adam 1e-3), HGS length 5, alpha 0.9.
The slow-net scans ~1.35 M positions per step (ResNet-20, L = 5): infeasible on CPU, minutes per
epoch on a GPU. The paper fine-tunes shipped FP checkpoints: pass the official one with
`:pretrain.checkpoint=/path/to/ResNet20-CIFAR10-pretrain.pth` (from the two-tiger/FSG
repository's Results/ folder; read without torch, see checkpoint.py); left empty, the FP network
is pretrained first (`pretrain.epochs`, Adam 1e-3). The architecture pads like the code
(`model.conv_padding="torch"`) and images are normalised with the code's CIFAR-10 constants. Full CIFAR-10 needs
`data.source=tfds` (prepare it once with `python -m jaxlab.data.prepare cifar10`); the offline
copy in $JAXLAB_DATA is only the 4,000/1,000 subset (`data.source=local`).
`:smoke` is mini.py's smoke variant.
"""

import pathlib

from jaxlab.configs import config_module, finalize

_mini = config_module(pathlib.Path(__file__).with_name("mini.py"))


def get_config(arg=None):
  c = _mini.get_config(None)
  c.unlock()
  c.num_seeds = 1
  c.methods = ("ste", "metaquant", "fsg", "fsg_nolre")
  c.data.name = "cifar10"
  c.data.source = "tfds"
  c.data.train_limit = 0
  c.data.test_limit = 0
  c.data.augment = "crop_flip"
  c.model.variant = "resnet20"
  c.model.widths = (16, 32, 64)
  c.model.blocks = 3
  c.model.stem = 16
  c.model.conv_padding = "torch"    # nn.Conv2d(padding=1), as the official ResNet_Cifar
  c.data.norm_stats = "cifar10_official"
  c.pretrain.checkpoint = ""        # official FP checkpoint path; empty: pretrain here
  # (kept empty: jaxlab does not ship the authors' file)
  c.quant.act_bits = 32
  c.quant.fp_layers = ()        # the code binarises every conv and the fc
  c.pretrain.epochs = 100.0
  c.pretrain.lr = 1e-3
  c.eval.bn_recalibrate = 0     # the code evaluates with the running BN statistics
  c.optim.decay_epochs = (30.0, 60.0, 90.0)
  c.train.num_epochs = 100.0
  c.train.log_every = 100
  c.fsg.hgs_length = 5
  c.fsg.expand = 100
  c.fsg.d_state = 16
  c.fsg.d_conv = 8
  c.fsg.chunk = 4096
  c.smoke = False
  return finalize(c, arg, smoke=_mini.smoke_variant)
