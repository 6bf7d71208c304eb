"""The issue's acceptance gates as (slow) tests: full baseline runs on the real data.

Run with `pytest -m slow tests/projects/baselines` (minutes to an hour on 2 CPU cores).
The thresholds live in `jaxlab.projects.baselines.GATES`, shared with the results table.
"""

import pathlib

import pytest

from jaxlab import configs
from jaxlab.projects import get_entry_point
from jaxlab.projects.baselines import GATES, meets_gate

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_every_gate_has_a_config():
  for name in GATES:
    assert (REPO / f"configs/baselines/{name}.py").is_file(), name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GATES))
def test_baseline_meets_gate(name, tmp_path, data_dir):
  c = configs.load_config(str(REPO / f"configs/baselines/{name}.py"), "train.progress=false")
  res = get_entry_point(c.project)(c, str(tmp_path))
  assert meets_gate(name, res), (GATES[name], res)
