"""Data plumbing for recsys: ratings, folds, splits, user demographics, sparse index helpers.

Aggarwal, *Recommender Systems: The Textbook* (2016), ch. 7 (evaluation); protocols of Surprise
(`surprise.model_selection.KFold`) and of the Recommenders MovieLens benchmark.

All functions are numpy (host side): they build index arrays once, the models consume them
inside jit. A "ratings triple" is the `RatingsData` of `jaxlab.data` (0-based user/item ids,
float32 ratings, int64 timestamps, `num_users` / `num_items` of the whole id space).

Protocols:
  * `cv_folds(data, n_splits=5, seed=0)`: Surprise's `KFold(n_splits, shuffle=True,
    random_state=seed)` reproduced index for index: `np.random.RandomState(seed).shuffle` of the
    rating positions, fold f tests positions `[start_f, stop_f)` where the first
    `n % n_splits` folds get one extra rating, and trains on `chain(idx[:start], idx[stop:])` in
    that order (the order matters for Surprise's SGD, see `surprise_order`).
  * `official_folds(names)`: the u1..u5 / ua / ub files of ML-100K.
  * `stratified_split(data, ratio=0.75, seed=42)`: per-user split (Recommenders'
    `python_stratified_split` stratifies by user by default).
  * `leave_one_out(data)`: the latest rating of each user is the test item (NCF protocol).

Deviations from the references:
  * `stratified_split` uses its own numpy permutation per user: the folds are the same in
    distribution as Recommenders' pandas-based split (round(ratio * n_u) training ratings per
    user, chosen uniformly) but not index for index.
  * `data.limit` (smoke runs) keeps the first `limit` ratings of a split in file order.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxlab.data import errors as data_errors
from jaxlab.data import files as data_files
from jaxlab.data import get_dataset
from jaxlab.data import RatingsData

OFFICIAL_FOLDS = ("u1", "u2", "u3", "u4", "u5")
AGE_BUCKETS = (18, 25, 35, 45, 50, 56)  # ML-1M style buckets: <18, 18-24, ..., 56+


def subset(data: RatingsData, index, split: str | None = None) -> RatingsData:
  """The ratings at positions `index` (kept in that order), same id space and side data."""
  index = np.asarray(index)
  return dataclasses.replace(
      data, user=np.asarray(data.user)[index], item=np.asarray(data.item)[index],
      rating=np.asarray(data.rating)[index], timestamp=np.asarray(data.timestamp)[index],
      split=split or data.split)


def make_ratings(user, item, rating, *, num_users=None, num_items=None, timestamp=None,
                 item_genres=None) -> RatingsData:
  """A `RatingsData` from plain arrays (tests, notebooks, other datasets)."""
  user = np.asarray(user, np.int32)
  item = np.asarray(item, np.int32)
  rating = np.asarray(rating, np.float32)
  if not user.shape == item.shape == rating.shape or user.ndim != 1:
    raise ValueError(f"user/item/rating must be equal-length vectors, got {user.shape}, "
                     f"{item.shape}, {rating.shape}")
  if timestamp is None:
    timestamp = np.arange(len(user), dtype=np.int64)
  return RatingsData(
      user=user, item=item, rating=rating, timestamp=np.asarray(timestamp, np.int64),
      num_users=int(num_users if num_users is not None else user.max() + 1),
      num_items=int(num_items if num_items is not None else item.max() + 1),
      name="custom", split="all", item_genres=item_genres)


def load(split="all", *, limit=0, source="local", data_dir=None, name="movielens100k"):
  """One split of MovieLens-100K (or its fake), optionally cut to the first `limit` ratings."""
  kwargs = {} if source == "fake" else {"data_dir": data_dir or None}
  data = get_dataset(name, split, source=source, **kwargs)
  if limit and limit < len(data):
    data = subset(data, np.arange(limit))
  return data


def cv_folds(data: RatingsData, n_splits=5, seed=0):
  """Surprise's shuffled KFold: a list of (train_index, test_index) over `data`'s positions."""
  n = len(data)
  if not 2 <= n_splits <= n:
    raise ValueError(f"n_splits must be in [2, {n}], got {n_splits}")
  idx = np.arange(n)
  np.random.RandomState(seed).shuffle(idx)
  folds, stop = [], 0
  for f in range(n_splits):
    start = stop
    stop += n // n_splits + (1 if f < n % n_splits else 0)
    folds.append((np.concatenate([idx[:start], idx[stop:]]), idx[start:stop]))
  return folds


def stratified_split(data: RatingsData, ratio=0.75, seed=42):
  """Per-user random split: round(ratio * n_u) of each user's ratings train, the rest test."""
  rng = np.random.RandomState(seed)
  user = np.asarray(data.user)
  order = np.argsort(user, kind="stable")
  bounds = np.flatnonzero(np.diff(user[order])) + 1
  train, test = [], []
  for group in np.split(order, bounds):
    g = group[rng.permutation(len(group))]
    cut = int(round(ratio * len(g)))
    train.append(g[:cut])
    test.append(g[cut:])
  return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def leave_one_out(data: RatingsData):
  """Each user's latest rating (ties: last in file order) is the test rating."""
  user = np.asarray(data.user)
  order = np.lexsort((np.arange(len(user)), np.asarray(data.timestamp), user))
  last = np.r_[user[order][1:] != user[order][:-1], True]
  test = np.sort(order[last])
  mask = np.ones(len(user), bool)
  mask[test] = False
  return np.flatnonzero(mask), test


def protocol_folds(data_all: RatingsData | None, protocol: str, *, num_folds=5, seed=0,
                   load_fn=None, split_seed=42, ratio=0.75):
  """(train, test) `RatingsData` pairs of a protocol: cv5 | official | split75 | loo.

  `load_fn(split)` reads a named split (for `official`); `data_all` is the whole data set for
  the other protocols. At most `num_folds` folds are returned (smoke runs use 1).
  """
  if protocol == "cv5":
    pairs = [(subset(data_all, tr, f"cv{f + 1}.train"), subset(data_all, te, f"cv{f + 1}.test"))
             for f, (tr, te) in enumerate(cv_folds(data_all, 5, seed))]
  elif protocol == "official":
    pairs = [(load_fn(f"{u}.base"), load_fn(f"{u}.test")) for u in OFFICIAL_FOLDS[:num_folds]]
  elif protocol == "split75":
    tr, te = stratified_split(data_all, ratio, split_seed)
    pairs = [(subset(data_all, tr, "split75.train"), subset(data_all, te, "split75.test"))]
  elif protocol == "loo":
    tr, te = leave_one_out(data_all)
    pairs = [(subset(data_all, tr, "loo.train"), subset(data_all, te, "loo.test"))]
  else:
    raise ValueError(f"unknown eval.protocol {protocol!r}; valid: cv5, official, split75, loo")
  return pairs[:num_folds]


# ----------------------------------------------------------------------------------------------
# Index structures


def surprise_order(user) -> np.ndarray:
  """Order in which Surprise's `trainset.all_ratings()` visits ratings given in file order.

  Surprise groups ratings by user (users in order of first appearance, each user's ratings in
  file order); its SGD algorithms (SVD, SVD++, BaselineOnly-SGD) use this order every epoch.
  """
  user = np.asarray(user)
  first = np.full(int(user.max()) + 1 if len(user) else 0, len(user), np.int64)
  np.minimum.at(first, user, np.arange(len(user)))
  return np.argsort(first[user], kind="stable")


def counts(index, size) -> np.ndarray:
  return np.bincount(np.asarray(index), minlength=size).astype(np.int32)


def csr(rows, cols, num_rows):
  """(indptr [R+1], indices [nnz]) of the row -> sorted unique cols lists."""
  rows = np.asarray(rows, np.int64)
  cols = np.asarray(cols, np.int64)
  key = np.unique(rows * (int(cols.max()) + 1 if len(cols) else 1) + cols)
  ncol = int(cols.max()) + 1 if len(cols) else 1
  r, c = key // ncol, key % ncol
  indptr = np.zeros(num_rows + 1, np.int64)
  np.add.at(indptr, r + 1, 1)
  return np.cumsum(indptr).astype(np.int32), c.astype(np.int32)


def padded_lists(rows, cols, num_rows, pad_value, values=None):
  """Per-row lists padded to the longest: (index [R, L], mask [R, L], values [R, L]|None).

  Entries keep their order of appearance. `pad_value` fills index slots past a row's length.
  """
  rows = np.asarray(rows)
  n = counts(rows, num_rows)
  length = max(int(n.max()) if len(n) else 0, 1)
  order = np.argsort(rows, kind="stable")
  starts = np.r_[0, np.cumsum(n)[:-1]]
  slot = np.arange(len(rows)) - starts[rows[order]]
  index = np.full((num_rows, length), pad_value, np.int32)
  index[rows[order], slot] = np.asarray(cols)[order]
  mask = np.zeros((num_rows, length), bool)
  mask[rows[order], slot] = True
  vals = None
  if values is not None:
    vals = np.zeros((num_rows, length), np.float32)
    vals[rows[order], slot] = np.asarray(values)[order]
  return index, mask, vals


def dense_matrix(data: RatingsData, values=None, dtype=np.float32):
  """[num_users, num_items] matrix of ratings (or `values`), 0 where unobserved."""
  m = np.zeros((data.num_users, data.num_items), dtype)
  m[data.user, data.item] = data.rating if values is None else values
  return m


# ----------------------------------------------------------------------------------------------
# Side information (u.user is not read by jaxlab.data; parsed here)


@dataclasses.dataclass(frozen=True)
class UserFeatures:
  """ML-100K demographics by 0-based user index.

  age_bucket: int32 [U] in [0, len(AGE_BUCKETS)]; gender: int32 [U] (0 = M, 1 = F);
  occupation: int32 [U] in [0, num_occupations); occupations: names.
  """
  age_bucket: np.ndarray
  gender: np.ndarray
  occupation: np.ndarray
  occupations: tuple[str, ...]

  @property
  def num_age_buckets(self):
    return len(AGE_BUCKETS) + 1


def load_user_features(data_dir=None, verify=True) -> UserFeatures:
  """Reads ml-100k/u.user and u.occupation (checked against their sha256)."""
  occ_path = data_files.locate("ml-100k/u.occupation", data_dir, verify)
  user_path = data_files.locate("ml-100k/u.user", data_dir, verify)
  occupations = tuple(l.strip() for l in occ_path.read_text(encoding="latin-1").splitlines()
                      if l.strip())
  ages, genders, occs = [], [], []
  for line in user_path.read_text(encoding="latin-1").splitlines():
    if not line.strip():
      continue
    parts = line.split("|")
    if len(parts) != 5 or parts[3] not in occupations or parts[2] not in ("M", "F"):
      raise data_errors.CorruptDataError(
          f"{user_path}: bad line {line!r}; obtain ml-100k again.")
    ages.append(int(parts[1]))
    genders.append(0 if parts[2] == "M" else 1)
    occs.append(occupations.index(parts[3]))
  return UserFeatures(
      age_bucket=np.searchsorted(np.array(AGE_BUCKETS), np.array(ages), side="right").astype(
          np.int32),
      gender=np.array(genders, np.int32), occupation=np.array(occs, np.int32),
      occupations=occupations)


def fake_user_features(num_users, seed=0) -> UserFeatures:
  rng = np.random.RandomState(seed)
  return UserFeatures(
      age_bucket=rng.randint(0, len(AGE_BUCKETS) + 1, num_users).astype(np.int32),
      gender=rng.randint(0, 2, num_users).astype(np.int32),
      occupation=rng.randint(0, 21, num_users).astype(np.int32),
      occupations=tuple(f"occ{i}" for i in range(21)))


def first_appearance(ids) -> np.ndarray:
  """Distinct ids in order of first appearance: Surprise's inner-id order of a trainset."""
  ids = np.asarray(ids)
  uniq, first = np.unique(ids, return_index=True)
  return uniq[np.argsort(first)]


def surprise_init(ids, num_rows, num_factors, draw):
  """[num_rows, F] factors whose rows for `ids` (inner order) hold `draw((len(ids), F))`.

  Surprise draws its factor matrices with one `RandomState(seed)` over inner ids (order of first
  appearance in the trainset); placing those rows at the raw indices reproduces its
  initialisation. Rows of ids absent from the trainset are 0 (never used: unknown ids fall back).
  """
  inner = first_appearance(ids)
  out = np.zeros((num_rows, num_factors), np.float64)
  out[inner] = draw((len(inner), num_factors))
  return out.astype(np.float32)
