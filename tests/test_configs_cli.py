"""Configs (every file loads, smoke and key=value work, bad keys fail listing valid ones) and
the scripts/train.py entry point (dispatch, overrides, unknown project/key errors)."""

import importlib
import json
import os
import re
import pathlib
import subprocess
import sys

import pytest

from jaxlab import configs, projects

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").rglob("*.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
@pytest.mark.parametrize("arg", [None, "smoke"])
def test_every_config_loads(path, arg):
  c = configs.load_config(str(path), arg)
  assert c.project in projects.list_projects()
  assert c.smoke == (arg == "smoke")
  with pytest.raises((KeyError, AttributeError)):
    c.not_a_key = 1  # locked: a typo can't create a key


def _unused_keys(project):
  try:
    module = importlib.import_module(f"jaxlab.projects.{project}.train")
  except ImportError:
    return None
  return getattr(module, "UNUSED_SHARED_KEYS", None)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_shared_keys_a_project_ignores_are_refused(path, tmp_path):
  """A project that ignores some shared keys (optim.*, train.num_steps, ...) runs with them at
  their defaults in every config and variant, and its run refuses an override of one before it
  reads data or writes anything."""
  keys = _unused_keys(configs.load_config(str(path)).project)
  if not keys:
    pytest.skip("the project reads the whole shared vocabulary")
  for arg in (None, "smoke"):
    configs.refuse_unused(configs.load_config(str(path), arg), keys)
  key = keys[0]
  default = configs.base_config("x")
  for part in key.split("."):
    default = default[part]
  other = "sgd" if isinstance(default, str) else default + 1
  bad = configs.load_config(str(path), f"{key}={other}")
  with pytest.raises(ValueError, match=re.escape(key)):
    projects.get_entry_point(bad.project)(bad, tmp_path / "work")
  assert not (tmp_path / "work").exists()


def test_key_value_overrides_and_types():
  c = configs.load_config(str(REPO / "configs/baselines/mnist_cnn.py"),
                          "smoke,seed=7,optim.lr=0.5,train.progress=false,optim.schedule=linear")
  assert c.seed == 7 and c.optim.lr == 0.5 and c.train.progress is False
  assert c.optim.schedule == "linear" and c.train.num_steps == 20


def test_quoted_string_override_is_unquoted():
  for text in ("linear", "'linear'", '"linear"'):
    c = configs.load_config(str(REPO / "configs/baselines/mnist_cnn.py"), f"optim.schedule={text}")
    assert c.optim.schedule == "linear"
  c = configs.load_config(str(REPO / "configs/baselines/mnist_cnn.py"), "optim.schedule='lin")
  assert c.optim.schedule == "'lin"  # unbalanced quotes are kept as typed


def test_unknown_key_lists_valid_keys():
  with pytest.raises(KeyError, match=r"optim\.lr"):
    configs.load_config(str(REPO / "configs/baselines/mnist_cnn.py"), "optim.lrr=0.1")


def test_unknown_key_suggests_the_closest():
  path = str(REPO / "configs/baselines/mnist_cnn.py")
  with pytest.raises(KeyError, match=r"did you mean 'optim\.lr'"):
    configs.load_config(path, "optim.lrr=0.1")
  with pytest.raises(KeyError, match=r"did you mean 'optim\.lr'"):  # the leaf under another parent
    configs.load_config(path, "train.lrr=3")
  with pytest.raises(KeyError) as e:
    configs.load_config(path, "zzzz=1")
  assert "did you mean" not in str(e.value) and "valid keys: " in str(e.value)


def test_unknown_variant_argument():
  with pytest.raises(ValueError, match="valid: smoke"):
    configs.load_config(str(REPO / "configs/baselines/mnist_cnn.py"), "smok")


def test_parse_arg_keeps_bracketed_commas():
  flags, pairs = configs.parse_arg("smoke, model.kwargs={'a': 1, 'b': 2},seed=3")
  assert flags == {"smoke"}
  assert pairs == [("model.kwargs", "{'a': 1, 'b': 2}"), ("seed", "3")]


def test_unknown_project_lists_valid():
  with pytest.raises(ValueError, match="baselines"):
    projects.get_entry_point("no_such_paper")


def _cli(*args, timeout=240):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  env.pop("XLA_FLAGS", None)
  return subprocess.run([sys.executable, str(REPO / "scripts/train.py"), *args], cwd=REPO,
                        env=env, capture_output=True, text=True, timeout=timeout)


def test_cli_runs_dispatches_and_overrides(tmp_path, data_dir):
  r = _cli("--config=configs/baselines/cora_gcn.py:smoke", f"--workdir={tmp_path}",
           "--config.train.num_epochs=6", "--config.num_seeds=1")
  assert r.returncode == 0, r.stderr[-3000:]
  res = json.loads((tmp_path / "results.json").read_text())
  assert res["num_epochs"] == 6 and len(res["test_accuracy_per_seed"]) == 1
  info = json.loads((tmp_path / "config.json").read_text())
  assert info["config"]["train"]["num_epochs"] == 6 and info["seed"] == 0


def test_cli_bad_key_fails_clearly(tmp_path):
  r = _cli("--config=configs/baselines/cora_gcn.py:smoke", f"--workdir={tmp_path}",
           "--config.optim.lrr=0.1")
  assert r.returncode != 0
  assert "lrr" in r.stderr
