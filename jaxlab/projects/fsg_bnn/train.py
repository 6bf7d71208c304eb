"""FSG vs STE vs MetaQuant: full-precision pretrain, then binarised fine-tuning with every estimator.

`train_and_evaluate(config, workdir)`:
  1. trains the full-precision network (same activations as the binary run) for
     `pretrain.epochs` epochs with Adam, or reuses `workdir/seed<S>/pretrain.msgpack`, or loads
     the official FP checkpoint named by `pretrain.checkpoint` (`checkpoint.py`);
  2. for every estimator in `config.methods`, from that same init, with the same hypernetwork
     init and the same batch order (`batch_iterator(seed)`), fine-tunes the binarised network for
     `train.num_epochs` epochs (one jitted step per estimator; the Python loop over methods is
     outside jit) and evaluates Q(W) on the test set after each epoch;
  3. repeats for `num_seeds` seeds (seed, seed+1, ...) and writes `results.json` with per-seed
     and mean/std figures. A finished (seed, method) run is reused on restart (its own
     `results.json`), so an interrupted sweep resumes at run granularity; a run (or an FP
     pretrain) left by other settings is refused, not reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import time

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from jaxlab import configs
from jaxlab import data as jdata
from jaxlab import train as jtrain
from jaxlab.ops.augment import crop_flip, normalize
from jaxlab.projects.fsg_bnn import checkpoint as fckpt
from jaxlab.projects.fsg_bnn import method as fm
from jaxlab.projects.fsg_bnn import model as fmodel

# Keys of the shared config vocabulary this project does not read (configs.refuse_unused).
UNUSED_SHARED_KEYS = ("optim.wd", "optim.warmup_steps", "optim.grad_clip", "optim.momentum",
                      "train.eval_every", "train.ckpt_every", "train.tensorboard")
UNUSED_HINT = ("FSG trains with the official Adam-direction + SGD step at optim.lr, decayed by "
               "optim.decay_factor at optim.decay_epochs; it evaluates every epoch and keeps "
               "each finished run's results.json")


class Problem:
  """Data, model and the pure apply functions shared by all estimators of one config."""

  def __init__(self, config):
    self.config = config
    # Only the official optimiser (Adam direction, then an SGD step at the scheduled lr,
    # `method.py`) and its step schedule exist: refuse another choice instead of ignoring it.
    if (config.optim.name, config.optim.schedule) != ("adam_dir_sgd", "step"):
      raise ValueError(f"optim.name={config.optim.name!r}, optim.schedule="
                       f"{config.optim.schedule!r}: fsg_bnn implements only 'adam_dir_sgd' with "
                       "the 'step' schedule (optim.lr, optim.decay_epochs, optim.decay_factor)")
    self.tr, self.te, self.num_classes = jdata.load_train_test(config.data)
    if config.quant.act_bits not in (1, 32):
      raise ValueError(f"quant.act_bits must be 1 or 32, got {config.quant.act_bits}")
    if config.quant.weight_bits < 1:
      raise ValueError(f"quant.weight_bits must be >= 1, got {config.quant.weight_bits}")
    norm = config.data.get("norm_stats", "train")
    if norm == "train":
      self.mean, self.std = jdata.channel_stats(self.tr["image"])
    elif norm == "cifar10_official":   # the code's transforms.Normalize constants
      self.mean, self.std = CIFAR10_OFFICIAL_STATS
    else:
      raise ValueError(f"data.norm_stats must be 'train' (per-channel stats of the training "
                       f"set) or 'cifar10_official', got {norm!r}")
    self.model = fmodel.create_model(config.model, self.num_classes, config.quant.act_bits)
    self.fp_layers = tuple(config.quant.get("fp_layers", ()))
    self.bs = config.data.batch_size
    self.steps_per_epoch = len(self.tr["label"]) // self.bs
    if self.steps_per_epoch == 0:
      raise ValueError(f"data.batch_size={self.bs} exceeds the {len(self.tr['label'])} "
                       "training examples; lower it or raise data.train_limit")
    augment = config.data.augment
    if augment not in ("none", "crop_flip"):
      raise ValueError(f"unknown data.augment {augment!r}; valid: none, crop_flip")

    def prep(images, step):
      x = images
      if augment == "crop_flip":
        x = crop_flip(jax.random.fold_in(jax.random.key(config.seed, impl="unsafe_rbg"), step), x)
      return normalize(x, self.mean, self.std)
    self.prep = prep
    n_recal = int(config.eval.get("bn_recalibrate", 0))
    self.recal_images = (normalize(self.tr["image"][:n_recal], self.mean, self.std)
                         if n_recal else None)

  def recalibrate_fn(self, bits: int):
    if self.recal_images is None:
      return None
    return fm.make_bn_recalibrate_fn(self.apply_train, bits, fmodel.BN_MOMENTUM)

  def init_variables(self, seed: int):
    x = jnp.zeros((1,) + self.tr["image"].shape[1:], jnp.float32)
    return self.model.init(jax.random.PRNGKey(seed), x, train=False)

  def apply_train(self, wq, rest, batch_stats, images):
    logits, upd = self.model.apply(
        {"params": fmodel.merge_params(wq, rest), "batch_stats": batch_stats}, images,
        train=True, mutable=["batch_stats"])
    return logits, upd["batch_stats"]

  def apply_eval(self, wq, rest, batch_stats, images):
    return self.model.apply({"params": fmodel.merge_params(wq, rest),
                             "batch_stats": batch_stats}, images, train=False)

  def batches(self, seed: int, num_steps: int):
    it = jdata.batch_iterator(self.tr, self.bs, seed=seed)
    for s in range(num_steps):
      b = next(it)
      yield s, b

  def evaluate(self, eval_step, weights, rest, batch_stats, recal=None, data=None):
    """Accuracy/loss of Q(W) on `data` (default: the test set; `self.tr` for the training set,
    unaugmented); with `recal` the BN statistics are first recomputed on the first
    `eval.bn_recalibrate` training images (the state's own batch_stats are untouched)."""
    if recal is not None:
      batch_stats = recal(weights, rest, batch_stats, self.recal_images)
    tot = {"correct": 0.0, "loss": 0.0, "count": 0.0}
    for b in jdata.eval_batches(self.te if data is None else data, self.config.eval.batch_size):
      out = eval_step(weights, rest, batch_stats, normalize(b["image"], self.mean, self.std),
                      b["label"], b["mask"])
      tot = {k: tot[k] + out[k] for k in tot}
    tot = {k: float(v) for k, v in tot.items()}
    return {"accuracy": tot["correct"] / tot["count"], "loss": tot["loss"] / tot["count"]}


def lr_schedule(config, steps_per_epoch: int):
  bounds = {int(e * steps_per_epoch): float(config.optim.decay_factor)
            for e in config.optim.decay_epochs}
  return optax.piecewise_constant_schedule(float(config.optim.lr), bounds)


# Settings a (seed, method) run's numbers do not depend on: which runs the sweep holds.
RUN_SELECTION_KEYS = ("methods", "seed", "num_seeds")
# The official CIFAR-10 transforms.Normalize(mean, std); the shipped FP checkpoints expect them.
CIFAR10_OFFICIAL_STATS = (np.array([0.4914, 0.4822, 0.4465], np.float32),
                          np.array([0.2023, 0.1994, 0.2010], np.float32))
# Settings the FP pretrain depends on.
PRETRAIN_KEYS = ("data", "model", "quant", "pretrain")


# ----------------------------------------------------------------------------- pretrain
def checkpoint_variables(problem: Problem, sd: dict) -> dict:
  """A read state dict as this problem's {'params', 'batch_stats'} (the model's shapes come
  from `eval_shape`: no init is computed)."""
  v = jax.eval_shape(problem.init_variables, 0)
  out = fckpt.state_dict_to_variables(sd, {"params": v["params"],
                                           "batch_stats": v["batch_stats"]})
  return jax.tree.map(jnp.asarray, out)


def load_official(problem: Problem, path: str):
  """The official FP checkpoint (`pretrain.checkpoint`) as this problem's variables."""
  cfg = problem.config
  if cfg.model.get("conv_padding", "same") != "torch":
    raise fckpt.CheckpointError(
        "pretrain.checkpoint needs model.conv_padding='torch': the official nets pad their 3x3 "
        "convs by one pixel on each side, flax's SAME does not at stride 2")
  variables = checkpoint_variables(problem, fckpt.read_torch_state_dict(path))
  digest = hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
  return variables, {"checkpoint": str(path), "sha256": digest}


def pretrain(problem: Problem, seed: int, workdir: pathlib.Path, progress: bool):
  """Full-precision weights (act_bits as configured), Adam; cached in workdir. With
  `pretrain.checkpoint` set, the official FP checkpoint instead (the same for every seed, as the
  paper fine-tunes one shipped network; the seeds still differ in hypernet init and data order)."""
  cfg = problem.config
  if cfg.pretrain.get("checkpoint"):
    return load_official(problem, cfg.pretrain.checkpoint)
  path = workdir / "pretrain.msgpack"
  # The FP pretrain depends on these settings only, so estimator sweeps share it.
  fp = jtrain.config_fingerprint(cfg, keep=PRETRAIN_KEYS, ignore=("quant.weight_bits",))
  fp_path = workdir / "pretrain.json"
  variables = problem.init_variables(seed)
  template = {"params": variables["params"], "batch_stats": variables["batch_stats"]}
  if path.exists():
    if fp_path.exists():
      jtrain.check_same_settings(path, json.loads(fp_path.read_text()), fp)
    else:
      logging.warning("%s has no settings record (older jaxlab); reusing it unchecked.", path)
    try:
      return flax.serialization.from_bytes(template, path.read_bytes()), None
    except Exception as e:  # msgpack raises several types for a truncated or foreign file
      raise jtrain.StageCacheError(
          f"{path}: cannot restore this pretrain checkpoint ({type(e).__name__}: {e}). Delete "
          "it to pretrain again, or use a new --workdir.") from e
  tx = optax.adam(float(cfg.pretrain.lr))
  params, bstats = variables["params"], variables["batch_stats"]
  opt = tx.init(params)

  @jax.jit
  def step(params, bstats, opt, images, labels, s):
    x = problem.prep(images, s)

    def loss_fn(p):
      logits, upd = problem.model.apply({"params": p, "batch_stats": bstats}, x, train=True,
                                        mutable=["batch_stats"])
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), upd
    (loss, upd), g = jax.value_and_grad(loss_fn, has_aux=True)(params)
    u, opt = tx.update(g, opt, params)
    return optax.apply_updates(params, u), upd["batch_stats"], opt, loss

  n = int(cfg.pretrain.epochs * problem.steps_per_epoch) if cfg.pretrain.epochs else 0
  n = n or int(cfg.pretrain.num_steps)
  t0 = time.time()
  # The pretrain order uses another seed stream than fine-tuning (seed + 1000).
  for s, b in tqdm(problem.batches(seed + 1000, n), total=n, desc=f"pretrain seed {seed}",
                   disable=not progress, leave=False):
    params, bstats, opt, loss = step(params, bstats, opt, b["image"], b["label"], s)
  out = {"params": params, "batch_stats": bstats}
  workdir.mkdir(parents=True, exist_ok=True)
  # Settings record first: a run killed before the checkpoint's rename simply pretrains again.
  jtrain.write_json_atomic(fp_path, fp, indent=1)
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_bytes(flax.serialization.to_bytes(out))
  os.replace(tmp, path)
  return out, {"steps": n, "wall_s": time.time() - t0, "final_loss": float(loss) if n else None}


# ----------------------------------------------------------------------------- one estimator
def run_method(problem: Problem, method: str, init: dict, seed: int, workdir: pathlib.Path,
               progress: bool, fns: dict | None = None) -> dict:
  cfg = problem.config
  res_path = workdir / "results.json"
  if res_path.exists():  # finished earlier: reuse it if the same settings made it
    info_path = workdir / "config.json"
    if info_path.exists():
      stored = json.loads(info_path.read_text())["config"]
      jtrain.check_same_settings(res_path, jtrain.config_fingerprint(stored, RUN_SELECTION_KEYS),
                                 jtrain.config_fingerprint(cfg, RUN_SELECTION_KEYS))
    try:
      return json.loads(res_path.read_text())
    except json.JSONDecodeError as e:
      raise jtrain.StageCacheError(f"{res_path}: cannot read this finished run's results ({e}); "
                                   "delete it to rerun that run, or use a new --workdir.") from e
  jtrain.write_run_info(workdir, cfg)
  init = jax.tree.map(jnp.copy, init)  # the step donates its state; keep the shared init alive
  weights, rest = fmodel.split_params(init["params"], problem.fp_layers)
  hyper = fm.init_hyper(jax.random.PRNGKey(seed + 7), cfg.fsg, len(weights))
  state = fm.init_state(weights, rest, init["batch_stats"], hyper, cfg.fsg, method=method)
  bits = int(cfg.quant.weight_bits)
  fns = {} if fns is None else fns
  if method not in fns:  # compiled once per method, reused for every seed
    fns[method] = (fm.make_train_step(method, problem.apply_train, cfg.fsg, bits=bits),
                   fm.make_eval_fn(problem.apply_eval, bits))
  if ("recal", bits) not in fns:
    fns[("recal", bits)] = problem.recalibrate_fn(bits)
  recal = fns[("recal", bits)]
  step_fn, eval_fn = fns[method]
  spe = problem.steps_per_epoch
  num_steps = int(cfg.train.num_epochs * spe) if cfg.train.num_epochs else int(cfg.train.num_steps)
  sched = lr_schedule(cfg, spe)
  writer = jtrain.MetricWriter(workdir, tensorboard=False)
  log_every = max(int(cfg.train.log_every), 1)
  ep0 = problem.evaluate(eval_fn, state.weights, state.rest, state.batch_stats, recal)
  writer.write(0, {"test/accuracy": ep0["accuracy"], "test/loss": ep0["loss"]})
  hist = {"epoch": [], "train_loss": [], "train_accuracy": [], "test_accuracy": [],
          "test_loss": [], "step_loss": []}
  # The mean batch loss of an epoch ("train_loss") averages over a moving model; with
  # eval.train_set the model at the end of each epoch is also scored on the whole training set.
  train_set = bool(cfg.eval.get("train_set", False))
  if train_set:
    hist.update(train_set_loss=[], train_set_accuracy=[])
  ep_loss, ep_acc, win = [], [], []
  t_compile, t0 = None, time.time()
  t_after_compile = None
  bar = tqdm(total=num_steps, desc=f"{method} seed {seed}", disable=not progress, leave=False)
  for s, b in problem.batches(seed, num_steps):
    images = problem.prep(b["image"], s)
    state, m = step_fn(state, images, b["label"], sched(s))
    ep_loss.append(m["loss"])
    ep_acc.append(m["accuracy"])
    win.append(m["loss"])
    if s == 0:
      jax.block_until_ready(m["loss"])
      t_compile = time.time() - t0
      t_after_compile = time.time()
    if (s + 1) % log_every == 0:
      l = float(jnp.mean(jnp.stack(win)))
      if not np.isfinite(l):
        raise FloatingPointError(f"{method}: non-finite training loss at step {s}")
      writer.write(s + 1, {"train/loss": l, "train/lr": float(sched(s))})
      hist["step_loss"].append([s + 1, l])
      bar.set_postfix(loss=f"{l:.3f}")
      win = []
    bar.update(1)
    if (s + 1) % spe == 0 or s + 1 == num_steps:
      ev = problem.evaluate(eval_fn, state.weights, state.rest, state.batch_stats, recal)
      tl = float(jnp.mean(jnp.stack(ep_loss)))
      ta = float(jnp.mean(jnp.stack(ep_acc)))
      ep = (s + 1) / spe
      for k, v in (("epoch", ep), ("train_loss", tl), ("train_accuracy", ta),
                   ("test_accuracy", ev["accuracy"]), ("test_loss", ev["loss"])):
        hist[k].append(v)
      writer.write(s + 1, {"train/epoch_loss": tl, "test/accuracy": ev["accuracy"],
                           "test/loss": ev["loss"]})
      if train_set:
        evt = problem.evaluate(eval_fn, state.weights, state.rest, state.batch_stats, recal,
                               data=problem.tr)
        hist["train_set_loss"].append(evt["loss"])
        hist["train_set_accuracy"].append(evt["accuracy"])
        writer.write(s + 1, {"train_set/loss": evt["loss"], "train_set/accuracy": evt["accuracy"]})
      ep_loss, ep_acc = [], []
  bar.close()
  writer.close()
  wall = time.time() - t0
  steady = (time.time() - t_after_compile) if t_after_compile else wall
  res = {
      "method": method, "seed": seed, "num_steps": num_steps, "steps_per_epoch": spe,
      "init_test_accuracy": ep0["accuracy"],
      "final_test_accuracy": hist["test_accuracy"][-1] if hist["test_accuracy"] else None,
      "best_test_accuracy": max(hist["test_accuracy"]) if hist["test_accuracy"] else None,
      "epoch1_train_loss": hist["train_loss"][0] if hist["train_loss"] else None,
      "final_train_loss": hist["train_loss"][-1] if hist["train_loss"] else None,
      "epoch1_train_set_loss": hist["train_set_loss"][0] if hist.get("train_set_loss") else None,
      "history": hist, "wall_time_s": wall, "compile_s": t_compile,
      "steps_per_sec": (num_steps - 1) / steady if num_steps > 1 else None,
      "num_binary_weights": fmodel.count_weights(weights),
      "slow_positions_per_step": fm.slow_positions(weights, int(cfg.fsg.hgs_length),
                                                  int(cfg.fsg.d_conv))
      if method in fm.SLOW_METHODS else 0,
  }
  jtrain.write_results(workdir, res)
  return res


def _agg(values):
  v = np.asarray([x for x in values if x is not None], np.float64)
  return {"mean": float(v.mean()), "std": float(v.std()), "n": int(v.size)} if v.size else None


def summarise(runs: dict) -> dict:
  """runs[method][seed] -> per-method mean/std of the headline figures and the gate checks."""
  out = {}
  for m, per_seed in runs.items():
    rs = list(per_seed.values())
    for r in rs:  # runs written before this field existed
      if r.get("final_train_loss") is None and r.get("history", {}).get("train_loss"):
        r["final_train_loss"] = r["history"]["train_loss"][-1]
    out[m] = {k: _agg([r.get(k) for r in rs]) for k in
              ("final_test_accuracy", "best_test_accuracy", "epoch1_train_loss",
               "final_train_loss", "epoch1_train_set_loss", "steps_per_sec", "wall_time_s")}
  if "fsg" in out and "ste" in out:
    def fsg_minus_ste(key):  # per seed both estimators ran and recorded `key`
      f, t = runs["fsg"], runs["ste"]
      return [f[s][key] - t[s][key] for s in f
              if s in t and f[s].get(key) is not None and t[s].get(key) is not None]
    d = fsg_minus_ste("final_test_accuracy")
    dl = fsg_minus_ste("epoch1_train_loss")
    out["gates"] = {
        "fsg_minus_ste_final_acc_pts": _agg([100 * x for x in d]),
        "fsg_acc_gate_met": bool(np.mean(d) * 100 >= 0.3) if d else None,
        "fsg_minus_ste_epoch1_loss": _agg(dl),
        "fsg_loss_gate_met": bool(np.mean(dl) <= 0) if dl else None,
    }
    # The same gate read on the whole training set after epoch 1 (runs with eval.train_set).
    dt = fsg_minus_ste("epoch1_train_set_loss")
    if dt:
      out["gates"]["fsg_minus_ste_epoch1_train_set_loss"] = _agg(dt)
      out["gates"]["fsg_train_set_loss_gate_met"] = bool(np.mean(dt) <= 0)
  return out


def train_and_evaluate(config, workdir) -> dict:
  t0 = time.time()
  workdir = pathlib.Path(workdir)
  configs.refuse_unused(config, UNUSED_SHARED_KEYS, UNUSED_HINT)
  for m in config.methods:
    fm.check_method(m)
  jtrain.write_run_info(workdir, config)
  problem = Problem(config)
  progress = bool(config.train.progress)
  runs, pre_info, fns = {m: {} for m in config.methods}, {}, {}
  for seed in range(config.seed, config.seed + int(config.num_seeds)):
    sdir = workdir / f"seed{seed}"
    init, info = pretrain(problem, seed, sdir, progress)
    if "fp" not in fns:
      fns["fp"] = (fm.make_eval_fn(problem.apply_eval, 32), problem.recalibrate_fn(32))
    w, r = fmodel.split_params(init["params"], problem.fp_layers)
    fp = problem.evaluate(fns["fp"][0], w, r, init["batch_stats"], fns["fp"][1])
    pre_info[seed] = {**(info or {}), "fp_test_accuracy": fp["accuracy"]}
    for m in config.methods:
      runs[m][seed] = run_method(problem, m, init, seed, sdir / m, progress, fns)
  results = {
      "dataset": config.data.name, "act_bits": config.quant.act_bits,
      "weight_bits": config.quant.weight_bits, "methods": list(config.methods),
      "seeds": list(range(config.seed, config.seed + int(config.num_seeds))),
      "summary": summarise(runs), "pretrain": pre_info,
      "runs": {m: {str(s): {k: v for k, v in r.items() if k != "history"}
                   for s, r in d.items()} for m, d in runs.items()},
      "curves": {m: {str(s): r["history"] for s, r in d.items()} for m, d in runs.items()},
      "wall_time_s": time.time() - t0, "backend": jax.default_backend(),
  }
  jtrain.write_results(workdir, results)
  return results


def _partial_run(run_dir: pathlib.Path) -> dict | None:
  """The epochs an unfinished run has logged so far (from its metrics.jsonl)."""
  rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines() if l.strip()]
  ep = [r for r in rows if "train/epoch_loss" in r]
  if not ep:
    return None
  spe = ep[0]["step"]
  hist = {"epoch": [r["step"] / spe for r in ep], "train_loss": [r["train/epoch_loss"] for r in ep],
          "test_accuracy": [r["test/accuracy"] for r in ep], "test_loss": [r["test/loss"] for r in ep],
          "step_loss": [[r["step"], r["train/loss"]] for r in rows if "train/loss" in r]}
  return {"method": run_dir.name, "seed": int(run_dir.parent.name[4:]), "complete": False,
          "epochs_done": hist["epoch"][-1], "final_test_accuracy": hist["test_accuracy"][-1],
          "best_test_accuracy": max(hist["test_accuracy"]), "epoch1_train_loss": hist["train_loss"][0],
          "final_train_loss": hist["train_loss"][-1], "history": hist}


def collect(workdir, out: str | None = None, partial: bool = False) -> dict:
  """Aggregates the finished runs `workdir/seed*/<method>/results.json` without touching data.

  Used when seeds or methods ran in separate processes:
    python -m jaxlab.projects.fsg_bnn.train WORKDIR [OUT.json] [--partial]
  `partial=True` also takes unfinished runs at their last logged epoch (marked complete=False).
  """
  workdir = pathlib.Path(workdir)
  runs: dict = {}
  for d in sorted(p for p in workdir.glob("seed*/*") if p.is_dir()):
    if (d / "results.json").exists():
      r = {**json.loads((d / "results.json").read_text()), "complete": True}
    elif partial and (d / "metrics.jsonl").exists():
      r = _partial_run(d)
      if r is None:
        continue
    else:
      continue
    runs.setdefault(r["method"], {})[r["seed"]] = r
  if not runs:
    raise FileNotFoundError(f"no finished runs (seed*/<method>/results.json) under {workdir}")
  order = [m for m in fm.METHODS if m in runs]
  info = json.loads((workdir / "config.json").read_text()) if (workdir / "config.json").exists() else {}
  cfg = info.get("config", {})
  res = {
      "dataset": cfg.get("data", {}).get("name"), "act_bits": cfg.get("quant", {}).get("act_bits"),
      "methods": order, "seeds": sorted({s for m in runs for s in runs[m]}),
      "summary": summarise({m: runs[m] for m in order}),
      "runs": {m: {str(s): {k: v for k, v in r.items() if k != "history"}
                   for s, r in sorted(runs[m].items())} for m in order},
      "curves": {m: {str(s): r["history"] for s, r in sorted(runs[m].items())} for m in order},
  }
  if out:
    pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(out).write_text(json.dumps(res, indent=1, default=float))
  return res


if __name__ == "__main__":
  import sys
  args = [a for a in sys.argv[1:] if a != "--partial"]
  r = collect(args[0], args[1] if len(args) > 1 else None, partial="--partial" in sys.argv)
  print(json.dumps(r["summary"], indent=1))
