"""Image classification readers: MNIST, Fashion-MNIST (idx .gz) and the CIFAR-10 subset.

All return `ArrayDataset`s with `image` uint8 `[N, H, W, C]` and `label` int32 `[N]`.
"""

import functools
import gzip
import pathlib
import struct
import zlib

import numpy as np

from jaxlab.data import dataset as dataset_lib
from jaxlab.data import errors
from jaxlab.data import files

MNIST_CLASSES = tuple(str(i) for i in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                   "horse", "ship", "truck")

IDX_IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # uint8, 1 dimension
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
               0x0D: ">f4", 0x0E: ">f8"}

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IDX_FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}
_IDX_COUNTS = {"train": 60000, "test": 10000}


def parse_idx(data, expected_magic, source="<bytes>"):
  """Parses an (uncompressed) idx file into a numpy array.

  Args:
    data: the file content.
    expected_magic: the 4-byte magic number, e.g. `IDX_IMAGES_MAGIC`.
    source: file name used in error messages.

  Returns:
    An array of the shape given by the header, native byte order.

  Raises:
    CorruptDataError: wrong magic number, unknown dtype or wrong body size.
  """
  if len(data) < 4:
    raise errors.CorruptDataError(f"{source}: too short for an idx file.")
  magic = struct.unpack(">I", data[:4])[0]
  if magic != expected_magic:
    raise errors.CorruptDataError(
        f"{source}: idx magic number is {magic:#010x}, expected {expected_magic:#010x}."
        " The file is not the expected idx file; obtain it again.")
  if data[2] not in _IDX_DTYPES:
    raise errors.CorruptDataError(f"{source}: unknown idx dtype code {data[2]:#04x}.")
  dtype = np.dtype(_IDX_DTYPES[data[2]])
  ndim = data[3]
  header = 4 + 4 * ndim
  dims = struct.unpack(f">{ndim}I", data[4:header])
  if len(data) - header != int(np.prod(dims)) * dtype.itemsize:
    raise errors.CorruptDataError(
        f"{source}: idx body has {len(data) - header} bytes, header promises shape "
        f"{dims}. The file is truncated or damaged; obtain it again.")
  return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(
      dtype.newbyteorder("="), copy=False)


def _read_gz(path):
  try:
    return gzip.decompress(path.read_bytes())
  except (OSError, EOFError, zlib.error) as e:
    raise errors.CorruptDataError(
        f"{path}: not a valid gzip file ({e}); obtain it again.") from e


@functools.lru_cache(maxsize=8)
def _read_idx_pair(images_key, labels_key):
  images_path, labels_path = images_key[0], labels_key[0]
  images = parse_idx(_read_gz(pathlib.Path(images_path)), IDX_IMAGES_MAGIC, images_path)
  labels = parse_idx(_read_gz(pathlib.Path(labels_path)), IDX_LABELS_MAGIC, labels_path)
  if images.shape[0] != labels.shape[0]:
    raise errors.CorruptDataError(
        f"{images_path} has {images.shape[0]} images but {labels_path} has "
        f"{labels.shape[0]} labels; obtain both files again.")
  return (files.readonly(images[..., None]),
          files.readonly(labels.astype(np.int32)))


def load_idx_dataset(name, split="train", *, data_dir=None, verify=True):
  """Reads MNIST or Fashion-MNIST from its four official idx .gz files.

  Args:
    name: "mnist" or "fashion_mnist".
    split: "train" (60000 examples) or "test" (10000).
    data_dir: data folder (default: `jaxlab.data.data_dir()`).
    verify: check the files' sha256 first.

  Returns:
    `ArrayDataset` with `image` uint8 `[N, 28, 28, 1]` and `label` int32 `[N]`.
  """
  if name not in _IDX_FOLDERS:
    raise ValueError(f"Unknown idx dataset {name!r}; valid: {sorted(_IDX_FOLDERS)}")
  if split not in _IDX_FILES:
    raise ValueError(f"Unknown split {split!r} for {name}; valid: {sorted(_IDX_FILES)}")
  folder = _IDX_FOLDERS[name]
  images_path, labels_path = (
      files.locate(f"{folder}/{f}", data_dir, verify) for f in _IDX_FILES[split])
  images, labels = _read_idx_pair(files.file_key(images_path),
                                  files.file_key(labels_path))
  if verify and len(labels) != _IDX_COUNTS[split]:
    raise errors.CorruptDataError(
        f"{labels_path}: {len(labels)} examples, expected {_IDX_COUNTS[split]}.")
  class_names = MNIST_CLASSES if name == "mnist" else FASHION_MNIST_CLASSES
  return dataset_lib.ArrayDataset(
      arrays={"image": images, "label": labels}, num_classes=10, name=name,
      split=split, class_names=class_names)


def load_mnist(split="train", *, data_dir=None, verify=True):
  """MNIST: `image` uint8 `[N, 28, 28, 1]`, `label` int32; train 60000 / test 10000."""
  return load_idx_dataset("mnist", split, data_dir=data_dir, verify=verify)


def load_fashion_mnist(split="train", *, data_dir=None, verify=True):
  """Fashion-MNIST: same layout as MNIST, 10 article classes."""
  return load_idx_dataset("fashion_mnist", split, data_dir=data_dir, verify=verify)


CIFAR10_FILE = "cifar10/cifar10_subset.npz"


@functools.lru_cache(maxsize=2)
def _read_cifar10(key):
  path = pathlib.Path(key[0])
  try:
    with np.load(path, allow_pickle=False) as z:
      out = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test", "label_names")}
  except (OSError, ValueError, KeyError, zlib.error) as e:
    raise errors.CorruptDataError(
        f"{path}: cannot read the CIFAR-10 subset npz ({e}); obtain it again.") from e
  for split in ("train", "test"):
    x, y = out[f"x_{split}"], out[f"y_{split}"]
    if x.dtype != np.uint8 or x.shape[1:] != (32, 32, 3) or len(x) != len(y):
      raise errors.CorruptDataError(
          f"{path}: x_{split} has shape {x.shape} and dtype {x.dtype} with {len(y)} "
          "labels; expected uint8 [N, 32, 32, 3] with N labels.")
  return {
      "train": (files.readonly(out["x_train"]),
                files.readonly(out["y_train"].astype(np.int32))),
      "test": (files.readonly(out["x_test"]),
               files.readonly(out["y_test"].astype(np.int32))),
      "names": tuple(str(n) for n in out["label_names"]),
  }


def load_cifar10_subset(split="train", *, data_dir=None, verify=True):
  """The local CIFAR-10 subset: train = first 4000, test = first 1000 official images.

  Returns:
    `ArrayDataset` with `image` uint8 `[N, 32, 32, 3]` (RGB, HWC), `label` int32.
  """
  if split not in ("train", "test"):
    raise ValueError(f"Unknown split {split!r} for cifar10; valid: ['test', 'train']")
  path = files.locate(CIFAR10_FILE, data_dir, verify)
  data = _read_cifar10(files.file_key(path))
  images, labels = data[split]
  return dataset_lib.ArrayDataset(
      arrays={"image": images, "label": labels}, num_classes=10, name="cifar10",
      split=split, class_names=data["names"])


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Per-channel mean and std of `[N, H, W, C]` images on the [0, 1] scale.

  uint8 images go through a 256-bin histogram per channel: exact, and without the full float64
  copy of the data set (376 MB for MNIST) that a plain `.astype(float64).std()` would make.
  Other dtypes keep their own scale.
  """
  if images.dtype != np.uint8:
    x = images.reshape(-1, images.shape[-1]).astype(np.float64)
    return x.mean(0).astype(np.float32), x.std(0).astype(np.float32)
  values = np.arange(256, dtype=np.float64) / 255.0
  mean, std = [], []
  for c in range(images.shape[-1]):
    hist = np.bincount(images[..., c].ravel(), minlength=256).astype(np.float64)
    n = hist.sum()
    m = (hist * values).sum() / n
    mean.append(m)
    std.append(np.sqrt(max((hist * (values - m) ** 2).sum() / n, 0.0)))
  return np.asarray(mean, np.float32), np.asarray(std, np.float32)
