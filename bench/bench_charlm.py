"""Char-LM training step: ms per step of tinygrad_rnn's recurrent layers next to a hand-written
NumPy step (bench/numpy_charlm.py) and PyTorch's nn.LSTM / nn.GRU / nn.RNN, all in one process.

The step: vocabulary 65, one-hot (T, B, 65) float32 input, one recurrent layer of width H, a
linear read-out to 65 logits, mean cross-entropy over all B*T positions, forward + backward +
SGD update. Sizes (B, T, H): (32, 32, 128), (32, 64, 256), (64, 64, 512); cells LSTM, GRU, RNN
(tanh), each fused (one tape entry per sweep) and composed (``fused=False``: the cell's ~12 core
ops per time step). Memory: the peak RSS (``ru_maxrss``) of a fresh process that builds one
implementation and runs 50 consecutive training steps, next to the NumPy step's.

    python bench/bench_charlm.py                      # everything (several minutes on 2 cores)
    python bench/bench_charlm.py --sizes 64,64,512 --cells lstm --repeats 7

All implementations start from the same weights (the spread of their first-step losses is the
last column and must be ~1e-7), and the timings are interleaved round-robin, so the ratios of
one run are comparable even on a shared machine; compare ratios, not absolute times across
runs. At its turn an implementation sleeps briefly (``--pause``: OpenMP and OpenBLAS worker
threads spin after a call and would otherwise slow whichever implementation runs next), then
runs ``--consecutive`` steps in a row (default 4) of which the first is not counted: a training
loop's steady state, where each step finds the previous step's code and arrays in cache. With
``--consecutive 1`` every counted step starts cold after the pause (the caches hold the other
implementation's arrays, and a core that slept starts cold), and a cold start slows Python's
own work about 3x (at (1, 32, 8), where a step is nearly all Python: fused 0.32 -> 0.91 ms,
NumPy 0.18 -> 0.47 ms after a 50 ms sleep), so the Python-heavier implementation loses more: at
(32, 32, 128) the fused RNN ran 1.09-1.14x the NumPy step that way and 0.94-1.03x in steady
state (a 2-core Xeon, 2026-12-07). On a busy 2-core machine, 2-thread BLAS calls slow down
10-20x and no number means anything: run it when the CPUs are idle (``--stat min`` then picks
the least disturbed of the repeats), or compare single-threaded (``OPENBLAS_NUM_THREADS=1 ...
--threads 1``), which contention distorts less.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tinygrad_rnn as tg  # noqa: E402
import tinygrad_rnn.functional as F  # noqa: E402
from tinygrad_rnn.models import GRU, LSTM, RNN  # noqa: E402
from tinygrad_rnn.nn import Linear  # noqa: E402
from numpy_charlm import NumpyCharLM  # noqa: E402

VOCAB = 65
LR = 0.1
SIZES = [(32, 32, 128), (32, 64, 256), (64, 64, 512)]
LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def batch(B: int, T: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, VOCAB, size=(T + 1, B))
    x = np.eye(VOCAB, dtype=np.float32)[ids[:-1]]            # (T, B, V) one-hot
    return x, ids[1:]


class TinyStep:
    """The step with tinygrad_rnn: layer -> Linear -> cross_entropy -> backward -> SGD."""

    def __init__(self, cell: str, H: int, fused: bool):
        tg.manual_seed(0)
        self.rnn = LAYERS[cell](VOCAB, H, fused=fused)
        self.out = Linear(H, VOCAB)
        self.params = list(self.rnn.parameters()) + list(self.out.parameters())

    def state(self) -> dict:
        d = {k: v.numpy() for k, v in self.rnn.state_dict().items()}
        return {k[:-3] if k.endswith("_l0") else k: v for k, v in d.items()} | {
            "out_weight": self.out.weight.detach().numpy(), "out_bias": self.out.bias.detach().numpy()}

    def __call__(self, x, y) -> float:
        T, B, _ = x.shape
        out, _ = self.rnn(tg.from_numpy(x))   # shares x, as the torch step's from_numpy
        logits = self.out(out).reshape(T * B, VOCAB)
        loss = F.cross_entropy(logits, y.reshape(-1))
        loss.backward()
        with tg.no_grad():
            for p in self.params:
                p.data -= LR * p.grad.data
                p.grad = None
        return loss.item()


class TorchStep:
    def __init__(self, torch, cell: str, H: int, state: dict):
        self.torch = torch
        layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
        self.rnn = layer(VOCAB, H)
        self.out = torch.nn.Linear(H, VOCAB)
        with torch.no_grad():
            for k, v in self.rnn.named_parameters():
                v.copy_(torch.from_numpy(state[k[:-3]]))
            self.out.weight.copy_(torch.from_numpy(state["out_weight"]))
            self.out.bias.copy_(torch.from_numpy(state["out_bias"]))
        self.params = list(self.rnn.parameters()) + list(self.out.parameters())

    def __call__(self, x, y) -> float:
        torch = self.torch
        T, B, _ = x.shape
        out, _ = self.rnn(torch.from_numpy(x))
        logits = self.out(out).reshape(T * B, VOCAB)
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y.reshape(-1)))
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p -= LR * p.grad
                p.grad = None
        return loss.item()


def timed(fn, x, y, pause: float = 0.0) -> float:
    if pause:
        time.sleep(pause)      # let the previous implementation's worker threads go idle
    start = time.perf_counter()
    fn(x, y)
    return (time.perf_counter() - start) * 1e3


MEMORY_STEPS = 50


def make_impl(name: str, cell: str, H: int, torch=None):
    """One implementation's step function, all from the same weights (the fused layer's)."""
    tiny = TinyStep(cell, H, fused=name != "composed")
    if name in ("fused", "composed"):
        return tiny
    state = tiny.state()
    if name == "torch":
        return TorchStep(torch, cell, H, state)
    ref = NumpyCharLM(cell, VOCAB, H)
    ref.load(state)
    return lambda a, b: ref.step(a, b, LR)


def child_peak_rss(name: str, cell: str, B: int, T: int, H: int, threads: int) -> None:
    """In a fresh process: build one implementation, run MEMORY_STEPS training steps, print the
    peak RSS in MB."""
    torch = None
    if name == "torch":
        import torch
        torch.set_num_threads(threads)
    x, y = batch(B, T)
    fn = make_impl(name, cell, H, torch)
    for _ in range(MEMORY_STEPS):
        fn(x, y)
    print(peak_rss_of_this_process())


def peak_rss_of_this_process() -> float:
    """MB. Linux's VmHWM starts afresh at exec; ru_maxrss would start from the parent's peak at
    fork (so a child of a process that imported torch would report torch's memory)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024    # KB on Linux


def peak_rss_mb(name: str, cell: str, B: int, T: int, H: int, threads: int) -> float:
    args = [sys.executable, os.path.abspath(__file__), "--child", name, "--cells", cell,
            "--sizes", f"{B},{T},{H}", "--threads", str(threads)]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def run(sizes, cells, repeats: int, composed_cells, memory: bool, stat: str = "median",
        use_torch: bool = True, pause: float = 0.2, threads: int = 2, min_seconds: float = 1.0,
        consecutive: int = 4):
    torch = None
    if use_torch:
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError:
            torch = None
    rows = []
    for B, T, H in sizes:
        x, y = batch(B, T)
        for cell in cells:
            names = ["fused"] + (["composed"] if cell in composed_cells else []) + ["numpy"] + (
                ["torch"] if torch is not None else [])
            impls = {name: make_impl(name, cell, H, torch) for name in names}
            first = {name: fn(x, y) for name, fn in impls.items()}   # same weights: same loss
            spread = max(first.values()) - min(first.values())
            times = {name: [] for name in impls}
            # short steps are preempted more often on a shared machine than they run: take
            # more samples of them, so that --stat min finds undisturbed ones
            slowest = max(timed(fn, x, y) for fn in impls.values()) / 1e3
            for _ in range(max(repeats, min(100, int(min_seconds / slowest)))):  # interleaved
                for name, fn in impls.items():
                    turn = [timed(fn, x, y, pause)] + [timed(fn, x, y) for _ in
                                                       range(consecutive - 1)]
                    # a turn's first step starts with the previous implementation's arrays in
                    # cache and its threads just idled; training runs step after step
                    times[name].extend(turn[1:] if consecutive > 1 else turn)
            pick = min if stat == "min" else statistics.median
            ms = {name: pick(v) for name, v in times.items()}
            mem = {}
            if memory:
                for name in impls:
                    mem[name] = peak_rss_mb(name, cell, B, T, H, threads)
            rows.append((cell, (B, T, H), ms, mem, spread))
            print(_row(rows[-1]), flush=True)
    return rows


HEADER = ("cell  B,T,H         fused ms  composed ms  numpy ms  torch ms | fused/np  fused/torch"
          "  composed/np | peak RSS MB fused  composed  numpy  torch  fused/np  composed/np"
          " | loss spread")


def _row(row) -> str:
    cell, (B, T, H), ms, mem, spread = row
    f = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    r = lambda a, b: "-" if a is None or b is None else f"{a / b:.2f}"  # noqa: E731
    return (f"{cell:5s} {B:2d},{T:2d},{H:3d}  {f(ms.get('fused')):>9s} {f(ms.get('composed')):>12s} "
            f"{f(ms.get('numpy')):>9s} {f(ms.get('torch')):>9s} | {r(ms.get('fused'), ms.get('numpy')):>8s} "
            f"{r(ms.get('fused'), ms.get('torch')):>12s} {r(ms.get('composed'), ms.get('numpy')):>12s} | "
            f"{f(mem.get('fused')):>17s} {f(mem.get('composed')):>9s} {f(mem.get('numpy')):>6s} "
            f"{f(mem.get('torch')):>6s} {r(mem.get('fused'), mem.get('numpy')):>9s} "
            f"{r(mem.get('composed'), mem.get('numpy')):>12s} | {spread:.1e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="all",
                        help="'all' or B,T,H triples separated by ';' (e.g. '64,64,512')")
    parser.add_argument("--cells", default="lstm,gru,rnn")
    parser.add_argument("--composed", default="lstm,gru,rnn",
                        help="cells also timed with fused=False (comma-separated, or 'none')")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="summary of the repeated timings (min: the least disturbed run)")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--threads", type=int, default=2,
                        help="PyTorch's threads; set OPENBLAS_NUM_THREADS to the same for NumPy")
    parser.add_argument("--pause", type=float, default=0.2,
                        help="seconds of sleep before each implementation's turn, so that one "
                             "library's spinning worker threads (OpenMP, OpenBLAS) do not slow "
                             "the next")
    parser.add_argument("--consecutive", type=int, default=4,
                        help="steps an implementation runs in a row at its turn (after one "
                             "pause); with more than 1 the turn's first step is not counted: "
                             "the steady state of a training loop, not a cold start")
    parser.add_argument("--min-seconds", type=float, default=1.0,
                        help="repeat short steps until the slowest has had this long (max 100)")
    parser.add_argument("--child", help=argparse.SUPPRESS)   # one implementation's peak RSS
    args = parser.parse_args(argv)
    sizes = SIZES if args.sizes == "all" else [
        tuple(int(v) for v in part.split(",")) for part in args.sizes.split(";")]
    cells = [c for c in args.cells.split(",") if c]
    if args.child:
        return child_peak_rss(args.child, cells[0], *sizes[0], args.threads)
    composed = [] if args.composed == "none" else args.composed.split(",")
    turns = "" if args.consecutive <= 1 else (
        f", {args.consecutive} steps a turn (the first not counted)")
    print(f"tinygrad_rnn char-LM step, float32, vocab {VOCAB}, {args.stat} of >= {args.repeats} "
          f"interleaved runs (up to 100 for steps shorter than {args.min_seconds:g} s / repeats)"
          f"{turns}")
    print(HEADER)
    run(sizes, cells, args.repeats, composed, not args.no_memory, args.stat, not args.no_torch,
        args.pause, args.threads, args.min_seconds, max(1, args.consecutive))


if __name__ == "__main__":
    main()
