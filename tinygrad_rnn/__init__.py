"""tinygrad_rnn: a from-scratch automatic-differentiation engine for RNNs and attention.

    import tinygrad_rnn as tg
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x.tanh() * x).sum()
    y.backward()
    print(x.grad)
    print(tg.tape(y))
"""
from __future__ import annotations

from .tensor import Tensor
from . import function as _function  # noqa: F401  (defines the op base class)
from .anomaly import detect_anomaly
from .backends import cuda_available, get_rng_state, set_rng_state
from .creation import (arange, eye, from_numpy, full, manual_seed, ones, ones_like, rand, randn,
                       tensor, zeros, zeros_like)
from .device import (bool_, float16, float32, float64, get_default_device, int32, int64,
                     set_default_device)
from .engine import grad
from .errors import AnomalyError, BackwardError, OpError
from .function import Function
from .functional import cat, concat, stack, where
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tape import Tape, graph_tensors, scope, tape
from .profiler import profile
from .checkpoint import checkpoint
from . import autograd, forward_ad, func, functional, nn
from . import optim
from .serialization import CheckpointError, load, save

__version__ = "0.1.0"


def __getattr__(name: str):
    # tg.viz is imported on first use, so importing the core never needs graphviz; tg.models
    # too, because the models import the core (an eager import here would be a cycle)
    if name in ("viz", "models"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinygrad_rnn' has no attribute {name!r}")


def maximum(a, b):
    return a.maximum(b) if isinstance(a, Tensor) else b.maximum(a)


def minimum(a, b):
    return a.minimum(b) if isinstance(a, Tensor) else b.minimum(a)


def exp(x): return x.exp()
def log(x): return x.log()
def sqrt(x): return x.sqrt()
def tanh(x): return x.tanh()
def sigmoid(x): return x.sigmoid()
def relu(x): return x.relu()
def abs(x): return x.abs()
def sin(x): return x.sin()
def cos(x): return x.cos()
def matmul(a, b): return a @ b
def clamp(x, min=None, max=None): return x.clamp(min, max)


clip = clamp


def log1p(x): return x.log1p()
def expm1(x): return x.expm1()
def sign(x): return x.sign()
def square(x): return x.square()
def erf(x): return x.erf()
def prod(x, dim=None, keepdim: bool = False): return x.prod(dim, keepdim)
def std(x, dim=None, keepdim: bool = False, *, correction: int = 1):
    return x.std(dim, keepdim, correction=correction)
def var(x, dim=None, keepdim: bool = False, *, correction: int = 1):
    return x.var(dim, keepdim, correction=correction)
def norm(x, p=2, dim=None, keepdim: bool = False): return x.norm(p, dim, keepdim)
def amax(x, dim=(), keepdim: bool = False): return x.amax(dim, keepdim)
def amin(x, dim=(), keepdim: bool = False): return x.amin(dim, keepdim)
def argmax(x, dim=None, keepdim: bool = False): return x.argmax(dim, keepdim)
def argmin(x, dim=None, keepdim: bool = False): return x.argmin(dim, keepdim)
def cumsum(x, dim: int): return x.cumsum(dim)
def gather(x, dim: int, index): return x.gather(dim, index)
def scatter_add(x, dim: int, index, src): return x.scatter_add(dim, index, src)
def index_select(x, dim: int, index): return x.index_select(dim, index)
def masked_fill(x, mask, value): return x.masked_fill(mask, value)
def tril(x, diagonal: int = 0): return x.tril(diagonal)
def triu(x, diagonal: int = 0): return x.triu(diagonal)
def flip(x, dims): return x.flip(*((dims,) if isinstance(dims, int) else dims))
def roll(x, shifts, dims=None): return x.roll(shifts, dims)
def unbind(x, dim: int = 0): return x.unbind(dim)
def split(x, split_size_or_sections, dim: int = 0): return x.split(split_size_or_sections, dim)
def chunk(x, chunks: int, dim: int = 0): return x.chunk(chunks, dim)
def sum(x, dim=None, keepdim: bool = False): return x.sum(dim, keepdim)
def mean(x, dim=None, keepdim: bool = False): return x.mean(dim, keepdim)
def logsumexp(x, dim=None, keepdim: bool = False): return x.logsumexp(dim, keepdim)


__all__ = [
    "Tensor", "Function", "Tape", "tape", "scope", "graph_tensors", "profile", "checkpoint",
    "no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "is_grad_enabled", "grad",
    "gradcheck", "gradgradcheck", "GradcheckError", "detect_anomaly",
    "OpError", "BackwardError", "AnomalyError",
    "zeros", "ones", "full", "arange", "from_numpy", "randn", "rand", "zeros_like", "ones_like", "eye",
    "tensor", "manual_seed", "get_rng_state", "set_rng_state", "set_default_device", "get_default_device", "cuda_available",
    "float16", "float32", "float64", "int32", "int64", "bool_",
    "cat", "concat", "stack", "where", "maximum", "minimum", "exp", "log", "sqrt", "tanh",
    "sigmoid", "relu", "abs", "sin", "cos", "matmul", "clamp", "clip", "split", "chunk",
    "sum", "mean", "logsumexp", "functional", "nn", "autograd", "log1p", "expm1", "sign",
    "square", "erf", "prod", "std", "var", "norm", "amax", "amin", "argmax", "argmin", "cumsum",
    "gather", "scatter_add", "index_select", "masked_fill", "tril", "triu", "flip", "roll",
    "unbind",
    "forward_ad", "func",
    "optim", "save", "load", "CheckpointError",
]
