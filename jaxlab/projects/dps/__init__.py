"""DPS: "Learning Dynamic Preference Structure Embedding From Temporal Networks"
(Tongya Zheng, Zunlei Feng, Yu Wang, Chengchao Shen, Mingli Song, Xingen Wang, Xinyu Wang,
Chun Chen, Hao Xu; IEEE ICBK 2021; arXiv 2111.11886; official code
doujiang-zheng/Dynamic-Preference-Structure, derived from the TGAT reference code).

Idea. A TGAT-style temporal GNN embeds node u at time t by attending over a *sample* of its past
interactions. Uniform or most-recent sampling ignores that nodes have dynamic preferences: some
repeat recent partners, others return to semantically close ones. DPS first learns two
parameterised samplers with network-reconstruction (link prediction) objectives — the Time Decay
Sampler (per-node decay rate λ_u fitted by maximum likelihood of repeated interactions; samples
∝ exp(λ_u t̃)) and the Gumbel Attention Sampler (a 1-layer temporal attention pretrained on link
prediction, fine-tuned with Gumbel-softmax attention over the full past, frozen; samples the
top-scored past neighbours) — then trains a 2-layer TGAT in which every layer aggregates the two
sampled neighbourhoods with separate attention modules and fuses them with an attention layer
over samplers. Temporal link prediction with BCE on sampled negatives.

Modules: `model` (time encoding, temporal attention, fusion, the recursive encoder, link
scorer), `samplers` (neighbour finder, TDS fit + cache, GAS cache), `metrics` (AUC, AP),
`train` (GAS pretrain / Gumbel fine-tune, all methods and baselines, EdgeBank, gates:
`train_and_evaluate(config, workdir)`).

Deviations from the paper (details in the module docstrings and README):
  * The paper's result tables were not readable; the algorithm follows the official code
    (spec /work/shared/specs/dps.md). None of the paper's datasets is available offline: the
    mini reproduction uses SNAP CollegeMsg (first 20,000 messages in mini).
  * Mini scale: node_dim = time_dim = 32, K = 10 (5 + 5), ≤ 6 epochs with patience 3, lr 1e-3,
    GAS pretrained 1 epoch without early stopping (paper: 128/128, K = 20, ≤ 50 epochs with
    patience 3, lr 1e-4). `gas.pretrain_early_stop=True` (default.py) is the official GAS
    recipe; at mini scale it measured no gain (README).
  * TDS λ: exact bisection on the monotone derivative instead of cvxpy/ECOS (same optimum);
    nodes with no repeated interaction get λ = 0.
  * GAS fine-tuning: padded histories capped at the most recent `gas.max_history` events and
    batched with vmap (mean loss, Adam) instead of per-event gradient accumulation; caches
    score candidates among the most recent `max_history` events, at the time of u's r-th event.
  * No edge features (d_e = 0); rows with no valid neighbour give a zero attention output
    instead of uniform attention over padding (flag `model.mask_mode="official"`).
  * Metrics: ROC-AUC and AP on scores (the official code's AP is on thresholded labels).
  * Validation/test negatives: one uniform random node per event, fixed seed.
"""
