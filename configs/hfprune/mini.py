"""HFPrune mini reproduction (spec hfprune.md section 6): prune the SwiGLU MLPs of the char-level
LLaMA-style LM by entropy-Taylor vs CE-Taylor vs magnitude vs Wanda-style vs random scores.

  python scripts/train.py --config=configs/baselines/shakespeare_llama.py \
      --workdir=/work/workdirs/backbones/shakespeare_llama          # the backbone, once
  python scripts/train.py --config=configs/hfprune/mini.py --workdir=/work/workdirs/hfprune/mini

One run produces the whole comparison table (results.json): 3 calibration seeds x 5 criteria x
MLP keep ratios {0.75, 0.5}, uniform per-layer top-k (the official code) and cross-layer global
top-k (entropy and CE) at the same budget; 64 random train windows of 128 characters per seed;
a fixed val set of 200 contiguous windows; then 300 steps of recovery fine-tuning (full, lr 5e-4;
LoRA r=8, alpha 16, lr 2e-3 on q,k,v,o,gate,up,down) of the entropy-Taylor models of seed 0.
Windows are 128 characters (the backbone's training context), not the spec's 256.
`:smoke` trains a tiny backbone itself and runs in seconds.
"""

import ml_collections

from jaxlab.configs import base_config, finalize


def get_config(arg=None):
  c = base_config("hfprune")
  c.seed = 42
  c.data.name = "tinyshakespeare"
  c.data.seq_len = 128
  c.backbone = ml_collections.ConfigDict(dict(
      workdir="/work/workdirs/backbones/shakespeare_llama",
      train_steps=0, lr=3e-3, batch_size=16))  # train_steps/lr/batch: only when workdir is ""
  c.model.name = "llama"
  c.model.variant = "char_small"  # used only when the backbone is trained here
  c.model.kwargs = {}
  c.prune = ml_collections.ConfigDict(dict(
      criteria=("entropy", "ce", "magnitude", "wanda", "random"),
      keep_ratios=(0.75, 0.5),
      global_criteria=("entropy", "ce"),
      target_ratios=(),  # fractions of ALL parameters to remove; widths solved (adds keeps)
      calib_seeds=(0, 1, 2),
      calib_windows=64, calib_batch=16))
  c.recovery = ml_collections.ConfigDict(dict(
      criteria=("entropy",), keep_ratios=(0.75, 0.5), modes=("full", "lora"),
      steps=300, batch_size=16, full_lr=5e-4, full_wd=0.0, lora_lr=2e-3, lora_rank=8,
      lora_alpha=16.0))
  c.eval.num_windows = 200
  c.eval.batch_size = 50
  c.gates = ml_collections.ConfigDict(dict(
      kl_ratio=1.02, loss_margin=0.01, weak_keep=0.5, vs_random=0.3, vs_magnitude=0.1,
      recovery_keeps=(0.75, 0.5), recovery_limits=(0.03, 0.08),
      eff_keeps=(0.75, 0.5), eff_limits=((0.15, 0.15), (0.30, 0.30))))
  c.train.progress = True
  return finalize(c, arg, smoke=smoke_overrides)


def smoke_overrides(c):
  c.backbone.workdir = ""
  c.backbone.train_steps = 30
  c.backbone.batch_size = 8
  c.model.variant = "tiny"
  c.data.seq_len = 32
  c.prune.calib_seeds = (0,)
  c.prune.calib_windows = 8
  c.prune.calib_batch = 4
  c.recovery.steps = 3
  c.recovery.batch_size = 4
  c.eval.num_windows = 16
  c.eval.batch_size = 8
  c.train.progress = False
