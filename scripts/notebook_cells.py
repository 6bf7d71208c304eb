"""Pieces every notebook generator (`scripts/make_<project>_notebook.py`) shares.

The install cell is the same in every notebook: it finds the checkout one folder up (running
from `colab/`), else clones and installs the repository (Colab), and points `JAXLAB_DATA` at the
sibling `shared/data` unless it is already set. Change it here and regenerate the notebooks.
"""
import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell

INSTALL = """# Install: a no-op when jaxlab is importable (e.g. inside the project's virtual environment).
import importlib.util, os, pathlib, subprocess, sys
REPO = pathlib.Path.cwd().parent if (pathlib.Path.cwd().parent / "pyproject.toml").exists() else pathlib.Path("jaxlab")
if importlib.util.find_spec("jaxlab") is None:
    if not REPO.exists():
        url = os.environ.get("JAXLAB_REPO_URL", "https://github.com/jaxlab/jaxlab")
        subprocess.check_call(["git", "clone", "-q", url, str(REPO)])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "-e", str(REPO)])
    sys.path.insert(0, str(REPO))
os.environ.setdefault("JAXLAB_DATA", str(REPO.resolve().parent / "shared" / "data"))
print("repository:", REPO.resolve(), "| data:", os.environ["JAXLAB_DATA"])"""


def install_cell():
  return code(INSTALL)


def write(cells, path):
  """Writes `cells` as a Python 3 notebook to `path` (relative to the repository root)."""
  nb = nbf.v4.new_notebook()
  nb.cells = list(cells)
  for i, cell in enumerate(nb.cells):  # stable ids: regenerating gives a clean diff
    cell["id"] = f"cell-{i:02d}"
  nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
  nbf.write(nb, path)
