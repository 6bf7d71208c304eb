"""Resumable stages: a stage's JSON result cached in the workdir with the settings that made it.

Long experiment drivers (MEGU, MLDGG, DPS, FSG) split a run into stages (a dataset's grid, a
(setting, method) cell, a seed) and skip the stages whose result is already on disk, so an
interrupted run resumes. Without a check, a rerun in the same workdir with changed settings
(say, more unlearning epochs) would silently report the old stages as new. Each cache file
therefore stores a fingerprint of the config that produced it; a cache of another fingerprint
or a damaged file is refused with an error naming the differing keys. Nothing is deleted.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
from typing import Any, Callable, Iterable

# Keys that never change a stage's numbers: progress display, logging, the data folder's
# location (files are checksummed) and acceptance thresholds (applied after the stages).
RUN_CONTROL_KEYS = ("train.progress", "train.tensorboard", "train.log_every", "data.dir", "gates")


class StageCacheError(ValueError):
  """A cached stage was written under other settings, or cannot be read."""


def _flatten(d: Any, prefix: str = "") -> dict:
  if isinstance(d, dict):
    out = {}
    for k, v in d.items():
      out.update(_flatten(v, f"{prefix}{k}."))
    return out
  return {prefix[:-1]: d}


def _under(key: str, prefixes) -> bool:
  return any(key == p or key.startswith(p + ".") for p in prefixes)


def config_fingerprint(config, ignore: Iterable[str] = (), keep: Iterable[str] | None = None
                       ) -> dict:
  """Flat `{dotted key: value}` of `config` (a ConfigDict or plain dict; JSON-normalised, so
  tuples become lists) without the `RUN_CONTROL_KEYS` and `ignore`, and, if `keep` is given,
  only under `keep` (keys or key prefixes, e.g. "methods" or "attack")."""
  d = config.to_dict() if hasattr(config, "to_dict") else dict(config)
  flat = json.loads(json.dumps(_flatten(d), default=str))
  drop = tuple(RUN_CONTROL_KEYS) + tuple(ignore)
  return {k: v for k, v in sorted(flat.items())
          if not _under(k, drop) and (keep is None or _under(k, tuple(keep)))}


def check_same_settings(path, stored: dict, fingerprint: dict) -> None:
  """Raises `StageCacheError` when the fingerprint `stored` with the result at `path` differs
  from this run's `fingerprint`."""
  if stored != fingerprint:
    raise StageCacheError(
        f"{path} was written by a run with other settings ({_diff(stored, fingerprint)}). "
        "Use a new --workdir, or go back to those settings to resume; nothing was deleted.")


def _diff(old: dict, new: dict, limit: int = 8) -> str:
  keys = sorted(k for k in set(old) | set(new)
                if old.get(k, "<absent>") != new.get(k, "<absent>"))
  shown = [f"{k}: {old.get(k, '<absent>')!r} -> {new.get(k, '<absent>')!r}" for k in keys[:limit]]
  more = f" (and {len(keys) - limit} more)" if len(keys) > limit else ""
  return "; ".join(shown) + more


def write_json_atomic(path, obj, **dump_kw) -> None:
  """Writes JSON through a temporary file and a rename, so a killed run leaves no half file."""
  path = pathlib.Path(path)
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_text(json.dumps(obj, **dump_kw))
  os.replace(tmp, path)


def cached_stage(path, fingerprint: dict, fn: Callable[[], Any], *,
                 accept: Callable[[Any], bool] | None = None, indent: int = 2) -> Any:
  """`fn()`'s result, read from `path` when an earlier run with the same `fingerprint` wrote it.

  Args:
    path: the stage's JSON file.
    fingerprint: `config_fingerprint(...)` of this run.
    fn: computes the stage (JSON-serialisable result).
    accept: optional test of a cached result of the right fingerprint (e.g. "holds every
      requested method"); False recomputes the stage and overwrites the file.
    indent: JSON indent of the written file.
  Raises:
    StageCacheError: the file is not valid JSON, or was written under another fingerprint.
  """
  path = pathlib.Path(path)
  if path.exists():
    try:
      stored = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
      raise StageCacheError(
          f"{path}: cannot read this cached stage ({e}). Delete it to recompute that stage, "
          "or use a new --workdir.") from e
    if isinstance(stored, dict) and set(stored) == {"fingerprint", "result"}:
      check_same_settings(path, stored["fingerprint"], fingerprint)
      result = stored["result"]
    else:  # written before stages carried fingerprints: cannot be checked
      logging.warning("%s has no settings fingerprint (written by an older jaxlab); reusing it "
                      "unchecked. Delete it if the settings changed since.", path)
      result = stored
    if accept is None or accept(result):
      return result
  result = fn()
  write_json_atomic(path, {"fingerprint": fingerprint, "result": result}, indent=indent,
                    default=float)
  return result
