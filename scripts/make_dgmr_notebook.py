"""Regenerates colab/dgmr.ipynb from this source (run from the repository root).

The notebook runs DGMR's smoke config end to end (tiny teacher trained in place, GS/L2/random/
Taylor selection, distillation, scratch baseline) and plots the measured mini-scale results
committed under results/dgmr/: accuracy vs the fraction of MLP neurons removed, per criterion and
distillation budget, and the per-layer MLP widths before and after pruning."""
from notebook_cells import code, install_cell, md, write

cells = [
md("""# DGMR: diversity-guided MLP reduction (arXiv:2506.08591)

Gram-Schmidt selection of MLP hidden neurons (the pivot order of a column-pivoted QR of W1ᵀ), then
label-free feature distillation from the unpruned ViT. This notebook runs the `:smoke` config
(seconds) and plots the measured mini-scale comparison from `results/dgmr/` (Fashion-MNIST ViT,
D=96, H=384, 6 blocks). See `jaxlab/projects/dgmr/README.md` for the commands and the gates."""),
install_cell(),
md("""## GS selection is the pivot order of a pivoted QR

One jitted `lax.fori_loop` round picks the row of largest residual norm and projects it out of
all rows; scipy's column-pivoted QR of W1ᵀ gives the same order."""),
code("""import numpy as np, jax, jax.numpy as jnp, scipy.linalg
from jaxlab.projects.dgmr import method
w = np.random.default_rng(0).standard_normal((384, 96)).astype(np.float32)
idx, _ = method.gs_select(jnp.asarray(w), jnp.ones(384, bool), 96)
piv = scipy.linalg.qr(w.T.astype(np.float64), pivoting=True)[2]
print("GS == QR pivots for all 96 picks:", bool((np.asarray(idx) == piv[:96]).all()))"""),
md("## The whole comparison at smoke scale"),
code("""import tempfile
from jaxlab.configs import load_config
from jaxlab.projects.dgmr import train as dtrain
config = load_config(str(REPO / "configs/dgmr/mini.py"), "smoke")
res = dtrain.train_and_evaluate(config, tempfile.mkdtemp(prefix="dgmr_smoke_"))
for r in res["rows"]:
    print(f"m={r['ratio']}  {r['method']:8s} steps={r['budget']:4d}  acc={r['accuracy']:.1f}")"""),
md("""## Measured mini-scale results (committed JSON)

Accuracy vs the fraction of MLP neurons removed (m=1 keeps D of 4D neurons: 75% removed; m=0.5:
87.5%), mean over seeds; the dashed line is the teacher."""),
code("""import json
import matplotlib.pyplot as plt
tables = {}
teacher = {}
for p in sorted((REPO / "results/dgmr").glob("table_*.json")):
    s = json.loads(p.read_text())
    for ratio, methods in s["table"].items():
        tables[float(ratio)] = methods
        teacher[float(ratio)] = s["teacher_accuracy"]
H, D = 384, 96
budgets = sorted({int(b) for m in tables.values() for row in m.values() for b in row})
fig, axes = plt.subplots(1, len(budgets), figsize=(4 * len(budgets), 3.2), sharey=True, squeeze=False)
for ax, b in zip(axes[0], budgets):
    for meth in ("gs", "l2", "random", "taylor", "scratch"):
        pts = sorted([(0.0, np.mean(list(teacher.values())))] +
                     [(1 - r * D / H, t[meth][str(b)]["mean"]) for r, t in tables.items()
                      if meth in t and str(b) in t[meth]])
        if pts:
            ax.plot(*zip(*pts), marker="o", label=meth)
    ax.axhline(np.mean(list(teacher.values())), ls="--", c="k", lw=1, label="teacher (x=0)")
    ax.set_title("no recovery" if b == 0 else f"{b} distillation steps")
    ax.set_xlabel("fraction of MLP neurons removed")
axes[0][0].set_ylabel("test accuracy (%)")
axes[0][-1].legend(fontsize=7)
fig.tight_layout(); plt.show()"""),
code("""# Per-layer MLP widths: DGMR prunes every block to the same m*D (no per-layer search, unlike AMP).
fig, ax = plt.subplots(figsize=(5, 3))
blocks = np.arange(6)
ax.bar(blocks - 0.3, [H] * 6, width=0.3, label="teacher (4D)")
for i, r in enumerate(sorted(tables, reverse=True)):
    ax.bar(blocks + 0.3 * i, [int(r * D)] * 6, width=0.3, label=f"DGMR m={r:g}")
ax.set_xlabel("block"); ax.set_ylabel("MLP hidden width"); ax.legend(fontsize=7)
fig.tight_layout(); plt.show()
for p in sorted((REPO / "results/dgmr").glob("table_*.json")):
    print(p.name, json.dumps(json.loads(p.read_text())["gates"]["2_recovery"], indent=1))"""),
]
write(cells, "colab/dgmr.ipynb")
