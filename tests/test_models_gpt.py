"""models.GPT: the equations re-derived in NumPy, causality, learned and sinusoidal positions,
weight tying, dropout, gradcheck in float64, generation, and that it learns a simple text."""
import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import optim
from tinygrad_rnn.models import GPT, Vocabulary, sinusoidal_positional_encoding

import numpy_transformer_reference as ref

F64 = "float64"
V, CONTEXT, WIDTH, LAYERS, HEADS = 7, 6, 8, 2, 2


def ids(rng, B=2, T=5):
    return rng.integers(0, V, (B, T))


def numpy_gpt(sd, x, positions_table=None, tied=True, activation="relu"):
    """h_0 = E[x] + P[:T]; pre-norm causal blocks; logits = LN_f(h) W^T."""
    T = x.shape[1]
    P = sd["position_embedding.weight"] if positions_table is None else positions_table
    h = sd["token_embedding.weight"][x] + P[:T]
    for i in range(LAYERS):
        h, _ = ref.encoder_layer(sd, f"blocks.{i}.", h, HEADS, norm_first=True,
                                 allowed=ref.causal(T), activation=activation)
    h = ref.layer_norm(h, sd["norm.weight"], sd["norm.bias"])
    return h @ (sd["token_embedding.weight"] if tied else sd["head.weight"]).T


@pytest.mark.parametrize("tied,activation", [(True, "gelu"), (False, "relu")],
                         ids=["tied-gelu", "untied-relu"])
def test_gpt_matches_numpy_equations(tied, activation):
    rng = np.random.default_rng(0)
    model = ref.randomise(GPT(V, CONTEXT, WIDTH, LAYERS, HEADS, tie_weights=tied,
                              activation=activation, dtype=F64), rng)
    names = [n for n, _ in model.named_parameters()]
    assert ("head.weight" in names) != tied
    x = ids(rng)
    logits, state = model(tg.Tensor(x, dtype="int64"))
    assert state is None and logits.shape == (2, 5, V)
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    np.testing.assert_allclose(logits.detach().numpy(), numpy_gpt(sd, x, tied=tied, activation=activation),
                               rtol=1e-10, atol=1e-12)


def test_gpt_sinusoidal_positions_are_a_fixed_table():
    rng = np.random.default_rng(1)
    model = ref.randomise(GPT(V, CONTEXT, WIDTH, LAYERS, HEADS, positions="sinusoidal",
                              activation="relu", dtype=F64), rng)
    assert not any("position" in n for n, _ in model.named_parameters())
    table = sinusoidal_positional_encoding(CONTEXT, WIDTH, dtype=F64).detach().numpy()
    model.load_state_dict({**model.state_dict(), "position_table": table})
    x = ids(rng)
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    np.testing.assert_allclose(model(tg.Tensor(x, dtype="int64"))[0].detach().numpy(),
                               numpy_gpt(sd, x, positions_table=table), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_gpt_is_causal(positions):
    rng = np.random.default_rng(2)
    model = GPT(V, CONTEXT, WIDTH, LAYERS, HEADS, positions=positions, dtype=F64)
    x = ids(rng, 1, CONTEXT)
    before = model(tg.Tensor(x, dtype="int64"))[0].detach().numpy()
    x[0, 3] = (x[0, 3] + 1) % V
    after = model(tg.Tensor(x, dtype="int64"))[0].detach().numpy()
    np.testing.assert_allclose(after[0, :3], before[0, :3], rtol=1e-12)
    assert np.abs(after[0, 3:] - before[0, 3:]).max() > 1e-6
    logits, maps = model(tg.Tensor(x, dtype="int64"), need_weights=True)
    assert len(maps) == LAYERS and maps[0].shape == (1, HEADS, CONTEXT, CONTEXT)
    assert np.all(np.triu(maps[-1].detach().numpy(), 1) == 0)


@pytest.mark.parametrize("positions,tied", [("learned", True), ("sinusoidal", False)])
def test_gpt_gradcheck(positions, tied):
    rng = np.random.default_rng(3)
    model = GPT(5, 4, 4, 1, 2, positions=positions, tie_weights=tied, dtype=F64)
    ref.randomise(model, rng)
    x = tg.Tensor(rng.integers(0, 5, (2, 3)), dtype="int64")
    assert tg.gradcheck(lambda *p: model(x)[0], list(model.parameters()))


def test_gpt_initialisation_follows_gpt2():
    model = GPT(V, 16, 32, 4, 4, dtype=F64)
    std = lambda name: dict(model.named_parameters())[name].detach().numpy().std()  # noqa: E731
    assert 0.015 < std("token_embedding.weight") < 0.025
    assert 0.015 < std("blocks.0.linear1.weight") < 0.025
    assert 0.004 < std("blocks.0.linear2.weight") < 0.01        # 0.02 / sqrt(2 * 4)
    assert np.all(dict(model.named_parameters())["blocks.0.linear1.bias"].detach().numpy() == 0)
    assert np.all(model.norm.weight.detach().numpy() == 1)


def test_gpt_dropout_only_while_training():
    rng = np.random.default_rng(4)
    plain = GPT(V, CONTEXT, WIDTH, LAYERS, HEADS, dtype=F64)
    dropping = GPT(V, CONTEXT, WIDTH, LAYERS, HEADS, dropout=0.3, dtype=F64)
    dropping.load_state_dict(plain.state_dict())
    x = tg.Tensor(ids(rng), dtype="int64")
    assert np.abs(dropping(x)[0].detach().numpy() - plain(x)[0].detach().numpy()).max() > 1e-6
    np.testing.assert_allclose(dropping.eval()(x)[0].detach().numpy(), plain(x)[0].detach().numpy(), rtol=1e-12)


def test_gpt_bad_arguments_and_windows():
    with pytest.raises(ValueError, match="width 10 is not divisible by heads 4"):
        GPT(V, width=10, heads=4)
    with pytest.raises(ValueError, match="positions must be"):
        GPT(V, positions="rotary")
    with pytest.raises(ValueError, match="layers must be positive"):
        GPT(V, layers=0)
    model = GPT(V, CONTEXT, WIDTH, LAYERS, HEADS)
    with pytest.raises(ValueError, match=r"window of 7 symbols is longer than the context \(6\)"):
        model(tg.zeros(1, 7, dtype="int64"))


def test_gpt_learns_and_generates():
    """Next-symbol prediction on a repeating text: the loss falls far below log(vocab), and
    the greedy continuation carries the pattern on past the context."""
    text = "abcd" * 40
    vocab = Vocabulary.from_text(text)
    tg.manual_seed(0)
    model = GPT(len(vocab), context=8, width=16, layers=1, heads=2)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    data = np.array(vocab.encode(text))
    starts = np.arange(0, len(data) - 9, 3)
    x = tg.Tensor(np.stack([data[s:s + 8] for s in starts]), dtype="int64")
    y = tg.Tensor(np.stack([data[s + 1:s + 9] for s in starts]), dtype="int64")
    for _ in range(60):
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.1
    assert model.generate(vocab, "ab", 20, temperature=0) == "cd" + "abcd" * 4 + "ab"
    assert model.generate(vocab, "abcdabcdabc", 5, temperature=0) == "dabcd"   # prime > context
    a, b = (model.generate(vocab, "a", 30, seed=1) for _ in range(2))
    assert a == b and model.training


def test_generate_reads_only_the_last_window_symbols():
    """window=w: each symbol is drawn from the last w symbols only (what the CLI passes for a
    model trained on windows shorter than its context); outside [1, context] it is refused."""
    vocab = Vocabulary.from_text("abcdxyz")
    tg.manual_seed(0)
    model = GPT(len(vocab), context=8, width=8, layers=1, heads=2)
    same = {model.generate(vocab, prime, 6, temperature=0, window=2)
            for prime in ("xyzab", "zzzzzab", "ab")}
    assert len(same) == 1
    assert len({model.generate(vocab, prime, 6, temperature=0) for prime in ("xyzab", "zab")}) == 2
    for bad in (0, 9):
        with pytest.raises(ValueError, match=r"window must be in \[1, context=8\]"):
            model.generate(vocab, "ab", 3, window=bad)


def test_gpt_runs_on_each_device(device):
    model = GPT(V, CONTEXT, WIDTH, LAYERS, HEADS).to(device)
    x = tg.Tensor(np.random.default_rng(5).integers(0, V, (2, 4)), dtype="int64", device=device)
    logits, _ = model(x)
    logits.sum().backward()
    assert logits.device.startswith(device)
    assert model.token_embedding.weight.grad.device.startswith(device)
