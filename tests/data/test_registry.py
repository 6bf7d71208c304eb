"""Registry: names and splits, fake datasets for every name, and the TFDS path."""

import numpy as np
import pytest

import jaxlab.data as jd


def test_bad_name_lists_valid_names():
  with pytest.raises(KeyError, match="valid names: .*cora.*mnist"):
    jd.get_dataset("imagenet")


def test_bad_split_lists_valid_splits():
  with pytest.raises(ValueError, match="valid splits: train, test"):
    jd.get_dataset("mnist", "validation", source="fake")
  with pytest.raises(ValueError, match="u1.base"):
    jd.get_dataset("movielens100k", "u9.base")
  with pytest.raises(ValueError, match="valid sources"):
    jd.get_dataset("kmnist")
  with pytest.raises(ValueError, match="valid: "):
    jd.get_dataset("mnist", source="web")


def test_list_datasets():
  names = jd.list_datasets()
  assert {"mnist", "cora", "citeseer_npz", "movielens100k", "proteus_lfq"} <= set(names)
  assert set(jd.list_datasets("tfds")) == {"mnist", "fashion_mnist", "cifar10",
                                           "cifar100", "kmnist"}
  assert "kmnist" not in jd.list_datasets("local")


IMAGES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "kmnist": (28, 28, 1),
          "cifar10": (32, 32, 3), "cifar100": (32, 32, 3)}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_fake_images(name):
  ds = jd.get_dataset(name, "test", source="fake", seed=1)
  assert isinstance(ds, jd.ArrayDataset) and len(ds) == 256
  assert ds.arrays["image"].shape == (256,) + IMAGES[name]
  assert ds.arrays["image"].dtype == np.uint8 and ds.arrays["label"].dtype == np.int32
  assert ds.arrays["label"].max() < ds.num_classes
  again = jd.get_dataset(name, "test", source="fake", seed=1)
  np.testing.assert_array_equal(ds.arrays["image"], again.arrays["image"])
  other = jd.get_dataset(name, "train", source="fake", seed=1)
  assert not np.array_equal(ds.arrays["image"], other.arrays["image"])


@pytest.mark.parametrize("name,feats,classes", [
    ("cora", 1433, 7), ("citeseer", 3703, 6), ("cora_npz", 1433, 7),
    ("citeseer_npz", 3703, 6)])
def test_fake_graphs(name, feats, classes):
  g = jd.get_dataset(name, source="fake")
  assert isinstance(g, jd.GraphData) and g.num_nodes == 64
  assert g.graph.nodes.shape == (64, feats) and g.graph.nodes.dtype == np.float32
  assert g.graph.senders.dtype == np.int32 and g.num_classes == classes
  assert g.labels.dtype == np.int32 and g.labels.max() < classes
  np.testing.assert_array_equal(np.bincount(g.labels[g.train_mask], minlength=classes),
                                [2] * classes)
  assert g.val_mask.sum() == 20 and g.test_mask.sum() == 64 - 20 - 2 * classes
  s, r = g.graph.senders.astype(int), g.graph.receivers.astype(int)
  assert set((s * 64 + r).tolist()) == set((r * 64 + s).tolist()) and (s != r).all()


def test_fake_other_types():
  ml = jd.get_dataset("movielens100k", source="fake")
  assert isinstance(ml, jd.RatingsData) and len(ml) == 2000
  assert ml.user.dtype == np.int32 and ml.rating.dtype == np.float32
  assert ml.timestamp.dtype == np.int64 and ml.user.max() < ml.num_users
  assert ml.item_genres.shape == (ml.num_items, 19)
  text = jd.get_dataset("tinyshakespeare", "all", source="fake")
  assert isinstance(text, jd.TextData) and len(text) == 2000 and text.vocab_size == 65
  assert text.tokens.dtype == np.uint8
  assert len(jd.get_dataset("tinyshakespeare", source="fake")) == 1800
  cm = jd.get_dataset("collegemsg", source="fake")
  assert isinstance(cm, jd.TemporalEdges) and cm.src.dtype == np.int32
  assert cm.t.dtype == np.int64 and (np.diff(cm.t) >= 0).all()
  pg = jd.get_dataset("proteus_lfq", source="fake")
  assert isinstance(pg, jd.ProteinGroups) and pg.lfq.shape == (200, 14)
  assert pg.lfq.dtype == np.float64 and pg.reverse.dtype == bool
  np.testing.assert_array_equal(pg.numeric("LFQ intensity A-1"), pg.lfq[:, 0])


def test_fake_never_touches_disk(tmp_path, monkeypatch):
  monkeypatch.setenv("JAXLAB_DATA", str(tmp_path / "absent"))
  for name in jd.list_datasets("fake"):
    jd.get_dataset(name, source="fake")
  assert not (tmp_path / "absent").exists()


def test_tfds_mock_mnist(tmp_path):
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=12):
    ds = jd.get_dataset("mnist", "train", source="tfds", data_dir=tmp_path)
  assert isinstance(ds, jd.ArrayDataset) and len(ds) == 12
  assert ds.arrays["image"].shape == (12, 28, 28, 1)
  assert ds.arrays["image"].dtype == np.uint8 and ds.arrays["label"].dtype == np.int32
  assert ds.num_classes == 10
  batch = next(jd.batch_iterator(ds, 4, seed=0))
  assert batch["image"].shape == (4, 28, 28, 1)


def test_tfds_not_prepared_says_how(tmp_path):
  pytest.importorskip("tensorflow_datasets")
  with pytest.raises(jd.MissingDataError, match=r"jaxlab\.data\.prepare mnist"):
    jd.get_dataset("mnist", source="tfds", data_dir=tmp_path)
