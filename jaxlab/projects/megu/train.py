"""MEGU experiment driver: `train_and_evaluate(config, workdir) -> dict`.

For each dataset: 5 seeds (random 80/20 split, backbone init (`config.model.name`: GCN by
default, or GAT / SAGE / GIN / SGC), request sampling), three request kinds
(feature / node / edge), and in the same compiled run, on the same θ0 and the same request:
`original` (θ0 on the original graph), `noop` (θ0 on the edited graph), `retrain` (fresh model
with θ0's init and dropout keys, trained on the edited graph: the gold standard), `finetune`,
`grad_ascent`, `megu`, `megu_no_cs`, `megu_no_hin`, `gif` (the influence-function baseline
the paper compares against, official settings) and `gif_autoscale` (the same with its LiSSA
scale raised to the Hessian's top eigenvalue, so that the recursion converges), plus
`noop_cs` / `finetune_cs` (the C&S post-process alone on the baselines, to show what C&S
contributes by itself), and `gnndelete` (deletion operators on the frozen θ0, official
settings; node and edge requests, GCN only: None for feature requests and other backbones).
The original models of all seeds train in one `vmap`; all (seed × kind) requests of a dataset
then run in one `vmap`-ed, jitted function, and GNNDelete's node / edge requests in a second
one (`gnndelete.enabled`; a separate program, so the other methods' program is unchanged).
Then:

* efficacy (spec §3.7): adversarial edges injected on Cora, θ0 trained on the poisoned graph,
  exactly those edges unlearned; recovery = (F1 − F1_noop) / (F1_retrain − F1_noop);
* efficiency: on Cora, seed 0, each kind, the un-vmapped unlearning (HIN + 30 SGD epochs + C&S)
  and retraining (200 Adam epochs) functions are compiled separately and timed in one process
  (median of `repeats`, compile reported apart); peak memory is XLA's compiled
  `memory_analysis()` (arguments + outputs + temporaries − aliased) of each function; GIF's
  influence step and GNNDelete's training (node / edge requests) are timed beside them;
* the unlearning-ratio sweep (appendix Fig. 6): the whole grid on `sweep.dataset` at each
  `sweep.ratios`, plotted as `<workdir>/ratio_sweep.png`.

Per-dataset results are cached in `<workdir>/<stage>.json` with the settings that made them
(`jaxlab.train.cached_stage`), so a restarted run resumes and a changed setting is refused.
"""

from __future__ import annotations

import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from jaxlab import configs
from jaxlab import data as jdata
from jaxlab import train as jtrain
from jaxlab.ops import graph as gops
from jaxlab.projects.megu import method
from jaxlab.projects.megu import model as mmodel

# Keys of the shared config vocabulary this project does not read (configs.refuse_unused).
UNUSED_SHARED_KEYS = ("optim.name", "optim.schedule", "optim.warmup_steps", "optim.grad_clip",
                      "optim.momentum", "data.name", "data.batch_size", "eval.batch_size",
                      "model.variant", "train.tensorboard") + configs.LOOP_KEYS
UNUSED_HINT = ("MEGU trains full batch with Adam at optim.lr / optim.wd for train.num_epochs on "
               "the datasets in data.names; the unlearning settings are under unlearn.*")

METHODS = ("original", "noop", "noop_cs", "retrain", "finetune", "finetune_cs", "grad_ascent",
           "megu", "megu_no_cs", "megu_no_hin", "gif", "gif_autoscale", "gnndelete")
# GNNDelete deletes edges (a node request: every edge of the nodes); feature cells are None.
GNNDELETE_KINDS = ("node", "edge")
GNNDELETE_STATS = ("gnndelete_loss_first", "gnndelete_loss_last", "gnndelete_num_s1",
                   "gnndelete_num_s2", "gnndelete_num_df")


def check_gnndelete_config(c):
  """ValueError for a `config.gnndelete` value GNNDelete cannot run with."""
  g = c.gnndelete
  if int(g.num_epochs) < 1:
    raise ValueError(f"gnndelete.num_epochs must be >= 1, got {g.num_epochs}")
  if not float(g.lr) > 0:
    raise ValueError(f"gnndelete.lr must be > 0, got {g.lr}")
  if not 0.0 <= float(g.alpha) <= 1.0:
    raise ValueError(f"gnndelete.alpha weighs L_DEC against L_NI and must lie in [0, 1], "
                     f"got {g.alpha}")
  if g.init not in method.GNNDELETE_INITS:
    raise ValueError(f"gnndelete.init must be one of {list(method.GNNDELETE_INITS)}, got "
                     f"{g.init!r}")
  if int(g.neg_rounds) < 0:
    raise ValueError(f"gnndelete.neg_rounds must be >= 0, got {g.neg_rounds}")


def gnndelete_runs(config):
  """Whether the grid runs GNNDelete: enabled and implemented for this backbone."""
  return bool(config.gnndelete.enabled) and config.model.name in method.GNNDELETE_BACKBONES


def hparams_for(config, name):
  """(lr, κ, α1, α2) of `config.unlearn.hparams[name]` (appendix Table 7)."""
  table = config.unlearn.hparams
  key = name.removesuffix("_npz")
  if key not in table:
    raise KeyError(f"no MEGU hyper-parameters for dataset {name!r}; add "
                   f"unlearn.hparams.{key} = (lr, kappa, alpha1, alpha2); known: {list(table)}")
  lr, kappa, a1, a2 = table[key]
  return {"lr": float(lr), "kappa": float(kappa), "alpha1": float(a1), "alpha2": float(a2)}


def load_graph(config, name):
  gd = jdata.get_dataset(name, source=config.data.source, data_dir=config.data.dir or None,
                         normalize_features=config.data.normalize_features,
                         **({"num_nodes": config.data.fake_num_nodes}
                            if config.data.source == "fake" else {}))
  return gd.unpadded()


def pad(gd, config):
  return gd.padded(multiple=config.data.pad_multiple)


def graph_inputs(gd):
  """The per-graph arrays every jitted function takes as its first argument (not closed over,
  so graphs of equal padded shape share one compilation and X counts as an argument)."""
  return {"x": jnp.asarray(gd.graph.nodes), "senders": jnp.asarray(gd.graph.senders),
          "receivers": jnp.asarray(gd.graph.receivers), "labels": jnp.asarray(gd.labels),
          "valid": jnp.asarray(gd.node_mask), "w0": jnp.asarray(gd.edge_mask, jnp.float32)}


class Pipeline:
  """MEGU and the baselines for graphs of one dataset (`num_features`, `num_classes`); every
  method takes the graph arrays `d = graph_inputs(gd)` first."""

  def __init__(self, config, num_features, num_classes):
    self.config = config
    self.backbone = mmodel.check_backbone(config.model.name)
    self.num_classes = int(num_classes)
    self.num_features = int(num_features)

  @staticmethod
  def g(d):
    return mmodel.GraphArrays(d["x"], d["senders"], d["receivers"])

  # -- pieces -------------------------------------------------------------------------------
  def init(self, key):
    return mmodel.init_backbone(self.backbone, jax.random.fold_in(key, 0), self.num_features,
                                self.num_classes, self.config.model.hidden)

  def train_original(self, d, key, train_mask):
    c = self.config
    p, _ = method.train_supervised(
        self.init(key), self.g(d), d["w0"], None, d["labels"], train_mask,
        jax.random.fold_in(key, 1), num_epochs=c.train.num_epochs, lr=c.optim.lr,
        wd=c.optim.wd, dropout=c.model.dropout, backbone=self.backbone)
    return p

  def logits(self, d, theta, w, keep):
    return mmodel.backbone_apply(self.backbone, theta, self.g(d), w, keep)

  def retrain(self, d, key, req):
    """Gold standard: θ0's init and dropout keys, trained on the edited graph."""
    c = self.config
    p, _ = method.train_supervised(
        self.init(key), self.g(d), req["edge_weight"], req["row_keep"], d["labels"],
        req["train_keep"], jax.random.fold_in(key, 1), num_epochs=c.train.num_epochs,
        lr=c.optim.lr, wd=c.optim.wd, dropout=c.model.dropout, backbone=self.backbone)
    return p

  def cs(self, d, logits, req, y_hat, hp):
    c = self.config.unlearn
    return method.correct_and_smooth(
        jax.nn.softmax(logits), req["train_keep"], jax.nn.one_hot(y_hat, self.num_classes),
        d["senders"], d["receivers"], req["edge_weight"], alpha1=hp["alpha1"],
        alpha2=hp["alpha2"], steps1=c.cs_steps, steps2=c.cs_steps)

  def megu(self, d, theta0, key, req, hp, h_mask, y_hat):
    c = self.config
    phi = mmodel.init_unlearning_module(jax.random.fold_in(key, 5), self.num_classes)
    theta, _, losses = method.megu_unlearn(
        theta0, phi, self.g(d), req["edge_weight"], req["row_keep"], req["u_mask"], h_mask,
        y_hat, jax.random.fold_in(key, 6), num_epochs=c.unlearn.num_epochs, lr=hp["lr"],
        kappa=hp["kappa"], temperature=c.unlearn.temperature, dropout=c.model.dropout,
        backbone=self.backbone)
    return theta, losses

  def hin(self, d, req):
    c = self.config.unlearn
    return method.hin_select(d["x"], d["senders"], d["receivers"], d["w0"], req["u_mask"],
                             d["valid"], k=c.k_hops, gamma=c.gamma,
                             feature_chunk=c.hin_feature_chunk)

  def gif(self, d, theta0, req, autoscale=False):
    """GIF's influence-function update of θ0 (hops by request kind, `config.gif`); with
    `autoscale` the LiSSA scale is raised to the Hessian's top eigenvalue (`gif_autoscale`)."""
    c = self.config.gif
    hops = jnp.asarray([c.hops[k] for k in method.KINDS], jnp.int32)[req["kind_id"]]
    m1, m2 = method.gif_masks(req["u_mask"], d["senders"], d["receivers"], d["w0"],
                              req["train_mask"], req["train_keep"], hops,
                              max_hops=max(c.hops.values()))
    return method.gif_unlearn(theta0, self.g(d), d["labels"], req["train_mask"], m1, m2,
                              d["w0"], req["edge_weight"], req["row_keep"],
                              iterations=c.iterations, scale=c.scale, damp=c.damp,
                              power_iters=c.power_iters if autoscale else 0,
                              backbone=self.backbone)

  def gnndelete(self, d, theta0, key, req):
    """GNNDelete's deletion operators trained on the frozen θ0 (`config.gnndelete`); returns
    (logits on the edited graph, stats)."""
    c = self.config.gnndelete
    _, logits, stats = method.gnndelete_unlearn(
        theta0, self.g(d), d["w0"], req["edge_weight"], req["row_keep"], d["valid"],
        jax.random.fold_in(key, 7), num_epochs=c.num_epochs, lr=c.lr, alpha=c.alpha,
        init=c.init, neg_rounds=c.neg_rounds, backbone=self.backbone)
    return logits, stats

  def gnndelete_all(self, d, theta0, key, req):
    """GNNDelete's grid entries for one (node or edge) request."""
    logits, st = self.gnndelete(d, theta0, key, req)
    return {"gnndelete": method.masked_accuracy(logits, d["labels"], req["test_mask"]),
            "gnndelete_loss_first": st["loss"][0], "gnndelete_loss_last": st["loss_last"],
            "gnndelete_num_s1": st["num_s1"], "gnndelete_num_s2": st["num_s2"],
            "gnndelete_num_df": st["num_df"]}

  def y_hat(self, d, theta0):
    return jnp.argmax(self.logits(d, theta0, d["w0"], None), -1)

  # -- one request, every method ---------------------------------------------------------------
  def unlearn_all(self, d, theta0, key, req, hp):
    c = self.config
    acc = lambda lg: method.masked_accuracy(lg, d["labels"], req["test_mask"])
    w, keep = req["edge_weight"], req["row_keep"]
    y_hat = self.y_hat(d, theta0)
    out = {"original": acc(self.logits(d, theta0, d["w0"], None))}
    noop = self.logits(d, theta0, w, keep)
    out["noop"] = acc(noop)
    out["noop_cs"] = acc(self.cs(d, noop, req, y_hat, hp))
    out["retrain"] = acc(self.logits(d, self.retrain(d, key, req), w, keep))
    kw = dict(num_epochs=c.unlearn.finetune_epochs, lr=c.optim.lr, wd=c.optim.wd,
              dropout=c.model.dropout, backbone=self.backbone)
    ft, _ = method.train_supervised(theta0, self.g(d), w, keep, d["labels"],
                                    req["train_keep"], jax.random.fold_in(key, 2), **kw)
    ft_logits = self.logits(d, ft, w, keep)
    out["finetune"] = acc(ft_logits)
    out["finetune_cs"] = acc(self.cs(d, ft_logits, req, y_hat, hp))
    ga, _ = method.train_supervised(theta0, self.g(d), w, keep, d["labels"],
                                    req["train_mask"] & ~req["u_mask"],
                                    jax.random.fold_in(key, 3),
                                    ascent_mask=req["train_mask"] & req["u_mask"], **kw)
    out["grad_ascent"] = acc(self.logits(d, ga, w, keep))
    h_mask, hop_mask, _ = self.hin(d, req)
    theta, losses = self.megu(d, theta0, key, req, hp, h_mask, y_hat)
    lg = self.logits(d, theta, w, keep)
    out["megu_no_cs"] = acc(lg)
    out["megu"] = acc(self.cs(d, lg, req, y_hat, hp))
    theta_nh, _ = self.megu(d, theta0, key, req, hp, hop_mask, y_hat)
    out["megu_no_hin"] = acc(self.cs(d, self.logits(d, theta_nh, w, keep), req, y_hat, hp))
    theta_gif, gif_stats = self.gif(d, theta0, req)
    out["gif"] = acc(self.logits(d, theta_gif, w, keep))
    out["gif_step_norm"] = gif_stats["step_norm"]
    theta_gifa, gifa_stats = self.gif(d, theta0, req, autoscale=True)
    out["gif_autoscale"] = acc(self.logits(d, theta_gifa, w, keep))
    out["gif_autoscale_scale"] = gifa_stats["scale"]
    out["gif_autoscale_step_norm"] = gifa_stats["step_norm"]
    out["num_u"] = req["u_mask"].sum()
    out["num_hin"] = h_mask.sum()
    out["num_khop"] = hop_mask.sum()
    out["megu_loss_first"] = losses[0]
    out["megu_loss_last"] = losses[-1]
    return out, theta

  # -- the un-vmapped pieces timed for efficiency ---------------------------------------------
  def unlearn_megu_only(self, d, theta0, key, req, hp):
    """Everything MEGU does per request: ŷ, HIN, the SGD loop, C&S -> final scores."""
    y_hat = self.y_hat(d, theta0)
    h_mask, _, _ = self.hin(d, req)
    theta, _ = self.megu(d, theta0, key, req, hp, h_mask, y_hat)
    return self.cs(d, self.logits(d, theta, req["edge_weight"], req["row_keep"]), req, y_hat,
                   hp)

  def gif_only(self, d, theta0, req):
    """GIF per request: the influence step and the final forward on the edited graph."""
    theta, _ = self.gif(d, theta0, req)
    return self.logits(d, theta, req["edge_weight"], req["row_keep"])

  def gnndelete_only(self, d, theta0, key, req):
    """GNNDelete per request: masks, negative pairs, the operators' training, final logits."""
    return self.gnndelete(d, theta0, key, req)[0]

  def retrain_only(self, d, key, req):
    return self.logits(d, self.retrain(d, key, req), req["edge_weight"], req["row_keep"])

  # -- compiled, cached per pipeline ------------------------------------------------------------
  def jitted(self):
    if not hasattr(self, "_jit"):
      self._jit = {
          "train_original": jax.jit(jax.vmap(self.train_original, in_axes=(None, 0, 0))),
          "unlearn_all": jax.jit(jax.vmap(self.unlearn_all, in_axes=(None, 0, 0, 0, None))),
          "gnndelete_all": jax.jit(jax.vmap(self.gnndelete_all, in_axes=(None, 0, 0, 0))),
      }
    return self._jit


def _key(config, seed):
  return jax.random.key(seed, impl=config.rng_impl)


def make_requests(gd, config, seeds, kinds, *, split_masks=None, edge_pool=None, ratio=None):
  """Host: stacked request masks `[len(seeds) * len(kinds), ...]` (seed-major)."""
  reverse = gops.reverse_edge_index(gd.graph.senders, gd.graph.receivers)
  reqs = []
  for si, seed in enumerate(seeds):
    if split_masks is None:
      train, test = method.random_split(gd.num_nodes, gd.graph.nodes.shape[0],
                                        config.data.test_ratio, np.random.default_rng(seed))
    else:
      train, test = split_masks[si]
    for kind in kinds:
      rng = np.random.default_rng([int(seed), 1 + method.KINDS.index(kind)])
      r = method.make_request(kind, rng, train, gd.graph.senders, gd.graph.receivers,
                              gd.edge_mask, config.unlearn.ratio if ratio is None else ratio,
                              reverse=reverse,
                              edge_pool=None if edge_pool is None else edge_pool[si])
      r.update(train_mask=train, test_mask=test)
      reqs.append(r)
  return {k: jnp.asarray(np.stack([r[k] for r in reqs])) for k in reqs[0]}


def run_grid(pipe, d, reqs, config, seeds, kinds, hp):
  """Trains θ0 for every seed, then runs every method on every (seed, kind) request."""
  fns = pipe.jitted()
  keys = jax.vmap(lambda s: _key(config, s))(jnp.asarray(seeds))
  train_masks = reqs["train_mask"][::len(kinds)]
  t0 = time.time()
  theta0 = jax.block_until_ready(fns["train_original"](d, keys, train_masks))
  t_orig = time.time() - t0
  rep = lambda a: jnp.repeat(a, len(kinds), axis=0)
  hp_arr = {k: jnp.float32(v) for k, v in hp.items()}
  t0 = time.time()
  out, theta_megu = fns["unlearn_all"](d, jax.tree.map(rep, theta0), rep(keys), reqs, hp_arr)
  out = jax.device_get(out)
  t_unl = time.time() - t0
  times = {"train_original_s": t_orig, "unlearn_grid_s": t_unl}
  # GNNDelete in its own program (the one above stays as it was), on its request kinds only;
  # NaN marks a request it does not apply to.
  num = len(seeds) * len(kinds)
  for name in ("gnndelete",) + GNNDELETE_STATS:
    out[name] = np.full(num, np.nan, np.float32)
  sel = np.flatnonzero(np.isin(np.asarray(reqs["kind_id"]),
                               [method.KINDS.index(k) for k in GNNDELETE_KINDS]))
  if gnndelete_runs(config) and len(sel):
    take = lambda a: a[sel]
    t0 = time.time()
    gd_out = jax.device_get(fns["gnndelete_all"](
        d, jax.tree.map(lambda a: take(rep(a)), theta0), take(rep(keys)),
        jax.tree.map(take, reqs)))
    times["gnndelete_grid_s"] = time.time() - t0
    for name, v in gd_out.items():
      out[name][sel] = np.asarray(v, np.float32)
  return out, theta0, theta_megu, times


def _stat(v):
  """Mean of a per-request statistic, None where the method did not run (all NaN)."""
  v = np.asarray(v, np.float64)
  return None if np.all(np.isnan(v)) else float(np.mean(v))


def summarize(out, seeds, kinds):
  """{kind: {method: {mean, std, per_seed}} (F1 in %), stats}."""
  res = {}
  for ki, kind in enumerate(kinds):
    sel = slice(ki, None, len(kinds))
    cell = {}
    for m in METHODS:
      v = 100.0 * np.asarray(out[m])[sel]
      cell[m] = None if np.all(np.isnan(v)) else {  # None: not applicable (GNNDelete)
          "mean": float(v.mean()), "std": float(v.std()),
          "per_seed": [round(float(x), 2) for x in v]}
    for s in ("num_u", "num_hin", "num_khop", "megu_loss_first", "megu_loss_last",
              "gif_step_norm", "gif_autoscale_scale", "gif_autoscale_step_norm"):
      cell[s] = float(np.mean(np.asarray(out[s])[sel]))
    for s in GNNDELETE_STATS:
      cell[s] = _stat(np.asarray(out[s])[sel])
    res[kind] = cell
  return res


def utility_gates(res, gates):
  g = {}
  for kind, cell in res.items():
    megu, rt, ft = cell["megu"]["mean"], cell["retrain"]["mean"], cell["finetune"]["mean"]
    g[kind] = {
        "within_retrain": bool(abs(megu - rt) <= gates.within_retrain),
        "megu_minus_retrain": megu - rt,
        "not_below_finetune": bool(megu >= ft - gates.below_finetune),
        "megu_minus_finetune": megu - ft,
        "megu_ge_no_cs": bool(megu >= cell["megu_no_cs"]["mean"]),
    }
  return g


def _save_params(workdir, name, tree):
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  path = (pathlib.Path(workdir) / "params" / name).resolve()
  if path.exists():
    return
  ckptr = ocp.StandardCheckpointer()
  ckptr.save(path, jax.device_get(tree))
  ckptr.wait_until_finished()


def attack_experiment(config, workdir, endpoints="train", ratio=0.1):
  """Spec §3.7 on `config.attack.dataset`: inject, train poisoned, unlearn exactly those edges.

  `endpoints="train"`: both ends of every injected edge are train nodes (the official code);
  `"all"`: any two real nodes (test nodes get adversarial neighbours too).
  """
  a = config.attack
  if endpoints not in ("train", "all"):
    raise ValueError(f"attack endpoints must be 'train' or 'all', got {endpoints!r}")
  base = load_graph(config, a.dataset)
  seeds = [config.seed + i for i in range(config.num_seeds)]
  n = base.num_nodes
  num_und = base.num_edges // 2
  labels = np.asarray(base.labels)
  # One split per seed; the injected edges depend on it. All seeds share one edge-array shape.
  splits, injected = [], []
  n_inj = int(round(ratio * num_und))
  for seed in seeds:
    train, test = method.random_split(n, n, config.data.test_ratio, np.random.default_rng(seed))
    s_new, r_new = method.inject_adversarial_edges(
        np.random.default_rng([seed, 99]), labels,
        train if endpoints == "train" else np.ones(n, bool), base.graph.senders,
        base.graph.receivers, n_inj)
    splits.append((train, test))
    injected.append((s_new, r_new))
  res = []
  pipe = Pipeline(config, base.graph.nodes.shape[1], base.num_classes)  # one compilation
  hp = {"lr": a.lr, "kappa": a.kappa, "alpha1": a.alpha1, "alpha2": a.alpha2}
  for si, seed in enumerate(tqdm.tqdm(seeds, desc=f"attack {a.dataset}", leave=False)):
    s, r, _ = gops.append_edges(base.graph.senders, base.graph.receivers,
                                np.ones(base.num_edges), *injected[si])
    m = np.zeros(n, bool)
    poisoned = jdata.graphs.make_graph_data(
        base.graph.nodes, s, r, labels, splits[si][0], m, splits[si][1], base.num_classes,
        name=f"{a.dataset}_poisoned")
    pgd = pad(poisoned, config)
    npad = pgd.graph.nodes.shape[0]
    pool = np.zeros(pgd.graph.senders.shape[0], bool)
    pool[base.num_edges:base.num_edges + n_inj] = True  # the injected s < r half
    tr = np.zeros(npad, bool)
    tr[:n] = splits[si][0]
    te = np.zeros(npad, bool)
    te[:n] = splits[si][1]
    reqs = make_requests(pgd, config, [seed], ["edge"], split_masks=[(tr, te)],
                         edge_pool=[pool], ratio=1.0)
    out, *_ = run_grid(pipe, graph_inputs(pgd), reqs, config, [seed], ["edge"], hp)
    res.append({k: float(np.asarray(v)[0]) for k, v in out.items()})
  f1 = {m: 100.0 * np.array([r[m] for r in res]) for m in METHODS}
  ran = {m: not np.all(np.isnan(v)) for m, v in f1.items()}  # GNNDelete may not run
  def recovery(ref):
    gap = float(np.mean(f1["retrain"] - f1[ref]))
    if gap <= 0:  # nothing to recover: the ratio is undefined
      return {m: None for m in METHODS}
    return {m: float(np.mean(f1[m] - f1[ref])) / gap if ran[m] else None for m in METHODS}
  gap = f1["retrain"] - f1["noop"]
  return {
      "dataset": a.dataset, "endpoints": endpoints, "ratio": ratio,
      "injected_undirected_edges": n_inj, "seeds": seeds,
      "f1": {m: {"mean": float(v.mean()), "std": float(v.std()),
                 "per_seed": [round(float(x), 2) for x in v]} if ran[m] else None
             for m, v in f1.items()},
      "poison_drop_vs_clean_retrain": float(np.mean(f1["retrain"] - f1["original"])),
      "gap_retrain_minus_noop": float(np.mean(gap)),
      # Spec: share of the (retrain − noop) gap recovered; noop = 0 by construction.
      "recovery": recovery("noop"),
      # Share of the (clean retrain − poisoned model on the poisoned graph) gap.
      "recovery_vs_poisoned": recovery("original"),
      "hparams": {"lr": a.lr, "kappa": a.kappa, "alpha1": a.alpha1, "alpha2": a.alpha2},
  }


def _memory(compiled):
  ma = compiled.memory_analysis()
  if ma is None:
    return None
  d = {k: int(getattr(ma, k)) for k in ("argument_size_in_bytes", "output_size_in_bytes",
                                        "temp_size_in_bytes", "alias_size_in_bytes")}
  d["peak_bytes"] = (d["argument_size_in_bytes"] + d["output_size_in_bytes"]
                     + d["temp_size_in_bytes"] - d["alias_size_in_bytes"])
  return d


def efficiency_experiment(config, workdir):
  """MEGU unlearning vs retraining: compiled wall time (median) and XLA peak memory."""
  e = config.efficiency
  gd = pad(load_graph(config, e.dataset), config)
  pipe = Pipeline(config, gd.graph.nodes.shape[1], gd.num_classes)
  d = graph_inputs(gd)
  hp = {k: jnp.float32(v) for k, v in hparams_for(config, e.dataset).items()}
  seed = config.seed
  key = _key(config, seed)
  out = {"dataset": e.dataset, "seed": seed, "repeats": e.repeats, "kinds": {}}
  reqs = make_requests(gd, config, [seed], list(config.unlearn.kinds))
  train_mask = reqs["train_mask"][0]
  theta0 = jax.block_until_ready(jax.jit(pipe.train_original)(d, key, train_mask))
  megu_jit = jax.jit(pipe.unlearn_megu_only)
  retrain_jit = jax.jit(pipe.retrain_only)
  gif_jit = jax.jit(pipe.gif_only)
  gnndelete_jit = jax.jit(pipe.gnndelete_only)
  for ki, kind in enumerate(tqdm.tqdm(config.unlearn.kinds, desc="efficiency", leave=False)):
    req = jax.tree.map(lambda a: a[ki], reqs)
    programs = {"megu": (megu_jit, (d, theta0, key, req, hp)),
                "retrain": (retrain_jit, (d, key, req)),
                "gif": (gif_jit, (d, theta0, req))}
    if gnndelete_runs(config) and kind in GNNDELETE_KINDS:
      programs["gnndelete"] = (gnndelete_jit, (d, theta0, key, req))
    names = tuple(programs)
    row, fns = {}, {}
    for name, (fn, args) in programs.items():
      t0 = time.time()
      compiled = fn.lower(*args).compile()
      row[f"{name}_compile_s"] = time.time() - t0
      row[f"{name}_memory"] = _memory(compiled)
      jax.block_until_ready(compiled(*args))  # first call (allocation) not timed
      fns[name] = (compiled, args)
      row[f"{name}_times"], row[f"{name}_cpu_times"] = [], []
    for rep in range(e.repeats):  # alternate the order so background load hits all alike
      for name in (names if rep % 2 == 0 else names[::-1]):
        compiled, args = fns[name]
        t0, c0 = time.time(), time.process_time()
        jax.block_until_ready(compiled(*args))
        row[f"{name}_times"].append(time.time() - t0)
        row[f"{name}_cpu_times"].append(time.process_time() - c0)
    for name in names:
      row[f"{name}_s"] = float(np.median(row[f"{name}_times"]))
      row[f"{name}_cpu_s"] = float(np.median(row[f"{name}_cpu_times"]))
    row["speedup"] = row["retrain_s"] / row["megu_s"]
    row["speedup_cpu_time"] = row["retrain_cpu_s"] / row["megu_cpu_s"]
    row["gif_speedup"] = row["retrain_s"] / row["gif_s"]
    if "gnndelete" in programs:
      row["gnndelete_speedup"] = row["retrain_s"] / row["gnndelete_s"]
    if row["megu_memory"] and row["retrain_memory"]:
      row["memory_ratio"] = (row["retrain_memory"]["peak_bytes"]
                             / row["megu_memory"]["peak_bytes"])
      row["temp_memory_ratio"] = (row["retrain_memory"]["temp_size_in_bytes"]
                                  / max(row["megu_memory"]["temp_size_in_bytes"], 1))
    out["kinds"][kind] = row
  out["speedup_min"] = min(r["speedup"] for r in out["kinds"].values())
  out["memory_ratio_min"] = min(r.get("memory_ratio", 0.0) for r in out["kinds"].values())
  return out


def grid_experiment(config, name, ratio=None):
  """Every method on dataset `name`, each seed and kind, at unlearning ratio `ratio` (default
  `unlearn.ratio`). Returns (summary dict, θ0 of every seed, MEGU's θ of every request)."""
  seeds = [config.seed + i for i in range(config.num_seeds)]
  kinds = list(config.unlearn.kinds)
  gd = pad(load_graph(config, name), config)
  pipe = Pipeline(config, gd.graph.nodes.shape[1], gd.num_classes)
  hp = hparams_for(config, name)
  reqs = make_requests(gd, config, seeds, kinds, ratio=ratio)
  out, theta0, theta_megu, times = run_grid(pipe, graph_inputs(gd), reqs, config, seeds, kinds,
                                            hp)
  summary = {"hparams": hp, "num_nodes": gd.num_nodes, "num_edges": gd.num_edges,
             "results": summarize(out, seeds, kinds), **times}
  return summary, theta0, theta_megu


def sweep_table(runs, kinds):
  """{kind: {method: {"mean": [per ratio], "std": [...]}}} from the per-ratio sweep runs."""
  get = lambda r, k, m, f: r["results"][k][m][f] if r["results"][k][m] else None
  return {k: {m: {"mean": [get(r, k, m, "mean") for r in runs],
                  "std": [get(r, k, m, "std") for r in runs]} for m in METHODS}
          for k in kinds}


SWEEP_PLOT_METHODS = ("retrain", "megu", "gif", "gnndelete", "finetune", "noop", "megu_no_cs")


def plot_sweep(sweep, path=None):
  """Test F1 vs unlearning ratio, one panel per request kind (the paper's appendix Fig. 6).

  Saves to `path` and closes the figure when given (headless runs), else returns it."""
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  kinds = list(sweep["table"])
  fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.4), squeeze=False)
  x = np.asarray(sweep["ratios"])
  for ax, kind in zip(axes[0], kinds):
    for m in SWEEP_PLOT_METHODS:
      # Absent (a sweep saved before the method existed) or not applicable (GNNDelete on
      # feature requests): no line.
      if m not in sweep["table"][kind] or None in sweep["table"][kind][m]["mean"]:
        continue
      mean = np.asarray(sweep["table"][kind][m]["mean"])
      std = np.asarray(sweep["table"][kind][m]["std"])
      ax.plot(x, mean, marker="o", label=m, lw=2.2 if m == "megu" else 1.2)
      ax.fill_between(x, mean - std, mean + std, alpha=0.12)
    ax.set_xlabel("unlearning ratio ρ")
    ax.set_title(f"{sweep['dataset']}: {kind} requests")
    ax.grid(alpha=0.3)
  axes[0][0].set_ylabel("test micro-F1 (%)")
  axes[0][0].legend(fontsize=7)
  fig.tight_layout()
  if path is None:
    return fig
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return None


# Keys that only choose which stages run (each stage has its own cache file).
STAGE_SELECTION_KEYS = ("data.names", "attack.enabled", "attack.variants", "efficiency.enabled",
                        "sweep.enabled", "sweep.dataset", "sweep.ratios")


def _cached(workdir, stage, fn, fingerprint):
  """A stage's result, reused from `<workdir>/<stage>.json` when this run's settings made it."""
  return jtrain.cached_stage(pathlib.Path(workdir) / f"{stage}.json", fingerprint, fn)


def train_and_evaluate(config, workdir) -> dict:
  configs.refuse_unused(config, UNUSED_SHARED_KEYS, UNUSED_HINT)
  mmodel.check_backbone(config.model.name)  # a bad model.name fails before any data or training
  check_gnndelete_config(config)
  t_start = time.time()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  jtrain.write_run_info(workdir, config)
  seeds = [config.seed + i for i in range(config.num_seeds)]
  kinds = list(config.unlearn.kinds)
  results = {"seeds": seeds, "kinds": kinds,
             "backbone": {"name": config.model.name, "hidden": config.model.hidden,
                          "dropout": config.model.dropout, "lr": config.optim.lr,
                          "wd": config.optim.wd},
             "datasets": {}, "gates": {},
             "gnndelete_ran": gnndelete_runs(config)}
  fp = jtrain.config_fingerprint(config, ignore=STAGE_SELECTION_KEYS)

  for name in tqdm.tqdm(list(config.data.names), desc="datasets"):
    def stage(name=name):
      summary, theta0, theta_megu = grid_experiment(config, name)
      if config.save_params:
        _save_params(workdir, f"{name}_original", theta0)
        _save_params(workdir, f"{name}_megu", theta_megu)
      return summary
    results["datasets"][name] = _cached(workdir, f"grid_{name}", stage, fp)
    results["gates"][name] = utility_gates(results["datasets"][name]["results"], config.gates)

  if config.attack.enabled:
    results["attack"] = {}
    for variant in config.attack.variants:
      endpoints, ratio = variant.split(":")
      att = _cached(workdir, f"attack_{endpoints}_{ratio}",
                    lambda: attack_experiment(config, workdir, endpoints, float(ratio)), fp)
      rec = att["recovery"]
      ok = lambda x: x is not None and x
      att["gates"] = {
          "poison_drop_ge": bool(att["poison_drop_vs_clean_retrain"] >= config.gates.poison_drop),
          "megu_recovery_ge": bool(ok(rec["megu"]) and rec["megu"] >= config.gates.recovery),
          "megu_beats_grad_ascent": bool(ok(rec["megu"]) and rec["grad_ascent"] is not None
                                         and rec["megu"] > rec["grad_ascent"]),
      }
      results["attack"][variant] = att
  if config.efficiency.enabled:
    eff = _cached(workdir, "efficiency", lambda: efficiency_experiment(config, workdir), fp)
    eff["gates"] = {"speedup_ge": bool(eff["speedup_min"] >= config.gates.speedup),
                    "lower_peak_memory": bool(eff["memory_ratio_min"] > 1.0)}
    results["efficiency"] = eff
  if config.sweep.enabled:
    runs = []
    for ratio in tqdm.tqdm(list(config.sweep.ratios), desc=f"ratio sweep {config.sweep.dataset}"):
      runs.append(_cached(
          workdir, f"sweep_{config.sweep.dataset}_{float(ratio):g}",
          lambda ratio=ratio: {**grid_experiment(config, config.sweep.dataset, float(ratio))[0],
                               "dataset": config.sweep.dataset, "ratio": float(ratio)},
          fp))
    sweep = {"dataset": config.sweep.dataset, "ratios": [float(r) for r in config.sweep.ratios],
             "table": sweep_table(runs, kinds),
             "num_u": {k: [r["results"][k]["num_u"] for r in runs] for k in kinds},
             "times_s": [r["unlearn_grid_s"] for r in runs]}
    plot_sweep(sweep, workdir / "ratio_sweep.png")
    results["sweep"] = sweep
  ablation_wins = sum(g["megu_ge_no_cs"] for d in results["gates"].values() for g in d.values())
  results["ablation_megu_ge_no_cs_cells"] = ablation_wins
  results["wall_time_s"] = time.time() - t_start
  results["backend"] = jax.default_backend()
  jtrain.write_results(workdir, results)
  return results
