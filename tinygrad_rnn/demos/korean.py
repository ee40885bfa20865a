"""Korean, character by character: continue the alphabet, then autocomplete phrases.

1. Continuation: a GRU reads syllables of 가나다라마바사아자차카타파하 and predicts the next;
   from any prefix it must write out the rest.
2. Reversal: a GRU reads k random syllables and a separator, then writes them back in
   reverse order (read, then write: the whole sequence must be held in h_t). Measured on
   sequences it never saw in training.
3. Autocomplete: a GRU language model trained on the Korean side of the bundled Tatoeba
   pairs; given '기' it completes phrases it has learned ("기다려!", "기억해." ...).

Continuation and autocomplete are the same model, p(x_{t+1} | x_{<=t}) = softmax(W_hy h_t + b_y) with
h_t = GRU(E[x_t], h_{t-1}); only the text differs.
"""
from __future__ import annotations

import random

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import data, optim
from tinygrad_rnn.models import CharLM, Vocabulary, batchify, bptt_windows, detach_state

ALPHABET = "가나다라마바사아자차카타파하"


def _train(model, streams, seq_len: int, steps: int, lr: float) -> float:
    optimizer = optim.Adam(model.parameters(), lr=lr)
    windows, state, loss = None, None, None
    for _ in range(steps):
        if windows is None:
            windows, state = bptt_windows(streams, seq_len), None
        try:
            x, y = next(windows)
        except StopIteration:
            windows = None
            continue
        logits, state = model(x, state)
        state = detach_state(state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        tg.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    return loss.item()


class Reverser(tg.nn.Module):
    """x_1..x_k, '|', '_'..'_'  ->  (ignored) ..., x_k..x_1 at the last k positions."""

    def __init__(self, symbols: int, hidden_size: int = 128):
        super().__init__()
        from tinygrad_rnn.models import GRU
        self.embedding = tg.nn.Embedding(symbols, 32)
        self.rnn = GRU(32, hidden_size, batch_first=True)
        self.head = tg.nn.Linear(hidden_size, symbols)

    def forward(self, x):
        return self.head(self.rnn(self.embedding(x))[0])


def _reversal_batch(rng, size: int, length: int, avoid=None, seen=None):
    blank, separator, first = 0, 1, 2
    inputs, targets = [], []
    while len(inputs) < size:
        sequence = tuple(rng.randrange(first, first + len(ALPHABET)) for _ in range(length))
        if avoid is not None and sequence in avoid:
            continue
        if seen is not None:
            seen.add(sequence)
        inputs.append(list(sequence) + [separator] + [blank] * length)
        targets.append([-100] * (length + 1) + list(sequence[::-1]))
    return tg.Tensor(inputs), tg.Tensor(targets)


def reversal(steps: int, seed: int, device: str, log, length: int = 4) -> float:
    """Exact-match accuracy of writing k unseen syllable sequences backwards."""
    tg.manual_seed(seed)
    rng = random.Random(seed)
    symbols = ["_", "|"] + list(ALPHABET)
    model = Reverser(len(symbols)).to(device)
    optimizer = optim.Adam(model.parameters(), lr=0.005)
    seen: set = set()
    for _ in range(steps):
        x, y = _reversal_batch(rng, 64, length, seen=seen)
        logits = model(x.to(device))
        loss = F.cross_entropy(logits.reshape(-1, len(symbols)), y.to(device).reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, y = _reversal_batch(random.Random(seed + 1), 500, length, avoid=seen)
    with tg.no_grad():
        predicted = model(x.to(device)).argmax(-1).numpy()[:, length + 1:]
    expected = y.numpy()[:, length + 1:]
    accuracy = float((predicted == expected).all(axis=1).mean())
    sample = [symbols[i] for i in x.tolist()[0][:length]]
    answer = [symbols[i] for i in predicted[0]]
    log(f"reversal of {length} syllables: {''.join(sample)} -> {''.join(answer)}; exact on "
        f"{accuracy:.1%} of 500 sequences never seen in training")
    return accuracy


def continuation(steps: int, seed: int, device: str, log) -> float:
    """Fraction of alphabet prefixes from which the model writes the exact rest."""
    tg.manual_seed(seed)
    rng = random.Random(seed)
    text = "".join(ALPHABET[rng.randrange(3):] + "\n" for _ in range(400))
    vocab = Vocabulary.from_text(text)
    model = CharLM(len(vocab), 64, "gru", embedding_dim=16).to(device)
    loss = _train(model, batchify(vocab.encode(text), 8, device), 16, steps, 0.01)
    right = 0
    for k in range(1, len(ALPHABET)):
        rest = model.generate(vocab, "\n" + ALPHABET[:k], len(ALPHABET) - k, temperature=0)
        right += rest == ALPHABET[k:]
        if k in (1, 5, 10):
            log(f"  {ALPHABET[:k]} -> {rest}")
    accuracy = right / (len(ALPHABET) - 1)
    log(f"alphabet continuation: loss {loss:.3f}, {accuracy:.0%} of prefixes continued exactly")
    return accuracy


@tg.no_grad()
def complete(model, vocab, prime: str, beam: int = 5, max_length: int = 30) -> str:
    """The most likely whole line starting with ``prime``: beam search over characters,
    scoring each candidate by sum of log p(x_t | x_<t) up to its end-of-line."""
    model.eval()
    newline = vocab.index["\n"]
    beams, finished = [(0.0, vocab.encode("\n" + prime))], []
    for _ in range(max_length):
        candidates = []
        for score, ids in beams:
            logits, _ = model(tg.Tensor([ids], dtype="int64", device=model.head.weight.device))
            log_p = F.log_softmax(logits[0, -1], dim=-1).tolist()
            best = sorted(range(len(log_p)), key=log_p.__getitem__, reverse=True)[:beam]
            candidates += [(score + log_p[i], ids + [i]) for i in best]
        candidates.sort(key=lambda c: c[0], reverse=True)
        beams = []
        for score, ids in candidates[:beam]:
            (finished if ids[-1] == newline else beams).append((score, ids))
        if not beams:
            break
    score, ids = max(finished or beams, key=lambda c: c[0])
    model.train()
    return vocab.decode(ids[1:]).rstrip("\n")


def autocomplete(steps: int, seed: int, device: str, log, prime: str = "기",
                 hidden: int = 256, batch: int = 32) -> tuple[str, bool]:
    tg.manual_seed(seed)      # each part seeds itself: its result does not depend on the others
    text = data.load_text("korean")
    lines = set(text.splitlines())
    vocab = Vocabulary.from_text(text)
    model = CharLM(len(vocab), hidden, "gru", embedding_dim=64).to(device)
    loss = _train(model, batchify(vocab.encode(text), batch, device), 32, steps, 0.003)
    phrase = complete(model, vocab, prime)
    # learned: the completion, up to its closing . ! or ? (which the model may swap), occurs
    # word for word in the training text; "sentence" when it is a whole corpus line too
    core = phrase.rstrip(".!?")
    learned = len(core) > len(prime) + 1 and core in text
    whole = core in {line.rstrip(".!?") for line in lines}
    log(f"autocomplete: loss {loss:.3f}; '{prime}' -> '{phrase}' "
        f"({'a whole corpus sentence' if whole else 'a phrase of the corpus' if learned else 'not in the corpus'})")
    for i in range(3):
        alternative = model.generate(vocab, "\n" + prime, 30, temperature=0.5, seed=seed + i)
        log(f"  sampled: {prime}{alternative.split(chr(10))[0]}")
    return phrase, learned


def run(steps: int = 500, seed: int = 0, device: str = "cpu", out: str | None = None,
        log=print, alphabet_steps: int = 300, reversal_steps: int = 600) -> dict:
    tg.manual_seed(seed)
    accuracy = continuation(alphabet_steps, seed, device, log)
    reversed_right = reversal(reversal_steps, seed, device, log)
    phrase, learned = autocomplete(steps, seed, device, log)
    return {"continuation_accuracy": accuracy, "reversal_accuracy": reversed_right,
            "completion": phrase, "learned": learned,
            "success": accuracy == 1.0 and reversed_right >= 0.99 and learned}
