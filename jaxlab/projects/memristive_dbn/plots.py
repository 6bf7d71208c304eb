"""Figures and the committed results summary of the memristive DBN runs.

  python -m jaxlab.projects.memristive_dbn.plots \
      --mini=/work/workdirs/memristive_dbn/mini2,/work/workdirs/memristive_dbn/mini2/online_pre \
      --sweep=/work/workdirs/memristive_dbn/sweep --out=results/memristive_dbn
  # a further sweep only (keeps summary.json's main runs and earlier sweeps):
  python -m jaxlab.projects.memristive_dbn.plots --sweep=WORKDIR --sweep-key=sweep_grid \
      --out=results/memristive_dbn

--mini takes one or more comma-separated workdirs whose runs/*.json are merged (the measured runs
were split over processes); the write ratios and gates are recomputed from the merged runs.
Writes `summary.json` (small: accuracies, write tallies, endurance, ratios, sweep) and the PNGs
device_curves.png, accuracy_writes.png, robustness<suffix>.png (heatmaps for a grid sweep, bars
otherwise; suffix from --sweep-key) into --out. --curves=<run json>,... draws the det accuracy
per epoch of those runs (alone, without --mini/--sweep, it writes only that figure), and
--measured-curve adds a measured trace to device_curves.png.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

from jaxlab.projects.memristive_dbn import devices
from jaxlab.projects.memristive_dbn import yflash

DEVICE_ORDER = ("ideal", "ag_si", "taox_hfox", "alox_hfo2", "epiram", "pcmo")
# The follow-up's cell and a user's measured trace, when runs of them are present.
ACC_ORDER = DEVICE_ORDER + ("yflash", "measured")
LABELS = {"ideal": "ideal", "ag_si": "Ag:a-Si", "taox_hfox": "TaOx/HfOx", "alox_hfo2": "AlOx/HfO2",
          "epiram": "EpiRAM", "pcmo": "PCMO", "yflash": "Y-Flash", "measured": "measured"}


def load_runs(workdir) -> dict:
  runs = {}
  for f in sorted(pathlib.Path(workdir).glob("runs/*.json")):
    runs[f.stem] = json.loads(f.read_text())
  return runs


def summarize_runs(runs: dict) -> dict:
  keep = ("scheme", "device", "acc_pretrain_det", "acc_pretrain_det_free_energy",
          "acc_det_per_epoch", "acc_det", "acc_det_free_energy", "acc_samp", "acc_analog", "totals",
          "totals_pretrain", "endurance", "wall_s", "seed", "point")
  out = {n: {k: r[k] for k in keep if k in r} for n, r in runs.items()}
  for n, r in runs.items():
    out[n]["finetune_epochs"] = len(r.get("finetune", []))
  return out


def plot_device_curves(path, extra_specs=()):
  """Left: the NeuroSim-form literature devices (normalised G), and `extra_specs` (e.g. a
  measured trace, `devices.measured_device`) dashed; right: the Y-Flash physics model in weight
  units against a reference cell at the initial charge."""
  import matplotlib.pyplot as plt
  fig, (ax, ay) = plt.subplots(1, 2, figsize=(10.5, 3.6), width_ratios=(1.4, 1))
  g = yflash.pulse_curve(yflash.SPEC, n_erase=200, n_prog=200)
  w = 2 * 1.5 * (np.asarray(yflash.normalised(g, g[0], yflash.scalars(yflash.SPEC))) - 0.5)
  ay.plot(np.arange(len(w)), w, lw=1, color="C3")
  ay.axhline(0, color="k", lw=0.5)
  ay.set_xlabel("pulse number (200 erase, then 200 program)")
  ay.set_ylabel("weight V_read (G+ - G-) / I_0")
  ay.set_title("Y-Flash physics model (nominal cell, cycling on)", fontsize=8)
  for name in DEVICE_ORDER:
    spec = devices.get_device(name)
    trace = devices.pulse_curve(spec)
    ax.plot(np.arange(len(trace)), trace, label=f"{LABELS[name]} ({spec.p_ltp} st., NL "
            f"{spec.nl_ltp:g}/{spec.nl_ltd:g}, C2C {100 * spec.c2c:g}%)", lw=1)
  for spec in extra_specs:
    trace = devices.pulse_curve(spec)
    ax.plot(np.arange(len(trace)), trace, "k--", lw=1,
            label=f"{spec.name} ({spec.p_ltp}/{spec.p_ltd} st., C2C {100 * spec.c2c:g}%)")
  ax.set_xlabel("pulse number (LTP then LTD)")
  ax.set_ylabel("normalised conductance")
  ax.legend(fontsize=6)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def plot_epoch_curves(runs: dict, path, title="det test accuracy per epoch"):
  """Deterministic test accuracy after pre-training (epoch 0) and after every up-down
  fine-tuning epoch, one line per run (`acc_det_per_epoch`); software dashed, the issue's
  94 / 95 / 96 % gates as grey lines."""
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(9.5, 4.2))
  order = {f"cdacc_{d}": i for i, d in enumerate(ACC_ORDER)}
  for name in sorted(runs, key=lambda n: (n != "software", order.get(n, 99), n)):
    acc = np.asarray(runs[name].get("acc_det_per_epoch") or [], float) * 100
    if not len(acc):
      continue
    dev = runs[name].get("device")
    label = "software" if name == "software" else f"{runs[name]['scheme']} {LABELS.get(dev, dev)}"
    final = runs[name].get("acc_det")  # the run's final read-out (its own key), as tabulated
    ax.plot(np.arange(len(acc)), acc, "k--" if name == "software" else "-", lw=1.2,
            label=label + (f" (final {100 * final:.2f} %)" if final is not None else ""))
  for gate in (94, 95, 96):
    ax.axhline(gate, color="0.75", lw=0.6, zorder=0)
  ax.set_xlabel("up-down fine-tuning epoch (0 = after pre-training)")
  ax.set_ylabel("MNIST test accuracy (%), det read-out")
  ax.set_title(title, fontsize=9)
  ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def _pre_only(run: dict) -> bool:
  return run.get("finetune_epochs", 1) == 0


def plot_accuracy_writes(summary: dict, path):
  """Left: accuracy per device (software line, CDacc after pre-training and after fine-tuning,
  online CD); middle: writes (log) per device, over the phase the online runs covered; right:
  endurance histogram on Ag:a-Si."""
  import matplotlib.pyplot as plt
  runs = summary["runs"]
  devs = [d for d in ACC_ORDER if f"cdacc_{d}" in runs]
  x = np.arange(len(devs))
  online = {d: runs[f"online_{d}"] for d in devs if f"online_{d}" in runs}
  pre = any(_pre_only(r) for r in online.values())
  fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
  ax = axes[0]
  ax.bar(x - 0.27, [runs[f"cdacc_{d}"]["acc_pretrain_det"] * 100 for d in devs], 0.27,
         label="CDacc, after pre-training")
  ax.bar(x, [runs[f"cdacc_{d}"]["acc_det"] * 100 for d in devs], 0.27,
         label="CDacc, after fine-tuning")
  on = [online[d]["acc_det"] * 100 if d in online else np.nan for d in devs]
  ax.bar(x + 0.27, on, 0.27, label="online CD (b)" + (", pre-training only" if pre else ""))
  if "software" in runs:
    ax.axhline(runs["software"]["acc_det"] * 100, color="k", ls="--", lw=1, label="software DBN")
  ax.set_xticks(x, [LABELS[d] for d in devs], rotation=30, fontsize=7)
  ax.set_ylabel("MNIST test accuracy (%), det")
  lo = np.nanmin([runs[f"cdacc_{d}"]["acc_pretrain_det"] * 100 for d in devs] + on)
  ax.set_ylim(max(0, lo - 10), 100)
  ax.legend(fontsize=6)
  ax = axes[1]
  tot = "totals_pretrain" if pre else "totals"
  cd = [runs[f"cdacc_{d}"][tot]["pulses"] for d in devs]
  ev_a = [runs[f"cdacc_{d}"][tot]["events_a"] for d in devs]
  onp = [online[d]["totals"]["pulses"] if d in online else np.nan for d in devs]
  ax.bar(x - 0.27, cd, 0.27, label="CDacc pulses (= write events)")
  ax.bar(x, onp, 0.27, label="(b) simulated online CD pulses")
  ax.bar(x + 0.27, ev_a, 0.27, label="(a) online CD write events")
  ax.set_yscale("log")
  ax.set_xticks(x, [LABELS[d] for d in devs], rotation=30, fontsize=7)
  ax.set_ylabel("writes during " + ("pre-training" if pre else "training"))
  ax.legend(fontsize=7)
  ax = axes[2]
  # Endurance histogram of one device: Ag:a-Si when it ran (the committed figure), else the first.
  dev_e = "ag_si" if "ag_si" in devs else (devs[0] if devs else None)
  for name in (f"cdacc_{dev_e}", f"online_{dev_e}"):
    e = runs.get(name, {}).get("endurance")
    if e:
      phase = "pre-training" if _pre_only(runs[name]) else "whole run"
      ax.step(np.arange(len(e["hist"])), np.maximum(e["hist"], 0.5), where="mid",
              label=f"{name.replace('_', ' ')} ({phase})")
  if runs.get(f"cdacc_{dev_e}", {}).get("endurance"):
    edges = runs[f"cdacc_{dev_e}"]["endurance"]["hist_edges"]
    ax.set_xticks(np.arange(len(edges)), [str(e) for e in edges], rotation=60, fontsize=6)
  ax.set_yscale("log")
  ax.set_xlabel("pulses per device (bin start)")
  ax.set_ylabel("devices")
  ax.set_title(f"endurance, {LABELS.get(dev_e, dev_e)}", fontsize=8)
  if ax.get_legend_handles_labels()[0]:
    ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def plot_robustness(summary: dict, path):
  import matplotlib.pyplot as plt
  sweep = summary.get("sweep", {})
  pts = sorted({(r["point"]["nl"], r["point"]["c2c"], r["point"]["d2d"]) for r in sweep.values()},
               key=lambda p: (p != (0, 0.0, 0.0), p))
  fig, ax = plt.subplots(figsize=(7, 3.6))
  x = np.arange(len(pts))
  for i, scheme in enumerate(("cdacc", "online")):
    acc = [sweep.get(f"sweep_{scheme}_nl{p[0]:g}_c2c{p[1]:g}_d2d{p[2]:g}", {}).get("acc_det",
                                                                                   np.nan) * 100
           for p in pts]
    ax.bar(x + (i - 0.5) * 0.4, acc, 0.4,
           label={"cdacc": "CDacc", "online": "conventional online CD"}[scheme])
  ax.set_xticks(x, [f"NL {p[0]:g}\nC2C {100 * p[1]:g}%\nD2D {p[2]:g}" for p in pts], fontsize=7)
  ax.set_ylabel("test accuracy (%), pre-training 1 ep/RBM")
  ax.set_title("robustness sweep on the TaOx/HfOx model", fontsize=9)
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def plot_robustness_grid(summary: dict, path):
  """Heatmaps of det accuracy over NL x C2C, one panel per (scheme, D2D sigma_NL); a point the
  sweep lacks is left blank. `main` uses it for a grid (>= 2 values of NL and of C2C)."""
  import matplotlib.pyplot as plt
  sweep = summary.get("sweep", {})
  pts = {(r["point"]["nl"], r["point"]["c2c"], r["point"]["d2d"]) for r in sweep.values()}
  nls = sorted({p[0] for p in pts})
  c2cs = sorted({p[1] for p in pts})
  d2ds = sorted({p[2] for p in pts})
  schemes = ("cdacc", "online")
  # constrained layout: the row titles and axis labels otherwise overlap the panel below/left.
  fig, axes = plt.subplots(len(schemes), len(d2ds), figsize=(3.6 * len(d2ds), 3.1 * len(schemes)),
                           squeeze=False, layout="constrained")
  accs = [r["acc_det"] * 100 for r in sweep.values()]
  vmin, vmax = min(accs), max(accs)
  for i, scheme in enumerate(schemes):
    for j, d2d in enumerate(d2ds):
      ax = axes[i][j]
      grid = np.full((len(c2cs), len(nls)), np.nan)
      for a, c2c in enumerate(c2cs):
        for b, nl in enumerate(nls):
          r = sweep.get(f"sweep_{scheme}_nl{nl:g}_c2c{c2c:g}_d2d{d2d:g}")
          if r:
            grid[a, b] = r["acc_det"] * 100
      im = ax.imshow(grid, origin="lower", cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
      for a in range(len(c2cs)):
        for b in range(len(nls)):
          if np.isfinite(grid[a, b]):
            ax.text(b, a, f"{grid[a, b]:.1f}", ha="center", va="center", fontsize=7,
                    color="w" if grid[a, b] < (vmin + vmax) / 2 else "k")
      ax.set_xticks(range(len(nls)), [f"{v:g}" for v in nls], fontsize=7)
      ax.set_yticks(range(len(c2cs)), [f"{100 * v:g}%" for v in c2cs], fontsize=7)
      ax.set_xlabel("NL (LTP = |LTD|)", fontsize=7)
      ax.set_ylabel("C2C sigma", fontsize=7)
      name = {"cdacc": "CDacc", "online": "online CD (b)"}[scheme]
      ax.set_title(f"{name}, D2D sigma_NL {d2d:g}", fontsize=8)
  fig.colorbar(im, ax=axes, shrink=0.8, label="det test accuracy (%)")
  fig.suptitle("robustness sweep on the TaOx/HfOx model (1 CD-1 epoch per RBM)", fontsize=9)
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main(argv=None):
  ap = argparse.ArgumentParser()
  ap.add_argument("--mini", default="",
                  help="workdirs of the main runs; without it, --out's summary.json keeps its runs "
                       "and only the sweep is replaced")
  ap.add_argument("--sweep", default="")
  ap.add_argument("--sweep-key", default="sweep",
                  help="summary.json key (and gates key suffix) the sweep is stored under, so a "
                       "second sweep does not replace the first")
  ap.add_argument("--out", default="results/memristive_dbn")
  ap.add_argument("--curves", default="",
                  help="comma-separated run JSON files (runs/<name>.json of any workdir) to draw "
                       "as det accuracy per epoch into --curves-out")
  ap.add_argument("--curves-out", default="epoch_curves.png")
  ap.add_argument("--curves-title", default="det test accuracy per epoch")
  ap.add_argument("--measured-curve", default="",
                  help="a measured pulse-response trace (.csv phase,conductance or .npz ltp/ltd) "
                       "to draw beside the literature devices in device_curves.png")
  a = ap.parse_args(argv)
  key = a.sweep_key
  if not key.startswith("sweep"):
    raise SystemExit(f"--sweep-key must start with 'sweep', got {key!r}")
  # Read the trace before anything is written, so a bad file costs nothing.
  extra = (devices.measured_device(a.measured_curve),) if a.measured_curve else ()
  out = pathlib.Path(a.out)
  curve_runs = {}
  for f in filter(None, a.curves.split(",")):
    r = json.loads(pathlib.Path(f).read_text())
    curve_runs[r.get("name") or pathlib.Path(f).stem] = r
  out.mkdir(parents=True, exist_ok=True)
  if curve_runs:
    plot_epoch_curves(curve_runs, out / a.curves_out, a.curves_title)
    if not a.mini and not a.sweep:
      print("wrote", out / a.curves_out)
      return
  from jaxlab.projects.memristive_dbn import train  # noqa: PLC0415 (jax only when run)
  if a.mini:
    runs = {}
    for d in a.mini.split(","):
      runs.update(load_runs(d))
    summary = {"runs": summarize_runs(runs)}
    r = train.summarize(None, runs)
    summary["ratios"], summary["gates"] = r["ratios"], r["gates"]
  else:
    if not (out / "summary.json").exists() or not a.sweep:
      raise SystemExit("without --mini, pass --sweep and an --out that holds a summary.json")
    summary = json.loads((out / "summary.json").read_text())
  if a.sweep:
    summary[key] = summarize_runs(load_runs(a.sweep))
    sres = pathlib.Path(a.sweep) / "results.json"
    if sres.exists():
      gate = json.loads(sres.read_text()).get("gates", {}).get("robustness")
      summary.setdefault("gates", {})["robustness" + key[len("sweep"):]] = gate
  for r in list(summary["runs"].values()) + list(summary.get(key, {}).values()):
    if r.get("endurance"):
      r["endurance"] = {k: v for k, v in r["endurance"].items()}
  (out / "summary.json").write_text(json.dumps(summary, indent=1))
  plot_device_curves(out / "device_curves.png", extra)
  if a.mini:
    plot_accuracy_writes(summary, out / "accuracy_writes.png")
  if summary.get(key):
    view = {"sweep": summary[key]}
    pts = [r["point"] for r in summary[key].values()]
    suffix = key[len("sweep"):]
    if len({p["nl"] for p in pts}) >= 2 and len({p["c2c"] for p in pts}) >= 2:
      plot_robustness_grid(view, out / f"robustness{suffix}.png")
    else:
      plot_robustness(view, out / f"robustness{suffix}.png")
  print("wrote", sorted(p.name for p in out.iterdir()))


if __name__ == "__main__":
  main()
