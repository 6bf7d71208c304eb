"""Few-shot class-incremental sessions on one node-classification graph.

`make_sessions` builds, for one seed, disjoint per-class node splits and the session schedule
(base classes first, then `way` novel classes per session); `stack_sessions` pads the plans of
several seeds to common static shapes so a whole run can be `vmap`-ed over seeds.

Per class (all ids of the class shuffled once with the seed, each id appears ONCE):
  * base class: 60 % pretrain-train (the encoder's data; its first `shot` ids are the few-shot
    memory shots of session 0), 20 % validation, 20 % test (spec 3.1).
  * novel class: `shot` random shots, `val_frac` validation, a "joint pool" (the shots plus more
    nodes, up to `joint_frac` of the class, used ONLY by the full-data `joint` upper bound) and
    the rest as test.
The official code appends every node id twice to its class list, so its "test = ids[20 %:]"
contains the shots and validation nodes again; here every split is a slice of one permutation
of unique ids and `check_disjoint` asserts train/val/test never intersect.

Shapes (one seed; `S` sessions, `Y` classes, `E` edges of the padded graph):
  seen [S, Y] bool, new [S, Y] bool (classes that arrive in session s),
  edge_weight [S, E] float32 (1 on edges whose both endpoints belong to seen classes),
  `<name>_idx` [S, P] int32 with `<name>_mask` [S, P] bool, names: shots (accumulated shots),
  cur (this session's shots), val (accumulated validation), test (accumulated test),
  joint (accumulated joint pool); pre_idx/pre_mask [P] and pre_val_idx/pre_val_mask [P]
  (base-class pretraining split).
"""

from __future__ import annotations

import numpy as np

INDEX_SETS = ("shots", "cur", "val", "test", "joint")


def class_schedule(labels, num_classes, n_base, way, seed):
  """Base classes (the `n_base` largest, ties by id) + novel classes shuffled per seed.

  Returns a list of int arrays, one per session.
  """
  counts = np.bincount(labels[labels >= 0], minlength=num_classes)
  order = np.lexsort((np.arange(num_classes), -counts))
  if not 0 < n_base < num_classes:
    raise ValueError(f"n_base={n_base} must be in [1, num_classes-1={num_classes - 1}].")
  base, novel = order[:n_base], order[n_base:]
  novel = np.random.default_rng([seed, 1]).permutation(novel)
  if len(novel) % way:
    raise ValueError(f"{len(novel)} novel classes do not split into sessions of way={way}; "
                     "change data.n_base or sessions.way.")
  return [np.sort(base)] + [np.sort(novel[i:i + way]) for i in range(0, len(novel), way)]


def make_sessions(labels, senders, receivers, edge_mask, num_classes, *, n_base, way, shot,
                  seed, val_frac=0.1, joint_frac=0.5, base_split=(0.6, 0.2),
                  num_sessions=None):
  """One seed's split and schedule as a dict of unpadded numpy arrays (see module doc).

  Args:
    labels: int [N] (padding nodes may carry any label; pass `labels[:num_real]` or mask them
      with -1).
    senders, receivers, edge_mask: the (padded) graph's edges; padding edges get weight 0.
    num_classes: |Y|.
    n_base, way, shot: base classes, classes per novel session, shots per class.
    seed: the split and the novel class order are pure functions of it.
    val_frac, joint_frac: fractions of each novel class for validation / the joint pool.
    base_split: (train, val) fractions of each base class; test is the rest.
    num_sessions: keep only the first sessions (None: all).
  """
  labels = np.asarray(labels)
  sessions = class_schedule(labels, num_classes, n_base, way, seed)
  if num_sessions is not None:
    sessions = sessions[:num_sessions]
  rng = np.random.default_rng([seed, 2])
  per = {}
  for s, classes in enumerate(sessions):
    for c in classes:
      ids = rng.permutation(np.flatnonzero(labels == c))
      n = len(ids)
      if s == 0:
        n_tr, n_va = int(round(base_split[0] * n)), int(round(base_split[1] * n))
        if n_tr < shot or n - n_tr - n_va < 1:
          raise ValueError(f"base class {c} has only {n} nodes.")
        per[c] = dict(shots=ids[:shot], val=ids[n_tr:n_tr + n_va], test=ids[n_tr + n_va:],
                      joint=ids[:n_tr], pre=ids[:n_tr])
      else:
        n_va = max(1, int(round(val_frac * n)))
        n_jo = max(shot, int(round(joint_frac * n)))
        if shot + n_va + 1 > n:
          raise ValueError(f"novel class {c} has only {n} nodes for {shot} shots + val + test.")
        n_jo = min(n_jo, n - n_va - 1)
        per[c] = dict(shots=ids[:shot], joint=ids[:n_jo], val=ids[n_jo:n_jo + n_va],
                      test=ids[n_jo + n_va:])
  S = len(sessions)
  seen = np.zeros((S, num_classes), bool)
  new = np.zeros((S, num_classes), bool)
  out = {k: [] for k in INDEX_SETS}
  for s, classes in enumerate(sessions):
    new[s, classes] = True
    seen[s] = new[: s + 1].any(0)
    seen_cls = np.flatnonzero(seen[s])
    for k in ("shots", "val", "test", "joint"):
      out[k].append(np.concatenate([per[c][k] for c in seen_cls]).astype(np.int32))
    out["cur"].append(np.concatenate([per[c]["shots"] for c in classes]).astype(np.int32))
  lab = np.where(labels >= 0, labels, num_classes)
  seen_ext = np.concatenate([seen, np.zeros((S, 1), bool)], 1)
  em = np.asarray(edge_mask, bool)
  edge_weight = np.stack([(seen_ext[s][lab[senders]] & seen_ext[s][lab[receivers]] & em)
                          for s in range(S)]).astype(np.float32)
  base = sessions[0]
  plan = dict(seen=seen, new=new, edge_weight=edge_weight,
              pre=np.concatenate([per[c]["pre"] for c in base]).astype(np.int32),
              pre_val=np.concatenate([per[c]["val"] for c in base]).astype(np.int32),
              classes=[np.asarray(c) for c in sessions], **out)
  check_disjoint(plan)
  return plan


def check_disjoint(plan):
  """Raises if, in any session, shots/joint pool, validation and test nodes intersect,
  or if an index set holds a node twice (the official code's leakage)."""
  for s in range(len(plan["test"])):
    test = set(plan["test"][s].tolist())
    for k in ("shots", "cur", "val", "test", "joint"):
      a = plan[k][s]
      if len(np.unique(a)) != len(a):
        raise AssertionError(f"session {s}: duplicated node ids in {k!r}.")
    for k in ("shots", "cur", "val", "joint"):
      if test & set(plan[k][s].tolist()):
        raise AssertionError(f"session {s}: {k!r} nodes leak into the test set.")
    if set(plan["val"][s].tolist()) & set(plan["joint"][s].tolist()):
      raise AssertionError(f"session {s}: validation nodes overlap training nodes.")
  if set(plan["pre"].tolist()) & set(plan["test"][0].tolist()):
    raise AssertionError("pretraining nodes leak into the base test set.")


def _pad(arrays, size, pad_value=0):
  idx = np.full((len(arrays), size), pad_value, np.int32)
  mask = np.zeros((len(arrays), size), bool)
  for i, a in enumerate(arrays):
    idx[i, :len(a)] = a
    mask[i, :len(a)] = True
  return idx, mask


def stack_sessions(plans, extra_pad=0):
  """Pads every index set to one static size across sessions and seeds and stacks the seeds.

  `cur` is padded to the size of `shots` so fine-tuning on current vs accumulated shots compiles
  once. `extra_pad` adds that many more padding slots everywhere (padding-invariance tests).
  Returns numpy arrays with a leading seed axis: `seen [R, S, Y]`, `<k>_idx/<k>_mask [R, S, P_k]`,
  `edge_weight [R, S, E]`, `pre_idx/pre_mask [R, P]`, `pre_val_idx/pre_val_mask [R, P]`.
  """
  out = {"seen": np.stack([p["seen"] for p in plans]),
         "new": np.stack([p["new"] for p in plans]),
         "edge_weight": np.stack([p["edge_weight"] for p in plans])}
  sizes = {k: max(len(a) for p in plans for a in p[k]) + extra_pad for k in INDEX_SETS}
  sizes["cur"] = sizes["shots"]
  for k in INDEX_SETS:
    padded = [_pad(p[k], sizes[k]) for p in plans]
    out[f"{k}_idx"] = np.stack([i for i, _ in padded])
    out[f"{k}_mask"] = np.stack([m for _, m in padded])
  for k in ("pre", "pre_val"):
    size = max(len(p[k]) for p in plans) + extra_pad
    idx, mask = _pad([p[k] for p in plans], size)
    out[f"{k}_idx"], out[f"{k}_mask"] = idx, mask
  return out
