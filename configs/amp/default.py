"""AMP at paper scale (reference only; not runnable offline): OpenCLIP ViT-g/14 vision tower.

Official config (spec §4): IN-1k images for calibration and validation, batch 128, temp_inv 15,
delta (loss_inc_thresh) 1e-2, T = 6, use_abs; distillation 5 epochs, AdamW (0.9, 0.95), base lr
2e-5 * batch/256, warm-up 1 epoch, wd cosine 0.04 -> 0.2. Needs a ViT-g checkpoint imported with
`jaxlab.nn.weights` (CLIP vision layout) and an ImageNet pipeline, neither of which exists here;
the mini config is the reproduction. Kept so the hyper-parameters live in one vocabulary.
"""

import importlib.util
import pathlib

from jaxlab.configs import base_config, finalize


def get_config(arg=None):
  c = base_config("amp")
  c.backbone = dict(workdir="", config="", config_arg="", train_if_missing=False)
  c.data.name = "imagenet2012"
  c.data.val_start = 0
  c.data.val_size = 50000
  c.data.calib_size = 1281167
  c.data.test_limit = 0
  c.prune = dict(criteria=("ent_sim", "ce", "magnitude", "random"), primary="ent_sim",
                 search_criterion="ent_sim", temp_inv=15.0, score_mode="sample_abs",
                 score_batch=128, val_batch=128, deltas=(1e-2,), steps=6, acc_tol=1.0,
                 uniform_keeps=(0.6,))
  c.distill = dict(epochs=5, num_steps=0, batch_size=64 * 8, lr=2e-5 * 512 / 256,
                   end_lr_factor=1e-7 / 4e-5, warmup_frac=0.2, wd=0.04, wd_end=0.2,
                   grad_clip=0.0, cls_coef=1.0, patch_coef=1.0)
  c.eval.batch_size = 1000

  def smoke(c):
    # The paper-scale setting cannot run offline; `:smoke` is the mini config's smoke run
    # (fake data, a tiny backbone trained on the fly) so the file is still exercised end to end.
    spec = importlib.util.spec_from_file_location(
        "_amp_mini_config", pathlib.Path(__file__).with_name("mini.py"))
    mini = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mini)
    c.update(mini.get_config("smoke"))
  return finalize(c, arg, smoke=smoke)
