"""Per-epoch wall time of DPS (K/2 GAS + K/2 TDS + fusion) vs TGAT-uniform / TGAT-recent (K
neighbours) on the same backbone, batches and data, measured INTERLEAVED in one process, plus
the sampler precompute time (TDS fit + cache, GAS pretrain + Gumbel fine-tune + cache).

  JAXLAB_DATA=/work/shared/data taskset -c 1 python scripts/bench_dps.py \
      --config=configs/dps/mini.py --repeats=4 --out=results/dps/bench.json

Protocol (so that a change of machine load hits every method alike):
1. structure-sampling stage once (seed 0; each part timed);
2. every method's train step is AOT-compiled once (compile time reported separately; methods of
   equal static shape, e.g. tgat_uniform / tgat_recent, share one executable);
3. one warm-up epoch per method (not counted);
4. `--repeats` rounds; round r runs one epoch of every method back to back, in the given order
   for even r and reversed for odd r (A B C, C B A, ...), so neighbouring epochs of two methods
   are seconds apart and no method always runs first;
5. an epoch = host sampling of all training batches (numpy, timed alone), then the jitted steps
   over those batches (timed alone, blocked at the end); epoch = host + device;
6. reported: per-method medians (epoch, host, device), and for DPS vs each TGAT the ratio in
   every round (the two epochs of a round are adjacent) with its median, min and max.
Gate (spec §6): median dps / tgat_uniform ≤ 1.5.
"""

import argparse
import json
import os
import platform
import time

import jax
import numpy as np

from jaxlab.configs import load_config
from jaxlab.projects.dps import train as dtrain


def load_avg():
  try:
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
  except OSError:
    return None


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--config", default="configs/dps/mini.py")
  ap.add_argument("--arg", default=None, help="config argument, e.g. 'smoke' or 'data.max_events=0'")
  ap.add_argument("--repeats", type=int, default=4, help="timed rounds after the warm-up epoch")
  ap.add_argument("--methods", default="tgat_uniform,tgat_recent,dps")
  ap.add_argument("--note", default="", help="free text stored in the JSON (e.g. machine load)")
  ap.add_argument("--out", default="")
  a = ap.parse_args()
  if a.repeats < 1:
    raise SystemExit("--repeats must be >= 1")
  config = load_config(a.config, a.arg)
  methods = a.methods.split(",")
  for m in methods:
    dtrain.method_spec(m, config.model.num_neighbors)  # clear error for an unknown name
  t_all = time.perf_counter()
  ev = dtrain.Events(config)
  key = jax.random.key(0, impl=config.rng_impl)
  need = dtrain.needed_tables(methods, config.model.num_neighbors)
  t0 = time.perf_counter()
  tables, info, _ = dtrain.structure_sampling(config, ev, 0, key, need=need)
  print(f"precompute {time.perf_counter() - t0:.1f}s:",
        {k: round(v, 2) for k, v in info.items() if k.endswith("_s")}, flush=True)
  B = config.data.batch_size
  steps = int(np.ceil(len(ev.train) / B))
  res = {"protocol": __doc__.split("Protocol", 1)[1].strip(), "note": a.note,
         "config": a.config, "arg": a.arg, "repeats": a.repeats, "methods_order": methods,
         "precompute": {k: v for k, v in info.items() if k.endswith("_s")},
         "events": ev.summary(), "steps_per_epoch": steps, "batch_size": B,
         "model": {"node_dim": config.model.node_dim, "time_dim": config.model.time_dim,
                   "num_neighbors": config.model.num_neighbors,
                   "num_layers": config.model.num_layers},
         "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
         "affinity": sorted(os.sched_getaffinity(0)), "jax": jax.__version__,
         "loadavg_start": load_avg(), "methods": {}}

  # ---- build + AOT compile (separately timed)
  state, compiled = {}, {}
  for name in methods:
    samplers, fusion = dtrain.method_spec(name, config.model.num_neighbors)
    model = dtrain.LinkModel(config, ev, samplers, fusion)
    params, opt = model.init(jax.random.fold_in(key, 1))
    b0 = next(model.batches(ev.train[:B], ev.train_dst[:1].repeat(B), B,
                            np.random.default_rng(0), tables))
    t0 = time.perf_counter()
    if model.sig not in compiled:
      compiled[model.sig] = (model.step.lower(params, opt, b0, key).compile(), name)
      compile_s, shared = time.perf_counter() - t0, None
    else:
      compile_s, shared = 0.0, compiled[model.sig][1]
    state[name] = {"model": model, "params": params, "opt": opt,
                   "step": compiled[model.sig][0]}
    res["methods"][name] = {"compile_s": compile_s, "compile_shared_with": shared,
                            "epoch_s": [], "host_s": [], "device_s": []}
    print(f"{name:13s} compile {compile_s:.1f}s" + (f" (shared with {shared})" if shared else ""),
          flush=True)

  def epoch(name, e):
    s = state[name]
    neg = ev.train_dst[np.random.default_rng([e, 0]).integers(0, len(ev.train_dst),
                                                               len(ev.train))]
    rng = np.random.default_rng([e, 1])
    t0 = time.perf_counter()
    batches = list(s["model"].batches(ev.train, neg, B, rng, tables))
    host = time.perf_counter() - t0
    params, opt, step = s["params"], s["opt"], s["step"]
    t0 = time.perf_counter()
    for i, b in enumerate(batches):
      params, opt, loss = step(params, opt, b, jax.random.fold_in(key, e * 100003 + i))
    loss.block_until_ready()
    dev = time.perf_counter() - t0
    if not np.isfinite(float(loss)):
      raise FloatingPointError(f"{name}: non-finite loss in epoch {e}")
    s["params"], s["opt"] = params, opt
    return host, dev

  # ---- warm-up epoch per method (not counted)
  for name in methods:
    h, d = epoch(name, 0)
    res["methods"][name]["warmup_s"] = h + d
    print(f"{name:13s} warm-up epoch {h + d:.2f}s", flush=True)

  # ---- interleaved timed rounds
  rounds = []
  for r in range(a.repeats):
    order = methods if r % 2 == 0 else methods[::-1]
    row = {}
    for name in order:
      h, d = epoch(name, r + 1)
      m = res["methods"][name]
      m["epoch_s"].append(h + d)
      m["host_s"].append(h)
      m["device_s"].append(d)
      row[name] = h + d
    rounds.append({"order": order, "epoch_s": row, "loadavg": load_avg()})
    print(f"round {r} ({','.join(order)}): " +
          " ".join(f"{k} {v:.2f}s" for k, v in row.items()), flush=True)
  res["rounds"] = rounds
  for name in methods:
    m = res["methods"][name]
    for k in ("epoch_s", "host_s", "device_s"):
      m[f"median_{k}"] = float(np.median(m[k]))
    m["median_step_ms"] = 1e3 * m["median_device_s"] / steps
    print(f"{name:13s} median epoch {m['median_epoch_s']:.2f}s = host sampling "
          f"{m['median_host_s']:.2f}s + device {m['median_device_s']:.2f}s "
          f"({m['median_step_ms']:.0f} ms/step); compile {m['compile_s']:.1f}s", flush=True)
  res["ratios"] = {}
  for base in ("tgat_uniform", "tgat_recent"):
    if "dps" in methods and base in methods:
      per = [x["epoch_s"]["dps"] / x["epoch_s"][base] for x in rounds]
      dev = [a_ / b_ for a_, b_ in zip(res["methods"]["dps"]["device_s"],
                                       res["methods"][base]["device_s"])]
      res["ratios"][f"dps/{base}"] = {
          "per_round": per, "median": float(np.median(per)), "min": float(min(per)),
          "max": float(max(per)),
          "ratio_of_medians": res["methods"]["dps"]["median_epoch_s"] /
                              res["methods"][base]["median_epoch_s"],
          "device_only_median": float(np.median(dev))}
      print(f"dps / {base}: median per-round ratio {np.median(per):.3f}x "
            f"(min {min(per):.3f}, max {max(per):.3f}; device only {np.median(dev):.3f}x)"
            + (" gate <= 1.5" if base == "tgat_uniform" else ""), flush=True)
  if "dps/tgat_uniform" in res["ratios"]:
    v = res["ratios"]["dps/tgat_uniform"]["median"]
    res["gate_time_ratio"] = {"value": v, "need": config.gates.time_ratio,
                              "pass": bool(v <= config.gates.time_ratio)}
  res["loadavg_end"] = load_avg()
  res["wall_s"] = time.perf_counter() - t_all
  if a.out:
    with open(a.out, "w") as f:
      json.dump(res, f, indent=1)
    print("wrote", a.out)


if __name__ == "__main__":
  main()
