"""ROC-AUC and average precision on scores (numpy; ties handled like scikit-learn), and the
official code's hard-label accuracy and F1."""

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


def accuracy_f1(y, pred):
  """Accuracy and F1 of the positive class for hard 0/1 predictions (the official code's
  `accuracy_score` / `f1_score` on `prob > 0.5`); F1 is 0 when nothing is predicted positive."""
  y = np.asarray(y).astype(bool).reshape(-1)
  pred = np.asarray(pred).astype(bool).reshape(-1)
  if y.shape != pred.shape:
    raise ValueError(f"labels {y.shape} and predictions {pred.shape} differ in shape")
  tp = int(np.sum(y & pred))
  denom = int(np.sum(y)) + int(np.sum(pred))
  return float(np.mean(y == pred)), (2.0 * tp / denom if denom else 0.0)


def link_metrics(y, s, threshold):
  """Percent ROC-AUC and AP of scores `s`, and accuracy / F1 of `s > threshold`."""
  acc, f1 = accuracy_f1(y, np.asarray(s) > threshold)
  return {"auc": 100 * roc_auc(y, s), "ap": 100 * average_precision(y, s), "acc": 100 * acc,
          "f1": 100 * f1}
