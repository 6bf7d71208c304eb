"""Expected hash of every data file jaxlab reads, and the check against them.

Files of the shared data folder are pinned by sha256 (`SHA256`); the few that users bring
themselves (PubMed, Amazon) by their git blob id in the official repository (`GIT_BLOB_SHA1`).

Paths are relative to the data folder (see `jaxlab.data.data_dir`). Pickled files
(Planetoid) are only unpickled after their hash matched, so the table doubles as an
allow-list of trusted content.
"""

import hashlib
import os
import pathlib
import threading

from jaxlab.data import errors

ENV_VAR = "JAXLAB_DATA"

SHA256 = {
    "cifar10/cifar10_subset.npz": "2a9fc689a27c9419ed61825842425a013acce5c1daa0b66bf0617a29fee14f44",
    "fashion-mnist/t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "fashion-mnist/train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "fashion-mnist/train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "gnn-benchmark/citeseer.npz": "280278b21b434c047922e8389518861416fb3ad39389c27865ff0e6bbb0aaab7",
    "gnn-benchmark/cora.npz": "068e22d90c3849b4057dfb05851741428992af058efcd4e7ebb4186f3d581de2",
    "ml-100k/README": "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52",
    "ml-100k/u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "ml-100k/u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
    "ml-100k/u.info": "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b",
    "ml-100k/u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
    "ml-100k/u.occupation": "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d",
    "ml-100k/u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
    "ml-100k/u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
    "ml-100k/u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
    "ml-100k/u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
    "ml-100k/u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
    "ml-100k/u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
    "ml-100k/u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
    "ml-100k/u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
    "ml-100k/u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
    "ml-100k/u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
    "ml-100k/u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
    "ml-100k/ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
    "ml-100k/ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
    "ml-100k/ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
    "ml-100k/ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
    "mnist/t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "mnist/t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "mnist/train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "mnist/train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "planetoid/ind.citeseer.allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
    "planetoid/ind.citeseer.ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
    "planetoid/ind.citeseer.graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
    "planetoid/ind.citeseer.test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",
    "planetoid/ind.citeseer.tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
    "planetoid/ind.citeseer.ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
    "planetoid/ind.citeseer.x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
    "planetoid/ind.citeseer.y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
    "planetoid/ind.cora.allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
    "planetoid/ind.cora.ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
    "planetoid/ind.cora.graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
    "planetoid/ind.cora.test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    "planetoid/ind.cora.tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
    "planetoid/ind.cora.ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
    "planetoid/ind.cora.x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
    "planetoid/ind.cora.y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
    "proteomics/proteusLabelFree/metadata.txt": "1ee52ca8aa6d5a3a9f45cafcde94bd6928c6a6430ccd6d8c94a21a0e839a4ae3",
    "proteomics/proteusLabelFree/proteinGroups.txt.gz": "56a95d36b93da6069079bee123ba7dabf91dae622055e0de5a1908f8c3a95d4d",
    "temporal/CollegeMsg/CollegeMsg.txt": "e00ba2415373dee52c00616065bcceaa4750e78de60d1855c76470600f10740f",
    "tinyshakespeare/input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
}

# Files not in the shared data folder, so no sha256 could be taken here: each is pinned by its
# git blob id (sha1 of b"blob <size>\0" + content, what `git hash-object` prints) in the
# official repository the SOURCES entry names (tkipf/gcn gcn/data/, shchur/gnn-benchmark
# data/npz/). The same ids match the shared copies of the Cora / CiteSeer files of those repos.
GIT_BLOB_SHA1 = {
    "planetoid/ind.pubmed.allx": "3b86bccf08111c37c632a9dd8ab63db25ea76361",
    "planetoid/ind.pubmed.ally": "4c8bcdc80882dd225fe4dd4fafd723baa616ac97",
    "planetoid/ind.pubmed.graph": "76eb87e628a6b9d43fc31ea42c8c6c8f3e52b404",
    "planetoid/ind.pubmed.test.index": "41f6befcb7750cc4858cb852f2b349a9598cb2f4",
    "planetoid/ind.pubmed.tx": "eee4f3c988fde0da87a9ec7b01ca5e7863c1b1f1",
    "planetoid/ind.pubmed.ty": "225a0bb9bb6430e3925d04688daf6a0da964c07a",
    "planetoid/ind.pubmed.x": "16c0eca8d2b3297014ff80327416f9332eda10d7",
    "planetoid/ind.pubmed.y": "e86670576c85340eeb2271b3c918bfa89322b2cf",
    "gnn-benchmark/amazon_electronics_computers.npz": "8120e4148a330b3fafe37c4476823302d9d834b9",
    "gnn-benchmark/amazon_electronics_photo.npz": "97323743cb56aca9dd611f5b4b46862c1c9c6bd9",
}

# Where each folder's files officially come from, keyed by the first path component
# (or the first two for nested folders). Shown in every missing/corrupt-file error.
SOURCES = {
    "mnist": (
        "the four official MNIST idx .gz files from Yann LeCun's MNIST page "
        "(yann.lecun.com/exdb/mnist), or TensorFlow's mirror "
        "storage.googleapis.com/cvdf-datasets/mnist/ (byte-identical)"),
    "fashion-mnist": (
        "the four official Fashion-MNIST idx .gz files from GitHub "
        "zalandoresearch/fashion-mnist, folder data/fashion/"),
    "cifar10": (
        "cifar10_subset.npz, the first 4000 training and 1000 test images of the "
        "official CIFAR-10 python batches (www.cs.toronto.edu/~kriz/cifar.html), "
        "saved with numpy.savez_compressed under keys x_train, y_train, x_test, "
        "y_test, label_names; it ships with the project's shared data folder"),
    "planetoid": (
        "the Planetoid files ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index} from "
        "GitHub tkipf/gcn, folder gcn/data/ (also kimiyoung/planetoid, folder data/)"),
    "gnn-benchmark": (
        "the npz files of GitHub shchur/gnn-benchmark, folder data/npz/"),
    "ml-100k": (
        "GroupLens' MovieLens 100K archive ml-100k.zip "
        "(grouplens.org/datasets/movielens/100k/), unzipped so that the files sit "
        "in ml-100k/"),
    "tinyshakespeare": (
        "input.txt of GitHub karpathy/char-rnn, folder data/tinyshakespeare/"),
    "temporal/CollegeMsg": (
        "SNAP's CollegeMsg.txt.gz (snap.stanford.edu/data/CollegeMsg.html), "
        "gunzipped to CollegeMsg.txt"),
    "proteomics/proteusLabelFree": (
        "proteinGroups.txt.gz and metadata.txt of GitHub bartongroup/proteusLabelFree, "
        "folder inst/extdata/"),
}

# Folders whose datasets TFDS also provides (get_dataset(..., source="tfds")).
TFDS_NAMES = {"mnist": "mnist", "fashion-mnist": "fashion_mnist", "cifar10": "cifar10"}

_hash_cache = {}
_hash_lock = threading.Lock()


def source_hint(relpath):
  """Returns a sentence saying where the file at `relpath` comes from."""
  parts = pathlib.PurePosixPath(relpath).parts
  folder = "/".join(parts[:2]) if "/".join(parts[:2]) in SOURCES else parts[0]
  hint = f"Get it from {SOURCES.get(folder, 'the dataset authors')}."
  if folder in TFDS_NAMES:
    hint += (f" With internet access you can instead use TFDS: "
             f"get_dataset({TFDS_NAMES[folder]!r}, source='tfds').")
  return hint


def sha256_file(path):
  """Returns the hex sha256 of `path`, cached per (path, size, mtime) in-process."""
  st = os.stat(path)
  key = (os.fspath(path), st.st_size, st.st_mtime_ns)
  with _hash_lock:
    if key in _hash_cache:
      return _hash_cache[key]
  with open(path, "rb") as f:
    digest = hashlib.file_digest(f, "sha256").hexdigest()
  with _hash_lock:
    _hash_cache[key] = digest
  return digest


def git_blob_sha1(path):
  """The git blob id of the file at `path` (as `git hash-object`), cached like `sha256_file`."""
  st = os.stat(path)
  key = ("git-blob", os.fspath(path), st.st_size, st.st_mtime_ns)
  with _hash_lock:
    if key in _hash_cache:
      return _hash_cache[key]
  h = hashlib.sha1(b"blob %d\0" % st.st_size)
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  digest = h.hexdigest()
  with _hash_lock:
    _hash_cache[key] = digest
  return digest


def missing_file_error(path, relpath):
  """Builds the `MissingDataError` for a data file that does not exist."""
  path = pathlib.Path(path)
  env = os.environ.get(ENV_VAR)
  env_text = f"${ENV_VAR}={env}" if env else f"${ENV_VAR} is not set"
  return errors.MissingDataError(
      f"Data file not found: {path}\n"
      f"  jaxlab reads data from the folder given by data_dir=..., else ${ENV_VAR}, "
      f"else ~/jaxlab_data ({env_text}); this file must be at "
      f"<data folder>/{relpath}.\n"
      f"  {source_hint(relpath)}")


def verify(path, relpath):
  """Checks that the file at `path` has the expected sha256 of `relpath`.

  Args:
    path: the file on disk.
    relpath: its key in `SHA256` or `GIT_BLOB_SHA1`, e.g. "mnist/train-images-idx3-ubyte.gz".

  Raises:
    MissingDataError: the file does not exist.
    CorruptDataError: its sha256 differs from the expected one.
    KeyError: `relpath` is not a file jaxlab knows.
  """
  if relpath not in SHA256 and relpath not in GIT_BLOB_SHA1:
    raise KeyError(f"No checksum is registered for {relpath!r}; known files: "
                   f"{', '.join(sorted({**SHA256, **GIT_BLOB_SHA1}))}")
  path = pathlib.Path(path)
  if not path.is_file():
    raise missing_file_error(path, relpath)
  if relpath in SHA256:
    kind, actual, expected = "sha256", sha256_file(path), SHA256[relpath]
  else:
    kind, actual, expected = "git blob id", git_blob_sha1(path), GIT_BLOB_SHA1[relpath]
  if actual != expected:
    raise errors.CorruptDataError(
        f"Data file {path} is corrupt or not the expected version: its {kind} is "
        f"{actual}, expected {expected}.\n"
        f"  Delete it and obtain it again. {source_hint(relpath)}\n"
        f"  (To read it anyway, at your own risk, pass verify=False.)")
