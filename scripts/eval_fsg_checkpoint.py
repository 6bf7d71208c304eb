"""Checks an official FSG / MetaQuant FP checkpoint after loading it without torch.

  python scripts/eval_fsg_checkpoint.py --checkpoint=/path/to/ResNet20-CIFAR10-pretrain.pth \
      --out=results/fsg_bnn/official_checkpoint.json

Loads the checkpoint into configs/fsg_bnn/default.py's ResNet-20 (the code's padding and
CIFAR-10 normalisation constants) and prints its full-precision test accuracy and that of its
binarised weights before any fine-tuning. With `--variants` it also scores the same weights with
flax's SAME padding and with normalisation statistics of the training images, to show what each
of the two settings is worth. Offline, the test set is the 1,000-image CIFAR-10 subset in
$JAXLAB_DATA (`data.source=local`); with the full data prepared, pass --config_arg="data.source='tfds'".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys
import time

import jax

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jaxlab.configs import load_config  # noqa: E402
from jaxlab.projects.fsg_bnn import checkpoint as fckpt  # noqa: E402
from jaxlab.projects.fsg_bnn import method as fm  # noqa: E402
from jaxlab.projects.fsg_bnn import model as fmodel  # noqa: E402
from jaxlab.projects.fsg_bnn import train as ftrain  # noqa: E402


def score(cfg, sd):
  prob = ftrain.Problem(cfg)
  init = ftrain.checkpoint_variables(prob, sd)
  w, r = fmodel.split_params(init["params"], prob.fp_layers)
  fp = prob.evaluate(fm.make_eval_fn(prob.apply_eval, 32), w, r, init["batch_stats"])
  b1 = prob.evaluate(fm.make_eval_fn(prob.apply_eval, int(cfg.quant.weight_bits)), w, r,
                     init["batch_stats"])
  return {"fp_test_accuracy": fp["accuracy"], "fp_test_loss": fp["loss"],
          "binarised_test_accuracy": b1["accuracy"], "test_examples": int(len(prob.te["label"]))}


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--checkpoint", required=True)
  ap.add_argument("--config", default="configs/fsg_bnn/default.py")
  ap.add_argument("--config_arg", default="data.source='local'")
  ap.add_argument("--variants", action="store_true")
  ap.add_argument("--out", default="")
  a = ap.parse_args(argv)
  t0 = time.time()
  sd = fckpt.read_torch_state_dict(a.checkpoint)
  cfg_path = a.config if pathlib.Path(a.config).is_absolute() else str(REPO / a.config)
  base = load_config(cfg_path, a.config_arg or None)
  out = {"checkpoint": pathlib.Path(a.checkpoint).name, "tensors": len(sd),
         "sha256": hashlib.sha256(pathlib.Path(a.checkpoint).read_bytes()).hexdigest(), "backend": jax.default_backend(),
         "config": a.config, "config_arg": a.config_arg, "rows": []}
  settings = [(base.model.get("conv_padding", "same"), base.data.get("norm_stats", "train"))]
  if a.variants:
    settings += [("same", settings[0][1]), (settings[0][0], "train")]
  for padding, norm in settings:
    cfg = load_config(cfg_path, ",".join(x for x in (a.config_arg, f"model.conv_padding='{padding}'",
                                                      f"data.norm_stats='{norm}'") if x))
    row = {"conv_padding": padding, "norm_stats": norm, **score(cfg, sd)}
    out["rows"].append(row)
    print(json.dumps(row), flush=True)
  out["wall_s"] = time.time() - t0
  if a.out:
    pathlib.Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(a.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
  main()
