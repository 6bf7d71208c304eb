"""Regenerates colab/mecoin.ipynb (run from the repository root).

The notebook runs the Mecoin smoke config (seconds) and plots the figure that matters from the
committed results of the mini runs: accuracy on all seen classes after each session, per method,
on Cora and CiteSeer (results/mecoin/*.json)."""
from notebook_cells import code, install_cell, md, write

cells = [
md("""# Mecoin: graph few-shot class-incremental learning with a memory module

*An Efficient Memory Module for Graph Few-Shot Class-Incremental Learning* (Li et al., NeurIPS 2024,
arXiv:2411.06659), re-implemented in `jaxlab.projects.mecoin`.

1. Run the smoke config (2 seeds, base session + one 2-way 5-shot session on Cora, tiny memory).
2. Plot the measured mini-scale results (5 seeds, Cora 3 base + 2 sessions, CiteSeer 2 base + 2
   sessions): accuracy on all seen classes after each session, for Mecoin, its ablations and the
   baselines, all run in one script on the same seeds and sessions."""),
install_cell(),
code("""import tempfile
from jaxlab.configs import load_config
from jaxlab.projects import get_entry_point

config = load_config(str(REPO / "configs/mecoin/mini.py"), "smoke")
smoke = get_entry_point("mecoin")(config, tempfile.mkdtemp(prefix="mecoin_smoke_"))
for name, r in smoke["methods"].items():
    print(f"{name:>10}: accuracy per session {[round(a, 1) for a in r['acc_mean']]}, "
          f"trainable params/session {r['trainable_params_per_session']}")"""),
code("""import json
import matplotlib.pyplot as plt

STYLE = {"mecoin": ("C3", "o", "-"), "mecoin_hard": ("C1", "s", "--"),
         "mecoin_no_gkim": ("C5", "^", "--"), "mecoin_no_mecs": ("C6", "v", "--"),
         "mecoin_soft": ("C4", "<", "--"), "finetune_valsel": ("C0", "x", "--"),
         "ncm": ("C2", "D", "-"), "finetune": ("C0", "x", "-"), "finetune_replay": ("C9", "+", "-"),
         "finetune_head": ("C7", "x", ":"), "finetune_head_replay": ("C8", "+", ":"),
         "joint": ("k", "*", ":"), "mecoin_last": ("C3", "o", ":")}
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, ds in zip(axes, ["cora", "citeseer"]):
    res = json.loads((REPO / f"results/mecoin/{ds}.json").read_text())
    for name, r in res["methods"].items():
        c, m, ls = STYLE.get(name, ("grey", ".", "-"))
        x = range(len(r["acc_mean"]))
        ax.errorbar(x, r["acc_mean"], yerr=r["acc_std"], label=name, color=c, marker=m, ls=ls,
                    capsize=2, lw=2 if name == "mecoin" else 1)
    ax.set_xticks(list(x)); ax.set_xlabel("session (0 = base classes)")
    ax.set_ylabel("accuracy on all seen classes (%)")
    ax.set_title(f"{ds}: {res['n_base']} base + 2-way {res['shot']}-shot sessions, "
                 f"{len(res['seeds'])} seeds")
    ax.grid(alpha=0.3)
axes[1].legend(fontsize=7, ncol=2)
fig.tight_layout()
plt.show()
for ds in ["cora", "citeseer"]:
    res = json.loads((REPO / f"results/mecoin/{ds}.json").read_text())
    print(ds, {k: round(v["last_mean"], 1) for k, v in res["methods"].items()})"""),
md("""Stability against plasticity: accuracy on each session's classes after the last session
(group 0 = base classes). Low forgetting is only worth something if the newest classes are
learnt too; a method that never learns them forgets nothing."""),
code("""import numpy as np

SHOW = ["finetune", "ncm", "finetune_head_replay", "mecoin", "mecoin_last", "joint"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for ax, ds in zip(axes, ["cora", "citeseer"]):
    res = json.loads((REPO / f"results/mecoin/{ds}.json").read_text())
    names = [n for n in SHOW if "group_acc_mean" in res["methods"].get(n, {})]
    S = res["num_sessions"]
    for j, n in enumerate(names):
        last = res["methods"][n]["group_acc_mean"][-1]
        ax.bar(np.arange(S) + (j - len(names) / 2 + 0.5) * 0.8 / len(names), last,
               width=0.8 / len(names), label=n, color=STYLE.get(n, ("grey",))[0])
    ax.set_xticks(range(S), [f"group {g}" + (" (base)" if g == 0 else "") for g in range(S)])
    ax.set_ylabel("test accuracy after the last session (%)")
    ax.set_title(ds)
    ax.grid(alpha=0.3, axis="y")
axes[1].legend(fontsize=7)
fig.tight_layout()
plt.show()"""),
]
write(cells, "colab/mecoin.ipynb")
