"""MLDGG efficiency benchmark: pivot (O(N·P)) vs dense learned-adjacency (O(N²)) message passing.

  python scripts/bench_mldgg.py --num_nodes=5000 --num_pivots=256 --hidden=64 --repeats=5

Prints, for one structure-learner + propagation forward (and its gradient w.r.t. θ_t), the
compiled memory (XLA memory_analysis: arguments + outputs + temporaries) and the median wall
time of each variant, and their ratios. Run on a quiet machine for the timings; the memory
figures are deterministic.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.projects.mldgg import model as M


def _mem(compiled):
  ma = compiled.memory_analysis()
  if ma is None:
    return None
  return int(ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
             - ma.alias_size_in_bytes)


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--num_nodes", type=int, default=5000)
  ap.add_argument("--num_pivots", type=int, default=256)
  ap.add_argument("--hidden", type=int, default=64)
  ap.add_argument("--heads", type=int, default=4)
  ap.add_argument("--repeats", type=int, default=5)
  a = ap.parse_args()
  key = jax.random.key(0, impl="unsafe_rbg")
  z = jax.random.normal(key, (a.num_nodes, a.hidden))
  mask = jnp.ones((a.num_nodes,), bool)
  theta = {"w": jnp.ones((a.heads, a.hidden))}
  piv = M.sample_pivots(key, mask, a.num_pivots)

  def pivot_loss(theta):
    return jnp.sum(M.pivot_propagate(M.structure_learner(theta, z, piv, mask), z) ** 2)

  def dense_loss(theta):
    return jnp.sum(M.dense_learned_propagate(theta, z, mask, z) ** 2)

  out = {"num_nodes": a.num_nodes, "num_pivots": a.num_pivots, "hidden": a.hidden}
  for name, fn in (("pivot", pivot_loss), ("dense", dense_loss)):
    for kind, f in (("fwd", fn), ("fwd_bwd", jax.grad(fn))):
      c = jax.jit(f).lower(theta).compile()
      jax.block_until_ready(c(theta))
      ts = []
      for _ in range(a.repeats):
        t = time.perf_counter()
        jax.block_until_ready(c(theta))
        ts.append(time.perf_counter() - t)
      out[f"{name}_{kind}_bytes"] = _mem(c)
      out[f"{name}_{kind}_s"] = float(np.median(ts))
  for kind in ("fwd", "fwd_bwd"):
    out[f"{kind}_memory_ratio"] = out[f"dense_{kind}_bytes"] / out[f"pivot_{kind}_bytes"]
    out[f"{kind}_speedup"] = out[f"dense_{kind}_s"] / out[f"pivot_{kind}_s"]
  print(json.dumps(out, indent=2))


if __name__ == "__main__":
  main()
