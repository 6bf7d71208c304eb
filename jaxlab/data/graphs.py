"""Node-classification graphs as `jraph.GraphsTuple`s with static-shape padding.

Readers:
  * Planetoid Cora/CiteSeer/PubMed (`planetoid/ind.<name>.*`), processed as Kipf & Welling's
    GCN code and PyTorch Geometric do (see `load_planetoid`), with the public split.
  * gnn-benchmark npz files (`gnn-benchmark/<file>.npz`, Shchur et al.: Cora, CiteSeer,
    Amazon Computers / Photo), with a seeded random split since the format has none.

Under `jit` every distinct shape compiles anew, so `GraphData.padded` pads to bucketed
sizes (`bucket_size`) with masks that are False on padding.
"""

import builtins
import collections
import dataclasses
import functools
import io
import pathlib
import pickle

import jax
import jraph
import numpy as np
import scipy.sparse as sp

from jaxlab.data import errors
from jaxlab.data import files

# numpy >= 2 moved numpy.core to numpy._core; old pickles still name numpy.core.
try:
  from numpy._core import multiarray as _np_multiarray  # pylint: disable=g-import-not-at-top
except ImportError:  # pragma: no cover
  from numpy.core import multiarray as _np_multiarray  # pylint: disable=g-import-not-at-top


@dataclasses.dataclass(frozen=True, eq=False)
class GraphData:
  """A node-classification graph (transductive: one graph, split by masks).

  Attributes:
    graph: `jraph.GraphsTuple` with `nodes` float32 `[N, F]`, `senders`/`receivers`
      int32 `[E]` (both directions of every undirected edge), `n_node`/`n_edge` int32,
      `edges` and `globals` None. After `padded`, N and E are the padded sizes.
    labels: int32 `[N]` (0 on padding).
    train_mask, val_mask, test_mask: bool `[N]`, False on padding.
    node_mask: bool `[N]`, True on the real nodes.
    edge_mask: bool `[E]`, True on the real edges.
    num_classes: number of label classes.
    num_nodes: number of real nodes.
    num_edges: number of real (directed) edges.
    name: registry name, e.g. "cora".
    class_names: class names in label order, when the files have them.
  """
  graph: jraph.GraphsTuple
  labels: np.ndarray
  train_mask: np.ndarray
  val_mask: np.ndarray
  test_mask: np.ndarray
  node_mask: np.ndarray
  edge_mask: np.ndarray
  num_classes: int
  num_nodes: int
  num_edges: int
  name: str = ""
  class_names: tuple[str, ...] | None = None

  @property
  def features(self):
    """Node features float32 `[N, F]` (an alias of `graph.nodes`)."""
    return self.graph.nodes

  @property
  def is_padded(self):
    return int(self.graph.nodes.shape[0]) != self.num_nodes or (
        int(self.graph.senders.shape[0]) != self.num_edges)

  def unpadded(self):
    """Returns the graph without padding nodes, edges and graphs."""
    if not self.is_padded and self.graph.n_node.shape[0] == 1:
      return self
    n, e = self.num_nodes, self.num_edges
    g = self.graph
    graph = g._replace(
        nodes=g.nodes[:n], senders=g.senders[:e], receivers=g.receivers[:e],
        n_node=np.array([n], np.int32), n_edge=np.array([e], np.int32))
    return dataclasses.replace(
        self, graph=graph, labels=self.labels[:n], train_mask=self.train_mask[:n],
        val_mask=self.val_mask[:n], test_mask=self.test_mask[:n],
        node_mask=self.node_mask[:n], edge_mask=self.edge_mask[:e])

  def padded(self, n_node_pad=None, n_edge_pad=None, *, multiple=None):
    """Returns this graph padded to static sizes; masks are False on padding.

    Args:
      n_node_pad: total nodes after padding, > `num_nodes` (one padding node at
        least receives the padding edges). Default: `bucket_size(num_nodes + 1,
        multiple)`.
      n_edge_pad: total edges after padding, >= `num_edges`. Default:
        `bucket_size(num_edges, multiple)`.
      multiple: see `bucket_size`; `None` rounds up to a power of two.
    """
    base = self.unpadded()
    if n_node_pad is None:
      n_node_pad = bucket_size(base.num_nodes + 1, multiple)
    if n_edge_pad is None:
      n_edge_pad = bucket_size(max(base.num_edges, 1), multiple)
    graph = pad_graph(base.graph, n_node_pad, n_edge_pad)
    pad_n = n_node_pad - base.num_nodes
    pad_e = n_edge_pad - base.num_edges

    def extend(a, k, value=False):
      return np.concatenate([a, np.full((k,), value, a.dtype)])

    return dataclasses.replace(
        base, graph=graph, labels=extend(base.labels, pad_n, 0),
        train_mask=extend(base.train_mask, pad_n), val_mask=extend(base.val_mask, pad_n),
        test_mask=extend(base.test_mask, pad_n), node_mask=extend(base.node_mask, pad_n),
        edge_mask=extend(base.edge_mask, pad_e))


# Arrays are pytree leaves, the Python ints/strings static metadata: GraphData can be
# passed to jax.device_put or through jit.
jax.tree_util.register_dataclass(
    GraphData,
    data_fields=["graph", "labels", "train_mask", "val_mask", "test_mask",
                 "node_mask", "edge_mask"],
    meta_fields=["num_classes", "num_nodes", "num_edges", "name", "class_names"])


def bucket_size(n, multiple=None):
  """Rounds `n` up to the next power of two, or to the next multiple of `multiple`.

  Padding to a few bucketed sizes keeps the number of `jit` compilations small.
  """
  n = int(n)
  if n < 1:
    raise ValueError(f"bucket_size needs n >= 1, got {n}.")
  if multiple is None:
    return 1 << (n - 1).bit_length()
  if multiple < 1:
    raise ValueError(f"multiple must be >= 1, got {multiple}.")
  return -(-n // multiple) * multiple


def pad_graph(graph, n_node_pad, n_edge_pad):
  """Pads a `GraphsTuple` with one padding graph (plus `jraph.pad_with_graphs`).

  All padding edges connect the first padding node to itself, so no message from
  padding ever reaches a real node.

  Args:
    graph: a `GraphsTuple` of numpy arrays.
    n_node_pad: total number of nodes after padding; must exceed the real count.
    n_edge_pad: total number of edges after padding; at least the real count.

  Returns:
    The padded `GraphsTuple` with int32 `senders`, `receivers`, `n_node`, `n_edge`.
  """
  real_nodes = int(np.sum(graph.n_node))
  real_edges = int(np.sum(graph.n_edge))
  if n_node_pad <= real_nodes or n_edge_pad < real_edges:
    raise ValueError(
        f"Cannot pad a graph of {real_nodes} nodes / {real_edges} edges to "
        f"{n_node_pad} nodes / {n_edge_pad} edges: need n_node_pad > {real_nodes} "
        f"(at least one padding node) and n_edge_pad >= {real_edges}.")
  padded = jraph.pad_with_graphs(graph, n_node=n_node_pad, n_edge=n_edge_pad,
                                 n_graph=int(graph.n_node.shape[0]) + 1)
  # jraph offsets the padding indices with int64 sums; keep the int32 contract.
  return padded._replace(
      senders=padded.senders.astype(np.int32),
      receivers=padded.receivers.astype(np.int32),
      n_node=padded.n_node.astype(np.int32), n_edge=padded.n_edge.astype(np.int32))


def make_graph_data(features, senders, receivers, labels, train_mask, val_mask,
                    test_mask, num_classes, name="", class_names=None):
  """Assembles an unpadded `GraphData` from numpy arrays."""
  features = np.asarray(features, np.float32)
  n, e = features.shape[0], len(senders)
  graph = jraph.GraphsTuple(
      nodes=features, edges=None, senders=np.asarray(senders, np.int32),
      receivers=np.asarray(receivers, np.int32), n_node=np.array([n], np.int32),
      n_edge=np.array([e], np.int32), globals=None)
  return GraphData(
      graph=graph, labels=np.asarray(labels, np.int32),
      train_mask=np.asarray(train_mask, bool), val_mask=np.asarray(val_mask, bool),
      test_mask=np.asarray(test_mask, bool), node_mask=np.ones(n, bool),
      edge_mask=np.ones(e, bool), num_classes=int(num_classes), num_nodes=n,
      num_edges=e, name=name, class_names=class_names)


def symmetric_edges(senders, receivers, num_nodes):
  """Both directions of every edge, without self-loops or duplicates, sorted.

  The order (by sender, then receiver) is PyTorch Geometric's `coalesce` order.
  """
  s = np.concatenate([senders, receivers]).astype(np.int64)
  r = np.concatenate([receivers, senders]).astype(np.int64)
  keep = s != r
  key = np.unique(s[keep] * num_nodes + r[keep])
  return (key // num_nodes).astype(np.int32), (key % num_nodes).astype(np.int32)


def row_normalize(features):
  """Scales each row to sum 1 (rows summing to 0 stay 0), as in Kipf & Welling's GCN."""
  rowsum = features.sum(axis=1, keepdims=True)
  with np.errstate(divide="ignore"):
    inv = np.where(rowsum > 0, 1.0 / rowsum, 0.0)
  return (features * inv).astype(np.float32)


def index_to_mask(index, size):
  mask = np.zeros(size, bool)
  mask[index] = True
  return mask


def random_split(labels, num_train_per_class=20, num_val=500, num_test=1000, seed=0):
  """Seeded random node split: a fixed number of training nodes per class.

  Training nodes are drawn per class; validation and test nodes are drawn from the
  remaining labelled nodes (labels < 0 count as unlabelled and are never chosen).

  Args:
    labels: int `[N]`.
    num_train_per_class: training nodes per class.
    num_val: validation nodes.
    num_test: test nodes; `None` takes all remaining nodes.
    seed: the split is a pure function of (labels, sizes, seed).

  Returns:
    `(train_mask, val_mask, test_mask)`, disjoint bool arrays `[N]`.
  """
  labels = np.asarray(labels)
  rng = np.random.default_rng(seed)
  labelled = np.flatnonzero(labels >= 0)
  train = []
  for c in np.unique(labels[labelled]):
    idx = np.flatnonzero(labels == c)
    if len(idx) < num_train_per_class:
      raise ValueError(f"Class {c} has {len(idx)} nodes, fewer than "
                       f"num_train_per_class={num_train_per_class}.")
    train.append(rng.permutation(idx)[:num_train_per_class])
  train = np.concatenate(train) if train else np.zeros(0, np.int64)
  rest = rng.permutation(np.setdiff1d(labelled, train))
  if num_test is None:
    num_test = len(rest) - num_val
  if num_val + num_test > len(rest) or num_test < 0:
    raise ValueError(f"Only {len(rest)} labelled nodes remain after the training "
                     f"nodes; cannot take num_val={num_val} + num_test={num_test}.")
  n = len(labels)
  return (index_to_mask(train, n), index_to_mask(rest[:num_val], n),
          index_to_mask(rest[num_val:num_val + num_test], n))


# ---------------------------------------------------------------------------
# Planetoid (Yang et al. 2016) files as used by GCN and PyTorch Geometric.

PLANETOID_NAMES = ("cora", "citeseer", "pubmed")
_PLANETOID_PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
_SPARSE_NAMES = {"csr_matrix", "csc_matrix", "coo_matrix", "lil_matrix"}
_BUILTIN_NAMES = {"list", "dict", "set", "tuple", "int", "float"}


class _PlanetoidUnpickler(pickle.Unpickler):
  """Unpickler that resolves only the numpy/scipy.sparse/collections classes.

  The files are Python 2 pickles naming `scipy.sparse.csr` and `numpy.core`, module
  paths that SciPy 2 / NumPy 2 removed or deprecated; they are resolved here to
  their current homes. Any other global is refused, so a tampered file cannot run
  code even with `verify=False`.
  """

  def find_class(self, module, name):
    if module == "numpy" and name in ("ndarray", "dtype"):
      return getattr(np, name)
    if module in ("numpy.core.multiarray", "numpy._core.multiarray"):
      if name in ("_reconstruct", "scalar"):
        return getattr(_np_multiarray, name)
    if (module == "scipy.sparse" or module.startswith("scipy.sparse.")) and (
        name in _SPARSE_NAMES):
      return getattr(sp, name)
    if module == "collections" and name in ("defaultdict", "OrderedDict"):
      return getattr(collections, name)
    if module in ("__builtin__", "builtins") and name in _BUILTIN_NAMES:
      return getattr(builtins, name)
    raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def _unpickle(path):
  try:
    data = pathlib.Path(path).read_bytes()
    return _PlanetoidUnpickler(io.BytesIO(data), encoding="latin1").load()
  except Exception as e:  # pylint: disable=broad-except
    raise errors.CorruptDataError(
        f"{path}: cannot unpickle this Planetoid file ({type(e).__name__}: {e}); "
        "obtain it again from GitHub tkipf/gcn (gcn/data/).") from e


def _dense(m):
  return np.asarray(m.toarray() if sp.issparse(m) else m, np.float32)


@functools.lru_cache(maxsize=4)
def _read_planetoid(name, keys, normalize_features):
  paths = dict(zip(_PLANETOID_PARTS, (k[0] for k in keys)))
  obj = {p: _unpickle(paths[p]) for p in _PLANETOID_PARTS if p != "test.index"}
  try:
    test_index = np.array(pathlib.Path(paths["test.index"]).read_text().split(), np.int64)
  except ValueError as e:
    raise errors.CorruptDataError(
        f"{paths['test.index']}: expected one integer node id per line ({e}).") from e
  y, tx, ty, allx, ally = (_dense(obj[k]) for k in ("y", "tx", "ty", "allx", "ally"))
  sorted_test = np.sort(test_index)
  if name == "citeseer":
    # CiteSeer has isolated test nodes missing from tx/ty: zero features, label 0.
    span = int(test_index.max() - test_index.min()) + 1
    tx_ext = np.zeros((span, tx.shape[1]), np.float32)
    tx_ext[sorted_test - test_index.min()] = tx
    ty_ext = np.zeros((span, ty.shape[1]), np.float32)
    ty_ext[sorted_test - test_index.min()] = ty
    tx, ty = tx_ext, ty_ext
  features = np.concatenate([allx, tx])
  onehot = np.concatenate([ally, ty])
  # The test rows are stored in file order; put them at their node ids.
  features[test_index] = features[sorted_test]
  onehot[test_index] = onehot[sorted_test]
  labels = onehot.argmax(axis=1).astype(np.int32)
  n = features.shape[0]

  graph = obj["graph"]
  senders = np.repeat(np.fromiter(graph.keys(), np.int64, len(graph)),
                      [len(v) for v in graph.values()])
  receivers = np.fromiter((j for v in graph.values() for j in v), np.int64,
                          len(senders))
  if len(senders) and max(senders.max(), receivers.max()) >= n:
    raise errors.CorruptDataError(
        f"{paths['graph']}: node ids reach {max(senders.max(), receivers.max())} but "
        f"the feature files give {n} nodes; obtain the files again.")
  senders, receivers = symmetric_edges(senders, receivers, n)
  if normalize_features:
    features = row_normalize(features)
  masks = (index_to_mask(np.arange(len(y)), n),
           index_to_mask(np.arange(len(y), len(y) + 500), n),
           index_to_mask(test_index, n))
  arrays = (features, senders, receivers, labels) + masks
  return tuple(files.readonly(a) for a in arrays) + (int(onehot.shape[1]),)


def load_planetoid(name, split="all", *, data_dir=None, verify=True,
                   normalize_features=True):
  """Planetoid Cora, CiteSeer or PubMed with the public split (Yang et al.; Kipf & Welling).

  Processing follows GCN and PyTorch Geometric: test rows moved to their sorted ids,
  CiteSeer's 15 isolated test nodes added with zero features and label 0 (3327 nodes), edges
  symmetrised (as GCN's networkx code) without duplicates or self-loops (as PyG; PyG does not
  symmetrise, which changes nothing on the official files: Cora 10556, CiteSeer 9104 directed
  edges either way). Masks: train = the first 20 nodes per class
  (140 / 120 / 60), val = the next 500, test = the 1000 listed test nodes.
  PubMed (19717 nodes, 500 TF-IDF features, 3 classes; PyG counts 88648 directed edges) is
  not in the shared data folder: its files are checked by their git blob ids in tkipf/gcn and
  its processing is tested on synthetic files of the same format. Seven of its eight official
  files (all but `allx`) were also read once from a snapshot of tkipf/gcn: they pass the
  unpickler's allow-list, match their blob ids, and the graph gives PyG's 88648 edges.

  Args:
    name: "cora", "citeseer" or "pubmed".
    split: ignored apart from validation ("all", "train", "val", "test"): the
      graph is transductive and every split uses the same graph with masks.
    data_dir: data folder (default: `jaxlab.data.data_dir()`).
    verify: check all eight files' sha256 before unpickling any of them.
    normalize_features: row-normalise the bag-of-words features, as GCN does.

  Returns:
    An unpadded `GraphData`.
  """
  if name not in PLANETOID_NAMES:
    raise ValueError(
        f"Unknown Planetoid dataset {name!r}; valid: {list(PLANETOID_NAMES)}")
  _check_graph_split(name, split)
  paths = [files.locate(f"planetoid/ind.{name}.{p}", data_dir, verify)
           for p in _PLANETOID_PARTS]
  *arrays, num_classes = _read_planetoid(
      name, tuple(files.file_key(p) for p in paths), bool(normalize_features))
  return make_graph_data(*arrays, num_classes=num_classes, name=name)


GRAPH_SPLITS = ("all", "train", "val", "test")


def _check_graph_split(name, split):
  if split not in GRAPH_SPLITS:
    raise ValueError(f"Unknown split {split!r} for {name}; valid: {list(GRAPH_SPLITS)} "
                     "(all give the same graph; use its train/val/test masks).")


# ---------------------------------------------------------------------------
# gnn-benchmark npz (Shchur et al. 2018).

# Dataset name -> file stem in gnn-benchmark/ (the repository's names).
NPZ_FILES = {"cora": "cora", "citeseer": "citeseer",
             "amazon_computers": "amazon_electronics_computers",
             "amazon_photo": "amazon_electronics_photo"}
NPZ_NAMES = tuple(NPZ_FILES)


@functools.lru_cache(maxsize=4)
def _read_npz(key, normalize_features):
  path = key[0]
  try:
    with np.load(path, allow_pickle=False) as z:
      d = {k: z[k] for k in z.files}
    adj = sp.csr_matrix((d["adj_data"], d["adj_indices"], d["adj_indptr"]),
                        shape=tuple(d["adj_shape"]))
    attr = sp.csr_matrix((d["attr_data"], d["attr_indices"], d["attr_indptr"]),
                         shape=tuple(d["attr_shape"]))
    labels = d["labels"].astype(np.int32)
  except (OSError, ValueError, KeyError) as e:
    raise errors.CorruptDataError(
        f"{path}: cannot read this gnn-benchmark npz ({type(e).__name__}: {e}); "
        "obtain it again from GitHub shchur/gnn-benchmark (data/npz/).") from e
  n = adj.shape[0]
  coo = adj.tocoo()
  senders, receivers = symmetric_edges(coo.row, coo.col, n)
  features = attr.toarray().astype(np.float32)
  # Binary bag of words, as PyG's read_npz (Amazon); Cora and CiteSeer are 0/1 already.
  features = (features > 0).astype(np.float32)
  if normalize_features:
    features = row_normalize(features)
  class_names = tuple(str(c) for c in d.get("class_names", ())) or None
  num_classes = len(class_names) if class_names else int(labels.max()) + 1
  arrays = tuple(files.readonly(a) for a in (features, senders, receivers, labels))
  return arrays, num_classes, class_names


def load_gnn_benchmark(name, split="all", *, data_dir=None, verify=True,
                       normalize_features=True, num_train_per_class=20, num_val=500,
                       num_test=1000, split_seed=0):
  """A gnn-benchmark npz graph (Cora: 2708 nodes, 5278 undirected edges).

  The format defines no split, so masks come from `random_split` with the given
  sizes and `split_seed` (the defaults mimic the Planetoid split sizes). Processed as PyG's
  `Amazon` / `CitationFull` readers: the whole graph (no largest-component cut), features
  binarised, edges symmetric without duplicates or self-loops. Amazon Computers (PyG: 13752
  nodes, 491722 directed edges, 767 features, 10 classes) and Amazon Photo (7650 / 238162 /
  745 / 8) are not in the shared data folder: their files are checked by their git blob ids
  in shchur/gnn-benchmark and the reader is tested on synthetic files of the same format.

  Args:
    name: one of `NPZ_NAMES` ("cora", "citeseer", "amazon_computers", "amazon_photo").
    split: validated only; see `load_planetoid`.
    data_dir: data folder (default: `jaxlab.data.data_dir()`).
    verify: check the file's sha256 first.
    normalize_features: row-normalise the features.
    num_train_per_class, num_val, num_test, split_seed: see `random_split`.

  Returns:
    An unpadded `GraphData` named "<name>_npz" for Cora / CiteSeer (their Planetoid
    versions own the plain name), else "<name>".
  """
  if name not in NPZ_NAMES:
    raise ValueError(f"Unknown gnn-benchmark dataset {name!r}; valid: {list(NPZ_NAMES)}")
  gname = f"{name}_npz" if name in PLANETOID_NAMES else name
  _check_graph_split(gname, split)
  path = files.locate(f"gnn-benchmark/{NPZ_FILES[name]}.npz", data_dir, verify)
  (features, senders, receivers, labels), num_classes, class_names = _read_npz(
      files.file_key(path), bool(normalize_features))
  masks = random_split(labels, num_train_per_class, num_val, num_test, split_seed)
  return make_graph_data(features, senders, receivers, labels, *masks,
                         num_classes=num_classes, name=gname,
                         class_names=class_names)
