"""Per-epoch wall time of DPS (K/2 GAS + K/2 TDS + fusion) vs TGAT-uniform (K uniform) on the
same backbone, batches and data, plus the sampler precompute time (TDS fit + cache, GAS
pretrain + Gumbel fine-tune + cache). Run on a quiet machine:

  JAXLAB_DATA=/work/shared/data python scripts/bench_dps.py --config=configs/dps/mini.py \
      --epochs=2 --out=results/dps/bench.json

Every step is AOT-compiled before timing; an epoch = host sampling + jitted steps over all
training batches (no validation). Also reports the host-sampling share and `tgat_recent`.
Gate (spec §6): dps / tgat_uniform ≤ 1.5.
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


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--config", default="configs/dps/mini.py")
  ap.add_argument("--arg", default=None, help="config argument, e.g. 'smoke' or 'data.max_events=0'")
  ap.add_argument("--epochs", type=int, default=2)
  ap.add_argument("--methods", default="tgat_uniform,tgat_recent,dps")
  ap.add_argument("--out", default="")
  a = ap.parse_args()
  config = load_config(a.config, a.arg)
  ev = dtrain.Events(config)
  key = jax.random.key(0, impl=config.rng_impl)
  t0 = time.perf_counter()
  tables, info, _ = dtrain.structure_sampling(config, ev, 0, key)
  print(f"precompute {time.perf_counter() - t0:.1f}s:",
        {k: round(v, 2) for k, v in info.items() if k.endswith("_s")}, flush=True)
  res = {"precompute": {k: v for k, v in info.items() if k.endswith("_s")}, "methods": {},
         "events": ev.summary(), "epochs": a.epochs, "machine": platform.processor() or
         platform.machine(), "cpus": os.cpu_count(), "jax": jax.__version__}
  B = config.data.batch_size
  for name in a.methods.split(","):
    samplers, fusion = dtrain.method_spec(name, config.model.num_neighbors)
    model = dtrain.LinkModel(config, ev, samplers, fusion)
    params, opt = model.init(jax.random.fold_in(key, 1))
    b0 = next(model.batches(ev.train[:B], ev.train_dst[:1].repeat(B), B,
                            np.random.default_rng(0), tables))
    t0 = time.perf_counter()
    step = model.step.lower(params, opt, b0, key).compile()
    compile_s = time.perf_counter() - t0
    epochs, host = [], []
    for e in range(a.epochs):
      neg = ev.train_dst[np.random.default_rng(e).integers(0, len(ev.train_dst), len(ev.train))]
      rng = np.random.default_rng([e, 1])
      t0 = time.perf_counter()
      h = 0.0
      it = model.batches(ev.train, neg, B, rng, tables)
      while True:
        th = time.perf_counter()
        b = next(it, None)
        h += time.perf_counter() - th
        if b is None:
          break
        params, opt, loss = step(params, opt, b, key)
      loss.block_until_ready()
      epochs.append(time.perf_counter() - t0)
      host.append(h)
    slot = name if name not in res["methods"] else f"{name}_repeat"  # e.g. A,B,A brackets drift
    res["methods"][slot] = {"epoch_s": float(np.median(epochs)), "epochs_s": epochs,
                            "host_sampling_s": float(np.median(host)), "compile_s": compile_s,
                            "steps": int(np.ceil(len(ev.train) / B))}
    print(f"{name:13s} epoch {np.median(epochs):.2f}s (host sampling {np.median(host):.2f}s) "
          f"compile {compile_s:.1f}s", flush=True)
  if "dps" in res["methods"] and "tgat_uniform" in res["methods"]:
    r = res["methods"]["dps"]["epoch_s"] / res["methods"]["tgat_uniform"]["epoch_s"]
    res["dps_over_tgat_uniform"] = r
    print(f"dps / tgat_uniform per-epoch time: {r:.2f}x (gate <= 1.5)")
  if a.out:
    with open(a.out, "w") as f:
      json.dump(res, f, indent=1)


if __name__ == "__main__":
  main()
