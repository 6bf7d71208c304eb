"""Regenerates colab/amp.ipynb from this source (run from the repository root).

The notebook runs the AMP `:smoke` config end to end (seconds: a 10-step tiny backbone on fake
data, every pruning stage), then plots the measured mini-scale results committed in
`results/amp/mini.json` (3 seeds): test accuracy against the fraction of MLP neurons removed
(uniform keep ratios per criterion, and AMP's adaptive widths for each delta), and the per-layer
widths the search found."""
from notebook_cells import code, install_cell, md, write

cells = [
md("""# AMP: Adaptive MLP Pruning (arXiv:2603.08100) on a Fashion-MNIST ViT

Entropy-Taylor importance of MLP hidden neurons (no labels), a binary search of each layer's
width against the validation entropy, and label-free distillation. The first cells run the
`:smoke` config (a tiny backbone trained for 10 steps on fake data, every stage of the pipeline);
the plots show the measured mini-scale run in `results/amp/mini.json` (command in
`jaxlab/projects/amp/README.md`)."""),
install_cell(),
code("""import json, tempfile
from jaxlab.configs import load_config
from jaxlab.projects import get_entry_point

config = load_config(str(REPO / "configs/amp/mini.py"), "smoke")
workdir = tempfile.mkdtemp(prefix="amp_smoke_")
smoke = get_entry_point("amp")(config, workdir)
print("per-layer widths found:", smoke["chosen"]["counts"], "of", smoke["widths"])
print("masked vs sliced max |logit diff|:", smoke["efficiency"]["max_abs_logit_diff_masked_vs_sliced"])
assert smoke["efficiency"]["max_abs_logit_diff_masked_vs_sliced"] < 1e-5"""),
md("""## Measured mini-scale run

Fashion-MNIST ViT (patch 7, D=96, 6 blocks, H=384, 88.07% test), 3 calibration seeds, no
fine-tuning unless stated. Left: uniform keep ratios per criterion (mean ± std over seeds) and
AMP's adaptive widths for every delta of the sweep (class-entropy search, each seed); the red
square is the chosen delta after 2 epochs of distillation. Right: the per-layer widths found."""),
code("""import matplotlib.pyplot as plt
import numpy as np

res = json.loads((REPO / "results/amp/mini.json").read_text())
sim_path = REPO / "results/amp/sim_search.json"  # the same run searched on batch-sim. entropy
sim = json.loads(sim_path.read_text()) if sim_path.exists() else None
tabs, widths = res["no_finetune_over_seeds"], res["widths"]
names = {"ent_cls": "entropy-Taylor (class)", "ent_sim": "entropy-Taylor (batch sim.)",
         "ce": "CE-Taylor", "magnitude": "magnitude", "random": "random"}
keeps = sorted(float(k.rsplit("_", 1)[1]) for k in tabs if k.startswith("uniform_keep_"))
fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4))
for crit, label in names.items():
    m = [100 * tabs[f"uniform_keep_{k:g}"][crit]["mean"] for k in keeps]
    e = [100 * tabs[f"uniform_keep_{k:g}"][crit]["std"] for k in keeps]
    ax.errorbar([1 - k for k in keeps], m, yerr=e, marker="o", capsize=3, label=f"uniform, {label}")
for i, (seed, sweep) in enumerate(res["search_per_seed"].items()):
    ax.plot([s["mlp_reduction"] for s in sweep], [100 * s["test_accuracy"] for s in sweep], "k*",
            ms=9, label="AMP adaptive (class-entropy search), each seed" if i == 0 else None)
if sim:
    ax.plot([s["mlp_reduction"] for s in sim["search"]], [100 * s["test_accuracy"] for s in sim["search"]],
            "cx", ms=9, label="AMP adaptive, batch-sim. entropy search (collapses)")
ax.axhline(100 * res["unpruned"]["test_accuracy"], color="gray", ls="--", label="unpruned")
if "distill" in res:
    ax.plot([res["chosen"]["mlp_reduction"]], [100 * res["distill"]["test_accuracy"]], "rs", ms=9,
            label="chosen delta + 2 epochs distillation (seed 0)")
ax.set_xlabel("fraction of MLP neurons removed"); ax.set_ylabel("test accuracy (%)")
ax.set_title("accuracy vs MLP pruning ratio"); ax.legend(fontsize=7)
sw = res["search_per_seed"][str(res["seeds"][0])]
x, w = np.arange(len(widths)), 0.8 / len(sw)
for i, s in enumerate(sw):
    bx.bar(x + (i - len(sw) / 2) * w, s["counts"], width=w, label=f"delta={s['delta']:g}")
bx.axhline(widths[0], color="gray", ls="--")
bx.set_xlabel("block"); bx.set_ylabel("hidden neurons kept")
bx.set_title(f"per-layer widths found (class-entropy search, seed {res['seeds'][0]})")
bx.legend(fontsize=7); fig.tight_layout(); plt.show()
print("chosen per seed:", [(c["seed"], c["delta"], c["counts"]) for c in res["chosen_per_seed"]])
print("gates (3-seed means):", res["gates_over_seeds"])"""),
]
write(cells, "colab/amp.ipynb")
