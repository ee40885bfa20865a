"""The command line's habits: graph refuses what dot cannot lay out in time (and stops dot
when it runs too long), BLAS threads are chosen and said, $TINYGRAD_RNN_DEVICE is obeyed.
Real subprocesses and a real ``dot``."""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

import pytest

import tinygrad_rnn as tg


def cli(*args, env=None, timeout=300):
    environment = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "tinygrad_rnn", *args], capture_output=True,
                          text=True, timeout=timeout, env=environment)


def one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_graph_too_large_for_dot_is_refused_before_dot_runs_with_cli_flags(tmp_path):
    # 50 unrolled LSTM steps: over 700 boxes (1,450 before an op and its output were one box),
    # which kept dot busy for over 12 minutes
    message = one_line_error(cli("graph", "--cell", "lstm", "--steps", "50", "--out", str(tmp_path)))
    boxes = int(re.search(r"has ([\d,]+) boxes, more than --max-nodes 400", message)[1].replace(",", ""))
    assert boxes > 700
    assert "--rolled" in message and f"--max-nodes {boxes} " in message and "--fused" in message
    assert "max_nodes=" not in message                 # CLI spelling, not Python's
    assert list(tmp_path.iterdir()) == []              # nothing drawn, dot never started


def test_graph_rolled_draws_the_same_50_steps(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    result = cli("graph", "--cell", "lstm", "--steps", "50", "--rolled", "--view", "forward",
                 "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "graph_forward.svg").stat().st_size > 0


def test_graph_stops_dot_at_the_timeout_and_says_so(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    # 20 steps (about 580 boxes) take dot tens of seconds; allowed through, then stopped
    message = one_line_error(cli("graph", "--cell", "lstm", "--steps", "20", "--view", "forward",
                                 "--max-nodes", "5000", "--dot-timeout", "0.5", "--out", str(tmp_path)))
    assert "within --dot-timeout 0.5 s" in message and "graph_forward.dot" in message
    assert (tmp_path / "graph_forward.dot").read_text().startswith("digraph")


def test_cli_caps_blas_threads_and_says_what_it_chose():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from tinygrad_rnn.cli.runtime import prepare_device

    def blas_threads():
        return {pool["num_threads"] for pool in threadpoolctl.threadpool_info()
                if pool["user_api"] == "blas"}
    before = blas_threads()
    try:
        args = argparse.Namespace(device=None, threads=None, seed=0)
        assert prepare_device(args) == "cpu"
        assert "1 BLAS thread (default; --threads N to change)" in args.chosen
        assert blas_threads() == {1}
        args = argparse.Namespace(device="cpu", threads=2, seed=0)
        prepare_device(args)
        assert "2 BLAS threads (--threads)" in args.chosen and blas_threads() == {2}
    finally:
        threadpoolctl.threadpool_limits(limits=max(before), user_api="blas")
        tg.set_default_device("cpu")


def test_train_header_names_device_and_threads(tmp_path):
    result = cli("train", "charlm", "--steps", "1", "--hidden", "8", "--seq-len", "8",
                 "--batch", "2", "--corpus", "sonnets", "--eval-every", "0", "--sample-every", "0",
                 "--threads", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "on cpu (default), 1 BLAS thread (--threads)" in result.stdout


def test_tinygrad_rnn_device_environment_variable_reaches_the_cli(tmp_path):
    if tg.cuda_available():
        pytest.skip("a GPU is present: CUDA would work, so the refusal cannot be seen")
    message = one_line_error(cli("gradcheck", "--ops-only", "--out", str(tmp_path),
                                 env={"TINYGRAD_RNN_DEVICE": "cuda"}))
    assert "CUDA was requested" in message
    # --device wins over the variable
    result = cli("gradcheck", "--ops-only", "--device", "cpu", "--out", str(tmp_path),
                 env={"TINYGRAD_RNN_DEVICE": "cuda"})
    assert result.returncode == 0, result.stderr
