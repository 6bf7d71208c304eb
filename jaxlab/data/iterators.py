"""Deterministic, resumable batching of in-memory arrays and token streams.

Batch number `s` is a pure function of `(seed, s)`: epoch `e = s // steps_per_epoch`
is ordered by `np.random.default_rng([seed, e]).permutation(N)`. A run restarted from
a checkpoint at step k with `start_step=k` therefore sees exactly the batches the
uninterrupted run would have seen. Batches are gathered with numpy fancy indexing.

Multi-host: `batch_size` is the global batch; host `process_index` of `process_count`
receives its contiguous slice `[i * B / P, (i + 1) * B / P)` of every global batch.
"""

import numpy as np


def _as_arrays(data):
  """Accepts a dict of arrays or any dataset with an `arrays` mapping."""
  arrays = data if isinstance(data, dict) else getattr(data, "arrays", None)
  if not isinstance(arrays, dict) or not arrays:
    raise TypeError("Expected a dict of arrays or a dataset with an `arrays` dict, "
                    f"got {type(data).__name__}.")
  sizes = {k: len(v) for k, v in arrays.items()}
  if len(set(sizes.values())) != 1:
    raise ValueError(f"Arrays differ in length: {sizes}")
  return arrays, next(iter(sizes.values()))


def _check_hosts(batch_size, process_index, process_count):
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
  if not 0 <= process_index < process_count:
    raise ValueError(f"process_index={process_index} is not in [0, {process_count}).")
  if batch_size % process_count:
    raise ValueError(
        f"The global batch_size={batch_size} must be divisible by "
        f"process_count={process_count} so every host gets the same share.")
  return batch_size // process_count


def steps_per_epoch(num_examples, batch_size, drop_remainder=True):
  """Number of batches in one pass over `num_examples` examples."""
  if drop_remainder:
    return num_examples // batch_size
  return -(-num_examples // batch_size)


def epoch_permutation(num_examples, seed, epoch):
  """The example order of `epoch`: `default_rng([seed, epoch]).permutation(N)`."""
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def batch_indices(num_examples, batch_size, step, *, seed, shuffle=True,
                  drop_remainder=True):
  """Example indices of global batch number `step` (pure function of its inputs)."""
  spe = steps_per_epoch(num_examples, batch_size, drop_remainder)
  if spe == 0:
    raise ValueError(f"batch_size={batch_size} exceeds the {num_examples} examples "
                     "with drop_remainder=True; no full batch exists.")
  epoch, i = divmod(step, spe)
  order = (epoch_permutation(num_examples, seed, epoch) if shuffle
           else np.arange(num_examples))
  return order[i * batch_size:(i + 1) * batch_size]


def batch_iterator(data, batch_size, *, seed, shuffle=True, drop_remainder=True,
                   start_step=0, num_epochs=None, process_index=0, process_count=1):
  """Yields dict-of-numpy batches, reproducibly from any starting step.

  Args:
    data: a dict of equally long arrays, or a dataset with an `arrays` dict
      (`ArrayDataset`, `RatingsData`, `TemporalEdges`).
    batch_size: global batch size (over all hosts).
    seed: integer seed; the batch at step s depends only on (seed, s).
    shuffle: reshuffle every epoch; False keeps file order.
    drop_remainder: drop each epoch's last partial batch (static shapes). With
      False, the last batch of an epoch is smaller.
    start_step: first global step to yield (for resuming).
    num_epochs: stop after this many epochs; `None` runs forever.
    process_index, process_count: this host's index and the number of hosts.

  Yields:
    `{name: array[batch_size // process_count, ...]}`.
  """
  arrays, n = _as_arrays(data)
  _check_hosts(batch_size, process_index, process_count)
  spe = steps_per_epoch(n, batch_size, drop_remainder)
  if spe == 0:
    raise ValueError(f"batch_size={batch_size} exceeds the {n} examples with "
                     "drop_remainder=True; no full batch exists.")
  last = n - (spe - 1) * batch_size
  if process_count > 1 and last % process_count:
    raise ValueError(
        f"The last batch of each epoch has {last} examples, not divisible by "
        f"process_count={process_count}; use drop_remainder=True or eval_batches.")
  total = None if num_epochs is None else num_epochs * spe
  step, cached_epoch, order = start_step, None, None
  while total is None or step < total:
    epoch, i = divmod(step, spe)
    if epoch != cached_epoch:  # One permutation per epoch, not per step.
      order = epoch_permutation(n, seed, epoch) if shuffle else np.arange(n)
      cached_epoch = epoch
    idx = order[i * batch_size:(i + 1) * batch_size]
    share = len(idx) // process_count  # batch_size // process_count but at a short end.
    idx = idx[process_index * share:(process_index + 1) * share]
    yield {k: v[idx] for k, v in arrays.items()}
    step += 1


def eval_batches(data, batch_size, *, process_index=0, process_count=1):
  """Yields every example once, in order, in full-size batches with a `mask`.

  The last batch is padded with zeros to `batch_size` and `mask` (bool) marks the
  real examples, so a jitted eval step sees one shape and `sum(mask)` over all
  batches equals N: metrics computed as masked sums are exact.

  Args:
    data: dict of arrays or a dataset with an `arrays` dict.
    batch_size: global batch size.
    process_index, process_count: as in `batch_iterator`.

  Yields:
    `{name: array[batch_size // process_count, ...], "mask": bool[...]}`.
  """
  arrays, n = _as_arrays(data)
  if "mask" in arrays:
    raise ValueError("The data already has a 'mask' array; rename it.")
  local = _check_hosts(batch_size, process_index, process_count)
  for start in range(0, n, batch_size):
    idx = np.arange(start, start + batch_size)[process_index * local:
                                              (process_index + 1) * local]
    mask = idx < n
    safe = np.where(mask, idx, 0)
    batch = {}
    for k, v in arrays.items():
      b = v[safe]
      if not mask.all():
        b[~mask] = 0  # `b` is a fresh copy from fancy indexing.
      batch[k] = b
    batch["mask"] = mask
    yield batch


def num_eval_batches(num_examples, batch_size):
  """Number of batches `eval_batches` yields."""
  return -(-num_examples // batch_size)


# ---------------------------------------------------------------------------
# Language-model windows over a token stream.


def _as_tokens(tokens):
  tokens = getattr(tokens, "tokens", tokens)
  tokens = np.asarray(tokens)
  if tokens.ndim != 1:
    raise ValueError(f"Expected a 1-D token stream, got shape {tokens.shape}.")
  return tokens


def lm_batch(tokens, batch_size, seq_len, *, seed, step, process_index=0,
             process_count=1):
  """Random training windows, a pure function of (seed, step).

  As in nanoGPT, window starts are uniform in `[0, L - seq_len)`; `targets` are
  `inputs` shifted by one token.

  Args:
    tokens: 1-D token ids, or a `TextData`.
    batch_size: global batch size.
    seq_len: window length T.
    seed, step: determine the windows.
    process_index, process_count: as in `batch_iterator`.

  Returns:
    `{"inputs": int32[B, T], "targets": int32[B, T]}` with B the host's share.
  """
  tokens = _as_tokens(tokens)
  local = _check_hosts(batch_size, process_index, process_count)
  if len(tokens) <= seq_len:
    raise ValueError(f"The token stream ({len(tokens)} tokens) must be longer than "
                     f"seq_len={seq_len}.")
  starts = np.random.default_rng([seed, step]).integers(
      0, len(tokens) - seq_len, size=batch_size)
  starts = starts[process_index * local:(process_index + 1) * local]
  windows = tokens[starts[:, None] + np.arange(seq_len + 1)].astype(np.int32)
  return {"inputs": windows[:, :-1], "targets": windows[:, 1:]}


def lm_iterator(tokens, batch_size, seq_len, *, seed, start_step=0, num_steps=None,
                process_index=0, process_count=1):
  """Yields `lm_batch(..., step=s)` for s = start_step, start_step + 1, ...

  Stops before step `num_steps` when given (an absolute step count, so a resumed
  run ends where the uninterrupted one would).
  """
  tokens = _as_tokens(tokens)
  step = start_step
  while num_steps is None or step < num_steps:
    yield lm_batch(tokens, batch_size, seq_len, seed=seed, step=step,
                   process_index=process_index, process_count=process_count)
    step += 1


def lm_eval_batches(tokens, batch_size, seq_len, max_batches=None, *, process_index=0,
                    process_count=1):
  """Contiguous, non-overlapping windows covering the stream, in order.

  Window w has inputs `tokens[w*T : (w+1)*T]` and targets shifted by one. The last
  batch is zero-padded to `batch_size` with a bool `mask` `[B]` marking real windows.

  Args:
    tokens: 1-D token ids, or a `TextData`.
    batch_size: windows per batch.
    seq_len: window length T.
    max_batches: stop after this many batches (evaluate a prefix).
    process_index, process_count: as in `eval_batches`: each host gets its contiguous share
      of every global batch.

  Yields:
    `{"inputs": int32[B, T], "targets": int32[B, T], "mask": bool[B]}`.
  """
  tokens = _as_tokens(tokens)
  local = _check_hosts(batch_size, process_index, process_count)
  num_windows = (len(tokens) - 1) // seq_len
  if num_windows < 1:
    raise ValueError(f"The token stream ({len(tokens)} tokens) is too short for one "
                     f"window of seq_len={seq_len}.")
  offsets = np.arange(seq_len + 1)
  for b, first in enumerate(range(0, num_windows, batch_size)):
    if max_batches is not None and b >= max_batches:
      return
    w = np.arange(first, first + batch_size)[process_index * local:(process_index + 1) * local]
    mask = w < num_windows
    starts = np.where(mask, w, 0) * seq_len
    windows = tokens[starts[:, None] + offsets].astype(np.int32)
    windows[~mask] = 0
    yield {"inputs": windows[:, :-1], "targets": windows[:, 1:], "mask": mask}
