"""Regenerates colab/fsg_bnn.ipynb from this source (run from the repository root).

The notebook runs the FSG smoke config (STE and FSG, seconds) with the same code scripts/train.py
runs, then plots the measured accuracy/loss curves per estimator committed under results/fsg_bnn/.
"""
from notebook_cells import code, install_cell, md, write

cells = [
md("""# FSG: Fast and Slow Gradient approximation for binary networks (arXiv:2412.11777)

A binary network's weight gradient has to be *estimated*: the straight-through estimator (STE)
passes it through the sign unchanged; MetaQuant learns it with a small **fast-net**; FSG adds a
**slow-net** (a Mamba block) reading a FIFO of past gradients (**HGS**) with a learned per-layer
token (**LRE**). The hypernetworks are trained through a look-ahead weight.

This notebook (1) runs the smoke configuration of `jaxlab.projects.fsg_bnn` (a few steps, STE and
FSG from the same init and batch order) and (2) plots the curves of the measured mini runs
(MNIST, binary ResNet-8-lite 8/16/32 with binary weights and activations, stem and fc full
precision, 3 seeds), the same task against the LSTM hypernetworks the paper claims to beat, and
the measured cost of FSG vs STE, all stored in `results/fsg_bnn/`.

* **Colab:** run the install cell; point `JAXLAB_DATA` at a folder with the MNIST idx files.
* **Local checkout:** the install cell finds the repository one folder up."""),
install_cell(),
code("""import tempfile
from jaxlab.configs import load_config
from jaxlab.projects import get_entry_point

# The smoke variant: 512 MNIST images, a 4/8/8 binary ResNet, 8 pretrain + 6 fine-tuning steps.
# Drop "methods=..." to also run MetaQuant and FSG without LRE; use configs/fsg_bnn/mini.py
# without ":smoke" for the measured reproduction (12 runs, about 75 min on one shared CPU core).
config = load_config(str(REPO / "configs/fsg_bnn/mini.py"), "smoke,methods=('ste','fsg')")
workdir = tempfile.mkdtemp(prefix="jaxlab_fsg_")
res = get_entry_point(config.project)(config, workdir)
for m, r in res["runs"].items():
    r = r["0"]
    print(f"{m:10s} test acc {r['final_test_accuracy']:.3f}  train loss {r['epoch1_train_loss']:.3f}")"""),
code("""import json
import matplotlib.pyplot as plt
import numpy as np

def plot_runs(path, title):
    curves = json.loads(path.read_text())
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    colors = dict(zip(curves["methods"], plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for m, per_seed in curves["curves"].items():
        finals = []
        for i, (seed, h) in enumerate(per_seed.items()):
            sl = np.array(h["step_loss"])
            lab = m if i == 0 else None
            if len(sl):
                axes[0].plot(sl[:, 0], sl[:, 1], color=colors[m], alpha=0.7, label=lab)
            axes[1].plot(h["epoch"], 100 * np.array(h["test_accuracy"]), "o-", color=colors[m],
                         alpha=0.7, label=lab)
            finals.append(100 * h["test_accuracy"][-1])
        axes[2].bar(m, np.mean(finals), yerr=np.std(finals), capsize=4, color=colors[m])
    axes[0].set(xlabel="step", ylabel="train loss", title="training loss (one line per seed)")
    axes[1].set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy per epoch")
    axes[2].set(ylabel="last logged test accuracy (%)", title="mean ± std over seeds")
    axes[2].tick_params(axis="x", labelrotation=20)
    axes[0].legend(); axes[1].legend()
    fig.suptitle(f"{title}, W1A{curves['act_bits']}, seeds {curves['seeds']}")
    fig.tight_layout()
    plt.show()
    return curves

curves = plot_runs(REPO / "results/fsg_bnn/mnist_a1.json", "MNIST, binary ResNet-8-lite")
# The LSTM hypernetworks (MetaQuant-LSTM, FSG with an LSTM slow-net) beside STE / MetaQuant / FSG,
# one run on another machine than the figure above (compare within each figure only).
plot_runs(REPO / "results/fsg_bnn/mnist_a1_lstm.json", "against the LSTM hypernetworks")
done = {m: {s: r.get("complete", True) for s, r in d.items()} for m, d in curves["runs"].items()}
print("complete runs:", done)
print(json.dumps(curves["summary"].get("gates", {}), indent=1))
bench = REPO / "results/fsg_bnn/bench.json"
if bench.exists():
    b = json.loads(bench.read_text())
    for m, r in b["methods"].items():
        extra = f", slow-net share {100 * r['slow_net_share']:.0f} %" if "slow_net_share" in r else ""
        print(f"{m:10s} {r['steps_per_sec']:.2f} steps/s ({r['slowdown_vs_ste']:.1f}x STE's time){extra}")"""),
]
write(cells, "colab/fsg_bnn.ipynb")
