"""Side-by-side table: jaxlab recsys vs Surprise's published ML-100K numbers (and, when the
`scikit-surprise` package is installed, a live Surprise run on the very same folds).

  python -m jaxlab.projects.recsys.compare --algos=baseline_only,svd,knn_basic [--surprise]
  python -m jaxlab.projects.recsys.compare --quick      # seconds: 1 fold, 3000 ratings, 2 epochs

Each algorithm runs through `train.train_and_evaluate` with its configs/recsys/<algo>.py config
(5-fold CV, `eval.cv_seed=0`); `--surprise` fits Surprise's class with the same hyper-parameters
on identical train/test triples (our folds reproduce `KFold(random_state=0)`), so RMSE gaps are
implementation differences, not fold noise. Times are on different hardware from the README's.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time

import numpy as np

# Surprise README, ML-100K, 5-fold CV (RMSE, MAE, total time for 5 folds in seconds).
SURPRISE_README = {
    "svd": (0.934, 0.737, 6), "svdpp": (0.919, 0.721, 99), "nmf": (0.963, 0.758, 6),
    "knn_basic": (0.980, 0.774, 8), "knn_with_means": (0.951, 0.749, 9),
    "knn_baseline": (0.931, 0.733, 13), "baseline_only": (0.944, 0.748, 2),
    "normal_predictor": (1.518, 1.219, 1),
}
CONFIG_OF = {a: a for a in SURPRISE_README}
REPO = pathlib.Path(__file__).resolve().parents[3]


def _surprise_algo(name, hp, seed):
  import surprise  # optional: pip install scikit-surprise
  if name == "svd":
    return surprise.SVD(n_factors=hp["n_factors"], n_epochs=hp["n_epochs"], lr_all=hp["lr_all"],
                        reg_all=hp["reg_all"], init_std_dev=hp["init_std"], random_state=seed)
  if name == "svdpp":
    return surprise.SVDpp(n_factors=hp["n_factors"], n_epochs=hp["n_epochs"],
                          lr_all=hp["lr_all"], reg_all=hp["reg_all"], random_state=seed)
  if name == "nmf":
    return surprise.NMF(n_factors=hp["n_factors"], n_epochs=hp["n_epochs"], random_state=seed)
  if name == "baseline_only":
    return surprise.BaselineOnly(bsl_options={"method": hp["method"]}, verbose=False)
  if name == "normal_predictor":
    return surprise.NormalPredictor()
  cls = {"knn_basic": surprise.KNNBasic, "knn_with_means": surprise.KNNWithMeans,
         "knn_with_zscore": surprise.KNNWithZScore, "knn_baseline": surprise.KNNBaseline}[name]
  return cls(k=hp["k"], min_k=hp["min_k"], verbose=False,
             sim_options={"name": hp["sim_name"], "user_based": hp["user_based"]})


def run_surprise(name, hp, config, seed=0):
  """RMSE/MAE per fold of Surprise on our folds (same triples, same train order)."""
  import surprise
  from jaxlab.projects.recsys import train as rtrain
  out = []
  for tr, te in rtrain._folds(config):
    df = [(str(u), str(i), float(r), None) for u, i, r in zip(tr.user, tr.item, tr.rating)]
    trainset = surprise.Dataset(surprise.Reader(rating_scale=(1, 5))).construct_trainset(df)
    algo = _surprise_algo(name, hp, seed)
    t0 = time.perf_counter()
    algo.fit(trainset)
    fit_s = time.perf_counter() - t0
    preds = algo.test([(str(u), str(i), float(r)) for u, i, r in zip(te.user, te.item, te.rating)])
    out.append((surprise.accuracy.rmse(preds, verbose=False),
                surprise.accuracy.mae(preds, verbose=False), fit_s))
  return np.array(out)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--algos", default=",".join(SURPRISE_README))
  p.add_argument("--quick", action="store_true", help="1 fold, 3000 ratings, tiny models")
  p.add_argument("--surprise", action="store_true", help="also run scikit-surprise live")
  p.add_argument("--workdir", default="")
  p.add_argument("--out", default="", help="write the rows as JSON here")
  args = p.parse_args(argv)
  from jaxlab import configs
  from jaxlab.projects.recsys import train as rtrain
  rows = []
  root = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="recsys_compare_"))
  for algo in [a for a in args.algos.split(",") if a]:
    arg = "smoke,data.limit=3000" if args.quick else "train.progress=False"
    c = configs.load_config(str(REPO / f"configs/recsys/{CONFIG_OF.get(algo, algo)}.py"), arg)
    res = rtrain.train_and_evaluate(c, str(root / algo))
    row = {"algo": algo, "rmse": res.get("rmse_mean"), "rmse_std": res.get("rmse_std"),
           "mae": res.get("mae_mean"), "fit_s": res["fit_time_total_s"],
           "compile_s": res["compile_time_s"], "total_excl_compile_s":
           res["total_time_excl_compile_s"], "readme": SURPRISE_README.get(algo)}
    if args.surprise:
      try:
        s = run_surprise(algo, res["hparams"], c, seed=int(c.seed))
        row.update(surprise_rmse=float(s[:, 0].mean()), surprise_mae=float(s[:, 1].mean()),
                   surprise_fit_s=float(s[:, 2].sum()))
      except ImportError:
        row["surprise_rmse"] = "scikit-surprise not installed"
    rows.append(row)
  print(f"{'algo':18s} {'RMSE':>14s} {'MAE':>7s} {'README RMSE/MAE/s':>19s} "
        f"{'fit s':>7s} {'compile s':>9s} {'Surprise live':>14s}")
  for r in rows:
    rd = r["readme"]
    readme = f"{rd[0]:.3f}/{rd[1]:.3f}/{rd[2]}" if rd else "-"
    rmse = f"{r['rmse']:.4f}±{r['rmse_std']:.4f}" if r["rmse"] is not None else "-"
    mae = f"{r['mae']:.4f}" if r["mae"] is not None else "-"
    live = r.get("surprise_rmse", "-")
    live = f"{live:.4f}" if isinstance(live, float) else str(live)
    print(f"{r['algo']:18s} {rmse:>14s} {mae:>7s} {readme:>19s} {r['fit_s']:7.2f} "
          f"{r['compile_s']:9.2f} {live:>14s}")
  if args.out:
    pathlib.Path(args.out).write_text(json.dumps(rows, indent=2, default=str))
  return rows


if __name__ == "__main__":
  main()
