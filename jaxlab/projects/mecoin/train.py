"""Mecoin graph few-shot class-incremental run: pretrain, then every method through the sessions.

One call of `train_and_evaluate` runs, for `config.num_seeds` seeds at once (every jitted
function is `vmap`-ed over seeds; splits, novel-class order and initialisations differ per
seed), on the same frozen encoder and the same sessions:

  finetune              the whole GCN (encoder + classifier) trained on the current session's
                        shots only for a fixed budget, last step kept (the catastrophic-
                        forgetting reference of the GFSCIL literature);
  finetune_valsel       the same, but the step with the best accuracy on the accumulated
                        validation nodes is kept: model selection sees old-class labels, which
                        stops fine-tuning before it forgets (a much stronger reference);
  finetune_replay       the whole GCN on all accumulated shots (best validation step);
  finetune_head         linear head on the frozen encoder, current shots, last step;
  finetune_head_replay  the same head on the accumulated shots, best validation step;
  ncm                   nearest class mean of frozen embeddings of the accumulated shots;
  joint                 upper bound: the whole GCN trained on the full training pool of every
                        seen class (not few-shot), restarted from the pretrained model each session;
  mecoin*               Mecoin variants (`config.mecoin_variants`): memory prepared once on the
                        base pretraining nodes, then values (+ MeCs unless the read is hard) and the
                        GKIM head trained on the accumulated shots of each session.

Protocol per session: train `epochs` full-batch steps, evaluate on the accumulated validation
nodes after every step, keep the best (ties: the later step; `finetune` and `finetune_head`
keep the last step), report accuracy on the
accumulated test nodes of all seen classes. Session 0 of finetune*/joint is the pretrained
model itself; Mecoin and NCM build their session-0 memory from `shot` nodes per base class.
"""

from __future__ import annotations

import functools
import time
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import tqdm

from jaxlab import configs
from jaxlab import data as jdata
from jaxlab import train as jtrain
from jaxlab.projects.mecoin import losses
from jaxlab.projects.mecoin import model as mmodel
from jaxlab.projects.mecoin import sessions as msessions

# Keys of the shared config vocabulary this project does not read (configs.refuse_unused).
UNUSED_SHARED_KEYS = configs.OPTIM_KEYS + configs.LOOP_KEYS + ("eval.batch_size", "data.batch_size")
UNUSED_HINT = ("Mecoin reads pretrain.lr / pretrain.wd / pretrain.epochs, mecoin.lr / "
               "mecoin.epochs / mecoin.grad_clip and baselines.head_lr / baselines.epochs")

BASELINES = ("finetune", "finetune_valsel", "finetune_replay", "finetune_head",
             "finetune_head_replay", "ncm", "joint")


def load_graph(config):
  """The padded graph, its sparse features and the stacked session plans of all seeds."""
  d = config.data
  gd = jdata.get_dataset(d.name, source=d.source, data_dir=d.dir or None,
                         normalize_features=d.normalize_features)
  gd = gd.padded(multiple=d.pad_multiple)
  if d.extra_node_pad or d.extra_edge_pad:
    gd = gd.padded(gd.graph.nodes.shape[0] + d.extra_node_pad,
                   gd.graph.senders.shape[0] + d.extra_edge_pad)
  labels = np.where(gd.node_mask, gd.labels, -1)
  s = config.sessions
  seeds = [config.seed + i for i in range(config.num_seeds)]
  plans = [msessions.make_sessions(
      labels, gd.graph.senders, gd.graph.receivers, gd.edge_mask, gd.num_classes,
      n_base=d.n_base, way=s.way, shot=s.shot, seed=seed, val_frac=s.val_frac,
      joint_frac=s.joint_frac, num_sessions=s.num_sessions or None) for seed in seeds]
  stacked = msessions.stack_sessions(plans, extra_pad=d.extra_index_pad)
  feats = mmodel.sparse_features(np.asarray(gd.graph.nodes))
  return gd, feats, stacked, plans, seeds


def count_params(tree):
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def _fit(params, tx, loss_fn, val_fn, num_epochs, rng, select_best=True):
  """`num_epochs` full-batch steps in one `lax.scan`.

  Returns the params of the best validation step (ties: the later step), or of the last step
  when `select_best` is False (the fixed-budget protocol of the fine-tuning reference)."""
  opt_state = tx.init(params)

  def epoch(carry, i):
    p, o, best_p, best_acc = carry
    (loss, _), g = jax.value_and_grad(loss_fn, has_aux=True)(p, jax.random.fold_in(rng, i))
    updates, o = tx.update(g, o, p)
    p = optax.apply_updates(p, updates)
    acc = val_fn(p)
    better = acc >= best_acc
    best_p = jax.tree.map(lambda a, b: jnp.where(better, a, b), p, best_p)
    return (p, o, best_p, jnp.where(better, acc, best_acc)), (loss, acc)

  carry = (params, opt_state, params, jnp.float32(-1.))
  (last_p, _, best_p, best_acc), (loss, acc) = jax.lax.scan(epoch, carry, jnp.arange(num_epochs))
  return (best_p if select_best else last_p), {"best_val": best_acc, "loss": loss, "val": acc}


def forgetting(group_acc):
  """Average forgetting (Chaudhry et al., 2018) after the last session, per seed.

  `group_acc [R, S, S]`: accuracy on the classes session g introduced, after session t (t >= g).
  For every group g learned before the last session T: its best accuracy over sessions g..T-1
  minus its accuracy after T; averaged over g < T. Unlike PD (session-0 accuracy minus last), it
  does not count the drop that comes from the task growing from |base| to all classes.
  """
  group_acc = np.asarray(group_acc)
  T = group_acc.shape[1] - 1
  if T < 1:
    return np.zeros(group_acc.shape[0])
  drops = [group_acc[:, g:T, g].max(1) - group_acc[:, T, g] for g in range(T)]
  return np.mean(drops, axis=0)


def _mecoin_labels(params, variant):
  """optax partition labels: which Mecoin parameter groups a variant trains."""
  train = {"values"}
  if variant.gkim:
    train.add("mlp")
  # Hard (official) retrieval passes no gradient to the queries: MeCs / synapse stay frozen.
  if variant.retrieval != "hard" and variant.use_mecs:
    train.add("mecs")
  if variant.train_synapse and variant.retrieval != "hard":
    train.add("synapse")

  def group(name):
    for g in ("values", "mlp", "mecs", "synapse"):
      if name.startswith(g):
        return g
    raise KeyError(name)
  return {k: jax.tree.map(lambda _: "train" if group(k) in train else "freeze", v)
          for k, v in params.items()}


def train_and_evaluate(config, workdir) -> dict:
  t_start = time.time()
  configs.refuse_unused(config, UNUSED_SHARED_KEYS, UNUSED_HINT)
  jtrain.write_run_info(workdir, config)
  gd, feats, plan, plans, seeds = load_graph(config)
  R, S, Y = plan["seen"].shape
  N = int(gd.graph.nodes.shape[0])
  labels = jnp.asarray(np.where(gd.node_mask, gd.labels, 0), jnp.int32)
  feats = mmodel.SparseFeatures(*map(jnp.asarray, feats))
  senders, receivers = jnp.asarray(gd.graph.senders), jnp.asarray(gd.graph.receivers)
  P = jax.tree.map(jnp.asarray, plan)
  m = config.model
  encoder = mmodel.GCNEncoder(num_features=int(gd.graph.nodes.shape[1]), hidden=m.hidden,
                              num_classes=Y, dropout=m.dropout)
  seed_keys = jax.vmap(lambda s: jax.random.key(s, impl=config.rng_impl))(jnp.asarray(seeds))

  def enc_apply(params, edge_w, rng=None, train=False):
    rngs = {"dropout": rng} if train else {}
    return encoder.apply({"params": params}, feats, senders, receivers, edge_w, num_nodes=N,
                         train=train, rngs=rngs)

  # ---------------------------------------------------------------- GNN training (pretrain,
  # finetune, joint): whole encoder + classifier, CE over seen classes, Adam + L2.
  b = config.baselines
  if config.selection not in ("accuracy", "balanced"):
    raise ValueError(f"selection={config.selection!r}; use 'accuracy' (official: plain accuracy on "
                     "the accumulated validation nodes) or 'balanced' (mean per-class recall)")
  # Validation score the sessions select their step by (finetune_valsel, *_replay, Mecoin).
  sel_metric = losses.accuracy if config.selection == "accuracy" else losses.balanced_accuracy
  gnn_tx = optax.chain(optax.add_decayed_weights(config.pretrain.wd), optax.adam(config.pretrain.lr))

  def gnn_fit(params, idx, mask, val_idx, val_mask, edge_w, seen, rng, num_epochs,
              select_best=True, metric=sel_metric):
    def loss_fn(p, r):
      _, logits = enc_apply(p, edge_w, r, train=True)
      loss = losses.smoothed_ce(logits[idx], labels[idx], mask, seen)
      return loss, {}

    def val_fn(p):
      _, logits = enc_apply(p, edge_w)
      return metric(logits[val_idx], labels[val_idx], val_mask, seen)
    return _fit(params, gnn_tx, loss_fn, val_fn, num_epochs, rng, select_best)

  def pretrain(key):
    p = encoder.init(jax.random.fold_in(key, 0), feats, senders, receivers,
                     P["edge_weight"][0, 0], num_nodes=N)["params"]
    return p

  init_enc = jax.jit(jax.vmap(pretrain))(seed_keys)
  pretrain_fit = jax.jit(jax.vmap(functools.partial(gnn_fit, num_epochs=config.pretrain.epochs,
                                                    metric=losses.accuracy)))
  finetune_fit = {sel: jax.jit(jax.vmap(functools.partial(gnn_fit, num_epochs=b.epochs,
                                                          select_best=sel)))
                  for sel in (True, False)}

  @jax.jit
  @jax.vmap
  def embed(params, edge_w):
    return enc_apply(params, edge_w)

  def test_acc(logits, test_idx, test_mask, seen, groups):
    """(accuracy over all seen classes, accuracy per session's class group `[S]`); a group not
    seen yet scores 0 and is ignored by the forgetting measure."""
    y = labels[test_idx]
    per_group = jax.vmap(lambda g: losses.accuracy(logits, y, test_mask & g[y], seen))(groups)
    return losses.accuracy(logits, y, test_mask, seen), per_group

  @jax.jit
  @jax.vmap
  def eval_logits(logits_all, test_idx, test_mask, seen, groups):
    return test_acc(logits_all[test_idx], test_idx, test_mask, seen, groups)

  @jax.jit
  @jax.vmap
  def val_acc(logits_all, val_idx, val_mask, seen):
    return sel_metric(logits_all[val_idx], labels[val_idx], val_mask, seen)

  # ---------------------------------------------------------------- linear head, NCM
  head_tx = optax.adam(b.head_lr)

  def _head_fit(head, emb, idx, mask, val_idx, val_mask, seen, rng, select_best):
    def apply(h, e):
      return e @ h["kernel"] + h["bias"]

    def loss_fn(h, r):
      return losses.smoothed_ce(apply(h, emb[idx]), labels[idx], mask, seen), {}

    def val_fn(h):
      return sel_metric(apply(h, emb[val_idx]), labels[val_idx], val_mask, seen)
    return _fit(head, head_tx, loss_fn, val_fn, b.epochs, rng, select_best)

  # Keyed by select_best, as finetune_fit.
  head_fit = {sel: jax.jit(jax.vmap(functools.partial(_head_fit, select_best=sel)))
              for sel in (True, False)}

  @jax.jit
  @jax.vmap
  def ncm_logits(emb, idx, mask):
    onehot = jax.nn.one_hot(labels[idx], Y) * mask[:, None]
    means = (onehot.T @ emb[idx]) / jnp.maximum(onehot.sum(0), 1.)[:, None]   # [Y, h]
    return -mmodel.distances(emb[:, None], means[None])[:, 0]                 # [N, Y]

  # ---------------------------------------------------------------- Mecoin variants
  mc = config.mecoin
  variants = {}
  for name in config.methods:
    if name in BASELINES:
      continue
    if name not in config.mecoin_variants:
      raise ValueError(f"unknown method {name!r}; baselines: {BASELINES}, Mecoin variants: "
                       f"{sorted(config.mecoin_variants)}")
    v = dict(mc.variant_defaults)
    v.update(dict(config.mecoin_variants[name]))
    unknown = set(v) - set(mc.variant_defaults)
    if unknown:
      raise ValueError(f"mecoin_variants[{name!r}] has unknown keys {sorted(unknown)}; valid: "
                       f"{sorted(mc.variant_defaults)}")
    variants[name] = type("Variant", (), v)

  def make_mecoin(v):
    return mmodel.Mecoin(embed_dim=m.hidden, num_classes=Y, num_books=m.num_books,
                         num_pairs=m.num_pairs, proj_dim=m.proj_dim, num_heads=m.num_heads,
                         retrieval=v.retrieval, tau=v.tau, use_mecs=v.use_mecs,
                         code_faithful_attention=v.code_faithful_attention,
                         mlp_hidden=tuple(m.mlp_hidden))

  def mecoin_fns(v):
    net = make_mecoin(v)

    def start(key, emb0, idx, mask, rng):
      """Initialise, then prepare the keys by EMA k-means on the base pretraining nodes."""
      vs = net.init(jax.random.fold_in(key, 7), emb0[:4])
      params, e = vs["params"], emb0[idx]

      def step(mem, i):
        q = net.apply({"params": params, "memory": mem}, e, mask, method=net.query)
        return mmodel.ema_kmeans_update(mem, q, mask, jax.random.fold_in(rng, i),
                                        decay=mc.decay, eps=mc.eps, dead_factor=mc.dead_factor)
      memory, qerr = jax.lax.scan(step, vs["memory"], jnp.arange(mc.prepare_steps))
      return params, memory, qerr

    tx = optax.multi_transform(
        {"train": optax.chain(optax.clip_by_global_norm(mc.grad_clip), optax.adam(mc.lr)),
         "freeze": optax.set_to_zero()},
        functools.partial(_mecoin_labels, variant=v))

    def session(params, memory, emb, idx, mask, val_idx, val_mask, seen, rng, test_idx,
                test_mask, groups):
      """Train on the accumulated shots, keep the best-validation params, test them."""
      e, y = emb[idx], labels[idx]

      def loss_fn(p, r):
        out = net.apply({"params": p, "memory": memory}, e, mask)
        ce_o = losses.smoothed_ce(out["memory_logits"], y, mask, seen, mc.label_smoothing)
        if v.gkim:
          loss, aux = losses.gkim_loss(out["memory_logits"], out["mlp_logits"], y, mask, seen,
                                       mc.label_smoothing)
          return loss + v.memory_ce * ce_o, dict(aux, ce_memory=ce_o)
        return ce_o, {}

      def val_fn(p):
        out = net.apply({"params": p, "memory": memory}, emb[val_idx], val_mask)
        return sel_metric(out["memory_logits"], labels[val_idx], val_mask, seen)
      params, info = _fit(params, tx, loss_fn, val_fn, mc.epochs, rng, v.select_best)
      out = net.apply({"params": params, "memory": memory}, emb[test_idx], test_mask)
      out_shots = net.apply({"params": params, "memory": memory}, e, mask)
      return params, (*test_acc(out["memory_logits"], test_idx, test_mask, seen, groups),
                      info["best_val"],
                      mmodel.read_coverage(out_shots["queries"], mask, out["queries"], test_mask,
                                    memory["keys"]))

    return dict(start=jax.jit(jax.vmap(start)), session=jax.jit(jax.vmap(session)),
                labels=functools.partial(_mecoin_labels, variant=v))

  # ---------------------------------------------------------------- run
  def rngs(s, name):
    # Keyed by the method's name, so a method's numbers do not depend on the list order.
    method_id = zlib.crc32(name.encode()) % 1000
    return jax.vmap(lambda k: jax.random.fold_in(k, 1000 * (s + 1) + method_id))(seed_keys)

  timings = {}

  def timed(name, fn, *args):
    t = time.time()
    out = jax.block_until_ready(fn(*args))
    timings.setdefault(name, []).append(time.time() - t)
    return out

  groups = P["new"]  # [R, S, C]: the classes each session introduces (group 0 = base)
  sl = lambda k, s: P[k][:, s]  # noqa: E731  per-session slice [R, ...]
  enc, pre_info = timed("pretrain", pretrain_fit, init_enc, P["pre_idx"], P["pre_mask"],
                        P["pre_val_idx"], P["pre_val_mask"], sl("edge_weight", 0),
                        sl("seen", 0), rngs(-1, "pretrain"))
  methods = list(config.methods)
  acc = {k: np.zeros((R, S)) for k in methods}
  acc_group = {k: np.zeros((R, S, S)) for k in methods}  # [seed, after session t, group g]
  acc_val = {k: np.zeros((R, S)) for k in methods}
  read_cov = {}  # Mecoin variants: share of test reads on keys a training shot reads, [R, S]
  state = {}
  params_count = {}
  gnn_params = count_params(jax.tree.map(lambda x: x[0], enc))
  head_params = m.hidden * Y + Y
  mecoin = {name: mecoin_fns(v) for name, v in variants.items()}
  prep_err = {}
  bar = tqdm.tqdm(total=S * len(methods), desc="mecoin sessions", disable=not config.train.progress)
  writer = jtrain.MetricWriter(workdir, tensorboard=config.train.tensorboard)
  def summarise(done):
    summary = {}
    for name in done:
      a = acc[name] * 100
      pd = a[:, 0] - a[:, -1]
      g = acc_group[name] * 100
      fg = forgetting(g)
      summary[name] = {
          "acc_mean": a.mean(0).tolist(), "acc_std": a.std(0).tolist(),
          "acc_per_seed": a.tolist(), "base_acc_mean": g[:, :, 0].mean(0).tolist(),
          # [t][g]: accuracy on the test nodes of the classes session g introduced, after session t.
          "group_acc_mean": g.mean(0).tolist(),
          "forgetting_mean": float(fg.mean()), "forgetting_std": float(fg.std()),
          # Selection score (config.selection) on the accumulated validation nodes: for choosing
          # settings without the test set.
          "val_acc_mean": (acc_val[name] * 100).mean(0).tolist(),
          "last_mean": float(a[:, -1].mean()), "last_std": float(a[:, -1].std()),
          "avg_mean": float(a.mean(1).mean()), "avg_std": float(a.mean(1).std()),
          "pd_mean": float(pd.mean()), "pd_std": float(pd.std()),
          "trainable_params_per_session": params_count.get(name, 0),
          "session_wall_s": [float(x) for x in timings.get(f"session/{name}", [])],
      }
      if name in read_cov:
        summary[name]["test_read_coverage_mean"] = read_cov[name].mean(0).tolist()
    results = {
        "dataset": config.data.name, "seeds": seeds, "num_sessions": S,
        "session_classes": [[c.tolist() for c in p["classes"]] for p in plans],
        "n_base": config.data.n_base, "way": config.sessions.way, "shot": config.sessions.shot,
        "methods": summary, "gnn_params": gnn_params,
        "pretrain_val_acc": np.asarray(pre_info["best_val"]).tolist(),
        "prepare_qerr_first_last": {k: [float(v[:, 0].mean()), float(v[:, -1].mean())]
                                    for k, v in prep_err.items()},
        "pretrain_wall_s": timings["pretrain"][0], "wall_time_s": time.time() - t_start,
        "backend": jax.default_backend(),
    }
    results["methods_done"] = list(done)
    jtrain.write_results(workdir, results)
    return results

  embs = [timed("embed", embed, enc, sl("edge_weight", s)) for s in range(S)]
  # Method-major order: every finished method's numbers are written at once (partial results).
  for mi, name in enumerate(methods):
    for s in range(S):
      ew, seen = sl("edge_weight", s), sl("seen", s)
      emb, enc_logits = embs[s]
      args_test = (sl("test_idx", s), sl("test_mask", s), seen, groups)
      args_val = (sl("val_idx", s), sl("val_mask", s))

      def score(logits):  # (test acc, per-group test acc, val acc) of all-node logits
        return eval_logits(logits, *args_test) + (val_acc(logits, *args_val, seen),)
      r = rngs(s, name)
      t = time.time()
      if name in ("finetune", "finetune_valsel", "finetune_replay", "joint"):
        params_count[name] = gnn_params
        if s == 0:
          state[name] = enc
          logits = enc_logits
        else:
          src = {"finetune": "cur", "finetune_valsel": "cur", "finetune_replay": "shots",
                 "joint": "joint"}[name]
          init = enc if name == "joint" else state[name]
          state[name], _ = finetune_fit[name != "finetune"](
              init, sl(f"{src}_idx", s), sl(f"{src}_mask", s), *args_val, ew, seen, r)
          _, logits = embed(state[name], ew)
        a = score(logits)
      elif name in ("finetune_head", "finetune_head_replay"):
        params_count[name] = head_params
        if s == 0:
          state[name] = {k: v for k, v in enc["classifier"].items()}
        else:
          src = "cur" if name == "finetune_head" else "shots"
          state[name], _ = head_fit[name != "finetune_head"](
              state[name], emb, sl(f"{src}_idx", s), sl(f"{src}_mask", s), *args_val, seen, r)
        a = score(emb @ state[name]["kernel"] + state[name]["bias"][:, None])
      elif name == "ncm":
        params_count[name] = 0
        a = score(ncm_logits(emb, sl("shots_idx", s), sl("shots_mask", s)))
      else:
        fns = mecoin[name]
        if s == 0:
          p0, mem, qerr = fns["start"](seed_keys, emb, P["pre_idx"], P["pre_mask"], r)
          prep_err[name] = np.asarray(qerr)
          state[name] = (p0, mem)
        p, mem = state[name]
        p, a = fns["session"](p, mem, emb, sl("shots_idx", s), sl("shots_mask", s),
                              *args_val, seen, r, sl("test_idx", s), sl("test_mask", s), groups)
        state[name] = (p, mem)
        read_cov.setdefault(name, np.zeros((R, S)))[:, s] = np.asarray(a[3])
        p_one = jax.tree.map(lambda x: x[0], p)
        params_count[name] = int(sum(
            np.prod(x.shape) for x, l in zip(jax.tree.leaves(p_one),
                                              jax.tree.leaves(fns["labels"](p_one)))
            if l == "train"))
      a = jax.device_get(a)
      timings.setdefault(f"session/{name}", []).append(time.time() - t)
      acc[name][:, s], acc_group[name][:, s] = np.asarray(a[0]), np.asarray(a[1])
      acc_val[name][:, s] = np.asarray(a[2])
      writer.write(s, {f"eval/{name}/accuracy": float(acc[name][:, s].mean())})
      bar.update(1)
      bar.set_postfix(session=s, method=name, acc=f"{acc[name][:, s].mean():.3f}")
    summarise(methods[:mi + 1])
  bar.close()
  writer.close()
  return summarise(methods)
