"""Character-level language modelling with the shared pre-LN causal Transformer.

Loss is next-character cross-entropy in nats/char. Validation runs over contiguous,
non-overlapping windows of the held-out last 10% of the text (the nanoGPT split), so the figure
is comparable with nanoGPT's `shakespeare_char`.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab import data as jdata
from jaxlab import nn as jnn
from jaxlab import train


def train_and_evaluate(config, workdir) -> dict:
  t0 = time.time()
  train.write_run_info(workdir, config)
  kw = dict(source=config.data.source, data_dir=config.data.dir or None)
  ds_train = jdata.get_dataset(config.data.name, "train", **kw)
  ds_val = jdata.get_dataset(config.data.name, "val", **kw)
  seq_len, batch_size = config.data.seq_len, config.data.batch_size
  kwargs = dict(config.model.get("kwargs", {}) or {})
  model = jnn.get_model(config.model.name, config.model.variant,
                        vocab_size=ds_train.vocab_size, max_len=seq_len, **kwargs)
  rng = jax.random.PRNGKey(config.seed)
  init_rng, state_rng = jax.random.split(rng)
  params = model.init(init_rng, jnp.zeros((1, seq_len), jnp.int32))["params"]
  num_steps = config.train.num_steps
  tx, sched = train.make_optimizer(config.optim, num_steps)
  state = train.TrainState.create(apply_fn=model.apply, params=params, tx=tx, rng=state_rng)

  def loss_fn(params, batch, rng):
    logits = model.apply({"params": params}, batch["inputs"], train=True,
                         rngs={"dropout": rng})
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"]).mean()
    return loss, {}

  def metric_fn(state, batch):
    logits = model.apply({"params": state.params}, batch["inputs"], train=False)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])
    # The last eval batch is padded with empty windows; only real windows count.
    weight = jnp.broadcast_to(batch["mask"][:, None], ce.shape).astype(jnp.float32)
    return {"loss": (ce * weight).sum(), "count": weight.sum()}

  mesh = train.create_mesh()
  train_step = train.make_train_step(loss_fn, mesh=mesh, lr_schedule=sched)
  eval_step = train.make_eval_step(metric_fn, mesh=mesh)
  max_eval = config.eval.get("max_batches", 0) or None

  def eval_fn(st):
    return train.evaluate(eval_step, st, jdata.lm_eval_batches(
        ds_val.tokens, config.eval.batch_size, seq_len, max_batches=max_eval,
        process_index=jax.process_index(), process_count=jax.process_count()), mesh)

  def train_iter(start):
    return jdata.lm_iterator(ds_train.tokens, batch_size, seq_len, seed=config.seed,
                             start_step=start, process_index=jax.process_index(),
                             process_count=jax.process_count())

  state, summary = train.fit(
      state=state, train_step=train_step, train_iter_fn=train_iter, num_steps=num_steps,
      workdir=workdir, mesh=mesh, eval_fn=eval_fn, **train.loop_options(config.train))
  final = eval_fn(state)

  # A sample, so a person can see what the numbers mean.
  n_new = min(config.eval.get("sample_chars", 200), seq_len - 1)
  gen = jax.jit(functools.partial(jnn.generate, model, max_new_tokens=n_new, temperature=0.8,
                                  top_k=None))
  prompt = jnp.asarray(ds_train.encode("\n"), jnp.int32)[None]
  tokens = gen(jax.device_get(state.params), prompt, rng=jax.random.PRNGKey(config.seed))
  sample = ds_train.decode(np.asarray(tokens[0]))
  results = {
      "dataset": config.data.name, "model": f"{config.model.name}/{config.model.variant}",
      "seed": config.seed, "num_steps": num_steps,
      "num_params": int(sum(x.size for x in jax.tree.leaves(state.params))),
      "val_loss": final["loss"], "val_bits_per_char": final["loss"] / np.log(2),
      "train_loss": summary.get("train/loss"), "steps_per_sec": summary.get("steps_per_sec"),
      "tokens_per_sec": (summary.get("steps_per_sec") or 0) * batch_size * seq_len,
      "resumed_from": summary["resumed_from"], "wall_time_s": time.time() - t0,
      "sample": sample, "devices": jax.device_count(), "backend": jax.default_backend(),
  }
  train.write_results(workdir, results)
  return results
