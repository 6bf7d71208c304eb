"""Train/eval step builders: jit with donated state over a data mesh, or pmap.

A project supplies `loss_fn(params, batch, rng) -> (loss, metrics)`; with BatchNorm it supplies
`loss_fn(params, batch, rng, batch_stats) -> (loss, (metrics, new_batch_stats))` and passes
`uses_batch_stats=True`. `metrics` is a dict of scalars averaged over the (global) batch.
The step key is `fold_in(state.rng, state.step)`, so a resumed run draws the same noise.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.sharding import Mesh

from jaxlab.train import parallel
from jaxlab.train.state import TrainState

LossFn = Callable[..., tuple[jax.Array, Any]]


def _step_body(loss_fn: LossFn, uses_batch_stats: bool, lr_schedule, axis_name: str | None):

  def train_step(state: TrainState, batch: Any) -> tuple[TrainState, dict]:
    rng = jax.random.fold_in(state.rng, state.step)
    if axis_name is not None:
      # Independent noise per pmap replica (the jit path draws over the global batch instead).
      rng = jax.random.fold_in(rng, lax.axis_index(axis_name))

    def objective(params):
      if uses_batch_stats:
        return loss_fn(params, batch, rng, state.batch_stats)
      return loss_fn(params, batch, rng)

    (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
    if uses_batch_stats:
      metrics, new_stats = aux
    else:
      metrics, new_stats = aux, None
    if axis_name is not None:
      grads, loss, metrics = lax.pmean((grads, loss, metrics), axis_name)
      if new_stats is not None:
        new_stats = lax.pmean(new_stats, axis_name)
    new_state = state.apply_gradients(grads, batch_stats=new_stats)
    out = {"loss": loss, "grad_norm": optax.tree.norm(grads), **(metrics or {})}
    if lr_schedule is not None:
      out["lr"] = jnp.asarray(lr_schedule(state.step), jnp.float32)
    return new_state, out

  return train_step


def make_train_step(loss_fn: LossFn, *, mesh: Mesh | None = None, uses_batch_stats=False,
                    lr_schedule=None, donate: bool = True, jit: bool = True):
  """`train_step(state, batch) -> (state, metrics)`, jitted over `mesh` (default: all devices).

  State and metrics are replicated; every batch leaf is sharded on its leading axis. The state
  is donated, so the caller must not reuse the state it passed in.
  """
  body = _step_body(loss_fn, uses_batch_stats, lr_schedule, axis_name=None)
  if not jit:
    return body
  mesh = mesh or parallel.create_mesh()
  repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  return jax.jit(body, in_shardings=(repl, data), out_shardings=(repl, repl),
                 donate_argnums=(0,) if donate else ())


def make_pmap_train_step(loss_fn: LossFn, *, uses_batch_stats=False, lr_schedule=None,
                         axis_name: str = parallel.DATA_AXIS, donate: bool = True):
  """pmap variant: state replicated with a leading device axis (`parallel.pmap_replicate`),
  batch split `[D, B/D, ...]` (`parallel.split_for_pmap`); grads and metrics are pmean-ed."""
  body = _step_body(loss_fn, uses_batch_stats, lr_schedule, axis_name=axis_name)
  return jax.pmap(body, axis_name=axis_name, donate_argnums=(0,) if donate else ())


def make_eval_step(metric_fn: Callable[[TrainState, Any], dict], *, mesh: Mesh | None = None):
  """`eval_step(state, batch) -> sums`, with `metric_fn` returning per-batch SUMS (masked for
  padding) and a `count`; `evaluate` divides at the end so padded eval batches stay exact."""
  mesh = mesh or parallel.create_mesh()
  repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  return jax.jit(metric_fn, in_shardings=(repl, data), out_shardings=repl)


def evaluate(eval_step, state: TrainState, batches, mesh: Mesh | None = None) -> dict:
  """Runs `eval_step` over `batches` (numpy dicts), sums on device, returns means per example."""
  mesh = mesh or parallel.create_mesh()
  total = None
  for batch in batches:
    sums = eval_step(state, parallel.shard_batch(batch, mesh))
    total = sums if total is None else jax.tree.map(jnp.add, total, sums)
  if total is None:
    raise ValueError("evaluate got no batches")
  total = jax.device_get(total)
  count = float(total.pop("count"))
  return {k: float(v) / max(count, 1.0) for k, v in total.items()}
