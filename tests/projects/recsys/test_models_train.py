"""recsys model API (recommend, save/load, errors), every config file, and smoke runs of
train_and_evaluate on the real ML-100K files with tiny limits."""

import json
import pathlib

import numpy as np
import pytest

from jaxlab import configs
from jaxlab.projects import get_entry_point
from jaxlab.projects import recsys
from jaxlab.projects.recsys import data as rdata

REPO = pathlib.Path(__file__).resolve().parents[3]
CONFIGS = sorted((REPO / "configs/recsys").glob("*.py"))


def _toy(n=60, users=8, items=12, seed=0):
  rng = np.random.RandomState(seed)
  pairs = rng.choice(users * items, n, replace=False)
  return rdata.make_ratings(pairs // items, pairs % items, rng.randint(1, 6, n),
                            num_users=users, num_items=items,
                            timestamp=rng.randint(8.7e8, 8.9e8, n))


FAST = {"svd": dict(n_factors=3, n_epochs=2), "svdpp": dict(n_factors=3, n_epochs=2),
        "nmf": dict(n_factors=3, n_epochs=2), "knn_baseline": dict(k=3),
        "ials": dict(n_factors=3, n_iters=2), "bpr": dict(n_factors=3, n_epochs=2),
        "fm": dict(n_factors=3, n_epochs=1), "baseline_only": {}, "popularity": {}}


@pytest.mark.parametrize("algo", sorted(FAST))
def test_save_load_roundtrip_and_recommend(algo, tmp_path):
  d = _toy()
  m = recsys.fit(algo, d, seed=1, **FAST[algo])
  path = recsys.save(m, tmp_path / algo)
  assert path.suffix == ".npz"
  m2 = recsys.load(path, expected_algo=algo)
  assert m2.meta == json.loads(json.dumps(m.meta))
  u, i = np.arange(8).repeat(12), np.tile(np.arange(12), 8)
  np.testing.assert_allclose(recsys.predict(m2, u, i), recsys.predict(m, u, i), rtol=1e-6)
  items, scores = recsys.recommend(m2, 2, k=4)
  seen = set(d.item[d.user == 2].tolist())
  assert len(items) == 4 and not seen & set(items.tolist())
  assert np.all(np.diff(scores) <= 1e-6)
  with_seen, _ = recsys.recommend(m2, 2, k=12, exclude_seen=False)
  assert sorted(with_seen.tolist()) == list(range(12))


def test_load_errors(tmp_path):
  m = recsys.fit("baseline_only", _toy())
  good = recsys.save(m, tmp_path / "m.npz")
  with pytest.raises(recsys.ModelFileError, match="expected 'svd'"):
    recsys.load(good, expected_algo="svd")
  with pytest.raises(recsys.ModelFileError, match="no such"):
    recsys.load(tmp_path / "missing.npz")
  bad = tmp_path / "corrupt.npz"
  bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
  with pytest.raises(recsys.ModelFileError, match="corrupt.npz"):
    recsys.load(bad)
  other = tmp_path / "other.npz"
  np.savez(other, x=np.zeros(3))
  with pytest.raises(recsys.ModelFileError, match="__header__"):
    recsys.load(other)
  # A header that does not match its arrays (e.g. a hand-edited file).
  z = dict(np.load(good))
  z["p/bu"] = np.zeros(3, np.float32)
  mism = tmp_path / "mismatch.npz"
  np.savez(mism, **z)
  with pytest.raises(recsys.ModelFileError, match="'bu'"):
    recsys.load(mism)


def test_unknown_names_fail_clearly():
  with pytest.raises(ValueError, match="svdpp"):
    recsys.fit("svd+++", _toy())
  with pytest.raises(KeyError, match="n_factors"):
    recsys.fit("svd", _toy(), n_factor=3)
  m = recsys.fit("popularity", _toy())
  with pytest.raises(ValueError, match="outside"):
    recsys.recommend(m, 99)


def test_every_algorithm_has_a_config():
  algos = {configs.load_config(str(p)).model.name for p in CONFIGS}
  assert algos == set(recsys.list_algorithms())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_configs_load_with_valid_hparams(path):
  for arg in (None, "smoke"):
    c = configs.load_config(str(path), arg)
    assert c.project == "recsys" and c.smoke == (arg == "smoke")
    recsys.resolve_hparams(c.model.name, c.model.hparams.to_dict())
  c = configs.load_config(str(path), "smoke")
  assert c.eval.num_folds == 1 and 0 < c.data.limit <= 2000


def _run(name, tmp_path, arg):
  c = configs.load_config(str(REPO / f"configs/recsys/{name}.py"), arg)
  res = get_entry_point(c.project)(c, str(tmp_path))
  on_disk = json.loads((tmp_path / "results.json").read_text())
  assert on_disk.keys() == res.keys()
  assert (tmp_path / "config.json").exists() and (tmp_path / "model.npz").exists()
  return res


def test_train_and_evaluate_svd_cv5(tmp_path, data_dir):
  res = _run("svd", tmp_path, "smoke,eval.ranking=True")
  assert res["protocol"] == "cv5" and res["num_folds"] == 1
  assert 0.0 <= res["ndcg@10_mean"] <= 1.0
  fold = res["folds"][0]
  assert fold["num_train"] + fold["num_test"] == 2000 and fold["num_test"] == 400
  assert 0.7 < res["rmse_mean"] < 1.6 and 0.5 < res["mae_mean"] < 1.3
  assert res["compile_time_s"] > 0 and res["total_time_excl_compile_s"] >= 0
  m = recsys.load(res["model_path"], expected_algo="svd")
  assert m.meta["num_train"] == 1600


def test_train_and_evaluate_official_knn(tmp_path, data_dir):
  res = _run("knn_with_means", tmp_path,
             "smoke,eval.protocol=official,eval.num_folds=2,data.limit=1500")
  assert [f["test_split"] for f in res["folds"]] == ["u1.test", "u2.test"]
  assert {"rmse_mean", "rmse_std", "mae_mean", "mae_std"} <= res.keys()


def test_train_and_evaluate_implicit_split75_and_loo(tmp_path, data_dir):
  res = _run("bpr", tmp_path / "bpr", "smoke")
  assert res["kind"] == "implicit" and "rmse_mean" not in res
  assert 0.0 <= res["ndcg@10_mean"] <= 1.0 and res["folds"][0]["num_users"] > 0
  res = _run("popularity", tmp_path / "pop", "smoke,eval.protocol=loo")
  assert 0.0 <= res["sampled_hr@10_mean"] <= 1.0 and "precision@10_mean" in res


def test_train_and_evaluate_rejects_bad_protocol(tmp_path):
  c = configs.load_config(str(REPO / "configs/recsys/popularity.py"), "smoke,eval.protocol=cv3")
  with pytest.raises(ValueError, match="cv5"):
    get_entry_point("recsys")(c, str(tmp_path))


def test_collect_gates_pass_and_fail():
  from jaxlab.projects.recsys import collect
  rows = [{"run": "svd", "rmse_mean": 0.934}, {"run": "fm_user_item", "rmse_mean": 0.95},
          {"run": "fm", "rmse_mean": 0.9515}, {"run": "bpr", "ndcg@10_mean": 0.41,
                                               "precision@10_mean": 0.34},
          {"run": "popularity", "ndcg@10_mean": 0.37}]
  g = collect.gates(rows)
  assert g["svd rmse 0.934±0.006"]["pass"]
  assert not g["fm(user+item) within 0.01 of svd"]["pass"]  # 0.016 apart
  assert g["fm(+side) <= fm(user+item) + 0.002"]["pass"]
  assert g["bpr ndcg@10 >= 0.40"]["pass"] and not g["bpr precision@10 >= 0.35"]["pass"]
  assert not g["bpr beats popularity by >= 0.05 ndcg@10"]["pass"]  # +0.04
  assert "ials ndcg@10 >= 0.40" not in g  # not measured -> not reported


def test_compare_quick_without_reference_libraries(data_dir, monkeypatch):
  monkeypatch.setenv("JAXLAB_DATA", str(data_dir))
  from jaxlab.projects.recsys import compare
  row = compare.compare_algo("baseline_only", quick=True, reps=1, live=False, log=lambda s: None)
  assert row["num_folds"] == 1 and row["reference"] is None and "ratio" not in row
  assert 0.5 < row["ours"]["rmse"] < 1.6 and row["ours_time_s"] >= 0
