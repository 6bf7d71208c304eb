"""`ArrayDataset`: a split of an in-memory dataset as a dict of equally long arrays."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class ArrayDataset:
  """One split of a dataset held in memory, e.g. images `[N, H, W, C]` and labels `[N]`.

  Attributes:
    arrays: feature name -> array whose first axis indexes the N examples, e.g.
      `{"image": uint8 [N, 28, 28, 1], "label": int32 [N]}`. Arrays loaded from
      files are shared by an in-process cache and therefore read-only; copy before
      modifying in place.
    num_classes: number of label classes (`None` for unlabelled data).
    name: registry name, e.g. "mnist".
    split: split name, e.g. "train".
    class_names: human-readable class names in label order, when known.
  """
  arrays: dict[str, np.ndarray]
  num_classes: int | None
  name: str
  split: str
  class_names: tuple[str, ...] | None = None

  def __post_init__(self):
    if not self.arrays:
      raise ValueError(f"ArrayDataset {self.name}/{self.split} has no arrays.")
    sizes = {k: np.shape(v)[0] for k, v in self.arrays.items()}
    if len(set(sizes.values())) != 1:
      raise ValueError(
          f"ArrayDataset {self.name}/{self.split}: arrays differ in length {sizes}.")

  def __len__(self):
    return int(np.shape(next(iter(self.arrays.values())))[0])

  def take(self, n):
    """Returns the first `n` examples as a new `ArrayDataset` (views, no copy)."""
    return dataclasses.replace(self, arrays={k: v[:n] for k, v in self.arrays.items()})
