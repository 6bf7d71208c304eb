"""HFPrune: *High-Fidelity Pruning for Large Language Models* (Zhu, Wang, Shen), arXiv 2603.08083.

Idea: structured pruning of the SwiGLU MLP neurons of a LLaMA/Qwen-style LM by first-order Taylor
importance `sum_tokens |a * dE/da|`, where E is not the one-hot next-token cross-entropy (which
only looks at the probability of the true token) but the Shannon entropy of the model's own
next-token distribution; the score then measures how much removing a neuron perturbs the whole
predictive distribution, with no labels and no teacher. Neurons are removed by uniform per-layer
top-k (the official code), the gate/up rows and down columns are sliced physically, and a short
LoRA or full fine-tune recovers quality.

Modules: `model.py` (backbone loading, analytic cost), `method.py` (criteria, scores, selection,
slicing, fidelity metrics, LoRA, recovery), `train.py` (the whole comparison in one run). The
backbone class is `jaxlab.nn.llama.LlamaLM`; the shared pruning machinery is `jaxlab.ops.pruning`.

Deviations from the paper:
- Scale: a 0.86M-parameter char LM (d 128, 4 layers, I 384) trained here on tiny-shakespeare for
  1000 steps of 16 x 128 characters instead of LLaMA-2-7B / Qwen2.5-7B; the spec's mini backbone
  has 6 layers and context 256 (cut to fit a shared 2-core CPU). Windows are 128 characters.
- Calibration: 64 random train windows per seed, 3 seeds (the official code uses every
  1024-token window of an unnamed local dataset, batch 1); batching is exact because the
  per-element |.| is taken before the sums.
- Importance is accumulated in float32 (the official code uses bf16, which loses increments).
- Keep ratios are MLP keep ratios {0.75, 0.5} (the paper reports 20% / 30% of all parameters;
  `prune.target_ratios` solves the width for that instead, used by configs/hfprune/default.py).
- Global cross-layer top-k is an option (the paper's "global" means the prediction distribution).
- Recovery: 300 steps on the backbone's own training text instead of 2 epochs of LaMini
  instructions; LoRA rank 8, alpha 16, lr 2e-3 (spec mini) instead of r 32 / alpha 64 / lr 4e-4;
  AdamW in float32 (not bf16 moments); no dropout in LoRA.
- Evaluation: val loss, fidelity KL(p_dense || p_pruned) and top-1 agreement on 200 fixed val
  windows, not the lm-eval zero-shot suite.
- Baselines "magnitude" (`||W_g[j]|| ||W_u[j]|| ||W_d[:,j]||`) and the Wanda-style neuron score
  (`||a_j||_2 ||W_d[:,j]||_2`) come from the spec's mini design; LLM-Pruner / SDMPrune /
  LoRAPrune are not reimplemented.
"""
