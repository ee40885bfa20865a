"""TransformerDecoderLayer and the encoder-decoder Transformer: torch.nn's parameter names and
masks (a torch state dict loads and gives the same outputs and gradients, in float64, when
torch is importable), a NumPy re-derivation of every block (always), and gradcheck."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.models import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                                 TransformerEncoder, TransformerEncoderLayer, TransformerSeq2Seq)

import numpy_transformer_reference as ref

F64 = "float64"
B, T, S, D, HEADS, FF = 2, 4, 5, 8, 2, 16


def numpy_state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def tgt_padding():
    pad = np.zeros((B, T), dtype=bool)
    pad[1, -1] = True                     # example 1's last target position is padding
    return pad


def memory_padding():
    pad = np.zeros((B, S), dtype=bool)
    pad[0, -2:] = True                    # example 0 has 3 real source positions
    return pad


# ------------------------------------------------------------------ NumPy re-derivation
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_layer_matches_numpy_equations(norm_first):
    rng = np.random.default_rng(0)
    layer = TransformerDecoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True,
                                    norm_first=norm_first, dtype=F64)
    ref.randomise(layer, rng)
    x, m = rng.standard_normal((B, T, D)), rng.standard_normal((B, S, D))
    out, (self_w, cross_w) = layer(tg.Tensor(x), tg.Tensor(m), tgt_is_causal=True,
                                   tgt_key_padding_mask=tgt_padding(),
                                   memory_key_padding_mask=memory_padding(), need_weights=True,
                                   average_attn_weights=False)
    self_allowed = ref.causal(T)[None, None] & ~tgt_padding()[:, None, None, :]
    cross_allowed = ~memory_padding()[:, None, None, :]
    expected = ref.decoder_layer(numpy_state(layer), "", x, m, HEADS, norm_first, self_allowed,
                                 cross_allowed)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    assert self_w.shape == (B, HEADS, T, T) and cross_w.shape == (B, HEADS, T, S)
    assert np.all(np.triu(self_w.detach().numpy(), 1) == 0)                  # no future position
    assert np.all(cross_w.detach().numpy()[0, :, :, -2:] == 0)               # no padded source
    np.testing.assert_allclose(cross_w.detach().numpy().sum(-1), 1.0, rtol=1e-12)


def test_transformer_matches_numpy_equations():
    rng = np.random.default_rng(1)
    model = Transformer(D, HEADS, 2, 2, FF, dropout=0.0, batch_first=True, dtype=F64)
    ref.randomise(model, rng)
    src, tgt = rng.standard_normal((B, S, D)), rng.standard_normal((B, T, D))
    out = model(tg.Tensor(src), tg.Tensor(tgt),
                tgt_mask=Transformer.generate_square_subsequent_mask(T, dtype=F64),
                src_key_padding_mask=memory_padding(), memory_key_padding_mask=memory_padding())
    sd = numpy_state(model)
    allowed = ~memory_padding()[:, None, None, :]
    x = src
    for i in range(2):
        x, _ = ref.encoder_layer(sd, f"encoder.layers.{i}.", x, HEADS, allowed=allowed)
    memory = ref.layer_norm(x, sd["encoder.norm.weight"], sd["encoder.norm.bias"])
    y = tgt
    for i in range(2):
        y = ref.decoder_layer(sd, f"decoder.layers.{i}.", y, memory, HEADS,
                              self_allowed=ref.causal(T), cross_allowed=allowed)
    y = ref.layer_norm(y, sd["decoder.norm.weight"], sd["decoder.norm.bias"])
    np.testing.assert_allclose(out.detach().numpy(), y, rtol=1e-10, atol=1e-12)


def test_transformer_parameter_names_and_initialisation():
    model = Transformer(D, HEADS, 2, 1, FF, dtype=F64)
    names = list(numpy_state(model))
    assert names[:4] == ["encoder.layers.0.self_attn.in_proj_weight",
                         "encoder.layers.0.self_attn.in_proj_bias",
                         "encoder.layers.0.self_attn.out_proj.weight",
                         "encoder.layers.0.self_attn.out_proj.bias"]
    assert "encoder.layers.1.norm2.bias" in names and "encoder.norm.weight" in names
    assert {"decoder.layers.0.multihead_attn.in_proj_weight", "decoder.layers.0.norm3.weight",
            "decoder.norm.bias"} <= set(names) and "decoder.layers.1.norm1.weight" not in names
    first, second = (model.encoder.layers[i].linear1.weight.detach().numpy() for i in range(2))
    assert not np.array_equal(first, second)          # Xavier drawn per layer, after cloning
    bound = np.sqrt(6.0 / (D + FF))
    assert np.abs(first).max() <= bound and np.abs(first).max() > 0.8 * bound
    biases = model.encoder.layers[0].self_attn.in_proj_bias.detach().numpy()
    assert np.all(biases == 0)                         # 1-d parameters keep their init


def test_decoder_layer_float_and_boolean_masks_agree():
    rng = np.random.default_rng(2)
    layer = TransformerDecoderLayer(D, HEADS, FF, dropout=0.0, dtype=F64)
    x, m = tg.Tensor(rng.standard_normal((T, B, D))), tg.Tensor(rng.standard_normal((S, B, D)))
    by_float = layer(x, m, tgt_mask=Transformer.generate_square_subsequent_mask(T, dtype=F64))
    by_bool = layer(x, m, tgt_mask=~ref.causal(T))
    by_flag = layer(x, m, tgt_is_causal=True)
    unmasked = layer(x, m)
    np.testing.assert_allclose(by_float.detach().numpy(), by_bool.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(by_flag.detach().numpy(), by_bool.detach().numpy(), rtol=1e-12)
    assert np.abs(unmasked.detach().numpy() - by_bool.detach().numpy()).max() > 1e-3
    # causality: changing the last target position leaves the earlier outputs as they were
    changed = x.detach().numpy().copy()
    changed[-1] += 1.0
    later = layer(tg.Tensor(changed), m, tgt_is_causal=True)
    np.testing.assert_allclose(later.detach().numpy()[:-1], by_flag.detach().numpy()[:-1], rtol=1e-12)
    assert np.abs(later.detach().numpy()[-1] - by_flag.detach().numpy()[-1]).max() > 1e-3


def test_transformer_bad_input_names_the_shapes():
    model = Transformer(D, HEADS, 1, 1, FF, dtype=F64)
    with pytest.raises(ValueError, match=r"batch sizes.*\(5, 2, 8\).*\(4, 3, 8\)|"
                                         r"\(5, 2, 8\).*\(4, 3, 8\).*batch"):
        model(tg.zeros(S, B, D, dtype=F64), tg.zeros(T, 3, D, dtype=F64))
    with pytest.raises(ValueError, match="d_model=8"):
        model(tg.zeros(S, B, 6, dtype=F64), tg.zeros(T, B, 6, dtype=F64))
    with pytest.raises(ValueError, match="activation"):
        TransformerDecoderLayer(D, HEADS, activation="swish")


# ----------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_layer_gradcheck(norm_first):
    rng = np.random.default_rng(3)
    layer = TransformerDecoderLayer(4, 2, 6, dropout=0.0, batch_first=True,
                                    norm_first=norm_first, dtype=F64)
    x = tg.Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    m = tg.Tensor(rng.standard_normal((2, 2, 4)), requires_grad=True)
    pad = np.array([[False, True], [False, False]])
    assert tg.gradcheck(lambda *a: layer(x, m, tgt_is_causal=True, memory_key_padding_mask=pad),
                        [x, m] + list(layer.parameters()))


def test_transformer_gradcheck():
    rng = np.random.default_rng(4)
    model = Transformer(4, 2, 1, 1, 6, dropout=0.0, batch_first=True, norm_first=True,
                        dtype=F64)
    src = tg.Tensor(rng.standard_normal((1, 3, 4)), requires_grad=True)
    tgt = tg.Tensor(rng.standard_normal((1, 2, 4)), requires_grad=True)
    assert tg.gradcheck(lambda *a: model(src, tgt, tgt_is_causal=True),
                        [src, tgt] + list(model.parameters()))


def test_decoder_layer_dropout_only_while_training():
    rng = np.random.default_rng(5)
    plain = TransformerDecoderLayer(4, 2, 6, dropout=0.0, dtype=F64)
    dropping = TransformerDecoderLayer(4, 2, 6, dropout=0.5, dtype=F64)
    dropping.load_state_dict(plain.state_dict())
    x, m = tg.Tensor(rng.standard_normal((3, B, 4))), tg.Tensor(rng.standard_normal((2, B, 4)))
    assert np.abs(dropping(x, m).detach().numpy() - plain(x, m).detach().numpy()).max() > 1e-6
    np.testing.assert_allclose(dropping.eval()(x, m).detach().numpy(), plain(x, m).detach().numpy(), rtol=1e-12)


# --------------------------------------------------------------------------------- torch
def _compare(torch, ours, theirs, inputs, kwargs, rtol=1e-10):
    mine = [tg.Tensor(a, requires_grad=True) for a in inputs]
    them = [torch.tensor(a, requires_grad=True) for a in inputs]
    t_kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    out, t_out = ours(*mine, **kwargs), theirs(*them, **t_kwargs)
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=rtol, atol=1e-12)
    weight = np.random.default_rng(6).standard_normal(out.shape)
    (out * tg.Tensor(weight)).sum().backward()
    (t_out * torch.tensor(weight)).sum().backward()
    for a, b in zip(mine, them):
        np.testing.assert_allclose(a.grad.detach().numpy(), b.grad.detach().numpy(), rtol=1e-9, atol=1e-11)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.detach().numpy(), named[name].grad.detach().numpy(), rtol=1e-9,
                                   atol=1e-11, err_msg=name)


def _load_from(torch_module, ours):
    ours.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})
    return ours


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_layer_matches_pytorch(norm_first, batch_first):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    args = dict(dim_feedforward=FF, dropout=0.0, norm_first=norm_first, batch_first=batch_first)
    theirs = torch.nn.TransformerDecoderLayer(D, HEADS, **args).double()
    ours = ref.randomise(TransformerDecoderLayer(D, HEADS, **args, dtype=F64), rng)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in numpy_state(ours).items()})
    shape = (lambda n: (B, n, D)) if batch_first else (lambda n: (n, B, D))
    inputs = [rng.standard_normal(shape(T)), rng.standard_normal(shape(S))]
    cases = [dict(), dict(tgt_mask=Transformer.generate_square_subsequent_mask(T, dtype=F64)
                          .detach().numpy(), tgt_is_causal=True),
             dict(tgt_mask=~ref.causal(T), tgt_key_padding_mask=tgt_padding(),
                  memory_key_padding_mask=memory_padding()),
             dict(memory_mask=rng.standard_normal((T, S)))]
    for kwargs in cases:
        ours.zero_grad()
        theirs.zero_grad()
        _compare(torch, ours, theirs, inputs, kwargs)


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")],
                         ids=["post-norm-relu", "pre-norm-gelu"])
def test_transformer_matches_pytorch(norm_first, activation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    args = dict(d_model=D, nhead=HEADS, num_encoder_layers=2, num_decoder_layers=2,
                dim_feedforward=FF, dropout=0.0, norm_first=norm_first, batch_first=True,
                activation=activation)
    theirs = torch.nn.Transformer(**args).double()          # train mode: no fast path
    ours = _load_from(theirs, Transformer(**args, dtype=F64))
    assert list(numpy_state(ours)) == list(theirs.state_dict())
    inputs = [rng.standard_normal((B, S, D)), rng.standard_normal((B, T, D))]
    mask = Transformer.generate_square_subsequent_mask(T, dtype=F64).detach().numpy()
    np.testing.assert_array_equal(mask, torch.nn.Transformer.generate_square_subsequent_mask(T))
    kwargs = dict(tgt_mask=mask, src_key_padding_mask=memory_padding(),
                  tgt_key_padding_mask=tgt_padding(), memory_key_padding_mask=memory_padding())
    _compare(torch, ours, theirs, inputs, kwargs)


def test_stacks_return_each_layers_attention():
    rng = np.random.default_rng(9)
    encoder = TransformerEncoder(TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True,
                                                         dtype=F64), 3)
    decoder = TransformerDecoder(TransformerDecoderLayer(4, 2, 6, dropout=0.0, batch_first=True,
                                                         dtype=F64), 2)
    src, tgt = tg.Tensor(rng.standard_normal((B, S, 4))), tg.Tensor(rng.standard_normal((B, T, 4)))
    memory, maps = encoder(src, need_weights=True, average_attn_weights=False)
    assert len(maps) == 3 and all(w.shape == (B, 2, S, S) for w in maps)
    np.testing.assert_allclose(memory.detach().numpy(), encoder(src).detach().numpy(), rtol=1e-12)
    out, maps = decoder(tgt, memory, tgt_is_causal=True, need_weights=True)
    assert len(maps) == 2 and maps[1][0].shape == (B, T, T) and maps[1][1].shape == (B, T, S)
    assert out.shape == (B, T, 4)


def test_transformer_runs_on_each_device(device):
    rng = np.random.default_rng(10)
    model = Transformer(4, 2, 1, 1, 8, batch_first=True).to(device)
    src = tg.Tensor(rng.standard_normal((B, 3, 4)), device=device, requires_grad=True)
    tgt = tg.Tensor(rng.standard_normal((B, 2, 4)), device=device, requires_grad=True)
    mask = Transformer.generate_square_subsequent_mask(2, device=device)
    out = model(src, tgt, tgt_mask=mask)
    out.sum().backward()
    assert out.device.startswith(device) and src.grad.device.startswith(device)


# ----------------------------------------------------------------- translation model
def test_transformer_seq2seq_loss_greedy_and_maps():
    model = TransformerSeq2Seq(7, 9, d_model=8, nhead=2, num_encoder_layers=1,
                               num_decoder_layers=2, dim_feedforward=12, dropout=0.0,
                               pad=0, sos=1, eos=2, dtype=F64)
    src = tg.Tensor([[3, 4, 5, 6], [4, 4, 5, 0]], dtype="int64")
    tgt = tg.Tensor([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0]], dtype="int64")
    logits, weights = model(src, None, tgt)
    assert logits.shape == (2, 4, 9) and weights.shape == (2, 4, 4)
    assert np.all(weights.detach().numpy()[1, :, 3] == 0)                  # the padded source token
    # the loss is the mean cross-entropy over the 4 + 2 real targets, padding ignored
    z = logits.detach().numpy()
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    targets = tgt.detach().numpy()[:, 1:]
    real = targets != 0
    expected = -np.take_along_axis(logp, targets[..., None], -1)[..., 0][real].mean()
    assert model.loss(src, None, tgt).item() == pytest.approx(expected, rel=1e-12)
    tokens, attention = model.greedy(src, max_len=6)
    assert tokens.shape[0] == 2 and tokens.shape[1] <= 6
    assert attention.shape == (2, tokens.shape[1], 4)
    maps = model.attention_maps(src, tgt)
    assert [m.shape for m in maps["cross"]] == [(2, 2, 4, 4)] * 2
    assert maps["encoder"][0].shape == (2, 2, 4, 4) and maps["self"][1].shape == (2, 2, 4, 4)
    assert np.all(np.triu(maps["self"][0].detach().numpy(), 1) == 0)
    assert tg.gradcheck(lambda *p: model.loss(src, None, tgt), list(model.parameters()))


def test_transformer_seq2seq_learns_to_reverse():
    """Reversing 4 symbols needs attention to the mirrored position: greedy decoding must get
    every held-out sequence right after a short training."""
    rng = np.random.default_rng(12)
    tg.manual_seed(0)
    model = TransformerSeq2Seq(8, 8, d_model=32, nhead=2, num_encoder_layers=1,
                               num_decoder_layers=1, dim_feedforward=64, dropout=0.0)
    optimizer = tg.optim.Adam(model.parameters(), lr=3e-3)

    def batch(n):
        src = rng.integers(3, 8, (n, 4))
        tgt = np.concatenate([np.ones((n, 1), int), src[:, ::-1], np.full((n, 1), 2)], axis=1)
        return tg.Tensor(src, dtype="int64"), tg.Tensor(tgt, dtype="int64")
    for _ in range(150):
        src, tgt = batch(32)
        loss = model.loss(src, None, tgt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    src, tgt = batch(20)
    tokens, _ = model.greedy(src, max_len=5)
    assert np.array_equal(tokens.detach().numpy(), tgt.detach().numpy()[:, 1:]), loss.item()
