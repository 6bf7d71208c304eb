"""Gradient estimators for binary weights: STE, MetaQuant (fast-net), FSG (fast + slow + HGS + LRE).

One jitted step per estimator (`make_train_step(method, ...)`), all sharing the same state layout
(`EstimatorState`) so the four runs start from the same init and see the same batches.

How the hypernetworks get a training signal (the question MetaQuant users ask): the learned
gradient is not used through a custom backward pass; it is used to build a *look-ahead weight*
W~ = W - lr * (learned gradient), the network is evaluated at Q(W~), and the loss is
differentiated w.r.t. the hypernetwork parameters through W~ (with the STE through Q). The
learned gradient that lowers the loss after one step is the one that gets reinforced.

Step t (t >= 1; step 0 only records g_q and w~ and updates nothing, as the official code):

  fast_t = g_q^{t-1} * FastNet(w~^{t-1})                      (per weight)
  hgs    = fifo_append(hgs, g_q^{t-1})                          (last L gradients, oldest first)
  slow_t = SlowNet([LRE_l ; hgs_l])[-n_l:]                      (Mamba, per layer, shared weights)
  W~     = W - lr (alpha slow_t + (1 - alpha) c(W) fast_t)      (FSG look-ahead)
  W~     = W - lr (c fast_t + sg(dir_{t-1} - c fast_t))         (MetaQuant look-ahead)
  b~     = b - lr dir_{t-1}                                     (fc bias and FP kernels, hypernet methods)
  loss   = CE(net(x; dorefa(W~), b~, BN))
  g_q^t  = dL/dW_q ; hypernets <- Adam(dL/d theta) ; W <- W - lr AdamDir(c(W) fast_t)
  (`update_uses='combined'`: W <- W - lr AdamDir(alpha slow_t + (1 - alpha) c fast_t))

LSTM hypernetworks (the "LSTM-based hypernetworks" FSG claims to beat; the official code's
`-meta LSTMFC` and `-meta MetaFastAndLSTM`): a coordinate-wise LSTM (MetaQuant's MetaLSTMFC,
nn.LSTM(1, H) + Linear(H, 1), one LSTM time step per training step, one hidden state per weight
carried across steps and detached) reads w~^{t-1} and gives a per-weight gain:

  metaquant_lstm: meta_t = g_q^{t-1} * LSTM(w~^{t-1}; h_{t-1}) in place of MetaQuant's fast_t
  fsg_lstm:       slow_t = g_q^{t-1} * LSTM(w~^{t-1}; h_{t-1}) in place of the Mamba slow grad
                  (no HGS and no LRE: the LSTM state is the history), fast_t as FSG

STE: W <- W - lr AdamDir(c(W) g_q(W)) with no look-ahead. "AdamDir" is Adam's bias-corrected
m / (sqrt(v) + eps) without lr (`optax.scale_by_adam`), followed by an explicit SGD step, as the
official code's `get_refine_gradient()`.
"""

from __future__ import annotations

import functools
from typing import Callable

import flax
import jax
import jax.numpy as jnp
import optax

from jaxlab.ops.ste import dorefa_normalize, dorefa_scale, dorefa_weight
from jaxlab.projects.fsg_bnn import slownet

METHODS = ("ste", "metaquant", "fsg", "fsg_nolre", "fsg_combined", "metaquant_lstm", "fsg_lstm")
HYPER_METHODS = ("metaquant", "fsg", "fsg_nolre", "fsg_combined", "metaquant_lstm", "fsg_lstm")
SLOW_METHODS = ("fsg", "fsg_nolre", "fsg_combined")   # the Mamba slow-net over the HGS
LSTM_METHODS = ("metaquant_lstm", "fsg_lstm")
METAQUANT_METHODS = ("metaquant", "metaquant_lstm")    # MetaQuant's look-ahead and meta lr


def check_method(method: str) -> None:
  if method not in METHODS:
    raise ValueError(f"unknown estimator {method!r}; valid: {', '.join(METHODS)}")


# ----------------------------------------------------------------------------- fast-net
def init_fast(rng, hidden: int = 100) -> dict:
  """MetaQuant's MetaMultiFC: element-wise MLP 1 -> H -> H -> 1, no biases (torch default init)."""
  k1, k2, k3 = jax.random.split(rng, 3)
  u = lambda k, shape, fan: jax.random.uniform(k, shape, jnp.float32, -fan ** -0.5, fan ** -0.5)
  return {"w1": u(k1, (1, hidden), 1), "w2": u(k2, (hidden, hidden), hidden),
          "w3": u(k3, (hidden, 1), hidden)}


def fast_apply(theta: dict, x: jax.Array, nonlinear: str = "none") -> jax.Array:
  """Per-element gain FastNet(x) for x of any shape (one scalar in, one scalar out).

  With no nonlinearity (the code's default) the bias-free MLP is the linear map x -> x w1 w2 w3,
  so it is applied as one scalar gain (w1 w2 w3 is 1 x 1): the same function and gradients as the
  element-wise MLP without its n x H x H cost per step.
  """
  act = {"none": None, "relu": jax.nn.relu, "tanh": jnp.tanh}.get(nonlinear, "bad")
  if act == "bad":
    raise ValueError(f"unknown fsg.fast_nonlinear {nonlinear!r}; valid: none, relu, tanh")
  if act is None:
    gain = (theta["w1"] @ theta["w2"] @ theta["w3"])[0, 0]
    return x * gain
  h = act(x.reshape(-1, 1) @ theta["w1"])
  h = act(h @ theta["w2"])
  return (h @ theta["w3"]).reshape(x.shape)


def fast_apply_elementwise(theta: dict, x: jax.Array) -> jax.Array:
  """The literal element-wise linear MLP (reference for the collapsed form)."""
  return ((x.reshape(-1, 1) @ theta["w1"]) @ theta["w2"] @ theta["w3"]).reshape(x.shape)


# ----------------------------------------------------------------------------- LSTM hypernet
def init_lstm(rng, hidden: int = 100) -> dict:
  """MetaQuant's MetaLSTMFC: nn.LSTM(1, H) + Linear(H, 1), torch's init U(+-1/sqrt(H)) for all.

  Gate blocks along the 4H axis in torch's order (input, forget, cell, output)."""
  if hidden < 1:
    raise ValueError(f"fsg.lstm_hidden must be >= 1, got {hidden}")
  k = jax.random.split(rng, 6)
  u = lambda key, shape: jax.random.uniform(key, shape, jnp.float32, -hidden ** -0.5,
                                            hidden ** -0.5)
  return {"w_ih": u(k[0], (1, 4 * hidden)), "w_hh": u(k[1], (hidden, 4 * hidden)),
          "b_ih": u(k[2], (4 * hidden,)), "b_hh": u(k[3], (4 * hidden,)),
          "w_out": u(k[4], (hidden, 1)), "b_out": u(k[5], (1,))}


def lstm_apply(theta: dict, x: jax.Array, carry: jax.Array):
  """One LSTM time step for every element of x (the code feeds [seq 1, batch n, 1]).

  carry [2, n, H] = (h, c), zeros before the first call (torch's default state). Returns the
  per-element output Linear(h') shaped like x, and the new carry (the caller detaches it, as
  the code's `h.detach()`)."""
  h, c = carry[0], carry[1]
  z = (x.reshape(-1, 1) @ theta["w_ih"] + theta["b_ih"] + h @ theta["w_hh"] + theta["b_hh"])
  i, f, g, o = jnp.split(z, 4, axis=-1)
  c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
  h = jax.nn.sigmoid(o) * jnp.tanh(c)
  return (h @ theta["w_out"] + theta["b_out"]).reshape(x.shape), jnp.stack([h, c])


# ----------------------------------------------------------------------------- HGS
def fifo_append(buf: jax.Array, g: jax.Array) -> jax.Array:
  """HGS ring buffer [L, n] kept oldest-first: drop row 0, append g (flattened) as the last row."""
  return jnp.concatenate([buf[1:], g.reshape(1, -1).astype(buf.dtype)], axis=0)


def hgs_sequence(buf: jax.Array, num_valid: jax.Array, embedding: jax.Array, lead: int = 0):
  """(u, mask, reset) of one layer: [lead + 1 masked zeros ; LRE ; last `num_valid` rows of buf].

  The official code scans [e_l ; g_{t-k} ; ... ; g_{t-1}] with k = min(t, L); here the unfilled
  rows stay in front as masked zeros and the embedding sits right before the first valid row, so
  the shape is static ([lead + 1 + L n]) and the real tokens see exactly the code's sequence.
  `reset` marks the embedding token (the state starts from zero there).
  """
  length, n = buf.shape
  u = jnp.concatenate([jnp.zeros((lead + 1,), buf.dtype), buf.reshape(-1)])
  pos = lead + (length - num_valid) * n    # index of the embedding token
  u = u.at[pos].set(embedding.astype(buf.dtype))
  idx = jnp.arange(u.shape[0])
  return u, idx >= pos, idx == pos


def slow_grads(theta_s: dict, lre: jax.Array, hgs: dict, num_valid, chunk: int) -> dict:
  """slow_l = SlowNet([LRE_l ; HGS_l])[-n_l:] for every layer, all layers in one packed scan.

  Each layer's sequence is preceded by d_conv - 1 masked zeros and the state is reset at its
  embedding token, so packing is exactly equivalent to one call per layer (tested) but compiles
  one scan instead of one per layer.
  """
  lead = theta_s["conv_w"].shape[0] - 1
  us, masks, resets, ends = [], [], [], []
  total = 0
  for i, buf in enumerate(hgs.values()):
    u, m, r = hgs_sequence(buf, num_valid, lre[i], lead)
    us.append(u), masks.append(m), resets.append(r)
    total += u.shape[0]
    ends.append(total)
  y = slownet.mamba_apply(theta_s, jnp.concatenate(us), jnp.concatenate(masks), chunk=chunk,
                          reset=jnp.concatenate(resets))
  return {name: y[end - buf.shape[1]:end] for (name, buf), end in zip(hgs.items(), ends)}


def slow_grads_per_layer(theta_s: dict, lre: jax.Array, hgs: dict, num_valid, chunk: int) -> dict:
  """Reference: one slow-net call per layer on exactly the code's sequence [LRE ; valid rows]."""
  out = {}
  for i, (name, buf) in enumerate(hgs.items()):
    u, mask, _ = hgs_sequence(buf, num_valid, lre[i])
    out[name] = slownet.mamba_apply(theta_s, u, mask, chunk=chunk)[-buf.shape[1]:]
  return out


# ----------------------------------------------------------------------------- state
@flax.struct.dataclass
class EstimatorState:
  step: jax.Array
  weights: dict           # W (full precision latent weights), {layer: kernel}
  rest: dict              # BN params, fc bias (flat dict)
  batch_stats: dict
  opt: optax.OptState     # scale_by_adam state of {'w': weights, 'r': rest}
  hyper: dict             # {'fast': theta_f, 'slow': theta_s, 'lre': [num_layers]}
  hyper_opt: dict         # {'fast': adam state, 'slow': adam state}
  g_prev: dict            # g_q of the previous step
  wt_prev: dict           # w~ (pre-quantised weight in [0, 1]) of the previous step
  dir_prev: dict          # Adam direction of the previous update {'w':..., 'r':...}
  hgs: dict               # {layer: [L, n_l]}
  lstm: dict              # LSTM hypernet state {layer: [2, n_l, H]} (H = 0 for other methods)


def init_hyper(rng, fsg_cfg, num_layers: int) -> dict:
  kf, ks, ke = jax.random.split(rng, 3)
  d_inner = int(fsg_cfg.expand)  # d_model = 1
  # The LSTM's key is folded in, so the other hypernetworks keep the inits they had before it.
  return {"fast": init_fast(kf, int(fsg_cfg.fast_hidden)),
          "slow": slownet.init_mamba(ks, d_inner=d_inner, d_state=int(fsg_cfg.d_state),
                                     d_conv=int(fsg_cfg.d_conv)),
          "lre": jax.random.normal(ke, (num_layers,), jnp.float32),  # nn.Embedding init N(0, 1)
          "lstm": init_lstm(jax.random.fold_in(rng, 3), int(fsg_cfg.get("lstm_hidden", 100)))}


def _hyper_txs(fsg_cfg, method: str | None = None):
  """Adam of the hypernetworks. MetaQuant's fast net has its own lr (`metaquant_lr`; the official
  MultiFC meta-optimizer runs at 1e-3 while FSG's fast net runs at 1e-2); Adam's state does not
  depend on the lr, so `init_state` can build it without the method. The LSTM hypernet runs at
  the code's meta lr (1e-3) as MetaQuant's only net and at the slow-net's lr in fsg_lstm."""
  fast_lr = float(fsg_cfg.fast_lr)
  slow_lr = float(fsg_cfg.slow_lr)
  meta_lr = float(fsg_cfg.get("metaquant_lr", fast_lr))
  if method == "metaquant":
    fast_lr = meta_lr
  return {"fast": optax.adam(fast_lr), "slow": optax.adam(slow_lr),
          "lstm": optax.adam(meta_lr if method == "metaquant_lstm" else slow_lr)}


def init_state(weights: dict, rest: dict, batch_stats, hyper: dict, fsg_cfg,
               method: str | None = None) -> EstimatorState:
  """The shared starting state; `method` sizes the LSTM hypernet's per-weight state (empty for
  the methods without one, so they carry no [n, H] buffers)."""
  txs = _hyper_txs(fsg_cfg)
  zeros = lambda t: jax.tree.map(jnp.zeros_like, t)
  length = int(fsg_cfg.hgs_length)
  hidden = hyper["lstm"]["w_hh"].shape[0] if method in LSTM_METHODS else 0
  return EstimatorState(
      step=jnp.zeros((), jnp.int32), weights=weights, rest=rest, batch_stats=batch_stats,
      opt=optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8).init({"w": weights, "r": rest}),
      hyper=hyper,
      hyper_opt={"fast": txs["fast"].init(hyper["fast"]),
                 "slow": txs["slow"].init({"slow": hyper["slow"], "lre": hyper["lre"]}),
                 "lstm": txs["lstm"].init(hyper["lstm"])},
      g_prev=zeros(weights), wt_prev=zeros(weights),
      dir_prev={"w": zeros(weights), "r": zeros(rest)},
      hgs={k: jnp.zeros((length, w.size), jnp.float32) for k, w in weights.items()},
      lstm={k: jnp.zeros((2, w.size, hidden), jnp.float32) for k, w in weights.items()})


def _where(pred, new, old):
  return jax.tree.map(lambda a, b: jnp.where(pred, a, b), new, old)


# ----------------------------------------------------------------------------- step
def make_train_step(method: str, apply_fn: Callable, fsg_cfg, *, bits: int = 1,
                    fast_fn: Callable | None = None, slow_fn: Callable | None = None,
                    jit: bool = True, with_grads: bool = False):
  """train_step(state, images, labels, lr) -> (state, metrics) for one estimator.

  apply_fn(weights_q, rest, batch_stats, images) -> (logits, new_batch_stats).
  fast_fn(theta_f, w~) / slow_fn(theta_s, lre, hgs, num_valid) override the hypernetworks (tests).
  with_grads=True also returns grads(state, images, labels, lr) -> (loss, dL/dW_q, dL/drest,
  dL/dhyper) without any update (for tests).
  fsg_cfg fields: alpha, hgs_length, fast_nonlinear, fast_lr, metaquant_lr, slow_lr, chunk,
  lookahead (bool), lstm_hidden (the LSTM methods; the state must come from
  init_state(..., method=method)),
  update_grad ('stale' as the code, or 'current': W's update uses this step's g_q),
  update_uses ('fast' as the code, or 'combined'; the Mamba methods only: fsg_lstm updates W
  with c * fast as the code's MetaFastAndLSTM).
  """
  check_method(method)
  alpha = float(fsg_cfg.alpha)
  length = int(fsg_cfg.hgs_length)
  lookahead_on = bool(fsg_cfg.get("lookahead", True))
  update_grad = fsg_cfg.get("update_grad", "stale")
  if update_grad not in ("stale", "current"):
    raise ValueError(f"fsg.update_grad must be 'stale' or 'current', got {update_grad!r}")
  chunk = int(fsg_cfg.get("chunk", 1024))
  nonlinear = fsg_cfg.get("fast_nonlinear", "none")
  fast_fn = fast_fn or (lambda th, x: fast_apply(th, x, nonlinear))
  slow_fn = slow_fn or (lambda th, lre, hgs, k: slow_grads(th, lre, hgs, k, chunk))
  txs = _hyper_txs(fsg_cfg, method)
  adam_dir = optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8)
  hyper_m = method in HYPER_METHODS
  slow_m = method in SLOW_METHODS
  use_lre = method != "fsg_nolre"
  update_uses = fsg_cfg.get("update_uses", "fast")
  if update_uses not in ("fast", "combined"):
    raise ValueError(f"fsg.update_uses must be 'fast' or 'combined', got {update_uses!r}")
  combined = slow_m and (method == "fsg_combined" or update_uses == "combined")
  lstm_m = method in LSTM_METHODS
  if lstm_m and update_grad == "current":
    # The LSTM's state advances once per step on w~^{t-1}; a second call on this step's w~ would
    # either advance it twice or need a state the code never forms. Refuse rather than invent.
    raise ValueError(f"{method} needs fsg.update_grad='stale' (the code's order); "
                     "update_grad='current' is defined for the MultiFC fast net only")
  if combined and update_grad == "current":
    # The 'current' update reads this step's fast output only; the slow grad of this step would
    # need g_q pushed into the HGS first, which the code never does. Refuse, do not drop it.
    raise ValueError("fsg_combined / fsg.update_uses='combined' needs fsg.update_grad='stale'; "
                     "update_grad='current' has no slow grad for the weight update")

  def step(state: EstimatorState, images, labels, lr, grads_only=False):
    lr = jnp.asarray(lr, jnp.float32)
    if lstm_m:
      hidden = state.hyper["lstm"]["w_hh"].shape[0]
      bad = [k for k, v in state.lstm.items() if v.shape[-1] != hidden]
      if bad:
        raise ValueError(f"{method}: the state's LSTM buffers for {bad} have width "
                         f"{state.lstm[bad[0]].shape[-1]}, the hypernet {hidden}; build the "
                         f"state with init_state(..., method={method!r})")
    W, rest = state.weights, state.rest
    started = state.step > 0
    c = {k: dorefa_scale(w) for k, w in W.items()}
    hgs = state.hgs
    num_valid = jnp.minimum(state.step, length)
    if slow_m:
      hgs = _where(started, {k: fifo_append(state.hgs[k], state.g_prev[k]) for k in W}, state.hgs)

    def hyper_outputs(hyper, need_slow=True):
      """(fast, slow, new LSTM state); metaquant_lstm's LSTM takes the fast slot, fsg_lstm's
      the slow one."""
      slow = carry = None
      if lstm_m:
        lstm_out, carry = {}, {}
        for k in W:
          gain, carry[k] = lstm_apply(hyper["lstm"], state.wt_prev[k], state.lstm[k])
          lstm_out[k] = state.g_prev[k] * gain
        if method == "metaquant_lstm":
          return lstm_out, None, carry
        slow = lstm_out
      fast = {k: state.g_prev[k] * fast_fn(hyper["fast"], state.wt_prev[k]) for k in W}
      if slow_m and need_slow:
        lre = hyper["lre"] if use_lre else jnp.zeros_like(hyper["lre"])
        slow = jax.tree.map(lambda s, w: s.reshape(w.shape),
                            slow_fn(hyper["slow"], lre, hgs, num_valid), W)
      return fast, slow, carry

    def lookahead(hyper):
      if not (hyper_m and lookahead_on):
        return W, (None, None, None)
      fast, slow, carry = hyper_outputs(hyper)
      if method in METAQUANT_METHODS:
        delta = {k: c[k] * fast[k] + jax.lax.stop_gradient(state.dir_prev["w"][k] - c[k] * fast[k])
                 for k in W}
      else:
        delta = {k: alpha * slow[k] + (1 - alpha) * c[k] * fast[k] for k in W}
      on = started.astype(jnp.float32)
      return {k: W[k] - on * lr * delta[k] for k in W}, (fast, slow, carry)

    def pre(hyper):
      wt, (fast, _, carry) = lookahead(hyper)
      wq = {k: dorefa_weight(v, bits) for k, v in wt.items()}
      # The LSTM methods hand their fast output and new state out of the look-ahead (detached),
      # so the weight update does not run the LSTM a second time.
      extra = jax.lax.stop_gradient((fast, carry)) if lstm_m and lookahead_on else None
      return wq, ({k: jax.lax.stop_gradient(dorefa_normalize(v)) for k, v in wt.items()}, extra)

    wq, pre_vjp, (wtilde, lstm_out) = jax.vjp(pre, state.hyper, has_aux=True)

    rest_t = rest
    # The code's non-quantised weights (fc bias; here also full-precision kernels kept by
    # quant.fp_layers) look ahead along their previous Adam direction; BN does not.
    la_keys = [k for k in rest if k == "fc/bias" or k.endswith("kernel")]
    if hyper_m and lookahead_on and la_keys:
      on = started.astype(jnp.float32)
      rest_t = {**rest, **{k: rest[k] - on * lr * state.dir_prev["r"][k] for k in la_keys}}

    def inner(wq, rest_t):
      logits, new_bs = apply_fn(wq, rest_t, state.batch_stats, images)
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
      acc = (logits.argmax(-1) == labels).mean()
      return loss, (acc, new_bs)

    loss, inner_vjp, (acc, new_bs) = jax.vjp(inner, wq, rest_t, has_aux=True)
    g_wq, g_rest = inner_vjp(jnp.ones_like(loss))

    if grads_only:
      return loss, g_wq, g_rest, pre_vjp(g_wq)[0]
    # Hypernetworks: Adam on dL/dtheta through the look-ahead (before the weight update).
    hyper, hyper_opt = state.hyper, state.hyper_opt
    if hyper_m and lookahead_on:
      (g_hyper,) = pre_vjp(g_wq)
      new_hyper, new_opt = dict(hyper), dict(hyper_opt)
      if method != "metaquant_lstm":   # its only net is the LSTM
        upd_f, opt_f = txs["fast"].update(g_hyper["fast"], hyper_opt["fast"], hyper["fast"])
        new_hyper["fast"] = optax.apply_updates(hyper["fast"], upd_f)
        new_opt["fast"] = opt_f
      if lstm_m:
        upd_l, opt_l = txs["lstm"].update(g_hyper["lstm"], hyper_opt["lstm"], hyper["lstm"])
        new_hyper["lstm"] = optax.apply_updates(hyper["lstm"], upd_l)
        new_opt["lstm"] = opt_l
      if slow_m:
        sp = {"slow": hyper["slow"], "lre": hyper["lre"]}
        gs = {"slow": g_hyper["slow"],
              "lre": g_hyper["lre"] if use_lre else jnp.zeros_like(g_hyper["lre"])}
        upd_s, opt_s = txs["slow"].update(gs, hyper_opt["slow"], sp)
        sp = optax.apply_updates(sp, upd_s)
        if not use_lre:
          sp = {**sp, "lre": hyper["lre"]}
        new_hyper.update(slow=sp["slow"], lre=sp["lre"])
        new_opt["slow"] = opt_s
      hyper = _where(started, new_hyper, hyper)
      hyper_opt = _where(started, new_opt, hyper_opt)

    # The weight gradient.
    if not hyper_m:
      g_w = {k: c[k] * g_wq[k] for k in W}
      do_update = jnp.asarray(True)
    elif update_grad == "current":
      g_w = {k: c[k] * (g_wq[k] * fast_fn(state.hyper["fast"], wtilde[k])) for k in W}
      do_update = jnp.asarray(True)
    elif lstm_m:
      if lstm_out is None:   # look-ahead off (tests): run the hypernets here instead
        fast, _, carry = hyper_outputs(state.hyper)
        lstm_out = jax.lax.stop_gradient((fast, carry))
      g_w = {k: c[k] * lstm_out[0][k] for k in W}   # (MetaQuant-)LSTM/fast output, detached
      do_update = started
    else:
      # The slow-net is traced a second time only when the update uses it (fsg_combined).
      fast, slow, _ = hyper_outputs(state.hyper, need_slow=combined)
      if combined:
        g_w = {k: alpha * slow[k] + (1 - alpha) * c[k] * fast[k] for k in W}
      else:
        g_w = {k: c[k] * fast[k] for k in W}
      g_w = jax.lax.stop_gradient(g_w)
      do_update = started
    dirs, opt = adam_dir.update({"w": g_w, "r": g_rest}, state.opt)
    new_w = {k: W[k] - lr * dirs["w"][k] for k in W}
    new_rest = {k: rest[k] - lr * dirs["r"][k] for k in rest}
    new_w, new_rest, opt, dir_prev = _where(
        do_update, (new_w, new_rest, opt, dirs), (W, rest, state.opt, state.dir_prev))
    lstm_state = state.lstm
    if lstm_m:   # the state advances from step 1 on, as from the code's first call
      lstm_state = _where(started, lstm_out[1], state.lstm)
    new_state = state.replace(
        step=state.step + 1, weights=new_w, rest=new_rest, batch_stats=new_bs, opt=opt,
        hyper=hyper, hyper_opt=hyper_opt, g_prev=g_wq, wt_prev=wtilde, dir_prev=dir_prev, hgs=hgs,
        lstm=lstm_state)
    return new_state, {"loss": loss, "accuracy": acc}

  train_step = jax.jit(step, donate_argnums=(0,)) if jit else step
  if with_grads:
    grads = functools.partial(step, grads_only=True)
    return train_step, (jax.jit(grads) if jit else grads)
  return train_step


def slow_positions(weights: dict, length: int, d_conv: int = 8) -> int:
  """Slow-net sequence positions per step: sum_l (d_conv + L n_l) (the code's: sum_l 1 + L n_l)."""
  return int(sum(d_conv + length * w.size for w in weights.values()))


def make_eval_fn(apply_eval: Callable, bits: int = 1):
  """Inference: net(x; Q(W)) with the stored W (no look-ahead, no hypernetworks)."""
  @jax.jit
  def eval_step(weights, rest, batch_stats, images, labels, mask):
    wq = {k: dorefa_weight(w, bits) for k, w in weights.items()}
    logits = apply_eval(wq, rest, batch_stats, images)
    m = mask.astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    return {"correct": ((logits.argmax(-1) == labels) * m).sum(), "loss": (ce * m).sum(),
            "count": m.sum()}
  return eval_step



def make_bn_recalibrate_fn(apply_train: Callable, bits: int = 1, momentum: float = 0.9):
  """BN statistics of Q(W) recomputed on one batch ("precise BN"), for evaluation only.

  apply_train in train mode normalises with the batch statistics and returns
  momentum * old + (1 - momentum) * batch; from old = 0 that is (1 - momentum) * batch, so every
  layer's running mean/var become exactly the batch statistics of this forward pass. Binary
  activations make the net very sensitive to the lag of the running averages (a small shift
  flips signs), so all estimators are evaluated with statistics of their final weights.
  """
  @jax.jit
  def recalibrate(weights, rest, batch_stats, images):
    wq = {k: dorefa_weight(w, bits) for k, w in weights.items()}
    zeros = jax.tree.map(jnp.zeros_like, batch_stats)
    _, new = apply_train(wq, rest, zeros, images)
    return jax.tree.map(lambda v: v / (1.0 - momentum), new)
  return recalibrate
