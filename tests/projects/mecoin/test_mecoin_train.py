"""Mecoin configs and a smoke run of train_and_evaluate on the real Cora files."""

import json
import pathlib

import numpy as np
import pytest

from jaxlab import configs
from jaxlab.projects import get_entry_point

REPO = pathlib.Path(__file__).resolve().parents[3]
CONFIGS = sorted((REPO / "configs/mecoin").glob("*.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
@pytest.mark.parametrize("arg", [None, "smoke", "citeseer,smoke"])
def test_configs_load(path, arg):
  c = configs.load_config(str(path), arg)
  assert c.project == "mecoin"
  assert c.smoke == (arg is not None and "smoke" in arg)
  for m in c.methods:
    assert m in ("finetune", "finetune_replay", "finetune_head", "finetune_head_replay", "ncm",
                 "joint") or m in c.mecoin_variants
  with pytest.raises(KeyError, match="unknown config key"):
    configs.load_config(str(path), "mecoin.nope=1")


@pytest.mark.slow  # ~2 min of compiles; colab/mecoin.ipynb runs the same smoke config in the default suite
def test_smoke_run(tmp_path, data_dir):
  c = configs.load_config(str(REPO / "configs/mecoin/mini.py"),
                          f"smoke,data.dir={data_dir}")
  res = get_entry_point("mecoin")(c, str(tmp_path))
  assert set(res["methods"]) == {"finetune", "ncm", "mecoin"}
  for name, r in res["methods"].items():
    a = np.asarray(r["acc_per_seed"])
    assert a.shape == (2, 2), name
    assert np.all(np.isfinite(a)) and np.all((a >= 0) & (a <= 100))
  # 2 seeds x (base + 1 session); sessions differ per seed but shapes do not.
  assert len(res["session_classes"]) == 2 and len(res["session_classes"][0]) == 2
  assert res["methods"]["ncm"]["trainable_params_per_session"] == 0
  assert (res["methods"]["mecoin"]["trainable_params_per_session"]
          < res["methods"]["finetune"]["trainable_params_per_session"])
  saved = json.loads((tmp_path / "results.json").read_text())
  assert saved["methods"]["mecoin"]["last_mean"] == res["methods"]["mecoin"]["last_mean"]


def test_unknown_method_is_a_clear_error(tmp_path, data_dir):
  c = configs.load_config(str(REPO / "configs/mecoin/mini.py"),
                          f"smoke,data.dir={data_dir},methods=('mecoin_typo',)")
  with pytest.raises(ValueError, match="unknown method"):
    get_entry_point("mecoin")(c, str(tmp_path))
