"""Regenerates colab/amp.ipynb from this source (run from the repository root).

The notebook runs the AMP `:smoke` config end to end (seconds: a 10-step tiny backbone on fake
data, every pruning stage), then plots the measured mini-scale results committed in
`results/amp/mini.json`: test accuracy against the fraction of MLP neurons removed (uniform keep
ratios per criterion, and AMP's adaptive widths for each delta), and the per-layer widths the
search found."""
import nbformat as nbf

nb = nbf.v4.new_notebook()
md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
nb.cells = [
md("""# AMP: Adaptive MLP Pruning (arXiv:2603.08100) on a Fashion-MNIST ViT

Entropy-Taylor importance of MLP hidden neurons (no labels), a binary search of each layer's
width against the validation entropy, and label-free distillation. The first cells run the
`:smoke` config (a tiny backbone trained for 10 steps on fake data, every stage of the pipeline);
the plots show the measured mini-scale run in `results/amp/mini.json` (command in
`jaxlab/projects/amp/README.md`)."""),
code("""# Install: a no-op when jaxlab is importable (e.g. inside the project's virtual environment).
import importlib.util, os, pathlib, subprocess, sys
REPO = pathlib.Path.cwd().parent if (pathlib.Path.cwd().parent / "pyproject.toml").exists() else pathlib.Path("jaxlab")
if importlib.util.find_spec("jaxlab") is None:
    if not REPO.exists():
        url = os.environ.get("JAXLAB_REPO_URL", "https://github.com/jaxlab/jaxlab")
        subprocess.check_call(["git", "clone", "-q", url, str(REPO)])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "-e", str(REPO)])
    sys.path.insert(0, str(REPO))
os.environ.setdefault("JAXLAB_DATA", str(REPO.resolve().parent / "shared" / "data"))
print("repository:", REPO.resolve())"""),
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

Fashion-MNIST ViT (patch 7, D=96, 6 blocks, H=384), no fine-tuning unless stated."""),
code("""import matplotlib.pyplot as plt
import numpy as np

res = json.loads((REPO / "results/amp/mini.json").read_text())  # search on batch-sim. entropy
# search on the class-softmax entropy: the delta sweep of two runs (same seed, same scores)
cls_runs = [json.loads((REPO / f"results/amp/{n}.json").read_text())
            for n in ("mini_cls", "mini_cls_fine") if (REPO / f"results/amp/{n}.json").exists()]
cls_sweep = sorted((s for r in cls_runs for s in r["search"]), key=lambda s: s["delta"])
widths = res["widths"]
search_of = lambda r: r.get("search_criterion", "ent_cls" if r in cls_runs else "ent_sim")
names = {"ent_sim": "entropy-Taylor (batch sim.)", "ent_cls": "entropy-Taylor (class)",
         "ce": "CE-Taylor", "magnitude": "magnitude", "random": "random"}
keeps = sorted(float(k.rsplit("_", 1)[1]) for k in res["no_finetune"] if k.startswith("uniform_keep_"))
fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8))
for crit, label in names.items():
    acc = [100 * res["no_finetune"][f"uniform_keep_{k:g}"][crit] for k in keeps]
    ax.plot([1 - k for k in keeps], acc, marker="o", label=f"uniform, {label}")
sw = res["search"]
ax.plot([s["mlp_reduction"] for s in sw], [100 * s["test_accuracy"] for s in sw], "k*", ms=10,
        label="AMP adaptive, batch-sim. entropy search")
if cls_sweep:
    ax.plot([s["mlp_reduction"] for s in cls_sweep], [100 * s["test_accuracy"] for s in cls_sweep],
            "m^-", ms=8, label="AMP adaptive, class-entropy search")
    sw = cls_sweep
ax.axhline(100 * res["unpruned"]["test_accuracy"], color="gray", ls="--", label="unpruned")
for r, m in [(res, "rs")] + [(r, "ms") for r in cls_runs]:
    if "distill" in r:
        ax.plot([r["chosen"]["mlp_reduction"]], [100 * r["distill"]["test_accuracy"]], m, ms=9,
                label=f"+ distillation ({search_of(r)} search)")
ax.set_xlabel("fraction of MLP neurons removed"); ax.set_ylabel("test accuracy (%)")
ax.set_title("accuracy vs MLP pruning ratio"); ax.legend(fontsize=7)
x = np.arange(len(widths))
w = 0.8 / len(sw)
for i, s in enumerate(sw):
    bx.bar(x + (i - len(sw) / 2) * w, s["counts"], width=w, label=f"delta={s['delta']:g}")
bx.axhline(widths[0], color="gray", ls="--")
bx.set_xlabel("block"); bx.set_ylabel("hidden neurons kept")
bx.set_title("per-layer widths found (class-entropy search)" if cls_sweep else "per-layer widths found")
bx.legend(fontsize=7); fig.tight_layout(); plt.show()
for r in [res] + cls_runs:
    print("search criterion:", search_of(r), "| chosen delta:", r["chosen"]["delta"],
          "| widths:", r["chosen"]["counts"], "| gates:", r["gates"])"""),
]
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nbf.write(nb, "colab/amp.ipynb")
