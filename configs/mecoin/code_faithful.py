"""Ablation: Mecoin as the official code behaves (spec 3.3/3.4): hard top-1 retrieval (only
values and the GKIM head learn) and the official attention axes (synapse attends across the
nodes of the batch, MeCs across codebooks), learning rate 5e-4 as in `test.sh`; baselines
left out except NCM and fine-tune (same seeds and sessions as mini.py).

  python scripts/train.py --config=configs/mecoin/code_faithful.py[:citeseer] \
      --workdir=/work/workdirs/mecoin/code_faithful_cora
"""

from jaxlab.configs import finalize

import importlib.util as _ilu
import pathlib as _pl

_spec = _ilu.spec_from_file_location("_mecoin_mini", _pl.Path(__file__).with_name("mini.py"))
_mini = _ilu.module_from_spec(_spec)
_spec.loader.exec_module(_mini)


def get_config(arg=None):
  c = _mini.get_config(None)
  c.unlock()
  c.smoke = False
  c.mecoin.lr = 5e-4
  c.mecoin_variants.mecoin_code_lr = dict(retrieval="hard", code_faithful_attention=True)
  c.methods = ("finetune", "ncm", "mecoin_code_lr")
  return finalize(c, arg, smoke=_mini.smoke_variant, variants={"citeseer": _mini.citeseer_variant})
