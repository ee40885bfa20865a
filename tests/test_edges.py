"""Graph edges that keep no values (tinygrad_rnn/edges.py): a large intermediate that only
ops saving nothing read is freed once the user drops it, while gradients, hooks,
retain_grad, in-place rules and second backwards work as before; small tensors are kept."""
import gc
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.edges import SHADOW_MIN_ELEMENTS, Shadow
from tinygrad_rnn.viz.labels import values_text

BIG = (64, SHADOW_MIN_ELEMENTS // 64 * 2)      # twice the threshold


def _leaf(shape, seed=0):
    return tg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_an_intermediate_read_only_by_an_add_is_freed_and_the_gradient_is_right():
    x = _leaf(BIG)
    a = x * 2.0                       # mul's output; add (saves nothing) reads it
    seen = weakref.ref(a)
    b = a + 1.0
    del a
    gc.collect()
    assert seen() is None             # the add's edge did not keep its values alive
    assert type(b._node.inputs[0]) is Shadow and b._node.inputs[0].shape == BIG
    (b * b).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * (2 * x.detach().numpy() + 1), rtol=1e-12)


def test_small_intermediates_and_live_ones_stay_the_tensor_itself():
    x = _leaf((2, 3))
    a = x * 2.0
    seen = weakref.ref(a)
    b = a + 1.0
    del a
    gc.collect()
    assert seen() is not None         # small: kept, so drawings can show its values
    y = _leaf(BIG)
    c = y * 2.0
    d = c + 1.0
    assert d._node.inputs[0] is c     # alive: the edge gives back the tensor itself
    c.retain_grad()
    hooked = []
    c.register_hook(lambda g: hooked.append(float(g.sum())))
    d.sum().backward()
    assert c.grad is not None and hooked == [pytest.approx(float(np.prod(BIG)))]


@pytest.mark.parametrize("shape", [(2, 2), BIG])
def test_in_place_after_recording_gives_the_same_gradients_small_or_large(shape):
    x = _leaf(shape)
    a = x * 2.0
    b = a + 1.0                       # read before the in-place op
    a.mul_(3.0)                       # a = 6x from here on
    (b.sum() + a.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(shape, 8.0))


def test_second_backward_through_entries_that_saved_nothing():
    x = _leaf(BIG)
    y = (x + 1.0).reshape(-1).sum()   # add and reshape save nothing; the sum neither
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(BIG, 2.0))


def test_composed_lstm_keeps_what_torch_keeps_not_every_intermediate():
    from tinygrad_rnn.models import LSTM
    B, T, H = 32, 6, 128
    layer = LSTM(8, H, fused=False)
    x = tg.tensor(np.random.default_rng(1).standard_normal((T, B, 8)), dtype="float32")
    out, _ = layer(x)
    gc.collect()
    alive = [o for o in gc.get_objects() if type(o) is tg.Tensor and o.shape == (B, 4 * H)]
    assert len(alive) <= T            # the gates' pre-activations are freed (were 3 a step)
    out.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


def test_a_drawing_says_when_values_were_not_kept():
    x = _leaf(BIG)
    b = (x * 2.0) + 1.0
    assert values_text(b._node.inputs[0]) == ["values not kept"]


def test_a_hook_survives_dropping_the_tensor_as_in_torch_and_names_follow():
    x = _leaf(BIG)
    a = x * 2.0
    b = (a + 1.0).sum()
    hooked = []
    a.register_hook(lambda g: hooked.append(g.shape))
    kept = weakref.ref(a)
    c = x * 3.0
    d = (c + 1.0).sum()
    c.named("c_t")                    # named after the add read it
    del a, c
    gc.collect()
    assert kept() is not None         # held by its hook's pin
    (b + d).backward()
    assert hooked == [BIG]
    assert d._node.inputs[0]._node.inputs[0].name == "c_t"


def test_reading_a_freed_tensors_values_raises_instead_of_giving_zeros():
    x = _leaf(BIG)
    loss = ((x * 2.0).named("doubled") + 1.0).sum()
    gc.collect()
    freed = [t for t in tg.graph_tensors(loss) if t.name == "doubled"][0]
    assert type(freed) is Shadow and freed.shape == BIG
    for read in (freed.numpy, freed.tolist, freed.detach, lambda: np.asarray(freed)):
        with pytest.raises(RuntimeError, match=r"values of this \(64, 128\) tensor were not kept"):
            read()


@pytest.mark.parametrize("shape", [(2, 3), BIG])
@pytest.mark.parametrize("drop", [False, True])
def test_detach_in_place_cuts_the_history_whether_or_not_the_tensor_is_still_held(shape, drop):
    x = _leaf(shape)
    a = x * 2.0
    b = a + 1.0
    a.detach_()
    if drop:
        del a
        gc.collect()
    b.sum().backward()
    assert x.grad is None             # the same for small and large, held or dropped


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_a_stand_in_holds_no_memory_and_cannot_be_written(device, dtype):
    """What a freed edge keeps: the shape, dtype and device, one zero behind zero strides."""
    from tinygrad_rnn.backends import backend_for
    original = tg.zeros(3, 70, 40, device=device).to(dtype).data
    backend = backend_for(original)
    stand_in = backend.stand_in(original)
    assert stand_in.shape == original.shape and stand_in.dtype == original.dtype
    assert backend.device_of(stand_in) == backend.device_of(original)
    assert set(stand_in.strides) == {0}
    assert not backend.to_numpy(stand_in).any()
    if hasattr(stand_in.flags, "writeable"):     # NumPy marks it read-only; CuPy has no flag
        assert not stand_in.flags.writeable
        with pytest.raises(ValueError):
            stand_in[0, 0, 0] = 1
