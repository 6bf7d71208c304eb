"""ROC-AUC and average precision on scores (numpy; ties handled like scikit-learn)."""

import numpy as np


def roc_auc(y, s):
  """Mann–Whitney ROC-AUC with average ranks for ties (= sklearn.metrics.roc_auc_score)."""
  y = np.asarray(y).astype(bool).reshape(-1)
  s = np.asarray(s, np.float64).reshape(-1)
  n_pos, n_neg = int(y.sum()), int((~y).sum())
  if n_pos == 0 or n_neg == 0:
    raise ValueError("ROC-AUC needs both positive and negative labels")
  order = np.argsort(s, kind="mergesort")
  ss = s[order]
  ranks = np.empty(len(s), np.float64)
  _, first, counts = np.unique(ss, return_index=True, return_counts=True)
  avg = first + (counts + 1) / 2.0
  ranks[order] = np.repeat(avg, counts)
  return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y, s):
  """AP = Σ_n (R_n − R_{n−1}) P_n over distinct score thresholds (= sklearn's AP)."""
  y = np.asarray(y).astype(bool).reshape(-1)
  s = np.asarray(s, np.float64).reshape(-1)
  if y.sum() == 0:
    raise ValueError("average precision needs at least one positive label")
  order = np.argsort(-s, kind="mergesort")
  ys, ss = y[order], s[order]
  last = np.r_[np.nonzero(np.diff(ss))[0], len(ss) - 1]  # end index of each tie group
  tp = np.cumsum(ys)[last]
  fp = (last + 1) - tp
  precision = tp / (tp + fp)
  recall = tp / y.sum()
  return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
