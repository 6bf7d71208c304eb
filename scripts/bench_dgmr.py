"""Throughput of the dense backbone vs its DGMR-sliced student (jit forward, CPU or any backend).

  python scripts/bench_dgmr.py --teacher=/work/workdirs/backbones/fmnist_vit --mlp_ratio=1 --batch=512

Builds the GS selection at hidden = floor(m*D) per block, slices the MLPs physically (not masks),
and times the jitted forward (logits) of both models on the same random batch, alternating
dense/sliced for `--repeats` rounds of `--iters` calls; prints the median images/s of each and
their ratio (the spec's gate: >= 1.4x at batch 512, m = 1). With no trained backbone
(`--teacher=`) a randomly initialised `vit/mnist` of the same shape is used (speed does not depend
on the weights). Run it on a quiet machine: contention changes the two medians unequally.
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

from jaxlab.ops import pruning  # noqa: E402
from jaxlab.projects.dgmr import method  # noqa: E402
from jaxlab.projects.dgmr import model as dmodel  # noqa: E402
from jaxlab import train as jtrain  # noqa: E402


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--teacher", default="/work/workdirs/backbones/fmnist_vit")
  p.add_argument("--variant", default="mnist", help="model variant when --teacher is empty")
  p.add_argument("--mlp_ratio", type=float, default=1.0)
  p.add_argument("--batch", type=int, default=512)
  p.add_argument("--iters", type=int, default=10)
  p.add_argument("--repeats", type=int, default=5)
  p.add_argument("--out", default="")
  a = p.parse_args(argv)

  x = jnp.asarray(np.random.default_rng(0).standard_normal((a.batch, 28, 28, 1)), jnp.float32)
  if a.teacher:
    run = jtrain.load_params(a.teacher)
    params = jax.tree.map(jnp.asarray, run["params"])
    m = (run["config"] or {}).get("model", {})
    cfg = dict(variant=m.get("variant", a.variant), **(m.get("kwargs") or {}))
  else:
    cfg = dict(variant=a.variant)
    params = None
  dense = dmodel.create_model(cfg, dmodel.hidden_sizes_of(params) if params else None)
  if params is None:
    params = dense.init(jax.random.key(0, impl="unsafe_rbg"), x[:1])["params"]
  k = method.num_keep_for_ratio(a.mlp_ratio, dense.hidden_size, min(dense.mlp_dims()))
  keep = method.select_neurons("gs", method.neuron_rows_of_vit(params), k)
  sliced_params = dmodel.slice_vit(params, keep)
  sliced = dmodel.create_model(cfg, (k,) * dense.depth)

  fns = {name: jax.jit(lambda p, x, mdl=mdl: mdl.apply({"params": p}, x)["logits"])
         for name, mdl in (("dense", dense), ("sliced", sliced))}
  args = {"dense": params, "sliced": sliced_params}
  for n, f in fns.items():
    f(args[n], x).block_until_ready()  # compile
  times = {n: [] for n in fns}
  for _ in range(a.repeats):
    for n, f in fns.items():
      t = time.perf_counter()
      for _ in range(a.iters):
        y = f(args[n], x)
      y.block_until_ready()
      times[n].append(a.batch * a.iters / (time.perf_counter() - t))
  med = {n: float(np.median(v)) for n, v in times.items()}
  shape = dict(image_size=28, patch_size=dense.patch_size, channels=1,
               hidden_size=dense.hidden_size, depth=dense.depth, num_classes=dense.num_classes,
               mlp_type=dense.mlp_type)
  res = {
      "backend": jax.default_backend(), "batch": a.batch, "mlp_ratio": a.mlp_ratio,
      "hidden": k, "teacher_hidden": list(dense.mlp_dims()),
      "dense_img_per_s": med["dense"], "sliced_img_per_s": med["sliced"],
      "speedup": med["sliced"] / med["dense"],
      "param_cut": 1 - pruning.count_params(sliced_params) / pruning.count_params(params),
      "flop_cut": 1 - pruning.vit_flops(mlp_dims=(k,) * dense.depth, **shape)
      / pruning.vit_flops(mlp_dims=dense.mlp_dims(), **shape),
      "all_runs": times,
  }
  print(json.dumps({k: v for k, v in res.items() if k != "all_runs"}, indent=1))
  if a.out:
    pathlib.Path(a.out).write_text(json.dumps(res, indent=1))
  return res


if __name__ == "__main__":
  main()
