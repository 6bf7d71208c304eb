"""Regenerates colab/quickstart.ipynb from this source (run from the repository root).

Keeping the notebook as code here makes its diffs readable; the .ipynb is what users open."""
from notebook_cells import code, install_cell, md, write
cells = [
md("""# jaxlab quickstart

Train a baseline with the same code `scripts/train.py` runs, then plot its learning curve.

* **Colab:** run the install cell (it clones the repository and installs it), and point
  `JAXLAB_DATA` at a folder holding the MNIST idx files (or set `config.data.source = "tfds"`
  after preparing MNIST with `python -m jaxlab.data.prepare mnist`).
* **Local checkout:** the install cell finds the repository one folder up and skips installing."""),
install_cell(),
code("""import tempfile
import jax
from jaxlab.configs import load_config
from jaxlab.projects import get_entry_point

# The smoke variant trains for seconds; drop ":smoke" (or pass "smoke,train.num_steps=200")
# for a longer run.
config = load_config(str(REPO / "configs/baselines/mnist_cnn.py"), "smoke,train.num_steps=40")
workdir = tempfile.mkdtemp(prefix="jaxlab_quickstart_")
print(jax.devices())
results = get_entry_point(config.project)(config, workdir)
results"""),
code("""import matplotlib.pyplot as plt
from jaxlab.train import read_metrics

rows = [r for r in read_metrics(workdir) if "train/loss" in r]
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot([r["step"] for r in rows], [r["train/loss"] for r in rows], marker="o")
ax.set_xlabel("step"); ax.set_ylabel("train loss"); ax.set_title("MNIST CNN (smoke)")
fig.tight_layout()
fig.savefig(os.path.join(workdir, "learning_curve.png"))
plt.show()
assert rows[-1]["train/loss"] < rows[0]["train/loss"], "loss should fall"
print(f"test accuracy after {config.train.num_steps} steps: {results['test_accuracy']:.3f}")"""),
]
write(cells, "colab/quickstart.ipynb")
