"""Deterministic, resumable, host-sliced batching."""

import itertools

import chex
import numpy as np
import pytest

import jaxlab.data as jd
from jaxlab.data import iterators


def _arrays(n=50):
  return {"x": np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32),
          "y": np.arange(n, dtype=np.int32)}


def _take(it, k):
  return list(itertools.islice(it, k))


def test_same_seed_same_batches_and_epochs_reshuffle():
  a = _take(jd.batch_iterator(_arrays(), 8, seed=3), 13)
  b = _take(jd.batch_iterator(_arrays(), 8, seed=3), 13)
  for x, y in zip(a, b):
    chex.assert_trees_all_equal(x, y)
  c = _take(jd.batch_iterator(_arrays(), 8, seed=4), 1)
  assert not np.array_equal(a[0]["y"], c[0]["y"])
  # 50 // 8 = 6 steps per epoch; each epoch is a permutation without repeats.
  epoch0 = np.concatenate([bt["y"] for bt in a[:6]])
  assert len(set(epoch0.tolist())) == 48
  assert not np.array_equal(a[0]["y"], a[6]["y"])
  chex.assert_shape(a[0]["x"], (8, 3))
  np.testing.assert_array_equal(a[0]["x"][:, 0], a[0]["y"])  # rows stay aligned


def test_permutation_is_the_documented_one():
  first = next(jd.batch_iterator(_arrays(), 8, seed=7))
  expected = np.random.default_rng([7, 0]).permutation(50)[:8]
  np.testing.assert_array_equal(first["y"], expected)
  later = list(itertools.islice(jd.batch_iterator(_arrays(), 8, seed=7), 9))[-1]
  np.testing.assert_array_equal(
      later["y"], iterators.batch_indices(50, 8, 8, seed=7))  # step 8 = epoch 1


@pytest.mark.parametrize("k", [0, 5, 6, 14])
def test_start_step_resumes_exactly(k):
  full = _take(jd.batch_iterator(_arrays(), 8, seed=1), 20)
  resumed = _take(jd.batch_iterator(_arrays(), 8, seed=1, start_step=k), 20 - k)
  for x, y in zip(full[k:], resumed):
    chex.assert_trees_all_equal(x, y)


def test_num_epochs_and_remainder():
  assert len(list(jd.batch_iterator(_arrays(), 8, seed=0, num_epochs=2))) == 12
  batches = list(jd.batch_iterator(_arrays(), 8, seed=0, num_epochs=1,
                                   drop_remainder=False))
  assert [len(b["y"]) for b in batches] == [8] * 6 + [2]
  assert sorted(np.concatenate([b["y"] for b in batches]).tolist()) == list(range(50))
  ordered = next(jd.batch_iterator(_arrays(), 8, seed=0, shuffle=False))
  np.testing.assert_array_equal(ordered["y"], np.arange(8))


def test_hosts_slices_concatenate_to_global_batch():
  ds = jd.get_dataset("mnist", source="fake", num_examples=64)
  glob = _take(jd.batch_iterator(ds, 16, seed=5, start_step=3), 5)
  hosts = [_take(jd.batch_iterator(ds, 16, seed=5, start_step=3, process_index=i,
                                   process_count=4), 5) for i in range(4)]
  for s in range(5):
    for key in ("image", "label"):
      joined = np.concatenate([hosts[i][s][key] for i in range(4)])
      np.testing.assert_array_equal(joined, glob[s][key])
  chex.assert_shape(hosts[0][0]["image"], (4, 28, 28, 1))


def test_bad_host_split_raises():
  with pytest.raises(ValueError, match="divisible by process_count"):
    next(jd.batch_iterator(_arrays(), 10, seed=0, process_count=4))
  with pytest.raises(ValueError, match="exceeds"):
    next(jd.batch_iterator(_arrays(5), 8, seed=0))


def test_eval_batches_pad_and_mask():
  batches = list(jd.eval_batches(_arrays(50), 16))
  assert len(batches) == jd.num_eval_batches(50, 16) == 4
  for b in batches:
    chex.assert_shape([b["x"], b["y"], b["mask"]], [(16, 3), (16,), (16,)])
  mask = np.concatenate([b["mask"] for b in batches])
  assert mask.sum() == 50 and not mask[50:].any()
  ys = np.concatenate([b["y"] for b in batches])
  np.testing.assert_array_equal(ys[mask], np.arange(50))
  assert (ys[~mask] == 0).all()
  # Per host: each host sees its slice of every padded global batch.
  per_host = [list(jd.eval_batches(_arrays(50), 16, process_index=i, process_count=2))
              for i in range(2)]
  total = sum(b["mask"].sum() for h in per_host for b in h)
  assert total == 50


def test_lm_batches():
  tokens = np.arange(1000) % 65
  b = jd.lm_batch(tokens, 4, 16, seed=0, step=3)
  chex.assert_shape([b["inputs"], b["targets"]], [(4, 16), (4, 16)])
  assert b["inputs"].dtype == np.int32
  np.testing.assert_array_equal(b["inputs"][:, 1:], b["targets"][:, :-1])
  chex.assert_trees_all_equal(b, jd.lm_batch(tokens, 4, 16, seed=0, step=3))
  other = jd.lm_batch(tokens, 4, 16, seed=0, step=4)
  assert not np.array_equal(b["inputs"], other["inputs"])
  full = _take(jd.lm_iterator(tokens, 4, 16, seed=2), 6)
  resumed = list(jd.lm_iterator(tokens, 4, 16, seed=2, start_step=4, num_steps=6))
  assert len(resumed) == 2
  chex.assert_trees_all_equal(full[4:], resumed)
  halves = [jd.lm_batch(tokens, 4, 16, seed=0, step=3, process_index=i, process_count=2)
            for i in range(2)]
  joined = np.concatenate([h["inputs"] for h in halves])
  np.testing.assert_array_equal(joined, b["inputs"])


def test_lm_eval_batches_cover_stream():
  text = jd.get_dataset("tinyshakespeare", "val", source="fake", length=2000)
  tokens = text.tokens
  batches = list(jd.lm_eval_batches(text, 3, 16))
  windows = (len(tokens) - 1) // 16
  mask = np.concatenate([b["mask"] for b in batches])
  assert mask.sum() == windows and len(mask) % 3 == 0
  inputs = np.concatenate([b["inputs"] for b in batches])[mask].reshape(-1)
  np.testing.assert_array_equal(inputs, tokens[:windows * 16])
  targets = np.concatenate([b["targets"] for b in batches])[mask].reshape(-1)
  np.testing.assert_array_equal(targets, tokens[1:windows * 16 + 1])
  assert len(list(jd.lm_eval_batches(text, 3, 16, max_batches=2))) == 2


def test_lm_eval_host_shares_concatenate_to_global_batch():
  tokens = np.arange(1000) % 65
  full = list(jd.lm_eval_batches(tokens, 4, 16))
  shares = [list(jd.lm_eval_batches(tokens, 4, 16, process_index=i, process_count=2))
            for i in range(2)]
  for b, h0, h1 in zip(full, *shares):
    for k in b:
      np.testing.assert_array_equal(np.concatenate([h0[k], h1[k]]), b[k])
