"""MEGU's method pieces as pure functions: unlearning requests (host), HIN selection, the
mutual-evolution loss and loop, topology-aware unlearning propagation (Correct & Smooth), the
baselines' training loops (train from scratch = retrain, fine-tune, gradient ascent), and the
GIF and GNNDelete baselines.

Everything that runs per request is jit-able with static shapes: a request is a set of masks over
the ORIGINAL padded node/edge arrays (`u_mask [N]`, `row_keep [N]`, `edge_weight [E]`,
`train_keep [N]`), so one compiled function serves every request kind, every seed (`vmap`) and
every baseline. Hyper-parameters that differ per dataset (lr, κ, α1, α2) are traced arguments.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab.ops import graph as gops
from jaxlab.projects.megu import model as mmodel

Array = jax.Array
KINDS = ("feature", "node", "edge")


# ---------------------------------------------------------------------------
# Losses.

def masked_ce(logits: Array, labels: Array, mask: Array) -> Array:
  """Mean cross-entropy over `mask`; 0 for an empty mask."""
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  return gops.masked_mean(ce, mask)


def kd_loss(student: Array, teacher: Array, mask: Array, temperature: float) -> Array:
  """`KD_T(p, q)`: mean over masked rows of `KL(softmax(q/T) || softmax(p/T))` (PyTorch
  `KLDivLoss(reduction='batchmean')` on `log_softmax(p/T)`, no T² factor); `teacher` is
  detached here."""
  q = jax.lax.stop_gradient(teacher) / temperature
  logq = jax.nn.log_softmax(q)
  kl = jnp.sum(jnp.exp(logq) * (logq - jax.nn.log_softmax(student / temperature)), axis=-1)
  return gops.masked_mean(kl, mask)


def masked_accuracy(logits: Array, labels: Array, mask: Array) -> Array:
  """Micro-F1 (= accuracy for single-label classification) over `mask`."""
  return gops.masked_mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32), mask)


def megu_loss(theta, phi, g, edge_weight, row_keep, u_mask, h_mask, y_hat, rng, *, kappa,
              temperature, dropout, backbone="gcn"):
  """The mutual-evolution objective `κ L_u + L_p` (spec §3.4).

  `L_u = KD(z_U, sg(ẑ_U)) − CE(ẑ_U, ŷ_U)`: the predictive module follows the unlearning
  module, and both climb away from the old predictions on the unlearning entities U.
  `L_p = KD(ẑ_H, sg(z_H)) + CE(z_H, ŷ_H)`: on the high-influence neighbours H the unlearning
  module follows the predictive one, which keeps its old predictions. `backbone` (static) names
  f_θ's architecture (`mmodel.BACKBONES`).
  """
  z = mmodel.backbone_apply(backbone, theta, g, edge_weight, row_keep, rng=rng, train=True,
                            dropout=dropout)
  zh = mmodel.unlearning_module_apply(phi, z)
  l_u = kd_loss(z, zh, u_mask, temperature) - masked_ce(zh, y_hat, u_mask)
  l_p = kd_loss(zh, z, h_mask, temperature) + masked_ce(z, y_hat, h_mask)
  loss = kappa * l_u + l_p
  return loss, {"loss": loss, "l_u": l_u, "l_p": l_p}


# ---------------------------------------------------------------------------
# HIN selection (paper Algorithm 1, as in the official code).

def propagated_cosine(x, senders, receivers, edge_weight, u_mask, *, k=2, r=0.5,
                      feature_chunk=0):
  """`s_v = cos((Â^k X)_v, (Â^k X_rev)_v)` with `X_rev` = X whose U rows are `1 − x`.

  With `feature_chunk > 0` the features are processed in chunks of that width (a `fori_loop`
  accumulating the dot products and norms), so no `[E, F]` message array is ever formed; the
  result is the same up to float rounding.
  """
  n, f = x.shape
  s, rc, norm = gops.gcn_norm(senders, receivers, n, edge_weight, r=r)

  def prop(v):
    for _ in range(int(k)):
      v = gops.propagate(v, s, rc, norm, n)
    return v

  def stats(xc, valid_cols):
    p = prop(xc)
    pr = prop(jnp.where(u_mask[:, None], 1.0 - xc, xc) * valid_cols)
    p = p * valid_cols
    return jnp.sum(p * pr, -1), jnp.sum(p * p, -1), jnp.sum(pr * pr, -1)

  if not feature_chunk or feature_chunk >= f:
    dot, n1, n2 = stats(x, jnp.ones((1, f), x.dtype))
  else:
    c = int(feature_chunk)
    steps = -(-f // c)

    def body(i, acc):
      start = jnp.minimum(i * c, f - c)
      xc = jax.lax.dynamic_slice(x, (0, start), (n, c))
      # The last chunk is shifted left to stay in range; skip the columns already counted.
      cols = (start + jnp.arange(c) >= i * c).astype(x.dtype)[None, :]
      return tuple(a + b for a, b in zip(acc, stats(xc, cols)))

    zero = jnp.zeros(n, x.dtype)
    dot, n1, n2 = jax.lax.fori_loop(0, steps, body, (zero, zero, zero))
  return dot / jnp.maximum(jnp.sqrt(n1) * jnp.sqrt(n2), 1e-8)


def adaptive_threshold_set(sim, valid, *, alpha0=0.1, gamma=0.1, max_steps=40):
  """The code's adaptive threshold: raise α by γ until one step adds no larger similarity.

  S = {v : s_v ≤ α}; if S is empty α += γ; else m' = max_S s, stop if m' == m (m starts at 0),
  else m = m', α += γ. Vectorised over the `max_steps` candidate α's (accumulated in Python
  floats, as the code does). Returns (bool `[N]` set S, chosen α).
  """
  alphas, a = [], float(alpha0)
  for _ in range(int(max_steps)):
    alphas.append(a)
    a += float(gamma)
  alphas = jnp.asarray(alphas, sim.dtype)
  inside = valid[None, :] & (sim[None, :] <= alphas[:, None])           # [J, N]
  nonempty = jnp.any(inside, axis=1)
  m = jnp.max(jnp.where(inside, sim[None, :], -jnp.inf), axis=1)
  prev = jnp.concatenate([jnp.zeros(1, sim.dtype),
                          jnp.where(nonempty[:-1], m[:-1], 0.0)])
  stop = nonempty & (m == prev)
  j = jnp.where(jnp.any(stop), jnp.argmax(stop), int(max_steps) - 1)
  return inside[j], alphas[j]


def hin_select(x, senders, receivers, edge_weight, u_mask, valid, *, k=2, gamma=0.1,
               feature_chunk=0):
  """High-influence neighbourhood H = S ∩ (k-hop(U) \\ U) on the ORIGINAL graph.

  Returns `(h_mask, khop_mask, sim)`: bool `[N]`, bool `[N]` (k-hop set without U: the
  `megu_no_hin` ablation's H) and the similarities `[N]`.
  """
  sim = propagated_cosine(x, senders, receivers, edge_weight, u_mask, k=k,
                          feature_chunk=feature_chunk)
  sel, _ = adaptive_threshold_set(sim, valid, gamma=gamma)
  hop = gops.khop_mask(u_mask, senders, receivers, k, edge_weight, include_seeds=False) & valid
  return sel & hop, hop, sim


# ---------------------------------------------------------------------------
# Topology-aware unlearning propagation: Correct & Smooth (PyG semantics, spec §3.5).

def correct_and_smooth(y_soft, labelled, y_label, senders, receivers, edge_weight, *, alpha1,
                       alpha2, steps1=80, steps2=80):
  """Correct & Smooth (Huang et al. 2021) without autoscale, `Ā = D^-1/2 A D^-1/2` (no self
  loops) of the edited graph.

  Args:
    y_soft: `[N, C]` softmax predictions.
    labelled: bool `[N]` rows whose labels are known (fixed in Correct, reset in Smooth).
    y_label: `[N, C]` one-hot labels (used on `labelled` rows only).
    alpha1, alpha2: propagation weights of the Correct and Smooth steps (traced).

  Returns:
    `[N, C]` smoothed scores.
  """
  n = y_soft.shape[0]
  s, r, norm = gops.gcn_norm(senders, receivers, n, edge_weight, add_self_loops=False)
  lab = labelled[:, None]
  e0 = jnp.where(lab, y_label - y_soft, 0.0)

  def correct(_, e):
    e = alpha1 * gops.propagate(e, s, r, norm, n) + (1.0 - alpha1) * e0
    return jnp.where(lab, e0, e)

  e = jax.lax.fori_loop(0, int(steps1), correct, e0)
  g0 = jnp.where(lab, y_label, y_soft + e)

  def smooth(_, g):
    g = alpha2 * gops.propagate(g, s, r, norm, n) + (1.0 - alpha2) * g0
    return jnp.clip(g, 0.0, 1.0)

  return jax.lax.fori_loop(0, int(steps2), smooth, g0)


# ---------------------------------------------------------------------------
# Training loops (full batch, pure, `lax.scan` over epochs).

def train_supervised(params, g, edge_weight, row_keep, labels, mask, key, *, num_epochs, lr,
                     wd, dropout, ascent_mask=None, backbone="gcn"):
  """Adam with PyTorch-style coupled L2 (`weight_decay`) on `CE(mask) [− CE(ascent_mask)]`.

  Used for the original model and `retrain` (from a fresh init), `finetune` and `grad_ascent`
  (from θ0). Returns the final parameters (no model selection: the split has no validation set).
  `backbone` (static) names the architecture of `params` (`mmodel.BACKBONES`).
  """
  tx = optax.chain(optax.add_decayed_weights(wd), optax.adam(lr))

  def loss_fn(p, rng):
    logits = mmodel.backbone_apply(backbone, p, g, edge_weight, row_keep, rng=rng, train=True,
                                   dropout=dropout)
    loss = masked_ce(logits, labels, mask)
    if ascent_mask is not None:
      loss = loss - masked_ce(logits, labels, ascent_mask)
    return loss

  def epoch(carry, i):
    p, opt = carry
    loss, grads = jax.value_and_grad(loss_fn)(p, jax.random.fold_in(key, i))
    updates, opt = tx.update(grads, opt, p)
    return (optax.apply_updates(p, updates), opt), loss

  (params, _), losses = jax.lax.scan(epoch, (params, tx.init(params)), jnp.arange(num_epochs))
  return params, losses


def megu_unlearn(theta, phi, g, edge_weight, row_keep, u_mask, h_mask, y_hat, key, *,
                 num_epochs, lr, kappa, temperature, dropout, backbone="gcn"):
  """`num_epochs` full-batch plain-SGD steps of `megu_loss` over (θ, φ); returns (θ, φ, losses)."""

  def epoch(carry, i):
    th, ph = carry
    grad_fn = jax.value_and_grad(megu_loss, argnums=(0, 1), has_aux=True)
    (_, aux), (gt, gp) = grad_fn(th, ph, g, edge_weight, row_keep, u_mask, h_mask, y_hat,
                                 jax.random.fold_in(key, i), kappa=kappa,
                                 temperature=temperature, dropout=dropout, backbone=backbone)
    th = jax.tree.map(lambda a, b: a - lr * b, th, gt)
    ph = jax.tree.map(lambda a, b: a - lr * b, ph, gp)
    return (th, ph), aux["loss"]

  (theta, phi), losses = jax.lax.scan(epoch, (theta, phi), jnp.arange(num_epochs))
  return theta, phi, losses


# ---------------------------------------------------------------------------
# GIF (Wu et al., WWW 2023, "GIF: A General Graph Unlearning Strategy via Influence
# Function"; official code wujcan/GIF-torch): the baseline the MEGU paper compares against.

def sum_ce(logits: Array, labels: Array, mask: Array) -> Array:
  """Sum (not mean) of the cross-entropy over `mask`: the GIF code's `reduction='sum'`."""
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  return jnp.sum(jnp.where(mask, ce, 0.0))


def gif_masks(u_mask, senders, receivers, edge_weight0, train_mask, train_keep, hops, *,
              max_hops=3):
  """GIF's loss masks: the influenced set I = nodes within `hops` (traced int) of U on the
  ORIGINAL graph, U included; `mask1 = I ∩ train` (old graph), `mask2 = I ∩ train_keep` (edited
  graph: a node request's U drops out). `max_hops` (static) bounds `hops`."""
  dist = gops.hop_distance(u_mask, senders, receivers, max_hops, edge_weight0)
  infl = dist <= hops
  return infl & train_mask, infl & train_keep


def _tree_norm(t):
  return jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(t)))


def top_eigenvalue(hvp, like, num_iters):
  """Largest-magnitude eigenvalue of the symmetric operator `hvp` (a pytree -> pytree map
  shaped like `like`): `num_iters` (static) power-iteration steps from the all-ones direction,
  then the Rayleigh quotient."""
  x0 = jax.tree.map(jnp.ones_like, like)
  x0 = jax.tree.map(lambda a: a / _tree_norm(x0), x0)

  def body(_, x):
    y = hvp(x)
    n = jnp.maximum(_tree_norm(y), 1e-30)
    return jax.tree.map(lambda a: a / n, y)

  x = jax.lax.fori_loop(0, int(num_iters), body, x0)
  return sum(jnp.vdot(a, b) for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(hvp(x))))


def gif_unlearn(theta, g, labels, train_mask, mask1, mask2, edge_weight0, edge_weight,
                row_keep, *, iterations=5, scale=50.0, damp=0.0, power_iters=0,
                backbone="gcn"):
  """One influence-function step (GIF's `gif_approxi`), returns (θ_new, stats).

  `v = ∇L1(θ0) − ∇L2(θ0)`, L1 = sum-CE over `mask1` on the original graph, L2 = sum-CE over
  `mask2` on the edited graph (both in inference mode, no dropout); the LiSSA recursion
  `h ← v + (1 − damp)·h − H h / scale` (h0 = v, `iterations` steps, H = Hessian of the sum-CE
  over every train node on the original graph at θ0, as Hessian-vector products) estimates
  `scale · H⁻¹ v`, and `θ_new = θ0 + h / scale` (one Newton step on the edited objective,
  since ∇L(θ0) ≈ 0 at the trained model). `iterations` is static; `scale` and `damp` may be
  traced.

  The recursion converges only when every eigenvalue λ of H lies in (0, 2·scale); with the
  official fixed scale it diverges on models whose Hessian is larger (see the README). With
  `power_iters > 0` (static) the scale becomes `max(scale, |λ_max|)`, λ_max estimated by that
  many power-iteration steps (our addition, the `gif_autoscale` baseline; stats["scale"]).
  """
  def loss(p, w, keep, mask):
    return sum_ce(mmodel.backbone_apply(backbone, p, g, w, keep), labels, mask)

  g1 = jax.grad(loss)(theta, edge_weight0, None, mask1)
  g2 = jax.grad(loss)(theta, edge_weight, row_keep, mask2)
  v = jax.tree.map(jnp.subtract, g1, g2)
  full_grad = jax.grad(lambda p: loss(p, edge_weight0, None, train_mask))
  hvp = lambda t: jax.jvp(full_grad, (theta,), (t,))[1]  # forward-over-reverse H·t
  scale = jnp.asarray(scale, jnp.float32)
  if power_iters:
    scale = jnp.maximum(scale, jnp.abs(top_eigenvalue(hvp, theta, power_iters)))

  def body(_, h):
    return jax.tree.map(lambda v_, h_, hv_: v_ + (1.0 - damp) * h_ - hv_ / scale, v, h, hvp(h))

  h = jax.lax.fori_loop(0, int(iterations), body, v)
  new = jax.tree.map(lambda p, h_: p + h_ / scale, theta, h)
  return new, {"v_norm": _tree_norm(v), "step_norm": _tree_norm(h) / scale, "scale": scale}


# ---------------------------------------------------------------------------
# GNNDelete (Cheng et al., ICLR 2023, "GNNDelete: A General Strategy for Unlearning in Graph
# Neural Networks", arXiv 2302.13406; official code mims-harvard/GNNDelete): the other
# representation-level baseline the MEGU paper lists. θ0 stays frozen; a learnable C'×C' map
# (the deletion operator) rewrites each layer's output on the nodes of the deleted edges' local
# enclosing subgraph, trained for Deleted Edge Consistency + Neighborhood Influence.

GNNDELETE_BACKBONES = ("gcn",)
GNNDELETE_INITS = ("ones", "identity")


def check_gnndelete_backbone(name: str) -> str:
  """`name` if GNNDelete is implemented for that backbone, else a ValueError."""
  if name not in GNNDELETE_BACKBONES:
    raise ValueError(f"GNNDelete is implemented for backbones {list(GNNDELETE_BACKBONES)}, "
                     f"not {name!r}")
  return name


def gnndelete_masks(edge_weight0, edge_weight, senders, receivers, valid, num_layers=2):
  """What a request deletes and where GNNDelete acts.

  Returns `(df_edge, ends, subs)`: bool `[E]` the deleted edges (kept in the original graph,
  weight 0 in the edited one; both directions), bool `[N]` their endpoints (for a node request:
  the nodes and their old neighbours), and one bool `[N]` per layer l = 1..`num_layers`: the
  local enclosing subgraph S^l = nodes within l hops of the endpoints on the ORIGINAL graph
  (the official `k_hop_subgraph(endpoints, l, edge_index)` node sets).
  """
  n = valid.shape[0]
  df = (edge_weight0 > 0) & (edge_weight <= 0)
  hit = lambda idx: jax.ops.segment_max(df.astype(jnp.int32), idx, num_segments=n) > 0
  ends = (hit(senders) | hit(receivers)) & valid
  subs = tuple(gops.khop_mask(ends, senders, receivers, l, edge_weight0) & valid
               for l in range(1, int(num_layers) + 1))
  return df, ends, subs


def init_deletion_operators(dims, init="ones"):
  """One `[d, d]` deletion operator per layer (`d0`, `d1`, ...). `init="ones"` is the official
  `torch.ones(d, d) / 1000`; `"identity"` (commented out in the official code) starts from θ0's
  own representations."""
  if init not in GNNDELETE_INITS:
    raise ValueError(f"unknown GNNDelete init {init!r}; valid: {list(GNNDELETE_INITS)}")
  make = (lambda d: jnp.full((d, d), 1e-3, jnp.float32)) if init == "ones" else (
      lambda d: jnp.eye(d, dtype=jnp.float32))
  return {f"d{i}": make(int(d)) for i, d in enumerate(dims)}


def delete_rows(h: Array, d: Array, mask: Array) -> Array:
  """The deletion operator: `h_i W_D` on rows in `mask`, `h_i` unchanged (exactly) elsewhere."""
  return jnp.where(mask[:, None], h @ d, h)


def gcn_layer_fns(theta, g, edge_weight, row_keep):
  """The frozen GCN θ split at its layers, on the graph with `edge_weight` (inference mode):
  `(h1, layer2)` with `h1 = Â X_u W0` (`[N, H]`, pre-ReLU: the official GCNDelete applies its
  first operator to `conv1`'s output) and `layer2(z1) = Â relu(z1) W1` (`[N, C]`, the logits).
  `layer2(h1)` is `gcn_apply(theta, g, edge_weight, row_keep)`."""
  n = g.x.shape[0]
  s, r, norm = gops.gcn_norm(g.senders, g.receivers, n, edge_weight)
  h1 = g.x @ theta["w0"]
  if row_keep is not None:
    h1 = h1 * row_keep[:, None].astype(h1.dtype)
  h1 = gops.propagate(h1, s, r, norm, n)
  return h1, lambda z1: gops.propagate(jax.nn.relu(z1) @ theta["w1"], s, r, norm, n)


def gnndelete_apply(ops, h1, layer2, subs, *, detach=False):
  """`(z1, z2)`: each layer's output with its deletion operator applied on S^l. With `detach`
  the second layer sees `stop_gradient(z1)`, so `d1`'s loss does not reach `d0` (layer-wise
  training, as the official `both_layerwise` default)."""
  z1 = delete_rows(h1, ops["d0"], subs[0])
  z2 = delete_rows(layer2(jax.lax.stop_gradient(z1) if detach else z1), ops["d1"], subs[1])
  return z1, z2


def sample_negative_pairs(key, senders, receivers, edge_weight0, valid, *, rounds=3):
  """One random node pair `(a_e, b_e)` per edge slot, not an edge of the original graph and not
  a self-loop (PyG `negative_sampling`'s contract): `rounds + 1` (static) candidate pairs drawn
  uniformly over the valid nodes, the first that is no edge is kept (the last one if all are).
  Slot e draws from `fold_in(key, e)` and node k is the k-th valid node, so padding slots or
  nodes added after the real ones change no real slot's pair. Returns int32 `(a [E], b [E])`."""
  n, e = valid.shape[0], senders.shape[0]
  if n * n >= 2 ** 31:
    raise ValueError(f"{n} padded nodes: the int32 edge keys (a * N + b) would overflow.")
  order = jnp.argsort(~valid, stable=True).astype(jnp.int32)  # valid nodes first, in order
  n_valid = jnp.maximum(jnp.sum(valid), 1)
  big = jnp.iinfo(jnp.int32).max
  edge_keys = jnp.sort(jnp.where(edge_weight0 > 0, senders * n + receivers, big))

  def draw(i):  # one fold_in and one draw per slot: a small program to compile
    u = jax.random.uniform(jax.random.fold_in(key, i), (int(rounds) + 1, 2))
    return order[jnp.minimum(jnp.floor(u * n_valid).astype(jnp.int32), n_valid - 1)]

  ab = jax.vmap(draw)(jnp.arange(e))                                  # [E, rounds + 1, 2]
  q = ab[..., 0] * n + ab[..., 1]
  hit = edge_keys[jnp.clip(jnp.searchsorted(edge_keys, q), 0, e - 1)] == q
  ok = ~hit & (ab[..., 0] != ab[..., 1])
  first = jnp.where(jnp.any(ok, 1), jnp.argmax(ok, 1), int(rounds))
  pick = jnp.take_along_axis(ab, first[:, None, None], axis=1)[:, 0]
  return pick[:, 0], pick[:, 1]


def gnndelete_layer_loss(z, z_ref, df_edge, senders, receivers, neg_a, neg_b, ni_mask, alpha):
  """`α·L_DEC + (1 − α)·L_NI` of one layer, both the official `MSELoss()` (mean over entries).

  L_DEC (Deleted Edge Consistency, the code's `loss_r`): the representations of both endpoints
  of every deleted edge e = (s_e, r_e) against θ0's representations of a random non-edge
  (a_e, b_e): `mean_e ||z[s_e] − z_ref[a_e]||² + ||z[r_e] − z_ref[b_e]||²` / (2·dim).
  L_NI (Neighborhood Influence, `loss_l`): `mean over ni_mask rows of ||z − z_ref||² / dim`,
  the subgraph's nodes other than the endpoints keep θ0's representation on the edited graph.
  `z_ref` is treated as a constant. Returns (loss, L_DEC, L_NI).
  """
  z_ref = jax.lax.stop_gradient(z_ref)
  dim = z.shape[-1]
  err = (jnp.sum((z[senders] - z_ref[neg_a]) ** 2, -1)
         + jnp.sum((z[receivers] - z_ref[neg_b]) ** 2, -1))
  dec = jnp.sum(jnp.where(df_edge, err, 0.0)) / jnp.maximum(2.0 * dim * jnp.sum(df_edge), 1.0)
  sq = jnp.sum((z - z_ref) ** 2, -1)
  ni = jnp.sum(jnp.where(ni_mask, sq, 0.0)) / jnp.maximum(dim * jnp.sum(ni_mask), 1.0)
  return alpha * dec + (1.0 - alpha) * ni, dec, ni


def gnndelete_prepare(theta, g, edge_weight0, edge_weight, row_keep, valid, key, *,
                      neg_rounds=3):
  """Everything GNNDelete's loss needs that does not depend on the operators: `(prep, layer2)`
  with `prep` = {`df`, `ends`, `subs` (S^1, S^2), `h1`, `refs` (θ0's two layer outputs on the
  edited graph), `neg_a`, `neg_b`, `ni_masks` (S^l without the endpoints)} and the frozen
  second layer `layer2` (see `gcn_layer_fns`)."""
  df, ends, subs = gnndelete_masks(edge_weight0, edge_weight, g.senders, g.receivers, valid)
  h1, layer2 = gcn_layer_fns(theta, g, edge_weight, row_keep)
  neg_a, neg_b = sample_negative_pairs(key, g.senders, g.receivers, edge_weight0, valid,
                                       rounds=neg_rounds)
  prep = {"df": df, "ends": ends, "subs": subs, "h1": h1, "refs": (h1, layer2(h1)),
          "neg_a": neg_a, "neg_b": neg_b, "ni_masks": tuple(s & ~ends for s in subs)}
  return prep, layer2


def gnndelete_loss(ops, prep, layer2, senders, receivers, alpha):
  """`L^1 + L^2`, the layer losses (`gnndelete_layer_loss`) of `gnndelete_apply(...,
  detach=True)`: its gradient is `∂L^1/∂d0` for `d0` and `∂L^2/∂d1` for `d1` (each operator
  trained on its own layer's loss). Returns (loss, {"dec": [2], "ni": [2]})."""
  zs = gnndelete_apply(ops, prep["h1"], layer2, prep["subs"], detach=True)
  terms = [gnndelete_layer_loss(z, ref, prep["df"], senders, receivers, prep["neg_a"],
                                prep["neg_b"], m, alpha)
           for z, ref, m in zip(zs, prep["refs"], prep["ni_masks"])]
  aux = {"dec": jnp.stack([t[1] for t in terms]), "ni": jnp.stack([t[2] for t in terms])}
  return sum(t[0] for t in terms), aux


def gnndelete_unlearn(theta, g, edge_weight0, edge_weight, row_keep, valid, key, *, num_epochs,
                      lr, alpha, init="ones", neg_rounds=3, backbone="gcn"):
  """GNNDelete on the frozen θ: `num_epochs` (static) full-batch Adam steps (no weight decay)
  on the deletion operators only, layer l trained on its own loss
  `α·L_DEC^l + (1 − α)·L_NI^l` (`gnndelete_loss`). Everything runs on the EDITED graph
  (`edge_weight`); the reference representations are θ0's on that graph, the subgraphs S^l and
  the negative pairs come from the original one (`edge_weight0`). θ never enters the
  optimiser: outside S^2 the logits are θ0's on the edited graph, exactly.

  Returns `(ops, logits [N, C], stats)`: stats has the per-epoch `loss` (before each step),
  `loss_last` (after the last step), the layer terms before the first and after the last step
  (`dec_*`, `ni_*`, `[2]` each) and |S^1|, |S^2|, |D_f| (directed edges).
  """
  check_gnndelete_backbone(backbone)
  prep, layer2 = gnndelete_prepare(theta, g, edge_weight0, edge_weight, row_keep, valid, key,
                                   neg_rounds=neg_rounds)
  ops = init_deletion_operators((theta["w0"].shape[1], theta["w1"].shape[1]), init)
  tx = optax.adam(lr)
  loss_fn = lambda o: gnndelete_loss(o, prep, layer2, g.senders, g.receivers, alpha)

  def epoch(carry, _):
    o, opt = carry
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(o)
    updates, opt = tx.update(grads, opt, o)
    return (optax.apply_updates(o, updates), opt), (loss, aux)

  (ops, _), (losses, aux) = jax.lax.scan(epoch, (ops, tx.init(ops)), None,
                                         length=int(num_epochs))
  final_loss, final_aux = loss_fn(ops)
  _, logits = gnndelete_apply(ops, prep["h1"], layer2, prep["subs"])
  stats = {"loss": losses, "loss_last": final_loss, "dec_first": aux["dec"][0],
           "ni_first": aux["ni"][0], "dec_last": final_aux["dec"], "ni_last": final_aux["ni"],
           "num_s1": jnp.sum(prep["subs"][0]), "num_s2": jnp.sum(prep["subs"][1]),
           "num_df": jnp.sum(prep["df"])}
  return ops, logits, stats


# ---------------------------------------------------------------------------
# Unlearning requests (host, numpy; the result is a set of static-shape masks).

def random_split(num_nodes, num_pad, test_ratio, rng):
  """80/20-style random node split of the real nodes (sklearn `train_test_split` analogue)."""
  perm = rng.permutation(num_nodes)
  n_test = int(round(test_ratio * num_nodes))
  train = np.zeros(num_pad, bool)
  test = np.zeros(num_pad, bool)
  test[perm[:n_test]] = True
  train[perm[n_test:]] = True
  return train, test


def make_request(kind, rng, train_mask, senders, receivers, edge_mask, ratio, *,
                 reverse=None, edge_pool=None):
  """One unlearning request as masks over the padded arrays.

  Args:
    kind: "feature" (zero the feature rows of ratio·|train| train nodes), "node" (delete every
      edge of ratio·|train| train nodes and drop their labels), or "edge" (delete ratio·|E_und|
      undirected edges, both directions; U = their endpoints).
    rng: numpy Generator.
    train_mask: bool `[N_pad]`.
    senders, receivers: int `[E_pad]`; edge_mask: bool `[E_pad]` real edges.
    ratio: the unlearning ratio ρ.
    reverse: `gops.reverse_edge_index` of the edge list (computed if None).
    edge_pool: bool `[E_pad]`, the undirected edges (s < r) to sample edge requests from
      (default: all real ones); the adversarial test passes exactly the injected edges and
      ratio=1.

  Returns:
    dict of numpy arrays: `u_mask [N]`, `row_keep [N]` float32, `edge_weight [E]` float32,
    `train_keep [N]` (train nodes whose labels remain), `kind_id` (int32 scalar, index in
    `KINDS`: lets one vmapped program pick per-kind settings such as GIF's hop count).
  """
  if kind not in KINDS:
    raise ValueError(f"unknown request kind {kind!r}; valid: {list(KINDS)}")
  n_pad = train_mask.shape[0]
  senders, receivers = np.asarray(senders), np.asarray(receivers)
  w = np.asarray(edge_mask, np.float32).copy()
  u = np.zeros(n_pad, bool)
  row_keep = np.ones(n_pad, np.float32)
  train_keep = train_mask.copy()
  if kind in ("feature", "node"):
    train_ids = np.flatnonzero(train_mask)
    num = int(ratio * len(train_ids))
    if num < 1:
      raise ValueError(f"ratio={ratio} of {len(train_ids)} train nodes selects no node.")
    u[rng.choice(train_ids, num, replace=False)] = True
    if kind == "feature":
      row_keep[u] = 0.0
    else:
      w[u[senders] | u[receivers]] = 0.0
      train_keep &= ~u
  else:
    pool = (edge_mask & (senders < receivers)) if edge_pool is None else edge_pool
    ids = np.flatnonzero(pool)
    num = int(round(ratio * len(ids)))
    if num < 1:
      raise ValueError(f"ratio={ratio} of {len(ids)} undirected edges selects no edge.")
    pick = rng.choice(ids, num, replace=False)
    rev = gops.reverse_edge_index(senders, receivers) if reverse is None else reverse
    if np.any(rev[pick] < 0):
      raise ValueError("edge request: the edge list must list both directions of every edge.")
    w[pick] = 0.0
    w[rev[pick]] = 0.0
    u[senders[pick]] = True
    u[receivers[pick]] = True
  # A request must change the graph (OpenGU #5: "unlearning is not happening at all").
  if kind != "feature" and np.array_equal(w, np.asarray(edge_mask, np.float32)):
    raise ValueError(f"{kind} request removed no edge; the sampled nodes are isolated.")
  return {"u_mask": u, "row_keep": row_keep, "edge_weight": w, "train_keep": train_keep,
          "kind_id": np.int32(KINDS.index(kind))}


def inject_adversarial_edges(rng, labels, train_mask, senders, receivers, num_edges):
  """Host: `num_edges` new undirected edges between random nodes of `train_mask` (the official
  code: train nodes; pass all real nodes for the stronger variant) with different labels.

  Unlike the official code (whose `new_edge not in edge_index` test is not an edge-membership
  test), existing edges, duplicates and self loops are really excluded. Returns `(s, r)` with
  both directions (`2 * num_edges` entries).
  """
  train_ids = np.flatnonzero(train_mask)
  existing = set(zip(np.asarray(senders).tolist(), np.asarray(receivers).tolist()))
  new = set()
  while len(new) < num_edges:
    a, b = rng.choice(train_ids, 2)
    if a == b or labels[a] == labels[b]:
      continue
    a, b = int(min(a, b)), int(max(a, b))
    if (a, b) in existing or (a, b) in new:
      continue
    new.add((a, b))
  pairs = np.array(sorted(new), np.int32).reshape(-1, 2)
  return (np.concatenate([pairs[:, 0], pairs[:, 1]]),
          np.concatenate([pairs[:, 1], pairs[:, 0]]))
