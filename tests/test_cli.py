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
