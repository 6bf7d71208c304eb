"""GNN layers and node-classification models over `jraph.GraphsTuple`.

- `GCNLayer` / `GCN`: Kipf & Welling, "Semi-Supervised Classification with
  Graph Convolutional Networks", arXiv:1609.02907.
- `GATLayer` / `GAT`: Velickovic et al., "Graph Attention Networks",
  arXiv:1710.10903.
- `SAGELayer` / `GraphSAGE`: Hamilton et al., "Inductive Representation
  Learning on Large Graphs", arXiv:1706.02216 (mean aggregator, full-batch).

Conventions. `graph.nodes` is `[N, F]`; `senders`/`receivers` are `[E]` and a
message flows sender -> receiver, so undirected graphs list both directions.
Every aggregation is a `jax.ops.segment_sum` with `num_segments = N` taken from
the (static) node array shape, so a padded graph jits with static shapes.

Padding. Graphs padded with `jraph.pad_with_graphs` need no mask: its padding
edges start and end at the padding nodes, so they never reach a real node,
and real nodes' degrees and outputs are exactly those of the unpadded graph.
Padding nodes themselves get finite but meaningless outputs; leave them out of
losses and metrics with `jraph.get_node_padding_mask(graph)`.

Edge weights. Every layer and model also takes an optional `edge_weight [E]`.
GCN and SAGE use it as the adjacency value of each edge (0 removes an edge
while keeping shapes static, as edge-unlearning needs); GAT treats it as a
mask (`edge_weight > 0` keeps the edge). The self-loops GCN and GAT add always
have weight 1.
"""

from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

Array = jax.Array


def _edge_weight(graph: jraph.GraphsTuple, edge_weight: Optional[Array],
                 dtype) -> Array:
  if edge_weight is None:
    return jnp.ones(graph.senders.shape[0], dtype)
  return edge_weight.astype(dtype)


def add_self_loops(graph: jraph.GraphsTuple, edge_weight: Array):
  """Appends one i -> i edge of weight 1 per node (padding nodes included).

  Returns `(senders, receivers, edge_weight)` of length `E + N`.
  """
  n = graph.nodes.shape[0]
  loops = jnp.arange(n, dtype=graph.senders.dtype)
  return (jnp.concatenate([graph.senders, loops]),
          jnp.concatenate([graph.receivers, loops]),
          jnp.concatenate([edge_weight, jnp.ones(n, edge_weight.dtype)]))


class GCNLayer(nn.Module):
  """Graph convolution `D^-1/2 (A + I) D^-1/2 X W + b`.

  `A[r, s]` is the weight of edge s -> r and `D` the row sums of `A + I`
  (in-degree plus one, computed with `segment_sum` over the edges; padding edges touch only
  padding nodes), as in PyG's `gcn_norm`. For symmetric `A` this is Kipf's renormalised
  propagation. `I` is always added: a self-loop already in the edge list gets weight 2 on the
  diagonal, where PyG's `add_remaining_self_loops` keeps 1. The dataset readers strip
  self-loops, so this only matters for hand-built graphs.

  Attributes:
    features: output width.
    use_bias: add a bias after propagation.
    add_self_loops: use `A + I` (False: plain `D^-1/2 A D^-1/2`).
    dtype: computation dtype.
  """
  features: int
  use_bias: bool = True
  add_self_loops: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, graph: jraph.GraphsTuple, *,
               edge_weight: Optional[Array] = None) -> jraph.GraphsTuple:
    x = graph.nodes
    n = x.shape[0]
    # Transform first: cheaper when features < input width (Kipf's order).
    x = nn.Dense(self.features, use_bias=False, dtype=self.dtype,
                 kernel_init=nn.initializers.xavier_uniform(), name='linear')(x)
    w = _edge_weight(graph, edge_weight, jnp.float32)
    senders, receivers = graph.senders, graph.receivers
    if self.add_self_loops:
      senders, receivers, w = add_self_loops(graph, w)
    deg = jax.ops.segment_sum(w, receivers, num_segments=n)
    inv_sqrt = jnp.where(deg > 0, jax.lax.rsqrt(jnp.maximum(deg, 1e-12)), 0.)
    norm = (inv_sqrt[senders] * w * inv_sqrt[receivers]).astype(x.dtype)
    x = jax.ops.segment_sum(x[senders] * norm[:, None], receivers,
                            num_segments=n)
    if self.use_bias:
      x = x + self.param('bias', nn.initializers.zeros, (self.features,))
    return graph._replace(nodes=x)


class GATLayer(nn.Module):
  """Multi-head graph attention.

  `alpha_ij = softmax_j(LeakyReLU(a_dst . W h_i + a_src . W h_j))` over the
  incoming edges of i (self-loop included), computed with
  `jraph.segment_softmax`; the output is `sum_j alpha_ij W h_j` per head, then
  the heads are concatenated (`[N, heads * features]`) or averaged
  (`[N, features]`), plus a bias.

  Attributes:
    features: output width per head.
    num_heads: attention heads.
    concat: concatenate heads (hidden layers) or average them (output layer).
    negative_slope: LeakyReLU slope of the attention logits.
    attention_dropout: dropout on the attention coefficients (train only).
    add_self_loops: attend to the node itself as well.
    dtype: computation dtype.
  """
  features: int
  num_heads: int = 1
  concat: bool = True
  negative_slope: float = 0.2
  attention_dropout: float = 0.0
  add_self_loops: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, graph: jraph.GraphsTuple, *,
               edge_weight: Optional[Array] = None,
               train: bool = False) -> jraph.GraphsTuple:
    n = graph.nodes.shape[0]
    h = nn.Dense(self.num_heads * self.features, use_bias=False,
                 dtype=self.dtype, kernel_init=nn.initializers.xavier_uniform(),
                 name='linear')(graph.nodes)
    h = h.reshape(n, self.num_heads, self.features)
    init = nn.initializers.xavier_uniform(in_axis=-1, out_axis=-2)
    a_src = self.param('att_src', init, (self.num_heads, self.features))
    a_dst = self.param('att_dst', init, (self.num_heads, self.features))
    src_score = jnp.sum(h * a_src, axis=-1)  # [N, heads]
    dst_score = jnp.sum(h * a_dst, axis=-1)

    w = _edge_weight(graph, edge_weight, jnp.float32)
    senders, receivers = graph.senders, graph.receivers
    if self.add_self_loops:
      senders, receivers, w = add_self_loops(graph, w)
    logits = nn.leaky_relu(src_score[senders] + dst_score[receivers],
                           self.negative_slope).astype(jnp.float32)
    # Masked edges get a very negative logit and, after the softmax, exactly zero weight: without
    # self-loops a node whose incoming edges are all masked would otherwise spread its weight
    # uniformly over them (its softmax segment holds only -1e9 logits) and aggregate them.
    keep = w > 0
    logits = jnp.where(keep[:, None], logits, -1e9)
    alpha = jraph.segment_softmax(logits, receivers, num_segments=n) * keep[:, None]
    alpha = nn.Dropout(self.attention_dropout, deterministic=not train)(alpha)
    out = jax.ops.segment_sum(h[senders] * alpha[..., None].astype(h.dtype),
                              receivers, num_segments=n)
    if self.concat:
      out = out.reshape(n, self.num_heads * self.features)
    else:
      out = jnp.mean(out, axis=1)
    out = out + self.param('bias', nn.initializers.zeros, (out.shape[-1],))
    return graph._replace(nodes=out)


class SAGELayer(nn.Module):
  """GraphSAGE layer, mean aggregator: `W_self h_i + W_neigh mean_j h_j + b`.

  The mean is the edge-weighted mean over incoming edges (no self-loop); a
  node without neighbours aggregates zeros.

  Attributes:
    features: output width.
    use_bias: bias on the neighbour branch (`neigh`), as in PyG's `SAGEConv`.
    normalize: L2-normalise the output rows (Hamilton et al., Alg. 1 line 7).
    dtype: computation dtype.
  """
  features: int
  use_bias: bool = True
  normalize: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, graph: jraph.GraphsTuple, *,
               edge_weight: Optional[Array] = None) -> jraph.GraphsTuple:
    x = graph.nodes
    n = x.shape[0]
    w = _edge_weight(graph, edge_weight, x.dtype)
    total = jax.ops.segment_sum(x[graph.senders] * w[:, None], graph.receivers,
                                num_segments=n)
    count = jax.ops.segment_sum(w, graph.receivers, num_segments=n)
    mean = total / jnp.maximum(count, 1.0)[:, None]
    out = (nn.Dense(self.features, use_bias=False, dtype=self.dtype,
                    name='self')(x)
           + nn.Dense(self.features, use_bias=self.use_bias, dtype=self.dtype,
                      name='neigh')(mean))
    if self.normalize:
      out = out / jnp.maximum(jnp.linalg.norm(out, axis=-1, keepdims=True),
                              1e-12)
    return graph._replace(nodes=out)


class GCN(nn.Module):
  """Kipf & Welling GCN: dropout -> GCN -> ReLU -> ... -> dropout -> GCN.

  Layers are `gcn_{i}`. Kipf's Cora setting is 2 layers, 16 hidden, dropout
  0.5 (with 5e-4 weight decay on the first layer, which belongs to the
  optimiser).

  Attributes:
    hidden: hidden width.
    num_classes: output logits.
    num_layers: number of GCN layers.
    dropout: dropout on the input of every layer.
    use_bias: biases in the layers.
    dtype: computation dtype; logits are float32.
  """
  hidden: int = 16
  num_classes: int = 7
  num_layers: int = 2
  dropout: float = 0.5
  use_bias: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, graph: jraph.GraphsTuple, *, train: bool = False,
               edge_weight: Optional[Array] = None) -> Array:
    """Node logits `[N_pad, num_classes]`."""
    x = graph.nodes.astype(self.dtype)
    for i in range(self.num_layers):
      last = i == self.num_layers - 1
      x = nn.Dropout(self.dropout, deterministic=not train)(x)
      x = GCNLayer(self.num_classes if last else self.hidden, self.use_bias,
                   dtype=self.dtype, name=f'gcn_{i}')(
                       graph._replace(nodes=x), edge_weight=edge_weight).nodes
      if not last:
        x = nn.relu(x)
    return x.astype(jnp.float32)


class GAT(nn.Module):
  """Velickovic et al. GAT: GAT(hidden x heads) -> ELU -> GAT(classes, mean).

  Dropout (on the inputs of both layers and on the attention coefficients)
  is 0.6 in the paper's transductive setting. Layers are `gat_0`, `gat_1`.

  Attributes:
    hidden: features per head of the hidden layer.
    heads: heads of the hidden layer.
    out_heads: heads of the output layer (averaged).
    num_classes: output logits.
    dropout: input and attention dropout.
    dtype: computation dtype; logits are float32.
  """
  hidden: int = 8
  heads: int = 8
  out_heads: int = 1
  num_classes: int = 7
  dropout: float = 0.6
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, graph: jraph.GraphsTuple, *, train: bool = False,
               edge_weight: Optional[Array] = None) -> Array:
    """Node logits `[N_pad, num_classes]`."""
    x = graph.nodes.astype(self.dtype)
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    x = GATLayer(self.hidden, self.heads, concat=True,
                 attention_dropout=self.dropout, dtype=self.dtype,
                 name='gat_0')(graph._replace(nodes=x),
                               edge_weight=edge_weight, train=train).nodes
    x = nn.elu(x)
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    x = GATLayer(self.num_classes, self.out_heads, concat=False,
                 attention_dropout=self.dropout, dtype=self.dtype,
                 name='gat_1')(graph._replace(nodes=x),
                               edge_weight=edge_weight, train=train).nodes
    return x.astype(jnp.float32)


class GraphSAGE(nn.Module):
  """Full-batch GraphSAGE with mean aggregation; layers are `sage_{i}`.

  Attributes:
    hidden: hidden width.
    num_classes: output logits.
    num_layers: number of SAGE layers (2 in the paper, K = 2).
    dropout: dropout on the input of every layer after the first.
    dtype: computation dtype; logits are float32.
  """
  hidden: int = 256
  num_classes: int = 7
  num_layers: int = 2
  dropout: float = 0.5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, graph: jraph.GraphsTuple, *, train: bool = False,
               edge_weight: Optional[Array] = None) -> Array:
    """Node logits `[N_pad, num_classes]`."""
    x = graph.nodes.astype(self.dtype)
    for i in range(self.num_layers):
      last = i == self.num_layers - 1
      if i > 0:
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
      x = SAGELayer(self.num_classes if last else self.hidden,
                    dtype=self.dtype, name=f'sage_{i}')(
                        graph._replace(nodes=x), edge_weight=edge_weight).nodes
      if not last:
        x = nn.relu(x)
    return x.astype(jnp.float32)
