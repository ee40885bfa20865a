"""Attention of a character GPT trained by ``tinygrad-rnn train charlm --model gpt``: one heat
map per head and layer for one line of text (row = the character predicting the next one,
column = a character it may look at; the upper triangle is empty, the mask hides the future).

    python examples/gpt_attention.py out/charlm.ckpt ["ROMEO:\\nBut soft"] [OUT.png]
"""
import sys

import tinygrad_rnn as tg
from tinygrad_rnn.cli.charlm_checkpoint import load_checkpoint
from tinygrad_rnn.demos._attention_grid import plot_attention_grid

path = sys.argv[1]
text = sys.argv[2].replace("\\n", "\n") if len(sys.argv) > 2 else "ROMEO:\nBut soft, what light"
out = sys.argv[3] if len(sys.argv) > 3 else "gpt_attention.png"
model, vocabulary, _ = load_checkpoint(path, "cpu")
if model.config.get("architecture") != "gpt":
    sys.exit(f"{path} holds a recurrent model; attention maps need --model gpt")
model.eval()
text = text[-model.config["context"]:]
with tg.no_grad():
    _, maps = model(tg.Tensor([vocabulary.encode(text)], dtype="int64"), need_weights=True)
labels = [repr(c)[1:-1] for c in text]            # a newline shows as \n
print(plot_attention_grid(out, [m.numpy()[0] for m in maps], labels, labels,
                          "character GPT: attention of each head in each layer", print))
