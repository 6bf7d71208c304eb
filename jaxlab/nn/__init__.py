"""Shared models of jaxlab: MLP, CNN, CIFAR ResNet, ViT, transformer LM, GNNs.

All are `flax.linen` modules used through `init`/`apply`. Build them by name
with `get_model(name, variant)`; every name has a `tiny` variant for tests.
"""

from jaxlab.nn.attention import attention_weights
from jaxlab.nn.cnn import SimpleCNN
from jaxlab.nn.gnn import GAT
from jaxlab.nn.gnn import GATLayer
from jaxlab.nn.gnn import GCN
from jaxlab.nn.gnn import GCNLayer
from jaxlab.nn.gnn import GraphSAGE
from jaxlab.nn.gnn import SAGELayer
from jaxlab.nn.mlp import MLP
from jaxlab.nn.registry import get_config
from jaxlab.nn.registry import get_model
from jaxlab.nn.registry import list_models
from jaxlab.nn.resnet import BasicBlock
from jaxlab.nn.resnet import CifarResNet
from jaxlab.nn.transformer import generate
from jaxlab.nn.transformer import init_cache
from jaxlab.nn.transformer import TransformerLM
from jaxlab.nn.vit import EncoderBlock
from jaxlab.nn.vit import ViT
from jaxlab.nn.weights import import_gpt2
from jaxlab.nn.weights import import_vit
from jaxlab.nn.weights import load_state_dict
