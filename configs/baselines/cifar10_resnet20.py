"""ResNet-20 on the CIFAR-10 subset (4,000 train / 1,000 test), random crop + flip (baseline).

  python scripts/train.py --config=configs/baselines/cifar10_resnet20.py \
      --workdir=workdirs/cifar10_resnet20

SGD momentum 0.9, lr 0.1 cosine, weight decay 5e-4, batch 128 (He et al. 2016 recipe with a
cosine schedule). Expected: test accuracy >= 60%. `:smoke` runs 10 steps of the tiny variant.
"""

from jaxlab.configs import base_config, finalize


def get_config(arg=None):
  c = base_config("baselines", task="image_classification")
  c.data.name = "cifar10"
  c.data.batch_size = 128
  c.data.augment = "crop_flip"
  c.data.crop_padding = 4
  c.data.train_limit = 0
  c.data.test_limit = 0
  c.model.name = "resnet"
  c.model.variant = "resnet20"
  c.model.kwargs = {}
  c.optim.name = "nesterov"
  c.optim.lr = 0.1
  c.optim.momentum = 0.9
  c.optim.wd = 5e-4
  c.optim.schedule = "warmup_cosine"
  c.optim.warmup_steps = 150
  c.optim.label_smoothing = 0.0
  c.optim.ema_decay = 0.0
  c.train.num_epochs = 50
  c.train.log_every = 31
  c.train.eval_every = 310
  c.train.ckpt_every = 310

  def smoke(c):
    c.model.variant = "tiny"
    c.data.train_limit = 512
    c.data.test_limit = 200
    c.data.batch_size = 64
    c.train.num_epochs = 0
    c.train.num_steps = 10
    c.train.log_every = 5
    c.train.eval_every = 0
    c.train.ckpt_every = 0
    c.train.progress = False
    c.optim.warmup_steps = 2
  return finalize(c, arg, smoke=smoke)
