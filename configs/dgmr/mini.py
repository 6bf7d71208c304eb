"""DGMR mini reproduction: prune the Fashion-MNIST ViT backbone's MLPs to m*D neurons and recover by
label-free distillation; GS vs L2 vs random vs entropy-Taylor vs scratch, one seed per run.

  python scripts/train.py --config=configs/dgmr/mini.py --workdir=/work/workdirs/dgmr/mini_s0
  python scripts/prune.py --method=dgmr --config=configs/dgmr/mini.py \
      --workdir=/work/workdirs/dgmr/mini --results=results/dgmr/mini.json   # the whole table

Backbone: `configs/baselines/fmnist_vit.py` (patch 7, D=96, depth 6, H=384 GELU), trained into
`teacher.workdir`; the SwiGLU backbone with `teacher.workdir=/work/workdirs/backbones/fmnist_vit_swiglu`.
Distillation images are the backbone's 58,000 training images, labels unused; accuracy is on the
10,000 test images. AdamW (0.9, 0.95) lr 5e-4 with 5% warm-up and cosine decay, wd 0.04, batch 128.
Every seed runs budgets {30, 150} at m in {1, 0.5}; seed 0 adds 600 steps at m=1 and 3 epochs
(1,359 steps) of GS at m=1 (the recovery gate). Measured on one core: the whole config 2,360 s
(seed 0 with the 600-step and 3-epoch runs 1,413 s; seeds 1 and 2 about 470 s each).
`:smoke` trains a tiny teacher itself (~20 s of CPU).
"""

import ml_collections

from jaxlab.configs import base_config, finalize


def get_config(arg=None):
  c = base_config("dgmr")
  c.seeds = (0, 1, 2)  # scripts/prune.py --method=dgmr runs them all (comparison.run_comparison)
  c.data.name = "fashion_mnist"
  c.data.batch_size = 128
  c.data.train_limit = 58000  # the backbone's training images; train[58000:] stays held out
  c.data.test_limit = 0
  c.data.image_size = 28
  c.data.channels = 1
  c.teacher = ml_collections.ConfigDict(dict(
      workdir="/work/workdirs/backbones/fmnist_vit",
      train_steps=0, lr=3e-3))  # train_steps/lr: only when workdir is "" (smoke, tests)
  c.model.name = "vit"
  c.model.variant = "mnist"  # used only when the teacher is trained here; else read from its run
  c.model.kwargs = {}
  c.prune = ml_collections.ConfigDict(dict(
      mlp_ratios=(1.0, 0.5),  # hidden = floor(m * D), relative to D as in the paper
      methods=("gs", "l2", "random", "taylor"),
      random_seeds=2,
      taylor_calib=5000, taylor_batch=250))
  c.distill = ml_collections.ConfigDict(dict(
      budgets=(30, 150),
      extra_budgets=(600,), extra_seeds=(0,), extra_ratios=(1.0,),
      full_epochs=3, full_seeds=(0,), full_ratios=(1.0,), full_methods=("gs",),
      cls_coef=1.0, feat_coef=1.0, save_student=True,
      optim=ml_collections.ConfigDict(dict(
          lr=5e-4, min_lr=0.0, warmup_frac=0.05, wd=0.04, wd_end=0.04, b1=0.9, b2=0.95,
          grad_clip=0.0)),
  ))
  c.scratch = ml_collections.ConfigDict(dict(enabled=True))
  c.eval.batch_size = 1000
  c.train.progress = True

  def smoke(c):
    c.data.train_limit = 512
    c.data.test_limit = 200
    c.data.batch_size = 64
    c.teacher.workdir = ""
    c.teacher.train_steps = 40
    c.model.variant = "tiny"
    c.model.kwargs = dict(patch_size=7)
    c.prune.mlp_ratios = (1.0,)
    c.prune.random_seeds = 1
    c.prune.taylor_calib = 256
    c.prune.taylor_batch = 128
    c.distill.budgets = (5,)
    c.distill.extra_budgets = ()
    c.distill.full_epochs = 0
    c.distill.save_student = False
    c.eval.batch_size = 100
    c.seeds = (0,)
    c.train.progress = False
  return finalize(c, arg, smoke=smoke)
