"""The generic SGD loop: resume, train, log, evaluate, checkpoint.

`fit` owns everything that is the same in every project; the project owns its model, loss,
data iterator and evaluation. The data iterator must be a pure function of the start step
(`train_iter_fn(start_step)`), which is what makes a resumed run end with the same parameters
as an uninterrupted one.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable

import jax
import numpy as np
from jax.sharding import Mesh

from jaxlab.train import parallel
from jaxlab.train.checkpoint import Checkpointer
from jaxlab.train.state import TrainState
from jaxlab.train.writers import MetricWriter


class NonFiniteLossError(FloatingPointError):
  pass


def _progress(total: int, initial: int, enabled: bool):
  if not enabled or jax.process_index() != 0:
    return None
  from tqdm.auto import tqdm
  return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=1.0,
              smoothing=0.1)


def loop_options(train_config) -> dict:
  """The `fit` keyword arguments a config's `train.*` block sets (one vocabulary everywhere)."""
  return {k: train_config.get(k, d) for k, d in (
      ("log_every", 50), ("eval_every", 0), ("ckpt_every", 0), ("progress", True),
      ("tensorboard", True))}


def fit(
    *,
    state: TrainState,
    train_step: Callable[[TrainState, Any], tuple[TrainState, dict]],
    train_iter_fn: Callable[[int], Iterable[Any]],
    num_steps: int,
    workdir,
    mesh: Mesh | None = None,
    eval_fn: Callable[[TrainState], dict] | None = None,
    log_every: int = 50,
    eval_every: int = 0,
    ckpt_every: int = 0,
    progress: bool = True,
    tensorboard: bool = True,
    checkpoint: bool = True,
) -> tuple[TrainState, dict]:
  """Trains `state` to `num_steps`, resuming from `<workdir>/checkpoints` when present.

  Returns the final state and a summary: `{'train/<m>': last logged mean, 'eval/<m>': last eval,
  'steps_per_sec', 'train_time_s', 'resumed_from'}`. Metrics are fetched from device once per
  `log_every` steps (no host sync in between); a non-finite loss raises NonFiniteLossError with
  the exact step after saving nothing of the diverged state.
  """
  mesh = mesh or parallel.create_mesh()
  ckpt = Checkpointer(workdir) if checkpoint else None
  start = 0
  if ckpt is not None:
    restored = ckpt.restore(state)
    if restored is not None:
      state, _ = restored
      start = int(jax.device_get(state.step))
      logging.info("resumed from step %d in %s", start, ckpt.directory)
  state = parallel.replicate(state, mesh)
  writer = MetricWriter(workdir, tensorboard=tensorboard, resume_step=start if start else None)
  summary: dict = {"resumed_from": start}
  bar = _progress(num_steps, start, progress)
  pending: list[tuple[int, dict]] = []
  t_start, steps_done, t_first = time.perf_counter(), 0, None

  def flush_pending():
    if not pending:
      return {}
    host = jax.device_get([m for _, m in pending])
    for (s, _), m in zip(pending, host):
      if not np.isfinite(m["loss"]):
        raise NonFiniteLossError(
            f"loss became {m['loss']} at step {s} (1-based); the run stopped before saving that "
            f"state. Lower optim.lr, add optim.grad_clip, or check the data; the last good "
            f"checkpoint in {workdir} is kept.")
    means = {f"train/{k}": float(np.mean([m[k] for m in host])) for k in host[-1]}
    writer.write(pending[-1][0], means)
    pending.clear()
    return means

  try:
    step = start
    batches = parallel.prefetch(train_iter_fn(start), mesh) if start < num_steps else iter(())
    for batch in batches:
      if step >= num_steps:
        break
      state, metrics = train_step(state, batch)
      step += 1
      steps_done += 1
      pending.append((step, metrics))
      if t_first is None:
        jax.block_until_ready(metrics)  # first step includes compilation; time it apart
        t_first = time.perf_counter()
        summary["first_step_s"] = t_first - t_start
      last = step == num_steps
      if step % log_every == 0 or last:
        means = flush_pending()
        summary.update(means)
        if bar is not None:
          bar.set_postfix(loss=f"{means['train/loss']:.4f}", refresh=False)
      if bar is not None:
        bar.update(1)
      if eval_fn is not None and ((eval_every and step % eval_every == 0) or last):
        ev = {f"eval/{k}": v for k, v in eval_fn(state).items()}
        writer.write(step, ev)
        summary.update(ev)
        if bar is not None:
          bar.write(f"step {step}: " + ", ".join(f"{k}={v:.4f}" for k, v in ev.items()))
      if ckpt is not None and ((ckpt_every and step % ckpt_every == 0) or last):
        flush_pending()  # never checkpoint a state whose loss was not checked
        ckpt.save(state, {"step": step})
    if step < num_steps:
      raise RuntimeError(f"the data iterator ended at step {step} of {num_steps}")
  except KeyboardInterrupt:
    # Preemption: keep what was trained so the next start resumes here.
    if ckpt is not None and steps_done:
      try:
        flush_pending()
        ckpt.save(state, {"step": int(jax.device_get(state.step)), "interrupted": True})
      finally:
        ckpt.wait()
    raise
  finally:
    if bar is not None:
      bar.close()
    writer.close()
    if ckpt is not None:
      ckpt.close()
  if t_first is not None and steps_done > 1:
    elapsed = time.perf_counter() - t_first
    summary["steps_per_sec"] = (steps_done - 1) / max(elapsed, 1e-9)
  summary["train_time_s"] = time.perf_counter() - t_start
  summary["num_steps"] = num_steps
  return state, summary
