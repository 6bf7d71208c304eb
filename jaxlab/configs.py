"""Config helpers: one vocabulary for every project, `smoke` and `key=value` arguments.

A config file `configs/<slug>/<name>.py` defines `get_config(arg=None)` and ends with
`return finalize(config, arg, smoke=...)`. `arg` is what follows the colon on the command line:
`--config=configs/baselines/mnist_cnn.py:smoke,seed=1,optim.lr=0.01`.
"""

from __future__ import annotations

import ast
import difflib
from typing import Callable

import ml_collections


def base_config(project: str, **top) -> ml_collections.ConfigDict:
  """The shared skeleton: project, seed, data.*, model.*, optim.*, train.*, eval.*."""
  c = ml_collections.ConfigDict()
  c.project = project
  c.seed = 0
  c.distributed = False  # multi-host: jax.distributed.initialize() at start-up
  c.data = ml_collections.ConfigDict(dict(name="", source="local", dir="", batch_size=128))
  c.model = ml_collections.ConfigDict(dict(name="", variant=""))
  c.optim = ml_collections.ConfigDict(dict(
      name="adam", lr=1e-3, wd=0.0, schedule="constant", warmup_steps=0, grad_clip=0.0,
      momentum=0.9))
  c.train = ml_collections.ConfigDict(dict(
      num_steps=1000, log_every=50, eval_every=0, ckpt_every=0, progress=True,
      tensorboard=True))
  c.eval = ml_collections.ConfigDict(dict(batch_size=500))
  for k, v in top.items():
    c[k] = v
  return c


def _flat_keys(cfg, prefix=""):
  out = []
  for k, v in cfg.items():
    name = f"{prefix}{k}"
    if isinstance(v, ml_collections.ConfigDict):
      out.extend(_flat_keys(v, name + "."))
    else:
      out.append(name)
  return out


def _unknown_key(cfg, key: str) -> KeyError:
  """The error for a misspelt key: the closest valid keys first, then all of them."""
  keys = _flat_keys(cfg)
  # The last part alone first (`train.lrr` -> `optim.lr`), then whole dotted keys
  # (`train.num_epoch` -> `train.num_epochs`).
  leaves = [k.rsplit(".", 1)[-1] for k in keys]
  near = difflib.get_close_matches(key.rsplit(".", 1)[-1], leaves, n=3, cutoff=0.8)
  close = [k for k, leaf in zip(keys, leaves) if leaf in near]
  close += [k for k in difflib.get_close_matches(key, keys, n=3, cutoff=0.6) if k not in close]
  close = close[:3]
  hint = f" (did you mean {' or '.join(repr(k) for k in close)}?)" if close else ""
  return KeyError(f"unknown config key {key!r}{hint}; valid keys: {', '.join(keys)}")


def _parse_value(text: str, current):
  if isinstance(current, bool):
    low = text.lower()
    if low in ("true", "1", "yes"):
      return True
    if low in ("false", "0", "no"):
      return False
    raise ValueError(f"expected a boolean, got {text!r}")
  if isinstance(current, str):
    # `key='x'` and `key="x"` (Python/shell habit) mean x, not the quoted string.
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
      return text[1:-1]
    return text
  try:
    value = ast.literal_eval(text)
  except (ValueError, SyntaxError):
    value = text
  if isinstance(current, float) and isinstance(value, int):
    value = float(value)
  if isinstance(current, tuple) and isinstance(value, list):
    value = tuple(value)
  return value


def set_key(cfg: ml_collections.ConfigDict, key: str, text: str) -> None:
  """Sets dotted `key` from its string form; an unknown key lists the valid ones."""
  node = cfg
  parts = key.split(".")
  for p in parts[:-1]:
    if p not in node or not isinstance(node[p], ml_collections.ConfigDict):
      raise _unknown_key(cfg, key)
    node = node[p]
  if parts[-1] not in node:
    raise _unknown_key(cfg, key)
  with node.unlocked():
    node[parts[-1]] = _parse_value(text, node[parts[-1]])


def parse_arg(arg: str | None) -> tuple[set[str], list[tuple[str, str]]]:
  """'smoke,seed=1' -> ({'smoke'}, [('seed', '1')]). Commas inside brackets are kept."""
  flags, pairs = set(), []
  if not arg:
    return flags, pairs
  parts, depth, cur = [], 0, ""
  for ch in arg:
    depth += ch in "([{"
    depth -= ch in ")]}"
    if ch == "," and depth == 0:
      parts.append(cur)
      cur = ""
    else:
      cur += ch
  parts.append(cur)
  for p in (p.strip() for p in parts):
    if not p:
      continue
    if "=" in p:
      k, v = p.split("=", 1)
      pairs.append((k.strip(), v.strip()))
    else:
      flags.add(p)
  return flags, pairs


def finalize(cfg: ml_collections.ConfigDict, arg: str | None, *,
             smoke: Callable[[ml_collections.ConfigDict], None] | None = None,
             variants: dict[str, Callable[[ml_collections.ConfigDict], None]] | None = None,
             ) -> ml_collections.ConfigDict:
  """Applies named variants (`smoke` and any in `variants`), then key=value pairs, then locks.

  A locked config refuses new keys, so a typo in `--config.x=...` fails loudly too.
  """
  flags, pairs = parse_arg(arg)
  known = {"smoke": smoke, **(variants or {})}
  for f in sorted(flags):
    if f not in known or known[f] is None:
      valid = sorted(k for k, v in known.items() if v is not None)
      raise ValueError(f"unknown config argument {f!r}; valid: {', '.join(valid) or 'none'} "
                       "and key=value pairs")
    known[f](cfg)
  cfg.smoke = "smoke" in flags
  for k, v in pairs:
    set_key(cfg, k, v)
  cfg.lock()
  return cfg


# Shared-vocabulary keys that projects with their own optimiser or schedule do not read.
OPTIM_KEYS = tuple(f"optim.{k}" for k in ("name", "lr", "wd", "schedule", "warmup_steps",
                                         "grad_clip", "momentum"))
LOOP_KEYS = ("train.num_steps", "train.log_every", "train.eval_every", "train.ckpt_every")


def refuse_unused(cfg: ml_collections.ConfigDict, keys, hint: str = "") -> None:
  """Fails when `cfg` changes a `base_config` key that its project does not read.

  Every project carries the shared vocabulary (optim.*, train.*, ...), but a project with its
  own schedule or optimiser ignores some of it; `...:optim.lr=0.01` must then be an error that
  names the keys it does read (`hint`), not a run that silently keeps the old setting.
  """
  base = base_config(cfg.project)
  changed = []
  for key in keys:
    node, ref = cfg, base
    for part in key.split("."):
      node, ref = node[part], ref[part]
    if node != ref:
      changed.append(f"{key}={node!r}")
  if changed:
    raise ValueError(f"{cfg.project} does not read {', '.join(changed)} (shared config keys it "
                     f"ignores; leave them at their defaults)" + (f". {hint}" if hint else ""))


def config_module(path):
  """The executed module of a config file (also how a config builds on a sibling, e.g.
  `config_module(pathlib.Path(__file__).with_name("mini.py"))`)."""
  import importlib.util
  import pathlib
  p = pathlib.Path(path)
  if not p.is_file():
    raise FileNotFoundError(f"config file {p} not found")
  spec = importlib.util.spec_from_file_location(f"_jaxlab_config_{p.stem}", p)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load_config(path: str, arg: str | None = None) -> ml_collections.ConfigDict:
  """`get_config(arg)` of a config file, as `--config=path:arg` would give (for notebooks/tests)."""
  module = config_module(path)
  if not hasattr(module, "get_config"):
    raise AttributeError(f"{path} defines no get_config(arg)")
  return module.get_config(arg)
