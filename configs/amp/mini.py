"""AMP mini-scale reproduction (spec §6): prune the Fashion-MNIST ViT's MLPs, compare criteria.

  python scripts/train.py --config=configs/baselines/fmnist_vit.py \
      --workdir=/work/workdirs/backbones/fmnist_vit            # the backbone, once
  python scripts/prune.py --method=amp --config=configs/amp/mini.py --workdir=/work/workdirs/amp/mini

One run: Taylor scores (entropy over batch similarities `ent_sim`, class-softmax entropy
`ent_cls`, one-hot `ce`), magnitude and random scores on 5,120 training images; AMP's binary
search (T=6, on the class-softmax entropy; `:sim` on the batch-similarity one) on the fixed
2,000-image validation split train[58000:60000] (batches of 250) for every delta of the sweep; every criterion at the AMP widths, at the same total spread uniformly,
and at 50/30/20% uniform keeps (test accuracy, no fine-tuning); the sliced model counted and
distilled for 2 epochs (MSE on cls + patch tokens, no labels). `seed=S` changes the calibration
subset and the random scores (the spec averages 3). `:cifar` runs the harder CIFAR-10-subset check
(training its backbone first when missing). `:swiglu` prunes the SwiGLU backbone instead.
`:smoke` trains a 10-step tiny backbone on fake data and runs every stage in under a minute.
"""

from jaxlab.configs import base_config, finalize


def get_config(arg=None):
  c = base_config("amp")
  c.backbone = dict(workdir="/work/workdirs/backbones/fmnist_vit",
                    config="configs/baselines/fmnist_vit.py", config_arg="",
                    train_if_missing=False)
  c.data.name = "fashion_mnist"
  c.data.val_start = 58000   # the backbone trained on train[:58000]
  c.data.val_size = 2000     # spec: a fixed 2,000-image validation split (8 batches of 250)
  c.data.calib_size = 5120
  c.data.test_limit = 0      # all 10,000 test images
  c.prune = dict(
      criteria=("ent_sim", "ent_cls", "ce", "magnitude", "random"),
      # AMP's criterion is the entropy of the model's own prediction distribution; this backbone
      # is a classifier, so that is its class softmax. The batch-similarity form (`ent_sim`) is
      # AMP's stand-in for image-only encoders, scored beside it (`:sim` searches on it).
      primary="ent_cls",
      search_criterion="ent_cls",
      temp_inv=15.0,
      score_mode="sample_abs",    # |sum_tokens a dE/da| per image, mean over the batch
      score_batch=128,
      val_batch=250,
      deltas=(5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2),  # spec sweep 5e-4 .. 5e-3, plus 1e-2
      steps=6,
      acc_tol=1.0,                # points of val accuracy for choosing delta
      uniform_keeps=(0.3, 0.5, 0.2),  # 0.3 (the gate) first
  )
  # The spec's recovery: 2 epochs over the backbone's 58k training images (906 steps of 128).
  c.distill = dict(epochs=2, num_steps=0, batch_size=128, lr=1e-4, end_lr_factor=0.01,
                   warmup_frac=0.05, wd=0.04, wd_end=0.2, grad_clip=1.0, cls_coef=1.0,
                   patch_coef=1.0)
  c.eval.batch_size = 1000
  c.train.progress = True

  def sim(c):
    c.prune.primary = "ent_sim"
    c.prune.search_criterion = "ent_sim"

  def cifar(c):
    # The harder check: the CIFAR-10 subset ViT (patch 4, D=128, depth 4, H=256; 65 tokens),
    # trained here on train[:3500] without label smoothing (it would change the output entropy)
    # when missing; train[3500:4000] is the validation split, the 1,000 test images the test set.
    c.backbone.workdir = "/work/workdirs/backbones/cifar10_vit_amp"
    c.backbone.config = "configs/baselines/cifar10_vit.py"
    c.backbone.config_arg = "data.train_limit=3500,optim.label_smoothing=0.0"
    c.backbone.train_if_missing = True
    c.data.name = "cifar10"
    c.data.val_start = 3500
    c.data.val_size = 500
    c.data.calib_size = 3500
    c.prune.val_batch = 250

  def swiglu(c):
    c.backbone.workdir = "/work/workdirs/backbones/fmnist_vit_swiglu"
    c.backbone.config = "configs/baselines/fmnist_vit_swiglu.py"

  def smoke(c):
    c.backbone.workdir = ""   # <workdir>/backbone, trained on the fly
    c.backbone.config_arg = "smoke,data.source=fake,data.train_limit=192"
    c.backbone.train_if_missing = True
    c.data.source = "fake"
    c.data.val_start = 192
    c.data.val_size = 64
    c.data.calib_size = 64
    c.data.test_limit = 64
    c.prune.score_batch = 32
    c.prune.val_batch = 32
    c.prune.deltas = (1e-3, 1e-1)
    c.prune.steps = 3
    c.prune.uniform_keeps = (0.3,)
    c.distill.epochs = 0
    c.distill.num_steps = 4
    c.distill.batch_size = 32
    c.eval.batch_size = 64
    c.train.progress = False
  return finalize(c, arg, smoke=smoke, variants={"swiglu": swiglu, "sim": sim, "cifar": cifar})
