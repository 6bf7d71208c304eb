"""The issue's acceptance gates as (slow) tests: full baseline runs on the real data.

Run with `pytest -m slow tests/projects/baselines` (minutes to an hour on 2 CPU cores).
"""

import pathlib

import pytest

from jaxlab import configs
from jaxlab.projects import get_entry_point

REPO = pathlib.Path(__file__).resolve().parents[3]

GATES = [
    ("cora_gcn", None, "test_accuracy_mean", 0.800),
    ("cora_gat", None, "test_accuracy_mean", 0.810),
    ("mnist_cnn", None, "test_accuracy", 0.990),
    ("cifar10_resnet20", None, "test_accuracy", 0.60),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,arg,key,threshold", GATES, ids=[g[0] for g in GATES])
def test_baseline_meets_gate(name, arg, key, threshold, tmp_path, data_dir):
  c = configs.load_config(str(REPO / f"configs/baselines/{name}.py"),
                          ",".join(filter(None, [arg, "train.progress=false"])))
  res = get_entry_point(c.project)(c, str(tmp_path))
  assert res[key] >= threshold, res


@pytest.mark.slow
def test_shakespeare_lm_meets_gate(tmp_path, data_dir):
  c = configs.load_config(str(REPO / "configs/baselines/shakespeare_lm.py"),
                          "train.progress=false")
  res = get_entry_point(c.project)(c, str(tmp_path))
  assert res["val_loss"] <= 1.60, res
