"""Mecoin: "An Efficient Memory Module for Graph Few-Shot Class-Incremental Learning".

Dong Li, Aijia Zhang, Junqi Gao, Biqing Qi, NeurIPS 2024, arXiv:2411.06659 (official code:
Arvin0313/Mecoin-GFSCIL, PyTorch).

The idea. In graph few-shot class-incremental learning (GFSCIL) a GNN is trained on base classes,
then sessions of a few new classes with a few labelled nodes each arrive on the same graph, and
after every session all classes seen so far must be classified. Fine-tuning the GNN forgets the
old classes. Mecoin freezes the pretrained GNN and adds an external memory: a Structured Memory
Unit (SMU) caches prototype keys (per codebook, formed by EMA k-means over queries built from the
node embeddings), Memory Construction modules (MeCs) let node queries interact with the cached
prototypes before retrieval, a Memory Representation Adaptation Module (MRaM) stores a class-logit
vector per prototype, so learning a class means writing values instead of changing GNN weights,
and Graph Knowledge Interchange/Distillation (GKIM) distils symmetrically between the memory
read-out and an MLP classifier on the GNN embedding. Few parameters are tuned per session and
forgetting is low.

Files: `sessions.py` (disjoint per-class splits, session schedule, static padding),
`model.py` (GCN encoder, Mecoin memory, EMA k-means), `losses.py` (GKIM loss, masked CE),
`train.py` (`train_and_evaluate`: pretraining, baselines, Mecoin and its ablations in one run).

Deviations from the paper (the paper text was not readable; the algorithm follows the spec's
reconstruction from the abstract, Fig. 1 and the official code):
  * Data: Cora (3 base classes + 2 sessions of 2-way 5-shot) and CiteSeer (2 base + 2 sessions)
    instead of CoraFull / Amazon-Computers / Coauthor-CS (not in the offline data); h = 64,
    C = 16 codebooks x M = 64 keys, 300 memory epochs per session (spec section 6).
  * Splits are disjoint per class with an explicit seed (the official loader duplicates every id,
    so its test set contains the training shots); shots are random per seed, not the first ids.
    Base classes: 60/20/20 pretrain-train/val/test; session-0 memory shots are the first `shot`
    pretraining nodes. Novel classes: 5 shots, 10 % validation, and a "joint pool" (50 % of the
    class, shots included) used only by the full-data `joint` upper bound; test is the rest (40 %).
  * Retrieval: default `straight_through`: the forward pass reads the official top-1 key of
    every codebook, the backward pass takes the gradient of the soft read (softmax over keys of
    -d / (tau * mean d), tau = 0.1), so MeCs learn (the official top-1 lookup passes no gradient
    to them: the `mecoin_hard` ablation). A fully soft read (`mecoin_soft`, tau = 0.01, our
    previous default) collapsed on 1 of 5 Cora seeds (as did tau = 0.1); straight-through did
    not, at equal validation accuracy. The official decoder's x3 logit factor (a ones(3) weight
    broadcast over a size-1 top-k axis) is not reproduced.
  * Attention axes: by default MeCs is cross-attention from each node's query to the keys of the
    same codebook and the synapse attends over the node's own embedding only (paper semantics);
    `code_faithful_attention=True` (`mecoin_code`) restores the official axes (MeCs across
    codebooks, synapse across the nodes of the batch, masked).
  * The synapse block stays at its random initialisation in every session (`train_synapse=False`;
    in the official code it never receives gradient either); MeCs's final Linear starts at the
    identity. Keys are frozen after `prepare_steps` full-batch EMA k-means steps on the base
    pretraining nodes (the code's one pass in mini-batches). The k-means runs on the MeCs
    outputs, the vectors that retrieval compares with the keys, as the official EMA update does
    (it averages the post-attention `flatten`); the spec's pseudo-code writes `query(...)`, the
    pre-MeCs queries. Restarted dead keys get a grace count of twice the threshold and keep
    their restart point (until 2026-12-07 their EMA sum was not scaled by that count, so a
    restarted key moved to fresh / count on the next step).
  * Loss: the default adds label-smoothed CE on the memory logits to the spec's GKIM loss
    (symmetric KL + CE on the MLP head). With the spec's loss alone the memory stayed at the
    majority class in our calibration (the MLP head learns, the values do not); that loss is the
    `mecoin_gkim_only` ablation. Retrieval temperature tau, relative to the mean key distance:
    0.1 for the default straight-through read's backward pass, 0.01 for the fully soft
    `mecoin_soft` read (calibrated on one Cora seed).
  * Classes not seen yet are masked (logit -1e9) in both heads; label smoothing is spread over
    the seen classes only. The code leaves unseen classes at zero logits.
  * Pretraining: 200 epochs with the best-validation epoch kept (the code: up to 2000 epochs with
    patience 10 checks); the encoder's first layer multiplies the sparse features directly.
  * Model selection: like the code, every session keeps the step with the best score on the
    accumulated validation nodes, but the score is the class-balanced accuracy (mean per-class
    recall over the seen classes; `selection="balanced"`) for Mecoin and every baseline that
    selects. With the code's plain accuracy the base classes, which hold most validation nodes,
    decide, and the selected step had not learnt the newest classes (Cora, 5 seeds: Mecoin's
    accuracy on the last session's classes 1.9 %, `finetune_replay` 0.0 %).
    `selection="accuracy"` restores the code's rule; `mecoin_last` keeps the last step.
  * Each session uses a fresh Adam state (one optimiser over values, MeCs and the GKIM head,
    clip 1.0, lr 5e-3 at mini scale instead of two optimisers at 5e-4).
  * Fine-tuning reference: `finetune` trains the whole GNN on the current session's shots for a
    fixed budget and keeps the last step (the usual GFSCIL protocol; the paper's exact protocol
    could not be read); `finetune_valsel` keeps the step with the best accuracy on the
    accumulated validation nodes instead, which peeks at old-class labels and stops before
    forgetting. The spec's own `finetune` / `finetune_replay` are a linear head on the frozen
    encoder (our `finetune_head` / `finetune_head_replay`). All are reported, and `report.py`
    reads the gates against each of the three references.
  * Baselines beside Mecoin are ours (fine-tune / replay / head-only / NCM / joint); the paper's
    baselines (EWC, MAS, LwF, TWP, ER-GNN, Geometer, HAG-Meta) are not implemented.
"""
