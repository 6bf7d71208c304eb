"""Stage caches: reused under the same settings, refused under others or when damaged."""

import json
import logging

import ml_collections
import pytest

from jaxlab import train as jtrain


def _config(**over):
  c = ml_collections.ConfigDict({
      "seed": 0, "methods": ("a", "b"), "gates": {"speedup": 5.0},
      "train": {"progress": True, "log_every": 10, "num_epochs": 30},
      "data": {"dir": "/x", "names": ("cora",)}, "model": {"hidden": 32, "widths": (1, 2)}})
  for k, v in over.items():
    node = c
    *path, last = k.split(".")
    for p in path:
      node = node[p]
    node[last] = v
  return c


def test_fingerprint_drops_run_control_and_ignored_keys():
  fp = jtrain.config_fingerprint(_config(), ignore=("methods", "data.names"))
  assert fp == {"model.hidden": 32, "model.widths": [1, 2], "seed": 0, "train.num_epochs": 30}
  assert fp == jtrain.config_fingerprint(
      _config(**{"train.progress": False, "data.dir": "/y", "gates.speedup": 9.0,
                 "methods": ("c",)}), ignore=("methods", "data.names"))
  assert jtrain.config_fingerprint(_config(), keep=("model",)) == {"model.hidden": 32,
                                                                  "model.widths": [1, 2]}
  # A plain dict (a stored config.json) gives the same fingerprint as the ConfigDict.
  assert jtrain.config_fingerprint(json.loads(json.dumps(_config().to_dict()))) == \
      jtrain.config_fingerprint(_config())


def test_cached_stage_reuses_refuses_and_recomputes(tmp_path):
  path = tmp_path / "stage.json"
  calls = []

  def fn():
    calls.append(1)
    return {"acc": 0.5, "methods": {"a": 1}}
  fp = jtrain.config_fingerprint(_config())
  assert jtrain.cached_stage(path, fp, fn) == {"acc": 0.5, "methods": {"a": 1}}
  assert jtrain.cached_stage(path, fp, fn)["acc"] == 0.5 and len(calls) == 1
  assert not list(tmp_path.glob("*.tmp"))  # written through a rename
  before = path.read_text()
  other = jtrain.config_fingerprint(_config(**{"train.num_epochs": 100}))
  with pytest.raises(jtrain.StageCacheError, match=r"train.num_epochs: 30 -> 100.*new --workdir"):
    jtrain.cached_stage(path, other, fn)
  assert path.read_text() == before and len(calls) == 1  # nothing overwritten
  # `accept` rejecting the cached result (e.g. a method missing) recomputes it.
  jtrain.cached_stage(path, fp, fn, accept=lambda r: "b" in r["methods"])
  assert len(calls) == 2


def test_damaged_and_legacy_caches(tmp_path, caplog):
  fp = jtrain.config_fingerprint(_config())
  bad = tmp_path / "bad.json"
  bad.write_text('{"fingerprint": {"seed": 0}, "res')  # a run killed mid-write (old writer)
  with pytest.raises(jtrain.StageCacheError, match="cannot read this cached stage"):
    jtrain.cached_stage(bad, fp, lambda: 1)
  legacy = tmp_path / "legacy.json"
  legacy.write_text(json.dumps({"acc": 0.7}))  # written before stages carried fingerprints
  with caplog.at_level(logging.WARNING):
    assert jtrain.cached_stage(legacy, fp, lambda: {"acc": 0.0}) == {"acc": 0.7}
  assert "no settings fingerprint" in caplog.text
