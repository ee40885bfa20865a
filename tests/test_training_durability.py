"""``train charlm`` never loses work: kill it (SIGTERM, SIGINT, SIGHUP, kill -9) anywhere and
resume to the very weights of an uninterrupted run; one run per folder; no checkpoint
replaced unasked; divergence stops without saving; every check before the first step.

Real subprocesses and real signals throughout; a tiny model on a tiny corpus, so each run
takes about a second (mostly the import).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import tinygrad_rnn as tg

TINY = ("--hidden", "8", "--embedding", "4", "--layers", "2", "--dropout", "0.1",
        "--seq-len", "8", "--batch", "4")
QUIET = ("--sample-every", "0", "--eval-batches", "2")


@pytest.fixture
def corpus(tmp_path):
    rng = random.Random(0)
    words = ["to", "be", "or", "not", "that", "is", "the", "question", "whether", "tis"]
    lines = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(70)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _env():
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "tinygrad_rnn", *args], capture_output=True,
                          text=True, timeout=timeout, env=_env())


def _default_signals():
    # as from an interactive shell, even when the tests run under nohup or in the background
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def start(*args, stderr):
    return subprocess.Popen([sys.executable, "-m", "tinygrad_rnn", *args], env=_env(),
                            stdout=subprocess.PIPE, stderr=stderr, text=True,
                            preexec_fn=_default_signals)


def _wait_for_step(process, step: int) -> None:
    """Read the child's per-step evaluation lines until it reports ``step`` or later."""
    for line in process.stdout:
        if line.startswith("step ") and int(line.split()[1].rstrip(":")) >= step:
            return
    raise AssertionError(f"the run ended (status {process.wait()}) before step {step}")


def _arrays(path) -> dict:
    """Every array of a charlm checkpoint that decides the future: weights, optimizer
    buffers, hidden state, plus the step, data position and generator state."""
    checkpoint = tg.load(path)
    out = {f"model.{k}": v.numpy() for k, v in checkpoint["model"].items()}
    for index, buffers in checkpoint["optimizer"]["state"].items():
        for name, value in buffers.items():
            out[f"optimizer.{index}.{name}"] = value.numpy() if hasattr(value, "numpy") else value
    hidden = checkpoint["hidden"]
    for i, h in enumerate(hidden if isinstance(hidden, tuple) else (hidden,)):
        out[f"hidden.{i}"] = h.numpy()
    out["step"], out["data"], out["rng"] = checkpoint["step"], checkpoint["data"], checkpoint["rng"]
    out["scheduler"] = checkpoint["scheduler"]
    out["lr"] = [group["lr"] for group in checkpoint["optimizer"]["param_groups"]]
    return out


def _assert_bit_identical(expected: dict, got: dict) -> None:
    assert expected.keys() == got.keys()
    for key in expected:
        a, b = expected[key], got[key]
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), key
        else:
            assert a == b, key


def _reference(tmp_path, corpus, steps: int, *extra) -> dict:
    out = tmp_path / "reference"
    result = cli("train", "charlm", "--corpus", corpus, *TINY, *QUIET, *extra,
                 "--steps", str(steps), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return _arrays(out / "charlm.ckpt")


@pytest.mark.slow
def test_killed_and_resumed_runs_end_bit_identical_to_an_uninterrupted_one(tmp_path, corpus):
    """Five kill points (SIGTERM, kill -9, SIGINT, SIGHUP, kill -9), crossing the end of a pass
    over the text (84 windows) and periodic saves; dropout draws from the generator."""
    steps, every = 120, "7"
    expected = _reference(tmp_path, corpus, steps, "--eval-every", "1", "--checkpoint-every", every,
                          "--lr-decay", "0.9", "--lr-decay-every", "10")
    assert expected["scheduler"]["last_epoch"] == steps and expected["lr"][0] < 2e-3 * 0.9 ** 11
    out = tmp_path / "interrupted"
    checkpoint = out / "charlm.ckpt"
    kills = [(signal.SIGTERM, 15, 128 + signal.SIGTERM), (signal.SIGKILL, 40, -signal.SIGKILL),
             (signal.SIGINT, 62, 128 + signal.SIGINT), (signal.SIGHUP, 90, 128 + signal.SIGHUP),
             (signal.SIGKILL, 100, -signal.SIGKILL)]
    with open(tmp_path / "stderr.txt", "w") as stderr:
        for signum, at_step, status in kills + [(None, None, 0)]:
            resume = (("--resume", str(checkpoint)) if checkpoint.exists() else
                      TINY + ("--lr-decay", "0.9", "--lr-decay-every", "10"))
            process = start("train", "charlm", "--corpus", corpus, *resume, *QUIET,
                            "--eval-every", "1", "--checkpoint-every", every,
                            "--steps", str(steps), "--out", str(out), stderr=stderr)
            if signum is not None:
                _wait_for_step(process, at_step)
                process.send_signal(signum)
            output = process.communicate(timeout=120)[0]
            assert process.returncode == status, (signum, process.returncode, output)
            if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                assert f"interrupted by {signal.Signals(signum).name} at step" in output
                assert tg.load(checkpoint)["step"] > at_step - 1
    _assert_bit_identical(expected, _arrays(checkpoint))
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]   # no orphans left behind


@pytest.mark.slow
def test_chaos_random_signals_at_random_times_still_end_bit_identical(tmp_path, corpus):
    """Signals at random moments (during start-up, steps and saves: a checkpoint every step)
    until the run gets through; under 60 s. The moments are fractions of how long the
    uninterrupted run took here, so a fast or a loaded machine gets the same chaos: the first
    runs are each stopped within 10-30% of that time (at least three kills, whatever the speed),
    later ones at random or not at all."""
    steps = 250
    options = ("--eval-every", "0", "--checkpoint-every", "1")
    began = time.monotonic()
    expected = _reference(tmp_path, corpus, steps, *options)
    duration = time.monotonic() - began
    out = tmp_path / "chaos"
    checkpoint = out / "charlm.ckpt"
    rng = random.Random(12)
    began, kills, runs, statuses = time.monotonic(), 0, 0, []
    with open(tmp_path / "stderr.txt", "w") as stderr:
        while not (checkpoint.exists() and tg.load(checkpoint)["step"] == steps):
            # (a run killed after its final save has nothing left for the next to do)
            resume = ("--resume", str(checkpoint)) if checkpoint.exists() else TINY
            process = start("train", "charlm", "--corpus", corpus, *resume, *QUIET, *options,
                            "--steps", str(steps), "--out", str(out), stderr=stderr)
            runs += 1
            if runs <= 3:
                delay = rng.uniform(0.1, 0.3) * duration
            elif runs <= 6:
                delay = rng.uniform(0.05, 1.0) * duration
            else:
                delay = None                                  # then let it finish
            if delay is not None:
                try:
                    process.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    process.send_signal(rng.choice([signal.SIGTERM, signal.SIGKILL,
                                                    signal.SIGINT, signal.SIGHUP]))
                    kills += 1
            process.communicate(timeout=120)
            statuses.append(process.returncode)
            assert process.returncode in (0, 130, 143, 129, -9, -15, -1, -2), statuses
    assert time.monotonic() - began < 60
    assert kills >= 3, statuses
    _assert_bit_identical(expected, _arrays(checkpoint))


def test_a_second_run_on_a_busy_folder_fails_at_once_naming_the_holder(tmp_path, corpus):
    out = str(tmp_path / "out")
    with open(tmp_path / "stderr.txt", "w") as stderr:
        first = start("train", "charlm", "--corpus", corpus, *TINY, *QUIET, "--eval-every", "0",
                      "--steps", "1000000", "--out", out, stderr=stderr)
        try:
            assert first.stdout.readline().startswith("corpus ")     # it holds the lock now
            second = cli("train", "charlm", "--corpus", corpus, *TINY, "--steps", "5",
                         "--overwrite", "--out", out)
            lines = second.stderr.strip().splitlines()
            assert second.returncode == 2 and len(lines) == 1, second.stderr
            assert f"pid {first.pid}" in lines[0] and "host" in lines[0] and "started" in lines[0]
        finally:
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=60)
    assert first.returncode == 143


def test_a_checkpoint_the_run_did_not_write_is_replaced_only_when_asked(tmp_path, corpus):
    out = tmp_path / "out"
    run = ("train", "charlm", "--corpus", corpus, *TINY, *QUIET, "--eval-every", "0",
           "--steps", "3", "--out", str(out))
    assert cli(*run).returncode == 0
    before = (out / "charlm.ckpt").read_bytes()
    again = cli(*run)
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1
    assert "already holds charlm.ckpt" in again.stderr and "--overwrite" in again.stderr
    assert (out / "charlm.ckpt").read_bytes() == before
    replaced = cli(*run, "--overwrite", "--seed", "1")
    assert replaced.returncode == 0, replaced.stderr
    assert (out / "charlm.ckpt").read_bytes() != before


def test_a_non_finite_update_stops_in_one_line_and_keeps_the_last_good_checkpoint(tmp_path, corpus):
    out = tmp_path / "out"
    good = cli("train", "charlm", "--corpus", corpus, *TINY, *QUIET, "--eval-every", "0",
               "--steps", "5", "--out", str(out))
    assert good.returncode == 0
    before = (out / "charlm.ckpt").read_bytes()
    exploding = cli("train", "charlm", "--corpus", corpus, *TINY, *QUIET, "--eval-every", "0",
                    "--optimizer", "sgd", "--lr", "1e38", "--clip", "0", "--steps", "50",
                    "--overwrite", "--out", str(out))
    assert exploding.returncode == 1, exploding.stderr
    errors = [line for line in exploding.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and any(word in errors[0] for word in ("non-finite", "nan", "inf"))
    assert errors[0].startswith("tinygrad-rnn train: error: stopped at step")   # own line, no bar
    assert (out / "charlm.ckpt").read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (("--embedding", "0"), "--embedding must be positive"),
    (("--eval-batches", "0"), "--eval-batches must be positive"),
    (("--temperature", "nan"), "--temperature must be a finite number"),
    (("--lr", "nan"), "--lr must be a finite number"),
    (("--dropout", "1"), "--dropout must be in [0, 1)"),
    (("--prime", "Z"), "--prime has symbols the vocabulary lacks: 'Z'"),
    (("--seq-len", "50", "--batch", "1", "--eval-every", "5"), "the validation split"),
    (("--cell", "mut1", "--embedding", "8"), "--embedding does not apply to --cell mut1"),
])
def test_bad_settings_are_refused_before_the_first_step_and_before_out_exists(
        tmp_path, corpus, args, message):
    out = tmp_path / "out"
    small = tmp_path / "small.txt"
    small.write_text(open(corpus).read()[:400])
    result = cli("train", "charlm", "--corpus", str(small), "--hidden", "8", "--seq-len", "8",
                 "--batch", "4", *args, "--out", str(out))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr
    assert not out.exists()


def test_an_unwritable_out_is_refused_before_training(tmp_path, corpus):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = cli("train", "charlm", "--corpus", corpus, *TINY, "--out", str(blocker / "sub"))
    assert result.returncode == 2 and "--out" in result.stderr and "not a directory" in result.stderr
    assert "step" not in result.stdout


def test_a_corpus_without_a_newline_samples_from_its_first_symbol(tmp_path):
    corpus = tmp_path / "one_line.txt"
    corpus.write_text("abcab cabbac " * 100)
    result = cli("train", "charlm", "--corpus", str(corpus), *TINY, "--steps", "4",
                 "--sample-every", "2", "--sample-length", "10", "--eval-every", "0",
                 "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "--- sample at step 2 ---" in result.stdout


def test_resume_refuses_contradicting_flags_and_says_steps_is_the_total(tmp_path, corpus):
    out = tmp_path / "out"
    assert cli("train", "charlm", "--corpus", corpus, *TINY, *QUIET, "--eval-every", "0",
               "--steps", "4", "--out", str(out)).returncode == 0
    checkpoint = str(out / "charlm.ckpt")
    before = (out / "charlm.ckpt").read_bytes()
    clash = cli("train", "charlm", "--resume", checkpoint, "--cell", "gru", "--hidden", "32",
                "--optimizer", "sgd", "--steps", "8", "--out", str(out))
    line = clash.stderr.strip()
    assert clash.returncode == 2 and len(line.splitlines()) == 1
    assert "--cell gru (checkpoint: lstm)" in line and "--hidden 32 (checkpoint: 8)" in line
    assert "--optimizer sgd (checkpoint: adam)" in line
    decay = cli("train", "charlm", "--resume", checkpoint, "--lr-decay", "0.5", "--steps", "8",
                "--out", str(out))
    assert decay.returncode == 2 and "--lr-decay 0.5 (checkpoint: 1.0)" in decay.stderr
    done = cli("train", "charlm", "--resume", checkpoint, "--steps", "4", "--out", str(out))
    assert done.returncode == 2 and "already at step 4" in done.stderr
    assert "--steps 8" in done.stderr and "total" in done.stderr
    assert (out / "charlm.ckpt").read_bytes() == before
    assert "total" in cli("train", "charlm", "--help").stdout


def test_hostile_charlm_checkpoints_are_one_line_and_quick(tmp_path):
    import hostile_files
    files = hostile_files.write_all(str(tmp_path / "hostile"))
    for name in ("hidden_12000.ckpt", "layers_1e7.ckpt", "fifo.ckpt", "dev_zero.ckpt",
                 "pickled.ckpt"):
        started = time.monotonic()
        result = cli("sample", files[name], "--length", "5", timeout=60)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, (name, result.stderr[-500:])
        assert time.monotonic() - started < 30, name
    assert "parameters" in cli("sample", files["layers_1e7.ckpt"]).stderr


def test_special_files_as_corpus_are_refused(tmp_path):
    import hostile_files
    for make in (hostile_files.fifo, hostile_files.link_to_dev_zero):
        path = make(str(tmp_path / f"corpus_{make.__name__}"))
        result = cli("train", "charlm", "--corpus", path, "--out", str(tmp_path / "out"), timeout=60)
        assert result.returncode == 2 and "not a regular file" in result.stderr
    huge = tmp_path / "huge.txt"
    huge.write_text("ab" * 600)
    result = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "train", "charlm", "--corpus",
                             str(huge), "--out", str(tmp_path / "out")], capture_output=True,
                            text=True, env={**_env(), "TINYGRAD_RNN_MAX_CORPUS_BYTES": "1000"})
    assert result.returncode == 2 and "over the limit of 1,000 bytes" in result.stderr


@pytest.mark.parametrize("args, message", [
    (("--temperature", "nan"), "--temperature must be a finite number"),
    (("--top-k", "0"), "--top-k must be positive"),
])
def test_sample_checks_its_flags_first(tmp_path, args, message):
    result = cli("sample", str(tmp_path / "never_read.ckpt"), *args)
    assert result.returncode == 2 and message in result.stderr


def test_an_error_during_training_is_printed_on_its_own_line_not_onto_the_bar(tmp_path, corpus):
    """A save that fails mid-run (here: the checkpoint's name taken by a folder) closes the
    progress bar first, so the error line starts a line of its own."""
    out = tmp_path / "out"
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        process = start("train", "charlm", "--corpus", corpus, *TINY, *QUIET, "--eval-every", "1",
                        "--checkpoint-every", "1", "--steps", "1000000", "--out", str(out),
                        stderr=stderr)
        _wait_for_step(process, 3)
        blocker = out / "charlm.ckpt"
        blocker.unlink()
        blocker.mkdir()                       # every later save now fails
        process.communicate(timeout=60)
        stderr.seek(0)
        lines = stderr.read().replace("\r", "\n").splitlines()
    assert process.returncode == 2
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("tinygrad-rnn train: error:"), errors
