"""Prints a markdown table of the baseline runs found under a workdirs folder.

  python scripts/collect_results.py --workdirs=workdirs > results/baselines_table.md
"""

import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from jaxlab.projects.baselines import GATES, meets_gate  # noqa: E402


def model_name(run_dir, r):
  """`name/variant`, plus the size overrides the config applied on top of the variant."""
  cfg = json.loads((run_dir / "config.json").read_text())["config"]
  kw = cfg.get("model", {}).get("kwargs") or {}
  extra = ", ".join(f"{k}={v}" for k, v in kw.items())
  return f"{r['model']}" + (f" ({extra})" if extra else "")


def row(name, r, model):
  if "test_accuracy_mean" in r:
    metric = (f"test acc {100 * r['test_accuracy_mean']:.2f} ± "
              f"{100 * r['test_accuracy_std']:.2f}% ({len(r['seeds'])} seeds)")
    seed = f"{r['seeds'][0]}..{r['seeds'][-1]}"
  elif "val_loss" in r:
    metric = f"val loss {r['val_loss']:.3f} nats/char ({r['val_bits_per_char']:.3f} bpc)"
    seed = str(r["seed"])
  else:
    metric = f"test acc {100 * r['test_accuracy']:.2f}%"
    seed = str(r["seed"])
  gate = ""
  if name in GATES:
    _, op, thr = GATES[name]
    gate = f"{op} {thr:g}: {'pass' if meets_gate(name, r) else 'MISSED'}"
  speed = f"{r['steps_per_sec']:.2f}" if r.get("steps_per_sec") else "-"
  return (f"| {name} | {model} | {metric} | {gate or 'report'} | {seed} | "
          f"{r['wall_time_s'] / 60:.1f} | {speed} |")


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--workdirs", default="workdirs")
  args = ap.parse_args()
  print("| run | model | result | gate | seed | wall min | steps/s |")
  print("|---|---|---|---|---|---|---|")
  for p in sorted(pathlib.Path(args.workdirs).glob("*/results.json")):
    r = json.loads(p.read_text())
    print(row(p.parent.name, r, model_name(p.parent, r)))


if __name__ == "__main__":
  main()
