"""What the trained DPS samplers pick, against the K most recent events (a diagnostic).

For the test queries (both endpoints of every test event) with at least `--min_history` past
events, it prints, from a DPS run's cached sampler tables (`samplers_seed{S}.npz`):
  * distinct events among DPS's K slots (K/2 from GAS + K/2 from TDS) vs the K most recent;
  * events that GAS and TDS both picked (the two branches are not de-duplicated, as in the
    authors' code);
  * the share of DPS slots older than the K most recent events;
  * per sampler of K/2 neighbours: median age (query time - event time) and distinct partners.

  python scripts/dps_sampler_stats.py \
      "--config=configs/dps/mini.py:model.num_neighbors=20,gas.num_neighbors=20" \
      --workdir=/work/workdirs/dps/d64k20_b --seed=0

The config must be the run's (same data slice, split and K).
"""

import json
import os
import pathlib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from jaxlab.projects.dps import train as dtrain  # noqa: E402


def stats(ev, tables, k, min_history):
  f = ev.full
  u = np.r_[ev.src[ev.test], ev.dst[ev.test]]
  q = np.r_[ev.t[ev.test], ev.t[ev.test]]
  keep = f.count_before(u, q) >= min_history
  u, q = u[keep], q[keep]
  half = k // 2
  gas = f.positions("cache", u, q, half, table=tables["gas"])
  tds = f.positions("cache", u, q, half, table=tables["tds"])
  recent = f.positions("recent", u, q, k)
  both = np.concatenate([gas, tds], 1)

  def distinct(rows):
    return np.array([len(set(r[r >= 0].tolist())) for r in rows], np.float64)

  shared = np.array([len(set(a[a >= 0].tolist()) & set(b[b >= 0].tolist()))
                     for a, b in zip(gas, tds)], np.float64)
  older = np.array([np.mean(~np.isin(a[a >= 0], r)) for a, r in zip(both, recent)])
  per_sampler = {}
  # The `half` most recent events are the last `half` columns of the K most recent.
  for name, pos in (("gas", gas), ("tds", tds), ("recent", recent[:, k - half:])):
    ids, _, dt, mask = f.gather(pos, q)
    per_sampler[f"{name}_{half}"] = {
        "median_age_h": float(np.median(dt[mask]) / 3600.0),
        "distinct_partners": float(np.mean([len(set(i[m].tolist())) for i, m in zip(ids, mask)]))}
  return {"queries": int(len(u)), "min_history": int(min_history), "k": int(k),
          "distinct_events_dps": float(distinct(both).mean()),
          "distinct_events_recent": float(distinct(recent).mean()),
          "shared_by_gas_and_tds": float(shared.mean()),
          "share_of_dps_slots_older_than_recent_k": float(older.mean()),
          "per_sampler": per_sampler}


def main(argv):
  del argv
  f = flags.FLAGS
  config = f.config
  path = pathlib.Path(f.workdir) / f"samplers_seed{f.seed}.npz"
  if not path.exists():
    raise SystemExit(f"{path} not found: run DPS with this workdir first (it caches the sampler "
                     "tables per seed), or pass the right --workdir/--seed")
  tables = dict(np.load(path))
  if not {"gas", "tds"} <= set(tables):
    raise SystemExit(f"{path} lacks a GAS or TDS table (has {sorted(tables)}): it is not a "
                     "`dps` run")
  k = int(config.model.num_neighbors)
  ev = dtrain.Events(config)
  if tables["gas"].shape[0] != ev.full.num_rows:
    raise SystemExit(f"{path} has {tables['gas'].shape[0]} cache rows but this config's events "
                     f"give {ev.full.num_rows}: pass the run's config")
  out = stats(ev, tables, k, f.min_history or 2 * k)
  out.update(workdir=str(f.workdir), seed=f.seed)
  print(json.dumps(out, indent=1))


if __name__ == "__main__":
  # Flags are defined here, not at import, so tests can import `stats` beside other scripts.
  config_flags.DEFINE_config_file("config", None, "the DPS run's config")
  flags.DEFINE_string("workdir", None, "the DPS run's workdir (holds samplers_seed*.npz)")
  flags.DEFINE_integer("seed", 0, "which seed's sampler tables")
  flags.DEFINE_integer("min_history", 0, "only queries with >= this many past events (0: 2K, so "
                       "that every sampler has a choice)")
  flags.mark_flags_as_required(["config", "workdir"])
  app.run(main)
