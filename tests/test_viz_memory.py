"""viz.draw(loss, memory=prof): the bytes each time step saved for backward, from tg.profile's
memory_by_step(), on the step clusters (both views) and on a fused sweep's box; the numbers on
the picture are read back from the DOT text and compared with the profile's."""
from __future__ import annotations

import re

import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.models import LSTM

UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def _profiled_lstm(fused: bool, T: int = 3, **config):
    tg.manual_seed(0)
    layer = LSTM(3, 4, fused=fused, **config)
    x = tg.randn(T, 2, 3)
    with tg.profile() as prof:
        out, _ = layer(x)
        loss = (out * out).sum()
    return loss, prof


def _cluster_labels(source: str) -> dict:
    """{cluster name: its label text} from the DOT source viz writes."""
    return dict(re.findall(r'subgraph "cluster_([^"]+)" \{\s*graph \[label="([^"]*)"', source))


def _bytes(text: str) -> list[float]:
    """Every size written after 'saved for backward', in bytes."""
    found = re.search(r"saved for backward (?:per step )?([^\\\"]*)", text)
    assert found, text
    sizes = []
    for part in found.group(1).split(", "):
        number, unit = part.split()
        sizes.append(float(number) * UNITS[unit])
    return sizes


def test_each_step_cluster_shows_the_bytes_memory_by_step_gives_in_both_views():
    loss, prof = _profiled_lstm(fused=False)
    memory = prof.memory_by_step()
    steps = [f"t={t}" for t in range(3)]
    assert all(memory[s] > 0 for s in steps) and memory["t=0"] != memory["t=1"]
    for view in ("forward", "backward"):
        source = viz.draw(loss, view=view, memory=prof).source
        labels = _cluster_labels(source)
        assert sorted(labels) == steps
        for step in steps:
            assert _bytes(labels[step]) == [memory[step]], (view, step, labels[step])
        assert source == viz.draw(loss, view=view, memory=memory).source   # the dict: the same
    assert "saved for backward" not in viz.draw(loss).source                 # only when asked


def test_a_cluster_sums_the_scopes_of_its_step_and_large_sizes_read_back_within_rounding():
    """Two layers: cluster t=0 holds t=0/l0 and t=0/l1, and shows their sum (KB here)."""
    tg.manual_seed(0)
    layer = LSTM(3, 32, num_layers=2, fused=False)
    with tg.profile() as prof:
        out, _ = layer(tg.randn(3, 8, 3))
    memory = prof.memory_by_step()
    labels = _cluster_labels(viz.draw(out.sum(), memory=prof).source)
    for t in range(3):
        expected = memory[f"t={t}/l0"] + memory[f"t={t}/l1"]
        (shown,) = _bytes(labels[f"t={t}"])
        assert expected >= 1024 and abs(shown - expected) <= 0.005 * 1024   # "12.34 KB"


def test_a_fused_sweep_box_lists_the_bytes_of_each_of_its_steps():
    loss, prof = _profiled_lstm(fused=True)
    memory = prof.memory_by_step()
    source = viz.draw(loss, memory=prof).source
    (box,) = [line for line in source.splitlines() if "lstm sweep" in line]
    assert _bytes(box) == [memory[f"t={t}"] for t in range(3)]


def test_rolled_steps_list_each_steps_bytes():
    loss, prof = _profiled_lstm(fused=False, T=4)
    memory = prof.memory_by_step()
    labels = _cluster_labels(viz.draw(loss, rolled=True, memory=prof).source)
    rolled = [label for label in labels.values() if " x " in label]
    assert rolled, labels
    shown = [size for label in labels.values() for size in _bytes(label)]
    assert shown == [memory[f"t={t}"] for t in range(4)]


def test_memory_must_be_a_profile_or_its_dict():
    loss, _ = _profiled_lstm(fused=False)
    with pytest.raises(TypeError, match="draw: memory must be a tg.profile or its memory_by_step"):
        viz.draw(loss, memory=[1, 2, 3])
