"""Neural-network building blocks (PyTorch's ``torch.nn`` names).

The recurrent layers, cells, attention and Transformer layers live in ``tinygrad_rnn.models``
(they are built from these blocks); ``nn.LSTM``, ``nn.GRUCell``, ``nn.MultiheadAttention``,
... are the same classes under torch's names, imported on first use (models import nn, so
importing them here eagerly would be a cycle).
"""
from . import init
from .activation import ReLU, Sigmoid, Softmax, Tanh
from .containers import ModuleList, Sequential
from .dropout import Dropout
from .embedding import Embedding
from .layer_norm import LayerNorm
from .linear import Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module
from .parameter import Parameter
from . import functional, utils

# torch's name -> the class in tinygrad_rnn.models
_FROM_MODELS = {"RNN": "RNN", "LSTM": "LSTM", "GRU": "GRU", "RNNCell": "RNNCell",
                "LSTMCell": "LSTMCell", "GRUCell": "GRUCell",
                "MultiheadAttention": "MultiHeadAttention",
                "TransformerEncoderLayer": "TransformerEncoderLayer"}


def __getattr__(name: str):
    if name in _FROM_MODELS:
        from .. import models
        return getattr(models, _FROM_MODELS[name])
    raise AttributeError(f"module 'tinygrad_rnn.nn' has no attribute {name!r}")


__all__ = ["Module", "Parameter", "IncompatibleKeys", "Linear", "Embedding", "LayerNorm",
           "Dropout", "Sequential", "ModuleList", "Tanh", "Sigmoid", "ReLU", "Softmax", "init",
           "utils", "functional", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss",
           *_FROM_MODELS]
