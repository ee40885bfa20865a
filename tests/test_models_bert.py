"""models.BERT and mask_tokens: the equations re-derived in NumPy, segments and padding,
gradcheck of every head in float64, and Devlin et al.'s 15% / 80-10-10 masking."""
import random

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.models import BERT, mask_tokens
from tinygrad_rnn.models.bert import IGNORE

import numpy_transformer_reference as ref

F64 = "float64"
V, MAX_LEN, WIDTH, LAYERS, HEADS, FF = 9, 6, 8, 2, 2, 12


def numpy_bert(sd, x, seg, allowed=None):
    T = x.shape[1]
    h = (sd["token_embedding.weight"][x] + sd["position_embedding.weight"][:T]
         + sd["segment_embedding.weight"][seg])
    h = ref.layer_norm(h, sd["embedding_norm.weight"], sd["embedding_norm.bias"], 1e-12)
    for i in range(LAYERS):
        h, _ = ref.encoder_layer(sd, f"layers.{i}.", h, HEADS, allowed=allowed, eps=1e-12)
    return h


def make(rng, **kwargs):
    return ref.randomise(BERT(V, MAX_LEN, WIDTH, LAYERS, HEADS, FF, dropout=0.0,
                              activation="relu", dtype=F64, **kwargs), rng)


def test_bert_matches_numpy_equations():
    rng = np.random.default_rng(0)
    model = make(rng, next_sentence=True)
    x, seg = rng.integers(0, V, (2, 5)), rng.integers(0, 2, (2, 5))
    states = model(tg.Tensor(x, dtype="int64"), tg.Tensor(seg, dtype="int64"))
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    h = numpy_bert(sd, x, seg)
    np.testing.assert_allclose(states.detach().numpy(), h, rtol=1e-10, atol=1e-12)
    z = ref.layer_norm(np.maximum(h @ sd["mlm_transform.weight"].T + sd["mlm_transform.bias"], 0),
                       sd["mlm_norm.weight"], sd["mlm_norm.bias"], 1e-12)
    mlm = z @ sd["token_embedding.weight"].T + sd["mlm_bias"]
    np.testing.assert_allclose(model.mlm_logits(states).detach().numpy(), mlm, rtol=1e-10, atol=1e-12)
    pooled = np.tanh(h[:, 0] @ sd["pooler.weight"].T + sd["pooler.bias"])
    nsp = pooled @ sd["nsp_head.weight"].T + sd["nsp_head.bias"]
    np.testing.assert_allclose(model.nsp_logits(states).detach().numpy(), nsp, rtol=1e-10, atol=1e-12)
    # no segments given: every position is in segment 0
    np.testing.assert_allclose(model(tg.Tensor(x, dtype="int64")).detach().numpy(),
                               numpy_bert(sd, x, np.zeros_like(x)), rtol=1e-10, atol=1e-12)


def test_bert_padding_is_never_attended():
    rng = np.random.default_rng(1)
    model = make(rng)
    x = rng.integers(0, V, (2, 5))
    pad = np.zeros((2, 5), dtype=bool)
    pad[0, 3:] = True
    states, maps = model(tg.Tensor(x, dtype="int64"), padding_mask=pad, need_weights=True)
    assert len(maps) == LAYERS and maps[0].shape == (2, HEADS, 5, 5)
    assert np.all(maps[1].detach().numpy()[0, :, :, 3:] == 0)
    changed = x.copy()
    changed[0, 3:] = (changed[0, 3:] + 1) % V
    again = model(tg.Tensor(changed, dtype="int64"), padding_mask=pad)
    np.testing.assert_allclose(again.detach().numpy()[0, :3], states.detach().numpy()[0, :3], rtol=1e-12)
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    np.testing.assert_allclose(states.detach().numpy(), numpy_bert(sd, x, np.zeros_like(x),
                                                          ~pad[:, None, None, :]),
                               rtol=1e-10, atol=1e-12)


def test_bert_gradcheck_every_head():
    rng = np.random.default_rng(2)
    model = ref.randomise(BERT(6, 4, 4, 1, 2, 6, dropout=0.0, next_sentence=True, dtype=F64), rng)
    x = tg.Tensor(rng.integers(0, 6, (2, 3)), dtype="int64")
    seg = tg.Tensor([[0, 0, 1], [0, 1, 1]], dtype="int64")

    def heads(*_):
        states = model(x, seg)
        return model.mlm_logits(states[:, 1:]).sum() + (model.nsp_logits(states) ** 2).sum()
    assert tg.gradcheck(heads, list(model.parameters()))


def test_bert_initialisation_and_bad_input():
    model = BERT(V, MAX_LEN, 32, 1, 4)
    assert 0.015 < model.token_embedding.weight.detach().numpy().std() < 0.025
    assert np.all(model.mlm_bias.detach().numpy() == 0) and np.all(model.embedding_norm.weight.detach().numpy() == 1)
    with pytest.raises(ValueError, match=r"7 tokens is longer than max_len \(6\)"):
        model(tg.zeros(1, 7, dtype="int64"))
    with pytest.raises(ValueError, match="next-sentence head"):
        model.nsp_logits(model(tg.zeros(1, 3, dtype="int64")))
    with pytest.raises(ValueError, match="width 10 is not divisible by heads 4"):
        BERT(V, width=10, heads=4)


def test_bert_dropout_only_while_training():
    rng = np.random.default_rng(3)
    plain = make(rng)
    dropping = BERT(V, MAX_LEN, WIDTH, LAYERS, HEADS, FF, dropout=0.3, activation="relu",
                    dtype=F64)
    dropping.load_state_dict(plain.state_dict())
    x = tg.Tensor(rng.integers(0, V, (2, 5)), dtype="int64")
    assert np.abs(dropping(x).detach().numpy() - plain(x).detach().numpy()).max() > 1e-6
    np.testing.assert_allclose(dropping.eval()(x).detach().numpy(), plain(x).detach().numpy(), rtol=1e-12)


def test_mask_tokens_follows_devlin_et_al():
    rng = random.Random(0)
    vocab, mask_id, specials = 50, 2, (0, 1, 3)          # <pad>, [CLS], [SEP]
    rows = [[1] + [rng.randrange(4, vocab) for _ in range(30)] + [3] for _ in range(2000)]
    inputs, targets = mask_tokens(rows, vocab, mask_id, specials, random.Random(1))
    chosen = masked = replaced = kept = 0
    for row, x, y in zip(rows, inputs, targets):
        assert x[0] == 1 and x[-1] == 3 and y[0] == y[-1] == IGNORE    # specials untouched
        for t, (a, b, c) in enumerate(zip(row, x, y)):
            if c == IGNORE:
                assert a == b                                           # not chosen: as it was
                continue
            chosen += 1
            assert c == a
            masked += b == mask_id
            kept += b == a
            replaced += b not in (a, mask_id)
            assert b not in specials
    n = 2000 * 30
    assert abs(chosen / n - 0.15) < 0.01
    assert abs(masked / chosen - 0.8) < 0.02
    assert abs(kept / chosen - 0.1 - 0.1 / 46) < 0.02         # a random word can be the same
    assert abs(replaced / chosen - 0.1) < 0.02
    # a short sentence where chance picked nothing still gets one position to predict
    inputs, targets = mask_tokens([[1, 5, 3]] * 50, vocab, mask_id, specials, random.Random(2))
    assert all(sum(v != IGNORE for v in y) == 1 for y in targets)


def test_bert_runs_on_each_device(device):
    model = BERT(V, MAX_LEN, WIDTH, LAYERS, HEADS, FF, next_sentence=True).to(device)
    x = tg.Tensor(np.random.default_rng(4).integers(0, V, (2, 4)), dtype="int64", device=device)
    states = model(x, padding_mask=np.array([[0, 0, 0, 1], [0, 0, 0, 0]], dtype=bool))
    (model.mlm_logits(states).sum() + model.nsp_logits(states).sum()).backward()
    assert states.device.startswith(device)
    assert model.token_embedding.weight.grad.device.startswith(device)
