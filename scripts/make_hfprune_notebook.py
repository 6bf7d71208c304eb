"""Regenerates colab/hfprune.ipynb from this source (run from the repository root).

The notebook runs the HFPrune smoke config (a tiny backbone trained on the spot, three criteria)
and plots the measured mini-scale results committed in results/hfprune/mini.json: val loss vs
MLP keep ratio per criterion, and the per-layer widths found by global top-k."""
from notebook_cells import code, install_cell, md, write

cells = [
md("""# HFPrune: entropy-Taylor pruning of a LLaMA-style LM's MLPs

*High-Fidelity Pruning for Large Language Models* (arXiv 2603.08083). Each SwiGLU neuron j of
layer l is scored by `sum_tokens |a * dE/da|`, where E is the entropy of the model's own
next-token distribution (no labels), and the lowest-scoring neurons are sliced away.

1. Run the smoke config (a tiny backbone trained on the spot; seconds).
2. Plot the measured mini-scale comparison (`results/hfprune/mini.json`, made by
   `python scripts/train.py --config=configs/hfprune/mini.py --workdir=...`)."""),
install_cell(),
code("""import tempfile
from jaxlab.configs import load_config
from jaxlab.projects import get_entry_point

config = load_config(str(REPO / "configs/hfprune/mini.py"),
                     'smoke,prune.criteria=("entropy","ce","random"),recovery.modes=("full",)')
smoke = get_entry_point(config.project)(config, tempfile.mkdtemp(prefix="hfprune_"))
for s in smoke["summary"]:
    print(f"{s['stage']:9s} {s['criterion']:8s} {s['scope']:6s} keep={s['keep']:.2f} "
          f"loss={s['loss']:.3f} KL={s['kl']:.4f} {s['mode']}")"""),
code("""import json
import matplotlib.pyplot as plt
import numpy as np

res = json.loads((REPO / "results/hfprune/mini.json").read_text())
dense = res["dense"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
ax = axes[0]
for crit in ["entropy", "ce", "wanda", "magnitude", "random"]:
    rows = sorted([s for s in res["summary"] if s["stage"] == "pruned" and s["scope"] == "layer"
                   and s["criterion"] == crit], key=lambda s: s["keep"])
    if rows:
        ax.errorbar([1 - s["keep"] for s in rows], [s["loss"] for s in rows],
                    yerr=[s["loss_std"] for s in rows], marker="o", capsize=3, label=crit)
for mode, mk in [("full", "*"), ("lora", "P")]:
    rows = sorted([s for s in res["summary"] if s["stage"] == "recovered" and s["mode"] == mode],
                  key=lambda s: s["keep"])
    if rows:
        ax.plot([1 - s["keep"] for s in rows], [s["loss"] for s in rows], mk, ms=11,
                label=f"entropy + {mode} recovery")
ax.axhline(dense["loss"], color="k", ls="--", lw=1, label="dense")
ax.set_xlabel("MLP pruning ratio (1 - keep)"); ax.set_ylabel("val loss (nats/char)")
ax.set_yscale("log"); ax.legend(fontsize=7); ax.set_title("loss vs pruning ratio (no fine-tune)")
ax = axes[1]
widths = res["global_widths"]
names = sorted(widths)
for i, name in enumerate(names):
    w = np.mean(np.array(widths[name]), axis=0)
    ax.bar(np.arange(len(w)) + (i - (len(names) - 1) / 2) * 0.8 / len(names), w,
           width=0.8 / len(names), label=name)
ax.axhline(res["model"]["mlp_dim"][0], color="k", lw=1)
ax.set_xlabel("layer"); ax.set_ylabel("kept neurons"); ax.legend(fontsize=7)
ax.set_title("per-layer widths, global top-k")
fig.tight_layout(); plt.show()
for k, g in res["gates"].items():
    print(f"{k:32s} {'PASS' if g['passed'] else 'MISS'}  "
          + ", ".join(f"{a}={b:.4g}" for a, b in g.items() if isinstance(b, float)))"""),
]
write(cells, "colab/hfprune.ipynb")
