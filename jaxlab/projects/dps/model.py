"""TGAT-style temporal attention encoder with per-sampler branches and attention fusion (DPS).

Learning Dynamic Preference Structure Embedding From Temporal Networks (Zheng et al., ICBK 2021,
arXiv 2111.11886). DPS embeds node u at time t with an L-layer TGAT whose every layer aggregates
S separately sampled temporal neighbourhoods (S = 2: Gumbel Attention Sampler and Time Decay
Sampler) with its own temporal attention module and fuses the S embeddings with an attention
layer over samplers (AM-GCN style). S = 1 is plain TGAT (uniform / most-recent sampling).

Everything here is a pure function of a params dict and dense padded neighbour tensors:
layer-1 neighbours `[Q, S, K]`, layer-2 neighbours `[Q, S, K, S, K]` (id 0 = padding), their
time gaps Δt (float32, computed on the host in int64) and masks. No Python loops over events.

Deviations from the paper (see also `train.py` and README):
* no edge features: the key/value is [h_v ‖ Φ(Δt)] (d_e = 0 instead of a zero block);
* rows with no valid neighbour give a zero attention output (`jnp.where(any_valid, ...)`)
  instead of the −1e10 uniform attention over padding embeddings of the official code
  (`mask_mode="official"` restores the latter);
* `dps_mean` ablation: LayerNorm(mean_s h_s) instead of LayerNorm(Σ_s β_s h_s).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def _dense(key, din, dout, bias=True):
  """PyTorch nn.Linear-style init (uniform ±1/sqrt(din))."""
  kw, kb = jax.random.split(key)
  lim = 1.0 / math.sqrt(din)
  p = {"w": jax.random.uniform(kw, (din, dout), jnp.float32, -lim, lim)}
  if bias:
    p["b"] = jax.random.uniform(kb, (dout,), jnp.float32, -lim, lim)
  return p


def _apply_dense(p, x):
  y = x @ p["w"]
  return y + p["b"] if "b" in p else y


def _layernorm_init(d):
  return {"scale": jnp.ones((d,), jnp.float32), "bias": jnp.zeros((d,), jnp.float32)}


def layernorm(p, x, eps=1e-5):
  mu = x.mean(-1, keepdims=True)
  var = ((x - mu) ** 2).mean(-1, keepdims=True)
  return (x - mu) * jax.lax.rsqrt(var + eps) * p["scale"] + p["bias"]


# ----------------------------------------------------------------------------- time encoding
def init_time_encoder(time_dim):
  """Φ(Δt) = cos(Δt·ω + φ), ω_i = 10^(−9 i/(d_t−1)), φ = 0 (TGAT), both trainable."""
  i = np.arange(time_dim, dtype=np.float64)
  omega = 1.0 / 10 ** (9 * i / max(time_dim - 1, 1))
  return {"omega": jnp.asarray(omega, jnp.float32), "phi": jnp.zeros((time_dim,), jnp.float32)}


def time_encode(p, dt):
  """`dt [...]` float32 → `[..., d_t]`."""
  return jnp.cos(dt[..., None] * p["omega"] + p["phi"])


# ------------------------------------------------------------------------- attention module
def init_attention(key, node_dim, time_dim, num_heads):
  """One TGAT AttnModel (prod attention) + its MergeLayer(d_model + d_n → d_n → d_n)."""
  d_model = node_dim + time_dim
  if d_model % num_heads:
    raise ValueError(f"node_dim + time_dim = {d_model} must be divisible by num_heads={num_heads}")
  ks = jax.random.split(key, 6)
  return {"wq": _dense(ks[0], d_model, d_model, bias=False),
          "wk": _dense(ks[1], d_model, d_model, bias=False),
          "wv": _dense(ks[2], d_model, d_model, bias=False),
          "fc": _dense(ks[3], d_model, d_model), "ln": _layernorm_init(d_model),
          "merge1": _dense(ks[4], d_model + node_dim, node_dim),
          "merge2": _dense(ks[5], node_dim, node_dim)}


def attention_scores(p, q, kv, num_heads):
  """Scaled dot-product logits `[..., H, K]` of queries `q [..., D]` over keys `kv [..., K, D]`."""
  d = q.shape[-1]
  dk = d // num_heads
  qh = _apply_dense(p["wq"], q).reshape(q.shape[:-1] + (num_heads, dk))
  kh = _apply_dense(p["wk"], kv).reshape(kv.shape[:-1] + (num_heads, dk))
  return jnp.einsum("...hd,...khd->...hk", qh, kh) / math.sqrt(dk)


def temporal_attention(p, h_self, h_nb, te_nb, te_zero, mask, *, num_heads, dropout=0.0,
                       rng=None, mask_mode="safe", weights=None):
  """TGAT temporal attention for a batch of rows.

  Args:
    h_self: `[..., d_n]` the node's lower-layer embedding; q = [h_self ‖ Φ(0)].
    h_nb: `[..., K, d_n]`, te_nb `[..., K, d_t]`: neighbours' embeddings and Φ(Δt); K = V.
    te_zero: `[d_t]` Φ(0).
    mask: `[..., K]` bool, True = real neighbour.
    weights: optional `[..., K]` attention weights that replace the softmax (Gumbel sampler).
  Returns:
    (`[..., d_n]` new embedding, `[..., H, K]` attention weights).
  """
  d_model = h_self.shape[-1] + te_zero.shape[-1]
  q = jnp.concatenate([h_self, jnp.broadcast_to(te_zero, h_self.shape[:-1] + te_zero.shape)], -1)
  kv = jnp.concatenate([h_nb, te_nb], -1)
  any_valid = mask.any(-1)
  if weights is None:
    logits = attention_scores(p, q, kv, num_heads)
    m = mask[..., None, :]
    if mask_mode == "official":
      logits = jnp.where(m, logits, -1e10)
      attn = jax.nn.softmax(logits, -1)
    else:
      logits = jnp.where(m, logits, -jnp.inf)
      attn = jax.nn.softmax(jnp.where(any_valid[..., None, None], logits, 0.0), -1)
      attn = jnp.where(m, attn, 0.0)
  else:
    attn = jnp.broadcast_to(weights[..., None, :], weights.shape[:-1] + (num_heads,)
                            + weights.shape[-1:])
  if dropout > 0 and rng is not None:
    keep = jax.random.bernoulli(rng, 1 - dropout, attn.shape)
    attn = jnp.where(keep, attn / (1 - dropout), 0.0)
  dk = d_model // num_heads
  vh = _apply_dense(p["wv"], kv).reshape(kv.shape[:-1] + (num_heads, dk))
  out = jnp.einsum("...hk,...khd->...hd", attn, vh).reshape(q.shape)
  out = _apply_dense(p["fc"], out)
  if mask_mode != "official":
    out = jnp.where(any_valid[..., None], out, 0.0)
  out = layernorm(p["ln"], out + q)
  z = jax.nn.relu(_apply_dense(p["merge1"], jnp.concatenate([out, h_self], -1)))
  return _apply_dense(p["merge2"], z), attn


# --------------------------------------------------------------------------------- fusion
def init_fusion(key, node_dim, num_samplers):
  ks = jax.random.split(key, num_samplers + 1)
  return {"w": [_dense(ks[s], node_dim, node_dim) for s in range(num_samplers)],
          "q": jax.random.uniform(ks[-1], (node_dim,), jnp.float32, -1 / math.sqrt(node_dim),
                                  1 / math.sqrt(node_dim)),
          "ln": _layernorm_init(node_dim)}


def fuse(p, hs, mode):
  """Fuse per-sampler embeddings `hs [..., S, d]` → `([..., d], β [..., S])`.

  mode "attention": a_s = qᵀ tanh(W_s h_s + b_s), β = softmax_s(a), LayerNorm(Σ β_s h_s);
  "mean": LayerNorm(mean_s h_s); "none" (S = 1, TGAT): h_0 unchanged.
  """
  S = hs.shape[-2]
  if mode == "none":
    if S != 1:
      raise ValueError(f"fusion 'none' needs one sampler, got {S}")
    return hs[..., 0, :], jnp.ones(hs.shape[:-1], hs.dtype)
  if mode == "mean":
    beta = jnp.full(hs.shape[:-1], 1.0 / S, hs.dtype)
  elif mode == "attention":
    a = jnp.stack([jnp.tanh(_apply_dense(p["w"][s], hs[..., s, :])) @ p["q"] for s in range(S)],
                  -1)
    beta = jax.nn.softmax(a, -1)
  else:
    raise ValueError(f"unknown fusion {mode!r}; valid: attention, mean, none")
  return layernorm(p["ln"], jnp.einsum("...s,...sd->...d", beta, hs)), beta


# ------------------------------------------------------------------------------ the encoder
def init_params(key, *, num_nodes, node_dim, time_dim, num_heads, num_layers, num_samplers,
                fusion):
  """Params of the L-layer encoder + link predictor. Node ids 1..N (0 = padding row)."""
  ks = jax.random.split(key, 4 + num_layers)
  lim = math.sqrt(6.0 / (2 * node_dim))
  emb = jax.random.uniform(ks[0], (num_nodes + 1, node_dim), jnp.float32, -lim, lim)
  emb = emb.at[0].set(0.0)
  layers = []
  for l in range(num_layers):
    kl = jax.random.split(ks[4 + l], num_samplers + 1)
    layer = {"attn": [init_attention(kl[s], node_dim, time_dim, num_heads)
                      for s in range(num_samplers)]}
    if fusion != "none":
      layer["fusion"] = init_fusion(kl[-1], node_dim, num_samplers)
    layers.append(layer)
  return {"emb": emb, "time": init_time_encoder(time_dim), "layers": layers,
          "score1": _dense(ks[1], 2 * node_dim, node_dim), "score2": _dense(ks[2], node_dim, 1)}


def _layer(p_layer, p_time, h_self, h_nb, dt, mask, *, num_heads, fusion, dropout, rng,
           mask_mode):
  """One DPS layer for rows: `h_self [..., d]`, `h_nb [..., S, K, d]`, `dt, mask [..., S, K]`."""
  te_nb = time_encode(p_time, dt)
  te_zero = time_encode(p_time, jnp.zeros((), jnp.float32))
  S = h_nb.shape[-3]
  outs = []
  for s in range(S):
    r = None if rng is None else jax.random.fold_in(rng, s)
    o, _ = temporal_attention(p_layer["attn"][s], h_self, h_nb[..., s, :, :], te_nb[..., s, :, :],
                              te_zero, mask[..., s, :], num_heads=num_heads, dropout=dropout,
                              rng=r, mask_mode=mask_mode)
    outs.append(o)
  return fuse(p_layer.get("fusion"), jnp.stack(outs, -2), fusion)


def embed(params, nb, *, num_heads, fusion, dropout=0.0, rng=None, mask_mode="safe"):
  """Temporal embeddings of Q query nodes (1 or 2 layers).

  nb: dict with `ids0 [Q]`, `ids1, dt1, mask1 [Q, S, K]` and, for 2 layers,
  `ids2, dt2, mask2 [Q, S, K, S, K]` (dt = query time − neighbour event time ≥ 0... > 0).
  Returns (`[Q, d]`, fusion weights of the top layer `[Q, S]`).
  """
  E = params["emb"]
  L = len(params["layers"])
  kw = dict(num_heads=num_heads, fusion=fusion, dropout=dropout, mask_mode=mask_mode)
  r = lambda i: None if rng is None else jax.random.fold_in(rng, i)
  h0_q = jnp.take(E, nb["ids0"], axis=0)
  h0_1 = jnp.take(E, nb["ids1"], axis=0)
  if L == 1:
    return _layer(params["layers"][0], params["time"], h0_q, h0_1, nb["dt1"], nb["mask1"],
                  rng=r(0), **kw)
  if L != 2:
    raise ValueError(f"only 1 or 2 layers are implemented, got {L}")
  h0_2 = jnp.take(E, nb["ids2"], axis=0)
  # layer 1 for the queries and for every layer-1 neighbour (at the neighbour's event time)
  h1_q, _ = _layer(params["layers"][0], params["time"], h0_q, h0_1, nb["dt1"], nb["mask1"],
                   rng=r(0), **kw)
  h1_1, _ = _layer(params["layers"][0], params["time"], h0_1, h0_2, nb["dt2"], nb["mask2"],
                   rng=r(1), **kw)
  return _layer(params["layers"][1], params["time"], h1_q, h1_1, nb["dt1"], nb["mask1"],
                rng=r(2), **kw)


def link_logit(params, h_src, h_dst):
  """MergeLayer(h_u, h_v) → scalar logit."""
  z = jax.nn.relu(_apply_dense(params["score1"], jnp.concatenate([h_src, h_dst], -1)))
  return _apply_dense(params["score2"], z)[..., 0]
