"""Training utilities under PyTorch's ``torch.nn.utils`` names (implemented in tg.optim.clip)."""
from ..optim.clip import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "name_parameters"]


def name_parameters(module, prefix: str = "") -> None:
    """Give every parameter its dotted name (``rnn.weight_hh_l0``) as ``.name``, so tapes and
    graph drawings tell apart two parameters that are each called ``weight`` locally."""
    for name, parameter in module.named_parameters(prefix):
        parameter.name = name
