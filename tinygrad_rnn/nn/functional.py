"""``tinygrad_rnn.nn.functional`` is ``tinygrad_rnn.functional`` (torch's ``torch.nn.functional``
spelling): ``import tinygrad_rnn.nn.functional as F`` gives the very same module."""
import sys

from .. import functional as _functional

sys.modules[__name__] = _functional
