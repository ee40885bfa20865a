"""Interpretable cells (Karpathy, Johnson & Fei-Fei 2015, "Visualizing and understanding
recurrent networks"): which units of a character LSTM track something a reader would name?

1. Train the character-level LSTM (``CharLM``) on the first 90% of tiny-shakespeare for a
   few minutes (truncated BPTT, as ``tinygrad-rnn train charlm``).
2. Run it over held-out text (the last 10%) and record, after every character, each unit's
   hidden value h_t and cell value c_t (2 x hidden numbers).
3. Correlate every unit with two features of the text that tiny-shakespeare has (it has no
   parentheses and almost no quotes, the paper's favourite examples):

   * ``position in line``: characters read since the last newline (0 right after one); a
     counter the model needs to know when a verse line is due to end;
   * ``speaker line``: 1 while the line being written is a speaker's name ("ROMEO:"), 0 in
     the speech; the model can know it in advance, since a name line follows a blank line.

   The unit with the largest |Pearson r| is chosen on one half of the held-out text and its
   r is reported on the other half, so the choice among many units cannot flatter it.
4. Baseline: the same statistic for the same network untrained (its random initial weights).
   Random units respond to single characters, which already tells a little (capitals
   cluster in name lines), so the baseline is not zero; a counter or a mode has to be
   learned.

Pictures (in ``out``): ``cells.html`` (always) shows held-out text coloured by the chosen
units, trained and untrained; ``cells_position.png`` and ``cells_speaker.png`` (with
matplotlib) show the same as a grid, one text line per row, red = high, blue = low.
``success``: for position in line, the trained network's |r| is at least 0.2 above the
untrained network's and above 0.5.

Measured with the defaults (seed 0; 1,000 steps of a 256-wide LSTM, training loss 1.45
nats/char), |r| on held-out text, trained vs untrained: position in line 0.89 (cell c[74],
a counter that falls steadily along the line and resets at each newline) vs 0.31; speaker
line 0.67 (h[187], which flips at the newline after a blank line, before the name's first
letter) vs 0.39. After only 60 steps of a 64-wide LSTM the position unit is already at 0.75.
"""
from __future__ import annotations

import html
import os

import tinygrad_rnn as tg
from tinygrad_rnn import data, optim
from tinygrad_rnn.backends import numpy_backend
from tinygrad_rnn.models import CharLM, Vocabulary, batchify, train_windows

from ._applied import pyplot

FEATURES = {"position": "position in line (characters since the newline)",
            "speaker": "speaker line (the line being written is 'NAME:')"}


def features(text: str) -> dict[str, list[float]]:
    """Per character, the features of the state *after* reading it. A newline belongs to
    the line that follows it (after reading it the model is at that line's start)."""
    position, speaker = [], []
    lines = text.split("\n")
    for k, line in enumerate(lines):
        # a name line ("ROMEO:", "First Citizen:") ends with ':' and follows a blank line
        is_speaker = float(line.endswith(":") and (k == 0 or lines[k - 1] == ""))
        if k > 0:                                # the newline that opens this line
            position.append(0.0)
            speaker.append(is_speaker)
        for i in range(len(line)):
            position.append(float(i + 1))
            speaker.append(is_speaker)
    return {"position": position, "speaker": speaker}


def train(model, text: str, vocab: Vocabulary, steps: int, batch: int, seq_len: int, lr: float,
          device, log) -> float:
    optimizer = optim.Adam(model.parameters(), lr=lr)
    streams = batchify(vocab.encode(text), batch, device)
    return train_windows(model, streams, seq_len, steps, optimizer, clip=5.0, log=log)


@tg.no_grad()
def activations(model, text: str, vocab: Vocabulary, rows: int, warmup: int, device):
    """[h_t, c_t] after each character of text[warmup:], as a (N, 2H) array, and those N
    characters. That text is cut into ``rows`` equal pieces read side by side, each after the
    ``warmup`` characters before it (read, not recorded), so no state starts cold."""
    xp = numpy_backend().xp
    body = text[warmup:]
    length = len(body) // rows
    pieces = [text[r * length:warmup + (r + 1) * length] for r in range(rows)]
    ids = tg.Tensor([vocab.encode(p) for p in pieces], dtype="int64", device=device)
    model.eval()
    state, recorded = None, []
    for t in range(ids.shape[1]):
        _, state = model.rnn(model.embedding(ids[:, t:t + 1]), state)
        if t >= warmup:
            h, c = state
            recorded.append(xp.concatenate([xp.asarray(h.cpu().data[-1]),
                                            xp.asarray(c.cpu().data[-1])], axis=1))
    model.train()
    # (T, rows, 2H) -> row-major text order (rows * T, 2H)
    return xp.stack(recorded).transpose(1, 0, 2).reshape(rows * length, -1), body[:rows * length]


def correlations(acts, feature):
    """Pearson r of every column of ``acts`` with ``feature`` (0 for a constant column)."""
    xp = numpy_backend().xp
    a = acts - acts.mean(axis=0)
    f = xp.asarray(feature, dtype=acts.dtype)
    f = f - f.mean()
    denominator = xp.sqrt((a * a).sum(axis=0) * (f * f).sum())
    return xp.where(denominator > 0, (a * f[:, None]).sum(axis=0) / xp.maximum(denominator, 1e-30), 0.0)


def unit_name(index: int, hidden: int) -> str:
    return f"h[{index}]" if index < hidden else f"c[{index - hidden}]"


def analyse(model, corpus: str, begin: int, length: int, vocab, hidden: int, rows: int,
            warmup: int, device) -> dict:
    """For each feature: the unit with the largest |r| on corpus[begin : begin + length/2],
    its r there and on the second half, and its activations on the second half."""
    half = length // 2
    acts_a, body_a = activations(model, corpus[begin - warmup:begin + half], vocab, rows,
                                 warmup, device)
    acts_b, body_b = activations(model, corpus[begin + half - warmup:begin + length], vocab,
                                 rows, warmup, device)
    feats_a = features_of(corpus, begin, len(body_a))
    feats_b = features_of(corpus, begin + half, len(body_b))
    result = {}
    for name in FEATURES:
        r_a = correlations(acts_a, feats_a[name])
        best = int(abs(r_a).argmax())
        r_b = float(correlations(acts_b[:, best:best + 1], feats_b[name])[0])
        result[name] = {"unit": best, "name": unit_name(best, hidden), "r_select": float(r_a[best]),
                        "r": r_b, "activations": acts_b[:, best], "text": body_b}
    return result


def features_of(corpus: str, begin: int, length: int) -> dict[str, list[float]]:
    """The features of corpus[begin : begin + length], computed over whole lines (a line
    that began earlier keeps its position; a name line cut at the end is still one)."""
    line_start = corpus.rfind("\n", 0, begin) + 1
    line_end = corpus.find("\n", begin + length)
    full = features(corpus[line_start:len(corpus) if line_end < 0 else line_end])
    offset = begin - line_start
    return {name: values[offset:offset + length] for name, values in full.items()}


def run(steps: int = 1000, hidden: int = 256, batch: int = 32, seq_len: int = 64, lr: float = 2e-3,
        seed: int = 0, device: str = "cpu", out: str | None = None, log=print,
        held_out_chars: int = 20_000, rows: int = 20, warmup: int = 100) -> dict:
    tg.manual_seed(seed)
    text = data.load_text("tinyshakespeare")
    cut = int(len(text) * 0.9)
    train_text = text[:cut]
    vocab = Vocabulary.from_text(text)
    model = CharLM(len(vocab), hidden, "lstm", embedding_dim=64).to(device)
    log(f"untrained LSTM (hidden {hidden}): units h and c on {held_out_chars} held-out "
        "characters (chosen on the first half, r on the second)")
    untrained = analyse(model, text, cut, held_out_chars, vocab, hidden, rows, warmup, device)
    log(f"training {steps} steps on the first 90% of tiny-shakespeare ({len(train_text)} chars)")
    loss = train(model, train_text, vocab, steps, batch, seq_len, lr, device, log)
    trained = analyse(model, text, cut, held_out_chars, vocab, hidden, rows, warmup, device)
    log(f"best unit per feature, |Pearson r| on held-out text ({2 * hidden} units searched):")
    log(f"  {'feature':52s} {'trained':>16s} {'untrained':>16s}")
    result = {"loss": loss}
    for name, description in FEATURES.items():
        t, u = trained[name], untrained[name]
        log(f"  {description:52s} {abs(t['r']):5.2f} ({t['name']:>6s}) {abs(u['r']):8.2f} ({u['name']:>6s})")
        result[f"{name}_r"] = abs(t["r"])
        result[f"{name}_r_untrained"] = abs(u["r"])
    result["success"] = (result["position_r"] > 0.5
                         and result["position_r"] >= result["position_r_untrained"] + 0.2)
    if out:
        result["html"] = write_html(os.path.join(out, "cells.html"), trained, untrained, log)
        plt = pyplot(log)                     # None (after a hint) without matplotlib
        for name in FEATURES if plt is not None else ():
            result[f"png_{name}"] = plot(plt, os.path.join(out, f"cells_{name}.png"), name,
                                         trained[name], untrained[name], log)
    return result


# ------------------------------------------------------------------ pictures
SHOWN = 1500     # characters of held-out text in each picture


def _scaled(values):
    """Activations scaled to [-1, 1] by the largest magnitude on the shown text."""
    top = max(max(abs(v) for v in values), 1e-12)
    return [v / top for v in values]


def _colour(v: float) -> str:
    """Red for positive, blue for negative, white at zero (Karpathy et al.'s convention);
    the strongest colours stay light enough to read black text on."""
    v = v / 1.6
    if v >= 0:
        return f"rgb(255,{int(255 * (1 - v))},{int(255 * (1 - v))})"
    return f"rgb({int(255 * (1 + v))},{int(255 * (1 + v))},255)"


def _span_text(text: str, values) -> str:
    spans = []
    for ch, v in zip(text, _scaled(values)):
        shown = "\n\u21b5" if ch == "\n" else html.escape(ch)    # a newline opens its row
        spans.append(f'<span style="background:{_colour(v)}">{shown}</span>')
    return "".join(spans)


def write_html(path: str, trained: dict, untrained: dict, log) -> str:
    parts = ["<!doctype html><meta charset='utf-8'><title>Interpretable LSTM cells</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
             "pre{font:14px/1.35 monospace;white-space:pre-wrap}</style>",
             "<h1>Interpretable cells of a character LSTM (tiny-shakespeare, held-out text)</h1>",
             "<p>Each character's background shows the unit's value <em>after</em> reading it: "
             "red high, blue low, white zero (scaled by the largest magnitude shown). "
             "\u21b5 is a newline; it opens its row, since after reading it the model is at "
             "the start of the next line. "
             "r is the Pearson correlation with the feature on held-out text the unit was "
             "not chosen on.</p>"]
    for name, description in FEATURES.items():
        for label, chosen in (("trained", trained[name]), ("untrained (baseline)", untrained[name])):
            values = [float(v) for v in chosen["activations"][:SHOWN]]
            parts.append(f"<h2>{html.escape(description)}: {label}, unit {chosen['name']}, "
                         f"r = {chosen['r']:+.2f}</h2>")
            parts.append(f"<pre>{_span_text(chosen['text'][:SHOWN], values)}</pre>")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts))
    log(f"html: {path}")
    return path


def _grid(text: str, values, max_lines: int):
    """Lines of ``text`` (a newline starts a row, as the features count it) and a matching
    grid of values, NaN where a row has no character."""
    rows, row_values = [[]], [[]]
    for ch, v in zip(text, values):
        if ch == "\n":
            if len(rows) == max_lines:
                break
            rows.append([]), row_values.append([])
        rows[-1].append(ch)
        row_values[-1].append(v)
    width = max(len(r) for r in rows)
    nan = float("nan")
    grid = [vals + [nan] * (width - len(vals)) for vals in row_values]
    return rows, grid


def plot(plt, path: str, name: str, trained: dict, untrained: dict, log, lines: int = 20):
    fig, axes = plt.subplots(2, 1, figsize=(13, 0.62 * lines + 1.6))
    for ax, (label, chosen) in zip(axes, (("trained", trained), ("untrained (baseline)", untrained))):
        values = _scaled([float(v) for v in chosen["activations"][:SHOWN]])
        rows, grid = _grid(chosen["text"][:SHOWN], values, lines)
        # colour limits beyond +-1 keep the strongest colours light enough to read text on
        ax.imshow(grid, cmap="bwr", vmin=-1.6, vmax=1.6, aspect="auto", interpolation="nearest")
        for y, row in enumerate(rows):
            for x, ch in enumerate(row):
                ax.text(x, y, "\u21b5" if ch == "\n" else ch, ha="center", va="center",
                        family="monospace", fontsize=9)
        ax.set_title(f"{label}: unit {chosen['name']}, r = {chosen['r']:+.2f} with "
                     f"{FEATURES[name].split(' (')[0]} (held-out text)", fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Each character coloured by the unit's value after reading it: red high, "
                 "blue low, white zero.\n\u21b5 = newline; it starts a row, since after "
                 "reading it the model is at the start of the next line.", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    log(f"plot: {path}")
    return path
