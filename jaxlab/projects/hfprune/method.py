"""HFPrune: neuron scores, pruning, fidelity metrics and recovery fine-tuning (LoRA or full).

*High-Fidelity Pruning for Large Language Models* (Zhu, Wang, Shen), arXiv 2603.08083.

The entropy-Taylor score of MLP neuron j of layer l (spec §3.3) is

    I_{l,j} = sum_{sequences} sum_{b,t} | a_{b,t,j} * dE/da_{b,t,j} |,
    E = mean_t H(softmax(z_t))          (the model's own next-token entropy, fp32, no labels)

computed without hooks through per-element gates `G_l` (ones, `[B, T, I]`) multiplying the
SwiGLU hidden activation before `down_proj`: `dE/dG_l = a * dE/da` element by element
(`jaxlab.ops.pruning.taylor_scores(mode='element_abs', reduce='sum')`). Baselines: CE-Taylor
(one-hot next token), weight magnitude `||W_g[j]|| ||W_u[j]|| ||W_d[:,j]||`, a Wanda-style
activation score `||a_j||_2 * ||W_d[:,j]||_2`, and random scores.

Shared machinery comes from `jaxlab.ops.pruning` (criteria, Taylor scores, counts, slicing,
FLOPs); implemented here because the ops module does not have them: the Wanda-style neuron
score, the product-of-three-norms magnitude (ops' `magnitude_scores` stacks gate and up into one
norm), the LM fidelity metrics, and LoRA.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab.ops import pruning

Array = jax.Array
CRITERIA = ('entropy', 'ce', 'magnitude', 'wanda', 'random')
LORA_TARGETS = ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj')


# ------------------------------------------------------------------------------------------
# Criteria and scores


def entropy_criterion(model) -> Callable:
  """`(params, batch, gates) -> E`: mean next-token entropy over every position (label-free)."""
  def criterion(params, batch, gates):
    logits = model.apply({'params': params}, batch['inputs'], mlp_gates=gates)
    return pruning.prediction_entropy(logits)
  return criterion


def ce_criterion(model) -> Callable:
  """`(params, batch, gates) -> L`: one-hot next-token cross-entropy (the baseline)."""
  def criterion(params, batch, gates):
    logits = model.apply({'params': params}, batch['inputs'], mlp_gates=gates)
    return pruning.cross_entropy(logits, batch['targets'])
  return criterion


def taylor_importance(model, params, batches: Sequence[dict], criterion: str = 'entropy',
                      progress: bool = False) -> tuple:
  """Per-layer `[I_l]` float32 scores `sum |a * dE/da|` over all calibration tokens.

  `batches`: dicts with `inputs`/`targets` `[B, T]` int32, all the same shape.
  """
  if criterion not in ('entropy', 'ce'):
    raise ValueError(f"Taylor criterion must be 'entropy' or 'ce', got {criterion!r}")
  fn = entropy_criterion(model) if criterion == 'entropy' else ce_criterion(model)
  b, t = batches[0]['inputs'].shape
  return pruning.taylor_scores(fn, params, batches, model.mlp_dims(), batch_size=b,
                               mode='element_abs', num_tokens=t, reduce='sum',
                               progress=progress)


def magnitude_importance(params) -> tuple:
  """`||W_g[j]|| * ||W_u[j]|| * ||W_d[:, j]||` per neuron (spec §6 (c)), HF row/column notation.

  Flax kernels are `[in, out]`: gate/up columns and down rows belong to neuron j.
  """
  out = []
  for mlp in pruning.get_mlps(params):
    norm = lambda k, axis: np.linalg.norm(np.asarray(k, np.float32), axis=axis)
    out.append((norm(mlp['gate_proj']['kernel'], 0) * norm(mlp['up_proj']['kernel'], 0)
                * norm(mlp['down_proj']['kernel'], 1)).astype(np.float32))
  return tuple(out)


def wanda_importance(model, params, batches: Sequence[dict]) -> tuple:
  """Wanda-style neuron score `||a_j||_2 * ||W_d[:, j]||_2` (spec §6 (d)).

  Wanda scores a weight by `|W_ij| * ||X_j||_2` with `X_j` the j-th input feature over the
  calibration tokens; for down_proj the input features are the MLP neurons, and summing the
  squared per-weight scores of column j gives this neuron score.
  """
  widths = model.mlp_dims()

  @jax.jit
  def sq_norms(params, inputs):
    _, inter = model.apply({'params': params}, inputs, mutable=['intermediates'])
    hid = [inter['intermediates'][f'layers_{i}']['mlp']['hidden'][0]
           for i in range(len(widths))]
    return tuple(jnp.sum(jnp.square(h.astype(jnp.float32)).reshape(-1, h.shape[-1]), 0)
                 for h in hid)

  total = [np.zeros(w, np.float64) for w in widths]
  for batch in batches:
    for l, s in enumerate(sq_norms(params, batch['inputs'])):
      total[l] += np.asarray(s, np.float64)
  return tuple((np.sqrt(t) * np.linalg.norm(np.asarray(m['down_proj']['kernel'], np.float32),
                                            axis=1)).astype(np.float32)
               for t, m in zip(total, pruning.get_mlps(params)))


def random_importance(seed: int, widths: Sequence[int]) -> tuple:
  return pruning.random_scores(jax.random.key(seed), widths)


def scores_for(criterion: str, model, params, batches, seed: int,
               progress: bool = False) -> tuple:
  """Scores of one criterion in `CRITERIA`."""
  if criterion in ('entropy', 'ce'):
    return taylor_importance(model, params, batches, criterion, progress)
  if criterion == 'magnitude':
    return magnitude_importance(params)
  if criterion == 'wanda':
    return wanda_importance(model, params, batches)
  if criterion == 'random':
    return random_importance(seed, model.mlp_dims())
  raise ValueError(f'unknown criterion {criterion!r}; valid: {CRITERIA}')


# ------------------------------------------------------------------------------------------
# Selection and slicing


def select(scores: Sequence[np.ndarray], keep_ratio: float, scope: str = 'layer') -> tuple:
  """Per-layer kept neuron indices (sorted ascending).

  `scope='layer'` (official code, default): the top `round(keep_ratio * I)` of every layer.
  `scope='global'`: one ranking of all layers' raw scores at the same total budget (ragged).
  """
  widths = [len(s) for s in scores]
  counts = pruning.uniform_counts(widths, keep_ratio)
  if scope == 'global':
    counts = pruning.global_counts(scores, sum(counts))
  elif scope != 'layer':
    raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
  return tuple(pruning.keep_indices(s, k) for s, k in zip(scores, counts))


def prune(model, params, keep: Sequence[np.ndarray]):
  """`(pruned_model, pruned_params)`: physically sliced SwiGLU MLPs (`mlp_dim` per block)."""
  new_params, widths = pruning.slice_mlps(params, keep)
  return model.clone(mlp_dim=tuple(widths)), new_params


def solve_k(params, target_ratio: float) -> tuple:
  """Uniform per-layer width that removes `target_ratio` of ALL parameters (spec §3.4)."""
  return pruning.counts_for_param_reduction(params, target_ratio)


# ------------------------------------------------------------------------------------------
# Metrics


def lm_metrics(logits: Array, ref_logits: Array, targets: Array) -> dict:
  """Sums over positions of CE, KL(p_ref || p) and top-1 agreement, plus `count`."""
  logp = jax.nn.log_softmax(logits.astype(jnp.float32), -1)
  logq = jax.nn.log_softmax(ref_logits.astype(jnp.float32), -1)
  ce = -jnp.take_along_axis(logp, targets[..., None], -1)[..., 0]
  kl = jnp.sum(jnp.exp(logq) * (logq - logp), -1)
  agree = (jnp.argmax(logits, -1) == jnp.argmax(ref_logits, -1)).astype(jnp.float32)
  return {'loss': ce.sum(), 'kl': kl.sum(), 'top1_agree': agree.sum(),
          'count': jnp.asarray(ce.size, jnp.float32)}


class Evaluator:
  """Val loss, fidelity KL(p_dense || p_pruned) and top-1 agreement on fixed windows.

  The dense model's logits are computed once per batch and reused for every pruned model.
  """

  def __init__(self, model, params, batches: Sequence[dict]):
    self.batches = [{k: jnp.asarray(v) for k, v in b.items()} for b in batches]
    fwd = jax.jit(lambda p, x: model.apply({'params': p}, x))
    self.ref = [fwd(params, b['inputs']) for b in self.batches]
    self._fns = {}

  def __call__(self, model, params) -> dict:
    key = model.mlp_dims()
    if key not in self._fns:
      self._fns[key] = jax.jit(lambda p, x, r, y: lm_metrics(
          model.apply({'params': p}, x), r, y))
    fn = self._fns[key]
    tot = None
    for b, r in zip(self.batches, self.ref):
      m = fn(params, b['inputs'], r, b['targets'])
      tot = m if tot is None else jax.tree.map(jnp.add, tot, m)
    n = float(tot.pop('count'))
    out = {k: float(v) / n for k, v in tot.items()}
    out['ppl'] = float(np.exp(out['loss']))
    return out


# ------------------------------------------------------------------------------------------
# LoRA


def lora_init(params, key: Array, rank: int, targets: Sequence[str] = LORA_TARGETS) -> dict:
  """`{layer path: {'a': [in, r], 'b': [r, out]}}` for every target Dense kernel.

  `a` ~ N(0, 1/in) (kaiming-like, as peft), `b` = 0, so the adapted model starts equal.
  Paths are '/'-joined flax paths, e.g. 'layers_0/mlp/gate_proj'.
  """
  out = {}
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  kernels = [(tuple(p.key for p in path), x) for path, x in flat
             if path[-1].key == 'kernel' and path[-2].key in targets]
  if not kernels:
    raise ValueError(f'no Dense kernels named {targets} in params')
  keys = jax.random.split(key, len(kernels))
  for k, (path, w) in zip(keys, kernels):
    d_in, d_out = w.shape
    out['/'.join(path[:-1])] = {
        'a': jax.random.normal(k, (d_in, rank), jnp.float32) / np.sqrt(d_in),
        'b': jnp.zeros((rank, d_out), jnp.float32)}
  return out


def lora_merge(params, lora: dict, scale: float):
  """`W + scale * A B` for every adapted kernel (`scale = alpha / r`)."""
  def merge(path, x):
    name = '/'.join(p.key for p in path[:-1])
    if path[-1].key == 'kernel' and name in lora:
      ab = lora[name]
      return x + scale * (ab['a'] @ ab['b']).astype(x.dtype)
    return x
  return jax.tree_util.tree_map_with_path(merge, params)


# ------------------------------------------------------------------------------------------
# Recovery fine-tuning


def recover(model, params, batch_iter: Iterable[dict], *, num_steps: int, mode: str = 'full',
            lr: float = 5e-4, wd: float = 0.0, lora_rank: int = 8, lora_alpha: float = 16.0,
            seed: int = 0, progress: bool = False, desc: str = 'recover'):
  """Next-token CE fine-tune of the pruned model; returns the (merged) params.

  `mode='full'`: every parameter, AdamW with cosine decay, no warm-up (spec §3.6).
  `mode='lora'`: base weights frozen (only the adapters are differentiated), rank `lora_rank`
  adapters on q, k, v, o, gate, up, down with `alpha / r` scaling; merged at the end.
  """
  if mode not in ('full', 'lora'):
    raise ValueError(f"recovery mode must be 'full' or 'lora', got {mode!r}")
  sched = optax.cosine_decay_schedule(lr, max(num_steps, 1))
  tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(sched, weight_decay=wd))
  scale = lora_alpha / lora_rank
  base = params
  if mode == 'lora':
    train_params = lora_init(params, jax.random.key(seed), lora_rank)
    full = lambda tp: lora_merge(base, tp, scale)
  else:
    train_params = params
    full = lambda tp: tp

  def loss_fn(tp, batch):
    logits = model.apply({'params': full(tp)}, batch['inputs'])
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch['targets']).mean()

  @jax.jit
  def step(tp, opt_state, batch):
    loss, grads = jax.value_and_grad(loss_fn)(tp, batch)
    updates, opt_state = tx.update(grads, opt_state, tp)
    return optax.apply_updates(tp, updates), opt_state, loss

  opt_state = tx.init(train_params)
  it = iter(batch_iter)
  steps = range(num_steps)
  if progress:
    from tqdm.auto import tqdm
    steps = tqdm(steps, desc=desc, leave=False)
  losses = []
  for _ in steps:
    batch = next(it)
    train_params, opt_state, loss = step(train_params, opt_state,
                                         {k: jnp.asarray(v) for k, v in batch.items()})
    losses.append(loss)
  final = float(np.mean(np.asarray(losses[-20:]))) if losses else float('nan')
  return jax.device_get(full(train_params)), final
