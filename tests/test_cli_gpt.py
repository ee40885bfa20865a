"""``train charlm --model gpt``: the Transformer character model through the real command line:
progress, validation, samples and checkpoints as the recurrent model's; ``sample`` reads its
checkpoints; a killed and resumed run ends bit for bit where an uninterrupted one does; bad
flags are one line before any work."""
from __future__ import annotations

import signal

import pytest

import tinygrad_rnn as tg

from test_training_durability import _assert_bit_identical, _wait_for_step, cli, start

TINY_GPT = ("--model", "gpt", "--layers", "2", "--heads", "2", "--width", "8",
            "--context", "8", "--dropout", "0.1", "--batch", "4")
QUIET = ("--sample-every", "0", "--eval-batches", "2")


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(["to be or not to be that is the question"] * 40) + "\n")
    return str(path)


def _arrays(path) -> dict:
    checkpoint = tg.load(path)
    out = {f"model.{k}": v.detach().numpy() for k, v in checkpoint["model"].items()}
    for index, buffers in checkpoint["optimizer"]["state"].items():
        for name, value in buffers.items():
            out[f"optimizer.{index}.{name}"] = value.detach().numpy() if hasattr(value, "numpy") else value
    out["step"], out["data"], out["rng"] = checkpoint["step"], checkpoint["data"], checkpoint["rng"]
    assert checkpoint["hidden"] is None              # a Transformer carries no state
    return out


def test_gpt_trains_samples_and_resumes_through_the_cli(tmp_path, corpus):
    out = tmp_path / "run"
    first = cli("train", "charlm", "--corpus", corpus, *TINY_GPT, "--steps", "12",
                "--eval-every", "6", "--sample-every", "6", "--sample-length", "30",
                "--eval-batches", "2", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "gpt 2 layers x 2 heads, width 8, context 8" in first.stdout
    assert "step 12: train" in first.stdout and "validation" in first.stdout
    assert "--- sample at step 12 ---" in first.stdout
    checkpoint = out / "charlm.ckpt"
    config = tg.load(checkpoint)["config"]
    assert config["architecture"] == "gpt" and config["context"] == 8
    sampled = cli("sample", str(checkpoint), "--prime", "to be", "--length", "40")
    assert sampled.returncode == 0, sampled.stderr
    assert sampled.stdout.startswith("to be") and len(sampled.stdout.rstrip("\n")) >= 40
    more = cli("train", "charlm", "--resume", str(checkpoint), "--steps", "15", *QUIET,
               "--out", str(out))
    assert more.returncode == 0, more.stderr
    assert "resuming at step 12" in more.stdout and "trained 3 steps" in more.stdout


@pytest.mark.slow
def test_a_killed_gpt_run_resumes_bit_identical(tmp_path, corpus):
    steps = 40
    # 16 rows: 11 windows a pass, so both stops and the resumes fall in passes that start at
    # their own offsets (charlm.pass_start)
    tiny = (*TINY_GPT, "--batch", "16")
    reference = tmp_path / "reference"
    result = cli("train", "charlm", "--corpus", corpus, *tiny, *QUIET, "--eval-every", "1",
                 "--steps", str(steps), "--out", str(reference))
    assert result.returncode == 0, result.stderr
    expected = _arrays(reference / "charlm.ckpt")
    out = tmp_path / "interrupted"
    checkpoint = out / "charlm.ckpt"
    with open(tmp_path / "stderr.txt", "w") as stderr:
        for signum, at_step, status in [(signal.SIGTERM, 10, 128 + signal.SIGTERM),
                                        (signal.SIGKILL, 25, -signal.SIGKILL), (None, None, 0)]:
            args = ("--resume", str(checkpoint)) if checkpoint.exists() else (
                "--corpus", corpus, *tiny)
            process = start("train", "charlm", *args, *QUIET, "--eval-every", "1",
                            "--checkpoint-every", "7", "--steps", str(steps), "--out", str(out),
                            stderr=stderr)
            if signum is not None:
                _wait_for_step(process, at_step)
                process.send_signal(signum)
            output = process.communicate(timeout=120)[0]
            assert process.returncode == status, (signum, process.returncode, output)
    _assert_bit_identical(expected, _arrays(checkpoint))
    assert expected["data"]["pass"] == 3       # the run did cross passes


@pytest.mark.parametrize("args, message", [
    (("--model", "gpt", "--cell", "gru"), "--cell applies to the recurrent model, not --model gpt"),
    (("--model", "gpt", "--hidden", "64"), "--hidden applies to the recurrent model"),
    (("--heads", "2"), "--heads applies to --model gpt only"),
    (("--model", "gpt", "--width", "10", "--heads", "4"), "--width 10 is not divisible by --heads 4"),
    (("--model", "gpt", "--context", "16", "--seq-len", "32"),
     "--seq-len 32 is longer than --context 16"),
    (("--model", "gpt", "--heads", "0"), "--heads must be positive, got 0"),
    (("--model", "transformer",), "invalid choice: 'transformer'"),
    (("--model", "gpt", "--lr-decay", "0.5", "--lr-decay-every", "10"),
     "--lr-decay and --lr-decay-every apply to --lr-schedule step"),
    (("--warmup", "-1",), "--warmup must be 0 or more, got -1"),
])
def test_bad_gpt_flags_are_one_line_before_any_work(tmp_path, corpus, args, message):
    out = tmp_path / "never"
    result = cli("train", "charlm", "--corpus", corpus, *args, "--steps", "3", "--out", str(out))
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1] and "Traceback" not in result.stderr
    assert not out.exists()


def test_resume_refuses_flags_that_contradict_a_gpt_checkpoint(tmp_path, corpus):
    out = tmp_path / "run"
    assert cli("train", "charlm", "--corpus", corpus, *TINY_GPT, *QUIET, "--eval-every", "0",
               "--steps", "2", "--out", str(out)).returncode == 0
    checkpoint = str(out / "charlm.ckpt")
    for args, message in [(("--width", "16"), "--width 16 (checkpoint: 8)"),
                          (("--model", "recurrent"), "--model recurrent (checkpoint: gpt)"),
                          (("--hidden", "16"), "--hidden 16 (the checkpoint is a gpt)"),
                          (("--seq-len", "9"), "longer than the checkpoint's context 8")]:
        result = cli("train", "charlm", "--resume", checkpoint, *args, "--steps", "4",
                     "--out", str(out))
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
    recurrent = tmp_path / "lstm"
    assert cli("train", "charlm", "--corpus", corpus, "--hidden", "8", "--seq-len", "8",
               "--batch", "4", *QUIET, "--eval-every", "0", "--steps", "2",
               "--out", str(recurrent)).returncode == 0
    result = cli("train", "charlm", "--resume", str(recurrent / "charlm.ckpt"), "--model", "gpt",
                 "--steps", "4", "--out", str(recurrent))
    assert result.returncode == 2 and "--model gpt (checkpoint: recurrent)" in result.stderr


def test_a_hostile_gpt_config_is_refused_before_allocating(tmp_path, corpus):
    out = tmp_path / "run"
    assert cli("train", "charlm", "--corpus", corpus, *TINY_GPT, *QUIET, "--eval-every", "0",
               "--steps", "1", "--out", str(out)).returncode == 0
    checkpoint = tg.load(out / "charlm.ckpt")
    checkpoint["config"]["width"] = 100_000
    checkpoint["config"]["heads"] = 1
    tg.save(checkpoint, tmp_path / "huge.ckpt")
    result = cli("sample", str(tmp_path / "huge.ckpt"))
    assert result.returncode != 0 and "token_embedding.weight" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_demo_model_flag_is_for_translation_only(tmp_path):
    result = cli("demo", "hello", "--model", "transformer", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "--model applies to the translation demo, not 'hello'" in result.stderr.strip()


@pytest.mark.parametrize("flags, expected", [
    ((), {"seq_len": 64, "batch": 16, "lr": 3e-3, "lr_schedule": "cosine", "warmup": 100,
          "shifted_passes": True}),                                       # the GPT's own
    (("--context", "8"), {"seq_len": 8, "batch": 16, "lr": 3e-3}),        # window <= context
    (("--batch", "4", "--lr", "0.01", "--seq-len", "32", "--lr-schedule", "step", "--warmup",
      "0"), {"seq_len": 32, "batch": 4, "lr": 0.01, "lr_schedule": "step", "warmup": 0}),
])
def test_gpt_has_its_own_training_defaults_and_flags_win(flags, expected):
    from tinygrad_rnn.cli import build_parser
    from tinygrad_rnn.cli.charlm_checks import settings_of
    gpt = build_parser().parse_args(["train", "charlm", "--model", "gpt", *flags])
    assert {k: settings_of(gpt, None)[k] for k in expected} == expected
    recurrent = build_parser().parse_args(["train", "charlm"])
    recurrent_defaults = {"seq_len": 64, "batch": 32, "lr": 2e-3, "lr_schedule": "step",
                          "warmup": 0, "shifted_passes": False}
    assert {k: settings_of(recurrent, None)[k] for k in expected} == {
        k: recurrent_defaults[k] for k in expected}
    # an older GPT checkpoint, from before the schedule and the shifted passes: resumed as it ran
    resumed = {"config": {"architecture": "gpt"}, "settings": {"seq_len": 128, "batch": 32,
                                                               "lr": 2e-3}}
    again = build_parser().parse_args(["train", "charlm", "--resume", "x"])
    assert {k: settings_of(again, resumed)[k] for k in expected} == {   # the checkpoint's
        k: {**recurrent_defaults, "seq_len": 128}[k] for k in expected}


def test_a_resumed_run_goes_on_to_its_own_total_unless_told_otherwise():
    from tinygrad_rnn.cli import build_parser
    from tinygrad_rnn.cli.charlm_checks import settings_of, total_steps
    parse = lambda *flags: build_parser().parse_args(["train", "charlm", *flags])  # noqa: E731
    assert total_steps(parse("--model", "gpt"), None) == 4000
    assert total_steps(parse(), None) == 1000
    first = parse("--model", "gpt", "--steps", "6000")
    saved = {"config": {"architecture": "gpt"}, "settings": settings_of(first, None)}
    assert total_steps(parse("--resume", "x"), saved) == 6000      # not the default 4000
    assert total_steps(parse("--resume", "x", "--steps", "7000"), saved) == 7000
    old = {"config": {"architecture": "gpt"}, "settings": {"seq_len": 64, "batch": 16}}
    assert total_steps(parse("--resume", "x"), old) == 1000         # as it resumed before


def test_the_gpt_schedule_warms_up_then_decays_to_a_tenth_at_the_last_step():
    import math
    from tinygrad_rnn.cli.charlm_checks import WarmupThen
    cosine = WarmupThen({"warmup": 100, "lr_schedule": "cosine", "schedule_steps": 4000,
                         "lr_decay": 1.0, "lr_decay_every": 0})
    assert [cosine(s) for s in (0, 49, 99)] == [0.01, 0.5, 1.0]
    assert cosine(100) == 1.0 and math.isclose(cosine(2050), 0.55)
    assert math.isclose(cosine(4000), 0.1) and cosine(9000) == cosine(4000)
    factors = [cosine(s) for s in range(100, 4001)]
    assert all(a >= b for a, b in zip(factors, factors[1:]))
    step = WarmupThen({"warmup": 10, "lr_schedule": "step", "schedule_steps": 50,
                       "lr_decay": 0.5, "lr_decay_every": 20})
    assert [step(s) for s in (4, 10, 19, 20, 45)] == [0.5, 1.0, 1.0, 0.5, 0.25]


def test_sample_draws_a_gpt_s_attention_grid_and_refuses_before_any_work(tmp_path, corpus):
    out = tmp_path / "run"
    trained = cli("train", "charlm", "--corpus", corpus, *TINY_GPT, *QUIET, "--steps", "2",
                  "--eval-every", "0", "--out", str(out))
    assert trained.returncode == 0, trained.stderr
    checkpoint, picture = str(out / "charlm.ckpt"), tmp_path / "attention.png"
    drawn = cli("sample", checkpoint, "--prime", "to be or", "--length", "5",
                "--attention", str(picture))
    assert drawn.returncode == 0, drawn.stderr
    assert f"attention grid (layers x heads): {picture}" in drawn.stdout
    with open(picture, "rb") as png:
        header = png.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(header[16:20], "big") > 300
    recurrent = tmp_path / "lstm"
    assert cli("train", "charlm", "--corpus", corpus, "--hidden", "8", "--steps", "1",
               "--batch", "4", *QUIET, "--eval-every", "0", "--out", str(recurrent)).returncode == 0
    for args, message in [((checkpoint, "--attention", str(picture)), "exists; remove it or pick"),
                          ((checkpoint, "--attention", str(tmp_path / "a.svg")), "name the file .png"),
                          ((checkpoint, "--attention", str(tmp_path / "no" / "a.png")),
                           "does not exist"),
                          ((str(recurrent / "charlm.ckpt"), "--attention", str(tmp_path / "b.png")),
                           "holds a recurrent model")]:
        refused = cli("sample", *args, "--prime", "to")
        assert refused.returncode == 2 and refused.stdout == "", (args, refused.stdout)
        assert message in refused.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "b.png").exists()


def test_the_attention_grid_shows_the_gpt_s_own_weights():
    import numpy as np
    from tinygrad_rnn.cli.charlm_gpt import attention_over
    from tinygrad_rnn.models import GPT, Vocabulary
    vocab = Vocabulary.from_text("to be or not")
    tg.manual_seed(0)
    model = GPT(len(vocab), context=8, width=8, layers=2, heads=2)
    symbols, maps = attention_over(model, vocab, "to be or not", window=6)
    assert symbols == list("or not")
    with tg.no_grad():
        _, weights = model(tg.Tensor([vocab.encode("or not")], dtype="int64"), need_weights=True)
    assert len(maps) == 2 and all(m.shape == (2, 6, 6) for m in maps)
    for drawn, own in zip(maps, weights):
        np.testing.assert_array_equal(drawn, own.numpy()[0])
        np.testing.assert_allclose(drawn.sum(axis=-1), 1.0, rtol=1e-6)
        assert not np.triu(drawn, 1).any()             # causal: nothing from later symbols


def test_a_dollar_sign_in_the_text_is_drawn_as_itself(tmp_path):
    """matplotlib reads $...$ as TeX: tiny-shakespeare has $, and the grid must still draw."""
    from tinygrad_rnn.cli.charlm_gpt import draw_gpt_attention
    from tinygrad_rnn.models import GPT, Vocabulary
    vocab = Vocabulary.from_text("a$b^$c")
    model = GPT(len(vocab), context=8, width=8, layers=1, heads=2)
    draw_gpt_attention(str(tmp_path / "dollars.png"), model, vocab, "a$b^$c", window=6)
    assert (tmp_path / "dollars.png").stat().st_size > 1000


def test_a_gpt_samples_from_windows_as_long_as_it_was_trained_on():
    from tinygrad_rnn.cli.charlm_gpt import sampling_options
    from tinygrad_rnn.models import GPT, CharLM
    gpt = GPT(5, context=16, width=8, layers=1, heads=2)
    assert sampling_options(gpt, {"seq_len": 8}) == {"window": 8}
    assert sampling_options(gpt, {"seq_len": 32}) == {"window": 16}
    assert sampling_options(gpt, None) == {}
    assert sampling_options(CharLM(5, hidden_size=4), {"seq_len": 8}) == {}


def test_each_gpt_pass_starts_its_windows_at_a_new_offset():
    from tinygrad_rnn.cli.charlm import pass_start
    gpt = {"seq_len": 64, "shifted_passes": True}
    starts = [pass_start(gpt, p, row_length=10_000) for p in range(12)]
    assert starts[0] == 0 and all(0 <= s < 64 for s in starts) and len(set(starts)) == 12
    assert {pass_start({"seq_len": 64, "shifted_passes": False}, p, 10_000)
            for p in range(5)} == {0}
    # rows of 100 symbols hold one window of 64 and its targets from offsets 0 to 35 only
    assert max(pass_start(gpt, p, row_length=100) for p in range(12)) == 35


def test_a_gpt_trains_over_many_passes_of_a_text_barely_longer_than_its_windows(tmp_path):
    corpus = tmp_path / "short.txt"     # rows of 100 symbols: pass 1 would start at offset 39
    corpus.write_text(("to be or not to be that is the question\n" * 43)[:1790])
    result = cli("train", "charlm", "--corpus", str(corpus), "--model", "gpt", "--layers", "1",
                 "--heads", "2", "--width", "16", "--steps", "5", "--eval-every", "0",
                 "--sample-every", "0", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert tg.load(tmp_path / "run" / "charlm.ckpt")["data"]["pass"] == 4


def test_the_training_loop_starts_each_pass_at_its_own_offset(tmp_path, monkeypatch):
    """The windows a GPT trains on, recorded as the real step receives them: pass p's first
    window begins at pass_start(p) in every row (the unit test above checks the offsets, this
    one that the loop uses them)."""
    import numpy as np
    from tinygrad_rnn.cli import build_parser, charlm
    corpus = tmp_path / "text.txt"
    corpus.write_text("".join(chr(97 + i % 26) for i in range(3000)))
    seen, real_step = [], charlm._train_step

    def recording_step(run, x, y, state, clip):
        seen.append((run["position"]["pass"], run["position"]["window"], x.numpy().copy()))
        return real_step(run, x, y, state, clip)

    monkeypatch.setattr(charlm, "_train_step", recording_step)
    args = build_parser().parse_args(
        ["train", "charlm", "--corpus", str(corpus), "--model", "gpt", "--layers", "1",
         "--heads", "2", "--width", "8", "--context", "8", "--batch", "4", "--steps", "400",
         "--eval-every", "0", "--sample-every", "0", "--checkpoint-every", "0",
         "--out", str(tmp_path / "run")])
    assert charlm.fit_charlm(args)["exit_code"] == 0
    settings = {"seq_len": 8, "shifted_passes": True}
    ids = np.array([ord(c) - 97 for c in corpus.read_text()])   # the vocabulary sorts: a..z
    rows = ids[:int(len(ids) * 0.9) // 4 * 4].reshape(4, -1)
    firsts = {p: x for p, w, x in seen if w == 0}
    assert len(firsts) >= 4
    for p, x in firsts.items():
        start = charlm.pass_start(settings, p, rows.shape[1])
        np.testing.assert_array_equal(x, rows[:, start:start + 8], err_msg=f"pass {p}")
    assert len({charlm.pass_start(settings, p, rows.shape[1]) for p in firsts}) == len(firsts)
