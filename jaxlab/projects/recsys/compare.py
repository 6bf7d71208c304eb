"""Side by side on the same folds: jaxlab recsys vs scikit-surprise and implicit (paired timing).

  # both libraries are in the `bench` extra: pip install -e '.[bench]'
  python -m jaxlab.projects.recsys.compare --algos=baseline_only,svd,svdpp,knn_baseline,bpr,ials \
      --reps=3 --out=results/recsys/compare.json
  python -m jaxlab.projects.recsys.compare --quick      # seconds: 1 fold, 3000 ratings, tiny

For each algorithm the configs/recsys/<algo>.py config gives the hyper-parameters and the folds;
the reference library gets the same hyper-parameters and identical train/test triples:
  * explicit (Surprise SVD, SVDpp, KNNBaseline, BaselineOnly, KNNBasic, KNNWithMeans, NMF,
    NormalPredictor): 5-fold CV, our folds = `KFold(n_splits=5, random_state=0)` index for index,
    the trainset built from the ratings in our training order (Surprise's SGD visits them in
    that order, and SVD/SVD++ draw the same initial factors), RMSE/MAE on each test fold;
  * implicit (implicit BPR and ALS): the 75/25 per-user split, top-10 metrics computed by our
    metric code from the library's factors (training items excluded for both).
Timing is paired: rep 0 is a warm-up that measures accuracy and our compile time (jax.monitoring
compile events); reps 1..R time ours and theirs alternately in this process (the order flips
every rep) and the medians are reported. "time" = fit + test over all folds (as in Surprise's
README), excluding data conversion (building Surprise trainsets / scipy CSR matrices, untimed)
and our compilation; `ratio` = reference time / our time (> 1: we are faster).

Hyper-parameter mapping to `implicit`: ALS minimises Σ_obs c(1 − s)² + Σ_unobs s² + λ‖·‖² with
c = alpha·v, so our iALS (confidence 1 + α on positives, unobserved weight w₀, L2 λ, ν = 0) equals
implicit ALS with alpha = (1 + α)/w₀ and regularization = λ/w₀ (divide the objective by w₀);
implicit's default conjugate-gradient solver (3 steps) is kept, ours solves exactly. BPR maps
1:1 (factors, learning_rate, regularization, iterations; implicit adds the item-bias column like
ours and updates per sample, Hogwild).

Without `--live` (or when a library is missing) only our run and Surprise's README numbers
(other hardware) are printed.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import sys
import time

import jax
import numpy as np

# Surprise README, ML-100K, 5-fold CV (RMSE, MAE, total time for 5 folds in seconds).
SURPRISE_README = {
    "svd": (0.934, 0.737, 6), "svdpp": (0.919, 0.721, 99), "nmf": (0.963, 0.758, 6),
    "knn_basic": (0.980, 0.774, 8), "knn_with_means": (0.951, 0.749, 9),
    "knn_baseline": (0.931, 0.733, 13), "baseline_only": (0.944, 0.748, 2),
    "normal_predictor": (1.518, 1.219, 1),
}
IMPLICIT_ALGOS = ("bpr", "ials")
REPO = pathlib.Path(__file__).resolve().parents[3]


# ----------------------------------------------------------------------------------------------
# Reference libraries


def _surprise_algo(name, hp, seed):
  import surprise  # optional: pip install scikit-surprise (bench extra)
  if name == "svd":
    return surprise.SVD(n_factors=hp["n_factors"], n_epochs=hp["n_epochs"], lr_all=hp["lr_all"],
                        reg_all=hp["reg_all"], init_std_dev=hp["init_std"], random_state=seed)
  if name == "svdpp":
    return surprise.SVDpp(n_factors=hp["n_factors"], n_epochs=hp["n_epochs"],
                          lr_all=hp["lr_all"], reg_all=hp["reg_all"],
                          init_std_dev=hp["init_std"], random_state=seed)
  if name == "nmf":
    return surprise.NMF(n_factors=hp["n_factors"], n_epochs=hp["n_epochs"], reg_pu=hp["reg_pu"],
                        reg_qi=hp["reg_qi"], random_state=seed)
  if name == "baseline_only":
    return surprise.BaselineOnly(bsl_options={"method": hp["method"]}, verbose=False)
  if name == "normal_predictor":
    return surprise.NormalPredictor()
  cls = {"knn_basic": surprise.KNNBasic, "knn_with_means": surprise.KNNWithMeans,
         "knn_with_zscore": surprise.KNNWithZScore, "knn_baseline": surprise.KNNBaseline}[name]
  return cls(k=hp["k"], min_k=hp["min_k"], verbose=False,
             sim_options={"name": hp["sim_name"], "user_based": hp["user_based"]})


class SurpriseRunner:
  """Surprise on our folds; trainsets/testsets are built once (untimed)."""

  lib = "surprise"

  def __init__(self, algo, hp, folds, seed):
    import surprise
    self.surprise, self.algo, self.hp, self.seed = surprise, algo, hp, seed
    reader = surprise.Reader(rating_scale=(1, 5))
    self.data = []
    for tr, te in folds:
      df = [(str(u), str(i), float(r), None) for u, i, r in zip(tr.user, tr.item, tr.rating)]
      trainset = surprise.Dataset(reader).construct_trainset(df)
      testset = [(str(u), str(i), float(r)) for u, i, r in zip(te.user, te.item, te.rating)]
      self.data.append((trainset, testset))

  def run(self):
    """(metrics per fold, fit seconds, test seconds)."""
    rows, fit_s, test_s = [], 0.0, 0.0
    for trainset, testset in self.data:
      a = _surprise_algo(self.algo, self.hp, self.seed)
      t0 = time.perf_counter()
      a.fit(trainset)
      t1 = time.perf_counter()
      preds = a.test(testset)
      t2 = time.perf_counter()
      fit_s, test_s = fit_s + t1 - t0, test_s + t2 - t1
      rows.append({"rmse": self.surprise.accuracy.rmse(preds, verbose=False),
                   "mae": self.surprise.accuracy.mae(preds, verbose=False)})
    return rows, fit_s, test_s


class ImplicitRunner:
  """implicit's BPR / ALS on our 75/25 split; metrics by our code from its factors."""

  def __init__(self, algo, hp, folds, seed, k):
    import scipy.sparse
    import implicit  # noqa: F401  (bench extra)
    self.lib = "implicit"
    self.algo, self.hp, self.seed, self.k = algo, hp, seed, k
    if algo == "ials" and (hp["reg_exponent"] != 0 or hp["confidence"] != "binary"):
      raise ValueError("implicit ALS has no frequency-scaled L2 (reg_exponent) nor rating "
                       "confidences; compare with reg_exponent=0, confidence='binary'")
    self.data = []
    for tr, te in folds:
      keep = np.asarray(tr.rating) >= hp["min_rating"]
      ui = scipy.sparse.csr_matrix(
          (np.ones(int(keep.sum()), np.float32), (tr.user[keep], tr.item[keep])),
          shape=(tr.num_users, tr.num_items))
      ui.sum_duplicates()
      ui.data[:] = 1.0
      seen = np.zeros((tr.num_users, tr.num_items), bool)
      seen[tr.user, tr.item] = True
      rel = np.zeros((tr.num_users, tr.num_items), bool)
      rel[te.user, te.item] = True
      self.data.append((ui.tocsr(), seen, rel))

  def _model(self):
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    hp = self.hp
    if self.algo == "bpr":
      return BayesianPersonalizedRanking(
          factors=hp["n_factors"], learning_rate=hp["lr"], regularization=hp["reg"],
          iterations=hp["n_epochs"], verify_negative_samples=True, random_state=self.seed)
    w0 = hp["unobserved_weight"]
    return AlternatingLeastSquares(
        factors=hp["n_factors"], regularization=hp["reg"] / w0, alpha=(1.0 + hp["alpha"]) / w0,
        iterations=hp["n_iters"], random_state=self.seed)

  def run(self):
    from jaxlab.projects.recsys import metrics as rmetrics
    rows, fit_s, test_s = [], 0.0, 0.0
    for ui, seen, rel in self.data:
      m = self._model()
      t0 = time.perf_counter()
      m.fit(ui, show_progress=False)
      t1 = time.perf_counter()
      users = np.arange(ui.shape[0])
      m.recommend(users, ui, N=self.k, filter_already_liked_items=True)
      t2 = time.perf_counter()
      fit_s, test_s = fit_s + t1 - t0, test_s + t2 - t1
      scores = np.asarray(m.user_factors) @ np.asarray(m.item_factors).T
      rows.append(rmetrics.evaluate_ranking(scores, seen, rel, self.k))
    return rows, fit_s, test_s


class OursRunner:
  lib = "jaxlab"

  def __init__(self, algo, hp, folds, seed, config):
    self.algo, self.hp, self.folds, self.seed, self.config = algo, hp, folds, seed, config

  def run(self):
    from jaxlab.projects.recsys import models
    from jaxlab.projects.recsys import train as rtrain
    rows, fit_s, test_s = [], 0.0, 0.0
    for tr, te in self.folds:
      t0 = time.perf_counter()
      model = models.fit(self.algo, tr, seed=self.seed, **self.hp)
      jax.block_until_ready(model.params)
      t1 = time.perf_counter()
      rows.append(rtrain.evaluate_fold(model, te, self.config))
      t2 = time.perf_counter()
      fit_s, test_s = fit_s + t1 - t0, test_s + t2 - t1
    return rows, fit_s, test_s


def _mean_rows(rows):
  keys = [k for k, v in rows[0].items() if isinstance(v, float)]
  return {k: float(np.mean([r[k] for r in rows])) for k in keys}


def compare_algo(algo, *, quick=False, reps=3, live=True, log=print):
  from jaxlab import configs
  from jaxlab.projects.recsys import models
  from jaxlab.projects.recsys import train as rtrain
  arg = "smoke,data.limit=3000" if quick else "train.progress=False"
  config = configs.load_config(str(REPO / f"configs/recsys/{algo}.py"), arg)
  hp = rtrain._hparams(config)
  full_hp = models.resolve_hparams(algo, hp)
  folds = rtrain._folds(config)
  seed = int(config.seed)
  ours = OursRunner(algo, hp, folds, seed, config)
  theirs, why_not = None, None
  if live:
    try:
      if algo in IMPLICIT_ALGOS:
        theirs = ImplicitRunner(algo, full_hp, folds, seed, int(config.eval.k))
      elif algo in SURPRISE_README:
        theirs = SurpriseRunner(algo, full_hp, folds, seed)
      else:
        why_not = "no reference implementation"
    except ImportError as e:
      why_not = f"not installed ({e.name}); pip install -e '.[bench]'"
  row = {"algo": algo, "protocol": config.eval.protocol, "num_folds": len(folds),
         "hparams": full_hp, "readme": SURPRISE_README.get(algo), "reps": reps}
  c0 = rtrain.compile_seconds()
  t0 = time.perf_counter()
  o_rows, o_fit, o_test = ours.run()  # rep 0: warm-up, accuracy, compile time
  row["ours_first_run_s"] = time.perf_counter() - t0
  row["ours_compile_s"] = rtrain.compile_seconds() - c0
  row["ours"] = _mean_rows(o_rows)
  row["ours_per_fold"] = o_rows
  o_times, t_times = [], []
  if theirs is not None:
    row["reference"] = theirs.lib
    t_rows, t_fit, t_test = theirs.run()
    row["theirs"] = _mean_rows(t_rows)
    row["theirs_per_fold"] = t_rows
  else:
    row["reference"] = why_not
  if reps == 0:  # no timed reps: warm-up times, ours minus its compile time
    o_times.append((o_fit, o_test, max(o_fit + o_test - row["ours_compile_s"], 0.0)))
    if theirs is not None:
      t_times.append((t_fit, t_test, t_fit + t_test))
  for r in range(1, reps + 1):
    order = [("ours", ours), ("theirs", theirs)]
    if r % 2 == 0:
      order.reverse()
    for who, runner in order:
      if runner is None:
        continue
      c0 = rtrain.compile_seconds()
      _, f, t = runner.run()
      if who == "ours":
        o_times.append((f, t, f + t))
        if rtrain.compile_seconds() - c0 > 0.05:
          row.setdefault("notes", []).append(f"rep {r}: ours recompiled "
                                             f"({rtrain.compile_seconds() - c0:.2f} s)")
      else:
        t_times.append((f, t, f + t))
    log(f"  {algo} rep {r}/{reps}: ours {o_times[-1][2]:.2f} s"
        + (f", {theirs.lib} {t_times[-1][2]:.2f} s" if theirs is not None else ""))
  med = lambda xs, j: float(statistics.median(x[j] for x in xs))
  row["ours_fit_s"], row["ours_test_s"], row["ours_time_s"] = (med(o_times, j) for j in range(3))
  row["ours_time_reps_s"] = [x[2] for x in o_times]
  if t_times:
    row["theirs_fit_s"], row["theirs_test_s"], row["theirs_time_s"] = (
        med(t_times, j) for j in range(3))
    row["theirs_time_reps_s"] = [x[2] for x in t_times]
    row["ratio"] = row["theirs_time_s"] / max(row["ours_time_s"], 1e-9)
  return row


def _fmt_acc(d, algo):
  if d is None:
    return "-"
  if algo in IMPLICIT_ALGOS:
    return f"nDCG {d['ndcg@10']:.4f} P {d['precision@10']:.4f}"
  return f"RMSE {d['rmse']:.4f} MAE {d['mae']:.4f}"


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--algos", default="baseline_only,svd,svdpp,knn_baseline,bpr,ials")
  p.add_argument("--quick", action="store_true", help="1 fold, 3000 ratings, tiny models")
  p.add_argument("--reps", type=int, default=3, help="timed paired repetitions after warm-up")
  p.add_argument("--no_live", action="store_true", help="do not run Surprise / implicit")
  p.add_argument("--out", default="", help="write the rows as JSON here")
  p.add_argument("--note", default="", help="free text stored in the JSON (e.g. 'contended')")
  args = p.parse_args(argv)
  rows = []
  for algo in [a for a in args.algos.split(",") if a]:
    print(f"{algo} ...", flush=True)
    rows.append(compare_algo(algo, quick=args.quick, reps=args.reps, live=not args.no_live))
    if args.out:  # after every algorithm, so a long run keeps what it has measured
      _write(args, argv, rows)
  print(f"\n{'algo':14s} {'ours':28s} {'reference (live, same folds)':40s} {'ours s':>7s} "
        f"{'compile s':>9s} {'ref s':>7s} {'ratio':>6s}")
  for r in rows:
    ref = f"{r['reference']}: {_fmt_acc(r.get('theirs'), r['algo'])}"
    ts = f"{r['theirs_time_s']:7.2f}" if "theirs_time_s" in r else f"{'-':>7s}"
    ratio = f"{r['ratio']:6.2f}" if "ratio" in r else f"{'-':>6s}"
    print(f"{r['algo']:14s} {_fmt_acc(r['ours'], r['algo']):28s} {ref[:40]:40s} "
          f"{r['ours_time_s']:7.2f} {r['ours_compile_s']:9.2f} {ts} {ratio}")
  return rows


def _write(args, argv, rows):
  out = pathlib.Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  cmd = " ".join(argv if argv is not None else sys.argv[1:])
  out.write_text(json.dumps({"versions": _versions(), "note": args.note, "quick": args.quick,
                             "command": f"python -m jaxlab.projects.recsys.compare {cmd}",
                             "rows": rows}, indent=1, default=float) + "\n")


def _versions():
  out = {"jax": jax.__version__, "python": platform.python_version(),
         "machine": platform.machine(), "cpu_count": __import__("os").cpu_count()}
  for mod in ("surprise", "implicit", "numpy"):
    try:
      out[mod] = __import__(mod).__version__
    except ImportError:
      out[mod] = None
  return out


if __name__ == "__main__":
  main()
