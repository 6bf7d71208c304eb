"""The official FSG / MetaQuant full-precision checkpoints (`Results/<Model>-<Data>-pretrain.pth`)
as flax variables of `BinaryResNet`, without PyTorch.

The paper fine-tunes shipped FP ResNets; `pretrain.checkpoint=<path>` starts every estimator
from one of them instead of our own FP pretraining. `read_torch_state_dict` reads both of
torch.save's formats with a restricted unpickler: the legacy one the shipped files use (magic
number, protocol, sys info, the pickled state dict, storage keys, raw storages) and the zip one
(archive/data.pkl + archive/data/<key>). Only OrderedDict, torch.Size, the tensor-rebuild helper
and the typed storages are accepted; any other global in the pickle is refused, so a file that
would run code on torch.load fails here with an error instead.

Name map (the code's `ResNet_Cifar`, BasicBlock layout):
  conv1 / bn1                       -> conv1 / bn1
  layer{i}.{j}.conv{k} / .bn{k}     -> stage{i}_block{j+1}/conv{k} / bn{k}
  layer{i}.{j}.downsample.0 / .1    -> stage{i}_block{j+1}/proj_conv / proj_bn
  fc                                -> fc (kernel transposed)
Conv kernels go from torch's [O, I, kh, kw] to flax's [kh, kw, I, O]. The BatchNorm1d after the
average pool (`bn_final`, the code's bn2) is not in the shipped files; `load_state_dict(...,
strict=False)` leaves it at torch's init (scale 1, bias 0, mean 0, var 1), and so does this.
The shipped nets pad their 3x3 convs by one pixel on every side: load them into a model built
with `model.conv_padding="torch"` (flax's SAME pads stride-2 convs asymmetrically, which would
shift every stride-2 feature map by one pixel).
"""

from __future__ import annotations

import collections
import io
import pathlib
import pickle
import re
import struct
import zipfile

import numpy as np
from flax import traverse_util

_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class CheckpointError(ValueError):
  """A checkpoint that cannot be read or does not fit the model; the message says why."""


class _Tensor:
  """A tensor reference from the pickle: resolved to numpy once the storages are read."""

  def __init__(self, storage, offset, size, stride):
    self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
  return _Tensor(storage, storage_offset, size, stride)


class _Unpickler(pickle.Unpickler):
  """Accepts only what a state dict of plain tensors needs; records every storage it meets
  (`self.storages`: key -> dtype / numel) for the reader that fetches their bytes."""

  def __init__(self, f):
    super().__init__(f)
    self.storages = {}

  def find_class(self, module, name):
    if (module, name) == ("collections", "OrderedDict"):
      return collections.OrderedDict
    if (module, name) == ("torch", "Size"):
      return tuple
    if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
      return _rebuild_tensor
    if module == "torch" and name in _DTYPES:
      return name
    raise CheckpointError(f"checkpoint pickle refers to {module}.{name}, which a state dict of "
                          "plain tensors does not need; refusing to load it")

  def persistent_load(self, pid):
    # ('storage', storage type, key, location, numel[, view metadata])
    if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
      raise CheckpointError(f"unexpected persistent id {pid!r} in the checkpoint pickle")
    meta = {"dtype": _DTYPES[pid[1]] if isinstance(pid[1], str) else pid[1], "key": str(pid[2]),
            "numel": int(pid[4])}
    self.storages[meta["key"]] = meta
    return meta


def _materialise(obj, storages: dict):
  if isinstance(obj, _Tensor):
    st = obj.storage
    buf = storages[st["key"]]
    item = np.dtype(st["dtype"]).itemsize
    if not obj.size:
      return np.array(buf[obj.offset])
    need = obj.offset + 1 + sum((n - 1) * s for n, s in zip(obj.size, obj.stride))
    if need > buf.size:
      raise CheckpointError(f"a tensor of shape {obj.size} reads past its storage ({buf.size} "
                            "values): the file is truncated or corrupt")
    return np.lib.stride_tricks.as_strided(
        buf[obj.offset:], obj.size, tuple(s * item for s in obj.stride)).copy()
  if isinstance(obj, dict):
    return collections.OrderedDict((k, _materialise(v, storages)) for k, v in obj.items())
  return obj


def _read_legacy(f) -> dict:
  up = lambda: _Unpickler(f).load()
  if up() != _LEGACY_MAGIC:
    raise CheckpointError("not a torch.save file (bad magic number)")
  up()  # protocol version
  info = up()
  if not info.get("little_endian", True):
    raise CheckpointError("big-endian torch checkpoints are not supported")
  main = _Unpickler(f)
  obj, metas = main.load(), main.storages
  keys = up()
  storages = {}
  for key in keys:
    (numel,) = struct.unpack("<q", f.read(8))
    dtype = np.dtype(metas[key]["dtype"])
    raw = f.read(numel * dtype.itemsize)
    if len(raw) != numel * dtype.itemsize:
      raise CheckpointError(f"storage {key} is truncated ({len(raw)} of "
                            f"{numel * dtype.itemsize} bytes)")
    storages[key] = np.frombuffer(raw, dtype)
  return _materialise(obj, storages)


def _read_zip(path: pathlib.Path) -> dict:
  with zipfile.ZipFile(path) as z:
    names = z.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if not pkl:
      raise CheckpointError(f"{path}: zip checkpoint without data.pkl")
    root = pkl[0][:-len("data.pkl")]
    main = _Unpickler(io.BytesIO(z.read(pkl[0])))
    obj, metas = main.load(), main.storages
    storages = {k: np.frombuffer(z.read(f"{root}data/{k}"), np.dtype(m["dtype"]))
                for k, m in metas.items()}
  return _materialise(obj, storages)


def read_torch_state_dict(path) -> dict:
  """{name: np.ndarray} from a torch.save'd state dict (legacy or zip format), without torch."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"checkpoint {path} does not exist (the official FP checkpoints are "
                            "Results/<Model>-<Data>-pretrain.pth in the two-tiger/FSG repository)")
  try:
    if zipfile.is_zipfile(path):
      sd = _read_zip(path)
    else:
      with open(path, "rb") as f:
        sd = _read_legacy(f)
  except CheckpointError as e:
    raise CheckpointError(f"{path}: {e}") from None
  except (pickle.UnpicklingError, EOFError, struct.error, KeyError, zipfile.BadZipFile) as e:
    raise CheckpointError(f"{path}: cannot read this checkpoint ({type(e).__name__}: {e}); "
                          "is it a complete torch.save file?") from None
  if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
    sd = sd["state_dict"]   # {'state_dict': ..., 'epoch': ...} training checkpoints
  if not isinstance(sd, dict):
    raise CheckpointError(f"{path}: expected a state dict, found {type(sd).__name__}")
  return {k.removeprefix("module."): v for k, v in sd.items()}


def _flax_name(torch_prefix: str) -> str | None:
  if torch_prefix in ("conv1", "bn1", "fc"):
    return torch_prefix
  m = re.fullmatch(r"layer(\d+)\.(\d+)\.(conv\d|bn\d|downsample\.0|downsample\.1)", torch_prefix)
  if not m:
    return None
  sub = {"downsample.0": "proj_conv", "downsample.1": "proj_bn"}.get(m.group(3), m.group(3))
  return f"stage{m.group(1)}_block{int(m.group(2)) + 1}/{sub}"


def state_dict_to_variables(sd: dict, template: dict) -> dict:
  """Official ResNet state dict -> {'params', 'batch_stats'} shaped like `template` (from
  model.init). Every template entry except `bn_final` must be filled, with matching shapes."""
  params = traverse_util.flatten_dict(template["params"], sep="/")
  stats = traverse_util.flatten_dict(template.get("batch_stats", {}), sep="/")
  new_p, new_s, used = {}, {}, set()
  for key, v in sd.items():
    prefix, _, leaf = key.rpartition(".")
    name = _flax_name(prefix)
    if leaf == "num_batches_tracked" or name is None:
      continue
    if leaf == "weight" and f"{name}/kernel" in params:
      tgt, arr = f"{name}/kernel", (v.transpose(2, 3, 1, 0) if v.ndim == 4 else v.T)
      dest, ref = new_p, params
    elif leaf in ("weight", "bias") and f"{name}/scale" in params:
      tgt, arr, dest, ref = f"{name}/{'scale' if leaf == 'weight' else 'bias'}", v, new_p, params
    elif leaf == "bias" and f"{name}/bias" in params:
      tgt, arr, dest, ref = f"{name}/bias", v, new_p, params
    elif leaf in ("running_mean", "running_var") and f"{name}/mean" in stats:
      tgt, arr, dest, ref = f"{name}/{leaf[8:]}", v, new_s, stats
    else:
      raise CheckpointError(f"checkpoint entry {key!r} has no place in the model (looked for "
                            f"{name}/...); is it the same architecture (model.widths / blocks / "
                            "stem)?")
    if tuple(arr.shape) != tuple(ref[tgt].shape):
      raise CheckpointError(f"checkpoint entry {key!r} has shape {tuple(v.shape)}, the model's "
                            f"{tgt} needs {tuple(ref[tgt].shape)} (check model.widths / blocks / "
                            "stem and the number of classes)")
    dest[tgt] = np.asarray(arr, np.float32)
    used.add(tgt)
  # bn_final is absent from the shipped files: torch's BatchNorm init, as strict=False leaves it.
  for k, ref in list(params.items()) + list(stats.items()):
    if k in used:
      continue
    if not k.startswith("bn_final/"):
      raise CheckpointError(f"the checkpoint has no entry for the model's {k}; it does not "
                            "match this architecture")
    fill = {"scale": 1.0, "bias": 0.0, "mean": 0.0, "var": 1.0}[k.rpartition("/")[2]]
    (new_p if k in params else new_s)[k] = np.full(ref.shape, fill, np.float32)
  return {"params": traverse_util.unflatten_dict(new_p, sep="/"),
          "batch_stats": traverse_util.unflatten_dict(new_s, sep="/")}
