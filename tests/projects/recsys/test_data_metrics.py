"""recsys data plumbing (folds, orders, splits, side data) and metrics against naive numpy."""

import math

import numpy as np
import pytest

from jaxlab.projects.recsys import data as rdata
from jaxlab.projects.recsys import metrics


def _toy(n=60, users=7, items=9, seed=0):
  rng = np.random.RandomState(seed)
  pairs = rng.choice(users * items, n, replace=False)
  return rdata.make_ratings(pairs // items, pairs % items, rng.randint(1, 6, n),
                            num_users=users, num_items=items,
                            timestamp=rng.randint(0, 10**6, n))


def test_cv_folds_reproduce_surprise_kfold():
  data = _toy(n=53)
  folds = rdata.cv_folds(data, 5, seed=0)
  # Surprise's KFold.split, written out: RandomState(0).shuffle, first n % k folds get +1.
  idx = np.arange(53)
  np.random.RandomState(0).shuffle(idx)
  sizes = [11, 11, 11, 10, 10]
  start = 0
  for (tr, te), s in zip(folds, sizes):
    np.testing.assert_array_equal(te, idx[start:start + s])
    np.testing.assert_array_equal(tr, np.concatenate([idx[:start], idx[start + s:]]))
    start += s
  all_test = np.concatenate([te for _, te in folds])
  assert sorted(all_test) == list(range(53))
  other = rdata.cv_folds(data, 5, seed=1)
  assert not np.array_equal(other[0][1], folds[0][1])


def test_surprise_order_groups_by_first_appearance():
  user = np.array([3, 1, 3, 0, 1, 3, 0])
  # Surprise's construct_trainset: dict ur filled in raw order; all_ratings walks ur.items().
  ur = {}
  for pos, u in enumerate(user):
    ur.setdefault(u, []).append(pos)
  expected = [p for ps in ur.values() for p in ps]
  np.testing.assert_array_equal(rdata.surprise_order(user), expected)
  np.testing.assert_array_equal(rdata.first_appearance(user), [3, 1, 0])


def test_stratified_split_and_leave_one_out():
  data = _toy(n=60)
  tr, te = rdata.stratified_split(data, 0.75, seed=42)
  assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == 60
  for u in range(data.num_users):
    n_u = (data.user == u).sum()
    assert (data.user[tr] == u).sum() == int(round(0.75 * n_u))
  tr, te = rdata.leave_one_out(data)
  assert len(te) == len(np.unique(data.user))
  for t in te:
    mine = data.user == data.user[t]
    assert data.timestamp[t] == data.timestamp[mine].max()


def test_padded_lists_and_csr():
  rows, cols = np.array([2, 0, 2, 2, 1]), np.array([5, 3, 1, 4, 0])
  idx, mask, vals = rdata.padded_lists(rows, cols, 4, pad_value=-1, values=cols * 1.0)
  assert idx.shape == (4, 3)
  np.testing.assert_array_equal(idx[2], [5, 1, 4])
  np.testing.assert_array_equal(mask.sum(1), [1, 1, 3, 0])
  np.testing.assert_array_equal(idx[3], [-1, -1, -1])
  indptr, items = rdata.csr(rows, cols, 4)
  np.testing.assert_array_equal(indptr, [0, 1, 2, 5, 5])
  np.testing.assert_array_equal(items[2:5], [1, 4, 5])


def test_official_splits_and_user_features(data_dir):
  base, test = rdata.load("u1.base"), rdata.load("u1.test")
  assert len(base) == 80000 and len(test) == 20000
  pairs = rdata.protocol_folds(None, "official", num_folds=2, load_fn=rdata.load)
  assert [p[1].split for p in pairs] == ["u1.test", "u2.test"]
  uf = rdata.load_user_features()
  assert uf.gender.shape == (943,) and len(uf.occupations) == 21
  assert uf.age_bucket.min() >= 0 and uf.age_bucket.max() < uf.num_age_buckets
  assert rdata.load("all", limit=300).user.shape == (300,)


def test_rmse_mae():
  rng = np.random.RandomState(0)
  p, t = rng.rand(50) * 5, rng.rand(50) * 5
  assert float(metrics.rmse(p, t)) == pytest.approx(np.sqrt(np.mean((p - t) ** 2)), rel=1e-5)
  assert float(metrics.mae(p, t)) == pytest.approx(np.mean(np.abs(p - t)), rel=1e-5)


def _naive_ranking(scores, seen, relevant, k, denom):
  out = {"p": [], "r": [], "n": [], "m": []}
  for u in range(scores.shape[0]):
    rel = set(np.flatnonzero(relevant[u]))
    if not rel:
      continue
    cand = [i for i in np.argsort(-scores[u], kind="stable") if not seen[u, i]][:k]
    hits = [1.0 if i in rel else 0.0 for i in cand]
    out["p"].append(sum(hits) / k)
    out["r"].append(sum(hits) / len(rel))
    dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
    idcg = sum(1 / math.log2(r + 2) for r in range(min(len(rel), k)))
    out["n"].append(dcg / idcg)
    ap, nh = 0.0, 0
    for r, h in enumerate(hits):
      if h:
        nh += 1
        ap += nh / (r + 1)
    out["m"].append(ap / (len(rel) if denom == "n_relevant" else min(len(rel), k)))
  return {key: float(np.mean(v)) for key, v in out.items()}


@pytest.mark.parametrize("denom", ["n_relevant", "min_k"])
def test_ranking_metrics_match_naive(denom):
  rng = np.random.RandomState(1)
  users, items, k = 12, 30, 5
  scores = rng.permutation(users * items).reshape(users, items).astype(np.float32)  # no ties
  seen = rng.rand(users, items) < 0.3
  relevant = (rng.rand(users, items) < 0.2) & ~seen
  relevant[0] = False  # a user without test items is left out of the means
  got = metrics.evaluate_ranking(scores, seen, relevant, k, denom)
  want = _naive_ranking(scores, seen, relevant, k, denom)
  assert got["num_users"] == int((relevant.sum(1) > 0).sum())
  assert got["precision@5"] == pytest.approx(want["p"], abs=1e-6)
  assert got["recall@5"] == pytest.approx(want["r"], abs=1e-6)
  assert got["ndcg@5"] == pytest.approx(want["n"], abs=1e-6)
  assert got["map@5"] == pytest.approx(want["m"], abs=1e-6)


def test_ranking_hand_case_and_seen_exclusion():
  # Items 0..4; item 0 scores best but was seen in training: it must not be recommended.
  scores = np.array([[9.0, 5.0, 4.0, 3.0, 2.0]], np.float32)
  seen = np.array([[True, False, False, False, False]])
  relevant = np.array([[False, False, True, False, True]])
  got = metrics.evaluate_ranking(scores, seen, relevant, k=2)
  # top-2 unseen = [1, 2]: one hit at rank 2.
  assert got["precision@2"] == pytest.approx(0.5)
  assert got["recall@2"] == pytest.approx(0.5)
  assert got["ndcg@2"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
  assert got["map@2"] == pytest.approx(0.5 / 2)


def test_sampled_metrics_hand_case():
  pos = np.array([5.0, 1.0])
  neg = np.array([[1.0, 2.0, 6.0], [2.0, 3.0, 4.0]])
  out = metrics.sampled_metrics(pos, neg, k=2)
  # user 0: rank 1 -> hit, ndcg 1/log2(3); user 1: rank 3 -> miss.
  assert float(out["sampled_hr@2"]) == pytest.approx(0.5)
  assert float(out["sampled_ndcg@2"]) == pytest.approx(0.5 / math.log2(3))
  seen = np.zeros((2, 6), bool)
  seen[0, :3] = True
  negs = metrics.sample_negatives(seen, np.array([4, -1]), 20, seed=0)
  assert not np.isin(negs[0], [0, 1, 2, 4]).any()
