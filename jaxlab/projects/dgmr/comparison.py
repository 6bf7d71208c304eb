"""DGMR's whole comparison table: every seed of `train.train_and_evaluate`, aggregated, with the
issue's acceptance gates. Plugged into the shared MLP-pruning entry point:

  python scripts/prune.py --method=dgmr --config=configs/dgmr/mini.py \
      --workdir=/work/workdirs/dgmr/mini --results=results/dgmr/mini.json

`run_comparison(config, workdir)` runs `config.seeds` one after the other into
`<workdir>/seed<k>/` (a seed whose `results.json` exists is read back, not rerun: delete it to
redo it), then returns the table (mean, std and values over seeds, the random draws pooled), the
gates, and the per-seed wall times. The same seed/data order is used by every criterion.
"""

from __future__ import annotations

import copy
import json
import pathlib
import time

import numpy as np

from jaxlab.projects.dgmr import train as dtrain


def group_of(method: str) -> str:
  return "random" if method.startswith("random") else method


def aggregate(per_seed: list[dict]) -> dict:
  """`table[ratio][method][budget] = {mean, std, n, values}` over seeds (random draws pooled)."""
  acc: dict = {}
  for res in per_seed:
    for r in res["rows"]:
      key = (str(r["ratio"]), group_of(r["method"]), int(r["budget"]))
      acc.setdefault(key, []).append(r["accuracy"])
  table: dict = {}
  for (ratio, m, b), v in sorted(acc.items()):
    table.setdefault(ratio, {}).setdefault(m, {})[str(b)] = dict(
        mean=float(np.mean(v)), std=float(np.std(v)), n=len(v), values=v)
  return table


def _acc(res, ratio, method, budget):
  v = [r["accuracy"] for r in res["rows"] if r["ratio"] == ratio
       and group_of(r["method"]) == method and r["budget"] == budget]
  return float(np.mean(v)) if v else None


def gates(per_seed: list[dict], cfg) -> dict:
  """The issue's acceptance figures (spec §6), computed from the measured rows."""
  out = {}
  teacher = float(np.mean([r["teacher_accuracy"] for r in per_seed]))
  qr = min(r["gs_qr_match_min"] for r in per_seed)
  resid = max(r["gs_round_residual_rel_max"] or 0.0 for r in per_seed)
  out["1_selection"] = dict(gs_qr_match_min=qr, residual_rel=resid,
                            passed=bool(qr >= 0.99 and resid < 1e-5))
  full = [r for res in per_seed for r in res["rows"]
          if r.get("epochs") and r["method"] == "gs" and r["ratio"] == 1.0]
  if full:
    gap = teacher - float(np.mean([r["accuracy"] for r in full]))
    out["2_recovery"] = dict(teacher=teacher, gs_full=[r["accuracy"] for r in full],
                             epochs=full[0]["epochs"], drop=gap, passed=bool(gap <= 0.5))
  else:
    out["2_recovery"] = dict(passed=None, note="no full-epoch run in this config")
  eff = per_seed[0]["efficiency"].get("1.0")
  if eff:
    out["3_efficiency"] = dict(mlp_param_cut=eff["mlp_param_cut"], param_cut=eff["param_cut"],
                               flop_cut=eff["flop_cut"],
                               passed=bool(eff["param_cut"] >= 0.45 and eff["flop_cut"] >= 0.45),
                               note="throughput >= 1.4x: scripts/bench_dgmr.py (quiet machine)")
  b = 150 if 150 in cfg.distill.budgets else max(cfg.distill.budgets, default=0)
  diffs = [(_acc(res, 1.0, "gs", b), _acc(res, 1.0, "scratch", b)) for res in per_seed]
  diffs = [g - s for g, s in diffs if g is not None and s is not None]
  if diffs:
    out["4_distill_vs_scratch"] = dict(budget=b, gs_minus_scratch=diffs,
                                       mean=float(np.mean(diffs)),
                                       passed=bool(np.mean(diffs) >= 2.0))
  rec = {}
  for ratio in cfg.prune.mlp_ratios:
    for bud in cfg.distill.budgets:
      g = [_acc(res, ratio, "gs", bud) for res in per_seed]
      l2 = [_acc(res, ratio, "l2", bud) for res in per_seed]
      rnd = [_acc(res, ratio, "random", bud) for res in per_seed]
      if None in g or None in l2:
        continue
      rec[f"m={ratio},steps={bud}"] = dict(
          gs_minus_l2=[a - c for a, c in zip(g, l2)],
          gs_minus_random=[a - c for a, c in zip(g, rnd)] if None not in rnd else None)
  if rec:
    every_below = all(min(v["gs_minus_l2"]) < -1.0 and np.mean(v["gs_minus_l2"]) < -1.0
                      for v in rec.values())
    b30 = [v for k, v in rec.items() if k.endswith("steps=30") and v["gs_minus_random"]]
    not_above_random = any(np.mean(v["gs_minus_random"]) <= 0 for v in b30)
    out["5_gs_vs_l2_recorded"] = dict(per_budget=rec, seeds=len(per_seed),
                                      fail_condition=bool(every_below or not_above_random),
                                      passed=not (every_below or not_above_random))
  return out


def markdown(table: dict, teacher: float) -> str:
  lines = []
  for ratio, methods in table.items():
    budgets = sorted({int(b) for m in methods.values() for b in m})
    lines.append(f"\nm = {ratio} (teacher {teacher:.2f})\n")
    lines.append("| method | " + " | ".join("no recovery" if b == 0 else f"{b} steps"
                                           for b in budgets) + " |")
    lines.append("|---" * (len(budgets) + 1) + "|")
    for m, row in methods.items():
      cells = []
      for b in budgets:
        c = row.get(str(b))
        cells.append("" if c is None else (f"{c['mean']:.2f} ± {c['std']:.2f} (n={c['n']})"
                                           if c["n"] > 1 else f"{c['mean']:.2f}"))
      lines.append(f"| {m} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def run_comparison(config, workdir) -> dict:
  """All seeds of the comparison, aggregated (see the module docstring)."""
  t0 = time.time()
  per_seed = []
  for seed in config.seeds:
    wd = pathlib.Path(workdir) / f"seed{seed}"
    done = wd / "results.json"
    if done.exists():
      print(f"[dgmr] seed {seed}: reading {done}", flush=True)
      per_seed.append(json.loads(done.read_text()))
      continue
    cfg = copy.deepcopy(config)
    cfg.unlock()
    cfg.seed = int(seed)
    cfg.lock()
    per_seed.append(dtrain.train_and_evaluate(cfg, wd))
  table = aggregate(per_seed)
  teacher = float(np.mean([r["teacher_accuracy"] for r in per_seed]))
  summary = {
      "seeds": list(config.seeds), "teacher_accuracy": teacher,
      "teacher_workdir": per_seed[0].get("teacher_workdir"),
      "teacher_step": per_seed[0].get("teacher_step"),
      "num_test": per_seed[0].get("num_test"),
      "mlp_type": per_seed[0].get("mlp_type"), "hidden_size": per_seed[0]["hidden_size"],
      "teacher_hidden_sizes": per_seed[0]["teacher_hidden_sizes"],
      "efficiency": per_seed[0]["efficiency"], "table": table, "gates": gates(per_seed, config),
      "wall_time_s_per_seed": [r["wall_time_s"] for r in per_seed],
      "wall_time_s_this_call": time.time() - t0,
  }
  print(markdown(table, teacher), flush=True)
  return summary
