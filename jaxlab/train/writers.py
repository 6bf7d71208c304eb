"""Metric writers: `metrics.jsonl` (one JSON object per line) and TensorBoard event files."""

from __future__ import annotations

import json
import math
import pathlib
from typing import Mapping

import jax
import numpy as np


def _clean(v):
  v = float(np.asarray(v))
  return v if math.isfinite(v) else str(v)


class MetricWriter:
  """Writes scalars keyed `split/metric` at a step. Only process 0 writes."""

  def __init__(self, workdir: str | pathlib.Path, *, tensorboard: bool = True,
               resume_step: int | None = None):
    self.workdir = pathlib.Path(workdir)
    self.active = jax.process_index() == 0
    self.path = self.workdir / "metrics.jsonl"
    self._tb = None
    if not self.active:
      return
    self.workdir.mkdir(parents=True, exist_ok=True)
    if resume_step is not None and self.path.exists():
      self._set_aside_after(resume_step)
    self._file = open(self.path, "a", buffering=1)
    if tensorboard:
      try:
        from tensorboardX import SummaryWriter
        self._tb = SummaryWriter(str(self.workdir / "tensorboard"))
      except ImportError:  # optional at run time
        self._tb = None

  def _set_aside_after(self, step: int) -> None:
    """On resume, lines logged after the restored checkpoint would be logged again; move them to
    `metrics.preempted.jsonl` rather than deleting them."""
    keep, later = [], []
    for line in self.path.read_text().splitlines():
      try:
        (later if json.loads(line).get("step", -1) > step else keep).append(line)
      except json.JSONDecodeError:
        later.append(line)
    if later:
      with open(self.workdir / "metrics.preempted.jsonl", "a") as f:
        f.write("\n".join(later) + "\n")
      self.path.write_text("".join(l + "\n" for l in keep))

  def write(self, step: int, scalars: Mapping[str, float]) -> None:
    if not self.active or not scalars:
      return
    row = {"step": int(step), **{k: _clean(v) for k, v in scalars.items()}}
    self._file.write(json.dumps(row) + "\n")
    if self._tb is not None:
      for k, v in row.items():
        if k != "step" and isinstance(v, float):
          self._tb.add_scalar(k, v, int(step))

  def flush(self) -> None:
    if self.active:
      self._file.flush()
      if self._tb is not None:
        self._tb.flush()

  def close(self) -> None:
    if self.active:
      self._file.close()
      if self._tb is not None:
        self._tb.close()


def read_metrics(workdir: str | pathlib.Path) -> list[dict]:
  """All rows of a run's metrics.jsonl (for plots and tests)."""
  path = pathlib.Path(workdir) / "metrics.jsonl"
  return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
