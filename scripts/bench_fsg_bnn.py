"""Cost of FSG vs STE vs MetaQuant per training step (steps/s, slow-net share, peak memory).

  python scripts/bench_fsg_bnn.py --config=configs/fsg_bnn/mini.py --steps=30 \
      --out=results/fsg_bnn/bench.json

For every estimator: the compiled step's wall time (median over `--steps` after one warm-up),
XLA's memory analysis of the compiled step (argument + temporary bytes: the step's peak working
set on the device), and, for FSG, the wall time of the slow-net alone (forward + backward of the
packed Mamba scan over all layers' HGS sequences), giving its share of the FSG step.
The process's peak RSS is reported once (it covers everything). Take final figures on a quiet
machine; on a shared CPU the ratios are more trustworthy than the absolute times.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import statistics
import sys
import time

import jax
import jax.numpy as jnp

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import xla_memory  # noqa: E402
from jaxlab.configs import load_config  # noqa: E402
from jaxlab.projects.fsg_bnn import method as fm  # noqa: E402
from jaxlab.projects.fsg_bnn import model as fmodel  # noqa: E402
from jaxlab.projects.fsg_bnn import train as ftrain  # noqa: E402


def _time(fn, n):
  ts = []
  for _ in range(n):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    ts.append(time.perf_counter() - t0)
  return statistics.median(ts)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--config", default="configs/fsg_bnn/mini.py")
  ap.add_argument("--config_arg", default="", help="e.g. smoke or model.widths=(8,16,32)")
  ap.add_argument("--methods", default="ste,metaquant,fsg")
  ap.add_argument("--steps", type=int, default=30)
  ap.add_argument("--out", default="")
  a = ap.parse_args(argv)
  cfg = load_config(str(REPO / a.config) if not pathlib.Path(a.config).is_absolute() else a.config,
                    a.config_arg or None)
  prob = ftrain.Problem(cfg)
  v = prob.init_variables(cfg.seed)
  weights, rest = fmodel.split_params(v["params"], prob.fp_layers)
  b = next(prob.batches(cfg.seed, 1))[1]
  images, labels = prob.prep(b["image"], 0), jnp.asarray(b["label"])
  out = {"config": a.config, "config_arg": a.config_arg, "backend": jax.default_backend(),
         "devices": [str(d) for d in jax.devices()], "batch_size": prob.bs,
         "binary_weights": fmodel.count_weights(weights),
         "slow_positions": fm.slow_positions(weights, cfg.fsg.hgs_length, cfg.fsg.d_conv),
         "methods": {}}
  for m in a.methods.split(","):
    hyper = fm.init_hyper(jax.random.PRNGKey(1), cfg.fsg, len(weights))
    copy = lambda t: jax.tree.map(jnp.copy, t)
    st = fm.init_state(copy(weights), copy(rest), copy(v["batch_stats"]), hyper, cfg.fsg, method=m)
    step = fm.make_train_step(m, prob.apply_train, cfg.fsg, bits=cfg.quant.weight_bits, jit=False)
    jstep = jax.jit(step)  # no donation: the same state is re-used for every timed call
    t0 = time.perf_counter()
    compiled = jstep.lower(st, images, labels, 1e-3).compile()
    compile_s = time.perf_counter() - t0
    st1, _ = compiled(st, images, labels, 1e-3)   # step 1+ has the look-ahead switched on
    st1, _ = compiled(st1, images, labels, 1e-3)
    sec = _time(lambda: compiled(st1, images, labels, 1e-3)[1]["loss"], a.steps)
    rec = {"sec_per_step": sec, "steps_per_sec": 1.0 / sec, "compile_s": compile_s,
           "memory": xla_memory(compiled)}
    if m in fm.SLOW_METHODS:
      chunk = int(cfg.fsg.chunk)

      def slow_loss(th, lre, hgs):
        o = fm.slow_grads(th, lre, hgs, jnp.asarray(cfg.fsg.hgs_length), chunk)
        return sum(jnp.vdot(x, x) for x in o.values())
      sg = jax.jit(jax.value_and_grad(slow_loss, argnums=(0, 1)))
      hgs = jax.tree.map(lambda h: jax.random.normal(jax.random.PRNGKey(3), h.shape), st1.hgs)
      t0 = time.perf_counter()
      c2 = sg.lower(st1.hyper["slow"], st1.hyper["lre"], hgs).compile()
      scomp = time.perf_counter() - t0
      ssec = _time(lambda: c2(st1.hyper["slow"], st1.hyper["lre"], hgs)[0], a.steps)
      rec.update(slow_net_sec=ssec, slow_net_share=ssec / sec, slow_net_memory=xla_memory(c2),
                 slow_net_compile_s=scomp)
    out["methods"][m] = rec
    print(m, json.dumps(rec), flush=True)
  base = out["methods"].get("ste")
  if base:
    for m, r in out["methods"].items():
      r["slowdown_vs_ste"] = r["sec_per_step"] / base["sec_per_step"]
  out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(json.dumps({m: {k: r[k] for k in ("steps_per_sec", "slowdown_vs_ste")}
                    for m, r in out["methods"].items()}, indent=1))
  if a.out:
    pathlib.Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(a.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
  main()
