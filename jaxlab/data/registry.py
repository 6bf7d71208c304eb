"""`get_dataset`: one entry point for every dataset, from local files, TFDS or fakes."""

import dataclasses
import functools
from typing import Any, Callable

from jaxlab.data import fake
from jaxlab.data import graphs
from jaxlab.data import images
from jaxlab.data import movielens
from jaxlab.data import proteomics
from jaxlab.data import temporal
from jaxlab.data import text
from jaxlab.data import tfds_source

SOURCES = ("local", "fake", "tfds")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """How to obtain one named dataset.

  Attributes:
    splits: valid split names (the first is the default).
    local: reader `(split, data_dir=, verify=, **kwargs)`, or None if no local files.
    fake: generator `(split, seed=, **kwargs)` of a small stand-in of the same type.
    tfds: whether `source="tfds"` is available.
    description: one line for `list_datasets`-style listings.
  """
  splits: tuple[str, ...]
  local: Callable[..., Any] | None
  fake: Callable[..., Any]
  tfds: bool = False
  description: str = ""

  @property
  def default_split(self):
    return self.splits[0]


_IMAGE_SPLITS = ("train", "test")


def _graph(reader, reader_name, name, description):
  """A transductive graph: `reader(reader_name, ...)` locally, `fake_graph(name)` as stand-in."""
  return DatasetSpec(graphs.GRAPH_SPLITS, functools.partial(reader, reader_name),
                     functools.partial(fake.fake_graph, name), description=description)

REGISTRY = {
    "mnist": DatasetSpec(
        _IMAGE_SPLITS, images.load_mnist, functools.partial(fake.fake_images, "mnist"),
        tfds=True, description="MNIST digits, 60000/10000, uint8 [N,28,28,1]"),
    "fashion_mnist": DatasetSpec(
        _IMAGE_SPLITS, images.load_fashion_mnist,
        functools.partial(fake.fake_images, "fashion_mnist"), tfds=True,
        description="Fashion-MNIST, 60000/10000, uint8 [N,28,28,1]"),
    "cifar10": DatasetSpec(
        _IMAGE_SPLITS, images.load_cifar10_subset,
        functools.partial(fake.fake_images, "cifar10"), tfds=True,
        description="CIFAR-10 (local: 4000/1000 subset; tfds: full), uint8 [N,32,32,3]"),
    "cifar100": DatasetSpec(
        _IMAGE_SPLITS, None, functools.partial(fake.fake_images, "cifar100"), tfds=True,
        description="CIFAR-100 (tfds only), uint8 [N,32,32,3], label + coarse_label"),
    "kmnist": DatasetSpec(
        _IMAGE_SPLITS, None, functools.partial(fake.fake_images, "kmnist"), tfds=True,
        description="Kuzushiji-MNIST (tfds only), uint8 [N,28,28,1]"),
    "cora": _graph(graphs.load_planetoid, "cora", "cora",
                   "Planetoid Cora, 2708 nodes, public split 140/500/1000"),
    "citeseer": _graph(graphs.load_planetoid, "citeseer", "citeseer",
                       "Planetoid CiteSeer, 3327 nodes, public split 120/500/1000"),
    "pubmed": _graph(graphs.load_planetoid, "pubmed", "pubmed",
                     "Planetoid PubMed, 19717 nodes, public split 60/500/1000 (bring the files)"),
    "amazon_computers": _graph(graphs.load_gnn_benchmark, "amazon_computers", "amazon_computers",
                               "gnn-benchmark Amazon Computers, 13752 nodes, seeded random "
                               "split (bring the file)"),
    "amazon_photo": _graph(graphs.load_gnn_benchmark, "amazon_photo", "amazon_photo",
                           "gnn-benchmark Amazon Photo, 7650 nodes, seeded random split "
                           "(bring the file)"),
    "cora_npz": _graph(graphs.load_gnn_benchmark, "cora", "cora_npz",
                       "gnn-benchmark Cora npz, 2708 nodes, seeded random split"),
    "citeseer_npz": _graph(graphs.load_gnn_benchmark, "citeseer", "citeseer_npz",
                           "gnn-benchmark CiteSeer npz, 3312 nodes, seeded random split"),
    "movielens100k": DatasetSpec(
        movielens.SPLITS + tuple(movielens.SPLIT_ALIASES),
        movielens.load_movielens100k, fake.fake_ratings,
        description="MovieLens 100K ratings, 943 users x 1682 items"),
    "tinyshakespeare": DatasetSpec(
        text.SPLITS, text.load_tinyshakespeare, fake.fake_text,
        description="tiny-shakespeare characters, vocab 65, 90/10 train/val"),
    "collegemsg": DatasetSpec(
        ("all",), temporal.load_collegemsg, fake.fake_temporal,
        description="SNAP CollegeMsg temporal messages, 1899 nodes, 59835 events"),
    "proteus_lfq": DatasetSpec(
        ("all",), proteomics.load_proteus_lfq, fake.fake_proteins,
        description="MaxQuant proteinGroups (proteusLabelFree), 3883 x 14 LFQ"),
}


def list_datasets(source=None):
  """Sorted names of the registered datasets, optionally only those with `source`."""
  if source is None:
    return sorted(REGISTRY)
  _check_source(source)
  return sorted(n for n, spec in REGISTRY.items() if _has_source(spec, source))


def _has_source(spec, source):
  return {"local": spec.local is not None, "fake": True, "tfds": spec.tfds}[source]


def _check_source(source):
  if source not in SOURCES:
    raise ValueError(f"Unknown source {source!r}; valid: {list(SOURCES)}")


def get_dataset(name, split=None, *, source="local", data_dir=None, verify=True,
                **kwargs):
  """Returns one split of a dataset as an in-memory object.

  Args:
    name: a registered name, see `list_datasets()`.
    split: split name; `None` takes the dataset's first split ("train" for images
      and text, "all" for graphs, ratings, temporal and proteomics data). Graphs are
      transductive: every split returns the whole graph with its masks.
    source: "local" reads the files under the data folder (default); "fake" builds
      a small synthetic dataset of the same type from `seed=` (no disk access);
      "tfds" reads a prepared TFDS dataset without TensorFlow (never downloads).
    data_dir: data folder (default `$JAXLAB_DATA`, else ~/jaxlab_data).
    verify: check the files' sha256 before parsing (local source).
    **kwargs: reader options, e.g. `normalize_features=False` for graphs,
      `split_seed=` for the npz graphs, `seed=`/`num_examples=` for fakes,
      `tfds_data_dir=` for TFDS.

  Returns:
    `ArrayDataset` (images), `GraphData` (graphs), `RatingsData` (movielens100k),
    `TextData` (tinyshakespeare), `TemporalEdges` (collegemsg) or `ProteinGroups`
    (proteus_lfq).

  Raises:
    KeyError: unknown name (the message lists the valid ones).
    ValueError: unknown split or source, or a source the dataset lacks.
    MissingDataError, CorruptDataError: the files are absent or damaged.
  """
  key = str(name).lower().replace("-", "_")
  if key not in REGISTRY:
    raise KeyError(
        f"Unknown dataset {name!r}; valid names: {', '.join(sorted(REGISTRY))}")
  spec = REGISTRY[key]
  _check_source(source)
  if not _has_source(spec, source):
    valid = [s for s in SOURCES if _has_source(spec, s)]
    raise ValueError(f"Dataset {key!r} has no {source!r} source; valid sources: {valid}")
  if split is None:
    split = spec.default_split
  base_split = split.split("[", 1)[0] if source == "tfds" else split
  valid_splits = tfds_source.TFDS_SPLITS if source == "tfds" else spec.splits
  if base_split not in valid_splits:
    raise ValueError(f"Unknown split {split!r} for dataset {key!r} (source {source!r}); "
                     f"valid splits: {', '.join(valid_splits)}")
  if source == "fake":
    return spec.fake(split, **kwargs)
  if source == "tfds":
    return tfds_source.load_tfds(key, split, data_dir=data_dir, **kwargs)
  return spec.local(split, data_dir=data_dir, verify=verify, **kwargs)


def load_train_test(data_config) -> tuple[dict, dict, int]:
  """Train and test arrays of a classification data config, and the number of classes.

  Reads `name`, `source`, `dir` and the optional `train_limit` / `test_limit` (first N
  examples; 0 keeps all) of `data_config` (a config's `data` section).
  """
  kw = dict(source=data_config.source, data_dir=data_config.get("dir") or None)
  tr = get_dataset(data_config.name, "train", **kw)
  te = get_dataset(data_config.name, "test", **kw)
  tr_arrays, te_arrays = dict(tr.arrays), dict(te.arrays)
  lim_tr, lim_te = data_config.get("train_limit", 0), data_config.get("test_limit", 0)
  if lim_tr:
    tr_arrays = {k: v[:lim_tr] for k, v in tr_arrays.items()}
  if lim_te:
    te_arrays = {k: v[:lim_te] for k, v in te_arrays.items()}
  return tr_arrays, te_arrays, tr.num_classes
