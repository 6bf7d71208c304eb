"""Where the data folder is, and how readers get a checked path to a file in it."""

import os
import pathlib

from jaxlab.data import checksums


def data_dir(override=None):
  """Returns the data folder: `override`, else `$JAXLAB_DATA`, else ~/jaxlab_data."""
  if override is not None:
    return pathlib.Path(override).expanduser()
  env = os.environ.get(checksums.ENV_VAR)
  if env:
    return pathlib.Path(env).expanduser()
  return pathlib.Path.home() / "jaxlab_data"


def locate(relpath, root=None, verify=True):
  """Returns the path of data file `relpath`, checked to exist (and its sha256).

  Args:
    relpath: path inside the data folder, e.g. "mnist/t10k-labels-idx1-ubyte.gz".
    root: the data folder; `None` resolves it with `data_dir`.
    verify: check the file against `checksums.SHA256` (or `checksums.GIT_BLOB_SHA1`).

  Raises:
    MissingDataError, CorruptDataError: see `checksums.verify`.
  """
  path = data_dir(root) / relpath
  if verify:
    checksums.verify(path, relpath)
  elif not path.is_file():
    raise checksums.missing_file_error(path, relpath)
  return path


def file_key(path):
  """Identity of a file's current content for in-process caches: (path, size, mtime)."""
  st = os.stat(path)
  return (os.fspath(path), st.st_size, st.st_mtime_ns)


def readonly(array):
  """Marks a cached array read-only so that no caller can alter the shared copy."""
  array.flags.writeable = False
  return array
