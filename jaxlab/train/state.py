"""Immutable training state shared by every SGD-trained project."""

from __future__ import annotations

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import optax
from flax import struct

PyTree = Any


@struct.dataclass
class TrainState:
  """Everything a train step reads and writes, as one pytree.

  `apply_fn` and `tx` are static (not leaves), so the state can be donated to jit, sharded and
  checkpointed as a whole. `batch_stats` holds BatchNorm statistics (None when the model has
  none); `ema_params` an exponential moving average of the params (None when `ema_decay` is 0).
  """

  step: jax.Array
  params: PyTree
  opt_state: optax.OptState
  rng: jax.Array
  batch_stats: PyTree = None
  ema_params: PyTree = None
  apply_fn: Callable = struct.field(pytree_node=False, default=None)
  tx: optax.GradientTransformation = struct.field(pytree_node=False, default=None)
  ema_decay: float = struct.field(pytree_node=False, default=0.0)

  @classmethod
  def create(cls, *, apply_fn, params, tx, rng, batch_stats=None, ema_decay: float = 0.0):
    if not 0.0 <= ema_decay < 1.0:
      raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
    params = flax.core.unfreeze(params)
    return cls(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=tx.init(params),
        rng=rng,
        batch_stats=batch_stats,
        ema_params=jax.tree.map(jnp.copy, params) if ema_decay > 0 else None,
        apply_fn=apply_fn,
        tx=tx,
        ema_decay=ema_decay,
    )

  def apply_gradients(self, grads, *, batch_stats=None) -> "TrainState":
    updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
    params = optax.apply_updates(self.params, updates)
    ema = self.ema_params
    if ema is not None:
      d = self.ema_decay
      ema = jax.tree.map(lambda e, p: d * e + (1.0 - d) * p, ema, params)
    return self.replace(
        step=self.step + 1,
        params=params,
        opt_state=opt_state,
        batch_stats=self.batch_stats if batch_stats is None else batch_stats,
        ema_params=ema,
    )

  @property
  def eval_params(self):
    """The params evaluation should use: the EMA when kept, else the raw params."""
    return self.ema_params if self.ema_params is not None else self.params

  def variables(self, params=None) -> dict:
    """`{'params': ..., 'batch_stats': ...}` ready for `apply_fn`."""
    v = {"params": self.params if params is None else params}
    if self.batch_stats is not None:
      v["batch_stats"] = self.batch_stats
    return v
