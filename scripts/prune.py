"""One entry point for the MLP-pruning projects (AMP, HFPrune, DGMR): the whole comparison table.

  python scripts/prune.py --method=amp --config=configs/amp/mini.py[:smoke] \
      --workdir=/work/workdirs/amp/mini [--results=results/amp/mini.json]

Plug-in point. For `--method=<m>` the first of these that exists is called with
`(config, workdir)` and must return a JSON-serialisable dict (the comparison table):

  1. `jaxlab.projects.<m>.comparison.run_comparison`
  2. `jaxlab.projects.<m>.method.run_comparison`
  3. `jaxlab.projects.<m>.train.train_and_evaluate`   (the project's normal entry)

So a project plugs in by defining `run_comparison(config, workdir) -> dict` in `comparison.py` or
`method.py`; nothing here needs editing. The config's `project` must equal the method. The
results are written to `<workdir>/results.json` (with `config.json` beside it) and, with
`--results`, copied to that path (e.g. the committed `results/<m>/` JSON).
"""

import importlib
import json
import os
import pathlib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

METHODS = ("amp", "hfprune", "dgmr")
_METHOD = flags.DEFINE_enum("method", None, METHODS, "which pruning project to run")
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "configs/<method>/<name>.py[:arg], arg = smoke and/or key=value pairs",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "directory for checkpoints and results")
_RESULTS = flags.DEFINE_string("results", "", "also copy results.json to this path")
flags.mark_flags_as_required(["method", "config", "workdir"])


def get_runner(method: str):
  """The comparison function of `method` (see the module docstring for the lookup order)."""
  for module, name in (("comparison", "run_comparison"), ("method", "run_comparison"),
                       ("train", "train_and_evaluate")):
    try:
      mod = importlib.import_module(f"jaxlab.projects.{method}.{module}")
    except ModuleNotFoundError as e:
      if e.name != f"jaxlab.projects.{method}.{module}":
        raise
      continue
    if hasattr(mod, name):
      return getattr(mod, name)
  raise ValueError(f"jaxlab.projects.{method} has no run_comparison or train_and_evaluate")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logging.set_verbosity(logging.INFO)
  config, method = _CONFIG.value, _METHOD.value
  if config.project != method:
    raise app.UsageError(f"--method={method} but the config is for project {config.project!r}")
  from jaxlab import train as jtrain
  workdir = pathlib.Path(_WORKDIR.value)
  jtrain.write_run_info(workdir, config)
  results = get_runner(method)(config, str(workdir))
  jtrain.write_results(workdir, results)
  if _RESULTS.value:
    out = pathlib.Path(_RESULTS.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=float))
  print(json.dumps(results.get("gates", results), indent=2, default=float))


if __name__ == "__main__":
  app.run(main)
