"""HFPrune with the paper's recipe (spec hfprune.md sections 3-4) applied to the char LM backbone.

  python scripts/train.py --config=configs/hfprune/default.py --workdir=/work/workdirs/hfprune/default

Paper scale means the paper's settings, not its models (LLaMA-2-7B / Qwen2.5-7B and LaMini are out
of reach offline; real HF weights load with `jaxlab.nn.llama.load_hf`): seed 42, 1024 calibration
windows, uniform per-layer widths solved for 20% and 30% of ALL parameters removed
(`prune.target_ratios`, HFPrune's "pruning ratio"), entropy vs CE Taylor only, and LoRA recovery
with r 32, alpha 64, lr 4e-4, cosine, no warm-up (2 epochs of LaMini in the paper; here 600 steps
of tiny-shakespeare). Expected: ~30 min on a shared 2-core CPU.
"""

import importlib.util
import pathlib

from jaxlab.configs import finalize

_spec = importlib.util.spec_from_file_location("hfprune_mini",
                                               pathlib.Path(__file__).with_name("mini.py"))
_mini = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mini)


def get_config(arg=None):
  c = _mini.get_config()
  c.unlock()
  c.prune.calib_seeds = (42,)
  c.prune.calib_windows = 1024
  c.prune.criteria = ("entropy", "ce")
  c.prune.global_criteria = ()
  c.prune.keep_ratios = ()
  c.prune.target_ratios = (0.2, 0.3)
  c.recovery.modes = ("lora",)
  c.recovery.keep_ratios = ()  # every keep ratio (here: the two solved ones)
  c.recovery.steps = 600
  c.recovery.lora_rank = 32
  c.recovery.lora_alpha = 64.0
  c.recovery.lora_lr = 4e-4
  smoke = _mini.smoke_overrides
  return finalize(c, arg, smoke=smoke)
