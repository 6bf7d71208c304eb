"""Training core: loss decreases, resume equivalence, 1 vs 4 devices (jit mesh and pmap),
NaN stop, optimizer/schedule construction, checkpoint failure modes."""

import json

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab import train


class _Net(nn.Module):
  """Dense -> BatchNorm -> relu -> Dense: small, but exercises batch_stats."""
  bn: bool = False

  @nn.compact
  def __call__(self, x, train=False):
    x = nn.Dense(16)(x)
    if self.bn:
      x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
    return nn.Dense(3)(nn.relu(x))


def _data(n=256, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, 8)).astype(np.float32)
  w = rng.normal(size=(8, 3)).astype(np.float32)
  return {"x": x, "y": (x @ w).argmax(-1).astype(np.int32)}


def _iter_fn(data, batch=32, seed=0):
  n = len(data["y"])
  spe = n // batch

  def it(start):
    s = start
    while True:
      perm = np.random.default_rng([seed, s // spe]).permutation(n)
      idx = perm[(s % spe) * batch:(s % spe + 1) * batch]
      yield {k: v[idx] for k, v in data.items()}
      s += 1
  return it


def _setup(bn=False, lr=0.1, num_steps=20, opt="momentum"):
  model = _Net(bn=bn)
  v = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 8)))
  tx, sched = train.make_optimizer({"name": opt, "lr": lr, "schedule": "cosine"}, num_steps)
  state = train.TrainState.create(apply_fn=model.apply, params=v["params"], tx=tx,
                                  rng=jax.random.PRNGKey(1), batch_stats=v.get("batch_stats"))
  if bn:
    def loss_fn(params, batch, rng, batch_stats):
      logits, upd = model.apply({"params": params, "batch_stats": batch_stats}, batch["x"],
                                train=True, mutable=["batch_stats"])
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
      return loss, ({"acc": (logits.argmax(-1) == batch["y"]).mean()}, upd["batch_stats"])
  else:
    def loss_fn(params, batch, rng):
      logits = model.apply({"params": params}, batch["x"])
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
      return loss, {"acc": (logits.argmax(-1) == batch["y"]).mean()}
  return model, state, loss_fn, sched


def test_loss_decreases_and_files_written(tmp_path):
  data = _data()
  _, state, loss_fn, sched = _setup(num_steps=60)
  step = train.make_train_step(loss_fn, lr_schedule=sched)
  state, summary = train.fit(state=state, train_step=step, train_iter_fn=_iter_fn(data),
                             num_steps=60, workdir=tmp_path, log_every=10, progress=False)
  rows = train.read_metrics(tmp_path)
  losses = [r["train/loss"] for r in rows]
  assert len(losses) == 6
  assert losses[-1] < 0.5 * losses[0], losses
  assert int(state.step) == 60
  assert {"train/lr", "train/grad_norm", "train/acc"} <= set(rows[0])
  assert (tmp_path / "checkpoints" / "60").is_dir()
  assert list((tmp_path / "tensorboard").iterdir())
  assert summary["steps_per_sec"] > 0


@pytest.mark.parametrize("bn", [False, True])
def test_resume_equals_uninterrupted(tmp_path, bn):
  data = _data()
  n = 12
  _, s0, loss_fn, sched = _setup(bn=bn, num_steps=n)
  step = train.make_train_step(loss_fn, uses_batch_stats=bn, lr_schedule=sched, donate=False)
  ref, _ = train.fit(state=s0, train_step=step, train_iter_fn=_iter_fn(data), num_steps=n,
                     workdir=tmp_path / "a", progress=False)

  # Interrupted at step 7 (KeyboardInterrupt from the data pipeline), then resumed.
  def interrupting(start):
    for i, b in enumerate(_iter_fn(data)(start)):
      if start + i == 7:
        raise KeyboardInterrupt
      yield b
  with pytest.raises(KeyboardInterrupt):
    train.fit(state=s0, train_step=step, train_iter_fn=interrupting, num_steps=n,
              workdir=tmp_path / "b", progress=False, ckpt_every=5)
  # The interrupt saved the last finished step (prefetching reads ahead, so 6 here), past the
  # regular checkpoint at 5.
  saved = sorted(int(p.name) for p in (tmp_path / "b" / "checkpoints").iterdir()
                 if p.name.isdigit())
  assert saved[-1] > 5
  _, fresh, _, _ = _setup(bn=bn, num_steps=n)
  out, summary = train.fit(state=fresh, train_step=step, train_iter_fn=_iter_fn(data),
                           num_steps=n, workdir=tmp_path / "b", progress=False)
  assert summary["resumed_from"] == saved[-1]
  chex.assert_trees_all_close(out.params, ref.params, rtol=1e-6, atol=1e-7)
  chex.assert_trees_all_close(out.opt_state, ref.opt_state, rtol=1e-6, atol=1e-7)
  if bn:
    chex.assert_trees_all_close(out.batch_stats, ref.batch_stats, rtol=1e-6, atol=1e-7)
  steps = [r["step"] for r in train.read_metrics(tmp_path / "b")]
  assert steps == sorted(set(steps)), "resumed run logged a step twice"


@pytest.mark.parametrize("bn", [False, True])
def test_four_devices_match_one(bn):
  assert jax.device_count() == 4, "conftest should create 4 fake CPU devices"
  data = _data(128)
  batch = {k: v[:32] for k, v in data.items()}
  results = {}
  for name, devs in [("one", jax.devices()[:1]), ("four", jax.devices())]:
    _, state, loss_fn, sched = _setup(bn=bn)
    mesh = train.create_mesh(devs)
    step = train.make_train_step(loss_fn, mesh=mesh, uses_batch_stats=bn, lr_schedule=sched)
    state = train.replicate(state, mesh)
    for _ in range(3):
      state, m = step(state, train.shard_batch(batch, mesh))
    results[name] = (jax.device_get(state.params), jax.device_get(m),
                     jax.device_get(state.batch_stats))
    if name == "four":
      assert len(state.params["Dense_0"]["kernel"].sharding.device_set) == 4
  chex.assert_trees_all_close(results["one"], results["four"], rtol=1e-5, atol=1e-6)

  # pmap path: the same three steps with the batch split over 4 devices.
  _, state, loss_fn, sched = _setup(bn=bn)
  pstep = train.make_pmap_train_step(loss_fn, uses_batch_stats=bn, lr_schedule=sched)
  pstate = train.pmap_replicate(state, 4)
  for _ in range(3):
    pstate, pm = pstep(pstate, train.split_for_pmap(batch, 4))
  out = train.pmap_unreplicate(jax.device_get(pstate))
  if bn:
    # BatchNorm normalises per device under pmap (its statistics are local), so only the
    # synchronised pieces are comparable: params stay replicated and finite.
    chex.assert_trees_all_equal(jax.device_get(pstate.params)["Dense_1"]["kernel"][0],
                                jax.device_get(pstate.params)["Dense_1"]["kernel"][3])
  else:
    chex.assert_trees_all_close(out.params, results["one"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pm["loss"][0], results["one"][1]["loss"], rtol=1e-5)


def test_nonfinite_loss_stops_with_step(tmp_path):
  data = _data()
  _, state, loss_fn, _ = _setup()

  def bad_loss(params, batch, rng):
    loss, aux = loss_fn(params, batch, rng)
    step_is_5 = jnp.all(batch["x"][0] == 1234.0)
    return jnp.where(step_is_5, jnp.nan, loss), aux

  def it(start):
    for i, b in enumerate(_iter_fn(data)(start)):
      if start + i == 4:  # the 5th step (1-based) sees a poisoned batch
        b = dict(b, x=np.full_like(b["x"], 1234.0))
      yield b
  step = train.make_train_step(bad_loss)
  with pytest.raises(train.NonFiniteLossError, match="at step 5"):
    train.fit(state=state, train_step=step, train_iter_fn=it, num_steps=20, workdir=tmp_path,
              log_every=10, ckpt_every=3, progress=False)
  # The checkpoint at step 3 predates the NaN and stays; nothing after it was saved.
  assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == ["3"]


def test_corrupt_checkpoint_falls_back_then_errors(tmp_path):
  data = _data()
  _, state, loss_fn, _ = _setup()
  step = train.make_train_step(loss_fn, donate=False)
  train.fit(state=state, train_step=step, train_iter_fn=_iter_fn(data), num_steps=4,
            workdir=tmp_path, ckpt_every=2, progress=False)
  ck = tmp_path / "checkpoints"
  # Damage the newest checkpoint's array data: resume falls back to step 2.
  for f in (ck / "4").rglob("*"):
    if f.is_file() and f.stat().st_size > 0 and "json" not in f.name:
      f.write_bytes(b"\0garbage" * 4)
  restored = train.Checkpointer(tmp_path).restore(state)
  assert restored is not None and int(restored[0].step) == 2
  # A different model no longer fits any checkpoint: a clear error, files left in place.
  other = _Net(bn=False)
  v = nn.Dense(5).init(jax.random.PRNGKey(0), jnp.zeros((1, 8)))
  tx = optax.sgd(0.1)
  wrong = train.TrainState.create(apply_fn=other.apply, params=v["params"], tx=tx,
                                  rng=jax.random.PRNGKey(0))
  with pytest.raises(train.CheckpointError, match="start a new --workdir"):
    train.Checkpointer(tmp_path).restore(wrong)
  assert (ck / "4").is_dir() and (ck / "2").is_dir()


def test_orbax_info_lines_filtered_warnings_kept(tmp_path, caplog):
  import logging
  import os
  caplog.set_level(logging.INFO, logger="absl")
  ck = train.Checkpointer(tmp_path)
  ck.save({"a": np.ones(3, np.float32)}, {"k": 1}, step=1, wait=True)
  assert ck.restore()[1] == {"k": 1}
  ck.close()
  logging.getLogger("absl").info("own line")
  orbax = [r for r in caplog.records if f"{os.sep}orbax{os.sep}" in r.pathname]
  assert not orbax, [r.getMessage()[:80] for r in orbax[:3]]
  assert any(r.getMessage() == "own line" for r in caplog.records)
  # orbax's warnings still pass the filter
  (f,) = [f for f in logging.getLogger("absl").filters if type(f).__name__ == "_QuietOrbax"]
  rec = logging.LogRecord("absl", logging.WARNING, f"{os.sep}x{os.sep}orbax{os.sep}y.py", 1,
                          "w", None, None)
  assert f.filter(rec) and not f.filter(logging.LogRecord(
      "absl", logging.INFO, rec.pathname, 1, "i", None, None))


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "adamw", "lamb",
                                  "lars", "rmsprop", "adafactor", "lion"])
def test_every_optimizer_builds_and_steps(name):
  params = {"w": jnp.ones((4, 4)), "b": jnp.zeros((4,))}
  tx, sched = train.make_optimizer({"name": name, "lr": 0.1, "wd": 1e-4, "grad_clip": 1.0,
                                    "schedule": "warmup_cosine", "warmup_steps": 2}, 10)
  st = tx.init(params)
  g = jax.tree.map(jnp.ones_like, params)
  upd, st = tx.update(g, st, params)
  assert float(jnp.abs(upd["w"]).sum()) == 0.0  # warmup starts at lr 0
  upd, _ = tx.update(g, st, params)
  assert float(jnp.abs(upd["w"]).sum()) > 0
  assert float(sched(0)) == 0.0 and abs(float(sched(2)) - 0.1) < 1e-6


def test_schedules_closed_form():
  sched = train.make_schedule({"lr": 1.0, "schedule": "cosine"}, 100)
  np.testing.assert_allclose(float(sched(50)), 0.5, atol=1e-6)
  step = train.make_schedule({"lr": 1.0, "schedule": "step", "decay_steps": (0.5,),
                              "decay_factor": 0.1}, 100)
  assert float(step(49)) == 1.0 and abs(float(step(51)) - 0.1) < 1e-7


def test_bad_optimizer_names_list_valid():
  with pytest.raises(ValueError, match="adamw"):
    train.make_optimizer({"name": "adamx"}, 10)
  with pytest.raises(ValueError, match="warmup_cosine"):
    train.make_schedule({"schedule": "cosin"}, 10)


def test_ema_tracks_params():
  _, state, loss_fn, _ = _setup()
  state = state.replace(ema_params=state.params, ema_decay=0.5)
  g = jax.tree.map(jnp.ones_like, state.params)
  new = state.apply_gradients(g)
  expect = jax.tree.map(lambda e, p: 0.5 * e + 0.5 * p, state.params, new.params)
  chex.assert_trees_all_close(new.ema_params, expect)
  assert new.eval_params is new.ema_params


def test_run_info_written(tmp_path):
  import ml_collections
  cfg = ml_collections.ConfigDict({"seed": 3, "project": "baselines"})
  info = train.write_run_info(tmp_path, cfg)
  on_disk = json.loads((tmp_path / "config.json").read_text())
  assert on_disk["seed"] == 3 and on_disk["versions"]["jax"] == jax.__version__
  assert len(on_disk["devices"]) == 4 and "git_commit" in on_disk
  assert info["config"]["project"] == "baselines"


def test_load_params_reads_a_finished_run_without_its_optimizer(tmp_path):
  import optax
  from jaxlab.train import Checkpointer, CheckpointError, TrainState, load_params
  params = {"w": jnp.arange(6.0).reshape(2, 3)}
  tx = optax.adam(1e-3)
  state = TrainState.create(apply_fn=None, params=params, tx=tx, rng=jax.random.key(0))
  ck = Checkpointer(tmp_path)
  ck.save(state, wait=True)
  ck.close()
  got = load_params(tmp_path)
  np.testing.assert_array_equal(got["params"]["w"], params["w"])
  assert got["step"] == 0 and got["config"] is None
  with pytest.raises(CheckpointError, match="train the backbone first"):
    load_params(tmp_path / "missing")
