"""DGMR: Diversity-Guided MLP Reduction for Efficient Large Vision Transformers.

Chengchao Shen, Hourun Zhu, Gongfan Fang, Jianxin Wang, Xinchao Wang. arXiv:2506.08591 (2025).
Official code: github.com/visresearch/DGMR (PyTorch).

Most parameters of a large ViT sit in its MLPs. DGMR shrinks every MLP hidden layer to m*D neurons
(D = token width, m = 1 or 2) with a data-free, importance-free criterion: a greedy Gram-Schmidt
over the fc1 weight rows that repeatedly keeps the neuron with the largest residual norm and
projects its direction out of all the others (the pivot order of a column-pivoted QR of W1^T), in
rounds that restart from the original rows of the neurons left. The kept neurons are diverse
rather than individually important, which the paper argues makes the pruned model easier to
recover; recovery is plain feature distillation (MSE on the class and patch tokens before the
final norm) from the unpruned model on unlabeled images, after which the teacher's final norm and
head are copied back.

Modules: `method` (jitted GS round, k-round order, L2/random/Taylor baselines), `model` (slicing,
pre-norm features, parameter/FLOP counts), `losses` (distillation loss, optimiser, jitted steps),
`train` (the whole comparison for one seed), `comparison` (all seeds, table and gates; the
`scripts/prune.py --method=dgmr` plug-in).

Deviations from the paper:
- Backbone: a 6-block pre-LN ViT (D=96, H=384, patch 7) trained here on Fashion-MNIST, not
  EVA/OpenCLIP/DINOv2; distillation on the backbone's 58k training images, accuracy on the test
  set (the paper reports zero-shot/kNN on ImageNet variants).
- Recovery budgets are 30-600 steps and 3 epochs of batch 128 (paper: 10-20 ImageNet epochs), lr
  5e-4 with a 5% warm-up, constant wd 0.04 (paper: cosine 0.04 -> 0.2, kept in configs/dgmr/default.py),
  fp32 (paper: pure bf16 AnyPrecisionAdamW), no augmentation (paper: RandomResizedCrop + flip).
- SwiGLU (inferred; the spec only says "the same S from both halves"): GS runs on the
  concatenation [gate row, value row] of each neuron, so one round can pick up to 2D neurons.
- The random baseline samples without replacement (the official code samples with replacement).
- The 'taylor' baseline is AMP's entropy-Taylor score with E = the entropy of the class softmax
  (the official code loads Taylor importances from a file); scores from 5k training images.
- No EMA, no CLIP text-tower finetune (stage 3), no state-dict loaders for EVA/open_clip/DINOv2.
"""
