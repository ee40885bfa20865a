"""One numbering: ``%k`` in print(tg.tape(loss)), in the drawings and in the backward errors
is the same k, counted per graph from 0 (not a global counter that grows across graphs)."""
from __future__ import annotations

import re

import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import viz


def printed(root) -> dict:
    """%k -> op name, for the ops (not the leaves) of print(tg.tape(root))."""
    numbers = {}
    for line in str(tg.tape(root)).splitlines():
        match = re.match(r"%(\d+) = (\w+)\(", line)
        if match:
            numbers[int(match.group(1))] = match.group(2)
    return numbers


def drawn(graph) -> dict:
    """%k -> op name, as the verbose boxes of a drawing show them."""
    numbers = {}
    for label in re.findall(r'label="([^"]*)"', graph.source):
        match = re.search(r"tape %(\d+)", label)
        if match:
            numbers[int(match.group(1))] = re.split(r"[ (\\]", label)[0]
    return numbers


def number_of(numbers: dict, op: str) -> int:
    """The first %k of ``op``."""
    return min(k for k, name in numbers.items() if name == op)


def some_other_graph():
    """Ops recorded before the graph under test, so a global counter would be far from 0."""
    z = tg.Tensor([1.0, 2.0], requires_grad=True)
    for _ in range(20):
        z = z * 1.5
    return z


def test_tape_positions_count_per_graph_from_zero():
    some_other_graph()
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x.tanh() * x).sum()
    assert printed(y) == {1: "tanh", 2: "mul", 3: "sum"}     # %0 is the leaf x
    assert tg.tape(y).position(y) == 3


def test_printout_drawing_and_inplace_error_use_the_same_numbers():
    some_other_graph()
    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    W = tg.Tensor([2.0, 3.0], requires_grad=True)
    y = ((x * W).tanh() * 2.0).sum()
    numbers = printed(y)
    assert drawn(viz.draw(y, verbose=True)) == numbers
    assert drawn(viz.draw(y, view="backward", verbose=True)) == numbers
    with tg.no_grad():
        W.mul_(2.0)                       # mul (x * W) saved W at version 0
    with pytest.raises(tg.BackwardError, match=rf"mul \(tape entry %{number_of(numbers, 'mul')}\): its input 1"):
        y.backward()                      # raised after sum and the second mul ran (and freed)


def test_frames_titles_use_the_printout_numbers():
    some_other_graph()
    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    y = (x.sigmoid() * x).sum()
    numbers = printed(y)
    titles = [re.search(r"backward step \d+ of \d+: (\w+) backward \(tape entry %(\d+)\)",
                        frame.source).groups() for frame in viz.frames(y)]
    assert {int(k): name for name, k in titles} == numbers


def test_anomaly_error_uses_the_printout_number():
    some_other_graph()
    x = tg.Tensor([0.0, 1.0], requires_grad=True)
    y = (x.sqrt() * 3.0).sum()            # d sqrt / dx is inf at 0
    numbers = printed(y)
    with tg.detect_anomaly():
        y = (x.sqrt() * 3.0).sum()
        with pytest.raises(tg.AnomalyError, match=rf"sqrt \(tape entry %{number_of(numbers, 'sqrt')}\)"):
            y.backward()


def test_second_backward_names_the_entry_as_the_tape_now_prints_it():
    some_other_graph()
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x.tanh() * x).sum()
    y.backward()
    # freed: the tape shows what it can still reach (sum saved nothing, so it keeps its edge)
    assert printed(y) == {0: "mul", 1: "sum"}
    with pytest.raises(tg.BackwardError, match=r"backward through mul \(tape entry %0\) a second "
                       "time.*retain_graph=True"):
        y.backward()


def test_forgotten_detach_in_truncated_bptt_suggests_detach_not_retain_graph():
    W = tg.Tensor([[0.5]], requires_grad=True)
    h = tg.zeros(1, 1)
    h = (h @ W + 1.0).tanh()
    h.sum().backward()                    # window 1
    loss = (h @ W + 1.0).tanh().sum()     # window 2 reads window 1's h, not detached
    k = number_of(printed(loss), "tanh")             # the freed tanh of window 1 comes first
    with pytest.raises(tg.BackwardError, match=rf"reached tanh \(tape entry %{k}\).*detach") as error:
        loss.backward()
    assert "retain_graph" not in str(error.value)
