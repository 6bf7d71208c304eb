"""Graph padding: bucketed static shapes, masks, and no messages from padding."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

import jaxlab.data as jd


def test_bucket_size():
  assert [jd.bucket_size(n) for n in (1, 2, 3, 64, 65, 2709)] == [1, 2, 4, 64, 128, 4096]
  assert jd.bucket_size(2709, multiple=256) == 2816
  assert jd.bucket_size(256, multiple=256) == 256
  with pytest.raises(ValueError):
    jd.bucket_size(0)


def _check_padded(g, p, n_pad, e_pad):
  assert p.graph.nodes.shape[0] == n_pad and p.graph.senders.shape == (e_pad,)
  for a in (p.labels, p.train_mask, p.val_mask, p.test_mask, p.node_mask):
    assert a.shape == (n_pad,)
  assert p.edge_mask.shape == (e_pad,)
  assert p.graph.senders.dtype == np.int32 and p.graph.n_node.dtype == np.int32
  n, e = g.num_nodes, g.num_edges
  assert (p.num_nodes, p.num_edges) == (n, e)
  assert p.node_mask[:n].all() and not p.node_mask[n:].any()
  assert p.edge_mask[:e].all() and not p.edge_mask[e:].any()
  for m, m0 in ((p.train_mask, g.train_mask), (p.val_mask, g.val_mask),
                (p.test_mask, g.test_mask)):
    np.testing.assert_array_equal(m[:n], m0)
    assert not m[n:].any()
  # No edge leaves a padding node towards a real node, nor the other way round.
  s, r = p.graph.senders, p.graph.receivers
  assert not ((s >= n) & (r < n)).any() and not ((s < n) & (r >= n)).any()
  assert (s[e:] >= n).all() and (r[e:] >= n).all()
  np.testing.assert_array_equal(p.graph.nodes[n:], 0)
  assert int(p.graph.n_node.sum()) == n_pad and int(p.graph.n_edge.sum()) == e_pad
  np.testing.assert_array_equal(jraph.get_node_padding_mask(p.graph), p.node_mask)


def test_padded_fake_graph():
  g = jd.get_dataset("cora", source="fake")
  p = g.padded()
  _check_padded(g, p, jd.bucket_size(g.num_nodes + 1), jd.bucket_size(g.num_edges))
  q = g.padded(100, 300)
  _check_padded(g, q, 100, 300)
  # Re-padding a padded graph starts from the real part.
  _check_padded(g, q.padded(128, 512), 128, 512)
  with pytest.raises(ValueError, match="padding node"):
    g.padded(g.num_nodes, 512)


def test_padded_cora(data_dir):
  g = jd.get_dataset("cora", data_dir=data_dir)
  p = g.padded(multiple=512)
  _check_padded(g, p, 3072, 10752)


def test_padding_does_not_change_real_node_outputs():
  """One GCN-style aggregation under jit gives the same real-node values padded."""
  g = jd.get_dataset("citeseer", source="fake")
  p = g.padded()

  @jax.jit
  def aggregate(graph):
    msgs = graph.nodes[graph.senders]
    return jax.ops.segment_sum(msgs, graph.receivers, graph.nodes.shape[0])

  to_jnp = lambda gr: jax.tree.map(jnp.asarray, gr)
  out = aggregate(to_jnp(g.graph))
  out_p = aggregate(to_jnp(p.graph))
  np.testing.assert_allclose(out_p[:g.num_nodes], out, rtol=1e-6)
  # GraphData is a pytree: it goes through jit whole.
  count = jax.jit(lambda d: jnp.sum(d.train_mask & d.node_mask))(p)
  assert int(count) == int(g.train_mask.sum())


def test_random_split():
  labels = np.repeat(np.arange(4), 30)
  tr, va, te = jd.random_split(labels, 5, 20, 30, seed=0)
  assert (tr.sum(), va.sum(), te.sum()) == (20, 20, 30)
  np.testing.assert_array_equal(np.bincount(labels[tr]), [5] * 4)
  assert not (tr & va).any() and not (tr & te).any() and not (va & te).any()
  again = jd.random_split(labels, 5, 20, 30, seed=0)
  for a, b in zip((tr, va, te), again):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(ValueError, match="fewer than"):
    jd.random_split(labels, 31, 0, 0, seed=0)
  # num_test=None takes the rest; unlabelled nodes (-1) are never picked.
  part = np.where(np.arange(len(labels)) % 10 == 0, -1, labels)
  tr, va, te = jd.random_split(part, 5, 20, None, seed=0)
  assert tr.sum() + va.sum() + te.sum() == (part >= 0).sum() and not (part[tr | va | te] < 0).any()
  with pytest.raises(ValueError, match="cannot take num_val"):  # more val nodes than remain
    jd.random_split(labels, 5, 101, None, seed=0)
