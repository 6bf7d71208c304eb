"""Plain baselines shared by several projects (see `train.py`)."""

# The foundation issue's acceptance figures, (results key, comparison, threshold) per run name;
# read by the slow gate tests and by scripts/collect_results.py so the two cannot drift apart.
GATES = {
    "mnist_cnn": ("test_accuracy", ">=", 0.990),
    "cifar10_resnet20": ("test_accuracy", ">=", 0.60),
    "cora_gcn": ("test_accuracy_mean", ">=", 0.800),
    "cora_gat": ("test_accuracy_mean", ">=", 0.810),
    "shakespeare_lm": ("val_loss", "<=", 1.60),
}


def meets_gate(name: str, results: dict) -> bool:
  key, op, threshold = GATES[name]
  return results[key] >= threshold if op == ">=" else results[key] <= threshold
