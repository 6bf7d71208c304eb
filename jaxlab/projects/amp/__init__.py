"""AMP — Adaptive MLP Pruning for Large Vision Transformers (Chengchao Shen, arXiv:2603.08100).

Idea: in large ViTs the MLPs hold most parameters. AMP removes MLP hidden neurons, scoring each
by the first-order Taylor estimate |a * dE/da| where E is a label-free criterion: the entropy of
the model's own prediction (for image-only encoders, the softmax over cosine similarities to the
other images of the batch). Per layer, the neurons are ranked and a binary search (last block
first, T = 6 steps) finds the fewest neurons that keep the validation entropy within a tolerance
delta of the previous step, so redundant layers lose more. A short feature distillation from the
unpruned model (MSE on the class and patch tokens, no labels) recovers the accuracy.

Layout: `model.py` (backbone loading, masked/sliced/tail forwards), `method.py` (scores, search,
the comparison run), `distill.py` (recovery), `train.py` (`train_and_evaluate`). The shared
pruning machinery is `jaxlab.ops.pruning`.

Deviations from the paper:
- Mini scale: a 6-block ViT (D=96, H=384, patch 7; the spec's D=128, H=512 scaled by 3/4)
  trained here on Fashion-MNIST replaces OpenCLIP/EVA/DINOv2; accuracy of the classifier replaces
  zero-shot/kNN metrics.
- Both entropy forms are implemented. The primary (`ent_cls`, scores and search) is the entropy of
  the classifier's class softmax, the model's own prediction distribution; the image-only
  batch-similarity entropy (`ent_sim`, post-norm class token, s = 15, diagonal kept) that the paper
  uses for CLIP-style encoders is scored beside it (`:sim` also searches on it; on this classifier
  that entropy falls as neurons are removed and the one-sided search collapses).
- Single device, no gather of features across ranks (the official code gathers with gradient).
- Distillation targets are the last block's output tokens (pre final norm), captured from the
  model; the final norm and head are frozen (equivalent to copying the teacher's back).
- Distillation: 2 epochs of 58k Fashion-MNIST images, batch 128, AdamW 1e-4 (betas 0.9/0.95),
  cosine lr and cosine wd 0.04 -> 0.2, no augmentation (the paper: RandomResizedCrop + flip on
  ImageNet), fp32 (the paper: pure bf16 with Kahan-summed AdamW).
- The search evaluates only blocks l..L-1 from cached inputs of block l (exact: the earlier
  blocks are unpruned during that step), an efficiency device, not a change of the algorithm.
- Gradient checkpointing, bf16 and DDP are not used (CPU).
"""
