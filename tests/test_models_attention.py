"""Attention: shapes, masks (masked keys get weight 0), weights summing to 1, NumPy
re-derivations of each score, gradcheck, and PyTorch's scaled_dot_product_attention,
MultiheadAttention and TransformerEncoderLayer when torch is importable."""
import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.models import (AdditiveAttention, LuongAttention, MultiHeadAttention,
                                 PositionalEncoding, TransformerEncoderLayer,
                                 scaled_dot_product_attention, sinusoidal_positional_encoding)

from numpy_rnn_reference import sigmoid  # noqa: F401  (same float64 helpers as the RNN tests)

F64 = "float64"
B, M, N, DQ, DK = 2, 3, 5, 4, 3


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def leaf(rng, *shape):
    return tg.Tensor(rng.standard_normal(shape), requires_grad=True)


def key_mask():
    mask = np.ones((B, N), dtype=bool)
    mask[0, 3:] = False                     # example 0 has 3 real keys, example 1 all 5
    return mask


def check_weights(weights, mask=None):
    w = weights.detach().numpy()
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-12)
    if mask is not None:
        full = np.broadcast_to(mask, w.shape)
        assert np.all(w[~full] == 0.0) and np.all(w[full] > 0)


# ---------------------------------------------------------------------------- additive
def test_additive_attention_matches_bahdanau_equation():
    rng = np.random.default_rng(0)
    attn = AdditiveAttention(DQ, DK, 6, dtype=F64)
    s, h = leaf(rng, B, DQ), leaf(rng, B, N, DK)
    mask = key_mask()
    context, weights = attn(s, h, mask=mask)
    assert context.shape == (B, DK) and weights.shape == (B, N)
    check_weights(weights, mask)
    W, U, b, v = (attn.W.weight.detach().numpy(), attn.U.weight.detach().numpy(), attn.U.bias.detach().numpy(),
                  attn.v.weight.detach().numpy()[0])
    e = np.tanh((s.detach().numpy() @ W.T)[:, None, :] + h.detach().numpy() @ U.T + b) @ v        # (B, N)
    a = softmax(np.where(mask, e, -np.inf))
    np.testing.assert_allclose(weights.detach().numpy(), a, rtol=1e-12)
    np.testing.assert_allclose(context.detach().numpy(), np.einsum("bn,bnd->bd", a, h.detach().numpy()), rtol=1e-12)


def test_additive_attention_many_queries_projected_keys_and_gradcheck():
    rng = np.random.default_rng(1)
    attn = AdditiveAttention(DQ, DK, 4, dtype=F64)
    s, h, values = leaf(rng, B, M, DQ), leaf(rng, B, N, DK), leaf(rng, B, N, 2)
    context, weights = attn(s, h, values, mask=key_mask())
    assert context.shape == (B, M, 2) and weights.shape == (B, M, N)
    check_weights(weights, key_mask()[:, None, :])
    again, _ = attn(s, h, values, mask=key_mask(), projected_keys=attn.project_keys(h))
    np.testing.assert_allclose(again.detach().numpy(), context.detach().numpy())
    assert tg.gradcheck(lambda *a: attn(s, h, values, mask=key_mask()),
                        [s, h, values] + list(attn.parameters()))


# ------------------------------------------------------------------------------- Luong
@pytest.mark.parametrize("score", ["dot", "general", "concat"])
def test_luong_attention_scores_and_attentional_state(score):
    rng = np.random.default_rng(2)
    d = DQ
    attn = LuongAttention(d, d, score=score, dtype=F64)
    s, h = leaf(rng, B, d), leaf(rng, B, N, d)
    mask = key_mask()
    out, weights = attn(s, h, mask=mask)
    assert out.shape == (B, d) and weights.shape == (B, N)
    check_weights(weights, mask)
    sn, hn = s.detach().numpy(), h.detach().numpy()
    if score == "dot":
        e = np.einsum("bd,bnd->bn", sn, hn)
    elif score == "general":
        e = np.einsum("bd,bnd->bn", sn, hn @ attn.W_a.weight.detach().numpy().T)
    else:
        pairs = np.concatenate([np.broadcast_to(sn[:, None], hn.shape), hn], axis=-1)
        e = np.tanh(pairs @ attn.W_a.weight.detach().numpy().T) @ attn.v_a.weight.detach().numpy()[0]
    a = softmax(np.where(mask, e, -np.inf))
    np.testing.assert_allclose(weights.detach().numpy(), a, rtol=1e-11)
    c = np.einsum("bn,bnd->bd", a, hn)
    s_tilde = np.tanh(np.concatenate([c, sn], axis=-1) @ attn.W_c.weight.detach().numpy().T)
    np.testing.assert_allclose(out.detach().numpy(), s_tilde, rtol=1e-11)
    assert tg.gradcheck(lambda *a: attn(s, h, mask=mask), [s, h] + list(attn.parameters()))


def test_luong_context_only_and_several_queries():
    rng = np.random.default_rng(3)
    attn = LuongAttention(DQ, DK, score="general", attentional=False, dtype=F64)
    s, h = leaf(rng, B, M, DQ), leaf(rng, B, N, DK)
    context, weights = attn(s, h)
    assert context.shape == (B, M, DK) and weights.shape == (B, M, N)
    np.testing.assert_allclose(context.detach().numpy(), weights.detach().numpy() @ h.detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="key_size == query_size"):
        LuongAttention(4, 3, score="dot")


# ---------------------------------------------------------------- scaled dot product
def test_scaled_dot_product_attention_equation_masks_and_causal():
    rng = np.random.default_rng(4)
    q, k, v = leaf(rng, B, M, 4), leaf(rng, B, N, 4), leaf(rng, B, N, 2)
    out, weights = scaled_dot_product_attention(q, k, v)
    a = softmax(q.detach().numpy() @ k.detach().numpy().transpose(0, 2, 1) / 2.0)
    np.testing.assert_allclose(weights.detach().numpy(), a, rtol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), a @ v.detach().numpy(), rtol=1e-12)
    mask = key_mask()[:, None, :]
    _, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    check_weights(weights, mask)
    q2, k2 = leaf(rng, B, N, 4), leaf(rng, B, N, 4)
    _, causal = scaled_dot_product_attention(q2, k2, v, is_causal=True)
    check_weights(causal, np.tril(np.ones((N, N), dtype=bool)))
    assert tg.gradcheck(lambda *a: scaled_dot_product_attention(q, k, v, attn_mask=mask),
                        [q, k, v])


def test_scaled_dot_product_attention_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((B, 2, N, 4)) for _ in range(3)]
    bool_mask = rng.random((N, N)) > 0.3
    np.fill_diagonal(bool_mask, True)
    float_mask = rng.standard_normal((N, N))
    for kwargs in ({}, {"attn_mask": bool_mask}, {"attn_mask": float_mask}, {"is_causal": True}):
        ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
        out, _ = scaled_dot_product_attention(*ours, **kwargs)
        t_kwargs = {k: torch.tensor(v) if k == "attn_mask" else v for k, v in kwargs.items()}
        t_out = torch.nn.functional.scaled_dot_product_attention(*theirs, **t_kwargs)
        np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-11, atol=1e-13)
        (out * out).sum().backward()
        (t_out * t_out).sum().backward()
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------ multi-head
def _torch_mha(torch, ours, **kwargs):
    theirs = torch.nn.MultiheadAttention(ours.embed_dim, ours.num_heads, **kwargs).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return theirs


@pytest.mark.parametrize("batch_first", [False, True])
def test_multi_head_attention_matches_pytorch(batch_first):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    E, heads, L, S = 8, 2, 3, 5
    ours = MultiHeadAttention(E, heads, batch_first=batch_first, dtype=F64)
    theirs = _torch_mha(torch, ours, batch_first=batch_first)
    shape = (lambda T: (B, T, E)) if batch_first else (lambda T: (T, B, E))
    arrays = [rng.standard_normal(shape(L)), rng.standard_normal(shape(S)),
              rng.standard_normal(shape(S))]
    padding = ~key_mask()
    float_mask = rng.standard_normal((L, S))
    cases = [dict(), dict(key_padding_mask=padding),
             dict(attn_mask=rng.random((L, S)) > 0.7, key_padding_mask=padding),
             dict(attn_mask=float_mask), dict(average_attn_weights=False)]
    for kwargs in cases:
        ours.zero_grad()
        theirs.zero_grad()
        mine = [tg.Tensor(a, requires_grad=True) for a in arrays]
        them = [torch.tensor(a, requires_grad=True) for a in arrays]
        out, weights = ours(*mine, **kwargs)
        t_kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                    for k, v in kwargs.items()}
        t_out, t_weights = theirs(*them, **t_kwargs)
        np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(weights.detach().numpy(), t_weights.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(weights.detach().numpy().sum(-1), 1.0, rtol=1e-12)
        (out * out).sum().backward()
        (t_out * t_out).sum().backward()
        for a, b in zip(mine, them):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
        named = dict(theirs.named_parameters())
        for n, p in ours.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), named[n].grad.numpy(), rtol=1e-9,
                                       atol=1e-12)


def test_multi_head_attention_masks_shapes_and_gradcheck():
    rng = np.random.default_rng(7)
    E, heads, L = 4, 2, 3
    mha = MultiHeadAttention(E, heads, batch_first=True, dtype=F64)
    x = leaf(rng, B, L, E)
    padding = np.zeros((B, L), dtype=bool)
    padding[0, -1] = True
    out, weights = mha(x, x, x, key_padding_mask=padding, average_attn_weights=False)
    assert out.shape == (B, L, E) and weights.shape == (B, heads, L, L)
    assert np.all(weights.detach().numpy()[0, :, :, -1] == 0)
    _, causal = mha(x, x, x, is_causal=True)
    assert np.all(np.triu(causal.detach().numpy(), 1) == 0)
    out, weights = mha(x[0], x[0], x[0])                   # unbatched
    assert out.shape == (L, E) and weights.shape == (L, L)
    assert mha(x, x, x, need_weights=False)[1] is None
    assert tg.gradcheck(lambda *a: mha(x, x, x, key_padding_mask=padding),
                        [x] + list(mha.parameters()))


# ----------------------------------------------------------------------- transformer
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_transformer_encoder_layer_matches_pytorch(norm_first):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    d, heads, L = 8, 2, 4
    ours = TransformerEncoderLayer(d, heads, dim_feedforward=16, norm_first=norm_first,
                                   batch_first=True, dtype=F64).eval()
    theirs = torch.nn.TransformerEncoderLayer(d, heads, dim_feedforward=16, norm_first=norm_first,
                                              batch_first=True).double().eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((B, L, d))
    padding = np.zeros((B, L), dtype=bool)
    padding[1, -1] = True
    gx, tx = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, weights = ours(gx, src_key_padding_mask=padding, need_weights=True)
    t_out = theirs(tx, src_key_padding_mask=torch.tensor(padding))
    keep = ~padding[:, :, None]                      # PyTorch's fast path zeroes padded rows
    np.testing.assert_allclose(out.detach().numpy() * keep, t_out.detach().numpy() * keep, rtol=1e-10,
                               atol=1e-12)
    assert weights.shape == (B, L, L) and np.all(weights.detach().numpy()[1, :, -1] == 0)
    (out * tg.Tensor(keep.astype(float))).sum().backward()
    (t_out * torch.tensor(keep.astype(float))).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_transformer_encoder_layer_gradcheck_and_dropout():
    rng = np.random.default_rng(9)
    layer = TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, dtype=F64)
    x = leaf(rng, 3, B, 4)
    assert tg.gradcheck(lambda *a: layer(x, is_causal=True), [x] + list(layer.parameters()))
    dropping = TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.5, dtype=F64)
    dropping.load_state_dict(layer.state_dict())
    assert np.abs(dropping(x).detach().numpy() - layer(x).detach().numpy()).max() > 1e-6
    np.testing.assert_allclose(dropping.eval()(x).detach().numpy(), layer(x).detach().numpy(), rtol=1e-12)


def test_sinusoidal_positional_encoding():
    pe = sinusoidal_positional_encoding(7, 6, dtype=F64).numpy()
    pos, i = 5, 2
    assert pe[pos, 2 * i] == pytest.approx(math.sin(pos / 10000 ** (2 * i / 6)), rel=1e-12)
    assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(pos / 10000 ** (2 * i / 6)), rel=1e-12)
    assert sinusoidal_positional_encoding(4, 5).shape == (4, 5)          # odd width
    module = PositionalEncoding(6, max_len=10, batch_first=True, dtype=F64)
    x = tg.zeros(2, 7, 6, dtype=F64)
    np.testing.assert_allclose(module(x).numpy(), np.broadcast_to(pe, (2, 7, 6)))
    with pytest.raises(ValueError, match="max_len"):
        module(tg.zeros(1, 11, 6))


def test_attention_modules_run_on_each_device(device):
    rng = np.random.default_rng(10)
    put = lambda *shape: tg.Tensor(rng.standard_normal(shape), device=device,  # noqa: E731
                                   requires_grad=True)
    s, h = put(B, DQ), put(B, N, DQ)
    mask = key_mask()
    for attn in (AdditiveAttention(DQ, DQ, 5), LuongAttention(DQ, score="concat")):
        context, weights = attn.to(device)(s, h, mask=mask)
        context.sum().backward()
        assert weights.device.startswith(device) and s.grad.device.startswith(device)
        np.testing.assert_allclose(weights.detach().numpy().sum(-1), 1.0, rtol=1e-6)
    layer = TransformerEncoderLayer(4, 2, dim_feedforward=8, batch_first=True).to(device)
    x = put(B, 3, 4)
    out, weights = layer(x, src_key_padding_mask=np.array([[0, 0, 1], [0, 0, 0]], dtype=bool),
                         need_weights=True)
    out.sum().backward()
    assert x.grad.device.startswith(device) and np.all(weights.detach().numpy()[0, :, 2] == 0)
