"""PubMed and Amazon readers: not in the shared data folder, so their formats are checked on
synthetic files written the way the official ones are (pickled scipy / numpy objects, gnn-benchmark
npz), and their pinning by git blob id against the official repositories' ids."""

import collections
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

import jaxlab.data as jd
from jaxlab.data import checksums
from jaxlab.data import graphs


def test_git_blob_sha1_closed_form(tmp_path):
  p = tmp_path / "hello"
  p.write_bytes(b"hello\n")
  assert checksums.git_blob_sha1(p) == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_git_blob_ids_match_the_official_repositories_on_shared_files(data_dir):
  """The shared Cora / CiteSeer copies carry the blob ids that tkipf/gcn and
  shchur/gnn-benchmark list for them, so the PubMed / Amazon ids are the same kind of pin."""
  official = {"gnn-benchmark/cora.npz": "b08fd856430b2b7787aa646a33ad51132b4f6f80",
              "gnn-benchmark/citeseer.npz": "0e71905a80ab405875cc6c7a7a15190aa35fec79",
              "planetoid/ind.cora.allx": "44d53b1fece343538e45592caac521d73c6f98d6"}
  for rel, blob in official.items():
    assert checksums.git_blob_sha1(data_dir / rel) == blob, rel


def _write_planetoid(root, name, rng, n=540, f=6, c=3, n_train=9, n_test=12):
  """Planetoid files: x/y = the first n_train nodes, allx/ally = all non-test nodes,
  tx/ty = the test nodes in the order of test.index (shuffled ids at the end of the graph)."""
  labels = rng.integers(0, c, n)
  feats = (rng.random((n, f)) * (rng.random((n, f)) < 0.5)).astype(np.float32)
  onehot = np.eye(c, dtype=np.float32)[labels]
  test_ids = rng.permutation(np.arange(n - n_test, n))
  objs = {"x": sp.csr_matrix(feats[:n_train]), "y": onehot[:n_train],
          "allx": sp.csr_matrix(feats[:n - n_test]), "ally": onehot[:n - n_test],
          "tx": sp.csr_matrix(feats[test_ids]), "ty": onehot[test_ids]}
  adj = collections.defaultdict(list)
  for s, r in rng.integers(0, n, (3 * n, 2)):
    adj[int(s)].append(int(r))
  adj[0] += [0, 1, 1]                                    # a self-loop and a duplicate
  objs["graph"] = adj
  d = root / "planetoid"
  d.mkdir(parents=True, exist_ok=True)
  for k, v in objs.items():
    with open(d / f"ind.{name}.{k}", "wb") as fh:
      pickle.dump(v, fh, protocol=4)
  (d / f"ind.{name}.test.index").write_text("\n".join(map(str, test_ids)) + "\n")
  return feats, labels, adj, test_ids


def test_pubmed_reader_on_planetoid_format_files(tmp_path):
  rng = np.random.default_rng(0)
  feats, labels, adj, test_ids = _write_planetoid(tmp_path, "pubmed", rng)
  g = jd.get_dataset("pubmed", data_dir=tmp_path, verify=False, normalize_features=False)
  n = len(labels)
  assert g.name == "pubmed" and g.num_classes == 3 and g.graph.nodes.shape == (n, 6)
  np.testing.assert_allclose(np.asarray(g.graph.nodes), feats)   # test rows at their ids
  np.testing.assert_array_equal(np.asarray(g.labels), labels)
  want = {(s, r) for s, rs in adj.items() for r in rs if s != r}
  want |= {(r, s) for s, r in want}
  got = list(zip(np.asarray(g.graph.senders).tolist(), np.asarray(g.graph.receivers).tolist()))
  assert len(got) == len(set(got)) and set(got) == want
  assert np.flatnonzero(g.train_mask).tolist() == list(range(9))
  assert np.flatnonzero(g.val_mask).tolist() == list(range(9, 509))
  assert sorted(np.flatnonzero(g.test_mask).tolist()) == sorted(test_ids.tolist())
  normed = jd.get_dataset("pubmed", data_dir=tmp_path, verify=False)
  sums = np.asarray(normed.graph.nodes).sum(1)
  np.testing.assert_allclose(sums[sums > 0], 1.0, rtol=1e-5)


def test_pubmed_files_are_checked_against_the_official_blob_ids(tmp_path):
  _write_planetoid(tmp_path, "pubmed", np.random.default_rng(1))
  with pytest.raises(jd.CorruptDataError, match="git blob id") as info:
    jd.get_dataset("pubmed", data_dir=tmp_path)
  assert checksums.GIT_BLOB_SHA1["planetoid/ind.pubmed.x"] in str(info.value)
  with pytest.raises(jd.MissingDataError, match="tkipf/gcn"):
    jd.get_dataset("pubmed", data_dir=tmp_path / "empty")


@pytest.mark.parametrize("name,stem,c", [("amazon_computers", "amazon_electronics_computers", 10),
                                         ("amazon_photo", "amazon_electronics_photo", 8)])
def test_amazon_reader_on_gnn_benchmark_npz(tmp_path, name, stem, c):
  rng = np.random.default_rng(2)
  n, f = 80, 9
  counts = rng.integers(0, 4, (n, f)) * (rng.random((n, f)) < 0.4)   # word counts, not 0/1
  counts[5] = 0                                                      # a node with no words
  a = sp.random(n, n, density=0.05, random_state=3, format="csr")
  a.data[:] = 1.0
  a = (a + sp.eye(n, format="csr")).tocsr()                          # self-loops to drop
  attr = sp.csr_matrix(counts.astype(np.float32))
  labels = np.arange(n) % c
  (tmp_path / "gnn-benchmark").mkdir()
  np.savez(tmp_path / "gnn-benchmark" / f"{stem}.npz",
           adj_data=a.data, adj_indices=a.indices, adj_indptr=a.indptr, adj_shape=a.shape,
           attr_data=attr.data, attr_indices=attr.indices, attr_indptr=attr.indptr,
           attr_shape=attr.shape, labels=labels,
           class_names=np.asarray([f"class {i}" for i in range(c)]))
  g = jd.get_dataset(name, data_dir=tmp_path, verify=False, normalize_features=False,
                     num_train_per_class=2, num_val=10, num_test=20)
  assert g.name == name and g.num_classes == c and g.graph.nodes.shape == (n, f)
  np.testing.assert_array_equal(np.asarray(g.graph.nodes), (counts > 0).astype(np.float32))
  coo = a.tocoo()
  want = {(s, r) for s, r in zip(coo.row.tolist(), coo.col.tolist()) if s != r}
  want |= {(r, s) for s, r in want}
  got = list(zip(np.asarray(g.graph.senders).tolist(), np.asarray(g.graph.receivers).tolist()))
  assert len(got) == len(set(got)) and set(got) == want
  assert int(g.train_mask.sum()) == 2 * c and int(g.val_mask.sum()) == 10
  assert int(g.test_mask.sum()) == 20
  assert not np.any(g.train_mask & g.test_mask)
  with pytest.raises(jd.CorruptDataError, match="git blob id"):
    jd.get_dataset(name, data_dir=tmp_path)
  with pytest.raises(jd.MissingDataError, match="shchur/gnn-benchmark"):
    jd.get_dataset(name, data_dir=tmp_path / "empty")


@pytest.mark.parametrize("name", ["pubmed", "amazon_computers", "amazon_photo"])
def test_fake_variants_match_the_real_shapes(name):
  g = jd.get_dataset(name, source="fake", num_nodes=120)
  f, c = {"pubmed": (500, 3), "amazon_computers": (767, 10), "amazon_photo": (745, 8)}[name]
  assert g.graph.nodes.shape == (120, f) and g.num_classes == c
  assert name in jd.list_datasets("local")
  assert graphs.PLANETOID_NAMES.count(name) + graphs.NPZ_NAMES.count(name) == 1
