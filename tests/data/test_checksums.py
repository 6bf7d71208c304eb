"""Missing and corrupted files fail with errors that name the file and the fix."""

import os
import pathlib
import shutil

import pytest

import jaxlab.data as jd
from jaxlab.data import checksums


def _copy(data_dir, tmp_path, relpath, flip_at=None, xor=0xFF):
  """Copies `relpath` into tmp_path with the same layout, optionally altering a byte."""
  dst = tmp_path / relpath
  dst.parent.mkdir(parents=True, exist_ok=True)
  shutil.copyfile(data_dir / relpath, dst)
  if flip_at is not None:
    data = bytearray(dst.read_bytes())
    data[flip_at] ^= xor
    dst.write_bytes(bytes(data))
  return dst


def test_data_dir_resolution(monkeypatch, tmp_path):
  monkeypatch.setenv("JAXLAB_DATA", str(tmp_path))
  assert jd.data_dir() == tmp_path
  assert jd.data_dir("/x/y") == pathlib.Path("/x/y")
  monkeypatch.delenv("JAXLAB_DATA")
  assert jd.data_dir() == pathlib.Path.home() / "jaxlab_data"


def test_every_shared_file_has_a_checksum(data_dir):
  listed = {line.split()[1] for line in
            (data_dir / "CHECKSUMS.sha256").read_text().splitlines() if line.strip()}
  assert listed == set(checksums.SHA256)


def test_corrupt_mnist_labels(data_dir, tmp_path):
  _copy(data_dir, tmp_path, "mnist/t10k-images-idx3-ubyte.gz")
  bad = _copy(data_dir, tmp_path, "mnist/t10k-labels-idx1-ubyte.gz", flip_at=100)
  with pytest.raises(jd.CorruptDataError) as info:
    jd.get_dataset("mnist", "test", data_dir=tmp_path)
  msg = str(info.value)
  assert str(bad) in msg
  assert checksums.SHA256["mnist/t10k-labels-idx1-ubyte.gz"] in msg  # expected hash
  assert "MNIST" in msg and "verify=False" in msg
  assert isinstance(info.value, RuntimeError)


def test_corrupt_file_after_good_load_is_caught(data_dir, tmp_path):
  """The in-process caches are keyed on the file's size and mtime."""
  path = _copy(data_dir, tmp_path, "ml-100k/u.data")
  assert len(jd.get_dataset("movielens100k", data_dir=tmp_path, with_items=False)) == 100000
  data = bytearray(path.read_bytes())
  data[10] ^= 0x01  # one byte in the head of the file
  path.write_bytes(bytes(data))
  st = path.stat()
  os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
  with pytest.raises(jd.CorruptDataError, match="u.data"):
    jd.get_dataset("movielens100k", data_dir=tmp_path, with_items=False)


def test_corrupt_planetoid_is_never_unpickled(data_dir, tmp_path, monkeypatch):
  from jaxlab.data import graphs  # pylint: disable=g-import-not-at-top
  for part in ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"):
    _copy(data_dir, tmp_path, f"planetoid/ind.cora.{part}", flip_at=50 if part == "graph"
          else None)
  monkeypatch.setattr(graphs, "_unpickle", lambda path: pytest.fail("unpickled"))
  with pytest.raises(jd.CorruptDataError, match=r"ind\.cora\.graph") as info:
    jd.get_dataset("cora", data_dir=tmp_path)
  assert "tkipf/gcn" in str(info.value)


def test_restricted_unpickler_refuses_other_globals(tmp_path):
  import pickle  # pylint: disable=g-import-not-at-top
  from jaxlab.data import graphs  # pylint: disable=g-import-not-at-top
  path = tmp_path / "evil.pkl"
  path.write_bytes(pickle.dumps(os.system, protocol=2))
  with pytest.raises(jd.CorruptDataError, match="not allowed"):
    graphs._unpickle(path)  # pylint: disable=protected-access


def test_missing_file(tmp_path, monkeypatch):
  monkeypatch.setenv("JAXLAB_DATA", str(tmp_path))
  with pytest.raises(jd.MissingDataError) as info:
    jd.get_dataset("cora")
  msg = str(info.value)
  assert str(tmp_path / "planetoid" / "ind.cora.x") in msg
  assert "JAXLAB_DATA" in msg and "tkipf/gcn" in msg
  assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, jd.DataError)


def test_missing_tfds_capable_file_mentions_tfds(tmp_path):
  with pytest.raises(jd.MissingDataError, match="source='tfds'"):
    jd.get_dataset("fashion_mnist", data_dir=tmp_path)


def test_verify_false_skips_hash(data_dir, tmp_path):
  # "First Citizen" -> "first Citizen": still valid text, different hash.
  bad = _copy(data_dir, tmp_path, "tinyshakespeare/input.txt", flip_at=0, xor=0x20)
  with pytest.raises(jd.CorruptDataError):
    jd.verify(bad, "tinyshakespeare/input.txt")
  text = jd.get_dataset("tinyshakespeare", "all", data_dir=tmp_path, verify=False)
  assert len(text) == 1115394 and text.decode(text.tokens[:5]) == "first"
