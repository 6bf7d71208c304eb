"""Datasets for jaxlab: checked local files, TFDS without TensorFlow, and fakes.

`get_dataset(name, split)` returns a whole split in memory as numpy arrays; the
iterators below turn it into deterministic, resumable batches. Local files live in
the data folder (`data_dir()`: `$JAXLAB_DATA`, else ~/jaxlab_data) and are checked
against their sha256 before parsing.
"""

from jaxlab.data.checksums import verify
from jaxlab.data.dataset import ArrayDataset
from jaxlab.data.errors import CorruptDataError
from jaxlab.data.errors import DataError
from jaxlab.data.errors import MissingDataError
from jaxlab.data.files import data_dir
from jaxlab.data.graphs import bucket_size
from jaxlab.data.graphs import GraphData
from jaxlab.data.graphs import load_gnn_benchmark
from jaxlab.data.graphs import load_planetoid
from jaxlab.data.graphs import pad_graph
from jaxlab.data.graphs import random_split
from jaxlab.data.images import channel_stats
from jaxlab.data.images import load_cifar10_subset
from jaxlab.data.images import load_fashion_mnist
from jaxlab.data.images import load_mnist
from jaxlab.data.iterators import batch_iterator
from jaxlab.data.iterators import eval_batches
from jaxlab.data.iterators import lm_batch
from jaxlab.data.iterators import lm_eval_batches
from jaxlab.data.iterators import lm_iterator
from jaxlab.data.iterators import num_eval_batches
from jaxlab.data.iterators import steps_per_epoch
from jaxlab.data.movielens import load_movielens100k
from jaxlab.data.movielens import RatingsData
from jaxlab.data.proteomics import load_proteus_lfq
from jaxlab.data.proteomics import ProteinGroups
from jaxlab.data.registry import get_dataset
from jaxlab.data.registry import list_datasets
from jaxlab.data.registry import load_train_test
from jaxlab.data.temporal import load_collegemsg
from jaxlab.data.temporal import TemporalEdges
from jaxlab.data.text import load_tinyshakespeare
from jaxlab.data.text import TextData

__all__ = [
    "ArrayDataset", "CorruptDataError", "DataError", "GraphData", "MissingDataError",
    "ProteinGroups", "RatingsData", "TemporalEdges", "TextData", "batch_iterator",
    "bucket_size", "channel_stats", "data_dir", "eval_batches", "get_dataset", "list_datasets",
    "lm_batch", "lm_eval_batches", "lm_iterator", "load_cifar10_subset",
    "load_collegemsg", "load_fashion_mnist", "load_gnn_benchmark", "load_mnist",
    "load_train_test",
    "load_movielens100k", "load_planetoid", "load_proteus_lfq", "load_tinyshakespeare",
    "num_eval_batches", "pad_graph", "random_split", "steps_per_epoch", "verify",
]
