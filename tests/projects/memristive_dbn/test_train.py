"""Configs, the real-data loader, errors, and the smoke run of train_and_evaluate (slow)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.configs import load_config
from jaxlab.projects.memristive_dbn import devices
from jaxlab.projects.memristive_dbn import plots
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


def test_config_read_noise_reaches_literature_devices_only():
  c = load_config(CFG.format("mini"), "device.read_noise=0.02")
  for dev in ("ag_si", "epiram", "pcmo", "taox_hfox", "alox_hfo2"):
    spec = train.device_spec(c, dev)
    assert spec.read_noise == 0.02
    assert float(devices.device_scalars(spec)["read_noise"]) == np.float32(0.02)
  assert train.device_spec(c, "ideal").read_noise == 0.0  # the reference device reads exactly
  assert float(devices.device_scalars(train.device_spec(c, "yflash"))["read_noise"]) == 0.0


@pytest.mark.parametrize("arg, match", [
    ("method.label_sampling=categorial", "label_sampling"),
    ("method.readout=energy", "readout"),
    ("runs.cdacc_devices=('ag_si','tiox')", "tiox"),
    ("sweep.enabled=True,sweep.device=hfo", "hfo"),
    ("sweep.enabled=True,sweep.device=yflash", "NeuroSim-form"),
    ("runs.cdacc_devices=('measured',)", "measured_curve"),
    ("runs.online_devices=('measured',),device.measured_curve=/no/such.csv", "not found"),
])
def test_bad_choices_fail_before_training(tmp_path, arg, match):
  with pytest.raises((ValueError, FileNotFoundError), match=match):
    train.train_and_evaluate(load_config(CFG.format("mini"), "smoke," + arg), tmp_path)
  assert not any(tmp_path.iterdir())  # nothing written, nothing trained


def test_real_mnist_loader(data_dir):
  c = load_config(CFG.format("mini"), f"data.num_train=1000,data.num_test=1000,data.dir={data_dir}")
  xtr, ytr, xte, yte, grey = train.load_data(c)
  assert xtr.shape == (1000, 784) and xte.shape == (1000, 784) and grey.shape == xte.shape
  assert grey.dtype == np.float32 and 0.0 <= grey.min() and grey.max() <= 1.0
  np.testing.assert_array_equal(xte, (grey > 0.5).astype(np.float32))  # threshold mode
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


def test_measured_device_runs_both_schemes(tmp_path, data_dir):
  """A measured trace goes through config, CDacc and online CD, the summary (beside the
  literature gates, not in them), the plots and the device-curve figure. Fed EpiRAM's own
  formula trace, CDacc writes and scores as the formula EpiRAM (without NL variation) does."""
  spec = devices.get_device("epiram")
  up, dn = devices.formula_trace(spec)
  curve = tmp_path / "epiram_trace.npz"
  np.savez(curve, ltp=1e-6 + 1e-5 * up, ltd=1e-6 + 1e-5 * dn)
  c = load_config(CFG.format("mini"),
                  f"smoke,data.dir={data_dir},data.num_train=1000,data.num_test=500,"
                  f"runs.software=False,runs.cdacc_devices=('epiram','measured'),"
                  f"runs.online_devices=('measured',),train.finetune_epochs=0,device.d2d_nl=0.0,"
                  f"device.measured_curve={curve},device.measured_c2c={spec.c2c},eval.n_samples=0")
  s = train.device_spec(c, "measured")
  assert (s.p_ltp, s.c2c, s.read_noise, s.d2d_nl) == (64, spec.c2c, c.device.read_noise, 0.0)
  res = train.train_and_evaluate(c, str(tmp_path / "work"))
  cd, ref = res["runs"]["cdacc_measured"], res["runs"]["cdacc_epiram"]
  assert cd["totals"]["pulses"] > 0 and res["runs"]["online_measured"]["totals"]["pulses"] > 0
  assert abs(cd["totals"]["pulses"] - ref["totals"]["pulses"]) <= 0.01 * ref["totals"]["pulses"]
  assert abs(cd["acc_det"] - ref["acc_det"]) <= 0.02
  run = json.loads((tmp_path / "work" / "runs" / "cdacc_measured.json").read_text())
  assert len(run["spec"]["curve_ltp"]) == 65 and run["spec"]["source"].endswith("epiram_trace.npz")
  assert "measured" in res["ratios"]
  lit = res["gates"]["cdacc_3_devices_ge_94_best_ge_95"]["value"]
  assert set(lit) == {"epiram"}  # a measured trace is not a literature device
  run_files = ",".join(str(tmp_path / "work" / "runs" / f"{n}.json")
                       for n in ("cdacc_epiram", "cdacc_measured"))
  plots.main([f"--mini={tmp_path / 'work'}", f"--out={tmp_path / 'out'}",
              f"--measured-curve={curve}", f"--curves={run_files}"])
  for fig in ("device_curves.png", "accuracy_writes.png", "epoch_curves.png"):
    assert (tmp_path / "out" / fig).stat().st_size > 0


def test_fingerprint_of_formula_devices_is_unchanged_by_the_measured_fields():
  c = load_config(CFG.format("mini"), "smoke")
  fp = train._fingerprint(c, "cdacc", "ag_si", train.device_spec(c, "ag_si"), 1, 1, 2000)
  assert not any(k.startswith("curve_") for k in fp["spec"])


@pytest.mark.parametrize("scheme, device", [("cdacc", "ag_si"), ("cdacc", "yflash"),
                                            ("software", None)])
def test_dbn_from_rbms_zeroes_every_accumulator_and_keeps_counts(scheme, device):
  c = load_config(CFG.format("mini"), "smoke")
  spec = train.device_spec(c, device) if device else None
  if scheme == "software":
    spec = devices.get_device("ideal")
  rbms = []
  for i, (nv, nh) in enumerate(((6, 4), (4, 3), (5, 7))):
    syns = train.model.init_synapses(jax.random.key(i), train.model.rbm_shapes(nv, nh), scheme,
                                     spec)
    syns = jax.tree.map(lambda a: a + 3 if a.dtype == jnp.int32 else a, syns)  # fake history
    rbms.append(syns)
  dbn = train._dbn_from_rbms(*rbms, jax.random.key(9), scheme, spec)
  accs = [s["acc"] for s in dbn.values() if "acc" in s]
  assert (len(accs) > 0) == (scheme != "software")
  assert all(int(jnp.abs(a).max()) == 0 for a in accs)
  if scheme != "software":
    assert int(dbn["vishid"]["count"].min()) == 3   # pulses so far still count


def test_summarize_compares_pretrain_only_online_with_cdacc_pretraining():
  tot = lambda p, a: {"pulses": p, "events": p, "events_a": a}
  runs = {
      "software": {"scheme": "software", "device": None, "acc_pretrain_det": 0.93,
                   "acc_det": 0.94, "totals": tot(0, 10)},
      "cdacc_ag_si": {"scheme": "cdacc", "device": "ag_si", "acc_pretrain_det": 0.89,
                      "acc_det": 0.90, "totals": tot(100, 50_000),
                      "totals_pretrain": tot(60, 30_000)},
      "online_ag_si": {"scheme": "online", "device": "ag_si", "acc_pretrain_det": 0.70,
                       "acc_det": 0.74, "totals": tot(300, 9_000), "finetune": []},
  }
  out = train.summarize(None, runs)
  r = out["ratios"]["ag_si"]
  assert r["b_phase"] == "pretrain" and r["b_cdacc_pulses"] == 60
  assert r["b_pulses_over_cdacc"] == pytest.approx(5.0)
  assert r["cdacc_minus_b_acc"] == pytest.approx(0.89 - 0.74)
  assert r["a_events_over_cdacc"] == pytest.approx(500.0)
  g = out["gates"]
  assert not g["writes_reduced_ge_30x_b"]["pass"] and g["spec_b_ge_3x_and_plus_5pts"]["pass"]
  assert g["writes_reduced_ge_30x_a"]["pass"] and not g["software_ge_96"]["pass"]
  assert g["pretrain_only"]["pass"]
  # With a fine-tuned online run the whole-run totals are compared.
  runs["online_ag_si"]["finetune"] = [{"pulses": 1}]
  assert train.summarize(None, runs)["ratios"]["ag_si"]["b_cdacc_pulses"] == 100


def test_robustness_grid_variant_and_sweep_only_plots(tmp_path):
  """`grid` gives the spec's 24 points; `plots --sweep` without `--mini` adds a second sweep to an
  existing summary under its own key (the first kept) and draws the heatmaps."""
  pytest.importorskip("matplotlib")
  from jaxlab.projects.memristive_dbn import plots
  cfg = load_config("configs/memristive_dbn/robustness.py", "grid,full_width")
  pts = [tuple(p) for p in cfg.sweep.points]
  assert len(set(pts)) == 24 and cfg.model.n_top == 2000
  assert {p[0] for p in pts} == {0, 2, 4, 6} and {p[1] for p in pts} == {0.0, 0.02, 0.05}
  sweep = tmp_path / "sweep"
  (sweep / "runs").mkdir(parents=True)
  for nl, c2c, d2d in pts:
    for scheme in ("cdacc", "online"):
      r = {"scheme": scheme, "device": "taox_hfox", "acc_det": 0.8 - 0.01 * nl,
           "point": {"nl": nl, "c2c": c2c, "d2d": d2d}}
      (sweep / "runs" / f"sweep_{scheme}_nl{nl:g}_c2c{c2c:g}_d2d{d2d:g}.json").write_text(
          json.dumps(r))
  (sweep / "results.json").write_text(json.dumps({"gates": {"robustness": {"pass": True}}}))
  out = tmp_path / "out"
  out.mkdir()
  (out / "summary.json").write_text(json.dumps({"runs": {}, "sweep": {"old": {"acc_det": 0.5}},
                                                "gates": {"robustness": {"pass": False}}}))
  plots.main([f"--sweep={sweep}", "--sweep-key=sweep_grid", f"--out={out}"])
  s = json.loads((out / "summary.json").read_text())
  assert s["sweep"] == {"old": {"acc_det": 0.5}} and len(s["sweep_grid"]) == 48
  assert s["gates"] == {"robustness": {"pass": False}, "robustness_grid": {"pass": True}}
  assert (out / "robustness_grid.png").stat().st_size > 0
  with pytest.raises(SystemExit, match="sweep-key"):
    plots.main([f"--sweep={sweep}", "--sweep-key=grid", f"--out={out}"])


def _tiny_data(n_train=200, n_test=100):
  rng = np.random.default_rng(0)
  x = (rng.random((n_train + n_test, 784)) < 0.3).astype(np.float32)
  y = rng.integers(0, 10, n_train + n_test).astype(np.int32)
  return x[:n_train], y[:n_train], x[n_train:], y[n_train:], x[n_train:]


class _Stop(Exception):
  pass


def _stop_after(monkeypatch, fn_name, n):
  """Makes method.<fn_name> raise after n calls (a run killed at an epoch end)."""
  real, calls = getattr(train.method, fn_name), []

  def wrapped(*a, **k):
    if len(calls) == n:
      raise _Stop
    calls.append(1)
    return real(*a, **k)
  monkeypatch.setattr(train.method, fn_name, wrapped)


@pytest.mark.parametrize("scheme, device, stop_in, n", [
    ("cdacc", "ag_si", "pretrain_epoch", 3),   # inside RBM2's pre-training
    ("cdacc", "ag_si", "finetune_epoch", 1),   # after one fine-tuning epoch
    ("software", None, "finetune_epoch", 0),   # after the last pre-training epoch
])
def test_interrupted_run_resumes_to_the_same_result(tmp_path, monkeypatch, capsys, scheme, device,
                                                    stop_in, n):
  c = load_config(CFG.format("mini"), "smoke,train.pretrain_epochs=2,train.finetune_epochs=2,"
                  "eval.chunk=100,train.ckpt_every_s=0")
  data = _tiny_data()
  kw = dict(name="r", progress=False)
  ref = train.run_dbn(c, data, scheme, device, run_dir=tmp_path / "a", **kw)
  with monkeypatch.context() as mp:
    _stop_after(mp, stop_in, n)
    with pytest.raises(_Stop):
      train.run_dbn(c, data, scheme, device, run_dir=tmp_path / "b", **kw)
  capsys.readouterr()
  got = train.run_dbn(c, data, scheme, device, run_dir=tmp_path / "b", **kw)
  done = n if stop_in == "pretrain_epoch" else 3 * 2 + n
  assert f"resuming after epoch {done} of 8" in capsys.readouterr().out
  for k in ("acc_det_per_epoch", "acc_det", "acc_samp", "acc_analog", "acc_det_free_energy",
            "pretrain",
            "finetune", "totals", "endurance"):
    assert got.get(k) == ref.get(k), k
  assert got["wall_s"] > 0


def test_checkpoint_of_other_settings_or_damaged_is_refused(tmp_path):
  c = load_config(CFG.format("mini"), "smoke,train.pretrain_epochs=1,train.finetune_epochs=0,"
                  "eval.chunk=100,eval.n_samples=0,train.ckpt_every_s=0")
  data = _tiny_data()
  train.run_dbn(c, data, "software", None, name="r", progress=False, run_dir=tmp_path)
  c2 = load_config(CFG.format("mini"), "smoke,train.pretrain_epochs=1,train.finetune_epochs=0,"
                   "eval.chunk=100,eval.n_samples=0,seed=5")
  with pytest.raises(train.CheckpointError, match="other settings"):
    train.run_dbn(c2, data, "software", None, name="r", progress=False, run_dir=tmp_path)
  for f in tmp_path.rglob("*"):
    if f.is_file() and f.stat().st_size > 0 and "meta" not in str(f):
      f.write_bytes(b"garbage")
  before = sorted(str(f) for f in tmp_path.rglob("*"))
  with pytest.raises(train.CheckpointError, match="could be restored"):
    train.run_dbn(c, data, "software", None, name="r", progress=False, run_dir=tmp_path)
  assert sorted(str(f) for f in tmp_path.rglob("*")) == before  # nothing deleted


@pytest.mark.parametrize("scheme, device", [("software", None), ("cdacc", "ag_si")])
def test_eval_script_rereads_a_finished_run_exactly(tmp_path, scheme, device):
  """scripts/eval_memristive_dbn.py restores the fine-tuned DBN and reproduces every read-out of
  the run (same key salts); it refuses a run folder that does not exist."""
  import importlib.util
  import pathlib
  path = pathlib.Path(__file__).parents[3] / "scripts" / "eval_memristive_dbn.py"
  spec = importlib.util.spec_from_file_location("eval_memristive_dbn", path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  c = load_config(CFG.format("mini"), "smoke,train.pretrain_epochs=1,train.finetune_epochs=1,"
                  "eval.chunk=100,eval.n_samples=3,train.ckpt_every_s=0")
  data = _tiny_data()
  name = "software" if scheme == "software" else f"cdacc_{device}"
  res = train.run_dbn(c, data, scheme, device, name=name, progress=False,
                      run_dir=tmp_path / "runs" / name)
  out = mod.reread(c, tmp_path, name, data=data)
  for k in ("acc_det", "acc_det_free_energy", "acc_analog", "acc_samp"):
    assert out[k] == res[k], k
  assert out["finetune_epochs_done"] == 1 and out["scheme"] == scheme
  with pytest.raises(SystemExit, match="no run folder"):
    mod.reread(c, tmp_path, "online_ag_si", data=data)
