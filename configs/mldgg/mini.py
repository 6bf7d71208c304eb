"""MLDGG (Tian et al., KDD 2025, arXiv 2411.12913) mini reproduction on a 2-core CPU.

  python scripts/train.py --config=configs/mldgg/mini.py --workdir=/work/workdirs/mldgg/mini
  python scripts/train.py --config=configs/mldgg/mini.py:smoke --workdir=/tmp/mldgg_smoke

Settings: Cora -> CiteSeer, CiteSeer -> Cora (single source) and Cora split into 4
covariate-shift domains (held-out rotation); 20 labels per class on the target; every method
and ablation of jaxlab/projects/mldgg/train.py in one run, seeds vmapped. Features: per-graph
truncated SVD to 128 dims (skew-signed, globally scaled); one input layer shared over that
common space (model.input_layer="per_space" for one per feature space) and per-label-space
heads. Scale: hidden 32, 128 pivots, 80 first-order meta-steps with 1 inner step, 80
Adam fine-tuning steps at lr 0.005 for every method (the table in the README is this config exactly).
See jaxlab/projects/mldgg/README.md for the measured table and wall time.
"""

from jaxlab.configs import base_config, finalize


def smoke(c):
  """Seconds-long variant for tests and the notebook (one setting, 2 seeds, few steps)."""
  c.num_seeds = 2
  c.settings = ("citeseer->cora",)
  c.model.num_pivots = 32
  c.model.hidden = 16
  c.model.enc_hidden = 16
  c.model.d_s = c.model.d_v = 8
  c.data.svd_dim = 32
  c.train.meta_steps = 3
  c.train.ft_steps = 5
  c.train.inner_steps = 1
  c.efficiency.num_nodes = 512


def get_config(arg=None):
  c = base_config("mldgg")
  c.num_seeds = 5
  c.rng_impl = "unsafe_rbg"  # threefry compiles slowly on CPU
  c.settings = ("cora->citeseer", "citeseer->cora", "cora_domains")
  c.methods = ("scratch", "erm_ft", "maml_gcn", "glow_ft", "mldgg_no_maml", "mldgg_no_sl",
               "mldgg_no_sv", "mldgg")
  c.data.name = "cora+citeseer"
  c.data.reduce = "svd"  # or "zero_pad" (then set zero_pad_width >= 3703)
  c.data.zero_pad_width = 0
  c.data.svd_dim = 128
  c.data.svd_seed = 0
  c.data.svd_scale = "global"  # or "column" (per-component standardisation: -4 to -6 points)
  c.data.svd_sign = "skew"  # or "none"
  c.data.num_domains = 4
  c.data.domain_split = "quantile"
  c.data.held_out = ()  # () -> every domain in turn
  c.data.shots = 20
  c.data.pad_multiple = 256
  c.data.num_classes_pad = 7
  c.data.fake_num_nodes = 300
  c.model.name = "mldgg"
  c.model.hidden = 32
  c.model.num_pivots = 128
  c.model.num_heads = 4
  c.model.graph_skip_conn = 0.8
  c.model.temperature = 0.5
  c.model.pivot_top_k = 0  # > 0: keep each node's top-k pivots
  c.model.alpha = 1.0
  c.model.beta = 0.1
  c.model.gamma = 0.01
  c.model.d_s = 16
  c.model.d_v = 16
  c.model.enc_hidden = 32
  c.model.dropout = 0.5
  c.model.enc_dropout = 0.0  # dropout on the representation learner's encoder (input and hidden)
  c.model.w_ce = 1.0
  c.model.w_rec = 1.0
  c.model.w_kl = 0.01
  c.model.logvar_init = -5.0
  c.model.ce_sample = False
  c.model.kl_warmup = 0.0
  c.model.input_layer = "shared"  # or "per_space"
  c.train.meta_steps = 80
  c.train.outer_lr = 5e-3
  c.train.inner_lr = 0.05
  c.train.inner_steps = 1
  c.train.first_order = True
  c.train.inner_clip = 1.0  # clip each inner-step gradient to this global norm (0: off)
  c.train.sup_frac = 0.2
  c.train.ft_steps = 80
  c.train.ft_lr = 0.005  # every method; 0.02 cost the representation learner 6 points (README)
  c.train.wd = 5e-4
  c.train.target_prior = "fresh"  # or "source_mean": the new domain's prior = mean of the source priors
  c.efficiency = dict(enabled=True, num_nodes=5000)
  c.gates = dict(ordering_min_settings=2, over_scratch=2.0)
  return finalize(c, arg, smoke=smoke)
