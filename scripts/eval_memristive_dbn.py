"""Re-read a trained memristive DBN with every read-out: deterministic (label current), free
energy, mean-field ('analog') and sampling, without training anything.

  python scripts/eval_memristive_dbn.py \
      "--config=configs/memristive_dbn/default.py:method.visible_binarization='bernoulli'" \
      --workdir=/work/workdirs/memristive_dbn/paper/sw_bern_s0 --run=software

The config must be the run's own (data binarisation, seed, model, device settings); the DBN is
the newest checkpoint under WORKDIR/runs/RUN/checkpoints. The read-outs use the run's key salts,
so 'acc_det' reproduces the run's figure; a change of `eval.samp_input` or `eval.n_samples`
in the config re-reads the same weights another way. Prints JSON and writes nothing.
"""

import json
import os
import pathlib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from jaxlab.projects.memristive_dbn import devices  # noqa: E402
from jaxlab.projects.memristive_dbn import model  # noqa: E402
from jaxlab.projects.memristive_dbn import train as mtrain  # noqa: E402
from jaxlab.train.checkpoint import Checkpointer  # noqa: E402


def reread(config, workdir, run, data=None):
  """The read-outs of the run's newest fine-tuned checkpoint; `data` defaults to load_data."""
  run_dir = pathlib.Path(workdir) / "runs" / run
  if not run_dir.exists():
    have = sorted(p.name for p in (pathlib.Path(workdir) / "runs").glob("*") if p.is_dir())
    raise SystemExit(f"no run folder {run_dir}; runs with checkpoints here: {have or 'none'}")
  restored = Checkpointer(run_dir).restore()
  if restored is None:
    raise SystemExit(f"{run_dir} holds no readable checkpoint")
  state, meta = restored
  if "dbn" not in state:
    raise SystemExit(f"the newest checkpoint in {run_dir} is from pre-training (no fine-tuned "
                     "DBN yet); finish the run first")
  res = meta.get("res", {})
  scheme, device = res.get("scheme", model.SOFTWARE), res.get("device")
  if int(meta.get("fingerprint", {}).get("seed", config.seed)) != int(config.seed):
    raise SystemExit(f"the run used seed {meta['fingerprint']['seed']}, the config has "
                     f"{config.seed}: pass the run's config")
  if scheme == model.SOFTWARE:
    read_noise = jnp.float32(0.0)
  else:
    read_noise = devices.device_scalars(mtrain.device_spec(config, device))["read_noise"]
  k_eval = mtrain.run_keys(config)[2]
  dbn = jax.tree.map(jnp.asarray, state["dbn"])
  data = mtrain.load_data(config) if data is None else data
  acc_of = mtrain.accuracy_fn(config, data, read_noise, k_eval)
  out = mtrain.final_readouts(config, acc_of, dbn)
  out.update(run=run, workdir=str(workdir), scheme=scheme, device=device,
             finetune_epochs_done=len(res.get("finetune", [])),
             eval_n_samples=int(config.eval.n_samples))
  return out


def main(argv):
  del argv
  f = flags.FLAGS
  print(json.dumps(reread(f.config, f.workdir, f.run), indent=1))


if __name__ == "__main__":
  # Flags are defined here, not at import, so tests can import `reread` beside other scripts.
  config_flags.DEFINE_config_file("config", None, "the run's config")
  flags.DEFINE_string("workdir", None, "the run's workdir")
  flags.DEFINE_string("run", "software", "run name: software, cdacc_<device>, online_<device>")
  flags.mark_flags_as_required(["config", "workdir"])
  app.run(main)
