"""Reading TFDS-prepared datasets without TensorFlow.

Datasets are read through `tfds.data_source` (random access to array_record files)
with `download=False`: this path never downloads or prepares. Preparing needs
TensorFlow and internet, see `python -m jaxlab.data.prepare`.
"""

import numpy as np

from jaxlab.data import dataset as dataset_lib
from jaxlab.data import errors
from jaxlab.data import files

# jaxlab name -> TFDS name.
TFDS_DATASETS = {
    "mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10",
    "cifar100": "cifar100", "kmnist": "kmnist",
}
TFDS_SPLITS = ("train", "test")
_KEEP = ("image", "label", "coarse_label")
_CHUNK = 4096


def tfds_dir(data_dir=None, tfds_data_dir=None):
  """The TFDS data folder: `tfds_data_dir`, else `<data folder>/tfds`."""
  if tfds_data_dir is not None:
    return files.data_dir(tfds_data_dir)
  return files.data_dir(data_dir) / "tfds"


def prepare_command(name, data_dir=None):
  root = files.data_dir(data_dir)
  return (f"pip install 'jaxlab[prepare]' && "
          f"python -m jaxlab.data.prepare {TFDS_DATASETS.get(name, name)} "
          f"--data_dir={root}")


def _read_all(source):
  n = len(source)
  records = []
  for start in range(0, n, _CHUNK):
    keys = list(range(start, min(start + _CHUNK, n)))
    try:
      records.extend(source.__getitems__(keys))
    except TypeError:  # Some data sources (e.g. TFDS test mocks) lack batched reads.
      records.extend(source[i] for i in keys)
  return records


def load_tfds(name, split="train", *, data_dir=None, tfds_data_dir=None):
  """Reads a prepared TFDS image-classification dataset into an `ArrayDataset`.

  Args:
    name: a key of `TFDS_DATASETS`.
    split: a TFDS split: "train", "test", or a slice such as "train[:10%]".
    data_dir: jaxlab data folder; TFDS files are looked up in `<data_dir>/tfds`.
    tfds_data_dir: use this TFDS data folder instead (e.g. ~/tensorflow_datasets).

  Returns:
    `ArrayDataset` with `image` uint8 `[N, H, W, C]`, `label` int32 (and
    `coarse_label` for cifar100).

  Raises:
    MissingDataError: the dataset is not prepared in the TFDS folder.
  """
  if name not in TFDS_DATASETS:
    raise ValueError(f"{name!r} is not available from TFDS here; valid: "
                     f"{sorted(TFDS_DATASETS)}")
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  folder = tfds_dir(data_dir, tfds_data_dir)
  tfds_name = TFDS_DATASETS[name]
  try:
    source = tfds.data_source(
        tfds_name, split=split, data_dir=str(folder), download=False,
        builder_kwargs={"file_format": "array_record"})
  except Exception as e:  # TFDS raises assorted types (KeyError, AssertionError, ...).
    raise errors.MissingDataError(
        f"TFDS dataset {tfds_name!r} (split {split!r}) is not prepared in {folder} "
        f"({type(e).__name__}: {e}).\n"
        f"  jaxlab never downloads while reading. On a machine with internet, run:\n"
        f"    {prepare_command(name, data_dir)}\n"
        f"  or read the local files instead with source='local'.") from e
  records = _read_all(source)
  if not records:
    raise errors.MissingDataError(f"TFDS dataset {tfds_name!r} split {split!r} in "
                                  f"{folder} is empty; prepare it again.")
  keys = [k for k in _KEEP if k in records[0]]
  arrays = {k: np.stack([np.asarray(r[k]) for r in records]) for k in keys}
  for k in keys:
    if k != "image":
      arrays[k] = arrays[k].astype(np.int32)
  label = source.dataset_info.features["label"]
  return dataset_lib.ArrayDataset(
      arrays=arrays, num_classes=int(label.num_classes), name=name, split=split,
      class_names=tuple(label.names))
