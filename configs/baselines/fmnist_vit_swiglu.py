"""The Fashion-MNIST pruning backbone with a DINOv2-style SwiGLU MLP (gated slicing).

  python scripts/train.py --config=configs/baselines/fmnist_vit_swiglu.py \
      --workdir=/work/workdirs/backbones/fmnist_vit_swiglu

Same as `fmnist_vit.py` (patch 7, D=96, depth 6, same data split and optimiser) except the MLP:
`vit/mnist_swiglu` has a fused `fc1` of width 2H (SiLU gate half, value half) with H=256, so the
MLP holds the same 3*96*256 = 2*96*384 parameters as the GELU backbone. Measured (seed 0, 10 epochs):
88.34% test accuracy. `:smoke` runs 10 steps.
"""

import importlib.util
import pathlib

_spec = importlib.util.spec_from_file_location(
    "fmnist_vit", pathlib.Path(__file__).with_name("fmnist_vit.py"))
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)


def get_config(arg=None):
  return _base.get_config(arg, variant="mnist_swiglu")
