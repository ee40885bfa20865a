"""The BERT demo, shortened: pre-training must lower the held-out masked-LM loss well below a
uniform guess (log vocabulary), fine-tuning must beat chance on the held-out reviews, and the
attention grid is written. The same run with learning rates of zero must fail both checks, so
neither passes whatever the model does."""
import math

from tinygrad_rnn.demos import bert


def quiet(*args):
    pass


def bert_short(lr=1e-3, pretrain_lr=3e-3, **options):
    return bert.run(pretrain_steps=40, steps=100, width=32, layers=1, heads=2, lr=lr,
                    pretrain_lr=pretrain_lr, evaluate_every=20, pretrain_sentences=3000,
                    log=quiet, **options)


def learned(result, vocab_size) -> tuple[bool, bool]:
    return (result["mlm_loss"] < math.log(vocab_size) - 1.0,
            result["test_accuracy"] > 0.6 and result["scratch_accuracy"] > 0.55)


def test_bert_demo_pretrains_and_fine_tunes(tmp_path):
    result = bert_short(out=str(tmp_path))
    assert all(learned(result, result["vocab_size"])), result
    assert 0.7 < result["baseline_accuracy"] < 0.9
    assert (tmp_path / "bert_attention.png").stat().st_size > 10_000


def test_bert_demo_checks_fail_for_an_untrained_model():
    result = bert_short(lr=0.0, pretrain_lr=0.0)
    assert not any(learned(result, result["vocab_size"])), result
