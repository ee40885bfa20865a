"""Models built only from tinygrad_rnn's core ops (installed as ``tinygrad_rnn.models``)."""
from .char_lm import CELLS, CharLM, detach_state, make_recurrent
from .sampling import choose
from .text_batches import batchify, bptt_windows, window_count
from .vocabulary import Vocabulary
