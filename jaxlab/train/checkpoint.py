"""orbax checkpoints of a TrainState, with automatic resume from the workdir."""

from __future__ import annotations

import logging
import os
import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
  pass


class _QuietOrbax(logging.Filter):
  """Drops orbax's INFO/DEBUG records (about 35 lines per save/restore: threads, timings,
  metadata stores), which buried a run's own progress lines; its warnings and errors pass."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or f"{os.sep}orbax{os.sep}" not in record.pathname


# orbax logs through absl, i.e. the Python logger "absl" that jaxlab's own lines also use.
if not any(isinstance(f, _QuietOrbax) for f in logging.getLogger("absl").filters):
  logging.getLogger("absl").addFilter(_QuietOrbax())


class Checkpointer:
  """Saves a `TrainState` (or any pytree of arrays, with an explicit step) plus a JSON `meta`
  dict under `<workdir>/checkpoints/<step>`."""

  def __init__(self, workdir: str | pathlib.Path, *, max_to_keep: int = 2):
    self.directory = pathlib.Path(workdir).absolute() / "checkpoints"
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, state: Any, meta: dict | None = None, *, wait: bool = False,
           step: int | None = None) -> None:
    """`step` defaults to `state.step` (a TrainState); give it for any other pytree."""
    step = int(jax.device_get(state.step)) if step is None else int(step)
    if step in self.manager.all_steps():
      return
    self.manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta or {})))
    if wait:
      self.manager.wait_until_finished()

  def restore(self, target: Any = None) -> tuple[Any, dict] | None:
    """Restores the newest readable checkpoint into the structure of `target` (None: the tree
    as it was saved, with numpy arrays).

    Returns None when the workdir has none. A checkpoint that cannot be read (truncated copy,
    different model config) is skipped with a warning in favour of an older one; nothing on disk
    is deleted. If none can be read, raises CheckpointError saying what to do.
    """
    steps = sorted(self.manager.all_steps(), reverse=True)
    if not steps:
      return None
    abstract = (None if target is None
                else jax.tree.map(ocp.utils.to_shape_dtype_struct, target))
    errors = []
    for step in steps:
      try:
        r = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()))
        if errors:
          logging.warning("resumed from older checkpoint %d; newer ones unreadable: %s",
                          step, "; ".join(errors))
        return r.state, dict(r.meta or {})
      except Exception as e:  # orbax raises many types for a damaged or mismatched checkpoint
        errors.append(f"step {step}: {type(e).__name__}: {str(e)[:300]}")
    raise CheckpointError(
        f"no checkpoint in {self.directory} could be restored into the current model/optimizer:"
        f"\n  " + "\n  ".join(errors) + "\nIf the config changed, start a new --workdir; if the "
        "files are damaged, move the bad step folders out of the way (nothing was deleted).")

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


def load_params(workdir: str | pathlib.Path, *, use_ema: bool = False) -> dict:
  """Reads the newest checkpoint of a finished run without knowing its optimizer.

  For projects that start from a backbone trained by another config (pruning, distillation).
  Returns {'params', 'batch_stats' (or None), 'step', 'config' (the run's config.json as a dict,
  or None)}. With `use_ema=True` the EMA parameters are returned when the run kept them.
  """
  import json

  workdir = pathlib.Path(workdir).absolute()
  directory = workdir / "checkpoints"
  if not directory.is_dir():
    raise CheckpointError(
        f"no checkpoints in {directory}; train the backbone first, e.g. "
        f"`python scripts/train.py --config=<its config> --workdir={workdir}`")
  manager = ocp.CheckpointManager(directory)
  errors = []
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      r = manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()))
      break
    except Exception as e:  # see Checkpointer.restore
      errors.append(f"step {step}: {type(e).__name__}: {str(e)[:300]}")
  else:
    raise CheckpointError(f"no readable checkpoint in {directory}:\n  " + "\n  ".join(errors)
                          or f"{directory} holds no checkpoint steps")
  manager.close()
  state = r.state
  params = state["params"]
  if use_ema and state.get("ema_params") is not None:
    params = state["ema_params"]
  bs = state.get("batch_stats") or None
  cfg_path = workdir / "config.json"
  config = json.loads(cfg_path.read_text()).get("config") if cfg_path.exists() else None
  return {"params": params, "batch_stats": bs, "step": int(state["step"]), "config": config}
