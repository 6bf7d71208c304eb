"""GNN tests: dense-adjacency references and padding invariance."""

import functools

import chex
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from jaxlab import nn as jnn

# unsafe_rbg keys: threefry compiles slowly on XLA:CPU (see test_resnet.py).
_key = functools.partial(jax.random.key, impl='unsafe_rbg')

N, F = 6, 5


def _random_graph(seed=0, n=N, f=F):
  """Undirected random graph (both directions listed) without self-loops."""
  rng = np.random.default_rng(seed)
  pairs = [(i, j) for i in range(n) for j in range(i + 1, n)
           if rng.random() < 0.5]
  senders = np.array([i for i, j in pairs] + [j for i, j in pairs], np.int32)
  receivers = np.array([j for i, j in pairs] + [i for i, j in pairs], np.int32)
  return jraph.GraphsTuple(
      nodes=rng.normal(size=(n, f)).astype(np.float32), edges=None,
      senders=senders, receivers=receivers, globals=None,
      n_node=np.array([n], np.int32), n_edge=np.array([len(senders)], np.int32))


def _dense_adjacency(graph, weight=None):
  n = graph.nodes.shape[0]
  a = np.zeros((n, n), np.float64)
  w = np.ones(len(graph.senders)) if weight is None else weight
  np.add.at(a, (graph.receivers, graph.senders), w)  # A[r, s]: edge s -> r
  return a


def _pad(graph):
  return jraph.pad_with_graphs(graph, n_node=N + 3, n_edge=len(graph.senders)
                               + 5, n_graph=3)


@pytest.mark.parametrize('edge_weight', [False, True])
def test_gcn_layer_matches_closed_form(edge_weight):
  graph = _random_graph()
  w = (np.random.default_rng(1).random(len(graph.senders)).astype(np.float32)
       if edge_weight else None)
  layer = jnn.GCNLayer(4)
  params = jax.jit(layer.init)(_key(0), graph)['params']
  out = layer.apply({'params': params}, graph, edge_weight=w).nodes
  a_hat = _dense_adjacency(graph, w) + np.eye(N)
  d = np.diag(a_hat.sum(1) ** -0.5)
  ref = d @ a_hat @ d @ graph.nodes @ np.asarray(params['linear']['kernel'])
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_sage_layer_matches_closed_form():
  graph = _random_graph(2)
  layer = jnn.SAGELayer(3)
  params = jax.jit(layer.init)(_key(0), graph)['params']
  out = layer.apply({'params': params}, graph).nodes
  a = _dense_adjacency(graph)
  mean = a @ graph.nodes / np.maximum(a.sum(1, keepdims=True), 1)
  ref = (graph.nodes @ np.asarray(params['self']['kernel'])
         + mean @ np.asarray(params['neigh']['kernel'])
         + np.asarray(params['neigh']['bias']))
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_gat_layer_matches_dense_reference():
  graph = _random_graph(3)
  layer = jnn.GATLayer(3, num_heads=2, concat=True)
  params = jax.jit(layer.init)(_key(0), graph)['params']
  params = jax.tree.map(lambda p: p + 0.1, params)  # non-zero bias too
  out = layer.apply({'params': params}, graph).nodes
  h = (graph.nodes @ np.asarray(params['linear']['kernel'])).reshape(N, 2, 3)
  src = (h * np.asarray(params['att_src'])).sum(-1)  # [N, heads]
  dst = (h * np.asarray(params['att_dst'])).sum(-1)
  adj = _dense_adjacency(graph) + np.eye(N) > 0  # adj[i, j]: j -> i
  e = dst[:, None, :] + src[None, :, :]  # [i, j, heads]
  e = np.where(e > 0, e, 0.2 * e)
  e = np.where(adj[..., None], e, -np.inf)
  alpha = np.exp(e - e.max(1, keepdims=True))
  alpha /= alpha.sum(1, keepdims=True)
  ref = np.einsum('ijh,jhf->ihf', alpha, h).reshape(N, 6)
  ref += np.asarray(params['bias'])
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('name', ['gcn', 'gat', 'graphsage'])
def test_models_shapes_and_padding(name):
  graph = _random_graph(4)
  padded = _pad(graph)
  model = jnn.get_model(name, 'tiny')
  params = jax.jit(model.init)(_key(0), padded)['params']
  apply = functools.partial(model.apply, {'params': params})
  # Without jit on the unpadded graph, with jit on the padded one.
  ref = apply(graph)
  out = jax.jit(apply)(padded)
  chex.assert_shape(ref, (N, 3))
  chex.assert_shape(out, (N + 3, 3))
  chex.assert_type(out, jnp.float32)
  chex.assert_tree_all_finite(out)
  mask = np.asarray(jraph.get_node_padding_mask(padded))
  assert mask.sum() == N and mask[:N].all()
  np.testing.assert_allclose(out[:N], ref, rtol=1e-5, atol=1e-5)
  # Train mode: dropout needs an rng and changes the output.
  train_out = jax.jit(functools.partial(apply, train=True))(
      padded, rngs={'dropout': _key(1)})
  assert not np.allclose(train_out[:N], ref)


def test_zero_edge_weight_removes_edges():
  graph = _random_graph(5)
  keep = np.arange(len(graph.senders)) % 3 != 0
  pruned = graph._replace(senders=graph.senders[keep],
                          receivers=graph.receivers[keep],
                          n_edge=np.array([keep.sum()], np.int32))
  for name in ('gcn', 'gat', 'graphsage'):
    model = jnn.get_model(name, 'tiny')
    params = jax.jit(model.init)(_key(0), graph)['params']
    apply = jax.jit(functools.partial(model.apply, {'params': params}))
    masked = apply(graph, edge_weight=keep.astype(np.float32))
    np.testing.assert_allclose(masked, apply(pruned), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('add_self_loops', [False, True])
def test_gat_masked_edges_carry_nothing(add_self_loops):
  """Directed edges 1 -> 0, 2 -> 0 and a masked 0 -> 3: node 3 must read as if the edge were
  gone, also without self-loops (its softmax segment then holds only the masked logit)."""
  x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
  graph = jraph.GraphsTuple(nodes=x, edges=None, senders=np.array([1, 2, 0], np.int32),
                            receivers=np.array([0, 0, 3], np.int32), globals=None,
                            n_node=np.array([4]), n_edge=np.array([3]))
  pruned = graph._replace(senders=graph.senders[:2], receivers=graph.receivers[:2],
                          n_edge=np.array([2]))
  layer = jnn.GATLayer(features=2, num_heads=2, add_self_loops=add_self_loops)
  params = layer.init(_key(0), graph)
  masked = layer.apply(params, graph, edge_weight=np.array([1., 1., 0.], np.float32)).nodes
  np.testing.assert_allclose(masked, layer.apply(params, pruned).nodes, rtol=1e-6, atol=1e-6)
  if not add_self_loops:  # no incoming message: only the (zero-initialised) bias
    np.testing.assert_allclose(masked[3], 0.0, atol=1e-7)


def test_model_structure():
  graph = _random_graph()
  shapes = jax.eval_shape(jnn.get_model('gat', 'velickovic').init, _key(0),
                          graph)['params']
  chex.assert_shape(shapes['gat_0']['linear']['kernel'], (F, 64))
  chex.assert_shape(shapes['gat_0']['att_src'], (8, 8))
  chex.assert_shape(shapes['gat_1']['linear']['kernel'], (64, 7))
  shapes = jax.eval_shape(jnn.get_model('gcn', 'kipf', use_bias=False).init,
                          _key(0), graph)['params']
  assert set(shapes['gcn_0']) == {'linear'}
  chex.assert_shape(shapes['gcn_1']['linear']['kernel'], (16, 7))
