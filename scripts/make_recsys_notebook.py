"""Regenerates colab/recsys.ipynb from this source (run from the repository root).

The notebook plots the committed measurements (results/recsys/measured.json, written by
`python -m jaxlab.projects.recsys.collect`, and results/recsys/compare.json when present) against
the published anchors, then runs the SVD smoke config and fits BaselineOnly on real ML-100K data
(seconds) and recommends for one user. It must finish in < 60 s on 2 CPU cores (the test suite
executes it)."""
from notebook_cells import code, install_cell, md, write

cells = [
md("""# jaxlab recsys: collaborative filtering in pure JAX

Surprise-style rating predictors (BaselineOnly, kNN, SVD, SVD++, NMF, a factorization machine)
and implicit-feedback rankers (popularity, BPR, iALS), measured on MovieLens-100K against the
published anchors (Surprise README; Recommenders benchmark). The bars come from the committed
`results/recsys/measured.json` (full runs, `scripts/train.py --config=configs/recsys/<algo>.py`);
the last cells train small models live.

* **Colab:** run the install cell, and point `JAXLAB_DATA` at a folder holding `ml-100k/`.
* **Local checkout:** the install cell finds the repository one folder up and skips installing."""),
install_cell(),
md("""## Measured vs anchors

Rating prediction: 5-fold CV (Surprise's `KFold(random_state=0)` folds), RMSE, lower is better.
Top-N: 75/25 per-user split, nDCG@10 and P@10 with training items excluded, higher is better."""),
code("""import json
import matplotlib.pyplot as plt
import numpy as np

measured = json.loads((REPO / "results/recsys/measured.json").read_text())
rows = {r["run"]: r for r in measured["rows"]}
rating = [r for r in measured["rows"] if r["protocol"] == "cv5" and "rmse_mean" in r]
ranking = [r for r in measured["rows"] if r["protocol"] == "split75"]

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
x = np.arange(len(rating))
ours = [r["rmse_mean"] for r in rating]
err = [r["rmse_std"] for r in rating]
anchor = [r.get("anchor", {}).get("rmse", np.nan) for r in rating]
ax1.bar(x - 0.2, ours, 0.4, yerr=err, label="jaxlab (5-fold mean ± std)")
ax1.bar(x + 0.2, anchor, 0.4, label="Surprise README")
ax1.set_xticks(x, [r["run"] for r in rating], rotation=60, ha="right")
ax1.set_ylim(0.85, 1.05); ax1.set_ylabel("RMSE"); ax1.set_title("ML-100K rating prediction")
ax1.legend(fontsize=8)

x = np.arange(len(ranking))
for off, key, lab in ((-0.3, "ndcg@10_mean", "nDCG@10"), (-0.1, "precision@10_mean", "P@10")):
    ax2.bar(x + off, [r[key] for r in ranking], 0.2, label=f"jaxlab {lab}")
for off, key, lab in ((0.1, "ndcg@10", "nDCG@10"), (0.3, "precision@10", "P@10")):
    ax2.bar(x + off, [r.get("anchor", {}).get(key, np.nan) for r in ranking], 0.2,
            label=f"cornac anchor {lab}")
ax2.axhline(0.40, color="k", ls=":", lw=1, label="gate nDCG 0.40")
ax2.set_xticks(x, [r["run"] for r in ranking]); ax2.set_title("ML-100K top-10 (75/25 split)")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

for name, g in measured["gates"].items():
    print(("PASS " if g["pass"] else "MISS ") + name, g["measured"] if not isinstance(g["measured"], dict) else "")"""),
code("""# Same-machine side by side (Surprise / implicit on identical folds), if committed.
path = REPO / "results/recsys/compare.json"
if path.exists():
    cmp_ = json.loads(path.read_text())
    print(cmp_.get("note", ""), "|", cmp_["command"])
    print(f"{'algo':14s} {'ours':>8s} {'theirs':>8s} {'ours s':>7s} {'theirs s':>8s} {'ratio':>6s}")
    for r in cmp_["rows"]:
        key = "ndcg@10" if r["protocol"] == "split75" else "rmse"
        t = r.get("theirs", {}).get(key, float("nan"))
        print(f"{r['algo']:14s} {r['ours'][key]:8.4f} {t:8.4f} {r['ours_time_s']:7.2f} "
              f"{r.get('theirs_time_s', float('nan')):8.2f} {r.get('ratio', float('nan')):6.2f}")
else:
    print("results/recsys/compare.json not committed yet")"""),
md("""## Smoke fits on real data

The smoke variant of a config (1 fold, the first 2,000 ratings, tiny model) runs through the
same `train_and_evaluate` as the full runs; then BaselineOnly trained on the official `u1.base`
is scored on `u1.test` and recommends unseen items."""),
code("""import tempfile
from jaxlab.configs import load_config
from jaxlab.projects import get_entry_point, recsys
from jaxlab.projects.recsys import data as rdata

for name in ("svd",):  # any configs/recsys/<algo>.py works here (bpr, ials, fm, ...)
    cfg = load_config(str(REPO / f"configs/recsys/{name}.py"), "smoke")
    res = get_entry_point(cfg.project)(cfg, tempfile.mkdtemp(prefix=f"recsys_{name}_"))
    key = "rmse_mean" if "rmse_mean" in res else "ndcg@10_mean"
    print(f"{name:4s} smoke: {key} = {res[key]:.4f}, fit {res['fit_time_total_s']:.2f} s")

train = rdata.load("u1.base")
test = rdata.load("u1.test")
model = recsys.fit("baseline_only", train)
rmse = float(np.sqrt(np.mean((np.asarray(recsys.predict(model, test.user, test.item)) - test.rating) ** 2)))
print(f"BaselineOnly on u1: RMSE {rmse:.4f}")
assert rmse < 1.0, rmse
items, scores = recsys.recommend(model, user=0, k=5)
print("top-5 unseen items for user 0:", items.tolist())"""),
]
write(cells, "colab/recsys.ipynb")
