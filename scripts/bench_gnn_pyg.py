#!/usr/bin/env python
"""Full-batch GCN / GAT training epoch on Cora: jaxlab (jax.jit) vs PyTorch Geometric, one process.

  /work/venv-bench/bin/python scripts/bench_gnn_pyg.py [--models=gcn,gat] [--repeats=7]
      [--steps=20] [--threads=2] [--quick] [--out=results/bench_gnn_pyg.json]

Runs under the bench venv (jaxlab installed editable + `.[bench]`: torch==2.13.0,
torch_geometric). Both sides see the same graph (Planetoid Cora from $JAXLAB_DATA, public split,
row-normalised; a fake Cora-shaped graph with --fake), the same model sizes (parameter counts
asserted equal), float32, Adam, masked softmax cross-entropy on the 140 train nodes:

  * gcn: Kipf & Welling, 2 layers, hidden 16, dropout 0.5 (jaxlab `gcn/kipf`; PyG GCNConv x2);
  * gat: Velickovic et al., 8 heads x 8 hidden + 1 output head, dropout 0.6 on inputs and
    attention (jaxlab `gat/velickovic`; PyG GATConv x2).

One epoch = forward + backward + Adam update on the whole graph. Our side is one jitted step
with donated parameters and optimizer state (compile timed separately); PyG runs eager.
`repeats` rounds, each timing a block of `steps` epochs of every variant, alternating which goes
first; the reported figure is the median over rounds of the per-epoch mean. torch gets
`torch.set_num_threads(threads)`; XLA:CPU uses its default pool (sized by the core count).
Ratio = PyG time / jaxlab time (> 1: jaxlab faster). Take final numbers on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--models", default="gcn,gat")
  p.add_argument("--repeats", type=int, default=7)
  p.add_argument("--steps", type=int, default=20)
  p.add_argument("--threads", type=int, default=2)
  p.add_argument("--quick", action="store_true", help="2 rounds of 3 epochs (smoke only)")
  p.add_argument("--fake", action="store_true", help="fake Cora-shaped graph (no data files)")
  p.add_argument("--out", default="", help="write the results as JSON here")
  args = p.parse_args(argv)
  if args.quick:
    args.repeats, args.steps = 2, 3
  return args


def load_cora(fake):
  from jaxlab import data as jdata  # pylint: disable=import-outside-toplevel
  gd = jdata.get_dataset("cora", source="fake" if fake else "local",
                         **({"num_nodes": 2708} if fake else {}))
  g = gd.graph
  return (g.nodes, g.senders, g.receivers, gd.labels, gd.train_mask.astype("float32"),
          gd.num_classes)


def jax_case(name, graph_arrays):
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import jraph  # pylint: disable=import-outside-toplevel
  import optax  # pylint: disable=import-outside-toplevel
  from jaxlab.nn import get_model  # pylint: disable=import-outside-toplevel

  x, s, r, y, mask, c = graph_arrays
  n = x.shape[0]
  graph = jraph.GraphsTuple(nodes=jnp.asarray(x), edges=None, senders=jnp.asarray(s),
                            receivers=jnp.asarray(r), n_node=jnp.asarray([n]),
                            n_edge=jnp.asarray([len(s)]), globals=None)
  model = (get_model("gcn", "kipf", num_classes=c) if name == "gcn"
           else get_model("gat", "velickovic", num_classes=c))
  lr = 0.01 if name == "gcn" else 0.005
  tx = optax.adam(lr)
  params = model.init(jax.random.key(0), graph)["params"]
  opt = tx.init(params)
  yj, mj = jnp.asarray(y), jnp.asarray(mask)

  def step(params, opt, key):
    def loss_fn(p):
      logits = model.apply({"params": p}, graph, train=True, rngs={"dropout": key})
      ce = optax.softmax_cross_entropy_with_integer_labels(logits, yj)
      return (ce * mj).sum() / mj.sum()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt = tx.update(grads, opt, params)
    return optax.apply_updates(params, updates), opt, loss

  t0 = time.perf_counter()
  compiled = jax.jit(step, donate_argnums=(0, 1)).lower(params, opt, jax.random.key(1)).compile()
  compile_s = time.perf_counter() - t0
  nparams = sum(int(a.size) for a in jax.tree.leaves(params))
  state = {"params": params, "opt": opt, "i": 0}
  base_key = jax.random.key(1)

  def run(k):
    p, o = state["params"], state["opt"]
    for _ in range(k):
      state["i"] += 1
      p, o, loss = compiled(p, o, jax.random.fold_in(base_key, state["i"]))
    loss.block_until_ready()
    state["params"], state["opt"] = p, o
    return float(loss)
  return run, {"compile_s": compile_s, "params": nparams, "lr": lr}


def torch_case(name, graph_arrays, threads):
  import numpy as np  # pylint: disable=import-outside-toplevel
  import torch  # pylint: disable=import-outside-toplevel
  import torch.nn.functional as F  # pylint: disable=import-outside-toplevel
  from torch import nn  # pylint: disable=import-outside-toplevel
  from torch_geometric.nn import GATConv, GCNConv  # pylint: disable=import-outside-toplevel

  torch.set_num_threads(threads)
  torch.manual_seed(0)
  x, s, r, y, mask, c = graph_arrays
  xt = torch.from_numpy(np.array(x))
  ei = torch.from_numpy(np.stack([np.asarray(s), np.asarray(r)]).astype(np.int64))
  yt = torch.from_numpy(np.array(y)).long()
  mt = torch.from_numpy(np.array(mask))

  class GCN(nn.Module):
    def __init__(self):
      super().__init__()
      self.c0, self.c1 = GCNConv(xt.shape[1], 16), GCNConv(16, c)

    def forward(self, x, e):
      x = F.relu(self.c0(F.dropout(x, 0.5, self.training), e))
      return self.c1(F.dropout(x, 0.5, self.training), e)

  class GAT(nn.Module):
    def __init__(self):
      super().__init__()
      self.c0 = GATConv(xt.shape[1], 8, heads=8, dropout=0.6)
      self.c1 = GATConv(64, c, heads=1, concat=False, dropout=0.6)

    def forward(self, x, e):
      x = F.elu(self.c0(F.dropout(x, 0.6, self.training), e))
      return self.c1(F.dropout(x, 0.6, self.training), e)

  model = GCN() if name == "gcn" else GAT()
  model.train()
  opt = torch.optim.Adam(model.parameters(), lr=0.01 if name == "gcn" else 0.005)

  def run(k):
    for _ in range(k):
      opt.zero_grad(set_to_none=True)
      out = model(xt, ei)
      loss = (F.cross_entropy(out, yt, reduction="none") * mt).sum() / mt.sum()
      loss.backward()
      opt.step()
    return loss.item()
  return run, {"params": sum(p.numel() for p in model.parameters()),
               "torch": torch.__version__, "threads": torch.get_num_threads()}


def main(argv=None):
  args = parse_args(argv)
  import jax  # pylint: disable=import-outside-toplevel
  import torch_geometric  # pylint: disable=import-outside-toplevel
  arrays = load_cora(args.fake)
  out = {"host": platform.node(), "cpu_count": os.cpu_count(), "jax": jax.__version__,
         "torch_geometric": torch_geometric.__version__, "repeats": args.repeats,
         "steps": args.steps, "threads": args.threads,
         "graph": f"{arrays[0].shape[0]} nodes, {arrays[0].shape[1]} features, "
                  f"{len(arrays[1])} directed edges", "models": {}}
  for name in args.models.split(","):
    jrun, jinfo = jax_case(name, arrays)
    trun, tinfo = torch_case(name, arrays, args.threads)
    if jinfo["params"] != tinfo["params"]:
      raise AssertionError(f"{name}: parameter counts differ: jaxlab {jinfo['params']} vs "
                           f"PyG {tinfo['params']}")
    jrun(2)
    trun(2)  # warm-up (first calls allocate / compile)
    times = {"jaxlab": [], "pyg": []}
    order = [("jaxlab", jrun), ("pyg", trun)]
    for i in range(args.repeats):
      for label, fn in (order if i % 2 == 0 else order[::-1]):
        t0 = time.perf_counter()
        fn(args.steps)
        times[label].append((time.perf_counter() - t0) / args.steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    rec = {"jaxlab_epoch_ms": 1e3 * med["jaxlab"], "pyg_epoch_ms": 1e3 * med["pyg"],
           "ratio_pyg_over_jaxlab": med["pyg"] / med["jaxlab"],
           "jaxlab_compile_s": jinfo["compile_s"], "params": jinfo["params"],
           "rounds_ms": {k: [round(1e3 * t, 3) for t in v] for k, v in times.items()}}
    out["models"][name] = rec
    print(f"{name}: jaxlab {rec['jaxlab_epoch_ms']:.2f} ms/epoch (compile "
          f"{jinfo['compile_s']:.2f} s), PyG {rec['pyg_epoch_ms']:.2f} ms/epoch, "
          f"PyG/jaxlab = {rec['ratio_pyg_over_jaxlab']:.2f}x  ({jinfo['params']} params)")
  if args.out:
    Path(args.out).write_text(json.dumps(out, indent=2))
  return out


if __name__ == "__main__":
  main()
