"""Training utilities under PyTorch's ``torch.nn.utils`` names (implemented in tg.optim.clip)."""
from ..optim.clip import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
