"""AMP's recovery: label-free feature distillation of the sliced student from the unpruned teacher.

Loss (spec §3.5): `MSE(cls_s, cls_t) + MSE(patch_s, patch_t)` on the tokens before the final norm
(the papers replace the final norm and head by identity on both models). The final norm and head
are frozen, so they stay equal to the teacher's (the papers copy them back after training).
AdamW with betas (0.9, 0.95), a warm-up cosine learning rate and a cosine weight decay from
`wd` to `wd_end` (via `optax.inject_hyperparams`). No labels are read.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import optax
from flax import traverse_util

from jaxlab import data as jdata
from jaxlab.ops import pruning
from jaxlab.projects.amp import model as amp_model

FROZEN = ('encoder_norm', 'head')


def make_optimizer(dc, num_steps: int) -> optax.GradientTransformation:
  """AdamW(0.9, 0.95) with warm-up cosine lr and cosine wd; norm/head frozen, no decay on
  biases and norm scales."""
  warmup = int(dc.warmup_frac * num_steps)
  lr = optax.warmup_cosine_decay_schedule(0.0, dc.lr, max(warmup, 1), max(num_steps, warmup + 1),
                                          dc.lr * dc.end_lr_factor)
  wd = lambda step: dc.wd_end + (dc.wd - dc.wd_end) * 0.5 * (
      1 + jnp.cos(jnp.pi * jnp.minimum(step, num_steps) / max(num_steps, 1)))
  adamw = optax.inject_hyperparams(optax.adamw)(
      learning_rate=lr, b1=0.9, b2=0.95, weight_decay=wd,
      mask=lambda p: jax.tree.map(lambda x: x.ndim > 1, p))

  def label(params):
    flat = traverse_util.flatten_dict(params)
    return traverse_util.unflatten_dict(
        {k: ('frozen' if k[0] in FROZEN else 'train') for k in flat})
  tx = optax.multi_transform({'train': adamw, 'frozen': optax.set_to_zero()}, label)
  if dc.grad_clip:
    tx = optax.chain(optax.clip_by_global_norm(dc.grad_clip), tx)
  return tx


def distill(teacher: amp_model.Backbone, student: amp_model.Backbone, train_arrays: dict, config,
            workdir) -> tuple:
  """Distils `student` (sliced) from `teacher` on the training images; returns
  `(student_backbone, info)`."""
  dc = config.distill
  t0 = time.time()
  images = {'image': train_arrays['image'][:config.data.val_start]}  # never the val split
  steps_per_epoch = len(images['image']) // dc.batch_size
  num_steps = int(dc.num_steps or dc.epochs * steps_per_epoch)
  tx = make_optimizer(dc, num_steps)
  opt_state = tx.init(student.params)
  t_model, s_model = teacher.model, student.model

  @jax.jit
  def step(params, opt_state, batch):
    x = teacher.normalize(batch['image'])
    target = amp_model.prenorm_features(t_model, teacher.params, x)
    target = jax.lax.stop_gradient(target)

    def loss_fn(p):
      out = amp_model.prenorm_features(s_model, p, x)
      return pruning.token_mse_loss(out, target, dc.cls_coef, dc.patch_coef)

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  params = student.params
  it = jdata.batch_iterator(images, dc.batch_size, seed=config.seed + 7)
  bar = range(num_steps)
  if config.train.progress:
    from tqdm.auto import tqdm
    bar = tqdm(bar, desc='distill', leave=False)
  losses = []
  for s, batch in zip(bar, it):
    params, opt_state, loss = step(params, opt_state, batch)
    if s % max(1, num_steps // 20) == 0 or s == num_steps - 1:
      losses.append((s, float(loss)))
      if hasattr(bar, 'set_postfix'):
        bar.set_postfix(loss=f'{losses[-1][1]:.4f}')
  # The frozen norm and head are the teacher's by construction; copy them explicitly anyway.
  params = dict(params)
  for k in FROZEN:
    params[k] = teacher.params[k]
  info = {'num_steps': num_steps, 'epochs': num_steps / steps_per_epoch,
          'batch_size': dc.batch_size, 'loss_first': losses[0][1] if losses else None,
          'loss_last': losses[-1][1] if losses else None, 'losses': losses,
          'time_s': time.time() - t0}
  return student.with_params(params), info
