"""Readers on the real files: the well-known counts of every dataset."""

import numpy as np
import pytest

import jaxlab.data as jd

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize("split,n", [("train", 60000), ("test", 10000)])
def test_mnist(data_dir, split, n):
  ds = jd.get_dataset("mnist", split, data_dir=data_dir)
  image, label = ds.arrays["image"], ds.arrays["label"]
  assert len(ds) == n
  assert image.shape == (n, 28, 28, 1) and image.dtype == np.uint8
  assert label.shape == (n,) and label.dtype == np.int32
  assert ds.num_classes == 10
  if split == "test":
    np.testing.assert_array_equal(np.bincount(label), MNIST_TEST_COUNTS)
  else:
    assert abs(image.mean() / 255 - 0.1307) < 1e-3


def test_mnist_parse_is_cached(data_dir):
  first = jd.get_dataset("mnist", "train", data_dir=data_dir)
  again = jd.get_dataset("mnist", "train", data_dir=data_dir)
  # Cached: the second load returns the very same arrays (no second hash or parse) ...
  assert again.arrays["image"] is first.arrays["image"]
  assert not again.arrays["image"].flags.writeable  # ... so the shared copy is protected


def test_fashion_mnist(data_dir):
  for split, n in (("train", 60000), ("test", 10000)):
    ds = jd.get_dataset("fashion_mnist", split, data_dir=data_dir)
    assert ds.arrays["image"].shape == (n, 28, 28, 1)
    np.testing.assert_array_equal(np.bincount(ds.arrays["label"]), [n // 10] * 10)
  assert ds.class_names[9] == "Ankle boot"


def test_cifar10_subset(data_dir):
  train = jd.get_dataset("cifar10", "train", data_dir=data_dir)
  test = jd.get_dataset("cifar10", "test", data_dir=data_dir)
  assert train.arrays["image"].shape == (4000, 32, 32, 3)
  assert train.arrays["image"].dtype == np.uint8
  assert test.arrays["image"].shape == (1000, 32, 32, 3)
  np.testing.assert_array_equal(train.arrays["label"][:5], [6, 9, 9, 4, 1])
  np.testing.assert_array_equal(test.arrays["label"][:5], [3, 8, 8, 0, 6])
  assert train.arrays["label"].dtype == np.int32
  assert train.class_names[0] == "airplane" and train.num_classes == 10


@pytest.mark.parametrize("name,nodes,edges,feats,classes,masks", [
    ("cora", 2708, 10556, 1433, 7, (140, 500, 1000)),
    ("citeseer", 3327, 9104, 3703, 6, (120, 500, 1000)),
])
def test_planetoid(data_dir, name, nodes, edges, feats, classes, masks):
  g = jd.get_dataset(name, data_dir=data_dir)
  assert (g.num_nodes, g.num_edges, g.num_classes) == (nodes, edges, classes)
  assert g.graph.nodes.shape == (nodes, feats) and g.graph.nodes.dtype == np.float32
  assert g.graph.senders.dtype == np.int32 and g.graph.receivers.dtype == np.int32
  assert g.graph.globals is None
  np.testing.assert_array_equal(g.graph.n_node, [nodes])
  np.testing.assert_array_equal(g.graph.n_edge, [edges])
  assert (g.train_mask.sum(), g.val_mask.sum(), g.test_mask.sum()) == masks
  assert not (g.train_mask & g.val_mask).any() and not (g.val_mask & g.test_mask).any()
  # Public split: 20 training nodes per class, the first len(y) nodes.
  np.testing.assert_array_equal(np.bincount(g.labels[g.train_mask]), [20] * classes)
  assert g.train_mask[:masks[0]].all()
  # Symmetric, no self-loops, no duplicates.
  s, r = g.graph.senders.astype(np.int64), g.graph.receivers.astype(np.int64)
  assert (s != r).all()
  fwd = set((s * nodes + r).tolist())
  assert len(fwd) == edges and fwd == set((r * nodes + s).tolist())
  # Row-normalised by default (rows with no words stay zero).
  sums = g.graph.nodes.sum(1)
  assert np.allclose(sums[sums > 0], 1.0, atol=1e-5)


def test_planetoid_matches_pyg(data_dir):
  """First labels and edges as PyTorch Geometric's Planetoid('Cora') gives them."""
  g = jd.get_dataset("cora", data_dir=data_dir, normalize_features=False)
  np.testing.assert_array_equal(g.labels[:10], [3, 4, 4, 0, 3, 2, 0, 3, 3, 2])
  np.testing.assert_array_equal(g.graph.senders[:3], [0, 0, 0])
  np.testing.assert_array_equal(g.graph.receivers[:3], [633, 1862, 2582])
  np.testing.assert_array_equal(np.bincount(g.labels),
                                [351, 217, 418, 818, 426, 298, 180])
  assert g.graph.nodes.sum() == 49216  # binary bag of words
  c = jd.get_dataset("citeseer", data_dir=data_dir, normalize_features=False)
  assert (c.graph.nodes.sum(1) == 0).sum() == 15  # the padded isolated test nodes


def test_gnn_benchmark(data_dir):
  g = jd.get_dataset("cora_npz", data_dir=data_dir)
  assert g.num_nodes == 2708 and g.num_edges == 2 * 5278
  assert g.graph.nodes.shape == (2708, 1433) and g.num_classes == 7
  assert (g.train_mask.sum(), g.val_mask.sum(), g.test_mask.sum()) == (140, 500, 1000)
  again = jd.get_dataset("cora_npz", data_dir=data_dir)
  np.testing.assert_array_equal(g.train_mask, again.train_mask)
  other = jd.get_dataset("cora_npz", data_dir=data_dir, split_seed=1)
  assert (other.train_mask != g.train_mask).any()
  c = jd.get_dataset("citeseer_npz", data_dir=data_dir)
  assert c.num_nodes == 3312 and c.num_edges == 2 * 4536


def test_movielens(data_dir):
  ml = jd.get_dataset("movielens100k", "all", data_dir=data_dir)
  assert len(ml) == 100000 and (ml.num_users, ml.num_items) == (943, 1682)
  assert ml.user.dtype == np.int32 and ml.item.dtype == np.int32
  assert ml.rating.dtype == np.float32 and ml.timestamp.dtype == np.int64
  assert (ml.user.min(), ml.user.max(), ml.item.min(), ml.item.max()) == (0, 942, 0, 1681)
  np.testing.assert_array_equal(np.bincount(ml.rating.astype(int))[1:],
                                [6110, 11370, 27145, 34174, 21201])
  assert ml.item_titles[0] == "Toy Story (1995)" and ml.item_genres.shape == (1682, 19)
  assert len(jd.get_dataset("movielens100k", "u1.base", data_dir=data_dir)) == 80000
  ua = jd.get_dataset("movielens100k", "ua.test", data_dir=data_dir, with_items=False)
  assert len(ua) == 9430
  np.testing.assert_array_equal(np.bincount(ua.user), [10] * 943)


def test_tinyshakespeare(data_dir):
  full = jd.get_dataset("tinyshakespeare", "all", data_dir=data_dir)
  assert len(full) == 1115394 and full.vocab_size == 65
  assert full.decode(full.tokens[:14]) == "First Citizen:"
  train = jd.get_dataset("tinyshakespeare", "train", data_dir=data_dir)
  val = jd.get_dataset("tinyshakespeare", "val", data_dir=data_dir)
  assert len(train) == int(0.9 * 1115394) and len(train) + len(val) == 1115394
  ids = train.encode("Hello, world!\n")
  assert ids.dtype == np.int32 and train.decode(ids) == "Hello, world!\n"
  with pytest.raises(ValueError, match="not in the vocabulary"):
    train.encode("é")


def test_collegemsg(data_dir):
  cm = jd.get_dataset("collegemsg", data_dir=data_dir)
  assert (cm.num_nodes, cm.num_edges) == (1899, 59835)
  assert cm.src.dtype == np.int32 and cm.t.dtype == np.int64
  assert min(cm.src.min(), cm.dst.min()) == 0
  assert max(cm.src.max(), cm.dst.max()) == 1898
  assert (np.diff(cm.t) >= 0).all()


def test_proteus(data_dir):
  p = jd.get_dataset("proteus_lfq", data_dir=data_dir)
  assert len(p) == 3883 and len(p.columns) == 161
  assert p.lfq.shape == (3883, 14) and p.lfq.dtype == np.float64
  assert (p.reverse.sum(), p.contaminant.sum(), p.only_by_site.sum()) == (68, 13, 112)
  assert p.samples[:2] == ("A-1", "A-2") and p.conditions.count("A") == 7
  assert (p.lfq > 0).all(axis=1).sum() == 2284
  assert p.protein_ids[0] == p["Protein IDs"][0]
  np.testing.assert_array_equal(p.numeric("LFQ intensity B-7"), p.lfq[:, 13])
