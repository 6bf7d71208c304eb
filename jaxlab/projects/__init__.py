"""One folder per paper, each exposing `train.train_and_evaluate(config, workdir) -> dict`."""

import importlib
import pathlib


def list_projects() -> list[str]:
  here = pathlib.Path(__file__).parent
  return sorted(p.name for p in here.iterdir()
                if p.is_dir() and (p / "train.py").exists() and not p.name.startswith("_"))


def get_entry_point(project: str):
  """`train_and_evaluate` of `jaxlab.projects.<project>`; an unknown name lists the valid ones."""
  valid = list_projects()
  if project not in valid:
    raise ValueError(f"unknown config.project {project!r}; valid projects: {', '.join(valid)}")
  return importlib.import_module(f"jaxlab.projects.{project}.train").train_and_evaluate
