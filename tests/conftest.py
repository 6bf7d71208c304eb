"""Test-wide setup. Four fake CPU devices must exist before jax initialises, so the
multi-device tests can compare 1-device and 4-device results in one process."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
_flag = "--xla_force_host_platform_device_count=4"
if _flag not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()

import pathlib  # noqa: E402

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def _data_dir():
  env = os.environ.get("JAXLAB_DATA")
  if env:
    return pathlib.Path(env)
  return REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir():
  """The real datasets ($JAXLAB_DATA, else ../shared/data). Tests that need them skip
  only if the folder is absent entirely; CI always sets it."""
  d = _data_dir()
  if not d.is_dir():
    pytest.skip(f"real data folder {d} not found; set JAXLAB_DATA")
  return d
