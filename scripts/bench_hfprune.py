"""Forward speed of the dense LLaMA-style char LM vs its HFPrune-sliced versions (jit, any backend).

  python scripts/bench_hfprune.py --backbone=/work/workdirs/backbones/shakespeare_llama \
      --keeps=0.75,0.5 --batch=16 --seq=256 --out=results/hfprune/bench.json

Slices the SwiGLU MLPs physically (uniform per-layer top-k of the magnitude scores: speed does not
depend on which neurons are kept) and times the jitted forward (logits) of every model on the same
random tokens, alternating the models for `--repeats` rounds of `--iters` calls each; prints the
median sequences/s and the speed-up over dense (spec hfprune.md section 6 gate: >= 1.1x at keep
0.75 and >= 1.3x at keep 0.5, batch 16 x 256). Also prints analytic parameters and FLOPs/token.
With `--backbone=` a randomly initialised `llama/char_small` of the same shape is used. Run it on a
quiet machine: contention changes the medians unequally.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from jaxlab import train as jtrain  # noqa: E402
from jaxlab.nn import registry  # noqa: E402
from jaxlab.ops import pruning  # noqa: E402
from jaxlab.projects.hfprune import method  # noqa: E402


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--backbone", default="/work/workdirs/backbones/shakespeare_llama")
  p.add_argument("--keeps", default="0.75,0.5")
  p.add_argument("--batch", type=int, default=16)
  p.add_argument("--seq", type=int, default=256)
  p.add_argument("--iters", type=int, default=5)
  p.add_argument("--repeats", type=int, default=7)
  p.add_argument("--out", default="")
  a = p.parse_args(argv)

  if a.backbone:
    run = jtrain.load_params(a.backbone)
    mc = (run["config"] or {}).get("model", {})
    model = registry.get_model("llama", mc.get("variant", "char_small"), vocab_size=65,
                               **(mc.get("kwargs") or {}))
    params = jax.tree.map(jnp.asarray, run["params"])
  else:
    model = registry.get_model("llama", "char_small", vocab_size=65)
    params = model.init(jax.random.key(0, impl="unsafe_rbg"),
                        jnp.zeros((1, 8), jnp.int32))["params"]
  model = model.clone(dropout_rate=0.0, max_len=max(a.seq, model.max_len))
  x = jnp.asarray(np.random.default_rng(0).integers(0, model.vocab_size, (a.batch, a.seq)),
                  jnp.int32)
  scores = method.magnitude_importance(params)
  models = {"dense": (model, params)}
  for keep in (float(k) for k in a.keeps.split(",") if k):
    models[f"keep{keep}"] = method.prune(model, params, method.select(scores, keep))

  fns = {}
  for name, (m, pr) in models.items():
    f = jax.jit(lambda pr, x, m=m: m.apply({"params": pr}, x))
    f(pr, x).block_until_ready()  # compile
    fns[name] = (f, pr)
  times = {n: [] for n in fns}
  for _ in range(a.repeats):
    for n, (f, pr) in fns.items():
      t0 = time.perf_counter()
      for _ in range(a.iters):
        out = f(pr, x)
      out.block_until_ready()
      times[n].append((time.perf_counter() - t0) / a.iters)
  dense_t = float(np.median(times["dense"]))
  rows = {}
  for n, (m, pr) in models.items():
    med = float(np.median(times[n]))
    rows[n] = dict(
        mlp_dims=list(m.mlp_dims()), median_s=med, seqs_per_s=a.batch / med,
        speedup=dense_t / med, params=pruning.count_params(pr),
        flops_per_token=pruning.lm_flops(seq_len=a.seq, d_model=m.d_model,
                                         num_layers=m.num_layers, mlp_dims=m.mlp_dims(),
                                         vocab_size=m.vocab_size, mlp_type="swiglu") / a.seq)
    print(f"{n:>9}: widths {rows[n]['mlp_dims']}  {1e3 * med:8.2f} ms/batch  "
          f"{rows[n]['seqs_per_s']:8.1f} seq/s  speed-up {rows[n]['speedup']:.2f}x  "
          f"params {rows[n]['params']:,}  GFLOP/token "
          f"{rows[n]['flops_per_token'] / 1e9:.5f}")
  result = dict(batch=a.batch, seq=a.seq, iters=a.iters, repeats=a.repeats,
                backend=jax.default_backend(), device=str(jax.devices()[0]), models=rows)
  if a.out:
    pathlib.Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(a.out).write_text(json.dumps(result, indent=1))
  return result


if __name__ == "__main__":
  main()
