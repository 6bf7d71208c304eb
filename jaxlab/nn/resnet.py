"""CIFAR-style ResNet (He et al., "Deep Residual Learning for Image
Recognition", arXiv:1512.03385, section 4.2).

A 3x3 conv stem with `width` channels, three stages of `n` basic blocks with
`width`, `2 width` and `4 width` channels (16/32/64 for the paper's width 16),
the first block of stages 2 and 3 striding by 2, global average pooling and a
Dense head. Depth is `6n + 2`: ResNet-20 has n = 3.

Deviation from the paper: where a block changes shape, the shortcut is a 1x1
strided conv + BatchNorm projection (the paper's option B) instead of the
parameter-free option A (strided identity plus zero-padded channels). It adds
two 1x1 convs (ResNet-20: 272k parameters instead of 270k) and is what many
reimplementations and the ImageNet ResNets use.
"""

import functools
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

# He (fan-out) initialisation, as torchvision does for ResNet convs.
_conv_init = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


class BasicBlock(nn.Module):
  """Two 3x3 conv-BN layers with a residual connection.

  Submodules: `conv1`, `bn1`, `conv2`, `bn2` and, when the shape changes,
  `proj_conv`, `proj_bn`.
  """
  features: int
  strides: int = 1
  dtype: Any = jnp.float32
  bn_axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, x: Array, *, train: bool) -> Array:
    conv = functools.partial(nn.Conv, use_bias=False, dtype=self.dtype,
                             kernel_init=_conv_init)
    norm = functools.partial(nn.BatchNorm, use_running_average=not train,
                             momentum=0.9, epsilon=1e-5, dtype=self.dtype,
                             axis_name=self.bn_axis_name)
    s = (self.strides, self.strides)
    y = conv(self.features, (3, 3), s, name='conv1')(x)
    y = nn.relu(norm(name='bn1')(y))
    y = conv(self.features, (3, 3), name='conv2')(y)
    y = norm(name='bn2')(y)
    if x.shape[-1] != self.features or self.strides != 1:
      x = conv(self.features, (1, 1), s, name='proj_conv')(x)
      x = norm(name='proj_bn')(x)
    return nn.relu(x + y)


class CifarResNet(nn.Module):
  """ResNet-(6n+2) for 32x32 images.

  BatchNorm statistics live in the `batch_stats` collection: apply with
  `mutable=['batch_stats']` when `train=True`.

  Attributes:
    depth: 6n + 2 (8, 20, 32, 44, 56, 110).
    width: channels of the stem and first stage (16 in the paper).
    num_classes: logits of the head; None returns the pooled `[B, 4 width]`
      features instead (backbone for self-supervised projects).
    dtype: computation dtype; outputs are float32.
    bn_axis_name: mapped axis name for cross-device BatchNorm statistics.
  """
  depth: int = 20
  width: int = 16
  num_classes: Optional[int] = 10
  dtype: Any = jnp.float32
  bn_axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, x: Array, *, train: bool = False) -> Array:
    """`[B, H, W, C]` images -> `[B, num_classes]` logits."""
    if (self.depth - 2) % 6 or self.depth < 8:
      raise ValueError(f'depth must be 6n + 2 with n >= 1, got {self.depth}')
    n = (self.depth - 2) // 6
    x = x.astype(self.dtype)
    x = nn.Conv(self.width, (3, 3), use_bias=False, dtype=self.dtype,
                kernel_init=_conv_init, name='stem_conv')(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                     dtype=self.dtype, axis_name=self.bn_axis_name,
                     name='stem_bn')(x)
    x = nn.relu(x)
    for stage in range(3):
      for b in range(n):
        strides = 2 if stage > 0 and b == 0 else 1
        x = BasicBlock(self.width * 2**stage, strides, dtype=self.dtype,
                       bn_axis_name=self.bn_axis_name,
                       name=f'stage{stage + 1}_block{b + 1}')(x, train=train)
    x = jnp.mean(x, axis=(1, 2))
    if self.num_classes is None:
      return x.astype(jnp.float32)
    x = nn.Dense(self.num_classes, dtype=self.dtype, name='head')(x)
    return x.astype(jnp.float32)
