"""Slicing vs masking, pre-norm features, the distillation loss and step (frozen head, overfit),
the schedules, and a smoke run of the whole comparison."""

import json
import pathlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import data as jdata
from jaxlab import nn as jnn
from jaxlab.configs import load_config
from jaxlab.projects.dgmr import losses, method
from jaxlab.projects.dgmr import model as dmodel
from jaxlab.projects.dgmr import train as dtrain

REPO = pathlib.Path(__file__).resolve().parents[3]
MEAN, STD = np.array([0.3], np.float32), np.array([0.3], np.float32)


def _teacher(variant="tiny"):
  model = jnn.get_model("vit", variant, patch_size=7)
  params = model.init(jax.random.key(0, impl="unsafe_rbg"), jnp.zeros((1, 28, 28, 1)))["params"]
  # A non-zero head so logits depend on the features.
  params["head"]["kernel"] = jax.random.normal(jax.random.key(1, impl="unsafe_rbg"),
                                               params["head"]["kernel"].shape) * 0.1
  return model, params


def _images(n=8, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1)).astype(np.uint8)


@pytest.mark.parametrize("variant", ["tiny", "tiny_swiglu"])
def test_slice_equals_mask(variant):
  model, params = _teacher(variant)
  keep = method.select_neurons("gs", method.neuron_rows_of_vit(params), 20)
  sliced = dmodel.slice_vit(params, keep)
  student = dmodel.create_model(dict(variant=variant, patch_size=7), (20,) * model.depth)
  x = jnp.asarray(_images(), jnp.float32) / 255.0
  a = student.apply({"params": sliced}, x)["logits"]
  gates = dmodel.masks_for(model.mlp_dims(), keep)
  b = model.apply({"params": params}, x, mlp_gates=gates)["logits"]
  chex.assert_shape(a, (8, 10))
  np.testing.assert_allclose(a, b, atol=1e-5)
  assert dmodel.hidden_sizes_of(sliced) == (20,) * model.depth


def test_prenorm_features_are_before_the_final_norm():
  model, params = _teacher()
  x = jnp.asarray(_images(), jnp.float32) / 255.0
  cls, patches = jax.jit(lambda p, x: dmodel.prenorm_features(model, p, x))(params, x)
  chex.assert_shape(cls, (8, model.hidden_size))
  chex.assert_shape(patches, (8, 16, model.hidden_size))
  out = model.apply({"params": params}, x)
  ln = jax.nn.standardize(cls, axis=-1, epsilon=1e-6)
  ln = ln * params["encoder_norm"]["scale"] + params["encoder_norm"]["bias"]
  np.testing.assert_allclose(ln, out["cls"], atol=1e-4)
  assert not np.allclose(cls, out["cls"], atol=1e-2)


def test_distill_loss_zero_for_identical_student_and_closed_form():
  model, params = _teacher()
  tx = losses.make_optimizer(load_config(str(REPO / "configs/dgmr/mini.py")).distill.optim)
  step = losses.make_distill_step(model, model, tx, MEAN, STD, stacked=False)
  opt = tx.init(params)
  p2, _, loss = step(jax.tree.map(jnp.copy, params), opt, params, _images(), 1e-3, 0.0)
  assert float(loss) == 0.0
  # Zero loss, zero gradient: Adam's update is 0/(0+eps) = 0, so nothing moves without wd.
  chex.assert_trees_all_close(p2, params, atol=1e-7)
  a, b = jnp.ones((2, 3)), jnp.zeros((2, 3))
  pa, pb = jnp.full((2, 4, 3), 2.0), jnp.zeros((2, 4, 3))
  np.testing.assert_allclose(losses.distill_loss(a, pa, b, pb, 1.0, 0.5), 1.0 + 0.5 * 4.0)
  with pytest.raises(ValueError, match="shapes differ"):
    losses.distill_loss(a, pa, b[:, :2], pb)


def test_distill_step_keeps_head_frozen_and_overfits_one_batch():
  model, params = _teacher()
  keep = method.select_neurons("l2", method.neuron_rows_of_vit(params), 8)
  student = dmodel.create_model(dict(variant="tiny", patch_size=7), (8,) * model.depth)
  init = dmodel.slice_vit(params, keep)
  cfg = load_config(str(REPO / "configs/dgmr/mini.py"))
  tx = losses.make_optimizer(cfg.distill.optim)
  step = losses.make_distill_step(model, student, tx, MEAN, STD, stacked=True)
  stacked = jax.tree.map(lambda *x: jnp.stack(x), init, init)
  opt = jax.vmap(tx.init)(stacked)
  imgs = _images(16)
  losses_seen = []
  for _ in range(60):
    stacked, opt, loss = step(stacked, opt, params, imgs, 3e-3, 0.04)
    losses_seen.append(np.asarray(loss))
  chex.assert_shape(losses_seen[0], (2,))
  assert np.all(losses_seen[-1] < 0.2 * losses_seen[0])
  for k in dmodel.FROZEN:
    chex.assert_trees_all_equal(jax.tree.map(lambda x: x[0], stacked[k]), init[k])
  assert not np.allclose(stacked["encoder_block_0"]["mlp"]["fc1"]["kernel"][0],
                         init["encoder_block_0"]["mlp"]["fc1"]["kernel"])


def test_schedules():
  cfg = load_config(str(REPO / "configs/dgmr/default.py"))
  s = losses.Schedules(cfg.distill.optim, 100)
  assert s.warmup == 10
  assert s.lr(0) < s.lr(9) < cfg.distill.optim.lr * 1.0001
  np.testing.assert_allclose(s.lr(10), cfg.distill.optim.lr)
  np.testing.assert_allclose(s.lr(100), cfg.distill.optim.min_lr, rtol=1e-6)
  np.testing.assert_allclose([s.wd(0), s.wd(50), s.wd(100)], [0.04, 0.12, 0.2], atol=1e-9)


def test_configs_and_bad_keys():
  mini = load_config(str(REPO / "configs/dgmr/mini.py"), "smoke")
  assert mini.project == "dgmr" and mini.smoke
  default = load_config(str(REPO / "configs/dgmr/default.py"))
  assert default.distill.optim.wd_end == 0.2 and default.prune.methods == ("gs",)
  with pytest.raises(KeyError, match="unknown config key"):
    load_config(str(REPO / "configs/dgmr/mini.py"), "distill.budget=3")


def test_fashion_mnist_loader(data_dir, monkeypatch):
  monkeypatch.setenv("JAXLAB_DATA", str(data_dir))
  cfg = load_config(str(REPO / "configs/dgmr/mini.py"), "smoke")
  tr, te, num_classes = jdata.load_train_test(cfg.data)
  assert num_classes == 10 and tr["image"].shape == (512, 28, 28, 1)
  assert tr["image"].dtype == np.uint8 and te["label"].shape == (200,)
  mean, std = jdata.channel_stats(tr["image"])
  np.testing.assert_allclose(mean, tr["image"].mean() / 255.0, rtol=1e-5)
  np.testing.assert_allclose(std, (tr["image"] / 255.0).std(), rtol=1e-4)


def test_smoke_run_and_table(data_dir, monkeypatch, tmp_path):
  monkeypatch.setenv("JAXLAB_DATA", str(data_dir))
  cfg = load_config(str(REPO / "configs/dgmr/mini.py"), "smoke")
  res = dtrain.train_and_evaluate(cfg, tmp_path / "seed0")
  methods = {r["method"] for r in res["rows"]}
  assert methods == {"gs", "l2", "random0", "taylor", "scratch"}
  assert {r["budget"] for r in res["rows"]} == {0, 5}
  assert res["gs_qr_match_min"] >= 0.99 and res["gs_round_residual_rel_max"] < 1e-5
  eff = res["efficiency"]["1.0"]
  assert 0 < eff["param_cut"] < eff["mlp_param_cut"] < 1
  assert json.loads((tmp_path / "seed0" / "results.json").read_text())["seed"] == 0
  # The comparison reads the finished seed back instead of rerunning it.
  from jaxlab.projects.dgmr import comparison
  out = comparison.run_comparison(cfg, tmp_path)
  assert set(out["table"]["1.0"]) == {"gs", "l2", "random", "taylor", "scratch"}
  assert out["table"]["1.0"]["gs"]["5"]["values"] == [
      r["accuracy"] for r in res["rows"] if r["method"] == "gs" and r["budget"] == 5]
  assert out["gates"]["1_selection"]["passed"]
