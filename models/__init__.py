"""Models built from the core ops: recurrent cells and layers, attention, seq2seq and
language-model helpers (``import tinygrad_rnn.models as M``)."""
from .gru_cell import GRUCell
from .highway import Highway
from .lstm_cell import LSTMCell
from .mut_cells import MUT1Cell, MUT2Cell, MUT3Cell
from .recurrent import GRU, LSTM, RNN
from .rnn_cell import RNNCell
# attention
from .attention import AdditiveAttention, LuongAttention, scaled_dot_product_attention
from .multihead import MultiHeadAttention
from .transformer import PositionalEncoding, TransformerEncoderLayer, sinusoidal_positional_encoding
from .transformer_decoder import TransformerDecoderLayer
from .encoder_decoder import Transformer, TransformerDecoder, TransformerEncoder
from .gpt import GPT
from .bert import BERT, mask_tokens
from .transformer_seq2seq import TransformerSeq2Seq
# sequence to sequence
from .seq2seq import Decoder, Encoder, Seq2Seq
# language-model helpers (character LM, vocabulary, truncated-BPTT windows, sampling)
from .cell_layer import CellLayer
from .char_lm import CELLS, CharLM, detach_state, make_recurrent, train_windows
from .sampling import choose
from .text_batches import batchify, bptt_windows, window_count
from .vocabulary import Vocabulary

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "MUT1Cell", "MUT2Cell", "MUT3Cell", "Highway",
           "RNN", "LSTM", "GRU", "CELLS", "CharLM", "detach_state", "make_recurrent", "choose",
           "batchify", "bptt_windows", "window_count", "Vocabulary", "CellLayer", "train_windows",
           "AdditiveAttention", "LuongAttention", "scaled_dot_product_attention",
           "MultiHeadAttention", "TransformerEncoderLayer", "PositionalEncoding",
           "sinusoidal_positional_encoding", "Encoder", "Decoder", "Seq2Seq",
           "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder", "Transformer",
           "GPT", "BERT", "mask_tokens", "TransformerSeq2Seq"]
