"""Session splits: disjointness (the official code's duplicated-id leakage), schedule, padding."""

import numpy as np
import pytest

from jaxlab import data as jdata
from jaxlab.projects.mecoin import sessions


@pytest.fixture(scope="module")
def cora(data_dir):
  return jdata.get_dataset("cora", data_dir=str(data_dir)).padded(multiple=64)


def _plan(gd, seed, **kw):
  labels = np.where(gd.node_mask, gd.labels, -1)
  return sessions.make_sessions(labels, gd.graph.senders, gd.graph.receivers, gd.edge_mask,
                                gd.num_classes, n_base=3, way=2, shot=5, seed=seed, **kw)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_session_shots_never_in_test_set(cora, seed):
  plan = _plan(cora, seed)
  labels = cora.labels
  for s in range(len(plan["test"])):
    test = set(plan["test"][s].tolist())
    for k in ("shots", "cur", "val", "joint"):
      assert not test & set(plan[k][s].tolist()), (s, k)
    assert not set(plan["val"][s].tolist()) & set(plan["joint"][s].tolist())
    # Shots: exactly `shot` per seen class, all real nodes of that class.
    seen = np.flatnonzero(plan["seen"][s])
    assert np.array_equal(np.sort(np.unique(labels[plan["shots"][s]])), seen)
    assert np.all(np.bincount(labels[plan["shots"][s]], minlength=7)[seen] == 5)
    assert np.all(plan["shots"][s] < cora.num_nodes)
  assert not set(plan["pre"].tolist()) & set(plan["test"][0].tolist())
  assert not set(plan["pre_val"].tolist()) & set(plan["pre"].tolist())
  # Base-session shots come from the pretraining nodes (the encoder saw them, nothing else).
  assert set(plan["shots"][0].tolist()) <= set(plan["pre"].tolist())


def test_official_duplicated_ids_bug_is_detected():
  """The official loader lists each node twice, so `ids[20%:]` re-contains the shots."""
  ids = np.arange(10)
  doubled = np.concatenate([ids, ids])
  shots, test = doubled[:5], doubled[int(0.2 * len(doubled)):]
  plan = dict(shots=[shots], cur=[shots], val=[doubled[5:6]], joint=[shots], test=[test],
              pre=shots, pre_val=doubled[5:6])
  with pytest.raises(AssertionError, match="duplicated|leak"):
    sessions.check_disjoint(plan)


def test_schedule_and_incremental_graph(cora):
  plan = _plan(cora, 0)
  counts = np.bincount(cora.labels[:cora.num_nodes], minlength=7)
  base = np.argsort(-counts, kind="stable")[:3]
  assert set(plan["classes"][0].tolist()) == set(base.tolist())
  assert [len(c) for c in plan["classes"]] == [3, 2, 2]
  assert plan["seen"].sum(1).tolist() == [3, 5, 7]
  # Novel order changes with the seed; base classes do not.
  orders = {tuple(np.concatenate(_plan(cora, s)["classes"][1:]).tolist()) for s in range(5)}
  assert len(orders) > 1
  # Edges of session s join two nodes of seen classes; the last session keeps all real edges.
  lab = cora.labels
  for s in range(3):
    w = plan["edge_weight"][s] > 0
    seen = plan["seen"][s]
    assert np.all(seen[lab[cora.graph.senders[w]]] & seen[lab[cora.graph.receivers[w]]])
    assert np.all(cora.edge_mask[w])
  assert int(plan["edge_weight"][-1].sum()) == cora.num_edges


def test_stack_sessions_pads_to_static_shapes(cora):
  plans = [_plan(cora, s) for s in range(3)]
  out = sessions.stack_sessions(plans, extra_pad=7)
  R, S = 3, 3
  assert out["seen"].shape == (R, S, 7)
  assert out["edge_weight"].shape == (R, S, cora.graph.senders.shape[0])
  for k in sessions.INDEX_SETS:
    assert out[f"{k}_idx"].shape == out[f"{k}_mask"].shape
    assert out[f"{k}_idx"].shape[:2] == (R, S)
    for r in range(R):
      for s in range(S):
        got = out[f"{k}_idx"][r, s][out[f"{k}_mask"][r, s]]
        np.testing.assert_array_equal(got, plans[r][k][s])
  assert out["cur_idx"].shape == out["shots_idx"].shape


def test_bad_schedule_errors(cora):
  labels = np.where(cora.node_mask, cora.labels, -1)
  with pytest.raises(ValueError, match="way"):
    sessions.make_sessions(labels, cora.graph.senders, cora.graph.receivers, cora.edge_mask,
                           7, n_base=2, way=2, shot=5, seed=0)
  with pytest.raises(ValueError, match="n_base"):
    sessions.class_schedule(labels, 7, 7, 2, 0)
