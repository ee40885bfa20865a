"""Neural-network building blocks (PyTorch's ``torch.nn`` names)."""
from . import init
from .activation import ReLU, Sigmoid, Softmax, Tanh
from .containers import ModuleList, Sequential
from .dropout import Dropout
from .embedding import Embedding
from .layer_norm import LayerNorm
from .linear import Linear
from .module import IncompatibleKeys, Module
from .parameter import Parameter
from . import utils

__all__ = ["Module", "Parameter", "IncompatibleKeys", "Linear", "Embedding", "LayerNorm",
           "Dropout", "Sequential", "ModuleList", "Tanh", "Sigmoid", "ReLU", "Softmax", "init",
           "utils"]
