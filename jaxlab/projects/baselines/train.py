"""Plain baselines shared by several projects: image classification (MNIST CNN, CIFAR ResNet and
ViT), node classification (GCN, GAT, GraphSAGE on Planetoid) and a char-level Transformer LM.

`train_and_evaluate(config, workdir)` dispatches on `config.task`.
"""

TASKS = ("image_classification", "node_classification", "language_model")


def train_and_evaluate(config, workdir) -> dict:
  task = config.get("task", None)
  if task == "image_classification":
    from jaxlab.projects.baselines import classification as m
  elif task == "node_classification":
    from jaxlab.projects.baselines import node_classification as m
  elif task == "language_model":
    from jaxlab.projects.baselines import language_model as m
  else:
    raise ValueError(f"unknown config.task {task!r} for project 'baselines'; valid: "
                     f"{', '.join(TASKS)}")
  return m.train_and_evaluate(config, workdir)
