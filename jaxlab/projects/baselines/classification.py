"""Supervised image classification: any `jaxlab.nn` image model on any array dataset.

Augmentation and normalisation run inside the jitted step (see `jaxlab.ops.augment`); the host
only gathers indices. Evaluation pads the last batch and masks it, so accuracy is exact.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import optax

from jaxlab import data as jdata
from jaxlab import nn as jnn
from jaxlab import ops, train


def create_model(config, num_classes: int):
  kwargs = dict(config.model.get("kwargs", {}) or {})
  return jnn.get_model(config.model.name, config.model.variant, num_classes=num_classes,
                       **kwargs)


def _logits(out):
  return out["logits"] if isinstance(out, dict) else out


def train_and_evaluate(config, workdir) -> dict:
  t0 = time.time()
  train.write_run_info(workdir, config)
  tr, te, num_classes = jdata.load_train_test(config.data)
  images = tr["image"]
  mean, std = jdata.channel_stats(images)

  model = create_model(config, num_classes)
  rng = jax.random.PRNGKey(config.seed)
  init_rng, state_rng = jax.random.split(rng)
  variables = model.init({"params": init_rng, "dropout": init_rng},
                         jnp.zeros((1,) + images.shape[1:], jnp.float32), train=False)
  uses_bn = "batch_stats" in variables
  batch_size = config.data.batch_size
  steps_per_epoch = len(images) // batch_size
  num_steps = config.train.get("num_epochs", 0) * steps_per_epoch or config.train.num_steps
  tx, sched = train.make_optimizer(config.optim, num_steps)
  state = train.TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx,
                                  rng=state_rng, batch_stats=variables.get("batch_stats"),
                                  ema_decay=config.optim.get("ema_decay", 0.0))
  augment = config.data.get("augment", "none")
  smoothing = config.optim.get("label_smoothing", 0.0)

  def preprocess(rng, imgs):
    if augment == "crop_flip":
      imgs = ops.crop_flip(rng, imgs, padding=config.data.get("crop_padding", 4))
    elif augment != "none":
      raise ValueError(f"unknown data.augment {augment!r}; valid: none, crop_flip")
    return ops.normalize(imgs, mean, std)

  def loss_fn(params, batch, rng, batch_stats=None):
    aug_rng, drop_rng = jax.random.split(rng)
    xb = preprocess(aug_rng, batch["image"])
    v = {"params": params}
    if uses_bn:
      v["batch_stats"] = batch_stats
      out, upd = model.apply(v, xb, train=True, mutable=["batch_stats"],
                             rngs={"dropout": drop_rng})
    else:
      out = model.apply(v, xb, train=True, rngs={"dropout": drop_rng})
    logits = _logits(out)
    labels = optax.smooth_labels(jax.nn.one_hot(batch["label"], num_classes), smoothing)
    loss = optax.softmax_cross_entropy(logits, labels).mean()
    metrics = {"accuracy": (logits.argmax(-1) == batch["label"]).mean()}
    return (loss, (metrics, upd["batch_stats"])) if uses_bn else (loss, metrics)

  def metric_fn(state, batch):
    v = state.variables(state.eval_params)
    logits = _logits(model.apply(v, ops.normalize(batch["image"], mean, std), train=False))
    mask = batch["mask"].astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
    return {"accuracy": ((logits.argmax(-1) == batch["label"]) * mask).sum(),
            "loss": (ce * mask).sum(), "count": mask.sum()}

  mesh = train.create_mesh()
  train_step = train.make_train_step(loss_fn, mesh=mesh, uses_batch_stats=uses_bn,
                                     lr_schedule=sched)
  eval_step = train.make_eval_step(metric_fn, mesh=mesh)
  eval_bs = config.eval.batch_size

  def eval_fn(st):
    return train.evaluate(eval_step, st, jdata.eval_batches(
        te, eval_bs, process_index=jax.process_index(), process_count=jax.process_count()), mesh)

  def train_iter(start):
    return jdata.batch_iterator(tr, batch_size, seed=config.seed, start_step=start,
                                process_index=jax.process_index(),
                                process_count=jax.process_count())

  state, summary = train.fit(
      state=state, train_step=train_step, train_iter_fn=train_iter, num_steps=num_steps,
      workdir=workdir, mesh=mesh, eval_fn=eval_fn, **train.loop_options(config.train))
  final = eval_fn(state)
  results = {
      "dataset": config.data.name, "model": f"{config.model.name}/{config.model.variant}",
      "seed": config.seed, "num_steps": num_steps, "epochs": num_steps / steps_per_epoch,
      "num_params": int(sum(x.size for x in jax.tree.leaves(state.params))),
      "test_accuracy": final["accuracy"], "test_loss": final["loss"],
      "train_loss": summary.get("train/loss"), "steps_per_sec": summary.get("steps_per_sec"),
      "resumed_from": summary["resumed_from"], "wall_time_s": time.time() - t0,
      "devices": jax.device_count(), "backend": jax.default_backend(),
  }
  train.write_results(workdir, results)
  return results
