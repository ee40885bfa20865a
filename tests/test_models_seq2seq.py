"""Seq2seq: padding never leaks into the encoder's states or the attention, teacher forcing,
greedy and beam-search decoding, gradcheck, and a small task that must be learnt."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.models import Seq2Seq
from tinygrad_rnn.models.seq2seq import Encoder

PAD, SOS, EOS = 0, 1, 2
SRC = np.array([[3, 4, 5, 0, 0], [5, 6, 7, 8, 9], [9, 3, 0, 0, 0]])
LENGTHS = np.array([3, 5, 2])
TGT = np.array([[SOS, 3, 4, EOS, 0], [SOS, 5, 6, 7, EOS], [SOS, 9, EOS, 0, 0]])


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_encoder_ignores_padding_like_packed_sequences(cell):
    encoder = Encoder(10, 4, 3, cell=cell, num_layers=2, bidirectional=True, dtype="float64")
    outputs, (h, c) = encoder(tg.Tensor(SRC), LENGTHS)
    assert outputs.shape == (3, 5, 6) and h.shape == (3, 6)
    for b, n in enumerate(LENGTHS):
        alone, (h1, c1) = encoder(tg.Tensor(SRC[b:b + 1, :n]))
        np.testing.assert_allclose(outputs.detach().numpy()[b, :n], alone.detach().numpy()[0], rtol=1e-12)
        assert np.all(outputs.detach().numpy()[b, n:] == 0)
        np.testing.assert_allclose(h.detach().numpy()[b], h1.detach().numpy()[0], rtol=1e-12)
        if cell == "lstm":
            np.testing.assert_allclose(c.detach().numpy()[b], c1.detach().numpy()[0], rtol=1e-12)
    more_padding = np.concatenate([SRC, np.zeros((3, 2), dtype=SRC.dtype)], axis=1)
    again, _ = encoder(tg.Tensor(more_padding), LENGTHS)
    np.testing.assert_allclose(again.detach().numpy()[:, :5], outputs.detach().numpy(), rtol=1e-12)


def test_encoder_matches_pytorch_packed_sequence():
    torch = pytest.importorskip("torch")
    encoder = Encoder(10, 4, 3, cell="gru", num_layers=2, bidirectional=True, dtype="float64")
    theirs = torch.nn.GRU(4, 3, num_layers=2, bidirectional=True, batch_first=True).double()
    encoder.rnn.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    outputs, (h, _) = encoder(tg.Tensor(SRC), LENGTHS)
    embedded = torch.tensor(encoder.embedding(tg.Tensor(SRC)).detach().numpy())
    packed = torch.nn.utils.rnn.pack_padded_sequence(embedded, torch.tensor(LENGTHS),
                                                     batch_first=True, enforce_sorted=False)
    t_out, t_h = theirs(packed)
    t_out, _ = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=True, total_length=5)
    np.testing.assert_allclose(outputs.detach().numpy(), t_out.detach().numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(h.detach().numpy(), torch.cat([t_h[-2], t_h[-1]], -1).detach().numpy(),
                               rtol=1e-11)


ATTENTIONS = [("gru", "bahdanau", True), ("lstm", "general", True), ("gru", "concat", True),
              ("lstm", "dot", False), ("gru", None, True)]


@pytest.mark.parametrize("cell,attention,bidirectional", ATTENTIONS)
def test_teacher_forcing_shapes_masks_and_loss(cell, attention, bidirectional):
    model = Seq2Seq(10, 11, embed_size=4, hidden_size=5, cell=cell, attention=attention,
                    bidirectional=bidirectional)
    logits, weights = model(tg.Tensor(SRC), LENGTHS, TGT)
    assert logits.shape == (3, 4, 11)
    if attention is None:
        assert weights is None
    else:
        w = weights.detach().numpy()
        assert w.shape == (3, 4, 5)
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
        padded = np.arange(5)[None, :] >= LENGTHS[:, None]
        assert np.all(w.transpose(1, 0, 2)[:, padded] == 0)
    loss = model.loss(tg.Tensor(SRC), LENGTHS, TGT)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_teacher_forcing_ratio_zero_feeds_back_the_greedy_choices():
    tg.manual_seed(1)
    model = Seq2Seq(10, 11, embed_size=4, hidden_size=5, attention="general")
    with tg.no_grad():
        forced, _ = model(tg.Tensor(SRC), LENGTHS, TGT, teacher_forcing_ratio=1.0)
        free, _ = model(tg.Tensor(SRC), LENGTHS, TGT, teacher_forcing_ratio=0.0)
    tokens, _ = model.greedy(tg.Tensor(SRC), LENGTHS, max_len=4)
    np.testing.assert_allclose(forced.numpy()[:, 0], free.numpy()[:, 0])   # same first input
    chosen = free.numpy().argmax(-1)
    for b in range(3):
        for t in range(tokens.shape[1]):
            assert chosen[b, t] == tokens.numpy()[b, t]
            if tokens.numpy()[b, t] == EOS:
                break
    assert np.abs(forced.numpy()[:, 1:] - free.numpy()[:, 1:]).max() > 1e-6


def test_beam_search_scores_ordering_and_beam_of_one_is_greedy():
    tg.manual_seed(2)
    model = Seq2Seq(10, 11, embed_size=4, hidden_size=5, attention="bahdanau")
    src = tg.Tensor(SRC)
    greedy, _ = model.greedy(src, LENGTHS, max_len=6)
    beams = model.beam_search(src, LENGTHS, beam_size=4, max_len=6)
    single = model.beam_search(src, LENGTHS, beam_size=1, max_len=6)
    for b, n in enumerate(LENGTHS):
        one = SRC[b:b + 1, :n]
        g = [int(v) for v in greedy.numpy()[b] if v != PAD]
        assert single[b][0][0] == g
        scores = [score for _, score in beams[b]]
        assert scores == sorted(scores, reverse=True) and len(beams[b]) == 4
        for tokens, score in beams[b]:
            assert model.score(tg.Tensor(one), None, tokens) == pytest.approx(score, rel=1e-5)
        assert beams[b][0][1] >= model.score(tg.Tensor(one), None, g) - 1e-6


def test_seq2seq_gradcheck():
    model = Seq2Seq(8, 7, embed_size=3, hidden_size=3, attention="bahdanau", dtype="float64")
    checked = [model.encoder.rnn.weight_hh_l0, model.decoder.attention.v.weight,
               model.decoder.cell.weight_ih, model.bridge.bias]
    src, tgt = SRC[:2, :4] % 8, TGT[:2, :4] % 7
    assert tg.gradcheck(lambda *a: model.loss(tg.Tensor(src), LENGTHS[:2].clip(max=4), tgt),
                        checked)


def test_learns_to_reverse_short_sequences():
    from tinygrad_rnn.optim import Adam
    rng = np.random.default_rng(0)
    tg.manual_seed(0)
    model = Seq2Seq(8, 8, embed_size=8, hidden_size=16, attention="general")
    optimizer = Adam(model.parameters(), lr=0.02)

    def batch(size):
        lengths = rng.integers(2, 5, size)
        src = np.zeros((size, 4), dtype=np.int64)
        tgt = np.zeros((size, 6), dtype=np.int64)
        for b, n in enumerate(lengths):
            seq = rng.integers(3, 8, n)
            src[b, :n] = seq
            tgt[b, :n + 2] = [SOS, *seq[::-1], EOS]
        return src, lengths, tgt

    for _ in range(250):
        src, lengths, tgt = batch(16)
        optimizer.zero_grad()
        model.loss(tg.Tensor(src), lengths, tgt, teacher_forcing_ratio=0.9).backward()
        optimizer.step()
    src, lengths, tgt = batch(64)
    tokens, _ = model.greedy(tg.Tensor(src), lengths, max_len=5)
    hits = [list(tokens.numpy()[b, :n + 1]) == list(tgt[b, 1:n + 2]) for b, n in enumerate(lengths)]
    assert np.mean(hits) >= 0.9          # seeds 0-3 all reach >= 0.98


def test_luong_decoder_feeds_the_attentional_state_back():
    import tinygrad_rnn.functional as F
    tg.manual_seed(3)
    model = Seq2Seq(10, 11, embed_size=4, hidden_size=5, attention="general", dtype="float64")
    decoder = model.decoder
    run = model.encode(tg.Tensor(SRC), LENGTHS)
    h0 = run["state"]
    assert np.all(run["feed"].detach().numpy() == 0)
    y1 = np.full(3, SOS)
    decoder.step(y1, run)
    h1 = run["state"]
    np.testing.assert_allclose(h1.detach().numpy(), decoder.cell(
        F.cat([decoder.embedding(y1), tg.zeros(3, 5, dtype="float64")], -1), h0).detach().numpy())
    feed, _ = decoder.attention(h1, run["memory"], mask=run["mask"])
    np.testing.assert_allclose(run["feed"].detach().numpy(), feed.detach().numpy())      # s~_1
    y2 = TGT[:, 1]
    logits, _ = decoder.step(y2, run)
    h2 = decoder.cell(F.cat([decoder.embedding(y2), feed], -1), h1)     # [E y_1; s~_1]
    np.testing.assert_allclose(run["state"].detach().numpy(), h2.detach().numpy())
    s2, _ = decoder.attention(h2, run["memory"], mask=run["mask"])
    np.testing.assert_allclose(logits.detach().numpy(), decoder.out(s2).detach().numpy())


def test_seq2seq_runs_on_each_device(device):
    model = Seq2Seq(10, 11, embed_size=4, hidden_size=5, attention="bahdanau").to(device)
    src = tg.Tensor(SRC, device=device)
    loss = model.loss(src, LENGTHS, tg.Tensor(TGT, device=device))
    loss.backward()
    assert all(p.grad.device.startswith(device) for p in model.parameters())
    tokens, weights = model.greedy(src, LENGTHS, max_len=4)
    assert tokens.device.startswith(device) and weights.shape[0] == 3
    assert len(model.beam_search(src, LENGTHS, beam_size=2, max_len=4)) == 3
