"""Run provenance: config.json (config, seed, versions, devices, git commit) and results.json."""

from __future__ import annotations

import datetime
import importlib.metadata
import pathlib
import platform
import subprocess

import jax

from jaxlab.train import cache

_PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "chex", "jraph", "numpy",
             "tensorflow-datasets", "ml-collections")


def package_versions() -> dict:
  out = {}
  for p in _PACKAGES:
    try:
      out[p] = importlib.metadata.version(p)
    except importlib.metadata.PackageNotFoundError:
      out[p] = None
  return out


def git_commit() -> str | None:
  repo = pathlib.Path(__file__).resolve().parents[2]
  try:
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                         text=True, timeout=5).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return (sha + ("+dirty" if dirty else "")) if sha else None
  except (OSError, subprocess.SubprocessError):
    return None


def _config_dict(config) -> dict:
  return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def write_run_info(workdir, config) -> dict:
  info = {
      "config": _config_dict(config),
      "seed": config.get("seed", None) if hasattr(config, "get") else None,
      "versions": package_versions(),
      "python": platform.python_version(),
      "devices": [str(d) for d in jax.devices()],
      "backend": jax.default_backend(),
      "process_count": jax.process_count(),
      "git_commit": git_commit(),
      "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
  }
  if jax.process_index() == 0:
    path = pathlib.Path(workdir)
    path.mkdir(parents=True, exist_ok=True)
    cache.write_json_atomic(path / "config.json", info, indent=2, default=str)
  return info


def write_results(workdir, results: dict) -> None:
  if jax.process_index() == 0:
    path = pathlib.Path(workdir)
    path.mkdir(parents=True, exist_ok=True)
    cache.write_json_atomic(path / "results.json", results, indent=2, default=float)
