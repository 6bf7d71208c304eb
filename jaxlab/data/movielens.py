"""MovieLens 100K (GroupLens): 100,000 ratings of 1682 movies by 943 users."""

import dataclasses
import functools

import numpy as np

from jaxlab.data import errors
from jaxlab.data import files

NUM_USERS = 943
NUM_ITEMS = 1682
_FOLD_SPLITS = tuple(f"u{i}.{p}" for i in range(1, 6) for p in ("base", "test")) + (
    "ua.base", "ua.test", "ub.base", "ub.test")
SPLITS = ("all",) + _FOLD_SPLITS
# Conventional aliases: the first of the five 80/20 folds.
SPLIT_ALIASES = {"train": "u1.base", "test": "u1.test"}


@dataclasses.dataclass(frozen=True, eq=False)
class RatingsData:
  """Explicit-feedback ratings as parallel arrays.

  Attributes:
    user: int32 `[M]`, 0-based user index (file id - 1).
    item: int32 `[M]`, 0-based item index (file id - 1).
    rating: float32 `[M]`, 1 to 5 stars.
    timestamp: int64 `[M]`, seconds since the Unix epoch.
    num_users, num_items: sizes of the id spaces (943 / 1682), whatever the split.
    name, split: registry name and split (e.g. "u1.base").
    item_titles: movie titles by item index (from u.item), if loaded.
    item_genres: bool `[num_items, num_genres]`, if loaded.
    genre_names: genre names in column order of `item_genres`.
  """
  user: np.ndarray
  item: np.ndarray
  rating: np.ndarray
  timestamp: np.ndarray
  num_users: int
  num_items: int
  name: str = "movielens100k"
  split: str = "all"
  item_titles: tuple[str, ...] | None = None
  item_genres: np.ndarray | None = None
  genre_names: tuple[str, ...] | None = None

  def __len__(self):
    return int(self.user.shape[0])

  @property
  def arrays(self):
    """The per-rating arrays as a dict, the input format of `batch_iterator`."""
    return {"user": self.user, "item": self.item, "rating": self.rating,
            "timestamp": self.timestamp}


def _load_table(path, num_columns):
  try:
    table = np.loadtxt(path, dtype=np.int64, ndmin=2)
  except ValueError as e:
    raise errors.CorruptDataError(
        f"{path}: cannot parse as tab-separated integers ({e}); obtain it again.") from e
  if table.shape[1] != num_columns:
    raise errors.CorruptDataError(
        f"{path}: {table.shape[1]} columns, expected {num_columns}; obtain it again.")
  return table


@functools.lru_cache(maxsize=16)
def _read_ratings(key):
  path = key[0]
  t = _load_table(path, 4)
  user, item = t[:, 0], t[:, 1]
  if (user.min() < 1 or user.max() > NUM_USERS or item.min() < 1
      or item.max() > NUM_ITEMS or t[:, 2].min() < 1 or t[:, 2].max() > 5):
    raise errors.CorruptDataError(
        f"{path}: user/item ids or ratings out of range (users 1..{NUM_USERS}, items "
        f"1..{NUM_ITEMS}, ratings 1..5); obtain the file again.")
  return tuple(files.readonly(a) for a in (
      (user - 1).astype(np.int32), (item - 1).astype(np.int32),
      t[:, 2].astype(np.float32), t[:, 3].astype(np.int64)))


@functools.lru_cache(maxsize=2)
def _read_items(item_key, genre_key):
  genres = []
  with open(genre_key[0], encoding="latin-1") as f:
    for line in f:
      if line.strip():
        genres.append(line.rsplit("|", 1)[0])
  titles, flags = [], []
  with open(item_key[0], encoding="latin-1") as f:
    for line in f:
      if not line.strip():
        continue
      parts = line.rstrip("\n").split("|")
      titles.append(parts[1])
      flags.append([p == "1" for p in parts[5:]])
  genre_matrix = np.array(flags, bool)
  if genre_matrix.shape != (NUM_ITEMS, len(genres)):
    raise errors.CorruptDataError(
        f"{item_key[0]}: genre table has shape {genre_matrix.shape}, expected "
        f"({NUM_ITEMS}, {len(genres)}); obtain ml-100k again.")
  return tuple(titles), files.readonly(genre_matrix), tuple(genres)


def load_movielens100k(split="all", *, data_dir=None, verify=True, with_items=True):
  """Reads MovieLens 100K ratings.

  Args:
    split: "all" (u.data, 100000 ratings), one of the fold files "u1.base" ...
      "u5.test" (80000 / 20000), "ua.base"/"ua.test", "ub.base"/"ub.test"
      (90570 / 9430, 10 test ratings per user), or the aliases "train" (u1.base)
      and "test" (u1.test).
    data_dir: data folder (default: `jaxlab.data.data_dir()`).
    verify: check the files' sha256 first.
    with_items: also read titles and genres from u.item / u.genre.

  Returns:
    `RatingsData` with 0-based user/item indices.
  """
  file_split = SPLIT_ALIASES.get(split, split)
  if file_split not in SPLITS:
    raise ValueError(f"Unknown split {split!r} for movielens100k; valid: "
                     f"{list(SPLITS) + list(SPLIT_ALIASES)}")
  fname = "u.data" if file_split == "all" else file_split
  path = files.locate(f"ml-100k/{fname}", data_dir, verify)
  user, item, rating, timestamp = _read_ratings(files.file_key(path))
  titles = genres = genre_names = None
  if with_items:
    item_path = files.locate("ml-100k/u.item", data_dir, verify)
    genre_path = files.locate("ml-100k/u.genre", data_dir, verify)
    titles, genres, genre_names = _read_items(files.file_key(item_path),
                                              files.file_key(genre_path))
  return RatingsData(user=user, item=item, rating=rating, timestamp=timestamp,
                     num_users=NUM_USERS, num_items=NUM_ITEMS, split=split,
                     item_titles=titles, item_genres=genres, genre_names=genre_names)
