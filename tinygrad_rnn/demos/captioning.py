"""Captioning, one-to-many: an 8x8 handwritten digit in, its English name out, letter by letter.

Data: the bundled 1,797 digit images (UCI / scikit-learn, 64 pixels 0..16), split with
``data.split`` (seed 0) into train 80%, validation 10% (picks the training step to keep) and
test 10% (the reported accuracy). The caption of a 7 is "seven": the decoder writes
s, e, v, e, n, </s>, one character per step (15 letters, 10 words).

Two decoders, both GRU cells over the embedded previous character:

* conditioned ("show and tell", Vinyals et al. 2015): the image enters once, as the initial
  state,  s_0 = tanh(W_img x + b),  then  s_t = GRU(E[y_{t-1}], s_{t-1}),
  p(y_t) = softmax(W_o s_t).
* attention ("show, attend and tell", Xu et al. 2015): the image is cut into 16 patches of
  2x2 pixels (a 4x4 grid); patch j is described by its 4x4 window x_j (the patch and the
  ring of pixels around it, zero outside the image, as a small convolution would see it)
  and becomes a_j = tanh(W_p x_j + P_j) (P_j: a learnt vector for its position).
  s_0 = tanh(W_init mean_j a_j) (the image reaches the decoder only through the patches),
  and at every step Bahdanau's additive attention (``models.AdditiveAttention``) picks
  where to look:

      alpha_tj = softmax_j(v^T tanh(W s_{t-1} + U a_j)),   c_t = sum_j alpha_tj a_j
      s_t = GRU([E[y_{t-1}]; c_t], s_{t-1}),   p(y_t) = softmax(W_o [s_t; c_t])

  The picture shows alpha_t over the 4x4 grid for every character written, and the run
  reports how much of the weight falls on patches with ink, against their share of the
  patches (attention spread evenly would give the share).

Decoding is greedy; a caption is right only if the whole word is (exact match).

Baselines, on the same test images: always the most frequent training word (~10%), and a
nearest-class-mean classifier (each test image gets the word of the class whose mean
training image is closest in Euclidean distance), a fair non-recurrent reference that the
decoders must beat.
"""
from __future__ import annotations

import os
import random
from collections import Counter

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import data, nn, optim
from tinygrad_rnn.models import AdditiveAttention, GRUCell, Vocabulary

from ._applied import pyplot, restore, snapshot

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPECIALS = ["<pad>", "<s>", "</s>"]
PAD, SOS, EOS = 0, 1, 2
GRID, PATCH = 4, 2        # 4x4 patches of 2x2 pixels
RING = 1                  # each patch's feature also sees this many pixels around it


def vocabulary() -> Vocabulary:
    return Vocabulary(SPECIALS + sorted({c for w in WORDS for c in w}))


def patches(image: list[float], ring: int = RING) -> list[list[float]]:
    """64 row-major pixels -> 16 windows (row-major over the 4x4 grid of 2x2 patches): each
    patch with ``ring`` pixels around it (zero outside the image), (2 + 2 ring)^2 values."""
    def pixel(y, x):
        return image[y * 8 + x] if 0 <= y < 8 and 0 <= x < 8 else 0
    side = range(-ring, PATCH + ring)
    return [[pixel(PATCH * r + i, PATCH * c + j) for i in side for j in side]
            for r in range(GRID) for c in range(GRID)]


class Captioner(nn.Module):
    """``attention=False``: the image only sets s_0; ``True``: attention over the patches."""

    def __init__(self, vocab_size: int, hidden_size: int = 128, embed_size: int = 16,
                 feature_size: int = 64, attention: bool = False):
        super().__init__()
        self.attention, self.hidden_size = attention, hidden_size
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        if attention:
            self.patch = nn.Linear((PATCH + 2 * RING) ** 2, feature_size)
            self.position = nn.Parameter(tg.randn(GRID * GRID, feature_size) * 0.1)
            self.init = nn.Linear(feature_size, hidden_size)
            self.attend = AdditiveAttention(hidden_size, feature_size, hidden_size)
            self.cell = GRUCell(embed_size + feature_size, hidden_size)
            self.out = nn.Linear(hidden_size + feature_size, vocab_size)
        else:
            self.init = nn.Linear(64, hidden_size)
            self.cell = GRUCell(embed_size, hidden_size)
            self.out = nn.Linear(hidden_size, vocab_size)

    def start(self, images, image_patches):
        """The decoding context: (s_0, patch features or None, their projected keys)."""
        if not self.attention:
            return self.init(images).tanh(), None, None
        features = (self.patch(image_patches) + self.position).tanh()       # (B, 16, D)
        return self.init(features.mean(dim=1)).tanh(), features, self.attend.project_keys(features)

    def step(self, y_prev, state, features, keys):
        """(logits (B, V), new state, attention weights (B, 16) or None)."""
        e = self.embedding(y_prev)
        if not self.attention:
            state = self.cell(e, state)
            return self.out(state), state, None
        context, weights = self.attend(state, features, projected_keys=keys)
        state = self.cell(tg.cat([e, context], dim=-1), state)
        return self.out(tg.cat([state, context], dim=-1)), state, weights

    def forward(self, images, image_patches, captions):
        """Teacher forcing: logits (B, m-1, V) for captions[:, 1:] from captions (B, m)."""
        state, features, keys = self.start(images, image_patches)
        logits = []
        for t in range(captions.shape[1] - 1):
            step_logits, state, _ = self.step(captions[:, t], state, features, keys)
            logits.append(step_logits)
        return tg.stack(logits, dim=1)

    @tg.no_grad()
    def greedy(self, images, image_patches, max_len: int = 7):
        """(ids per image, without </s>; attention weights per written character incl. </s>)."""
        B = images.shape[0]
        state, features, keys = self.start(images, image_patches)
        y = tg.Tensor([SOS] * B, dtype="int64", device=images.device)
        ids, weights = [[] for _ in range(B)], [[] for _ in range(B)]
        done = [False] * B
        for _ in range(max_len):
            logits, state, w = self.step(y, state, features, keys)
            y = logits.argmax(dim=-1)
            chosen, rows = y.tolist(), (w.tolist() if w is not None else None)
            for b in range(B):
                if done[b]:
                    continue
                if rows is not None:
                    weights[b].append(rows[b])
                if chosen[b] == EOS:
                    done[b] = True
                else:
                    ids[b].append(chosen[b])
            if all(done):
                break
        return ids, weights


class Digits:
    """Every image as tensors once: pixels x (N, 64) and windows (N, 16, w) scaled to 0..1, and
    the captions <s> w o r d </s> padded (N, 7). ``digits.batch(indices)`` picks rows."""

    def __init__(self, images, labels, vocab, device):
        self.labels = labels
        self.x = tg.Tensor([[p / 16.0 for p in image] for image in images], device=device)
        self.windows = tg.Tensor([[[v / 16.0 for v in w] for w in patches(image)]
                                  for image in images], device=device)
        rows = [[SOS] + vocab.encode(WORDS[k]) + [EOS] for k in labels]
        width = max(map(len, rows))
        self.captions = tg.Tensor([r + [PAD] * (width - len(r)) for r in rows], dtype="int64",
                                  device=device)

    def batch(self, indices):
        return self.x[indices], self.windows[indices], self.captions[indices]


def caption(model, digits: Digits, indices, vocab):
    """(written words, attention weights) for the images ``indices``."""
    model.eval()
    x, p, _ = digits.batch(indices)
    ids, weights = model.greedy(x, p)
    model.train()
    return [vocab.decode(row) for row in ids], weights


def ink_share(weights, images, indices, threshold: int = 8) -> tuple[float, float]:
    """(share of the attention weight on patches with ink, share of the patches with ink):
    a patch has ink when its 4 pixels sum to ``threshold`` or more (of 64). Averaged over
    every character written (and </s>) for the images ``indices``."""
    on_ink = steps = inked = 0.0
    for i, alphas in zip(indices, weights):
        ink = [sum(patch) >= threshold for patch in patches(images[i], ring=0)]
        inked += sum(ink) / len(ink)
        for alpha in alphas:
            on_ink += sum(a for a, k in zip(alpha, ink) if k)
            steps += 1
    return on_ink / max(steps, 1), inked / len(indices)


def accuracy(words, labels, indices) -> float:
    return sum(w == WORDS[labels[i]] for w, i in zip(words, indices)) / len(indices)


def train(attention: bool, digits: Digits, parts, vocab, steps: int, hidden: int,
          batch_size: int, lr: float, evaluate_every: int, seed: int, device, log):
    """Adam on the teacher-forced cross-entropy; keeps the step with the best validation
    exact match (then the lowest validation loss). Returns (model, kept step)."""
    tg.manual_seed(seed)
    rng = random.Random(seed)
    name = "attention" if attention else "conditioned"
    model = Captioner(len(vocab), hidden, attention=attention).to(device)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    train_idx, val_idx = parts["train"], parts["validation"]
    val = digits.batch(val_idx)
    best, best_key, best_step, order = snapshot(model), None, 0, []
    for step in range(1, steps + 1):
        if len(order) < batch_size:
            order = train_idx[:]
            rng.shuffle(order)
        batch, order = order[:batch_size], order[batch_size:]
        x, p, y = digits.batch(batch)
        logits = model(x, p, y)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y[:, 1:].reshape(-1),
                               ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        tg.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        if step % evaluate_every == 0 or step == steps:
            with tg.no_grad():
                model.eval()
                vl = model(*val)
                val_loss = F.cross_entropy(vl.reshape(-1, len(vocab)), val[2][:, 1:].reshape(-1),
                                           ignore_index=PAD).item()
                model.train()
            val_acc = accuracy(caption(model, digits, val_idx, vocab)[0], digits.labels,
                               val_idx)
            key = (val_acc, -val_loss)
            if best_key is None or key > best_key:
                best, best_key, best_step = snapshot(model), key, step
            log(f"  [{name}] step {step}: loss {loss.item():.3f}, validation loss "
                f"{val_loss:.3f}, exact {val_acc:.1%}")
    restore(model, best)
    return model, best_step


def nearest_class_mean(images, labels, train_idx, test_idx) -> list[str]:
    means = {}
    for k in range(10):
        members = [images[i] for i in train_idx if labels[i] == k]
        means[k] = [sum(col) / len(members) for col in zip(*members)]
    words = []
    for i in test_idx:
        best = min(means, key=lambda k: sum((a - b) ** 2 for a, b in zip(images[i], means[k])))
        words.append(WORDS[best])
    return words


def run(steps: int = 1000, hidden: int = 128, batch_size: int = 64, lr: float = 0.01,
        evaluate_every: int = 100, limit: int | None = None,
        variants: tuple = ("conditioned", "attention"), seed: int = 0, device: str = "cpu",
        out: str | None = None, log=print) -> dict:
    """Train the decoders named in ``variants``; report held-out exact caption accuracy
    against the baselines. ``limit`` keeps only that many training images (a smaller task for
    tests). Success: every decoder trained beats the nearest-class-mean classifier."""
    unknown = set(variants) - {"conditioned", "attention"}
    if unknown or not variants:
        raise ValueError(f"variants must be 'conditioned' and/or 'attention', got {variants!r}")
    images, labels = data.load_digits()
    train_idx, val_idx, test_idx = data.split(list(range(len(images))), (0.8, 0.1, 0.1), seed=seed)
    if limit is not None:
        train_idx = train_idx[:limit]
    parts = {"train": train_idx, "validation": val_idx}
    vocab = vocabulary()
    digits = Digits(images, labels, vocab, device)
    log(f"8x8 digits: train {len(train_idx)} images, validation {len(val_idx)}, test "
        f"{len(test_idx)} (held out); captions are the digit's English word, {len(vocab) - 3} "
        f"letters")
    majority = Counter(WORDS[labels[i]] for i in train_idx).most_common(1)[0][0]
    majority_acc = accuracy([majority] * len(test_idx), labels, test_idx)
    ncm_acc = accuracy(nearest_class_mean(images, labels, train_idx, test_idx), labels, test_idx)

    options = dict(steps=steps, hidden=hidden, batch_size=batch_size, lr=lr,
                   evaluate_every=evaluate_every, seed=seed, device=device, log=log)
    result, models = {}, {}
    for name in variants:
        model, kept = train(name == "attention", digits, parts, vocab, **options)
        words, weights = caption(model, digits, test_idx, vocab)
        result[f"{name}_accuracy"] = accuracy(words, labels, test_idx)
        if name == "attention":
            result["attention_on_ink"], result["ink_patches"] = ink_share(weights, images, test_idx)
        result[f"{name}_kept_step"] = kept
        result[f"{name}_non_words"] = sum(w not in WORDS for w in words)
        models[name] = model
    result["majority_accuracy"], result["nearest_mean_accuracy"] = majority_acc, ncm_acc
    log(f"held-out test, {len(test_idx)} images: exact caption (the whole word right)")
    titles = {"conditioned": "GRU decoder, image -> initial state",
              "attention": "GRU decoder + attention over 16 patches"}
    for name in variants:
        log(f"  {titles[name]:44s}{result[f'{name}_accuracy']:7.1%}   "
            f"({result[f'{name}_non_words']} captions not a digit's name)")
    if "attention_on_ink" in result:
        log(f"  attention: {result['attention_on_ink']:.0%} of the weight on patches with ink "
            f"(which are {result['ink_patches']:.0%} of the patches)")
    log(f"  {'nearest class mean (pixels)':44s}{ncm_acc:7.1%}   <- the baseline to beat")
    log(f"  {f'always {majority!r}':44s}{majority_acc:7.1%}")
    result["success"] = all(result[f"{name}_accuracy"] > ncm_acc for name in variants)
    if out and "attention" in models:
        os.makedirs(out, exist_ok=True)
        path = plot_attention(os.path.join(out, "captioning_attention.png"), models["attention"],
                              digits, images, labels, test_idx, vocab, log)
        if path:
            result["plot"] = path
    return result


def plot_attention(path, model, digits, images, labels, test_idx, vocab, log, count: int = 6):
    """One row per held-out digit (the first test image of ``count`` different classes): the
    image, then for each character written the weights alpha_t over the 4x4 patch grid (red,
    one colour scale for all) under the digit's strokes (blue)."""
    plt = pyplot(log)
    if plt is None:
        return None
    chosen = []
    for i in test_idx:
        if labels[i] not in {labels[j] for j in chosen}:
            chosen.append(i)
        if len(chosen) == count:
            break
    words, weights = caption(model, digits, chosen, vocab)
    columns = 1 + max(len(w) for w in weights)
    top = max(max(alpha) for alphas in weights for alpha in alphas)    # one colour scale
    fig, axes = plt.subplots(len(chosen), columns,
                             figsize=(1.55 * columns + 1.2, 1.7 * len(chosen)))
    shown = None
    for row, (i, word, alphas) in enumerate(zip(chosen, words, weights)):
        image = [images[i][r * 8:(r + 1) * 8] for r in range(8)]
        strokes = [[(0.1, 0.2, 0.75, 0.85 * p / 16) for p in line] for line in image]
        first = axes[row, 0]
        first.imshow(image, cmap="gray_r", vmin=0, vmax=16)
        mark = "right" if word == WORDS[labels[i]] else f"wrong, is {WORDS[labels[i]]}"
        first.set_title(f"'{word}' ({mark})", fontsize=9)
        first.set_xticks([])
        first.set_yticks([])
        letters = list(word) + ["</s>"]
        for col in range(1, columns):
            ax = axes[row, col]
            ax.axis("off")
            if col - 1 >= len(alphas):
                continue
            alpha = alphas[col - 1]
            grid = [alpha[r * GRID:(r + 1) * GRID] for r in range(GRID)]
            shown = ax.imshow(grid, cmap="Reds", vmin=0, vmax=top, extent=(0, 8, 8, 0))
            ax.imshow(strokes, extent=(0, 8, 8, 0))
            ax.set_title(f"{letters[col - 1]}  (max {max(alpha):.2f})", fontsize=9)
    fig.suptitle("Attention over the 16 patches (red) for each character written; strokes in "
                 "blue; held-out digits", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    bar = fig.colorbar(shown, cax=fig.add_axes((0.91, 0.2, 0.013, 0.6)))
    bar.set_label("attention weight alpha_tj", fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    log(f"attention over patches: {path}")
    return path
