"""The bundled corpora load with the counts SOURCES.md documents; bad paths fail clearly."""
import gzip

import pytest

from tinygrad_rnn import data


def test_bundled_corpora_match_their_documented_sizes():
    text = data.load_text("tinyshakespeare")
    assert len(text) == 1_115_394 and len(set(text)) == 65
    assert len(data.load_text("war_and_peace")) == 3_196_214
    assert data.load_text("sonnets").startswith("From fairest creatures")
    assert len(data.load_pairs("eng_kor")) == 3_798 and len(data.load_pairs("eng_fra")) == 9_234
    assert "기" in data.load_text("korean")
    rows = data.load_sentiment()
    assert len(rows) == 3_000 and sum(label for _, label, _ in rows) == 1_500
    dev = data.load_pos("dev")
    assert len(dev) == 2_001 and sum(map(len, dev)) == 25_147
    images, labels = data.load_digits()
    assert len(images) == 1_797 and {len(i) for i in images} == {64} and set(labels) == set(range(10))
    assert len(data.load_series("sunspots_yearly")) == 309
    assert sum(v is None for _, v in data.load_series("co2_weekly")) == 59


def test_attribution_ships_with_the_data():
    text = open(data.bundled_path("SOURCES.md"), encoding="utf-8").read()
    assert "CC BY 2.0 FR" in text and "CC BY-SA 4.0" in text and "Kotzias" in text


def test_user_text_files_and_errors(tmp_path):
    korean = tmp_path / "ko.txt"
    korean.write_text("기차가 온다\n", encoding="utf-8")
    assert data.load_text(str(korean)) == "기차가 온다\n"
    packed = tmp_path / "t.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as handle:
        handle.write("abc")
    assert data.load_text(str(packed)) == "abc"
    with pytest.raises(data.DataError, match="no corpus or file named 'nope.txt'"):
        data.load_text("nope.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(data.DataError, match="is empty"):
        data.load_text(str(tmp_path / "empty.txt"))
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00abc")
    with pytest.raises(data.DataError, match="not UTF-8"):
        data.load_text(str(tmp_path / "bin.txt"))


def test_split_is_deterministic_and_complete():
    items = list(range(100))
    a, b, c = data.split(items, (0.8, 0.1, 0.1), seed=3)
    assert (len(a), len(b), len(c)) == (80, 10, 10) and sorted(a + b + c) == items
    assert data.split(items, (0.8, 0.1, 0.1), seed=3) == [a, b, c]
