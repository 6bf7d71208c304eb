"""Generic pieces of an SGD run: state, optimizers, step builders, loop, checkpoints, writers."""

from jaxlab.train.cache import (StageCacheError, cached_stage, check_same_settings,
                                config_fingerprint, write_json_atomic)
from jaxlab.train.checkpoint import Checkpointer, CheckpointError, load_params
from jaxlab.train.loop import NonFiniteLossError, fit, loop_options
from jaxlab.train.optim import make_optimizer, make_schedule
from jaxlab.train.parallel import (DATA_AXIS, create_mesh, maybe_initialize_distributed,
                                   pmap_replicate, pmap_unreplicate, replicate, shard_batch,
                                   split_for_pmap)
from jaxlab.train.runinfo import write_results, write_run_info
from jaxlab.train.state import TrainState
from jaxlab.train.step import evaluate, make_eval_step, make_pmap_train_step, make_train_step
from jaxlab.train.writers import MetricWriter, read_metrics

__all__ = [
    "Checkpointer", "CheckpointError", "DATA_AXIS", "MetricWriter", "NonFiniteLossError",
    "StageCacheError", "cached_stage", "check_same_settings", "config_fingerprint",
    "write_json_atomic",
    "TrainState", "create_mesh", "evaluate", "fit", "loop_options", "make_eval_step", "make_optimizer",
    "load_params", "make_pmap_train_step", "make_schedule", "make_train_step", "maybe_initialize_distributed",
    "pmap_replicate", "pmap_unreplicate", "read_metrics", "replicate", "shard_batch",
    "split_for_pmap", "write_results", "write_run_info",
]
