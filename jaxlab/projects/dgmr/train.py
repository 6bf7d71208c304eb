"""DGMR's whole comparison for one seed: select -> slice -> (no recovery | label-free distillation
at several step budgets) for every criterion at identical sizes, plus the same small architecture
trained from scratch with labels.

`train_and_evaluate(config, workdir)` (dispatched by `scripts/train.py` on `project='dgmr'`):

1. teacher: the backbone of `config.teacher.workdir` (`jaxlab.train.load_params`), or, when that
   is empty (smoke/tests), a tiny ViT trained here for `config.teacher.train_steps` steps;
2. per MLP ratio m (`config.prune.mlp_ratios`; hidden = floor(m*D) in every block): kept neurons
   by GS (DGMR), L2, random (several seeds, without replacement) and entropy-Taylor (AMP's
   criterion), each sliced physically;
3. accuracy without recovery, then after distilling every criterion's student for each budget
   (`config.distill.budgets` steps, each budget a fresh run with its own cosine schedule; per
   batch one teacher forward, then each criterion's student steps with the same compiled
   function, so every criterion sees the same data order);
4. the from-scratch baseline (hidden = floor(m*D), random init, labels, same optimiser/steps);
5. optionally a long run (`config.distill.full_epochs` epochs) for the gate criteria;
6. checks: GS order vs the pivot order of `scipy.linalg.qr(W1.T, pivoting=True)` on the trained
   layers, and analytic parameter/FLOP counts of teacher and students.

Results go to `<workdir>/results.json` (`rows`: one per (ratio, method, budget)).
"""

from __future__ import annotations

import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab import data as jdata
from jaxlab import ops
from jaxlab import train as jtrain
from jaxlab.ops import pruning
from jaxlab.projects.dgmr import losses, method
from jaxlab.projects.dgmr import model as dmodel

RANDOM = "random"


# -------------------------------------------------------------------------------------- teacher

def _train_tiny_teacher(config, model, tr, mean, std, num_classes):
  """Smoke/test stand-in for the backbone: `teacher.train_steps` of supervised AdamW."""
  rng = jax.random.key(config.seed, impl="unsafe_rbg")
  params = model.init(rng, jnp.zeros((1,) + tr["image"].shape[1:]), train=False)["params"]
  tx = optax.scale_by_adam()
  opt = tx.init(params)
  step = losses.make_scratch_step(model, tx, mean, std, num_classes)
  it = jdata.batch_iterator(tr, config.data.batch_size, seed=config.seed + 1000)
  for _ in range(config.teacher.train_steps):
    b = next(it)
    params, opt, _ = step(params, opt, b["image"], b["label"], config.teacher.lr, 0.0)
  return params


def load_teacher(config, tr, num_classes):
  """(model, params, mean, std, info) of the backbone to prune."""
  info = {}
  wd = config.teacher.workdir
  limit = config.data.train_limit
  if wd:
    run = jtrain.load_params(wd)
    params = jax.tree.map(jnp.asarray, run["params"])
    tcfg = run["config"] or {}
    mcfg = tcfg.get("model", {})
    model_cfg = dict(variant=mcfg.get("variant", config.model.variant),
                     **dict(mcfg.get("kwargs", {}) or {}))
    limit = tcfg.get("data", {}).get("train_limit", limit) or limit
    info.update(teacher_workdir=str(wd), teacher_step=run["step"])
  else:
    model_cfg = dict(variant=config.model.variant, **dict(config.model.kwargs))
    params = None
  model = dmodel.create_model(model_cfg, dmodel.hidden_sizes_of(params) if params else None)
  stats_images = tr["image"][:limit] if limit else tr["image"]
  mean, std = jdata.channel_stats(stats_images)
  if params is None:
    params = _train_tiny_teacher(config, model, tr, mean, std, num_classes)
    info.update(teacher_workdir=None, teacher_step=config.teacher.train_steps)
  return model, model_cfg, params, mean, std, info


# ------------------------------------------------------------------------------------- criteria

def taylor_scores(config, model, params, calib_images, mean, std) -> tuple:
  """Entropy-Taylor importance (AMP's criterion, `jaxlab.ops.pruning.taylor_scores`): per neuron
  the mean over images of |sum_tokens a * dE/da|, E = entropy of the class softmax (label-free)."""
  bs = config.prune.taylor_batch
  n = (len(calib_images) // bs) * bs
  if n == 0:
    raise ValueError(f"prune.taylor_calib ({len(calib_images)}) < prune.taylor_batch ({bs})")

  def criterion(p, images, gates):
    x = ops.normalize(images, mean, std)
    logits = model.apply({"params": p}, x, train=False, mlp_gates=gates)["logits"]
    return pruning.prediction_entropy(logits)
  batches = (calib_images[s:s + bs] for s in range(0, n, bs))
  return pruning.taylor_scores(criterion, params, batches, model.mlp_dims(), batch_size=bs,
                               mode="sample_abs")


def select_all(config, rows, num_keep, scores, seed) -> dict[str, list[np.ndarray]]:
  """Kept indices per block for every criterion arm at one size (random: several keys)."""
  arms = {}
  for m in config.prune.methods:
    if m == RANDOM:
      for r in range(config.prune.random_seeds):
        key = jax.random.key(1000 * seed + r)
        arms[f"random{r}"] = method.select_neurons("random", rows, num_keep, rng=key)
    elif m == "taylor":
      arms["taylor"] = method.select_neurons("taylor", rows, num_keep, scores=scores)
    else:
      arms[m] = method.select_neurons(m, rows, num_keep)
  return arms


def qr_agreement(rows, num_keep: int) -> dict:
  """GS first-round order vs scipy's column-pivoted QR of W1.T on the trained layers."""
  import scipy.linalg
  fr, res = [], []
  for w in rows:
    k = min(num_keep, w.shape[1])
    idx, _ = method.gs_select(jnp.asarray(w), jnp.ones((w.shape[0],), bool), k)
    _, _, piv = scipy.linalg.qr(np.asarray(w, np.float64).T, pivoting=True, mode="economic")
    fr.append(float(np.mean(np.asarray(idx) == piv[:k])))
    if k == w.shape[1]:
      full = method.gs_residual(jnp.asarray(w), idx)
      res.append(float(jnp.linalg.norm(full) / jnp.linalg.norm(w)))
  return {"gs_qr_match_per_block": fr, "gs_qr_match_min": min(fr),
          "gs_round_residual_rel_max": max(res) if res else None}


# ----------------------------------------------------------------------------------- run pieces

def evaluate(eval_fn, params, te, batch_size: int) -> np.ndarray:
  correct = None
  for b in jdata.eval_batches(te, batch_size):
    c = eval_fn(params, b["image"], b["label"], b["mask"].astype(np.float32))
    correct = c if correct is None else correct + c
  return 100.0 * np.asarray(correct, np.float64) / len(te["label"])


def distill(config, steps, t_params, inits: list, tr, num_steps: int, seed: int, desc: str):
  """Distils every student in `inits` (equal shapes) for `num_steps` on the same batches.

  `steps = (teacher_features, student_step)` (jitted, compiled once per student shape). Per batch
  the teacher forward runs once and each student takes its update. Returns the students (head
  and final norm copied from the teacher) and their first/last losses.
  """
  t_feat, s_step = steps
  tx = losses.make_optimizer(config.distill.optim)
  sched = losses.Schedules(config.distill.optim, num_steps)
  params = [jax.tree.map(jnp.array, p) for p in inits]  # copies: the step donates its input
  opts = [tx.init(p) for p in params]
  it = jdata.batch_iterator({"image": tr["image"]}, config.data.batch_size, seed=seed)
  bar = _bar(num_steps, desc, config)
  first, last = [None] * len(inits), [None] * len(inits)
  for s in range(num_steps):
    images = next(it)["image"]
    t_cls, t_patch = t_feat(t_params, images)
    lr, wd = sched.lr(s), sched.wd(s)
    for i in range(len(params)):
      params[i], opts[i], last[i] = s_step(params[i], opts[i], images, t_cls, t_patch, lr, wd)
      if s == 0:
        first[i] = last[i]
    if bar is not None:
      bar.update(1)
  if bar is not None:
    bar.close()
  out = [dmodel.copy_frozen(p, t_params) for p in params]
  return out, np.asarray(jax.device_get(first)), np.asarray(jax.device_get(last))


def evaluate_all(eval_fn, params_list, te, batch_size):
  """Accuracy of each parameter tree with one compiled (unstacked) eval function."""
  return np.asarray([float(evaluate(eval_fn, p, te, batch_size)) for p in params_list])


def scratch(config, step, student, tr, num_steps, seed, desc):
  """The small architecture trained from scratch with labels, same optimiser and steps."""
  params = student.init(jax.random.key(seed, impl="unsafe_rbg"),
                        jnp.zeros((1,) + tr["image"].shape[1:]), train=False)["params"]
  tx = losses.make_optimizer(config.distill.optim)
  sched = losses.Schedules(config.distill.optim, num_steps)
  opt = tx.init(params)
  it = jdata.batch_iterator(tr, config.data.batch_size, seed=seed)
  bar = _bar(num_steps, desc, config)
  for s in range(num_steps):
    b = next(it)
    params, opt, _ = step(params, opt, b["image"], b["label"], sched.lr(s), sched.wd(s))
    if bar is not None:
      bar.update(1)
  if bar is not None:
    bar.close()
  return params


def _bar(total, desc, config):
  if not config.train.progress:
    return None
  from tqdm.auto import tqdm
  return tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, mininterval=2.0,
              leave=False)


def efficiency(config, teacher, t_params, student) -> dict:
  """Analytic parameter/FLOP counts (`jaxlab.ops.pruning`) of the teacher and a student."""
  shape = dict(image_size=config.data.image_size, patch_size=teacher.patch_size,
               channels=config.data.channels, hidden_size=teacher.hidden_size,
               depth=teacher.depth, num_classes=teacher.num_classes,
               classifier=teacher.classifier, mlp_type=teacher.mlp_type)
  t_flops = pruning.vit_flops(mlp_dims=teacher.mlp_dims(), **shape)
  s_flops = pruning.vit_flops(mlp_dims=student.mlp_dims(), **shape)
  s_shapes = jax.eval_shape(lambda: student.init(
      jax.random.key(0, impl="unsafe_rbg"), jnp.zeros((1, config.data.image_size,
                                                       config.data.image_size,
                                                       config.data.channels)))["params"])
  t_par, s_par = pruning.count_params(t_params), pruning.count_params(s_shapes)
  t_mlp = pruning.mlp_param_count(t_params)
  s_mlp = pruning.mlp_param_count(s_shapes)
  return {"teacher_params": t_par, "student_params": s_par,
          "param_cut": 1 - s_par / t_par, "mlp_param_cut": 1 - s_mlp / t_mlp,
          "teacher_flops": t_flops, "student_flops": s_flops, "flop_cut": 1 - s_flops / t_flops}


# ------------------------------------------------------------------------------------------ main

def train_and_evaluate(config, workdir) -> dict:
  t0 = time.time()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  jtrain.write_run_info(workdir, config)
  seed = int(config.seed)
  tr, te, num_classes = jdata.load_train_test(config.data)
  teacher, model_cfg, t_params, mean, std, info = load_teacher(config, tr, num_classes)
  d = teacher.hidden_size
  ebs = config.eval.batch_size
  t_eval = losses.make_eval_fn(teacher, mean, std, stacked=False)
  t_feat = losses.make_teacher_features(teacher, mean, std)
  teacher_acc = float(evaluate(t_eval, t_params, te, ebs))
  print(f"[dgmr seed {seed}] teacher test accuracy {teacher_acc:.2f}", flush=True)

  rows_w = method.neuron_rows_of_vit(t_params)
  calib = tr["image"][:config.prune.taylor_calib]
  scores = (taylor_scores(config, teacher, t_params, calib, mean, std)
            if "taylor" in config.prune.methods else None)
  checks = qr_agreement(rows_w, d)
  print(f"[dgmr seed {seed}] GS vs pivoted QR (first {d} picks): "
        f"min match {checks['gs_qr_match_min']:.4f}, residual {checks['gs_round_residual_rel_max']}",
        flush=True)

  results_rows, eff = [], {}
  budgets_for = lambda ratio: sorted(set(config.distill.budgets) | (
      set(config.distill.extra_budgets) if (seed in config.distill.extra_seeds
                                            and ratio in config.distill.extra_ratios) else set()))
  for ratio in config.prune.mlp_ratios:
    k = method.num_keep_for_ratio(ratio, d, min(teacher.mlp_dims()))
    hidden = (k,) * teacher.depth
    student = dmodel.create_model(model_cfg, hidden)
    s_eval = losses.make_eval_fn(student, mean, std, stacked=False)
    tx = losses.make_optimizer(config.distill.optim)
    kw = dict(cls_coef=config.distill.cls_coef, feat_coef=config.distill.feat_coef)
    d_step = (t_feat, losses.make_student_step(student, tx, mean, std, **kw))
    s_step = losses.make_scratch_step(student, tx, mean, std, num_classes)
    eff[str(ratio)] = efficiency(config, teacher, t_params, student)
    arms = select_all(config, rows_w, k, scores, seed)
    names = list(arms)
    inits = [dmodel.slice_vit(t_params, arms[n]) for n in names]
    acc0 = evaluate_all(s_eval, inits, te, ebs)
    for n, a in zip(names, acc0):
      results_rows.append(dict(ratio=ratio, keep=k, method=n, budget=0, accuracy=float(a)))
    print(f"[dgmr seed {seed}] m={ratio} (keep {k}) no recovery: "
          + ", ".join(f"{n} {a:.2f}" for n, a in zip(names, acc0)), flush=True)
    for budget in budgets_for(ratio):
      ts = time.time()
      out, l0, l1 = distill(config, d_step, t_params, inits, tr, budget, seed,
                            f"m={ratio} distill {budget}")
      acc = evaluate_all(s_eval, out, te, ebs)
      for i, (n, a) in enumerate(zip(names, acc)):
        results_rows.append(dict(ratio=ratio, keep=k, method=n, budget=budget,
                                 accuracy=float(a), loss_first=float(l0[i]),
                                 loss_last=float(l1[i]), wall_s=time.time() - ts))
      print(f"[dgmr seed {seed}] m={ratio} distill {budget} steps ({time.time() - ts:.0f}s): "
            + ", ".join(f"{n} {a:.2f}" for n, a in zip(names, acc)), flush=True)
      if config.scratch.enabled:
        ts = time.time()
        p = scratch(config, s_step, student, tr, budget, seed, f"m={ratio} scratch {budget}")
        a = float(evaluate(s_eval, p, te, ebs))
        results_rows.append(dict(ratio=ratio, keep=k, method="scratch", budget=budget,
                                 accuracy=a, wall_s=time.time() - ts))
        print(f"[dgmr seed {seed}] m={ratio} scratch {budget} steps: {a:.2f}", flush=True)
    if (config.distill.full_epochs and seed in config.distill.full_seeds
        and ratio in config.distill.full_ratios):
      steps = int(config.distill.full_epochs * (len(tr["image"]) // config.data.batch_size))
      sel = [n for n in names if n in config.distill.full_methods]
      ts = time.time()
      out, l0, l1 = distill(config, d_step, t_params, [inits[names.index(n)] for n in sel], tr,
                            steps, seed, f"m={ratio} {config.distill.full_epochs} ep")
      acc = evaluate_all(s_eval, out, te, ebs)
      for i, (n, a) in enumerate(zip(sel, acc)):
        results_rows.append(dict(ratio=ratio, keep=k, method=n, budget=steps,
                                 epochs=config.distill.full_epochs, accuracy=float(a),
                                 loss_first=float(l0[i]), loss_last=float(l1[i]),
                                 wall_s=time.time() - ts))
      print(f"[dgmr seed {seed}] m={ratio} {config.distill.full_epochs} epochs ({steps} steps, "
            f"{time.time() - ts:.0f}s): " + ", ".join(f"{n} {a:.2f}" for n, a in zip(sel, acc)),
            flush=True)
      if config.distill.save_student and "gs" in sel:
        _save_student(workdir / f"student_gs_m{ratio}", out[sel.index("gs")], hidden)

  results = {"seed": seed, "teacher_accuracy": teacher_acc, "hidden_size": d,
             "teacher_hidden_sizes": list(teacher.mlp_dims()), "mlp_type": teacher.mlp_type,
             "num_distill_images": int(len(tr["image"])), "num_test": int(len(te["label"])),
             "rows": results_rows, "efficiency": eff, **checks, **info,
             "wall_time_s": time.time() - t0, "backend": jax.default_backend()}
  jtrain.write_results(workdir, results)
  return results


def _save_student(directory: pathlib.Path, params, hidden_sizes):
  """orbax params plus `hidden_sizes` (the static config a sliced model needs to be rebuilt)."""
  import orbax.checkpoint as ocp
  directory = directory.absolute()
  ckpt = ocp.StandardCheckpointer()
  ckpt.save(directory / "params", params, force=True)
  ckpt.wait_until_finished()
  (directory / "hidden_sizes.json").write_text(json.dumps(list(hidden_sizes)))
