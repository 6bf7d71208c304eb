"""Regenerates colab/dps.ipynb from this source (run from the repository root).

The notebook runs DPS's smoke config (first 3,000 CollegeMsg messages, 1 seed, 1 epoch) for
the cheap methods (time-decay sampler, most-recent TGAT, EdgeBank: seconds), prints the fitted
decay rates, and plots the figure that matters from the committed mini-run results
(results/dps/mini.json): test ROC-AUC / AP of DPS beside TGAT (uniform / recent), each sampler
alone, mean fusion and EdgeBank, the test AUC per epoch budget, the validation curves, and
the per-epoch time against TGAT (from results/dps/bench.json)."""
from notebook_cells import code, install_cell, md, write

cells = [
md("""# DPS: dynamic preference structure for temporal networks (ICBK 2021, arXiv 2111.11886)

A TGAT-style temporal attention encoder embeds a node at time t from a *sample* of its past
interactions. DPS learns two samplers first — a Time Decay Sampler (per-node decay rate fitted by
maximum likelihood of repeated contacts) and a Gumbel Attention Sampler (a pretrained, Gumbel
fine-tuned 1-layer temporal attention) — and fuses the two sampled neighbourhoods with an
attention layer in every TGAT layer. Task: temporal link prediction on SNAP CollegeMsg.
Here: run the smoke config, then plot the measured mini-run results (3 seeds, see
`jaxlab/projects/dps/README.md`)."""),
install_cell(),
code("""import json, tempfile
from jaxlab.configs import load_config
from jaxlab.projects import get_entry_point

# Smoke: 3,000 messages, 1 seed, 1 epoch; the cheap methods only (the GAS stage needs minutes).
config = load_config(str(REPO / "configs/dps/mini.py"),
                     "smoke,methods=('tgat_recent','tds_only','edgebank')")
workdir = tempfile.mkdtemp(prefix="jaxlab_dps_")
res = get_entry_point(config.project)(config, workdir)
for m, row in res["table"].items():
    print(f"{m:13s} test AUC {row['auc']['mean']:.1f}  AP {row['ap']['mean']:.1f}")
print("time-decay fit:", res["gates"].get("lambda_gt1"), res["gates"]["precompute_s"])
assert all(0 < row["auc"]["mean"] <= 100 for row in res["table"].values())"""),
md("""## The figure that matters: link prediction on CollegeMsg, measured (mini run, 3 seeds)

DPS should beat the better TGAT sampler (uniform / most recent) by ≥ 0.5 AUC points at ≤ 1.5x
its per-epoch time; the time-decay sampler alone should beat uniform sampling. Left: test
AUC / AP at the run's epoch budget (mean over 3 seeds, error bars = std). Middle: the test AUC
each smaller epoch budget would have reported (best validation epoch among the first e), and
the validation curves (seed mean), i.e. whether the budget still limits the comparison. Right:
per-epoch wall time relative to `tgat_uniform` from `scripts/bench_dps.py` (epochs interleaved
in one process, medians; `results/dps/bench.json`)."""),
code("""import matplotlib.pyplot as plt
import numpy as np

mini = json.loads((REPO / "results/dps/mini.json").read_text())
bench = json.loads((REPO / "results/dps/bench.json").read_text())
tab = mini["table"]
methods = [m for m in ["tgat_uniform", "tgat_recent", "tds_only", "gas_only", "dps_mean", "dps",
                       "edgebank"] if m in tab]
neural = [m for m in methods if "val_auc_curves" in tab[m]]
fig, axes = plt.subplots(1, 5, figsize=(24, 3.9))
for ax, metric in zip(axes[:2], ["auc", "ap"]):
    mean = [tab[m][metric]["mean"] for m in methods]
    std = [tab[m][metric]["std"] for m in methods]
    colors = ["tab:red" if m == "dps" else "tab:gray" if m == "edgebank" else "tab:blue"
              for m in methods]
    ax.bar(methods, mean, yerr=std, color=colors)
    ax.set_ylim(min(mean) - 3, max(mean) + 2)
    ax.set_title(f"test {metric.upper()} (%), {mini['config']['num_epochs']} epochs, 3 seeds")
    ax.tick_params(axis="x", rotation=40)
for m in neural:
    bb = tab[m].get("by_budget")
    if bb:
        e = sorted(int(k) for k in bb)
        axes[2].plot(e, [bb[str(k)]["auc"]["mean"] for k in e], "o-", label=m,
                     lw=2.5 if m == "dps" else 1)
    n = min(len(c) for c in tab[m]["val_auc_curves"])
    axes[3].plot(range(1, n + 1), np.mean([c[:n] for c in tab[m]["val_auc_curves"]], 0), "o-",
                 label=m, lw=2.5 if m == "dps" else 1)
axes[2].set_title("test AUC vs epoch budget (seed mean)")
axes[3].set_title("validation AUC per epoch (seed mean)")
for ax in axes[2:4]:
    ax.set_xlabel("epoch")
    ax.legend(fontsize=7)
bm = bench["methods"]
names = list(bm)
axes[4].bar(names, [bm[m]["median_epoch_s"] / bm["tgat_uniform"]["median_epoch_s"] for m in names],
            color="tab:green")
axes[4].axhline(1.5, color="k", ls="--", lw=1, label="gate 1.5x")
axes[4].set_title("per-epoch time / tgat_uniform (bench, medians)")
axes[4].legend()
fig.tight_layout()
plt.show()
for name, g in mini["gates"].items():
    if name != "precompute_s":
        print(f"{name:18s} value {g['value']:+.3f}  need {g['need']}  ->", "PASS" if g["pass"] else "MISS")
r = bench["ratios"]["dps/tgat_uniform"]
print(f"bench dps/tgat_uniform per-round ratio: median {r['median']:.2f} (min {r['min']:.2f}, max {r['max']:.2f})")
print("sampler precompute (s, per seed):", {k: round(v, 1) for k, v in mini["gates"]["precompute_s"].items()})"""),
]
write(cells, "colab/dps.ipynb")
