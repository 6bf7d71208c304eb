"""Pre-LN ViT (patch 7, D=96, depth 6, GELU MLP H=384) on Fashion-MNIST: the pruning backbone.

  python scripts/train.py --config=configs/baselines/fmnist_vit.py \
      --workdir=/work/workdirs/backbones/fmnist_vit

The backbone that AMP, DGMR (and HFPrune's vision checks) prune, loaded with
`jaxlab.train.load_params(workdir)`. It trains on the first 58,000 training images only: the last
2,000 (`train[58000:]`) are the held-out validation split the pruning searches run on, so no
pruning decision ever looks at the test set or at images the backbone was trained on.

AdamW lr 1e-3 warmup-cosine, wd 0.05, batch 256, 10 epochs (spec amp.md §6), no augmentation, no
label smoothing (label smoothing would change the output entropy AMP's criterion measures).
Measured (seed 0, 2,260 steps, 1,239 s on one core of a 2-core CPU): 88.07% test accuracy, train
loss 0.113. `:smoke` runs 10 steps of the tiny ViT in seconds.
"""

from jaxlab.configs import base_config, finalize


def get_config(arg=None, *, variant="mnist"):
  c = base_config("baselines", task="image_classification")
  c.data.name = "fashion_mnist"
  c.data.batch_size = 256
  c.data.augment = "none"
  c.data.train_limit = 58000  # train[58000:] is the pruning validation split
  c.data.test_limit = 0
  c.model.name = "vit"
  c.model.variant = variant
  c.model.kwargs = {}
  c.optim.name = "adamw"
  c.optim.lr = 1e-3
  c.optim.wd = 0.05
  c.optim.schedule = "warmup_cosine"
  c.optim.warmup_steps = 200
  c.optim.grad_clip = 1.0
  c.optim.label_smoothing = 0.0
  c.optim.ema_decay = 0.0
  c.train.num_epochs = 10
  c.train.log_every = 50
  c.train.eval_every = 1130
  c.train.ckpt_every = 226

  def smoke(c):
    c.model.variant = "tiny_swiglu" if "swiglu" in variant else "tiny"
    c.model.kwargs = dict(patch_size=7)
    c.data.train_limit = 512
    c.data.test_limit = 200
    c.data.batch_size = 64
    c.train.num_epochs = 0
    c.train.num_steps = 10
    c.train.log_every = 5
    c.train.eval_every = 0
    c.train.ckpt_every = 10
    c.train.progress = False
    c.optim.warmup_steps = 2
  return finalize(c, arg, smoke=smoke)
