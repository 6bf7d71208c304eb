"""Small synthetic stand-ins for every dataset: same types, shapes and dtypes.

Generated from a seed without touching disk, for tests and smoke runs. The data carry
a learnable signal (class templates, homophilous edges, a low-rank rating model, a
Markov text source) so tiny training loops can show a falling loss.
"""

import zlib

import numpy as np

from jaxlab.data import dataset as dataset_lib
from jaxlab.data import graphs
from jaxlab.data import movielens
from jaxlab.data import proteomics
from jaxlab.data import temporal
from jaxlab.data import text

IMAGE_SHAPES = {
    "mnist": ((28, 28, 1), 10), "fashion_mnist": ((28, 28, 1), 10),
    "kmnist": ((28, 28, 1), 10), "cifar10": ((32, 32, 3), 10),
    "cifar100": ((32, 32, 3), 100),
}
GRAPH_SHAPES = {"cora": (1433, 7), "citeseer": (3703, 6), "pubmed": (500, 3),  # features, classes
                "amazon_computers": (767, 10), "amazon_photo": (745, 8)}
# The tiny-shakespeare vocabulary, so fake and real text share vocab_size 65.
SHAKESPEARE_VOCAB = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MOVIELENS_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's",
                    "Comedy", "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir",
                    "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                    "War", "Western")


def _rng(seed, *parts):
  """A generator keyed by the seed and names, stable across processes."""
  return np.random.default_rng([seed] + [zlib.crc32(str(p).encode()) for p in parts])


def fake_images(name, split="train", *, seed=0, num_examples=256):
  """Images uint8 `[N, H, W, C]` = a per-class template plus noise; balanced labels."""
  shape, num_classes = IMAGE_SHAPES[name]
  templates = _rng(seed, name, "templates").integers(0, 256, (num_classes,) + shape)
  rng = _rng(seed, name, split)
  labels = rng.permutation(np.arange(num_examples) % num_classes).astype(np.int32)
  noise = rng.integers(0, 256, (num_examples,) + shape)
  images = ((3 * templates[labels] + noise) // 4).astype(np.uint8)
  return dataset_lib.ArrayDataset(
      arrays={"image": images, "label": labels}, num_classes=num_classes, name=name,
      split=split, class_names=tuple(f"class_{i}" for i in range(num_classes)))


def fake_graph(name, split="all", *, seed=0, num_nodes=64, normalize_features=True,
               train_per_class=2, num_val=20, avg_degree=4, words_per_node=12,
               **unused_split_kwargs):
  """A homophilous graph with Planetoid-style masks (first k per class, val, test).

  `name` may be "cora"/"citeseer"/"pubmed" (Planetoid structure) or "cora_npz"/"citeseer_npz"/
  "amazon_computers"/"amazon_photo" (masks from `random_split`). Feature width and class count
  match the real data.
  """
  del split, unused_split_kwargs
  base = name.removesuffix("_npz")
  num_features, num_classes = GRAPH_SHAPES[base]
  n_train = train_per_class * num_classes
  if num_nodes < n_train + num_val + 1:
    raise ValueError(f"num_nodes={num_nodes} is too small for {n_train} train and "
                     f"{num_val} val nodes plus a test set.")
  rng = _rng(seed, name)
  # The first n_train nodes hold train_per_class nodes of every class, as in Planetoid.
  head = np.tile(np.arange(num_classes), train_per_class)
  labels = np.concatenate([rng.permutation(head),
                           rng.integers(0, num_classes, num_nodes - n_train)])
  # Edges: mostly within a class.
  m = num_nodes * avg_degree // 2
  src = rng.integers(0, num_nodes, m)
  same = rng.random(m) < 0.8
  order = np.argsort(labels, kind="stable")
  counts = np.bincount(labels, minlength=num_classes)
  c = labels[src]
  same_class = order[np.cumsum(counts)[c] - counts[c]
                     + (rng.random(m) * counts[c]).astype(np.int64)]
  dst = np.where(same, same_class, rng.integers(0, num_nodes, m))
  senders, receivers = graphs.symmetric_edges(src, dst, num_nodes)
  # Bag of words: most words from the node's class vocabulary.
  class_words = rng.integers(0, num_features, (num_classes, 30))
  shape = (num_nodes, words_per_node)
  words = np.where(rng.random(shape) < 0.7,
                   class_words[labels[:, None], rng.integers(0, 30, shape)],
                   rng.integers(0, num_features, shape))
  features = np.zeros((num_nodes, num_features), np.float32)
  features[np.arange(num_nodes)[:, None], words] = 1.0
  if normalize_features:
    features = graphs.row_normalize(features)
  if name != base or base not in graphs.PLANETOID_NAMES:  # npz formats: random split
    masks = graphs.random_split(labels, train_per_class, num_val, None, seed)
  else:
    idx = np.arange(num_nodes)
    masks = (idx < n_train, (idx >= n_train) & (idx < n_train + num_val),
             idx >= n_train + num_val)
  return graphs.make_graph_data(features, senders, receivers, labels, *masks,
                                num_classes=num_classes, name=name)


def fake_ratings(split="all", *, seed=0, num_users=50, num_items=80, num_ratings=2000,
                 rank=3):
  """Ratings 1..5 from a noisy low-rank model on distinct (user, item) pairs."""
  if num_ratings > num_users * num_items:
    raise ValueError("num_ratings exceeds the number of distinct (user, item) pairs.")
  rng = _rng(seed, "movielens100k", split)
  model = _rng(seed, "movielens100k", "model")
  u_f = model.normal(size=(num_users, rank))
  i_f = model.normal(size=(num_items, rank))
  pairs = rng.choice(num_users * num_items, num_ratings, replace=False)
  user, item = (pairs // num_items).astype(np.int32), (pairs % num_items).astype(np.int32)
  score = (u_f[user] * i_f[item]).sum(1) + 0.3 * rng.normal(size=num_ratings)
  rating = np.clip(np.round(3 + score), 1, 5).astype(np.float32)
  # The time span of the real ratings (Sep 1997 - Apr 1998).
  timestamp = np.sort(
      rng.integers(874_724_710, 893_286_638, num_ratings, dtype=np.int64))
  genres = model.random((num_items, len(MOVIELENS_GENRES))) < 0.15
  return movielens.RatingsData(
      user=user, item=item, rating=rating, timestamp=timestamp, num_users=num_users,
      num_items=num_items, split=split,
      item_titles=tuple(f"Movie {i + 1}" for i in range(num_items)),
      item_genres=genres, genre_names=MOVIELENS_GENRES)


def fake_text(split="train", *, seed=0, length=2000):
  """Text over the 65 tiny-shakespeare characters from a sparse random Markov chain.

  `length` is the size of the whole stream; "train"/"val" are its 90% / 10% parts.
  """
  vocab = SHAKESPEARE_VOCAB
  rng = _rng(seed, "tinyshakespeare")
  v = len(vocab)
  successors = rng.integers(0, v, (v, 4))  # each char is followed by one of 4 chars
  choice = rng.integers(0, 4, length)
  tokens = np.empty(length, np.uint8)
  tokens[0] = rng.integers(v)
  for i in range(1, length):  # a 2000-step loop; fake data only
    tokens[i] = successors[tokens[i - 1], choice[i]]
  cut = int(length * text.TRAIN_FRACTION)
  part = {"train": tokens[:cut], "val": tokens[cut:], "all": tokens}[split]
  return text.TextData(tokens=part, vocab=vocab, split=split)


def fake_temporal(split="all", *, seed=0, num_nodes=64, num_edges=1000):
  """Random timestamped messages with time-sorted events."""
  rng = _rng(seed, "collegemsg", split)
  src = rng.integers(0, num_nodes, num_edges).astype(np.int32)
  dst = ((src + rng.integers(1, num_nodes, num_edges)) % num_nodes).astype(np.int32)
  t = np.sort(rng.integers(1_082_040_961, 1_098_777_142, num_edges)).astype(np.int64)
  return temporal.TemporalEdges(src=src, dst=dst, t=t, num_nodes=num_nodes,
                                split=split)


def fake_proteins(split="all", *, seed=0, num_proteins=200):
  """A small MaxQuant-like table: 14 samples A-1..B-7, LFQ with zeros and flags."""
  rng = _rng(seed, "proteus_lfq")
  samples = tuple(f"{c}-{r}" for c in "AB" for r in range(1, 8))
  conditions = tuple(s[0] for s in samples)
  base = rng.normal(24, 2, num_proteins)
  effect = np.where(rng.random(num_proteins) < 0.1, rng.normal(0, 2, num_proteins), 0)
  log2 = base[:, None] + np.outer(effect, [c == "B" for c in conditions])
  log2 += rng.normal(0, 0.3, log2.shape)
  lfq = np.where(rng.random(log2.shape) < 0.15, 0.0, np.round(2.0 ** log2))
  ids = np.array([f"sp|P{i:05d}|FAKE{i}_YEAST" for i in range(num_proteins)], object)
  flags = {name: rng.random(num_proteins) < p for name, p in
           (("Reverse", 0.02), ("Potential contaminant", 0.01),
            ("Only identified by site", 0.03))}
  table = {"Protein IDs": ids, "Majority protein IDs": ids}
  for s, col in zip(samples, lfq.T):
    table[proteomics.LFQ_PREFIX + s] = np.array([f"{v:.0f}" for v in col], object)
  for name, f in flags.items():
    table[name] = np.where(f, "+", "").astype(object)
  table["id"] = np.array([str(i) for i in range(num_proteins)], object)
  return proteomics.ProteinGroups(
      columns=tuple(table), table=table, protein_ids=ids, lfq=lfq, samples=samples,
      conditions=conditions, reverse=flags["Reverse"],
      contaminant=flags["Potential contaminant"],
      only_by_site=flags["Only identified by site"], split=split)
