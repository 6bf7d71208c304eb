"""DGMR recovery: label-free feature distillation (MSE on the class and patch tokens before the
final norm), its optimiser, and the jitted steps, one student or a stack of equally shaped students
(all selection criteria at one size) sharing one teacher forward per batch.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from jaxlab import ops
from jaxlab.ops import pruning
from jaxlab.projects.dgmr import model as dmodel


def distill_loss(s_cls, s_patch, t_cls, t_patch, cls_coef: float = 1.0,
                 feat_coef: float = 1.0) -> jax.Array:
  """`cls_coef * MSE(cls) + feat_coef * MSE(patches)` (means over all elements; teacher side
  under stop_gradient): `jaxlab.ops.pruning.token_mse_loss` on pre-norm tokens."""
  if s_cls.shape != t_cls.shape or s_patch.shape != t_patch.shape:
    raise ValueError(f"student/teacher feature shapes differ: {s_cls.shape}/{t_cls.shape}, "
                     f"{s_patch.shape}/{t_patch.shape}")
  return pruning.token_mse_loss({"cls": s_cls, "patch_tokens": s_patch},
                                {"cls": t_cls, "patch_tokens": t_patch}, cls_coef, feat_coef)


def _decay_mask(params):
  return jax.tree.map(lambda x: x.ndim > 1, params)


class Schedules:
  """Host-side lr and weight-decay schedules over `num_steps` (warm-up + cosine; cosine wd).

  They are evaluated on the host and passed to the jitted step as traced scalars, so one compiled
  step serves every step budget (a new budget is a new schedule, not a new program).
  """

  def __init__(self, optim, num_steps: int):
    self.n = max(int(num_steps), 1)
    self.warmup = min(int(round(optim.warmup_frac * self.n)), self.n - 1)
    self.lr0, self.min_lr = float(optim.lr), float(optim.min_lr)
    self.wd0, self.wd1 = float(optim.wd), float(optim.wd_end)

  def lr(self, step: int) -> float:
    if step < self.warmup:
      return self.lr0 * (step + 1) / (self.warmup + 1)
    t = (step - self.warmup) / max(self.n - self.warmup, 1)
    return self.min_lr + (self.lr0 - self.min_lr) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

  def wd(self, step: int) -> float:
    t = min(step / self.n, 1.0)
    return self.wd1 + (self.wd0 - self.wd1) * 0.5 * (1 + math.cos(math.pi * t))


def make_optimizer(optim) -> optax.GradientTransformation:
  """The Adam moment part of AdamW(b1, b2) (plus optional clipping); the step applies
  `-lr * (adam + wd * param)` itself with the traced lr/wd of `Schedules`."""
  tx = optax.scale_by_adam(b1=optim.b1, b2=optim.b2, eps=1e-8)
  if optim.get("grad_clip", 0.0):
    tx = optax.chain(optax.clip_by_global_norm(optim.grad_clip), tx)
  return tx


def adamw_apply(tx, grads, opt_state, params, lr, wd, freeze=dmodel.FROZEN):
  """Decoupled AdamW update with traced `lr`, `wd`; top-level groups in `freeze` stay fixed."""
  updates, opt_state = tx.update(grads, opt_state, params)
  mask = _decay_mask(params)
  updates = jax.tree.map(lambda u, p, m: -lr * (u + wd * p * m), updates, params, mask)
  updates = {k: (jax.tree.map(jnp.zeros_like, v) if k in freeze else v)
             for k, v in updates.items()}
  return optax.apply_updates(params, updates), opt_state


def _student_update(student, tx, cls_coef, feat_coef):
  """`(params, opt_state, x, t_cls, t_patch, lr, wd) -> (params, opt_state, loss)`: one student's
  distillation update on normalised images `x` against the teacher's features."""

  def one(params, opt_state, x, t_cls, t_patch, lr, wd):
    def loss_fn(p):
      s_cls, s_patch = dmodel.prenorm_features(student, p, x)
      return distill_loss(s_cls, s_patch, t_cls, t_patch, cls_coef, feat_coef)
    loss, grads = jax.value_and_grad(loss_fn)(params)
    params, opt_state = adamw_apply(tx, grads, opt_state, params, lr, wd)
    return params, opt_state, loss

  return one


def make_distill_step(teacher, student, tx, mean, std, *, cls_coef=1.0, feat_coef=1.0,
                      stacked: bool = True):
  """Jitted `step(params, opt_state, teacher_params, images, lr, wd) -> (params, opt_state, loss)`.

  With `stacked=True` `params`/`opt_state` carry a leading axis of students (vmapped) and the
  teacher's features are computed once per batch; `loss` is then `[S]`. Images `[B, H, W, C]`
  (uint8 or float) are normalised inside the step with the backbone's statistics. The head and
  final norm (`model.FROZEN`) are not updated.
  """
  one = _student_update(student, tx, cls_coef, feat_coef)

  def step(params, opt_state, teacher_params, images, lr, wd):
    x = ops.normalize(images, mean, std)
    t_cls, t_patch = jax.lax.stop_gradient(dmodel.prenorm_features(teacher, teacher_params, x))
    if stacked:
      return jax.vmap(one, in_axes=(0, 0, None, None, None, None, None))(
          params, opt_state, x, t_cls, t_patch, lr, wd)
    return one(params, opt_state, x, t_cls, t_patch, lr, wd)

  return jax.jit(step, donate_argnums=(0, 1))


def make_teacher_features(teacher, mean, std):
  """Jitted `(teacher_params, images) -> (cls, patches)`: the distillation targets of a batch."""

  def fn(teacher_params, images):
    return dmodel.prenorm_features(teacher, teacher_params, ops.normalize(images, mean, std))

  return jax.jit(fn)


def make_student_step(student, tx, mean, std, *, cls_coef=1.0, feat_coef=1.0):
  """Jitted `step(params, opt_state, images, t_cls, t_patch, lr, wd) -> (params, opt_state,
  loss)`: one student's distillation update against precomputed teacher features.

  The comparison runs every criterion's student on the same batch with this one compiled step
  (a host loop over the few arms, the teacher forward done once per batch). Vmapping the arms
  instead turns the patch-embedding convolution into a grouped convolution whose gradient is
  very slow on XLA:CPU.
  """

  one = _student_update(student, tx, cls_coef, feat_coef)

  def step(params, opt_state, images, t_cls, t_patch, lr, wd):
    return one(params, opt_state, ops.normalize(images, mean, std), t_cls, t_patch, lr, wd)

  return jax.jit(step, donate_argnums=(0, 1))


def make_scratch_step(student, tx, mean, std, num_classes: int):
  """Jitted supervised step (cross-entropy with labels) of the from-scratch baseline:
  `step(params, opt_state, images, labels, lr, wd)`; every parameter is trained."""

  def step(params, opt_state, images, labels, lr, wd):
    x = ops.normalize(images, mean, std)

    def loss_fn(p):
      logits = student.apply({"params": p}, x, train=False)["logits"]
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    params, opt_state = adamw_apply(tx, grads, opt_state, params, lr, wd, freeze=())
    return params, opt_state, loss

  return jax.jit(step, donate_argnums=(0, 1))


def make_eval_fn(model, mean, std, *, stacked: bool):
  """Jitted `(params, images, labels, mask) -> correct count` (`[S]` when stacked)."""

  def one(params, x, labels, mask):
    logits = model.apply({"params": params}, x, train=False)["logits"]
    return jnp.sum((logits.argmax(-1) == labels) * mask)

  def fn(params, images, labels, mask):
    x = ops.normalize(images, mean, std)
    if stacked:
      return jax.vmap(one, in_axes=(0, None, None, None))(params, x, labels, mask)
    return one(params, x, labels, mask)

  return jax.jit(fn)
