"""FSG mini reproduction (CPU): binary "ResNet-8-lite" on MNIST, W1A1, four estimators x 3 seeds.

  python scripts/train.py --config=configs/fsg_bnn/mini.py --workdir=/work/workdirs/fsg_bnn/mnist_a1

Per seed: full-precision pretrain (binary activations, FP weights, Adam 1e-2, 2 epochs), then
binarised fine-tuning of the same init with STE+Adam, MetaQuant (fast-net only), FSG and FSG
without LRE, on the same batch order (300 steps each). Binary ResNet-8-lite 8/16/32 with the stem
conv and the fc full precision; BN statistics recomputed before each evaluation. `act_bits=32` gives the paper's W1A32 setting (`mini_a32.py`).
`:smoke` runs a few steps on 512 images (seconds); used by the tests and the notebook.
See jaxlab/projects/fsg_bnn/README.md for the measured wall time and accuracies.
"""

from jaxlab.configs import base_config, finalize


def get_config(arg=None):
  c = base_config("fsg_bnn")
  c.num_seeds = 3
  c.methods = ("ste", "metaquant", "fsg", "fsg_nolre")
  c.data.name = "mnist"
  c.data.batch_size = 128
  c.data.train_limit = 12800   # 100 steps per epoch (see the README: sized for a shared 2-core CPU)
  c.data.test_limit = 0
  c.data.augment = "none"
  c.data.norm_stats = "train"   # per-channel stats of the training images; or "cifar10_official"
  c.model.name = "binary_resnet"
  c.model.variant = "resnet8_lite"
  c.model.widths = (8, 16, 32)   # the spec's ResNet-8-lite
  c.model.blocks = 1
  c.model.stem = 8
  c.model.conv_padding = "same"   # flax SAME; "torch" = the code's padding=1 (default.py)
  # Stem conv and fc stay full precision (standard for W1A1 nets; the code binarises them too).
  c.quant = dict(weight_bits=1, act_bits=1, fp_layers=("conv1", "fc"))
  c.pretrain = dict(epochs=2.0, num_steps=0, lr=1e-2,  # spec: 1 epoch of 60 k at 1e-3
                    checkpoint="")   # an official FP .pth instead of pretraining (default.py)
  c.optim.name = "adam_dir_sgd"
  c.optim.lr = 1e-3
  c.optim.schedule = "step"
  c.optim.decay_epochs = (2.0,)
  c.optim.decay_factor = 0.1
  c.train.num_epochs = 3.0
  c.train.num_steps = 0
  c.train.log_every = 25
  c.fsg = dict(
      alpha=0.9,            # weight of the slow grad in the look-ahead
      hgs_length=3,         # L (paper/code: 5)
      expand=8,             # Mamba d_inner (d_model = 1; code: 100, spec mini: 16)
      d_state=8, d_conv=8,  # code: d_state 16
      fast_hidden=100, fast_nonlinear="none",
      lstm_hidden=100,      # LSTM hypernet (metaquant_lstm, fsg_lstm): the code's -hidden 100
      fast_lr=1e-2, slow_lr=1e-3,
      metaquant_lr=1e-3,    # MetaQuant's fast net (official MultiFC meta-optimizer: Adam 1e-3)
      chunk=1024,           # selective-scan chunk length
      lookahead=True,       # False: no look-ahead (hypernetworks get no signal; tests only)
      update_grad="stale",  # 'stale' (code: W's update uses g_q of step t-1) or 'current'
      update_uses="fast",   # documented by the method name fsg_combined
  )
  c.eval.batch_size = 1000
  c.eval.bn_recalibrate = 1024  # BN stats of Q(W) recomputed on 1024 train images before each eval
  # Also score the model at each epoch's end on the whole (unaugmented) training set: the
  # literal reading of the gate's 'training loss after epoch 1' (costs one more eval pass).
  c.eval.train_set = False

  return finalize(c, arg, smoke=smoke_variant)


def smoke_variant(c):
  """A run of seconds: 512 images, a 4/8/8 net, tiny hypernetworks, 8 + 6 steps."""
  c.num_seeds = 1
  c.data.source = "local"
  c.data.train_limit = 512
  c.data.test_limit = 256
  c.data.batch_size = 64
  c.model.widths = (4, 8, 8)
  c.model.stem = 4
  c.pretrain.epochs = 0.0
  c.pretrain.num_steps = 8
  c.train.num_epochs = 0.0
  c.train.num_steps = 6
  c.train.log_every = 2
  c.train.progress = False
  c.fsg.expand = 4
  c.fsg.d_state = 4
  c.fsg.fast_hidden = 8
  c.fsg.lstm_hidden = 8
  c.eval.batch_size = 256
  c.eval.bn_recalibrate = 128
