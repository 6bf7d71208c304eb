"""Configs, the real-data loader, errors, and the smoke run of train_and_evaluate (slow)."""

import json

import numpy as np
import pytest

from jaxlab.configs import load_config
from jaxlab.projects.memristive_dbn import train

CFG = "configs/memristive_dbn/{}.py"


@pytest.mark.parametrize("name", ["mini", "default", "robustness"])
def test_configs_load(name):
  c = load_config(CFG.format(name))
  assert c.project == "memristive_dbn"
  assert c.method.theta == c.data.batch_size == 100
  s = load_config(CFG.format(name), "smoke,seed=3")
  assert s.smoke and s.seed == 3 and s.model.n_hid == 64 and s.data.num_train == 2000
  with pytest.raises(KeyError, match="valid keys"):
    load_config(CFG.format(name), "method.thetta=3")
  assert load_config(CFG.format("default")).model.n_top == 2000


def test_real_mnist_loader(data_dir):
  c = load_config(CFG.format("mini"), f"data.num_train=1000,data.num_test=1000,data.dir={data_dir}")
  xtr, ytr, xte, yte = train.load_data(c)
  assert xtr.shape == (1000, 784) and xte.shape == (1000, 784)
  assert set(np.unique(xtr)) == {0.0, 1.0} and xtr.dtype == np.float32
  assert 0.1 < xtr.mean() < 0.2  # thresholded MNIST: ~13 % pixels on
  assert set(np.unique(ytr)) == set(range(10))
  bad = load_config(CFG.format("mini"), f"data.num_train=1050,data.dir={data_dir}")
  with pytest.raises(ValueError, match="multiple"):
    train.load_data(bad)


def test_binarize_modes_and_epoch_order():
  img = np.array([[0, 127, 128, 255]], np.uint8)
  np.testing.assert_array_equal(train.binarize(img), [[0, 0, 1, 1]])
  b = train.binarize(np.full((1, 1000), 128, np.uint8), "bernoulli")
  assert 0.4 < b.mean() < 0.6
  with pytest.raises(ValueError, match="visible_binarization"):
    train.binarize(img, "nope")
  o1, o2 = train.epoch_order(1000, 100, 0, 3), train.epoch_order(1000, 100, 0, 3)
  np.testing.assert_array_equal(o1, o2)
  assert o1.shape == (10, 100) and sorted(o1.reshape(-1)) == list(range(1000))


@pytest.mark.slow
def test_smoke_train_and_evaluate(tmp_path, data_dir):
  c = load_config(CFG.format("mini"), f"smoke,data.dir={data_dir},sweep.enabled=True")
  res = train.train_and_evaluate(c, str(tmp_path))
  runs = res["runs"]
  assert set(runs) == {"software", "cdacc_ag_si", "online_ag_si"}
  for r in runs.values():
    assert 0.0 <= r["acc_det"] <= 1.0
  cd = runs["cdacc_ag_si"]["totals"]
  assert cd["pulses"] == cd["events"] > 0 and cd["events_a"] > cd["pulses"]
  assert runs["software"]["totals"]["pulses"] == 0
  assert "robustness" in res["gates"] and len(res["sweep"]) == 4
  assert json.loads((tmp_path / "results.json").read_text())["runs"]
  # Resume: a second call reuses the saved runs.
  again = train.train_and_evaluate(c, str(tmp_path))
  assert again["runs"]["cdacc_ag_si"]["acc_det"] == runs["cdacc_ag_si"]["acc_det"]
