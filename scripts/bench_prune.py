"""Throughput of a pruned ViT: unpruned vs masked (same shapes) vs physically sliced weights.

  python scripts/bench_prune.py --backbone=/work/workdirs/backbones/fmnist_vit \
      --pruned=/work/workdirs/amp/mini/pruned/pruned.json --batch=512 --repeats=10

Spec gate (AMP §6.5): jit CPU throughput of the *sliced* model at batch 512 >= 1.2x the unpruned
model. Masking keeps the FLOPs, so masked ~ unpruned; only slicing is faster. The three
variants are timed alternately (round robin) so slow drifts of a shared machine hit all of them;
the median over `--repeats` rounds is reported. Without `--backbone` a random ViT of the same
architecture is used (`--keep` sets a uniform keep ratio when there is no `--pruned` file).
Take final figures on a quiet machine only.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import app, flags  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxlab import nn as jnn  # noqa: E402
from jaxlab.ops import pruning  # noqa: E402

_BACKBONE = flags.DEFINE_string("backbone", "", "workdir of the trained backbone ('' = random)")
_VARIANT = flags.DEFINE_string("variant", "mnist", "ViT variant when no backbone is given")
_PRUNED = flags.DEFINE_string("pruned", "", "pruned.json with 'keep' indices (from an AMP run)")
_KEEP = flags.DEFINE_float("keep", 0.6, "uniform keep ratio when --pruned is not given")
_BATCH = flags.DEFINE_integer("batch", 512, "batch size")
_REPEATS = flags.DEFINE_integer("repeats", 10, "timed rounds")
_WARMUP = flags.DEFINE_integer("warmup", 2, "untimed rounds after compiling")


def main(argv):
  del argv
  if _BACKBONE.value:
    from jaxlab import train as jtrain
    from jaxlab.projects.amp.model import model_from_run_config
    r = jtrain.load_params(_BACKBONE.value)
    model, params = model_from_run_config(r["config"]), r["params"]
  else:
    model = jnn.get_model("vit", _VARIANT.value)
    params = jax.jit(model.init)(jax.random.key(0, impl="unsafe_rbg"),
                                 jnp.zeros((1, 28, 28, 1)))["params"]
  widths = model.mlp_dims()
  if _PRUNED.value:
    keep = [np.asarray(k) for k in json.load(open(_PRUNED.value))["keep"]]
  else:
    scores = pruning.random_scores(jax.random.key(1), widths)
    keep = [pruning.keep_indices(s, k)
            for s, k in zip(scores, pruning.uniform_counts(widths, _KEEP.value))]
  masks = tuple(jnp.zeros(h).at[k].set(1.0) for h, k in zip(widths, keep))
  small_params, small_widths = pruning.slice_mlps(params, keep)
  small = model.clone(mlp_dim=small_widths)
  x = jnp.asarray(np.random.default_rng(0).normal(size=(_BATCH.value, 28, 28, 1)), jnp.float32)

  fns = {
      "unpruned": (jax.jit(lambda p, x: model.apply({"params": p}, x)["logits"]), params),
      "masked": (jax.jit(lambda p, x: model.apply({"params": p}, x, mlp_gates=masks)["logits"]),
                 params),
      "sliced": (jax.jit(lambda p, x: small.apply({"params": p}, x)["logits"]), small_params),
  }
  out = {k: f(p, x) for k, (f, p) in fns.items()}  # compile
  diff = float(jnp.max(jnp.abs(out["masked"] - out["sliced"])))
  times = {k: [] for k in fns}
  for r in range(_WARMUP.value + _REPEATS.value):
    for k, (f, p) in fns.items():
      t = time.perf_counter()
      f(p, x).block_until_ready()
      if r >= _WARMUP.value:
        times[k].append(time.perf_counter() - t)
  med = {k: float(np.median(v)) for k, v in times.items()}
  res = {
      "widths": list(widths), "pruned_widths": list(small_widths), "batch": _BATCH.value,
      "params": pruning.count_params(params), "params_sliced": pruning.count_params(small_params),
      "img_per_s": {k: _BATCH.value / v for k, v in med.items()},
      "speedup_sliced_vs_unpruned": med["unpruned"] / med["sliced"],
      "speedup_masked_vs_unpruned": med["unpruned"] / med["masked"],
      "max_abs_logit_diff_masked_vs_sliced": diff, "devices": str(jax.devices()),
  }
  print(json.dumps(res, indent=1))


if __name__ == "__main__":
  app.run(main)
