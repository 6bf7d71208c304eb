"""Repository contracts: CI runs exactly the README's test command."""

import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
  readme = (REPO / "README.md").read_text()
  blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
  test_cmd = [b for b in blocks if "pytest" in b and "venv" in b]
  assert len(test_cmd) == 1, "README must show one install-and-test command"
  ci = (REPO / ".ci" / "run").read_text().splitlines()
  assert test_cmd[0].strip() in [l.strip() for l in ci]
