"""PyTorch twins of the jaxlab.nn models that `scripts/bench_step.py` times.

Each class mirrors one registered jaxlab model layer for layer (same widths,
biases, norms, activations, dropout, tied weights), so the parameter counts
are equal; `scripts/bench_step.py` asserts that. Initialisation is PyTorch's
default except where it changes nothing about speed. Layout differences are
the idiomatic ones of each framework: images are NCHW here, NHWC in flax.

  CifarResNet     <- get_model('resnet', 'resnet20')            (jaxlab/nn/resnet.py)
  ViT             <- get_model('vit', 'cifar_small')            (jaxlab/nn/vit.py)
  TransformerLM   <- get_model('transformer_lm', 'char_small')  (jaxlab/nn/transformer.py)
  GCN             <- get_model('gcn', 'kipf')                   (jaxlab/nn/gnn.py; PyG GCNConv)

Attention uses `F.scaled_dot_product_attention` (the idiomatic PyTorch path) by
default, or the written-out softmax(QK^T/sqrt(d))V that jaxlab uses
(`attn_impl='manual'`); the math is the same.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def num_params(module: nn.Module) -> int:
  return sum(p.numel() for p in module.parameters())


def _attention(q, k, v, *, causal: bool, dropout_p: float, impl: str):
  """q, k, v: [B, H, T, Dh] -> [B, H, T, Dh]."""
  if impl == 'sdpa':
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p,
                                          is_causal=causal)
  if impl != 'manual':
    raise ValueError(f"attn_impl must be 'sdpa' or 'manual', got {impl!r}")
  logits = (q / math.sqrt(q.shape[-1])) @ k.transpose(-2, -1)
  if causal:
    t = q.shape[-2]
    mask = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    logits = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
  probs = logits.softmax(-1)
  if dropout_p:
    probs = F.dropout(probs, dropout_p)
  return probs @ v


# ----------------------------------------------------------------- ResNet-20


class BasicBlock(nn.Module):
  """conv3x3-BN-ReLU-conv3x3-BN + shortcut (1x1 conv + BN projection when the shape changes)."""

  def __init__(self, cin: int, cout: int, stride: int):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
    self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
    self.proj = None
    if cin != cout or stride != 1:
      self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                                nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))

  def forward(self, x):
    y = F.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    if self.proj is not None:
      x = self.proj(x)
    return F.relu(x + y)


class CifarResNet(nn.Module):
  """ResNet-(6n+2), option-B projection shortcuts (as jaxlab's CifarResNet).

  flax BatchNorm momentum 0.9 is PyTorch momentum 0.1. Input: `[B, 3, H, W]`.
  """

  def __init__(self, depth: int = 20, width: int = 16, num_classes: int = 10):
    super().__init__()
    if (depth - 2) % 6 or depth < 8:
      raise ValueError(f'depth must be 6n + 2, got {depth}')
    n = (depth - 2) // 6
    self.stem_conv = nn.Conv2d(3, width, 3, 1, 1, bias=False)
    self.stem_bn = nn.BatchNorm2d(width, eps=1e-5, momentum=0.1)
    blocks, cin = [], width
    for stage in range(3):
      cout = width * 2**stage
      for b in range(n):
        blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
        cin = cout
    self.blocks = nn.Sequential(*blocks)
    self.head = nn.Linear(cin, num_classes)
    for m in self.modules():
      if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

  def forward(self, x):
    x = F.relu(self.stem_bn(self.stem_conv(x)))
    x = self.blocks(x)
    return self.head(x.mean(dim=(2, 3)))


# ----------------------------------------------------------------------- ViT


class ViTAttention(nn.Module):

  def __init__(self, d: int, heads: int, attn_impl: str):
    super().__init__()
    self.heads, self.attn_impl = heads, attn_impl
    self.query, self.key, self.value, self.out = (nn.Linear(d, d) for _ in range(4))

  def forward(self, x):
    b, t, d = x.shape
    split = lambda y: y.view(b, t, self.heads, -1).transpose(1, 2)
    q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
    y = _attention(q, k, v, causal=False, dropout_p=0.0, impl=self.attn_impl)
    return self.out(y.transpose(1, 2).reshape(b, t, d))


class ViTBlock(nn.Module):
  """Pre-LN: x + attn(ln1(x)); x + fc2(gelu_erf(fc1(ln2(x))))."""

  def __init__(self, d: int, heads: int, mlp_dim: int, eps: float, attn_impl: str):
    super().__init__()
    self.ln1 = nn.LayerNorm(d, eps=eps)
    self.attn = ViTAttention(d, heads, attn_impl)
    self.ln2 = nn.LayerNorm(d, eps=eps)
    self.fc1 = nn.Linear(d, mlp_dim)
    self.fc2 = nn.Linear(mlp_dim, d)

  def forward(self, x):
    x = x + self.attn(self.ln1(x))
    return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class ViT(nn.Module):
  """ViT with class token, learned position embedding (added after the cls token)."""

  def __init__(self, image_size: int = 32, patch_size: int = 4, hidden_size: int = 192,
               depth: int = 6, num_heads: int = 3, mlp_dim: int = 384, num_classes: int = 10,
               layer_norm_eps: float = 1e-6, attn_impl: str = 'sdpa'):
    super().__init__()
    n = (image_size // patch_size)**2
    self.embedding = nn.Conv2d(3, hidden_size, patch_size, patch_size)
    self.cls = nn.Parameter(torch.zeros(1, 1, hidden_size))
    self.pos_embedding = nn.Parameter(torch.randn(1, n + 1, hidden_size) * 0.02)
    self.blocks = nn.Sequential(*[
        ViTBlock(hidden_size, num_heads, mlp_dim, layer_norm_eps, attn_impl)
        for _ in range(depth)])
    self.encoder_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
    self.head = nn.Linear(hidden_size, num_classes)

  def forward(self, images):
    x = self.embedding(images).flatten(2).transpose(1, 2)  # [B, N, D]
    x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
    x = self.blocks(x + self.pos_embedding)
    return self.head(self.encoder_norm(x)[:, 0])


# ----------------------------------------------------------- Transformer LM


class CausalSelfAttention(nn.Module):

  def __init__(self, d: int, heads: int, dropout: float, attn_impl: str):
    super().__init__()
    self.heads, self.dropout, self.attn_impl = heads, dropout, attn_impl
    self.c_attn = nn.Linear(d, 3 * d)
    self.c_proj = nn.Linear(d, d)

  def forward(self, x):
    b, t, d = x.shape
    q, k, v = (y.view(b, t, self.heads, -1).transpose(1, 2)
               for y in self.c_attn(x).split(d, dim=-1))
    y = _attention(q, k, v, causal=True, impl=self.attn_impl,
                   dropout_p=self.dropout if self.training else 0.0)
    y = self.c_proj(y.transpose(1, 2).reshape(b, t, d))
    return F.dropout(y, self.dropout, self.training)


class LMBlock(nn.Module):
  """Pre-LN GPT-2 block with tanh-GELU MLP."""

  def __init__(self, d: int, heads: int, mlp_dim: int, dropout: float, eps: float,
               attn_impl: str):
    super().__init__()
    self.dropout = dropout
    self.ln_1 = nn.LayerNorm(d, eps=eps)
    self.attn = CausalSelfAttention(d, heads, dropout, attn_impl)
    self.ln_2 = nn.LayerNorm(d, eps=eps)
    self.c_fc = nn.Linear(d, mlp_dim)
    self.c_proj = nn.Linear(mlp_dim, d)

  def forward(self, x):
    x = x + self.attn(self.ln_1(x))
    h = self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate='tanh'))
    return x + F.dropout(h, self.dropout, self.training)


class TransformerLM(nn.Module):
  """GPT-2 layout: wte + wpe, dropout, pre-LN blocks, ln_f, logits tied to wte."""

  def __init__(self, vocab_size: int = 65, d_model: int = 256, num_layers: int = 6,
               num_heads: int = 4, mlp_dim: int = 1024, max_len: int = 128,
               dropout_rate: float = 0.1, layer_norm_eps: float = 1e-5,
               attn_impl: str = 'sdpa'):
    super().__init__()
    self.dropout = dropout_rate
    self.wte = nn.Embedding(vocab_size, d_model)
    self.wpe = nn.Embedding(max_len, d_model)
    self.h = nn.Sequential(*[
        LMBlock(d_model, num_heads, mlp_dim, dropout_rate, layer_norm_eps, attn_impl)
        for _ in range(num_layers)])
    self.ln_f = nn.LayerNorm(d_model, eps=layer_norm_eps)
    for p in self.parameters():
      if p.dim() > 1:
        nn.init.normal_(p, std=0.02)

  def forward(self, tokens):
    t = tokens.shape[1]
    pos = torch.arange(t, device=tokens.device)
    x = F.dropout(self.wte(tokens) + self.wpe(pos)[None], self.dropout, self.training)
    x = self.ln_f(self.h(x))
    return x @ self.wte.weight.t()


# ----------------------------------------------------------------------- GCN


class GCN(nn.Module):
  """Kipf & Welling: dropout -> GCNConv -> ReLU -> dropout -> GCNConv (PyG's GCNConv).

  GCNConv is `D^-1/2 (A + I) D^-1/2 X W + b` with the normalisation recomputed
  every call (cached=False), as jaxlab's GCNLayer does.
  """

  def __init__(self, in_features: int, hidden: int = 16, num_classes: int = 7,
               num_layers: int = 2, dropout: float = 0.5):
    super().__init__()
    from torch_geometric.nn import GCNConv  # pylint: disable=import-outside-toplevel
    dims = [in_features] + [hidden] * (num_layers - 1) + [num_classes]
    self.dropout = dropout
    self.convs = nn.ModuleList(GCNConv(a, b) for a, b in zip(dims[:-1], dims[1:]))

  def forward(self, x, edge_index):
    for i, conv in enumerate(self.convs):
      x = conv(F.dropout(x, self.dropout, self.training), edge_index)
      if i < len(self.convs) - 1:
        x = F.relu(x)
    return x
