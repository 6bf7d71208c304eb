"""Full-batch semi-supervised node classification (Kipf & Welling GCN, Velickovic et al. GAT,
GraphSAGE) on a padded `jraph.GraphsTuple`.

All seeds train at once: the whole run (every epoch's update and evaluation) is one `lax.scan`,
vmapped over seeds, so N seeds cost one compilation and no host round-trips. Model selection
follows the papers' protocol in its simplest honest form: the reported test accuracy is the one
at the epoch with the best validation accuracy (ties broken by lower validation loss); test
labels are never used to choose anything.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab import data as jdata
from jaxlab import nn as jnn
from jaxlab import train


def _first_layer_mask(params):
  """Kipf's GCN puts weight decay on the first layer only (layers are named `<kind>_<i>`)."""
  return {k: jax.tree.map(lambda _: k.endswith("_0"), v) for k, v in params.items()}


def make_optimizer(config):
  o = config.optim
  chain = []
  if o.wd:
    mask = _first_layer_mask if o.get("wd_first_layer_only", False) else None
    # Coupled L2 (the papers add wd * ||W||^2 / 2 to the loss), not AdamW's decoupled decay.
    chain.append(optax.add_decayed_weights(o.wd, mask=mask))
  if o.name != "adam":
    raise ValueError(f"node classification uses optim.name='adam' (got {o.name!r})")
  chain.append(optax.adam(o.lr))
  return optax.chain(*chain)


def train_and_evaluate(config, workdir) -> dict:
  t0 = time.time()
  train.write_run_info(workdir, config)
  gd = jdata.get_dataset(config.data.name, source=config.data.source,
                         data_dir=config.data.dir or None,
                         normalize_features=config.data.normalize_features)
  gd = gd.padded(multiple=config.data.get("pad_multiple", 64))
  graph = jax.tree.map(jnp.asarray, gd.graph)
  labels = jnp.asarray(gd.labels)
  masks = {k: jnp.asarray(getattr(gd, f"{k}_mask"), jnp.float32) for k in ("train", "val", "test")}
  kwargs = dict(config.model.get("kwargs", {}) or {})
  model = jnn.get_model(config.model.name, config.model.variant, num_classes=gd.num_classes,
                        **kwargs)
  tx = make_optimizer(config)
  num_epochs = config.train.num_epochs

  def masked_ce(logits, mask):
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    return (ce * mask).sum() / mask.sum()

  def masked_acc(logits, mask):
    return ((logits.argmax(-1) == labels) * mask).sum() / mask.sum()

  def run_seed(seed):
    key = jax.random.PRNGKey(seed)
    init_key, key = jax.random.split(key)
    params = model.init(init_key, graph)["params"]
    opt_state = tx.init(params)

    def epoch(carry, i):
      params, opt_state, best = carry

      def loss_fn(p):
        logits = model.apply({"params": p}, graph, train=True,
                             rngs={"dropout": jax.random.fold_in(key, i)})
        return masked_ce(logits, masks["train"])
      loss, grads = jax.value_and_grad(loss_fn)(params)
      updates, opt_state = tx.update(grads, opt_state, params)
      params = optax.apply_updates(params, updates)
      logits = model.apply({"params": params}, graph, train=False)
      m = {"train_loss": loss, "val_loss": masked_ce(logits, masks["val"]),
           "val_accuracy": masked_acc(logits, masks["val"]),
           "test_accuracy": masked_acc(logits, masks["test"])}
      better = (m["val_accuracy"] > best["val_accuracy"]) | (
          (m["val_accuracy"] == best["val_accuracy"]) & (m["val_loss"] < best["val_loss"]))
      best = jax.tree.map(lambda new, old: jnp.where(better, new, old),
                          dict(m, epoch=i), best)
      return (params, opt_state, best), m

    best0 = {"train_loss": jnp.inf, "val_loss": jnp.inf, "val_accuracy": -1.0,
             "test_accuracy": 0.0, "epoch": 0}
    (_, _, best), history = jax.lax.scan(epoch, (params, opt_state, best0),
                                         jnp.arange(num_epochs))
    return best, history

  seeds = jnp.arange(config.num_seeds) + config.seed
  t_train = time.time()
  best, history = jax.jit(jax.vmap(run_seed))(seeds)
  best, history = jax.device_get((best, history))
  t_train = time.time() - t_train

  writer = train.MetricWriter(workdir, tensorboard=config.train.tensorboard)
  for e in range(0, num_epochs, config.train.log_every):
    writer.write(e + 1, {f"{'train' if k == 'train_loss' else 'eval'}/{k}": float(np.mean(v[:, e]))
                         for k, v in history.items()})
  writer.close()
  test = np.asarray(best["test_accuracy"])
  results = {
      "dataset": config.data.name, "model": f"{config.model.name}/{config.model.variant}",
      "seeds": [int(s) for s in seeds], "num_epochs": num_epochs,
      "test_accuracy_mean": float(test.mean()), "test_accuracy_std": float(test.std()),
      "test_accuracy_per_seed": test.tolist(),
      "val_accuracy_mean": float(np.mean(best["val_accuracy"])),
      "best_epoch_per_seed": np.asarray(best["epoch"]).tolist(),
      "num_nodes": gd.num_nodes, "num_edges": gd.num_edges,
      "train_time_s": t_train, "wall_time_s": time.time() - t0,
      "backend": jax.default_backend(),
  }
  train.write_results(workdir, results)
  return results
