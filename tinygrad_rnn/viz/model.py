"""The graph behind a drawing: every tensor reachable from the outputs, grouped into time steps.

One iterative walk (``tape.graph_tensors``) and one pass over the tape entries in order, so
building it is linear in the size of the graph (plus a sort by tape position). Nothing here
touches the tensors: it only reads them.
"""
from __future__ import annotations

from ..tape import Tape, graph_tensors
from ..tensor import Tensor
from .cuts import cut_info


def step_of(scope: str | None) -> str | None:
    """The time-step cluster of a scope: its first component (``"t=3/gates"`` -> ``"t=3"``)."""
    if not scope:
        return None
    return scope.split("/", 1)[0]


class Step:
    """One time step (one cluster): its tape entries, in order, and the leaves only it reads."""
    __slots__ = ("name", "entries", "leaves", "outputs", "carried", "signature")

    def __init__(self, name: str):
        self.name = name
        self.entries: list[Tensor] = []   # tensors produced in the step, by tape position
        self.leaves: list[Tensor] = []    # leaves read by this step only
        self.outputs: list[Tensor] = []   # tensors produced here and read outside (e.g. h_t, y_t)
        self.carried: list[Tensor] = []   # the recurrent state: what flows into a later step
        self.signature: tuple = ()

    def states(self) -> list[Tensor]:
        """The recurrent state (h_t; h_t and c_t for an LSTM), in tape order."""
        return self.carried

    def state(self) -> Tensor | None:
        """The step's hidden state h_t: the carried tensor named ``h...`` if there is one, else
        the last one carried into a later step."""
        for t in self.carried:
            if t.name and t.name.startswith("h"):
                return t
        return self.carried[-1] if self.carried else None


class Graph:
    """What a drawing needs to know about the graph that produced ``outputs``."""

    def __init__(self, outputs):
        outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
        for t in outputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"draw: expected a Tensor (or a list of them), got {type(t).__name__}")
        self.outputs = outputs
        self.output_ids = {id(t) for t in outputs}
        tensors = graph_tensors(outputs)
        self.entries = sorted((t for t in tensors if t._node is not None), key=_seq)
        self.freed = [t for t in self.entries if t._node.inputs is None]
        # fused sweeps' per-step state gradients: step name -> [(state, norm)] (trace_backward)
        self.sweep_states: dict = {}

        # Leaves in order of first use; which steps read each; where (for rolling).
        step_name: dict[int, str | None] = {}
        first_use: dict[int, tuple] = {}
        readers: dict[int, set] = {}
        leaves: list[Tensor] = []
        steps: dict[str, Step] = {}
        position: dict[int, tuple] = {}
        outgoing: dict[int, Tensor] = {}
        carried: dict[int, Tensor] = {}        # read by another time step: the recurrent state
        for t in self.entries:
            node = t._node
            name = step_of(node.scope)
            step_name[id(t)] = name
            if name is not None:
                step = steps.get(name)
                if step is None:
                    step = steps[name] = Step(name)
                position[id(t)] = ("op", len(step.entries))
                step.entries.append(t)
            if node.inputs is None:
                continue
            for k, x in enumerate(node.inputs):
                if not isinstance(x, Tensor):
                    continue
                if x._node is None:
                    key = id(x)
                    if key not in first_use:
                        first_use[key] = (name, position.get(id(t), ("op", -1))[1], k)
                        readers[key] = {name}
                        leaves.append(x)
                    else:
                        readers[key].add(name)
                elif step_name.get(id(x)) != name and step_name.get(id(x)) is not None:
                    outgoing[id(x)] = x
                    if name is not None:
                        carried[id(x)] = x
        for t in outputs:                      # an output that is a leaf, or read by nobody
            if t._node is None and id(t) not in first_use:
                first_use[id(t)] = (None, -1, 0)
                readers[id(t)] = {None}
                leaves.append(t)
            elif t._node is not None and step_name.get(id(t)) is not None:
                outgoing[id(t)] = t
        self.leaves = leaves

        for x in leaves:
            seen = readers[id(x)]
            name = next(iter(seen)) if len(seen) == 1 else None
            step_name[id(x)] = name
            if name is not None:
                _, op_index, k = first_use[id(x)]
                position[id(x)] = ("leaf", op_index, k)
                steps[name].leaves.append(x)

        for step in steps.values():
            step.signature = tuple(t._node.name for t in step.entries)
        for t in self.entries:                # outgoing tensors, in tape order
            if id(t) in outgoing:
                steps[step_name[id(t)]].outputs.append(t)
            if id(t) in carried:
                steps[step_name[id(t)]].carried.append(t)

        self.steps = list(steps.values())      # in order of their first tape entry
        _last_states(self.steps)
        self.step_name = step_name             # id(tensor) -> its step, or None
        self.position = position               # id(tensor) -> where it sits inside its step
        # the tape printout's numbers (%k), so a drawing and print(tg.tape(...)) agree
        self.index = Tape(outputs).positions
        self.cuts = {id(x): info for x in leaves for info in (cut_info(x),) if info is not None}

    @property
    def tensors(self) -> list[Tensor]:
        return self.leaves + self.entries

    @property
    def intact(self) -> bool:
        """True when no tape entry was freed by a backward (so gradients can be recomputed)."""
        return not self.freed

    def kind(self, t: Tensor) -> str:
        """``"output"``, ``"intermediate"``, ``"parameter"`` (leaf requiring grad), ``"cut"`` or
        ``"input"`` (leaf not requiring grad)."""
        if t._node is not None:
            return "output" if id(t) in self.output_ids else "intermediate"
        if id(t) in self.cuts:
            return "cut"
        return "parameter" if t.requires_grad else "input"


def _last_states(steps: list) -> None:
    """The last step carries nothing further: its state is what sits where the step before
    kept its state (same ops in the same order), else every tensor it hands outside."""
    for before, step in zip(steps, steps[1:]):
        if step.carried or not before.carried:
            continue
        if step.signature == before.signature:
            place = {id(t): k for k, t in enumerate(before.entries)}
            step.carried = [step.entries[place[id(t)]] for t in before.carried]
        else:
            step.carried = list(step.outputs)
    if len(steps) == 1:
        steps[0].carried = list(steps[0].outputs)


def _seq(t: Tensor) -> int:
    return t._node.seq
