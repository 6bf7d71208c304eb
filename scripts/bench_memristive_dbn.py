"""Cost of one memristive-DBN epoch per phase and write scheme, and jaxlab vs a NumPy port.

  python scripts/bench_memristive_dbn.py --out=results/memristive_dbn/bench.json
  python scripts/bench_memristive_dbn.py --quick          # small net, seconds (checks it runs)

For software, CDacc and conventional online CD (b) on one device model (default Ag:a-Si) and the
config's width (default `configs/memristive_dbn/default.py`: 784-500-500-(500+10)-2000):
  * a CD-1 pre-training epoch of RBM1 (784x500) and of the top RBM (510x2000),
  * an up-down fine-tuning epoch of the whole DBN (CD-k in the top RBM, k from the config),
each a jitted `lax.scan` over `--batches` batches of random binary data (timings scale linearly
with the batch count; per-epoch figures are extrapolated to 600 batches). Reported: compile time
(lower + compile of the epoch function), the median over `--repeats` warm calls, and XLA's memory analysis
of the compiled epoch (argument + temporary bytes).

Reference: the same CDacc pre-training batch of RBM1 (CD-1 counts, digital accumulation, one
nonlinear pulse with C2C noise, tallies) written as a straightforward vectorised NumPy port,
the way the authors' MATLAB reads once its per-device loops are vectorised. Its median time per
batch is compared with jaxlab's in the same process. Run it on a quiet machine (pin with
`taskset -c N` for one core); ratios measured in one run are what to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import xla_memory  # noqa: E402
from jaxlab.configs import load_config  # noqa: E402
from jaxlab.projects.memristive_dbn import devices  # noqa: E402
from jaxlab.projects.memristive_dbn import method  # noqa: E402
from jaxlab.projects.memristive_dbn import model  # noqa: E402
from jaxlab.projects.memristive_dbn import train as mtrain  # noqa: E402


def _copy(tree):
  return jax.tree.map(jnp.copy, tree)


def _compile(jitted, *args, **kw):
  """(seconds to lower + compile, XLA memory analysis); later calls hit the compile cache."""
  t0 = time.perf_counter()
  compiled = jitted.lower(*args, **kw).compile()
  return time.perf_counter() - t0, xla_memory(compiled)


def _time_epoch(fn, state, repeats):
  """Median warm seconds of fn(state). `fn` donates its state: each call gets a fresh copy."""
  jax.block_until_ready(fn(_copy(state)))
  ts = []
  for _ in range(repeats):
    s = _copy(state)
    jax.block_until_ready(s)
    t0 = time.perf_counter()
    jax.block_until_ready(fn(s))
    ts.append(time.perf_counter() - t0)
  return statistics.median(ts)


# ---------------------------------------------------------------------------------------------
# NumPy port of one CDacc pre-training batch (single pulse, NeuroSim device, C2C noise).

def _np_sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def numpy_cdacc_batch(syn, v0, rng, theta, w_max, c2c, read_noise):
  """syn: dict of numpy arrays per name ('W', 'bv', 'bh'), each with g/acc/count/dev entries."""
  def weight(s):
    return (2.0 * w_max * (s["g"] - 0.5)).astype(np.float32)

  def read(x, w, b):
    i = x @ w + b
    if read_noise:
      std = read_noise * 2.0 * w_max * np.sqrt(x.sum(-1, keepdims=True) + 1.0)
      i = i + std * rng.standard_normal(i.shape, dtype=np.float32)
    return i

  W, bv, bh = weight(syn["W"]), weight(syn["bv"]), weight(syn["bh"])
  h0 = (_np_sigmoid(read(v0, W, bh)) > rng.random((v0.shape[0], W.shape[1]), np.float32))
  h0 = h0.astype(np.float32)
  v1 = (_np_sigmoid(read(h0, W.T, bv)) > rng.random(v0.shape, np.float32)).astype(np.float32)
  h1 = (_np_sigmoid(read(v1, W, bh)) > rng.random(h0.shape, np.float32)).astype(np.float32)
  dns = {"W": np.rint(v0.T @ h0 - v1.T @ h1).astype(np.int32),
         "bv": np.rint(v0.sum(0) - v1.sum(0)).astype(np.int32),
         "bh": np.rint(h0.sum(0) - h1.sum(0)).astype(np.int32)}
  pulses = 0
  for name, dn in dns.items():
    s, d = syn[name], syn[name]["dev"]
    acc = s["acc"] + dn
    k = np.trunc(acc / theta).astype(np.int32)
    s["acc"] = acc - k * theta
    direction = np.sign(k)
    off = s["g"] - d["lo"]
    dg = np.where(direction > 0, d["s1_up"] + off * d["e_up"], d["s1_dn"] + off * d["e_dn"])
    g_new = np.clip(s["g"] + dg + c2c * rng.standard_normal(dg.shape, dtype=np.float32),
                    d["lo"], d["hi"])
    written = direction != 0
    s["g"] = np.where(written, g_new, s["g"]).astype(np.float32)
    s["count"] = s["count"] + written
    pulses += int(written.sum())
  return pulses


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--config", default="configs/memristive_dbn/default.py")
  ap.add_argument("--device", default="ag_si")
  ap.add_argument("--schemes", default="software,cdacc,online")
  ap.add_argument("--batches", type=int, default=60)
  ap.add_argument("--repeats", type=int, default=5)
  ap.add_argument("--numpy_batches", type=int, default=20)
  ap.add_argument("--quick", action="store_true", help="smoke-sized net, 5 batches, 2 repeats")
  ap.add_argument("--out", default="")
  a = ap.parse_args(argv)
  cfg_path = a.config if pathlib.Path(a.config).is_absolute() else str(REPO / a.config)
  cfg = load_config(cfg_path, "smoke" if a.quick else None)
  if a.quick:
    a.batches, a.repeats, a.numpy_batches = 5, 2, 3
  n_vis, n_hid, n_pen, n_top, n_lab = model.layer_sizes(cfg)
  bs, w_max, theta = int(cfg.data.batch_size), float(cfg.model.w_max), int(cfg.method.theta)
  cd_k = int(cfg.method.cd_k_finetune)
  spec = mtrain.device_spec(cfg, a.device)
  rng = np.random.default_rng(0)
  x = (rng.random((a.batches, bs, n_vis)) < 0.13).astype(np.float32)  # MNIST's ink density
  lab = np.eye(n_lab, dtype=np.float32)[rng.integers(0, n_lab, (a.batches, bs))]
  pen = (rng.random((a.batches, bs, n_pen)) < 0.3).astype(np.float32)
  top_in = np.concatenate([pen, lab], -1)
  key = jax.random.key(0, impl=cfg.method.key_impl)
  scale = 600 / a.batches
  out = {"config": a.config, "device": a.device, "backend": jax.default_backend(),
         "devices": [str(d) for d in jax.devices()], "cpu_count": os.cpu_count(),
         "load_avg_at_start": os.getloadavg()[0], "batches_timed": a.batches,
         "width": [n_vis, n_hid, n_pen, n_lab, n_top], "cd_k_finetune": cd_k, "phases": {}}
  if out["load_avg_at_start"] > 0.5 * (os.cpu_count() or 1):
    print(f"warning: load average {out['load_avg_at_start']:.1f} at start; timings are "
          "unreliable on a busy machine", file=sys.stderr)
  for scheme in a.schemes.split(","):
    sp = devices.get_device("ideal") if scheme == "software" else spec
    scal = devices.device_scalars(sp)
    if scheme == "software":
      scal["read_noise"] = jnp.float32(0.0)
    common = dict(theta=theta, multi_pulse=bool(cfg.method.multi_pulse), batch_size=bs,
                  w_max=w_max, label_sampling=cfg.method.label_sampling)
    lr = jnp.float32(cfg.method.lr)
    rbms = []
    for name, (nv, nh, nl), data in (("rbm1_epoch", (n_vis, n_hid, 0), x),
                                     ("top_rbm_epoch", (n_pen + n_lab, n_top, n_lab), top_in)):
      syns = model.init_synapses(jax.random.fold_in(key, nv), model.rbm_shapes(nv, nh), scheme,
                                 sp, float(cfg.model.w_std), w_max)
      dj = jnp.asarray(data)
      kw = dict(scheme=scheme, n_labels=nl, **common)
      fn = lambda s: method.pretrain_epoch(s, dj, key, scal, lr, **kw)  # noqa: E731
      comp, mem = _compile(method.pretrain_epoch, syns, dj, key, scal, lr, **kw)
      warm = _time_epoch(fn, syns, a.repeats)
      out["phases"].setdefault(name, {})[scheme] = {
          "compile_s": comp, "s_per_batch": warm / a.batches, "s_per_epoch_600": warm * scale,
          "memory": mem}
      print(f"{scheme:9s} {name:14s} {warm * scale:7.2f} s/epoch  compile {comp:5.1f} s",
            flush=True)
      rbms.append(syns)
    # Up-down epoch on a whole DBN: the two RBMs timed above plus a fresh RBM2.
    rbm2 = model.init_synapses(jax.random.fold_in(key, 7), model.rbm_shapes(n_hid, n_pen), scheme,
                               sp, float(cfg.model.w_std), w_max)
    dbn = mtrain._dbn_from_rbms(rbms[0], rbm2, rbms[1], jax.random.fold_in(key, 9), scheme, sp)
    xj, lj = jnp.asarray(x), jnp.asarray(lab)
    kw = dict(scheme=scheme, n_labels=n_lab, cd_k=cd_k, **common)
    lr_ft = jnp.float32(cfg.method.finetune_lr)
    fn = lambda s: method.finetune_epoch(s, xj, lj, key, scal, lr_ft, **kw)  # noqa: E731
    comp, mem = _compile(method.finetune_epoch, dbn, xj, lj, key, scal, lr_ft, **kw)
    warm = _time_epoch(fn, dbn, a.repeats)
    out["phases"].setdefault(f"updown_cd{cd_k}_epoch", {})[scheme] = {
        "compile_s": comp, "s_per_batch": warm / a.batches, "s_per_epoch_600": warm * scale,
        "memory": mem}
    print(f"{scheme:9s} updown_cd{cd_k:<6d} {warm * scale:7.2f} s/epoch  compile {comp:5.1f} s",
          flush=True)
  # jaxlab vs NumPy port, CDacc RBM1 batch.
  scal = devices.device_scalars(spec)
  syns = model.init_synapses(jax.random.fold_in(key, n_vis), model.rbm_shapes(n_vis, n_hid),
                             "cdacc", spec, float(cfg.model.w_std), w_max)
  np_syn = jax.tree.map(lambda v: np.array(v), syns)
  nrng = np.random.default_rng(1)
  ts = []
  for b in range(a.numpy_batches):
    t0 = time.perf_counter()
    numpy_cdacc_batch(np_syn, x[b % a.batches], nrng, theta, w_max, float(spec.c2c),
                      float(spec.read_noise))
    ts.append(time.perf_counter() - t0)
  np_s = statistics.median(ts)
  jx = out["phases"].get("rbm1_epoch", {}).get("cdacc")
  out["numpy_reference"] = {"what": "CDacc CD-1 batch of RBM1 (counts, accumulate, one pulse, "
                                    "C2C, read noise), vectorised NumPy float32",
                            "s_per_batch": np_s,
                            "numpy_over_jaxlab": (np_s / jx["s_per_batch"]) if jx else None}
  if jx:
    print(f"NumPy port {np_s * 1e3:.1f} ms/batch vs jaxlab {jx['s_per_batch'] * 1e3:.1f} ms/batch:"
          f" {np_s / jx['s_per_batch']:.2f}x", flush=True)
  out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  if a.out:
    p = pathlib.Path(a.out)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(out, indent=1))
    print(f"wrote {p}")
  return out


if __name__ == "__main__":
  main()
