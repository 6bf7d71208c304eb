"""Official FP checkpoints without torch: both torch.save formats written here byte by byte (an
independent writer), the name/layout map back to the exact flax variables, the refusals (foreign
globals, truncation, wrong architecture, SAME padding), and the torch padding of the convs."""

import functools
import hashlib
import pathlib
import pickle
import struct
import zipfile

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import traverse_util

from jaxlab.configs import load_config
from jaxlab.projects.fsg_bnn import checkpoint as fckpt
from jaxlab.projects.fsg_bnn import method as fm
from jaxlab.projects.fsg_bnn import model as fmodel
from jaxlab.projects.fsg_bnn import train as ftrain

MINI = str(pathlib.Path(__file__).resolve().parents[3] / "configs/fsg_bnn/mini.py")

KEY = jax.random.PRNGKey(0)


def _str(s):
  b = s.encode()
  return b"X" + struct.pack("<I", len(b)) + b


def _int(i):
  return b"J" + struct.pack("<i", i)


def _tuple(items):
  return b"(" + b"".join(items) + b"t"


def _global(mod, name):
  return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


def _state_dict_pickle(sd):
  """Protocol-2 opcodes of OrderedDict{name: torch tensor}, as torch.save writes them."""
  out = b"\x80\x02" + _global("collections", "OrderedDict") + b")R("
  keys = []
  for i, (name, arr) in enumerate(sd.items()):
    key = str(1000 + i)
    keys.append(key)
    storage = {np.float32: "FloatStorage", np.int64: "LongStorage"}[arr.dtype.type]
    pid = _tuple([_str("storage"), _global("torch", storage), _str(key), _str("cpu"),
                  _int(arr.size)]) + b"Q"
    strides = [int(s // arr.itemsize) for s in arr.strides]
    backward_hooks = _global("collections", "OrderedDict") + b")R"
    tensor = (_global("torch._utils", "_rebuild_tensor_v2") +
              _tuple([pid, _int(0), _tuple([_int(n) for n in arr.shape]),
                      _tuple([_int(s) for s in strides]), b"\x89", backward_hooks]) + b"R")
    out += _str(name) + tensor
  return out + b"u.", keys


def write_torch(path, sd, fmt="legacy"):
  sd = {k: np.ascontiguousarray(v) for k, v in sd.items()}
  body, keys = _state_dict_pickle(sd)
  if fmt == "zip":
    with zipfile.ZipFile(path, "w") as z:
      z.writestr("archive/data.pkl", body)
      for key, arr in zip(keys, sd.values()):
        z.writestr(f"archive/data/{key}", arr.tobytes())
    return
  with open(path, "wb") as f:
    for header in (0x1950A86A20F9469CFC6C, 1001,
                   {"protocol_version": 1001, "little_endian": True,
                    "type_sizes": {"short": 2, "int": 4, "long": 4}}):
      f.write(pickle.dumps(header, protocol=2))
    f.write(body)
    f.write(pickle.dumps(keys, protocol=2))
    for arr in sd.values():
      f.write(struct.pack("<q", arr.size) + arr.tobytes())


@functools.lru_cache(maxsize=None)   # read-only results; the init is the slow part
def small_model():
  m = fmodel.BinaryResNet(widths=(4, 8), blocks=2, stem=4, num_classes=3, conv_padding="torch")
  v = jax.jit(functools.partial(m.init, train=False))(KEY, jnp.zeros((1, 8, 8, 3)))
  # Random BN statistics and non-trivial scales, so that every entry is checked.
  flat_p = traverse_util.flatten_dict(v["params"], sep="/")
  flat_s = traverse_util.flatten_dict(v["batch_stats"], sep="/")
  ks = iter(jax.random.split(KEY, len(flat_p) + len(flat_s)))
  flat_p = {k: np.asarray(a + 0.1 * jax.random.normal(next(ks), a.shape)) for k, a in flat_p.items()}
  flat_s = {k: np.asarray(jax.random.uniform(next(ks), a.shape, minval=0.5, maxval=1.5))
            for k, a in flat_s.items()}
  return m, flat_p, flat_s, v


def to_torch_names(flat_p, flat_s):
  """The inverse map, written out independently: flax names/layouts -> the code's state dict."""
  sd = {}
  for k, a in {**flat_p, **flat_s}.items():
    layer, leaf = k.rsplit("/", 1)
    if layer.startswith("bn_final"):
      continue   # not in the shipped files
    if layer.startswith("stage"):
      stage, block = layer.split("/")[0][5:].split("_block")
      sub = layer.split("/")[1]
      sub = {"proj_conv": "downsample.0", "proj_bn": "downsample.1"}.get(sub, sub)
      tname = f"layer{stage}.{int(block) - 1}.{sub}"
    else:
      tname = layer
    if leaf == "kernel":
      sd[f"{tname}.weight"] = a.transpose(3, 2, 0, 1) if a.ndim == 4 else a.T
    elif leaf == "scale":
      sd[f"{tname}.weight"] = a
    elif leaf in ("mean", "var"):
      sd[f"{tname}.running_{leaf}"] = a
      if leaf == "var":
        sd[f"{tname}.num_batches_tracked"] = np.array(7, np.int64)
    else:
      sd[f"{tname}.bias"] = a
  return sd


@pytest.mark.parametrize("fmt", ["legacy", "zip"])
def test_round_trip_gives_the_exact_variables(tmp_path, fmt):
  m, flat_p, flat_s, template = small_model()
  sd = to_torch_names(flat_p, flat_s)
  assert "layer2.0.downsample.0.weight" in sd and sd["conv1.weight"].shape == (4, 3, 3, 3)
  path = tmp_path / f"net.{fmt}.pth"
  write_torch(path, sd, fmt)
  read = fckpt.read_torch_state_dict(path)
  assert list(read) == list(sd)
  for k in sd:
    np.testing.assert_array_equal(read[k], sd[k])
  v = fckpt.state_dict_to_variables(read, template)
  got_p = traverse_util.flatten_dict(v["params"], sep="/")
  got_s = traverse_util.flatten_dict(v["batch_stats"], sep="/")
  assert set(got_p) == set(flat_p) and set(got_s) == set(flat_s)
  for k in flat_p:
    if k.startswith("bn_final/"):   # torch's BatchNorm init, as strict=False leaves it
      np.testing.assert_array_equal(got_p[k], 1.0 if k.endswith("scale") else 0.0)
    else:
      np.testing.assert_array_equal(got_p[k], flat_p[k])
  for k in flat_s:
    if k.startswith("bn_final/"):
      np.testing.assert_array_equal(got_s[k], 1.0 if k.endswith("var") else 0.0)
    else:
      np.testing.assert_array_equal(got_s[k], flat_s[k])
  # The loaded net runs and gives finite logits.
  out = m.apply(v, jnp.ones((2, 8, 8, 3)), train=False)
  assert out.shape == (2, 3) and bool(jnp.isfinite(out).all())


def test_module_prefix_and_wrapped_state_dict(tmp_path):
  _, flat_p, flat_s, _ = small_model()
  sd = {f"module.{k}": v for k, v in to_torch_names(flat_p, flat_s).items()}
  path = tmp_path / "dp.pth"
  write_torch(path, sd)
  assert all(not k.startswith("module.") for k in fckpt.read_torch_state_dict(path))


def test_refuses_foreign_globals_truncation_and_wrong_architecture(tmp_path):
  bad = tmp_path / "bad.pth"
  with open(bad, "wb") as f:
    f.write(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps({"little_endian": True}, protocol=2)
            + b"\x80\x02" + _global("os", "system") + _tuple([_str("true")]) + b"R.")
  with pytest.raises(fckpt.CheckpointError, match="os.system"):
    fckpt.read_torch_state_dict(bad)
  _, flat_p, flat_s, _ = small_model()
  sd = to_torch_names(flat_p, flat_s)
  good = tmp_path / "good.pth"
  write_torch(good, sd)
  cut = tmp_path / "cut.pth"
  cut.write_bytes(good.read_bytes()[:-40])
  with pytest.raises(fckpt.CheckpointError, match="truncated"):
    fckpt.read_torch_state_dict(cut)
  with pytest.raises(FileNotFoundError, match="does not exist"):
    fckpt.read_torch_state_dict(tmp_path / "missing.pth")
  other = fmodel.BinaryResNet(widths=(4, 16), blocks=2, stem=4, num_classes=3)
  template = jax.eval_shape(functools.partial(other.init, train=False), KEY,
                            jnp.zeros((1, 8, 8, 3)))
  with pytest.raises(fckpt.CheckpointError, match="has shape"):
    fckpt.state_dict_to_variables(sd, template)
  deeper = fmodel.BinaryResNet(widths=(4, 8), blocks=3, stem=4, num_classes=3)
  with pytest.raises(fckpt.CheckpointError, match="no entry"):
    fckpt.state_dict_to_variables(sd, jax.eval_shape(functools.partial(deeper.init, train=False),
                                                     KEY, jnp.zeros((1, 8, 8, 3))))


def test_torch_padding_is_symmetric_and_differs_from_same_only_at_stride_2():
  """conv_padding='torch' is nn.Conv2d(padding=1): checked against a direct numpy convolution
  with one zero pixel on every side, at stride 1 and 2."""
  x = np.asarray(jax.random.normal(KEY, (1, 6, 6, 2)), np.float64)
  for stride in (1, 2):
    outs = {}
    for pad in ("torch", "same"):
      conv = fmodel.nn.Conv(3, (3, 3), (stride, stride), use_bias=False,
                            padding=fmodel._pad(pad, 3))
      v = conv.init(KEY, jnp.asarray(x, jnp.float32))
      outs[pad] = np.asarray(conv.apply(v, jnp.asarray(x, jnp.float32)))
    k = np.asarray(v["params"]["kernel"], np.float64)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    n = (6 + 2 - 3) // stride + 1
    ref = np.zeros((1, n, n, 3))
    for i in range(n):
      for j in range(n):
        patch = xp[0, i * stride:i * stride + 3, j * stride:j * stride + 3]
        ref[0, i, j] = np.einsum("hwc,hwco->o", patch, k)
    np.testing.assert_allclose(outs["torch"], ref, rtol=1e-5, atol=1e-5)
    assert np.allclose(outs["torch"], outs["same"], atol=1e-6) == (stride == 1)
  with pytest.raises(ValueError, match="conv_padding"):
    fmodel.create_model(ml_collections.ConfigDict(
        {"widths": (4,), "blocks": 1, "stem": 4, "conv_padding": "reflect"}), 10, 32)


def test_training_starts_from_the_checkpoint(tmp_path, data_dir, monkeypatch):
  """pretrain.checkpoint: every estimator starts from the file's weights (the run's step-0 test
  accuracy is that of the loaded net), the run records the file's digest, and a model with
  SAME padding refuses the file instead of loading it into the wrong architecture."""
  monkeypatch.setenv("JAXLAB_DATA", str(data_dir))
  base = "smoke,methods=('ste',),model.conv_padding='torch',eval.bn_recalibrate=0"
  prob = ftrain.Problem(load_config(MINI, base))
  v = prob.init_variables(5)   # not the seed-0 init the run would otherwise start from
  flat_p = {k: np.asarray(a) for k, a in traverse_util.flatten_dict(v["params"], sep="/").items()}
  flat_s = {k: np.asarray(a) for k, a in traverse_util.flatten_dict(v["batch_stats"], sep="/").items()}
  path = tmp_path / "fp.pth"
  write_torch(path, to_torch_names(flat_p, flat_s))
  cfg = load_config(MINI, base + f",pretrain.checkpoint='{path}'")
  res = ftrain.train_and_evaluate(cfg, tmp_path / "run")
  assert res["pretrain"][0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
  loaded = fckpt.state_dict_to_variables(fckpt.read_torch_state_dict(path),
                                         {"params": v["params"], "batch_stats": v["batch_stats"]})
  w, r = fmodel.split_params(loaded["params"], prob.fp_layers)
  ev = prob.evaluate(fm.make_eval_fn(prob.apply_eval, 1), w, r, loaded["batch_stats"])
  assert res["runs"]["ste"]["0"]["init_test_accuracy"] == ev["accuracy"]
  with pytest.raises(fckpt.CheckpointError, match="conv_padding='torch'"):
    ftrain.train_and_evaluate(load_config(MINI, f"smoke,methods=('ste',),pretrain.checkpoint='{path}'"),
                              tmp_path / "same")
  with pytest.raises(ValueError, match="norm_stats"):
    ftrain.Problem(load_config(MINI, "smoke,data.norm_stats='imagenet'"))
