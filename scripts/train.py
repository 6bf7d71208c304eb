"""The one entry point for every jaxlab run.

  python scripts/train.py --config=configs/baselines/mnist_cnn.py[:smoke,seed=1] \
      --workdir=/tmp/mnist [--config.optim.lr=0.01]

Dispatches on `config.project` to `jaxlab.projects.<project>.train.train_and_evaluate(config,
workdir)`. A workdir that already holds a checkpoint resumes from it.
"""

import json
import os
import sys

# Running from a checkout without `pip install -e .` should still find the package.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from jaxlab import projects  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "configs/<slug>/<name>.py[:arg], arg = smoke and/or key=value pairs",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "directory for checkpoints, metrics, results")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logging.set_verbosity(logging.INFO)
  config = _CONFIG.value
  import jax
  from jaxlab.train import maybe_initialize_distributed
  maybe_initialize_distributed(config)
  logging.info("jax %s on %s: %s", jax.__version__, jax.default_backend(), jax.devices())
  train_and_evaluate = projects.get_entry_point(config.project)
  results = train_and_evaluate(config, _WORKDIR.value)
  print(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
  app.run(main)
