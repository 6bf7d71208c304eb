"""Mecoin losses: seen-class masking, label-smoothed CE and the GKIM symmetric distillation.

All functions take per-node logits `[n, Y]`, a validity mask `[n]` (padding rows excluded) and
`seen [Y]` (classes not seen yet get a logit of -1e9: their probability is exactly 0 and no
gradient reaches them). Losses are means over valid rows.
"""

import jax
import jax.numpy as jnp

NEG = -1e9


def mask_logits(logits, seen):
  return jnp.where(seen[None, :], logits, NEG)


def _mean(x, mask):
  m = mask.astype(x.dtype)
  return jnp.sum(x * m) / jnp.maximum(m.sum(), 1.)


def smoothed_ce(logits, labels, mask, seen, smoothing=0.0):
  """Cross-entropy with label smoothing spread over the seen classes only."""
  logp = jax.nn.log_softmax(mask_logits(logits, seen), -1)
  onehot = jax.nn.one_hot(labels, logits.shape[-1])
  uniform = seen.astype(logp.dtype) / jnp.maximum(seen.sum(), 1)
  target = (1 - smoothing) * onehot + smoothing * uniform[None]
  return _mean(-jnp.sum(target * jnp.where(seen[None], logp, 0.), -1), mask)


def kl(p_logits, q_logits, seen):
  """Per-row KL(softmax(p) || softmax(q)) over the seen classes, `[n]`; both sides differentiable."""
  lp = jax.nn.log_softmax(mask_logits(p_logits, seen), -1)
  lq = jax.nn.log_softmax(mask_logits(q_logits, seen), -1)
  return jnp.sum(jnp.where(seen[None], jnp.exp(lp) * (lp - lq), 0.), -1)


def gkim_loss(memory_logits, mlp_logits, labels, mask, seen, smoothing=0.1):
  """`0.5 KL(h||o) + 0.5 KL(o||h) + CE_ls(h, y)` (spec 3.5). Returns (loss, metrics)."""
  kl_ho = _mean(kl(mlp_logits, memory_logits, seen), mask)
  kl_oh = _mean(kl(memory_logits, mlp_logits, seen), mask)
  ce = smoothed_ce(mlp_logits, labels, mask, seen, smoothing)
  return 0.5 * kl_ho + 0.5 * kl_oh + ce, {"kl_ho": kl_ho, "kl_oh": kl_oh, "ce": ce}


def accuracy(logits, labels, mask, seen):
  """Fraction of valid rows whose arg-max over the seen classes is the label."""
  pred = jnp.argmax(mask_logits(logits, seen), -1)
  return _mean((pred == labels).astype(jnp.float32), mask)


def balanced_accuracy(logits, labels, mask, seen):
  """Mean per-class recall over the seen classes that have valid rows.

  Model selection on the accumulated validation nodes with plain accuracy favours the base
  classes (they hold most of those nodes), so it picks steps that have not learnt the newest
  session's classes yet; the class-balanced score weighs every seen class equally."""
  pred = jnp.argmax(mask_logits(logits, seen), -1)
  onehot = jax.nn.one_hot(labels, logits.shape[-1]) * mask[:, None]
  n = onehot.sum(0)
  correct = (onehot * (pred == labels)[:, None]).sum(0)
  present = (n > 0) & seen
  recall = jnp.where(present, correct / jnp.maximum(n, 1.), 0.)
  return recall.sum() / jnp.maximum(present.sum(), 1)
