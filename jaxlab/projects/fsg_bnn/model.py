"""Binary CIFAR-style ResNets for FSG: `BinaryResNet` and the split into quantised weights / rest.

The module itself is a plain full-precision flax ResNet (conv kernels and the fc kernel are
ordinary params). Weight quantisation happens *outside* the module: `split_params` takes every
conv/fc `kernel` out of the param tree, the estimator quantises it (W -> W_q), and
`merge_params` puts W_q back before `model.apply`. That makes W_q an explicit input of the
network, so the step can take dL/dW_q (the "quantized grads" the FSG hook saves) directly.

Activations: `act_bits = 32` is the standard ResNet with ReLU (the paper's W1A32). With
`act_bits = 1` every conv input except the image stem goes through `ste_sign` (clipped STE) and
the ReLUs are dropped (a Bi-Real/XNOR-style residual stream: out = BN(conv(sign(x))) + x);
the stem sees the real image and the fc sees the real BN'd pooled features.

Layout ("ResNet-8-lite" for the mini runs): conv3x3(w0) - BN - stages of `blocks` basic blocks with
widths `widths`, strides 1/2/2, 1x1 conv + BN projection where the shape changes -
global average pool - BN - fc. ResNet-20 is widths (16, 32, 64), blocks 3, stem 16.

Padding: `conv_padding="same"` is flax's SAME, which pads a stride-2 3x3 conv by 0 before and 1
after; `"torch"` pads every 3x3 conv by one pixel on each side (and 1x1 convs not at all), as
the code's nn.Conv2d(padding=1). The two differ only at stride 2 (a one-pixel shift of the
sampling grid). The official checkpoints need "torch" (`checkpoint.py`); the mini runs were
measured with "same".
"""

from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
from flax import traverse_util

from jaxlab.ops.ste import quantize_activation

_conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")
BN_MOMENTUM = 0.9
PADDINGS = ("same", "torch")


def _pad(kind: str, kernel: int):
  if kind not in PADDINGS:
    raise ValueError(f"model.conv_padding must be one of {PADDINGS}, got {kind!r}")
  return "SAME" if kind == "same" else [(kernel // 2, kernel // 2)] * 2


class BinaryBlock(nn.Module):
  features: int
  strides: int = 1
  act_bits: int = 32
  conv_padding: str = "same"

  @nn.compact
  def __call__(self, x, *, train: bool):
    conv = functools.partial(nn.Conv, use_bias=False, kernel_init=_conv_init)
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=BN_MOMENTUM,
                             epsilon=1e-5)
    q = functools.partial(quantize_activation, bits=self.act_bits)
    act = nn.relu if self.act_bits == 32 else (lambda v: v)
    s = (self.strides, self.strides)
    p3, p1 = _pad(self.conv_padding, 3), _pad(self.conv_padding, 1)
    y = conv(self.features, (3, 3), s, padding=p3, name="conv1")(q(x))
    y = act(norm(name="bn1")(y))
    y = conv(self.features, (3, 3), padding=p3, name="conv2")(q(y))
    y = norm(name="bn2")(y)
    if x.shape[-1] != self.features or self.strides != 1:
      x = conv(self.features, (1, 1), s, padding=p1, name="proj_conv")(q(x))
      x = norm(name="proj_bn")(x)
    return act(x + y)


class BinaryResNet(nn.Module):
  """CIFAR-style ResNet whose conv/fc kernels are meant to be binarised from outside."""
  widths: Sequence[int] = (8, 16, 32)
  blocks: int = 1
  stem: int = 8
  num_classes: int = 10
  act_bits: int = 32
  conv_padding: str = "same"

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    if x.ndim != 4:
      raise ValueError(f"BinaryResNet expects images [B, H, W, C], got shape {x.shape}")
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=BN_MOMENTUM,
                             epsilon=1e-5)
    x = nn.Conv(self.stem, (3, 3), use_bias=False, kernel_init=_conv_init,
                padding=_pad(self.conv_padding, 3), name="conv1")(x)
    x = norm(name="bn1")(x)
    x = nn.relu(x) if self.act_bits == 32 else x
    for i, w in enumerate(self.widths):
      for j in range(self.blocks):
        stride = 2 if (i > 0 and j == 0) else 1
        x = BinaryBlock(w, stride, self.act_bits, self.conv_padding,
                        name=f"stage{i + 1}_block{j + 1}")(x, train=train)
    x = x.mean(axis=(1, 2))
    x = norm(name="bn_final")(x)
    return nn.Dense(self.num_classes, name="fc")(x)


def create_model(model_cfg, num_classes: int, act_bits: int) -> BinaryResNet:
  padding = model_cfg.get("conv_padding", "same")
  _pad(padding, 3)   # a bad value fails here, before any data or training
  return BinaryResNet(widths=tuple(model_cfg.widths), blocks=int(model_cfg.blocks),
                      stem=int(model_cfg.stem), num_classes=num_classes, act_bits=act_bits,
                      conv_padding=padding)


def is_quantised(path: tuple, fp_layers: Sequence[str] = ()) -> bool:
  """Conv and fc kernels are binarised, except those of the layers named in `fp_layers` (e.g.
  ("conv1", "fc"): the stem and classifier kept full precision); BN scale/bias and the fc bias
  always stay full precision."""
  return path[-1] == "kernel" and "/".join(path[:-1]) not in tuple(fp_layers)


def split_params(params, fp_layers: Sequence[str] = ()) -> tuple[dict, dict]:
  """params -> (binarised weights {'stage1_block1/conv1/kernel': W, ...} in a fixed sorted order,
  the rest (BN, biases, full-precision kernels of `fp_layers`) as a flat dict)."""
  flat = traverse_util.flatten_dict(params)
  names = {"/".join(k[:-1]) for k in flat if k[-1] == "kernel"}
  unknown = [n for n in fp_layers if n not in names]
  if unknown:
    raise ValueError(f"quant.fp_layers names {unknown} that are not layers of the model; "
                     f"valid: {sorted(names)}")
  weights = {"/".join(k): v for k, v in sorted(flat.items()) if is_quantised(k, fp_layers)}
  rest = {"/".join(k): v for k, v in sorted(flat.items()) if not is_quantised(k, fp_layers)}
  if not weights:
    raise ValueError("no conv/fc kernels left to binarise (check quant.fp_layers)")
  return weights, rest


def merge_params(weights: dict, rest: dict):
  flat = {tuple(k.split("/")): v for k, v in {**weights, **rest}.items()}
  return traverse_util.unflatten_dict(flat)


def count_weights(weights: dict) -> int:
  return int(sum(w.size for w in jax.tree.leaves(weights)))
