"""The seq2seq demos (translation, captioning), shortened: each must beat its baseline on
held-out data. ``test_captioning_check_fails_for_untrained_decoders`` runs the same short
check with a learning rate of zero and requires it to fail. The translation check was run
once the same way (``translation_short(lr=0.0)`` fails it: the untrained seq2seq writes
nothing a reference contains) and is not kept, to keep this file near a minute and a half on
two busy cores."""
import pytest

from tinygrad_rnn.demos import captioning, translation


def quiet(*args):
    pass


# ---------------------------------------------------------------- pieces
def test_bleu_matches_hand_computed_values():
    ref = "le chat est sur le tapis .".split()
    assert translation.bleu([ref], [[ref]]) == pytest.approx(100.0)
    assert translation.bleu([["rien"] * 7], [[ref]]) == 0.0
    # one hypothesis, 6 tokens against a 7-token reference: p1 = 5/6, p2 = 3/5, p3 = 2/4,
    # p4 = 1/3, BP = exp(1 - 7/6)
    hyp = "le chat est sur un tapis".split()
    expected = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25 * 2.718281828459045 ** (1 - 7 / 6)
    assert translation.bleu([hyp], [[ref]]) == pytest.approx(expected)
    # several references: n-grams are clipped by the reference where they are most frequent,
    # and the brevity penalty takes the closest reference length
    assert translation.bleu([hyp], [[ref, hyp]]) == pytest.approx(100.0)


def test_tokenizers_and_word_by_word_baseline():
    assert translation.tokenize_english("I'm not tired.") == ["i", "'m", "not", "tired", "."]
    french = translation.tokenize_french("Je n’ai pas faim.")
    assert french == ["je", "n'", "ai", "pas", "faim", "."]
    assert translation.detokenize(["je", "n'", "ai", "faim", "."]) == "je n'ai faim."
    pairs = [(["i", "'m", "tired", "."], ["je", "suis", "fatigué", "."]),
             (["i", "'m", "happy", "."], ["je", "suis", "heureux", "."]),
             (["he", "'s", "tired", "."], ["il", "est", "fatigué", "."])]
    table = translation.WordByWord(pairs).table
    assert table["i"] == "je" and table["'m"] == "suis" and table["tired"] == "fatigué"


def test_digit_windows_cover_each_patch_and_its_ring():
    image = list(range(64))
    windows = captioning.patches(image)
    assert len(windows) == 16 and all(len(w) == 16 for w in windows)
    assert captioning.patches(image, ring=0)[5] == [18, 19, 26, 27]     # grid row 1, column 1
    assert windows[0][:5] == [0, 0, 0, 0, 0] and windows[0][5:7] == [0, 1]


# ---------------------------------------------------------------- translation
def translation_short(lr=0.005, out=None):
    """Luong attention (the full demo trains Bahdanau's), on the English sentences of at most
    5 tokens (1,855 for training, 232 held out)."""
    return translation.run(steps=300, attention="luong", compare=False, evaluate_every=100,
                           max_length=5, lr=lr, log=quiet, out=out)


def translation_learned(result) -> bool:
    """Held-out BLEU above the word-by-word dictionary's (~25 on these short sentences; the
    short run reaches ~29)."""
    return result["test_bleu"] > result["baseline_bleu"]


@pytest.mark.slow
def test_translation_luong_beats_word_by_word_on_unseen_sentences(tmp_path):
    result = translation_short(out=str(tmp_path))
    assert translation_learned(result) and result["success"], result
    assert (tmp_path / "translation_attention_luong.png").stat().st_size > 10_000



# ---------------------------------------------------------------- captioning
def captioning_short(lr=0.01, out=None):
    return captioning.run(steps=400, evaluate_every=100, lr=lr, log=quiet, out=out)


def captioning_learned(result) -> bool:
    """Both decoders' held-out exact caption accuracy above the nearest-class-mean
    classifier's (~87%)."""
    return (result["conditioned_accuracy"] > result["nearest_mean_accuracy"]
            and result["attention_accuracy"] > result["nearest_mean_accuracy"])


@pytest.mark.slow
def test_captioning_decoders_beat_nearest_class_mean_on_held_out_digits(tmp_path):
    result = captioning_short(out=str(tmp_path))
    assert captioning_learned(result) and result["success"], result
    assert (tmp_path / "captioning_attention.png").stat().st_size > 10_000


@pytest.mark.slow
def test_captioning_check_fails_for_untrained_decoders():
    result = captioning_short(lr=0.0)
    assert not captioning_learned(result) and not result["success"], result
