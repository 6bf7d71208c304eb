"""Executes the notebooks in colab/ top to bottom (as a user would, in a fresh kernel)."""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((REPO / "colab").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_executes(path, data_dir, monkeypatch):
  monkeypatch.setenv("JAXLAB_DATA", str(data_dir))
  monkeypatch.setenv("JAX_PLATFORMS", "cpu")
  monkeypatch.delenv("XLA_FLAGS", raising=False)
  nb = nbformat.read(path, as_version=4)
  NotebookClient(nb, timeout=600, kernel_name="python3",
                 resources={"metadata": {"path": str(path.parent)}}).execute()
  errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"]
  assert not errors
