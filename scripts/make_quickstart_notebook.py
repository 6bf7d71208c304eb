"""Regenerates colab/quickstart.ipynb from this source (run from the repository root).

Keeping the notebook as code here makes its diffs readable; the .ipynb is what users open."""
import nbformat as nbf
nb = nbf.v4.new_notebook()
md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
nb.cells = [
md("""# jaxlab quickstart

Train a baseline with the same code `scripts/train.py` runs, then plot its learning curve.

* **Colab:** run the install cell (it clones the repository and installs it), and point
  `JAXLAB_DATA` at a folder holding the MNIST idx files (or set `config.data.source = "tfds"`
  after preparing MNIST with `python -m jaxlab.data.prepare mnist`).
* **Local checkout:** the install cell finds the repository one folder up and skips installing."""),
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
print("repository:", REPO.resolve(), "| data:", os.environ["JAXLAB_DATA"])"""),
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
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nbf.write(nb, "colab/quickstart.ipynb")
