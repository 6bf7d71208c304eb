"""Learning curves of finished runs, one panel per run, into a PNG.

  python scripts/plot_curves.py --workdirs=workdirs --out=results/baselines_curves.png
"""

import argparse
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jaxlab.train import read_metrics  # noqa: E402


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--workdirs", default="workdirs")
  ap.add_argument("--out", default="results/baselines_curves.png")
  args = ap.parse_args()
  runs = sorted(p for p in pathlib.Path(args.workdirs).iterdir()
                if (p / "metrics.jsonl").exists())
  cols = 4
  rows = -(-len(runs) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
  for ax, run in zip(axes.flat, runs):
    m = read_metrics(run)
    tr = [(r["step"], r["train/loss"]) for r in m if "train/loss" in r]
    if not tr:  # node classification logs train_loss under train/
      tr = [(r["step"], r["train/train_loss"]) for r in m if "train/train_loss" in r]
    ax.plot(*zip(*tr), label="train loss", lw=1)
    ev_key = next((k for k in ("eval/loss", "eval/val_loss") if any(k in r for r in m)), None)
    if ev_key:
      ax.plot(*zip(*[(r["step"], r[ev_key]) for r in m if ev_key in r]), "o-", ms=3,
              label=ev_key.replace("eval/", "held-out "))
    acc_key = next((k for k in ("eval/accuracy", "eval/val_accuracy") if any(k in r for r in m)),
                   None)
    if acc_key:
      ax2 = ax.twinx()
      ax2.plot(*zip(*[(r["step"], r[acc_key]) for r in m if acc_key in r]), "g.-", ms=3, lw=1)
      ax2.set_ylabel(acc_key.replace("eval/", ""), color="g")
    ax.set_title(run.name)
    ax.set_xlabel("step (epoch for graphs)")
    ax.legend(fontsize=7)
  for ax in list(axes.flat)[len(runs):]:
    ax.axis("off")
  fig.tight_layout()
  pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(args.out, dpi=80)
  print("wrote", args.out)


if __name__ == "__main__":
  main()
