"""FSG project: model shapes, param split, configs, a smoke run of all estimators, real data."""

import json
import pathlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import data as jdata
from jaxlab import train as jtrain
from jaxlab.configs import load_config
from jaxlab.projects.fsg_bnn import method as fm
from jaxlab.projects.fsg_bnn import model as fmodel
from jaxlab.projects.fsg_bnn import train as ftrain

REPO = pathlib.Path(__file__).resolve().parents[3]
CONFIGS = ["mini", "mini_a32", "cifar_subset", "default", "ablation_combined", "lstm_baselines"]


@pytest.mark.parametrize("act_bits", [1, 32])
def test_binary_resnet_shapes_and_split(act_bits):
  m = fmodel.BinaryResNet(widths=(4, 8), blocks=1, stem=4, num_classes=10, act_bits=act_bits)
  x = jnp.ones((2, 12, 12, 1))
  v = m.init(jax.random.PRNGKey(0), x)
  w, r = fmodel.split_params(v["params"])
  # stem, 2 convs per block, 1 projection in the strided stage, fc.
  assert sorted(w) == ["conv1/kernel", "fc/kernel", "stage1_block1/conv1/kernel",
                       "stage1_block1/conv2/kernel", "stage2_block1/conv1/kernel",
                       "stage2_block1/conv2/kernel", "stage2_block1/proj_conv/kernel"]
  assert "fc/bias" in r and not any(k.endswith("kernel") for k in r)
  merged = fmodel.merge_params(w, r)
  chex.assert_trees_all_equal(merged, v["params"])
  out = jax.jit(lambda p: m.apply({"params": p, "batch_stats": v["batch_stats"]}, x))(merged)
  chex.assert_shape(out, (2, 10))
  chex.assert_tree_all_finite(out)
  with pytest.raises(ValueError, match="images"):
    m.apply(v, jnp.ones((12, 12, 1)))


def test_fp_layers_stay_full_precision_and_bad_names_fail():
  m = fmodel.BinaryResNet(widths=(4, 8), blocks=1, stem=4, num_classes=10, act_bits=1)
  v = m.init(jax.random.PRNGKey(0), jnp.ones((1, 12, 12, 1)))
  w, r = fmodel.split_params(v["params"], ("conv1", "fc"))
  assert "conv1/kernel" in r and "fc/kernel" in r
  assert "conv1/kernel" not in w and "fc/kernel" not in w and len(w) == 5
  chex.assert_trees_all_equal(fmodel.merge_params(w, r), v["params"])
  with pytest.raises(ValueError, match="fp_layers"):
    fmodel.split_params(v["params"], ("conv_1",))


def test_bn_recalibration_gives_the_batch_statistics():
  """After recalibration on a batch, eval mode on that batch equals train mode (batch stats)."""
  m = fmodel.BinaryResNet(widths=(4, 8), blocks=1, stem=4, num_classes=10, act_bits=1)
  x = jax.random.normal(jax.random.key(0, impl="unsafe_rbg"), (32, 12, 12, 1))
  v = m.init(jax.random.PRNGKey(0), x[:1])
  w, r = fmodel.split_params(v["params"], ("conv1", "fc"))

  def apply_train(wq, rest, bs, images):
    out, upd = m.apply({"params": fmodel.merge_params(wq, rest), "batch_stats": bs}, images,
                       train=True, mutable=["batch_stats"])
    return out, upd["batch_stats"]
  recal = fm.make_bn_recalibrate_fn(apply_train, 1, fmodel.BN_MOMENTUM)
  bs = recal(w, r, v["batch_stats"], x)
  wq = {k: fm.dorefa_weight(t, 1) for k, t in w.items()}
  train_out, _ = apply_train(wq, r, v["batch_stats"], x)
  eval_out = m.apply({"params": fmodel.merge_params(wq, r), "batch_stats": bs}, x, train=False)
  np.testing.assert_allclose(eval_out, train_out, rtol=1e-3, atol=1e-3)
  stale = m.apply({"params": fmodel.merge_params(wq, r), "batch_stats": v["batch_stats"]}, x,
                  train=False)
  assert not np.allclose(stale, train_out, atol=1e-2)


@pytest.mark.parametrize("name", CONFIGS)
def test_configs_load_and_reject_unknown_keys(name):
  path = str(REPO / "configs/fsg_bnn" / f"{name}.py")
  c = load_config(path)
  assert c.project == "fsg_bnn"
  for m in c.methods:
    fm.check_method(m)
  assert load_config(path, "smoke").smoke
  with pytest.raises(KeyError, match="unknown config key"):
    load_config(path, "fsg.alphaa=0.5")


@pytest.mark.parametrize("arg", ["optim.name=sgd", "optim.schedule=cosine"])
def test_unimplemented_optimiser_choices_are_refused(arg):
  with pytest.raises(ValueError, match="adam_dir_sgd"):
    ftrain.Problem(load_config(str(REPO / "configs/fsg_bnn/mini.py"), "smoke," + arg))


def test_default_config_is_paper_scale():
  c = load_config(str(REPO / "configs/fsg_bnn/default.py"))
  assert (c.model.widths, c.model.blocks, c.fsg.hgs_length, c.fsg.expand, c.fsg.d_state,
          c.fsg.alpha, c.train.num_epochs) == ((16, 32, 64), 3, 5, 100, 16, 0.9, 100.0)
  # The code's architecture and input pipeline, so its FP checkpoint loads as is.
  assert (c.model.conv_padding, c.data.norm_stats) == ("torch", "cifar10_official")


@pytest.mark.slow  # colab/fsg_bnn.ipynb runs the same STE + FSG smoke in the default suite
def test_smoke_run_all_estimators(tmp_path, data_dir, monkeypatch):
  monkeypatch.setenv("JAXLAB_DATA", str(data_dir))
  # fsg_nolre compiles the same graph as fsg and metaquant a subset of it; the toy-net tests in
  # test_fsg_method cover both.
  cfg = load_config(str(REPO / "configs/fsg_bnn/mini.py"), "smoke,methods=('ste','fsg')")
  res = ftrain.train_and_evaluate(cfg, tmp_path)
  assert set(res["runs"]) == set(cfg.methods)
  for m in cfg.methods:
    r = res["runs"][m]["0"]
    assert 0.0 <= r["final_test_accuracy"] <= 1.0
    assert np.isfinite(r["epoch1_train_loss"])
    assert (tmp_path / "seed0" / m / "metrics.jsonl").exists()
  assert "gates" in res["summary"]
  assert json.loads((tmp_path / "results.json").read_text())["methods"] == list(cfg.methods)
  # A restart reuses the finished runs (resume at run granularity) and gives the same figures.
  again = ftrain.train_and_evaluate(cfg, tmp_path)
  assert again["runs"]["fsg"]["0"]["final_test_accuracy"] == res["runs"]["fsg"]["0"]["final_test_accuracy"]


def test_train_set_evaluation_scores_the_training_images(tmp_path, data_dir, monkeypatch):
  """eval.train_set: Problem.evaluate(data=tr) is the mean CE / accuracy of Q(W) over the
  unaugmented training images (checked against a direct computation), and a run records it
  after every epoch and in the epoch-1 gate."""
  monkeypatch.setenv("JAXLAB_DATA", str(data_dir))
  cfg = load_config(str(REPO / "configs/fsg_bnn/mini.py"),
                    "smoke,methods=('ste','fsg'),eval.train_set=True,eval.bn_recalibrate=0")
  prob = ftrain.Problem(cfg)
  v = prob.init_variables(0)
  w, r = fmodel.split_params(v["params"], prob.fp_layers)
  ev = prob.evaluate(fm.make_eval_fn(prob.apply_eval, 1), w, r, v["batch_stats"], data=prob.tr)
  wq = {k: fm.dorefa_weight(t, 1) for k, t in w.items()}
  x = ftrain.normalize(prob.tr["image"], prob.mean, prob.std)
  logits = np.asarray(prob.apply_eval(wq, r, v["batch_stats"], x), np.float64)
  y = np.asarray(prob.tr["label"])
  logp = logits - logits.max(1, keepdims=True)
  logp -= np.log(np.exp(logp).sum(1, keepdims=True))
  np.testing.assert_allclose(ev["loss"], -logp[np.arange(len(y)), y].mean(), rtol=1e-4)
  assert ev["accuracy"] == pytest.approx((logits.argmax(1) == y).mean())
  res = ftrain.train_and_evaluate(cfg, tmp_path)
  for m in cfg.methods:
    r0 = res["runs"][m]["0"]
    h = res["curves"][m]["0"]
    assert len(h["train_set_loss"]) == len(h["train_set_accuracy"]) == len(h["epoch"]) >= 1
    assert r0["epoch1_train_set_loss"] == h["train_set_loss"][0]
    assert np.isfinite(h["train_set_loss"]).all() and 0 <= min(h["train_set_accuracy"]) <= 1
    assert h["train_set_loss"][0] != h["test_loss"][0]  # another split
  g = res["summary"]["gates"]["fsg_minus_ste_epoch1_train_set_loss"]
  d = res["runs"]["fsg"]["0"]["epoch1_train_set_loss"] - res["runs"]["ste"]["0"]["epoch1_train_set_loss"]
  assert g["n"] == 1 and g["mean"] == pytest.approx(d)


def test_resume_refuses_runs_and_pretrains_of_other_settings(tmp_path, data_dir, monkeypatch):
  """A finished (seed, method) run or an FP pretrain left by other settings is refused before
  anything is computed or overwritten; other estimators' settings do not touch the pretrain."""
  monkeypatch.setenv("JAXLAB_DATA", str(data_dir))
  path = str(REPO / "configs/fsg_bnn/mini.py")
  cfg = load_config(path, "smoke,methods=('ste',)")
  problem = ftrain.Problem(cfg)
  run = tmp_path / "seed0" / "ste"
  run.mkdir(parents=True)
  old = load_config(path, "smoke,methods=('ste',),optim.lr=0.5")
  jtrain.write_run_info(run, old)
  jtrain.write_results(run, {"final_test_accuracy": 0.1})
  with pytest.raises(jtrain.StageCacheError, match="optim.lr"):
    ftrain.run_method(problem, "ste", None, 0, run, False)
  jtrain.write_run_info(run, load_config(path, "smoke,methods=('ste','fsg'),train.progress=True"))
  assert ftrain.run_method(problem, "ste", None, 0, run, False) == {"final_test_accuracy": 0.1}
  sdir = tmp_path / "seed0"
  (sdir / "pretrain.msgpack").write_bytes(b"not a checkpoint")
  fp = jtrain.config_fingerprint(load_config(path, "smoke,pretrain.lr=0.5"),
                                 keep=ftrain.PRETRAIN_KEYS, ignore=("quant.weight_bits",))
  (sdir / "pretrain.json").write_text(json.dumps(fp))
  with pytest.raises(jtrain.StageCacheError, match="pretrain.lr"):
    ftrain.pretrain(problem, 0, sdir, False)
  fp = jtrain.config_fingerprint(load_config(path, "smoke,fsg.alpha=0.5"),
                                 keep=ftrain.PRETRAIN_KEYS, ignore=("quant.weight_bits",))
  (sdir / "pretrain.json").write_text(json.dumps(fp))  # same pretrain settings, file damaged
  with pytest.raises(jtrain.StageCacheError, match="cannot restore"):
    ftrain.pretrain(problem, 0, sdir, False)


def test_bad_inputs_fail_clearly(data_dir, monkeypatch):
  monkeypatch.setenv("JAXLAB_DATA", str(data_dir))
  path = str(REPO / "configs/fsg_bnn/mini.py")
  with pytest.raises(ValueError, match="act_bits"):
    ftrain.Problem(load_config(path, "smoke,quant.act_bits=4"))
  with pytest.raises(ValueError, match="batch_size"):
    ftrain.Problem(load_config(path, "smoke,data.batch_size=1024"))
  with pytest.raises(ValueError, match="unknown estimator"):
    ftrain.train_and_evaluate(load_config(path, "smoke,methods=('ste','sgd')"), "/tmp/unused")


def test_real_mnist_loader(data_dir, monkeypatch):
  monkeypatch.setenv("JAXLAB_DATA", str(data_dir))
  cfg = load_config(str(REPO / "configs/fsg_bnn/mini.py"))
  tr, te, n = jdata.load_train_test(cfg.data)
  assert n == 10
  chex.assert_shape(tr["image"], (12800, 28, 28, 1))
  chex.assert_shape(te["image"], (10000, 28, 28, 1))
  mean, std = jdata.channel_stats(tr["image"])
  np.testing.assert_allclose([mean[0], std[0]], [0.1307, 0.3081], atol=0.01)
