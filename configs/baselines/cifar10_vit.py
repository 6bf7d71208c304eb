"""A small ViT (patch 4) on the CIFAR-10 subset (4,000 / 1,000), crop + flip (baseline).

  python scripts/train.py --config=configs/baselines/cifar10_vit.py --workdir=workdirs/cifar10_vit

AdamW, lr 1e-3 warmup-cosine, weight decay 0.05, label smoothing 0.1. ViTs need far more data
than 4,000 images; this run is reported, not gated. `:smoke` runs 10 steps of the tiny variant.
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
  c.model.name = "vit"
  c.model.variant = "cifar_small"
  # Half the width and two-thirds the depth of cifar_small, sized for a 2-core CPU run.
  c.model.kwargs = dict(hidden_size=128, depth=4, num_heads=4, mlp_dim=256)
  c.optim.name = "adamw"
  c.optim.lr = 1e-3
  c.optim.wd = 0.05
  c.optim.schedule = "warmup_cosine"
  c.optim.warmup_steps = 300
  c.optim.grad_clip = 1.0
  c.optim.label_smoothing = 0.1
  c.optim.ema_decay = 0.0
  c.train.num_epochs = 30
  c.train.log_every = 31
  c.train.eval_every = 310
  c.train.ckpt_every = 310

  def smoke(c):
    c.model.variant = "tiny"
    c.model.kwargs = {}
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
