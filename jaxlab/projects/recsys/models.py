"""The fitted-model container, the algorithm registry, predict/recommend and save/load.

Every algorithm is a pair of pure functions registered here:
  fit(train: RatingsData, *, seed: int, **hparams) -> Model
  estimate(params: dict[str, jax.Array], meta: dict, users, items, **extra) -> [N] float32
`predict(model, users, items)` adds the rating-scale clipping of explicit models; `scores(model,
users)` is the [len(users), num_items] score matrix used for ranking; `recommend(model, user, k)`
returns the top-k items (training items excluded by default).

A `Model` holds plain arrays (`params`) and a JSON-able `meta` dict (algorithm name, id-space
sizes, global mean, hyper-parameters). It saves to one `.npz` file; `load` checks the format tag,
the algorithm name and every array's shape/dtype against the recorded ones, and raises
`ModelFileError` naming the file on any mismatch or corruption.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import zipfile
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.projects.recsys import data as rdata

FORMAT = "jaxlab.recsys.model/1"


class ModelFileError(ValueError):
  """A saved model file is missing, corrupt, or does not match what was expected."""


@dataclasses.dataclass(frozen=True, eq=False)
class Model:
  """A fitted recommender.

  Attributes:
    algo: registry name, e.g. "svd".
    params: name -> array (numpy or jax). Always holds "seen_indptr"/"seen_items" (CSR of the
      training interactions) used to exclude seen items in `recommend`.
    meta: JSON-able dict: num_users, num_items, global_mean, rating_scale, hparams, ...
  """
  algo: str
  params: dict
  meta: dict

  @property
  def num_users(self):
    return int(self.meta["num_users"])

  @property
  def num_items(self):
    return int(self.meta["num_items"])


@dataclasses.dataclass(frozen=True)
class AlgoSpec:
  fit: Callable[..., Model]
  estimate: Callable[..., jax.Array]
  kind: str  # "explicit" (ratings) or "implicit" (scores for ranking)
  defaults: dict
  description: str = ""
  score_matrix: Callable[..., jax.Array] | None = None  # fast path for scores(model, users)


REGISTRY: dict[str, AlgoSpec] = {}


def register(name, *, fit, estimate, kind, defaults, description="", score_matrix=None):
  REGISTRY[name] = AlgoSpec(fit, estimate, kind, dict(defaults), description, score_matrix)


def _ensure_registered():
  # Importing the algorithm modules fills REGISTRY.
  from jaxlab.projects.recsys import baseline, fm, implicit, knn, mf  # noqa: F401


def list_algorithms():
  _ensure_registered()
  return sorted(REGISTRY)


def get_spec(name) -> AlgoSpec:
  _ensure_registered()
  if name not in REGISTRY:
    raise ValueError(f"unknown recsys algorithm {name!r}; valid: {', '.join(sorted(REGISTRY))}")
  return REGISTRY[name]


def resolve_hparams(name, hparams) -> dict:
  """Defaults of `name` updated with `hparams`; unknown keys fail listing the valid ones."""
  spec = get_spec(name)
  out = dict(spec.defaults)
  for k, v in dict(hparams or {}).items():
    if k not in out:
      raise KeyError(f"unknown hyper-parameter {k!r} for {name}; valid: {', '.join(out)}")
    out[k] = v
  return out


def fit(name, train, *, seed=0, **hparams) -> Model:
  """Fits registered algorithm `name` on `train` (a `RatingsData`)."""
  spec = get_spec(name)
  hp = resolve_hparams(name, hparams)
  return spec.fit(train, seed=seed, **hp)


def base_meta(algo, train, hparams, **extra) -> dict:
  rating = np.asarray(train.rating, np.float64)
  meta = dict(algo=algo, num_users=int(train.num_users), num_items=int(train.num_items),
              global_mean=float(rating.mean()) if len(rating) else 0.0,
              rating_scale=[1.0, 5.0], num_train=int(len(train)),
              hparams={k: (list(v) if isinstance(v, tuple) else v) for k, v in hparams.items()})
  meta.update(extra)
  return meta


def seen_params(train) -> dict:
  indptr, items = rdata.csr(train.user, train.item, train.num_users)
  return {"seen_indptr": indptr, "seen_items": items}


def make_model(algo, train, params, hparams, **meta_extra) -> Model:
  params = dict(params)
  params.update(seen_params(train))
  return Model(algo, params, base_meta(algo, train, hparams, **meta_extra))


# ----------------------------------------------------------------------------------------------
# Inference


def _jparams(model):
  return {k: jnp.asarray(v) for k, v in model.params.items()
          if k not in ("seen_indptr", "seen_items")}


def estimate(model: Model, users, items, **extra) -> jax.Array:
  """Raw (unclipped) estimates for aligned `users`, `items` [N]."""
  spec = get_spec(model.algo)
  users = jnp.asarray(users, jnp.int32)
  items = jnp.asarray(items, jnp.int32)
  return spec.estimate(_jparams(model), model.meta, users, items, **extra)


def predict(model: Model, users, items, *, clip=True, **extra) -> jax.Array:
  """Predicted ratings (explicit models: clipped to the rating scale, as Surprise does)."""
  est = estimate(model, users, items, **extra)
  if clip and get_spec(model.algo).kind == "explicit":
    lo, hi = model.meta["rating_scale"]
    est = jnp.clip(est, lo, hi)
  return est


def scores(model: Model, users, **extra) -> jax.Array:
  """[len(users), num_items] ranking scores (explicit models: unclipped predictions)."""
  spec = get_spec(model.algo)
  users = jnp.asarray(users, jnp.int32)
  if spec.score_matrix is not None:
    return spec.score_matrix(_jparams(model), model.meta, users, **extra)
  n = model.num_items
  uu = jnp.repeat(users, n)
  ii = jnp.tile(jnp.arange(n, dtype=jnp.int32), users.shape[0])
  return estimate(model, uu, ii, **extra).reshape(users.shape[0], n)


def seen_mask(model: Model, users=None) -> np.ndarray:
  """bool [len(users), num_items]: training interactions of each user."""
  indptr, items = np.asarray(model.params["seen_indptr"]), np.asarray(model.params["seen_items"])
  users = np.arange(model.num_users) if users is None else np.asarray(users)
  out = np.zeros((len(users), model.num_items), bool)
  for row, u in enumerate(users):
    out[row, items[indptr[u]:indptr[u + 1]]] = True
  return out


def recommend(model: Model, user: int, k: int = 10, *, exclude_seen=True, **extra):
  """(items [k], scores [k]) of the k best items for `user`, best first."""
  if not 0 <= int(user) < model.num_users:
    raise ValueError(f"user {user} outside [0, {model.num_users})")
  k = min(int(k), model.num_items)
  s = scores(model, jnp.asarray([int(user)]), **extra)[0]
  if exclude_seen:
    s = jnp.where(jnp.asarray(seen_mask(model, [int(user)])[0]), -jnp.inf, s)
  vals, idx = jax.lax.top_k(s, k)
  return np.asarray(idx), np.asarray(vals)


# ----------------------------------------------------------------------------------------------
# Save / load


def save(model: Model, path) -> pathlib.Path:
  """Writes `model` to `path` (.npz appended if missing); returns the path."""
  path = pathlib.Path(path)
  if path.suffix != ".npz":
    path = path.with_suffix(path.suffix + ".npz")
  path.parent.mkdir(parents=True, exist_ok=True)
  arrays = {f"p/{k}": np.asarray(v) for k, v in model.params.items()}
  shapes = {k: [list(a.shape), str(a.dtype)] for k, a in
            ((k[2:], v) for k, v in arrays.items())}
  header = dict(format=FORMAT, algo=model.algo, meta=model.meta, arrays=shapes)
  arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
  with open(path, "wb") as f:
    np.savez(f, **arrays)
  return path


def load(path, expected_algo: str | None = None) -> Model:
  """Reads a model written by `save`; raises `ModelFileError` on any problem."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise ModelFileError(f"{path}: no such model file")
  try:
    with np.load(path, allow_pickle=False) as z:
      contents = {k: z[k] for k in z.files}
  except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
    raise ModelFileError(f"{path}: not a readable recsys model file ({e})") from e
  if "__header__" not in contents:
    raise ModelFileError(f"{path}: no __header__ entry; not written by recsys.save")
  try:
    header = json.loads(contents.pop("__header__").tobytes().decode())
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise ModelFileError(f"{path}: corrupt header ({e})") from e
  if header.get("format") != FORMAT:
    raise ModelFileError(f"{path}: format {header.get('format')!r}, expected {FORMAT!r}")
  algo = header.get("algo")
  if algo not in list_algorithms():
    raise ModelFileError(f"{path}: unknown algorithm {algo!r}")
  if expected_algo is not None and algo != expected_algo:
    raise ModelFileError(f"{path}: holds a {algo!r} model, expected {expected_algo!r}")
  params = {}
  expected = header.get("arrays", {})
  names = {k[2:] for k in contents if k.startswith("p/")}
  if names != set(expected):
    raise ModelFileError(f"{path}: arrays {sorted(names)} do not match the header's "
                         f"{sorted(expected)}")
  for name, (shape, dtype) in expected.items():
    a = contents[f"p/{name}"]
    if list(a.shape) != list(shape) or str(a.dtype) != dtype:
      raise ModelFileError(f"{path}: array {name!r} has {a.shape}/{a.dtype}, header says "
                           f"{tuple(shape)}/{dtype}")
    params[name] = a
  meta = header.get("meta", {})
  if "seen_indptr" not in params or "seen_items" not in params:
    raise ModelFileError(f"{path}: the training interactions (seen_indptr/seen_items) are missing")
  if int(meta.get("num_users", -1)) + 1 != params["seen_indptr"].shape[0]:
    raise ModelFileError(f"{path}: seen_indptr does not match num_users={meta.get('num_users')}")
  return Model(algo, params, meta)


def as_host(x: Any):
  return np.asarray(jax.device_get(x))
