"""Devices, meshes and sharding for data-parallel training.

The default path is `jax.jit` over a 1-D `Mesh` named `data`: the batch is sharded on its
leading axis, state replicated, and XLA inserts the gradient all-reduce. Numerically this is the
single-device computation, so N devices give the same step as one. The `pmap` path is kept for
algorithms that need explicit per-device code (e.g. federated clients).
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def maybe_initialize_distributed(config) -> None:
  """Multi-host start-up: call `jax.distributed.initialize()` when `config.distributed` is set.

  On TPU VMs and SLURM/Kubernetes clusters jax discovers the coordinator itself; elsewhere set
  `config.coordinator_address`, `num_processes`, `process_id`.
  """
  if not config.get("distributed", False):
    return
  kwargs = {}
  for key in ("coordinator_address", "num_processes", "process_id"):
    if config.get(key, None) is not None:
      kwargs[key] = config[key]
  jax.distributed.initialize(**kwargs)
  logging.info("distributed: process %d of %d, %d global devices",
               jax.process_index(), jax.process_count(), jax.device_count())


def create_mesh(devices=None) -> Mesh:
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA_AXIS))


def shard_batch(batch: Any, mesh: Mesh) -> Any:
  """Host-local numpy batch -> global jax.Array sharded on `data` (multi-host safe)."""
  sharding = batch_sharding(mesh)
  n = mesh.devices.size // jax.process_count()

  def put(x):
    x = np.asarray(x)
    if x.ndim == 0 or x.shape[0] % n:
      raise ValueError(
          f"batch leaf of shape {x.shape} cannot be split over {n} local devices: make the "
          f"per-host batch size a multiple of {n}")
    return jax.make_array_from_process_local_data(sharding, x)

  return jax.tree.map(put, batch)


def replicate(tree: Any, mesh: Mesh) -> Any:
  return jax.device_put(tree, replicated(mesh))


def prefetch(iterator: Iterable, mesh: Mesh, size: int = 2) -> Iterator:
  """Puts the next `size` batches on device ahead of use, overlapping the copy with compute."""
  import collections
  import itertools
  queue = collections.deque()
  it = iter(iterator)
  for b in itertools.islice(it, size):
    queue.append(shard_batch(b, mesh))
  while queue:
    yield queue.popleft()
    for b in itertools.islice(it, 1):
      queue.append(shard_batch(b, mesh))


# --- pmap path -----------------------------------------------------------------------------

def pmap_replicate(tree: Any, num_devices: int | None = None) -> Any:
  """Stacks a pytree `num_devices` times on a new leading axis; pmap places one copy per device.

  (`jax.device_put_replicated` is gone in jax 0.10; pmap distributes a leading axis itself.)
  """
  n = jax.local_device_count() if num_devices is None else num_devices
  return jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (n,) + np.shape(x)).copy(), tree)


def pmap_unreplicate(tree: Any) -> Any:
  return jax.tree.map(lambda x: x[0], tree)


def split_for_pmap(batch: Any, num_devices: int) -> Any:
  """[B, ...] -> [num_devices, B // num_devices, ...]."""
  def f(x):
    x = np.asarray(x)
    if x.shape[0] % num_devices:
      raise ValueError(f"batch of {x.shape[0]} does not split over {num_devices} devices")
    return x.reshape((num_devices, x.shape[0] // num_devices) + x.shape[1:])
  return jax.tree.map(f, batch)
