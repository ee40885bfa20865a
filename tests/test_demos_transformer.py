"""demo translation --model transformer, shortened to a smoke run: the Transformer trains
through the demo's loop, is scored by BLEU beside the word-by-word baseline, and both
attention pictures (the last layer's averaged maps, and every head of every layer) are
written. Its learning is checked in test_models_transformer_full.py (it learns to reverse)."""
from tinygrad_rnn.demos import translation


def test_translation_demo_trains_the_transformer_and_draws_its_heads(tmp_path):
    result = translation.run(steps=20, model="transformer", compare=False, evaluate_every=10,
                             max_length=5, hidden=16, out=str(tmp_path), log=lambda *a: None)
    assert result["model"] == "transformer" and 0.0 <= result["test_bleu"] <= 100.0
    assert result["baseline_bleu"] > 10.0
    for name in ("translation_attention_transformer.png", "translation_attention_heads.png"):
        assert (tmp_path / name).stat().st_size > 10_000
