"""Temporal interaction networks: SNAP CollegeMsg (1899 users, 59835 messages)."""

import dataclasses
import functools

import numpy as np

from jaxlab.data import errors
from jaxlab.data import files

COLLEGEMSG_FILE = "temporal/CollegeMsg/CollegeMsg.txt"


@dataclasses.dataclass(frozen=True, eq=False)
class TemporalEdges:
  """Timestamped directed events `(src, dst, t)`, sorted by time.

  Attributes:
    src, dst: int32 `[E]`, 0-based node ids (file id - 1).
    t: int64 `[E]`, Unix seconds, non-decreasing.
    num_nodes: size of the node id space.
    name, split: registry name and split ("all").
  """
  src: np.ndarray
  dst: np.ndarray
  t: np.ndarray
  num_nodes: int
  name: str = "collegemsg"
  split: str = "all"

  def __len__(self):
    return int(self.src.shape[0])

  @property
  def num_edges(self):
    return len(self)

  @property
  def arrays(self):
    """The per-event arrays as a dict, the input format of `batch_iterator`."""
    return {"src": self.src, "dst": self.dst, "t": self.t}


@functools.lru_cache(maxsize=2)
def _read_collegemsg(key):
  path = key[0]
  try:
    table = np.loadtxt(path, dtype=np.int64, ndmin=2)
  except ValueError as e:
    raise errors.CorruptDataError(
        f"{path}: expected lines 'SRC DST UNIXTS' ({e}); obtain it again.") from e
  if table.shape[1] != 3 or table[:, :2].min() < 1:
    raise errors.CorruptDataError(
        f"{path}: expected 3 columns of positive ids and times, got shape "
        f"{table.shape}; obtain it again.")
  if np.any(np.diff(table[:, 2]) < 0):
    raise errors.CorruptDataError(f"{path}: timestamps are not sorted; obtain it again.")
  src = (table[:, 0] - 1).astype(np.int32)
  dst = (table[:, 1] - 1).astype(np.int32)
  num_nodes = int(table[:, :2].max())
  return (files.readonly(src), files.readonly(dst),
          files.readonly(table[:, 2].copy()), num_nodes)


def load_collegemsg(split="all", *, data_dir=None, verify=True):
  """Reads SNAP CollegeMsg: 59,835 messages among 1,899 users over 193 days."""
  if split != "all":
    raise ValueError(f"Unknown split {split!r} for collegemsg; valid: ['all'] "
                     "(split by time yourself, e.g. on quantiles of `t`).")
  path = files.locate(COLLEGEMSG_FILE, data_dir, verify)
  src, dst, t, num_nodes = _read_collegemsg(files.file_key(path))
  return TemporalEdges(src=src, dst=dst, t=t, num_nodes=num_nodes)
