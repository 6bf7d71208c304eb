"""optax optimizers and learning-rate schedules built from a config by name.

Config vocabulary (`config.optim`): name, lr, wd, schedule, warmup_steps, momentum, nesterov,
b1, b2, eps, grad_clip, decay_steps/decay_factor (for `step`), end_lr_factor, wd_mask.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import optax

SCHEDULES = ("constant", "cosine", "warmup_cosine", "linear", "step", "rsqrt")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "lamb", "lars", "rmsprop",
              "adafactor", "lion")


def _get(cfg, key, default):
  return cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)


def make_schedule(cfg, num_steps: int) -> optax.Schedule:
  """A learning-rate schedule over `num_steps` optimizer steps."""
  name = _get(cfg, "schedule", "constant")
  lr = float(_get(cfg, "lr", 1e-3))
  warmup = int(_get(cfg, "warmup_steps", 0))
  end = lr * float(_get(cfg, "end_lr_factor", 0.0))
  num_steps = max(int(num_steps), 1)
  if name == "constant":
    sched = optax.constant_schedule(lr)
    if warmup:
      sched = optax.join_schedules(
          [optax.linear_schedule(0.0, lr, warmup), sched], [warmup])
    return sched
  if name in ("cosine", "warmup_cosine"):
    return optax.warmup_cosine_decay_schedule(
        0.0 if warmup else lr, lr, warmup, max(num_steps, warmup + 1), end)
  if name == "linear":
    return optax.join_schedules([
        optax.linear_schedule(0.0, lr, max(warmup, 1)),
        optax.linear_schedule(lr, end, max(num_steps - warmup, 1))], [max(warmup, 1)])
  if name == "step":
    # Multiply by decay_factor at each boundary (fractions of num_steps or absolute steps).
    bounds = list(_get(cfg, "decay_steps", (0.5, 0.75)))
    bounds = [int(b * num_steps) if isinstance(b, float) and b < 1 else int(b) for b in bounds]
    factor = float(_get(cfg, "decay_factor", 0.1))
    return optax.piecewise_constant_schedule(lr, {b: factor for b in bounds})
  if name == "rsqrt":
    w = max(warmup, 1)
    return lambda s: lr * jax.numpy.minimum(1.0, (s + 1) / w) * jax.numpy.sqrt(
        w / jax.numpy.maximum(s + 1, w))
  raise ValueError(f"unknown optim.schedule {name!r}; valid: {', '.join(SCHEDULES)}")


def _decay_mask(params: Any):
  """Weight decay on kernels/embeddings only, not on biases or normalisation scales."""
  return jax.tree_util.tree_map_with_path(
      lambda path, x: x.ndim > 1 and "scale" not in str(path[-1]), params)


def make_optimizer(cfg, num_steps: int) -> tuple[optax.GradientTransformation, optax.Schedule]:
  """Returns (tx, lr_schedule) for `cfg` = config.optim."""
  name = _get(cfg, "name", "adam")
  sched = make_schedule(cfg, num_steps)
  wd = float(_get(cfg, "wd", 0.0))
  mask: Callable | None = _decay_mask if _get(cfg, "wd_mask", True) else None
  b1, b2 = float(_get(cfg, "b1", 0.9)), float(_get(cfg, "b2", 0.999))
  eps = float(_get(cfg, "eps", 1e-8))
  mom = float(_get(cfg, "momentum", 0.9))
  if name == "sgd":
    tx = optax.sgd(sched)
  elif name in ("momentum", "nesterov"):
    tx = optax.sgd(sched, momentum=mom,
                   nesterov=name == "nesterov" or bool(_get(cfg, "nesterov", False)))
  elif name == "adam":
    tx = optax.adam(sched, b1=b1, b2=b2, eps=eps)
  elif name == "adamw":
    tx = optax.adamw(sched, b1=b1, b2=b2, eps=eps, weight_decay=wd, mask=mask)
    wd = 0.0  # already decoupled inside adamw
  elif name == "lamb":
    tx = optax.lamb(sched, b1=b1, b2=b2, eps=eps, weight_decay=wd, mask=mask)
    wd = 0.0
  elif name == "lars":
    tx = optax.lars(sched, weight_decay=wd, momentum=mom, weight_decay_mask=mask or True)
    wd = 0.0
  elif name == "rmsprop":
    tx = optax.rmsprop(sched, decay=b2, eps=eps, momentum=mom or None)
  elif name == "adafactor":
    tx = optax.adafactor(sched)
  elif name == "lion":
    tx = optax.lion(sched, b1=b1, b2=b2, weight_decay=wd, mask=mask)
    wd = 0.0
  else:
    raise ValueError(f"unknown optim.name {name!r}; valid: {', '.join(OPTIMIZERS)}")
  chain = []
  clip = _get(cfg, "grad_clip", None)
  if clip:
    chain.append(optax.clip_by_global_norm(float(clip)))
  if wd:
    # Coupled L2 (added to the gradient before the update), as SGD papers use it.
    chain.append(optax.add_decayed_weights(wd, mask=mask))
  chain.append(tx)
  return optax.chain(*chain), sched
