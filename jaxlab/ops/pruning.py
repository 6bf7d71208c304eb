"""Structured pruning of MLP hidden neurons: criteria, Taylor importance, masks, slicing, counting.

Shared by the MLP-pruning projects (AMP, DGMR, HFPrune) and usable on any model whose MLP hidden
activation can be multiplied by a per-block gate (`jaxlab.nn.ViT` and `TransformerLM` take
`mlp_gates`). Everything here is a pure function of arrays and pytrees; per-layer neuron counts
are Python ints, so every jitted function keeps static shapes.

The pieces, in the order a pruning run uses them:

* **Criteria** (scalars of a model output, float32): `prediction_entropy` (label-free entropy of
  the softmax over classes or tokens), `similarity_entropy` (AMP's image-only form: entropy of the
  softmax over cosine similarities to the other images of the batch, diagonal included),
  `cross_entropy` (the one-hot baseline).
* **Taylor importance** through gates instead of hooks. With a gate `g_l` multiplying block l's
  hidden activation `a_l`, `dE/dg_l = sum over the broadcast axes of a_l * dE/da_l` at `g = 1`.
  One `jax.grad` with respect to the tuple of gates gives every layer's first-order Taylor terms
  in one backward pass (`gate_gradients`). The gate shape picks the aggregation:
    - `[B, 1, H]` (per-sample): `c[b, j] = sum_n a[b,n,j] dE/da[b,n,j]`. AMP's `sample_abs`
      score is `mean_b |c[b, j]|` per batch, averaged over batches; `signed` is `mean_b c[b, j]`.
    - `[B, N, H]` (per-element): HFPrune's `element_abs` score is `sum_{b,n} |a dE/da|`, summed
      over batches.
  `taylor_scores` runs this over a calibration set with a jitted per-batch step and float32
  accumulation outside the step.
* **Other scores**: `magnitude_scores` (`||W1[j,:]|| * ||W2[:,j]||`), `fc1_norm_scores` (L2 of
  the fc1 row, DGMR's `l2` baseline), `random_scores`.
* **Selection**: `uniform_counts`, `global_counts` (one ranking across layers, ragged widths),
  `counts_for_param_reduction` (solve a uniform width for a target parameter reduction),
  `keep_indices` (top-k, sorted ascending), `keep_masks` (0/1 `[H_l]` masks: pass them as
  `mlp_gates` to evaluate a pruned model with the unpruned shapes), `binary_search_counts` (AMP's
  adaptive per-layer budget).
* **Slicing**: `mlp_layout` recognises dense (`fc1/fc2`, GPT-2 `c_fc/c_proj`), fused gated
  (`fc1` of width 2H holding the SiLU gate then the value half, DINOv2's `w12`) and split gated
  (`gate/up/down`, `gate_proj/up_proj/down_proj`, LLaMA) MLPs; `slice_mlp` keeps the given
  neurons of one MLP; `slice_mlps` does every block of a model and returns the per-block widths
  to build the smaller model with (`mlp_dim=widths`).
* **Counting**: `count_params`, `mlp_param_count`, `mlp_widths`, `vit_flops`, `lm_flops`.
* **Recovery losses**: `kl_distillation_loss` (label-free KL to the teacher's distribution) and
  `token_mse_loss` (AMP/DGMR feature distillation: MSE on the class token plus the patch tokens).

Flax Dense kernels are `[in, out]`, so "row j of W1" in the papers' PyTorch notation is column j
of our fc1 kernel, and "column j of W2" is row j of our fc2 kernel.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
Params = Mapping[str, Any]

# --------------------------------------------------------------------------------------------
# Criteria


def entropy(logits: Array, axis: int = -1) -> Array:
  """Shannon entropy (nats) of `softmax(logits)` along `axis`, computed in float32.

  `-sum p log p` with `log p` from `log_softmax`, so saturated rows give 0, not NaN.
  """
  logits = logits.astype(jnp.float32)
  logp = jax.nn.log_softmax(logits, axis=axis)
  return -jnp.sum(jnp.exp(logp) * logp, axis=axis)


def _masked_mean(values: Array, mask: Optional[Array]) -> Array:
  if mask is None:
    return jnp.mean(values)
  mask = jnp.broadcast_to(mask.astype(jnp.float32), values.shape)
  return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def prediction_entropy(logits: Array, mask: Optional[Array] = None) -> Array:
  """Label-free criterion: mean entropy of the predicted distribution.

  Args:
    logits: `[..., C]` class logits (`[B, C]`) or next-token logits (`[B, T, V]`).
    mask: optional `[...]` weights (1 = real row) for padded batches.

  Returns:
    Scalar float32: the mean over rows (and positions) of `H(softmax(logits))`.
  """
  return _masked_mean(entropy(logits), mask)


def similarity_entropy(features: Array, temp_inv: float = 15.0,
                       mask: Optional[Array] = None) -> Array:
  """AMP's image-only criterion: entropy of each image's softmax over the batch.

  `z = f / ||f||`, `S = temp_inv * z z^T` (the diagonal is kept, as in the official code),
  `E = mean_b H(softmax(S[b]))`.

  Args:
    features: `[B, d]` final embeddings (e.g. the ViT's `cls` output).
    temp_inv: inverse temperature s (the official configs use 15 or 20).
    mask: optional `[B]` 0/1 weights; masked images are left out of the rows and columns.

  Returns:
    Scalar float32.
  """
  if features.ndim != 2:
    raise ValueError(f'similarity_entropy expects [B, d] features, got {features.shape}')
  z = features.astype(jnp.float32)
  z = z / jnp.maximum(jnp.linalg.norm(z, axis=-1, keepdims=True), 1e-12)
  s = temp_inv * z @ z.T
  if mask is not None:
    s = jnp.where(mask.astype(bool)[None, :], s, -1e9)
  return _masked_mean(entropy(s), mask)


def cross_entropy(logits: Array, labels: Array, mask: Optional[Array] = None) -> Array:
  """The one-hot baseline criterion: mean `-log softmax(logits)[label]` (float32)."""
  logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  nll = -jnp.take_along_axis(logp, labels[..., None].astype(jnp.int32), axis=-1)[..., 0]
  return _masked_mean(nll, mask)


# --------------------------------------------------------------------------------------------
# Taylor importance through gates

SCORE_MODES = ('sample_abs', 'signed', 'element_abs')


def ones_gates(widths: Sequence[int], batch_size: int, num_tokens: Optional[int] = None,
               dtype=jnp.float32) -> tuple:
  """All-ones gates, one per block: `[B, 1, H_l]`, or `[B, N, H_l]` when `num_tokens` is given.

  Pass them as the model's `mlp_gates`; the output is unchanged, and the gradient of a
  criterion with respect to them is the Taylor term (see the module docstring). For 2-D hidden
  activations (`[B, H]`, no token axis) use `num_tokens=0`, which gives `[B, H_l]` gates.
  """
  if num_tokens is None:
    shape = lambda h: (batch_size, 1, int(h))
  elif num_tokens == 0:
    shape = lambda h: (batch_size, int(h))
  else:
    shape = lambda h: (batch_size, int(num_tokens), int(h))
  return tuple(jnp.ones(shape(h), dtype) for h in widths)


def gate_gradients(criterion: Callable[[tuple], Array], gates: tuple) -> tuple:
  """`d criterion / d gates` at `gates`: the per-gate-entry Taylor terms `sum a * dE/da`.

  Args:
    criterion: `gates -> scalar`, e.g. `lambda g: prediction_entropy(model.apply(v, x,
      mlp_gates=g)['logits'])`.
    gates: tuple of gate arrays (usually `ones_gates(...)`).
  """
  return jax.grad(criterion)(gates)


def aggregate_taylor(grads: Sequence[Array], mode: str = 'sample_abs') -> tuple:
  """Per-neuron scores `[H_l]` of one batch from gate gradients `[B, ..., H_l]`.

  * `sample_abs` (AMP): gradients of `[B, 1, H]` (or `[B, H]`) gates are already summed over
    tokens; returns `mean_b |c[b, j]|`. Element-shaped gradients are summed over tokens first.
  * `signed`: `mean_b c[b, j]`, no absolute value.
  * `element_abs` (HFPrune): `sum_{b, n} |g[b, n, j]|`; needs per-element (`[B, N, H]`) gates
    to mean per-element |a dE/da|.
  """
  if mode not in SCORE_MODES:
    raise ValueError(f'unknown Taylor score mode {mode!r}; valid: {SCORE_MODES}')
  out = []
  for g in grads:
    g = g.astype(jnp.float32)
    if mode == 'element_abs':
      out.append(jnp.sum(jnp.abs(g).reshape(-1, g.shape[-1]), axis=0))
      continue
    c = g.reshape(g.shape[0], -1, g.shape[-1]).sum(axis=1)  # [B, H]: sum over tokens
    out.append(jnp.mean(jnp.abs(c) if mode == 'sample_abs' else c, axis=0))
  return tuple(out)


def taylor_scores(criterion: Callable[[Any, Any, tuple], Array], params: Any,
                  batches: Iterable[Any], widths: Sequence[int], *, batch_size: int,
                  mode: str = 'sample_abs', num_tokens: Optional[int] = None,
                  reduce: str = 'mean', progress: bool = False) -> tuple:
  """First-order Taylor importance of every MLP hidden neuron over a calibration set.

  Args:
    criterion: `(params, batch, gates) -> scalar`, the model applied with `mlp_gates=gates`
      and reduced to the criterion (e.g. `prediction_entropy` of the logits). Parameters are
      frozen: only the gates are differentiated.
    params: the model parameters (passed through; not differentiated).
    batches: iterable of batches, all of `batch_size` examples (a different size would
      recompile the step).
    widths: per-block hidden widths `H_l`.
    batch_size: B, the leading size of the gates.
    mode: `sample_abs` (AMP, default), `signed` or `element_abs` (HFPrune); see
      `aggregate_taylor`. `element_abs` requires `num_tokens`.
    num_tokens: tokens per example N for per-element gates; None gives per-sample `[B, 1, H]`
      gates (0 gives `[B, H]`).
    reduce: 'mean' (AMP: average of the per-batch scores) or 'sum' (HFPrune: total).
    progress: show a tqdm bar.

  Returns:
    Tuple of float32 `[H_l]` numpy arrays, one per block.
  """
  if mode == 'element_abs' and not num_tokens:
    raise ValueError("mode='element_abs' needs per-element gates: pass num_tokens=N")
  if reduce not in ('mean', 'sum'):
    raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
  gates = ones_gates(widths, batch_size, num_tokens)

  @jax.jit
  def step(params, batch):
    grads = jax.grad(lambda g: criterion(params, batch, g))(gates)
    return aggregate_taylor(grads, mode)

  total = tuple(jnp.zeros((int(h),), jnp.float32) for h in widths)
  n = 0
  it = batches
  if progress:
    from tqdm.auto import tqdm
    it = tqdm(batches, desc=f'taylor[{mode}]', leave=False)
  for batch in it:
    total = tuple(t + s for t, s in zip(total, step(params, batch)))
    n += 1
  if n == 0:
    raise ValueError('taylor_scores got no calibration batches')
  if reduce == 'mean':
    total = tuple(t / n for t in total)
  return tuple(np.asarray(t) for t in total)


# --------------------------------------------------------------------------------------------
# MLP layouts, weight-based scores, slicing

@dataclasses.dataclass(frozen=True)
class MlpLayout:
  """Names of one MLP's Dense layers.

  inputs: the layers whose *output* axis is the hidden axis (`('fc1',)`, or `('gate', 'up')`).
  output: the layer whose *input* axis is the hidden axis (`'fc2'`, `'down'`).
  fused: the single input layer has width 2H: `[gate half | value half]` (DINOv2 `w12`).
  """
  inputs: tuple
  output: str
  fused: bool = False


KNOWN_LAYOUTS = (
    MlpLayout(('fc1',), 'fc2'),                       # ViT (ours, timm, HF ViT mapped)
    MlpLayout(('c_fc',), 'c_proj'),                   # GPT-2 / our TransformerLM
    MlpLayout(('gate', 'up'), 'down'),                # split SwiGLU
    MlpLayout(('gate_proj', 'up_proj'), 'down_proj'),  # LLaMA/Qwen names
    MlpLayout(('w1', 'w3'), 'w2'),                    # Meta LLaMA names
)


def mlp_layout(mlp: Params) -> MlpLayout:
  """Recognises an MLP parameter dict; a fused gated fc1 is detected from its width (2H)."""
  for lay in KNOWN_LAYOUTS:
    if all(n in mlp for n in lay.inputs) and lay.output in mlp:
      if len(lay.inputs) == 1:
        h_in = mlp[lay.inputs[0]]['kernel'].shape[-1]
        h_out = mlp[lay.output]['kernel'].shape[0]
        if h_in == 2 * h_out:
          return MlpLayout(lay.inputs, lay.output, fused=True)
        if h_in != h_out:
          raise ValueError(f'{lay.inputs[0]} width {h_in} is neither {lay.output}\'s input '
                           f'width {h_out} nor twice it')
      return lay
  raise ValueError(f'unrecognised MLP parameters {sorted(mlp)}; known layouts: '
                   + ', '.join(f'{l.inputs}->{l.output}' for l in KNOWN_LAYOUTS)
                   + '. Pass layout=MlpLayout(...) explicitly.')


def mlp_width(mlp: Params, layout: Optional[MlpLayout] = None) -> int:
  """Hidden width H of one MLP (the input width of its output layer)."""
  layout = layout or mlp_layout(mlp)
  return int(mlp[layout.output]['kernel'].shape[0])


def _in_columns(mlp: Params, layout: MlpLayout) -> list:
  """`[D, H]` kernels whose column j belongs to neuron j (gate and value halves separately)."""
  if layout.fused:
    k = mlp[layout.inputs[0]]['kernel']
    h = k.shape[-1] // 2
    return [k[:, :h], k[:, h:]]
  return [mlp[n]['kernel'] for n in layout.inputs]


def magnitude_scores(mlp: Params, layout: Optional[MlpLayout] = None) -> np.ndarray:
  """`||W1[j, :]||_2 * ||W2[:, j]||_2` per neuron (for gated MLPs W1 stacks gate and value).

  Returns a float32 `[H]` numpy array.
  """
  layout = layout or mlp_layout(mlp)
  cols = _in_columns(mlp, layout)
  w_in = np.sqrt(sum(np.sum(np.square(np.asarray(c, np.float32)), axis=0) for c in cols))
  w_out = np.linalg.norm(np.asarray(mlp[layout.output]['kernel'], np.float32), axis=1)
  return (w_in * w_out).astype(np.float32)


def fc1_norm_scores(mlp: Params, layout: Optional[MlpLayout] = None) -> np.ndarray:
  """L2 norm of each neuron's input weights (DGMR's `l2` baseline), float32 `[H]`."""
  layout = layout or mlp_layout(mlp)
  cols = _in_columns(mlp, layout)
  return np.sqrt(sum(np.sum(np.square(np.asarray(c, np.float32)), axis=0)
                     for c in cols)).astype(np.float32)


def random_scores(key: Array, widths: Sequence[int]) -> tuple:
  """Uniform random scores `[H_l]` per block: top-k of them is sampling without replacement."""
  keys = jax.random.split(key, len(widths))
  return tuple(np.asarray(jax.random.uniform(k, (int(h),))) for k, h in zip(keys, widths))


def slice_mlp(mlp: Params, keep: Sequence[int], layout: Optional[MlpLayout] = None) -> dict:
  """Keeps the hidden neurons `keep` of one MLP (indices are sorted ascending first).

  Dense: fc1 kernel columns and bias entries, fc2 kernel rows; fc2's bias is unchanged.
  Fused gated: the same columns from both halves of fc1 (`j` and `H + j`). Split gated: the
  same columns of every input layer. Other entries of the dict are copied unchanged.
  """
  layout = layout or mlp_layout(mlp)
  h = mlp_width(mlp, layout)
  idx = np.unique(np.asarray(keep, dtype=np.int64))
  if idx.size != len(keep):
    raise ValueError('keep indices contain duplicates')
  if idx.size and (idx[0] < 0 or idx[-1] >= h):
    raise ValueError(f'keep indices out of range [0, {h})')
  cols = np.concatenate([idx, idx + h]) if layout.fused else idx
  out = dict(mlp)
  for name in layout.inputs:
    layer = dict(mlp[name])
    layer['kernel'] = jnp.asarray(mlp[name]['kernel'])[..., cols]
    if 'bias' in layer:
      layer['bias'] = jnp.asarray(mlp[name]['bias'])[cols]
    out[name] = layer
  layer = dict(mlp[layout.output])
  layer['kernel'] = jnp.asarray(mlp[layout.output]['kernel'])[idx]
  out[layout.output] = layer
  return out


_BLOCK_RE = re.compile(r'^(encoder_block|h|block|blocks|layer|layers)_(\d+)$')


def mlp_paths(params: Params, mlp_name: str = 'mlp') -> list:
  """Paths (tuples of keys) of every block's MLP, in block order.

  Blocks are the top-level entries named `encoder_block_i` (ViT), `h_i` (GPT-2 LM), `block_i`
  or `layer_i` that contain `mlp_name`.
  """
  found = []
  for k, v in params.items():
    m = _BLOCK_RE.match(k)
    if m and isinstance(v, Mapping) and mlp_name in v:
      found.append((int(m.group(2)), (k, mlp_name)))
  if not found:
    raise ValueError(f'no blocks with an {mlp_name!r} MLP among top-level keys '
                     f'{sorted(params)[:12]}')
  return [p for _, p in sorted(found)]


def _get(tree, path):
  for p in path:
    tree = tree[p]
  return tree


def _set(tree, path, value):
  tree = dict(tree)
  if len(path) == 1:
    tree[path[0]] = value
  else:
    tree[path[0]] = _set(tree[path[0]], path[1:], value)
  return tree


def get_mlps(params: Params, mlp_name: str = 'mlp') -> list:
  """The MLP parameter dicts of every block, in block order."""
  return [_get(params, p) for p in mlp_paths(params, mlp_name)]


def mlp_widths(params: Params, mlp_name: str = 'mlp') -> tuple:
  """Per-block hidden widths inferred from the shapes (how a pruned checkpoint is rebuilt)."""
  return tuple(mlp_width(m) for m in get_mlps(params, mlp_name))


def slice_mlps(params: Params, keep: Sequence[Sequence[int]], mlp_name: str = 'mlp',
               layout: Optional[MlpLayout] = None) -> tuple:
  """Slices every block's MLP to its kept neurons.

  Args:
    params: the model's params (a nested dict; e.g. ViT or TransformerLM params).
    keep: per block, the indices of the neurons to keep.

  Returns:
    `(new_params, widths)`: params with the smaller MLPs (everything else shared) and the tuple
    of per-block widths; build the matching model with `mlp_dim=widths`.
  """
  paths = mlp_paths(params, mlp_name)
  if len(keep) != len(paths):
    raise ValueError(f'{len(keep)} keep-index lists for {len(paths)} MLP blocks')
  out = params
  widths = []
  for path, idx in zip(paths, keep):
    new = slice_mlp(_get(params, path), idx, layout)
    out = _set(out, path, new)
    widths.append(mlp_width(new, layout))
  return out, tuple(widths)


# --------------------------------------------------------------------------------------------
# Selection: counts, keep indices, masks, adaptive search

def keep_indices(scores: Sequence[float], k: int) -> np.ndarray:
  """Indices of the `k` highest scores, sorted ascending (ties: lower index first)."""
  scores = np.asarray(scores, np.float64)
  k = int(k)
  if not 0 <= k <= scores.size:
    raise ValueError(f'k={k} outside [0, {scores.size}]')
  order = np.argsort(-scores, kind='stable')
  return np.sort(order[:k])


def ranking(scores: Sequence[float]) -> np.ndarray:
  """Neuron indices by descending score (stable)."""
  return np.argsort(-np.asarray(scores, np.float64), kind='stable')


def keep_masks(scores: Sequence[Sequence[float]], counts: Sequence[int],
               dtype=jnp.float32) -> tuple:
  """0/1 `[H_l]` masks keeping the top `counts[l]` neurons of each block.

  A `[H]` mask broadcasts against `[B, N, H]`, so the tuple can be passed as `mlp_gates`.
  """
  if len(scores) != len(counts):
    raise ValueError(f'{len(scores)} score arrays for {len(counts)} counts')
  out = []
  for s, k in zip(scores, counts):
    m = np.zeros(len(s), np.float32)
    m[keep_indices(s, k)] = 1.0
    out.append(jnp.asarray(m, dtype))
  return tuple(out)


def masks_from_orders(orders: Sequence[np.ndarray], counts: Sequence[int]) -> tuple:
  """0/1 masks keeping the first `counts[l]` neurons of each ranking `orders[l]`."""
  out = []
  for o, k in zip(orders, counts):
    m = np.zeros(len(o), np.float32)
    m[np.asarray(o)[:int(k)]] = 1.0
    out.append(jnp.asarray(m))
  return tuple(out)


def uniform_counts(widths: Sequence[int], keep_ratio: float, min_keep: int = 1) -> tuple:
  """`round(keep_ratio * H_l)` neurons per block (at least `min_keep`)."""
  if not 0.0 <= keep_ratio <= 1.0:
    raise ValueError(f'keep_ratio must be in [0, 1], got {keep_ratio}')
  return tuple(int(min(h, max(min_keep, round(keep_ratio * h)))) for h in widths)


def counts_with_total(widths: Sequence[int], total: int, min_keep: int = 1) -> tuple:
  """Uniform-ratio counts whose sum is exactly `total` (largest-remainder rounding).

  Used to compare an adaptive allocation with a uniform one of the same size.
  """
  widths = [int(h) for h in widths]
  if not 0 <= total <= sum(widths):
    raise ValueError(f'total {total} outside [0, {sum(widths)}]')
  exact = [total * h / sum(widths) for h in widths]
  counts = [max(min_keep, min(h, int(math.floor(e)))) for e, h in zip(exact, widths)]
  rest = sorted(range(len(widths)), key=lambda i: -(exact[i] - math.floor(exact[i])))
  i = 0
  while sum(counts) < total and i < 10 * len(widths):
    j = rest[i % len(widths)]
    if counts[j] < widths[j]:
      counts[j] += 1
    i += 1
  while sum(counts) > total:
    j = max(range(len(widths)), key=lambda l: counts[l])
    counts[j] -= 1
  return tuple(counts)


def global_counts(scores: Sequence[Sequence[float]], total_keep: int,
                  min_keep: int = 1) -> tuple:
  """Per-block counts from one ranking of all blocks' scores jointly (ragged widths).

  Scores must be comparable across blocks (raw Taylor sums are; do not normalise per block).
  Each block keeps at least `min_keep` neurons; the rest of the budget goes to the highest
  scores overall.
  """
  widths = [len(s) for s in scores]
  if not sum(min(min_keep, h) for h in widths) <= total_keep <= sum(widths):
    raise ValueError(f'total_keep {total_keep} outside [{min_keep * len(widths)}, '
                     f'{sum(widths)}]')
  counts = [min(min_keep, h) for h in widths]
  pool = []
  for l, s in enumerate(scores):
    for j in ranking(s)[counts[l]:]:
      pool.append((-float(s[j]), l, int(j)))
  pool.sort()
  for _, l, _ in pool[:total_keep - sum(counts)]:
    counts[l] += 1
  return tuple(counts)


def params_per_neuron(mlp: Params, layout: Optional[MlpLayout] = None) -> int:
  """Parameters removed with one hidden neuron (input columns + biases + output row)."""
  layout = layout or mlp_layout(mlp)
  d_in = int(mlp[layout.inputs[0]]['kernel'].shape[0])
  n = d_in * (2 if layout.fused else len(layout.inputs))
  for name in layout.inputs:
    if 'bias' in mlp[name]:
      n += 2 if layout.fused else 1
  n += int(mlp[layout.output]['kernel'].shape[1])
  return n


def counts_for_param_reduction(params: Params, reduction: float, mlp_name: str = 'mlp') -> tuple:
  """Uniform per-block width that removes `reduction` of ALL parameters by MLP pruning only.

  HFPrune's "pruning ratio" is the fraction of total parameters; with p parameters per neuron
  and L blocks of width H, keep `k = H - round(reduction * total / (p * L))`.
  """
  mlps = get_mlps(params, mlp_name)
  total = count_params(params)
  per = [params_per_neuron(m) for m in mlps]
  widths = [mlp_width(m) for m in mlps]
  remove = reduction * total / sum(per)  # the same number of neurons removed from every block
  k = [int(h - round(remove)) for h in widths]
  if min(k) < 1:
    raise ValueError(f'a {reduction:.0%} reduction cannot be reached by MLP pruning alone')
  return tuple(k)


def binary_search_counts(eval_fn: Callable[[tuple], float], orders: Sequence[np.ndarray],
                         delta: float, steps: int = 6, *, base: Optional[float] = None,
                         progress: bool = False) -> tuple:
  """AMP's adaptive per-layer budget: last block first, the fewest neurons within `delta`.

  For block l = L-1 .. 0 (blocks after l already pruned, blocks before l intact), `steps`
  bisection steps over the number k of top-ranked neurons kept; k is accepted when
  `eval_fn(masks) - previous <= delta`. `previous` is the criterion after the last accepted
  block (the unpruned value `base` at the start). The resolution is `H / 2**steps`.

  Args:
    eval_fn: `masks -> float`, the criterion on the fixed validation batches with the MLPs
      gated by `masks` (a tuple of 0/1 `[H_l]` arrays). Jit it once: masks are traced values,
      so the whole search reuses one compilation.
    orders: per block, neuron indices by descending importance (`ranking(scores)`).
    delta: tolerated increase of the criterion per block.
    steps: bisection steps T (6 in the official configs).
    base: `eval_fn` of the unpruned model (computed when None).

  Returns:
    `(counts, trace)`: per-block neurons kept and a list of dicts (block, k, value, accepted)
    for every evaluation, in order.
  """
  widths = [len(o) for o in orders]
  counts = list(widths)
  prev = float(eval_fn(masks_from_orders(orders, counts))) if base is None else float(base)
  trace = []
  blocks = range(len(widths) - 1, -1, -1)
  if progress:
    from tqdm.auto import tqdm
    blocks = tqdm(blocks, desc=f'search delta={delta:g}', leave=False)
  for l in blocks:
    lo, hi, k_l, acc = 0, widths[l], widths[l], None
    for _ in range(steps):
      mid = (lo + hi) // 2
      trial = list(counts)
      trial[l] = mid
      value = float(eval_fn(masks_from_orders(orders, trial)))
      ok = value - prev <= delta
      trace.append(dict(block=l, k=mid, value=value, accepted=bool(ok)))
      if ok:
        hi, k_l, acc = mid, mid, value
      else:
        lo = mid
    counts[l] = k_l
    prev = acc if acc is not None else float(eval_fn(masks_from_orders(orders, counts)))
  return tuple(counts), trace


# --------------------------------------------------------------------------------------------
# Counting

def count_params(tree: Any) -> int:
  """Number of scalars in a pytree of arrays (or shape structs)."""
  return int(sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree)))


def mlp_param_count(params: Params, mlp_name: str = 'mlp') -> int:
  """Parameters inside the blocks' MLPs."""
  return sum(count_params(m) for m in get_mlps(params, mlp_name))


def vit_flops(*, image_size: int, patch_size: int, channels: int, hidden_size: int,
              depth: int, mlp_dims, num_classes: Optional[int] = None,
              classifier: str = 'token', mlp_type: str = 'gelu') -> int:
  """Forward FLOPs of one image through `jaxlab.nn.ViT` (2 per multiply-add).

  Counts the matrix products only: patch embedding, q/k/v/out projections, attention logits and
  the weighted sum, the MLP (`2 * D * H` multiply-adds per token for GELU, `3 * D * H` for
  SwiGLU) and the head. Norms, softmax, activations and bias adds are left out (they are
  O(N * D) and identical before and after MLP pruning).
  """
  from jaxlab.nn.attention import per_block_widths
  dims = per_block_widths(mlp_dims, depth)
  n = (image_size // patch_size) ** 2 + (1 if classifier == 'token' else 0)
  d = hidden_size
  per_mlp = {'gelu': 2, 'swiglu': 3}
  if mlp_type not in per_mlp:
    raise ValueError(f"mlp_type must be 'gelu' or 'swiglu', got {mlp_type!r}")
  macs = (image_size // patch_size) ** 2 * patch_size * patch_size * channels * d
  for h in dims:
    macs += n * 4 * d * d + 2 * n * n * d + n * per_mlp[mlp_type] * d * h
  if num_classes:
    macs += d * num_classes
  return int(2 * macs)


def lm_flops(*, seq_len: int, d_model: int, num_layers: int, mlp_dims, vocab_size: int,
             mlp_type: str = 'gelu', attention: str = 'full') -> int:
  """Forward FLOPs of one sequence through a decoder LM (2 per multiply-add).

  Per layer: `4 * T * D^2` (qkv + out projections), the attention logits and weighted sum, and
  `k * T * D * H` for the MLP (k=2 dense, 3 gated); plus the `T * D * V` output projection.
  Embedding lookups are free. `attention` sets the logits/sum term: 'full' counts the whole
  `2 * T^2 * D` the dense implementation computes; 'causal' only the `T (T + 1) * D` entries the
  causal mask keeps; 'none' leaves it out, which gives the usual "2 x weights" FLOPs per token
  (the convention under which FLOPs fall in proportion to the pruned weights).
  """
  from jaxlab.nn.attention import per_block_widths
  dims = per_block_widths(mlp_dims, num_layers)
  per_mlp = {'gelu': 2, 'swiglu': 3}
  if mlp_type not in per_mlp:
    raise ValueError(f"mlp_type must be 'gelu' or 'swiglu', got {mlp_type!r}")
  t, d = seq_len, d_model
  attn = {'full': 2 * t * t * d, 'causal': t * (t + 1) * d, 'none': 0}
  if attention not in attn:
    raise ValueError(f"attention must be one of {sorted(attn)}, got {attention!r}")
  macs = sum(4 * t * d * d + attn[attention] + per_mlp[mlp_type] * t * d * h for h in dims)
  macs += t * d * vocab_size
  return int(2 * macs)


# --------------------------------------------------------------------------------------------
# Recovery losses

def kl_distillation_loss(student_logits: Array, teacher_logits: Array,
                         temperature: float = 1.0, mask: Optional[Array] = None) -> Array:
  """Label-free distillation: `T^2 * mean KL(softmax(t/T) || softmax(s/T))` (float32).

  The teacher is wrapped in `stop_gradient`. Rows are `[..., C]`; `mask` weights the rows.
  Zero, with zero gradient, when the student equals the teacher.
  """
  t = jax.lax.stop_gradient(teacher_logits.astype(jnp.float32)) / temperature
  s = student_logits.astype(jnp.float32) / temperature
  logp_t = jax.nn.log_softmax(t, axis=-1)
  logp_s = jax.nn.log_softmax(s, axis=-1)
  kl = jnp.sum(jnp.exp(logp_t) * (logp_t - logp_s), axis=-1)
  return temperature ** 2 * _masked_mean(kl, mask)


def token_mse_loss(student: Mapping[str, Array], teacher: Mapping[str, Array],
                   cls_coef: float = 1.0, patch_coef: float = 1.0,
                   cls_key: str = 'cls', patch_key: str = 'patch_tokens') -> Array:
  """AMP/DGMR feature distillation: `cls_coef * MSE(cls) + patch_coef * MSE(patch tokens)`.

  Inputs are model output dicts (e.g. the ViT's `cls [B, D]` and `patch_tokens [B, N, D]`);
  the teacher side is wrapped in `stop_gradient`. Each MSE is a mean over all elements.
  """
  sg = jax.lax.stop_gradient
  mse = lambda a, b: jnp.mean(jnp.square(a.astype(jnp.float32) - sg(b).astype(jnp.float32)))
  return cls_coef * mse(student[cls_key], teacher[cls_key]) + patch_coef * mse(
      student[patch_key], teacher[patch_key])
