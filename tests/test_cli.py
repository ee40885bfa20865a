"""The command-line tool: real subprocesses, checking exit codes and the one-line errors."""
import subprocess
import sys

import pytest


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tinygrad_rnn", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_help_lists_the_subcommands():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("train", "sample", "gradcheck"):
        assert command in result.stdout


def test_gradcheck_command_prints_a_passing_table(tmp_path):
    result = cli("gradcheck", "--ops-only", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "tanh" in result.stdout and "FAIL" not in result.stdout
    assert result.stdout.strip().splitlines()[-1].endswith("passed, 0 failed")


@pytest.mark.parametrize("args, message", [
    (("gradcheck", "--device", "tpu"), "unknown device 'tpu'"),
    (("sample", "no/such.ckpt"), "no checkpoint at 'no/such.ckpt'"),
])
def test_bad_input_gives_one_line_and_a_nonzero_exit(args, message):
    result = cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_cuda_without_a_gpu_is_one_line():
    import tinygrad_rnn as tg
    if tg.cuda_available():
        pytest.skip("a GPU is usable here")
    result = cli("gradcheck", "--device", "cuda")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "CuPy" in result.stderr or "GPU" in result.stderr


@pytest.mark.slow
def test_train_sample_resume_and_graph(tmp_path):
    out = str(tmp_path)
    common = ("--out", out, "--hidden", "32", "--seq-len", "16", "--batch", "8",
              "--corpus", "sonnets", "--eval-every", "20", "--sample-every", "20",
              "--sample-length", "40")
    first = cli("train", "charlm", "--steps", "20", *common)
    assert first.returncode == 0, first.stderr
    assert "validation" in first.stdout + first.stderr and "sample at step 20" in first.stdout + first.stderr
    checkpoint = tmp_path / "charlm.ckpt"
    assert checkpoint.exists()
    resumed = cli("train", "charlm", "--steps", "25", "--resume", str(checkpoint), *common)
    assert resumed.returncode == 0, resumed.stderr
    assert "trained 5 steps" in resumed.stdout
    sampled = cli("sample", str(checkpoint), "--prime", "Thy", "--length", "30", "--top-k", "5")
    assert sampled.returncode == 0 and sampled.stdout.startswith("Thy")
    drawn = cli("graph", "--checkpoint", str(checkpoint), "--steps", "3", "--out", out)
    assert drawn.returncode == 0, drawn.stderr
    assert (tmp_path / "graph_forward.svg").exists() or (tmp_path / "graph_forward.dot").exists()


def test_checkpoint_errors_are_one_line(tmp_path):
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"not a checkpoint at all")
    result = cli("sample", str(broken))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "broken.ckpt" in result.stderr
    import tinygrad_rnn as tg
    other = tmp_path / "other.ckpt"
    tg.save({"kind": "something-else", "model": {}}, str(other))
    result = cli("sample", str(other))
    assert result.returncode == 2 and "not a charlm model" in result.stderr


@pytest.mark.parametrize("args, message", [
    (("train", "charlm", "--corpus", "no_such_file.txt"), "no corpus or file named"),
    (("train", "charlm", "--seq-len", "999999"), "--seq-len 999999 is too long"),
    (("train", "charlm", "--hidden", "0"), "--hidden must be positive"),
])
def test_train_rejects_bad_input_in_one_line(args, message, tmp_path):
    result = cli(*args, "--out", str(tmp_path))
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_cell_is_refused_by_the_parser(tmp_path):
    result = cli("train", "charlm", "--cell", "transformer", "--out", str(tmp_path))
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_gradflow_prints_the_vanishing_gradient_table(tmp_path):
    result = cli("gradflow", "--steps", "20", "--hidden", "16", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "RNN" in result.stdout and "LSTM" in result.stdout and "GRU" in result.stdout


@pytest.mark.slow
def test_short_charlm_run_learns_beyond_the_unigram_baseline(tmp_path):
    import math
    from collections import Counter

    from tinygrad_rnn import data
    from tinygrad_rnn.cli import build_parser
    from tinygrad_rnn.cli.charlm import fit_charlm
    text = data.load_text("tinyshakespeare")
    cut = int(len(text) * 0.9)
    counts, total = Counter(text[:cut]), cut
    unigram = -sum(math.log(counts[c] / total) for c in text[cut:cut + 50_000]) / 50_000
    args = build_parser().parse_args([
        "train", "charlm", "--steps", "150", "--hidden", "64", "--seq-len", "32", "--batch", "16",
        "--lr", "0.005", "--eval-every", "150", "--sample-every", "0", "--out", str(tmp_path)])
    result = fit_charlm(args)
    assert result["exit_code"] == 0
    assert result["validation_nats"] < unigram - 0.5, (result, unigram)   # ~2.25 vs ~3.3


@pytest.mark.slow
def test_ctrl_c_stops_training_cleanly_and_saves_a_checkpoint(tmp_path):
    import signal
    import time
    process = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_rnn", "train", "charlm", "--steps", "100000",
         "--hidden", "32", "--seq-len", "16", "--batch", "8", "--sample-every", "0",
         "--eval-every", "0", "--checkpoint-every", "0", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "corpus 'tinyshakespeare'" in process.stdout.readline()
    time.sleep(3)                                     # a few training steps
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted by SIGINT at step" in stdout and "Traceback" not in stderr
    assert (tmp_path / "charlm.ckpt").exists()
