"""Each baseline's `smoke` config through train_and_evaluate, on the real data files."""

import json
import pathlib

import numpy as np
import pytest

from jaxlab import configs
from jaxlab.projects import get_entry_point
from jaxlab.train import read_metrics

REPO = pathlib.Path(__file__).resolve().parents[3]


def _run(name, tmp_path, arg="smoke"):
  c = configs.load_config(str(REPO / f"configs/baselines/{name}.py"), arg)
  res = get_entry_point(c.project)(c, str(tmp_path))
  on_disk = json.loads((tmp_path / "results.json").read_text())
  assert on_disk.keys() == res.keys()
  assert (tmp_path / "config.json").exists()
  return res


@pytest.mark.parametrize("name", ["mnist_cnn", "cifar10_resnet20", "cifar10_vit"])
def test_image_classification_smoke(name, tmp_path, data_dir):
  res = _run(name, tmp_path)
  assert 0.0 <= res["test_accuracy"] <= 1.0 and np.isfinite(res["test_loss"])
  rows = [r for r in read_metrics(tmp_path) if "train/loss" in r]
  assert len(rows) >= 2 and all(np.isfinite(r["train/loss"]) for r in rows)
  if name == "mnist_cnn":
    # 20 Adam steps on real MNIST already beat chance by far; a broken pipeline would not.
    assert res["test_accuracy"] > 0.3
    assert rows[-1]["train/loss"] < rows[0]["train/loss"]


def test_image_classification_resumes(tmp_path, data_dir):
  first = _run("mnist_cnn", tmp_path, "smoke,train.num_steps=10")
  assert first["resumed_from"] == 0
  again = _run("mnist_cnn", tmp_path, "smoke,train.num_steps=20")
  assert again["resumed_from"] == 10


@pytest.mark.parametrize("name", ["cora_gcn", "cora_gat"])
def test_node_classification_smoke(name, tmp_path, data_dir):
  res = _run(name, tmp_path)
  assert len(res["test_accuracy_per_seed"]) == 2
  assert res["num_nodes"] == 2708 and res["num_edges"] == 10556
  # 10 full-batch epochs on Cora reach well above the 1/7 chance level.
  assert res["val_accuracy_mean"] > 0.3


def test_language_model_smoke(tmp_path, data_dir):
  res = _run("shakespeare_lm", tmp_path)
  assert np.isfinite(res["val_loss"]) and res["val_loss"] < np.log(65) + 0.5
  assert isinstance(res["sample"], str) and len(res["sample"]) == 17


def test_lm_eval_ignores_padded_windows(tmp_path, data_dir):
  """Val loss must not depend on how the windows are batched (the last batch is padded)."""
  base = "smoke,train.num_steps=2,eval.max_batches=0"
  a = _run("shakespeare_lm", tmp_path / "a", base + ",eval.batch_size=16")
  b = _run("shakespeare_lm", tmp_path / "b", base + ",eval.batch_size=20")
  np.testing.assert_allclose(a["val_loss"], b["val_loss"], rtol=1e-5)


def test_channel_stats_match_numpy():
  from jaxlab.data import channel_stats
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, size=(50, 8, 8, 3), dtype=np.uint8)
  x = images.reshape(-1, 3).astype(np.float64) / 255.0
  mean, std = channel_stats(images)
  np.testing.assert_allclose(mean, x.mean(0), rtol=1e-6)
  np.testing.assert_allclose(std, x.std(0), rtol=1e-6)
  fmean, fstd = channel_stats(images.astype(np.float32))  # non-uint8 path: raw scale
  np.testing.assert_allclose(fmean, x.mean(0) * 255.0, rtol=1e-5)
  np.testing.assert_allclose(fstd, x.std(0) * 255.0, rtol=1e-5)
