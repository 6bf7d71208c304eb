"""Small CNN on MNIST (baseline).

  python scripts/train.py --config=configs/baselines/mnist_cnn.py --workdir=workdirs/mnist_cnn

Expected: test accuracy >= 99.0% after 4 epochs (about 1,900 steps); a few minutes on a
2-core CPU. `:smoke` runs 20 steps on 1,024 images in seconds.
"""

from jaxlab.configs import base_config, finalize


def get_config(arg=None):
  c = base_config("baselines", task="image_classification")
  c.data.name = "mnist"
  c.data.batch_size = 128
  c.data.augment = "none"
  c.data.train_limit = 0
  c.data.test_limit = 0
  c.model.name = "simple_cnn"
  c.model.variant = "mnist"
  c.model.kwargs = {}
  c.optim.name = "adam"
  c.optim.lr = 2e-3
  c.optim.schedule = "cosine"
  c.optim.warmup_steps = 100
  c.optim.label_smoothing = 0.0
  c.optim.ema_decay = 0.0
  c.train.num_epochs = 4
  c.train.log_every = 100
  c.train.eval_every = 469
  c.train.ckpt_every = 500

  def smoke(c):
    c.data.train_limit = 1024
    c.data.test_limit = 500
    c.train.num_epochs = 0
    c.train.num_steps = 20
    c.train.log_every = 10
    c.train.eval_every = 0
    c.train.ckpt_every = 10
    c.train.progress = False
  return finalize(c, arg, smoke=smoke)
