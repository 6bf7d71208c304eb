"""MLDGG experiment driver: `train_and_evaluate(config, workdir) -> dict`.

Paper: *MLDGG: Meta-Learning for Domain Generalization on Graphs* (KDD 2025, arXiv 2411.12913).

Settings (config.settings): "cora->citeseer", "citeseer->cora" (single source, cross-dataset),
"cora_domains" (Cora split into `data.num_domains` covariate-shift domains; each is held out
in turn, the others are the sources) and, for users with the PubMed files, the paper's setting A
"cora+citeseer->pubmed" (two sources with their own label spaces and heads). For each setting every method below runs in the same
process, on the same padded graphs, the same seeds (vmapped) and the same target support sets
(`data.shots` labels per class), and is scored by accuracy on the other target nodes:

  scratch        GCN trained on the target support only
  erm_ft         GCN pre-trained on the pooled sources (ERM), fine-tuned on the target
  maml_gcn       GCN meta-trained with MAML over the sources, fine-tuned
  glow_ft        pivot structure learner + GCN, ERM on sources (no meta-learning), fine-tuned
  mldgg_no_maml  both learners, ERM on sources (ablation: without MAML)
  mldgg_no_sl    MAML + representation learner, no structure learner (ablation)
  mldgg_no_sv    MAML + structure learner, plain classifier on r (ablation: no s/v split)
  mldgg          MAML + structure learner + representation learner

Also measured: the compiled peak temporary memory of one pivot (O(N·P)) vs dense learned
adjacency (O(N²)) message-passing forward (XLA `memory_analysis`, deterministic).
Deviations: classifier heads are 7 wide in every setting (CiteSeer's unused logit is only a
negative) so that both cross-dataset directions share one compiled function; the same Adam
fine-tuning budget for every method. Per-(setting, method) results are cached in
`<workdir>/<setting>__<method>.json` with the settings that made them: a restarted run resumes,
a changed setting is refused.
"""

from __future__ import annotations

import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from jaxlab import configs
from jaxlab import train as jtrain
from jaxlab.projects.mldgg import data as D
from jaxlab.projects.mldgg import method as Mth
from jaxlab.projects.mldgg import model as M

# Keys of the shared config vocabulary this project does not read (configs.refuse_unused).
UNUSED_SHARED_KEYS = configs.OPTIM_KEYS + configs.LOOP_KEYS + (
    "train.tensorboard", "eval.batch_size", "data.batch_size", "model.variant")
UNUSED_HINT = ("MLDGG reads train.outer_lr / train.inner_lr / train.ft_lr / train.wd and "
               "train.meta_steps / train.inner_steps / train.ft_steps")

# name -> (use_sl, use_rl, source training mode or None for target-only)
METHODS = {
    "scratch": (False, False, None),
    "erm_ft": (False, False, "erm"),
    "maml_gcn": (False, False, "maml"),
    "glow_ft": (True, False, "erm"),
    "mldgg_no_maml": (True, True, "erm"),
    "mldgg_no_sl": (False, True, "maml"),
    "mldgg_no_sv": (True, False, "maml"),
    "mldgg": (True, True, "maml"),
}
# The first three are the mini runs; the fourth is the paper's setting A, for users who have the
# PubMed files (not in the shared data folder; see jaxlab/data/graphs.py).
SETTINGS = ("cora->citeseer", "citeseer->cora", "cora_domains", "cora+citeseer->pubmed")


def hparams(config, method):
  use_sl, use_rl, _ = METHODS[method]
  m = config.model
  return Mth.HParams(use_sl=use_sl, use_rl=use_rl, hidden=m.hidden, num_pivots=m.num_pivots,
                     num_heads=m.num_heads, graph_skip_conn=m.graph_skip_conn,
                     temperature=m.temperature, alpha=m.alpha, beta=m.beta, gamma=m.gamma,
                     d_s=m.d_s, d_v=m.d_v, enc_hidden=m.enc_hidden, dropout=m.dropout,
                     enc_dropout=m.enc_dropout,
                     w_ce=m.w_ce, w_rec=m.w_rec, w_kl=m.w_kl, logvar_init=m.logvar_init,
                     ce_sample=m.ce_sample, kl_warmup=m.kl_warmup,
                     inner_clip=config.train.inner_clip, pivot_top_k=m.pivot_top_k)


def _reduced(name, config, cache):
  if name not in cache:
    gd = D.load(name, config)
    cache[name] = D.graph_from(gd, D.reduce_features(np.asarray(gd.graph.nodes), config,
                                                     width=config.data.zero_pad_width))
  return cache[name]


def _spaces(config, names):
  """Feature-space names of the graphs of a cross-dataset setting: one shared input layer over
  the common SVD space, or one per graph (`model.input_layer="per_space"`)."""
  if config.model.input_layer not in ("shared", "per_space"):
    raise ValueError("model.input_layer must be 'shared' (one input layer over the common "
                     f"SVD space) or 'per_space', got {config.model.input_layer!r}")
  return ("shared",) * len(names) if config.model.input_layer == "shared" else names


def setting_instances(setting, config, cache):
  """[(instance name, source graphs, source Tasks, target graph, target Task)], graphs padded.

  Names are generic ("src0", "tgt", feature space "shared"/"src"/"tgt") so that one compiled
  function serves every rotation of the same shapes.
  """
  if setting in ("cora->citeseer", "citeseer->cora"):
    s, t = setting.split("->")
    graphs = D.pad_all([_reduced(s, config, cache), _reduced(t, config, cache)],
                       config.data.pad_multiple)
    src_sp, tgt_sp = _spaces(config, ("src", "tgt"))
    return [(setting, graphs[:1], [Mth.Task(src_sp, "src", "src0")], graphs[1],
             Mth.Task(tgt_sp, "tgt", "tgt"))]
  if setting == "cora+citeseer->pubmed":
    # Two sources with their own label spaces (and heads), as setting A of the paper.
    graphs = D.pad_all([_reduced(n, config, cache) for n in ("cora", "citeseer", "pubmed")],
                       config.data.pad_multiple)
    sp = _spaces(config, ("src0", "src1", "tgt"))
    src_tasks = [Mth.Task(sp[0], "src0", "src0"), Mth.Task(sp[1], "src1", "src1")]
    return [(setting, graphs[:2], src_tasks, graphs[2], Mth.Task(sp[2], "tgt", "tgt"))]
  if setting == "cora_domains":
    doms = D.pad_all(D.split_domains(_reduced("cora", config, cache), config.data.num_domains,
                                     config.data.domain_split), config.data.pad_multiple)
    out = []
    for j in config.data.held_out or range(len(doms)):
      src = [d for i, d in enumerate(doms) if i != j]
      out.append((f"cora_domains/held_out_{j}", src,
                  [Mth.Task("shared", "shared", f"src{i}") for i in range(len(src))], doms[j],
                  Mth.Task("shared", "shared", "tgt")))
    return out
  raise ValueError(f"unknown setting {setting!r}; valid: {SETTINGS}")


def make_runner(config, method, src_tasks, tgt_task, dims, classes):
  """jit(vmap over seeds) of: init -> (pre-train on sources) -> fine-tune -> target accuracy."""
  hp = hparams(config, method)
  mode = METHODS[method][2]
  t = config.train
  src_spaces = {k.space: dims for k in src_tasks}
  src_labels = {k.label_space: classes[k.label_space] for k in src_tasks}
  all_spaces = {**src_spaces, tgt_task.space: dims}
  all_labels = {**src_labels, tgt_task.label_space: classes[tgt_task.label_space]}
  domains = [k.domain for k in src_tasks]

  def one_seed(key, support, src_graphs, tgt_graph):
    k_init, k_fresh, k_pre, k_ft, k_eval = jax.random.split(key, 5)
    fresh = Mth.init_params(k_fresh, hp, all_spaces, all_labels, domains + [tgt_task.domain])
    pre_loss = jnp.zeros((max(t.meta_steps, 1),))
    if mode is None:
      params = fresh
    else:
      params = Mth.init_params(k_init, hp, src_spaces, src_labels, domains)
      params, pre_loss = Mth.pretrain(
          params, hp, src_tasks, src_graphs, k_pre, mode=mode, num_steps=t.meta_steps,
          lr=t.outer_lr, sup_frac=t.sup_frac, inner_lr=t.inner_lr, inner_steps=t.inner_steps,
          first_order=t.first_order, wd=t.wd)
      params = Mth.with_target_entries(params, fresh, tgt_task, prior=t.target_prior)
    params, ft_loss = Mth.finetune(params, hp, tgt_task, tgt_graph, support, k_ft,
                                   num_steps=t.ft_steps, lr=t.ft_lr, wd=t.wd)
    query = tgt_graph["node_mask"] & ~support
    acc = Mth.accuracy(params, hp, tgt_task, tgt_graph, query, k_eval)
    return acc, pre_loss, ft_loss

  return jax.jit(jax.vmap(one_seed, in_axes=(0, 0, None, None)))


def _keys(config, seeds):
  impl = config.rng_impl or None
  return jnp.stack([jax.random.key_data(jax.random.key(s, impl=impl)) for s in seeds]), impl


def run_instance(config, method, inst, seeds, runners):
  name, src, src_tasks, tgt, tgt_task = inst
  classes = {k.label_space: int(g["labels"][g["node_mask"]].max()) + 1
             for k, g in zip(src_tasks, src)}
  classes[tgt_task.label_space] = int(tgt["labels"][tgt["node_mask"]].max()) + 1
  # Heads get the same width in every setting (the most classes of any graph, Cora's 7), so that
  # Cora->CiteSeer and CiteSeer->Cora share one compiled function; a graph's unused logits
  # are only ever trained as negatives.
  c = max(max(classes.values()), config.data.num_classes_pad)
  classes = {k: c for k in classes}
  dims = src[0]["x"].shape[1]
  sig = (method, tuple(src_tasks), tgt_task, dims, tuple(sorted(classes.items())),
         src[0]["x"].shape[0], src[0]["senders"].shape[0], len(src))
  if sig not in runners:
    runners[sig] = make_runner(config, method, src_tasks, tgt_task, dims, classes)
  support = D.support_masks(tgt["labels"], tgt["node_mask"], config.data.shots, seeds)
  kd, impl = _keys(config, seeds)
  keys = jax.vmap(lambda k: jax.random.wrap_key_data(k, impl=impl))(kd)
  t0 = time.time()
  acc, pre_loss, ft_loss = runners[sig](keys, jnp.asarray(support), src, tgt)
  acc = np.asarray(jax.block_until_ready(acc)) * 100.0
  return {"acc": acc.tolist(), "mean": float(acc.mean()), "std": float(acc.std()),
          "pre_loss_first_last": [float(pre_loss[:, 0].mean()), float(pre_loss[:, -1].mean())],
          "ft_loss_last": float(ft_loss[:, -1].mean()), "wall_s": time.time() - t0,
          "num_target_nodes": int(tgt["node_mask"].sum())}


def summarize(cells, seeds):
  """Setting-level mean/std over seeds (a seed's score: mean over the setting's instances)."""
  per_seed = np.mean([c["acc"] for c in cells], axis=0)
  return {"mean": float(per_seed.mean()), "std": float(per_seed.std()),
          "per_seed": per_seed.tolist()}


def memory_experiment(config):
  """Compiled temp memory of pivot vs dense learned-adjacency propagation (N nodes, P pivots)."""
  e = config.efficiency
  n, d, p = e.num_nodes, config.model.hidden, config.model.num_pivots
  z = jax.ShapeDtypeStruct((n, d), jnp.float32)
  mask = jax.ShapeDtypeStruct((n,), jnp.bool_)
  theta = {"w": jax.ShapeDtypeStruct((config.model.num_heads, d), jnp.float32)}
  pivots = jax.ShapeDtypeStruct((p,), jnp.int32)

  def pivot_fn(theta, z, pivots, mask):
    return M.pivot_propagate(M.structure_learner(theta, z, pivots, mask), z)

  def dense_fn(theta, z, mask):
    return M.dense_learned_propagate(theta, z, mask, z)

  def mem(fn, *args):
    ma = jax.jit(fn).lower(*args).compile().memory_analysis()
    if ma is None:
      return None
    return int(ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
               - ma.alias_size_in_bytes)
  m_piv, m_dense = mem(pivot_fn, theta, z, pivots, mask), mem(dense_fn, theta, z, mask)
  return {"num_nodes": n, "num_pivots": p, "hidden": d, "pivot_bytes": m_piv,
          "dense_bytes": m_dense,
          "ratio": (m_dense / m_piv) if (m_piv and m_dense) else None,
          "analytic_floats": {"pivot_NxP": n * p, "dense_NxN": n * n, "ratio": n / p}}


# Keys that only choose which cells run (each (instance, method) cell has its own cache file).
CELL_SELECTION_KEYS = ("methods", "settings", "efficiency.enabled")


def gates(results, config):
  s = results["settings"]
  order = {k: bool(v["mldgg"]["mean"] >= v["maml_gcn"]["mean"] >= v["erm_ft"]["mean"])
           for k, v in s.items() if all(m in v for m in ("mldgg", "maml_gcn", "erm_ft"))}
  cross = {k: {"gain": v["mldgg"]["mean"] - v["scratch"]["mean"],
               "met": bool(v["mldgg"]["mean"] - v["scratch"]["mean"] >= config.gates.over_scratch)}
           for k, v in s.items() if "->" in k and "mldgg" in v and "scratch" in v}
  abl = {}
  for a in ("mldgg_no_sl", "mldgg_no_sv", "mldgg_no_maml"):
    diffs = [v["mldgg"]["mean"] - v[a]["mean"] for v in s.values() if a in v and "mldgg" in v]
    if diffs:
      abl[a] = {"mean_gain_of_mldgg": float(np.mean(diffs)), "mldgg_ge": bool(np.mean(diffs) >= 0)}
  out = {"ordering_per_setting": order,
         "ordering_met": bool(sum(order.values()) >= config.gates.ordering_min_settings),
         "over_scratch_cross": cross, "ablations": abl}
  if "efficiency" in results and results["efficiency"].get("ratio"):
    out["pivot_memory_saving"] = bool(results["efficiency"]["ratio"] > 1.0)
  return out


def train_and_evaluate(config, workdir) -> dict:
  t_start = time.time()
  configs.refuse_unused(config, UNUSED_SHARED_KEYS, UNUSED_HINT)
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  jtrain.write_run_info(workdir, config)
  seeds = [config.seed + i for i in range(config.num_seeds)]
  unknown = [m for m in config.methods if m not in METHODS]
  if unknown:
    raise ValueError(f"unknown methods {unknown}; valid: {list(METHODS)}")
  cache, runners = {}, {}
  results = {"seeds": seeds, "methods": list(config.methods), "settings": {}, "instances": {}}
  jobs = [(s, inst) for s in config.settings for inst in setting_instances(s, config, cache)]
  bar = tqdm.tqdm(total=len(jobs) * len(config.methods), desc="mldgg",
                  disable=not config.train.progress)
  per_setting = {}
  fp = jtrain.config_fingerprint(config, ignore=CELL_SELECTION_KEYS)
  for setting, inst in jobs:
    for m in config.methods:
      fname = inst[0].replace("/", "__").replace("->", "_to_") + f"__{m}.json"
      cell = jtrain.cached_stage(workdir / fname, fp,
                                 lambda: run_instance(config, m, inst, seeds, runners))
      results["instances"].setdefault(inst[0], {})[m] = cell
      per_setting.setdefault(setting, {}).setdefault(m, []).append(cell)
      bar.set_postfix_str(f"{inst[0]} {m} {cell['mean']:.1f}")
      bar.update()
  bar.close()
  results["settings"] = {s: {m: summarize(c, seeds) for m, c in ms.items()}
                         for s, ms in per_setting.items()}
  if config.efficiency.enabled:
    results["efficiency"] = jtrain.cached_stage(workdir / "efficiency.json", fp,
                                                lambda: memory_experiment(config))
  results["gates"] = gates(results, config)
  results["wall_time_s"] = time.time() - t_start
  results["backend"] = jax.default_backend()
  jtrain.write_results(workdir, results)
  return results
