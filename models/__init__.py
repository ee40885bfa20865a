"""Models built from the core ops (installed as ``tinygrad_rnn.models``): recurrent cells and
layers (fused and composed), attention, seq2seq, and the language-model helpers."""
from .gru_cell import GRUCell
from .highway import Highway
from .lstm_cell import LSTMCell
from .mut_cells import MUT1Cell, MUT2Cell, MUT3Cell
from .recurrent import GRU, LSTM, RNN
from .rnn_cell import RNNCell
# language-model helpers (character LM, vocabulary, truncated-BPTT windows, sampling)
from .char_lm import CELLS, CharLM, detach_state, make_recurrent
from .sampling import choose
from .text_batches import batchify, bptt_windows, window_count
from .vocabulary import Vocabulary
