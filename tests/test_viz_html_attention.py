"""The viewer's attention panel (viz.html(..., attention=, tokens=)), in a real headless chromium.

The weights read back from the page's heat-map cells must equal the models' own weights to
the 6 significant digits the page prints; the maps found in the graph (tensors named a_ij)
must equal what the models return with need_weights.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import models, viz
from tinygrad_rnn.nn import init
from tinygrad_rnn.viz.attention_maps import attention_data
from tinygrad_rnn.viz.model import Graph

from test_viz_html import browser, check_clean, needs_browser, needs_dot, open_page  # noqa: F401

TEXT = "to be or not"
LAYERS, HEADS = 2, 2
PRINTED = dict(rtol=1e-5, atol=1e-7)         # the page prints 6 significant digits


def small_gpt():
    """2 layers x 2 heads on TEXT; projections N(0, 1) so the heads attend sharply and differ."""
    tg.manual_seed(0)
    vocabulary = sorted(set(TEXT))
    model = models.GPT(len(vocabulary), context=16, width=8, layers=LAYERS, heads=HEADS)
    for block in model.blocks:
        init.normal_(block.self_attn.in_proj_weight, 0.0, 1.0)
    ids = tg.Tensor([[vocabulary.index(c) for c in TEXT]], dtype="int64")
    logits, maps = model(ids, need_weights=True)
    return logits.sum(), [w.detach().numpy()[0] for w in maps], maps


def payload(page) -> dict:
    text = re.search(r'id="viz-data">(.*?)</script>', page.text, re.S).group(1)
    return json.loads(text.replace("<\\/", "</"))


def shown_map(driver) -> np.ndarray:
    """The large map's cells, read back from the DOM, as an (L, S) array."""
    cells = driver.execute_script(
        "return Array.from(document.querySelectorAll('#att-map rect.att-cell'))"
        ".map((r) => [Number(r.dataset.q), Number(r.dataset.k), Number(r.dataset.v)])")
    L, S = max(c[0] for c in cells) + 1, max(c[1] for c in cells) + 1
    out = np.full((L, S), np.nan)
    for i, j, v in cells:
        out[i, j] = v
    return out


@needs_dot
@needs_browser
def test_each_head_of_each_layer_shows_the_models_weights(browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    loss, weights, maps = small_gpt()
    path = tmp_path / "gpt_attention.html"
    viz.html(loss, path, title="GPT, 2 layers x 2 heads", attention=maps, tokens=TEXT)
    open_page(browser, path)
    thumbs = browser.find_elements(By.CSS_SELECTOR, "canvas.att-thumb")
    assert sorted((int(c.get_attribute("data-layer")), int(c.get_attribute("data-head")))
                  for c in thumbs) == [(l, h) for l in range(LAYERS) for h in range(HEADS)]
    seen = []
    for layer in range(LAYERS):
        for head in range(HEADS):
            browser.find_element(By.CSS_SELECTOR, f"canvas.att-thumb[data-layer='{layer}']"
                                                  f"[data-head='{head}']").click()
            assert browser.find_element(By.ID, "att-map").get_attribute("data-head") == str(head)
            shown = shown_map(browser)
            np.testing.assert_allclose(shown, weights[layer][head], **PRINTED)
            seen.append(shown)
            title = browser.find_element(By.ID, "att-title").text
            assert title.startswith(f"layer {layer + 1}, head {head + 1} of {HEADS}"), title
    assert not np.allclose(seen[0], seen[1], atol=1e-3), "switching head left the map as it was"
    assert np.all(np.triu(seen[0], 1) == 0), "a causal map attends the future"
    axis = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#att-map text.att-query")]
    assert axis == [c if c != " " else "\u2423" for c in TEXT]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#att-map text.att-key")) == len(TEXT)
    cell = browser.find_element(By.CSS_SELECTOR, "#att-map rect.att-cell[data-q='4'][data-k='3']")
    ActionChains(browser).move_to_element(cell).perform()
    readout = browser.find_element(By.ID, "att-readout").text
    assert readout.startswith("query 'e' (4) -> key 'b' (3): "), readout
    np.testing.assert_allclose(float(readout.rsplit(": ", 1)[1]), weights[1][1][4, 3], **PRINTED)
    browser.find_element(By.CSS_SELECTOR, "canvas.att-thumb[data-layer='0'][data-head='1']").click()
    browser.save_screenshot(str(tmp_path / "viewer_attention.png"))
    check_clean(browser, path)


@needs_dot
@needs_browser
def test_maps_found_in_the_graph_and_clicking_a_weights_box_selects_its_map(browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    loss, weights, _ = small_gpt()
    path = tmp_path / "gpt_found.html"
    viz.html(loss, path, views=["forward"], tokens=TEXT)         # no attention=: from the tape
    open_page(browser, path)
    boxes = browser.execute_script(
        "return Array.from(document.querySelectorAll('#view-forward g.node'))"
        ".filter((g) => g.textContent.includes('a_ij')).map((g) => g.dataset.id)")
    assert len(boxes) == LAYERS
    browser.find_element(By.CSS_SELECTOR, f"#view-forward g.node[data-id='{boxes[1]}']").click()
    assert browser.find_element(By.ID, "tensor-name").text.startswith("a_ij")
    assert browser.find_element(By.ID, "att-map").get_attribute("data-layer") == "1"
    np.testing.assert_allclose(shown_map(browser), weights[1][0], **PRINTED)
    browser.find_element(By.CSS_SELECTOR, "canvas.att-thumb[data-layer='0'][data-head='1']").click()
    np.testing.assert_allclose(shown_map(browser), weights[0][1], **PRINTED)
    check_clean(browser, path)


@needs_dot
@needs_browser
def test_encoder_decoder_groups_switch(browser, tmp_path):  # noqa: F811
    """TransformerSeq2Seq.attention_maps: encoder, decoder self- and cross-attention groups."""
    from selenium.webdriver.common.by import By
    tg.manual_seed(0)
    model = models.TransformerSeq2Seq(7, 6, d_model=8, nhead=2, num_encoder_layers=1,
                                      num_decoder_layers=1, dim_feedforward=8, dropout=0.0)
    src = tg.Tensor([[3, 4, 5, 6, 2]], dtype="int64")
    tgt = tg.Tensor([[1, 3, 4, 2]], dtype="int64")
    found = model.attention_maps(src, tgt)
    source, target = ["a", "b", "c", "d", "<eos>"], ["<sos>", "x", "y"]
    path = tmp_path / "seq2seq.html"
    viz.html(model.loss(src, None, tgt), path, views=["forward"], attention=found,
             tokens={"encoder": source, "self": target, "cross": (target, source)})
    open_page(browser, path)
    groups = browser.find_elements(By.CSS_SELECTOR, "button.att-group")
    assert [b.text for b in groups] == ["encoder", "self", "cross"]
    groups[2].click()
    browser.find_element(By.CSS_SELECTOR, "canvas.att-thumb[data-layer='0'][data-head='1']").click()
    np.testing.assert_allclose(shown_map(browser), found["cross"][0].detach().numpy()[0, 1], **PRINTED)
    keys = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#att-map text.att-key")]
    assert keys == source
    check_clean(browser, path)


def test_bahdanau_steps_found_in_the_graph_stack_into_one_map():
    """A seq2seq decoder's one-query maps, one per step, become one (steps, n) map whose rows
    are the weights the model returns; each step's a_ij links to its row."""
    tg.manual_seed(0)
    model = models.Seq2Seq(6, 6, embed_size=4, hidden_size=4, attention="bahdanau")
    src = tg.Tensor([[3, 4, 5, 2]], dtype="int64")
    tgt = tg.Tensor([[1, 3, 4, 2]], dtype="int64")
    logits, returned = model(src, None, tgt)
    graph = Graph(logits.sum())
    data = attention_data(None, None, graph)
    [layer] = data["groups"][0]["layers"]
    assert layer["shape"] == [1, 3, 4]
    np.testing.assert_allclose(np.array(layer["heads"][0]).reshape(3, 4), returned.detach().numpy()[0],
                               **PRINTED)
    assert [row for _, row in layer["tensors"]] == [0, 1, 2]
    assert all(graph.tensors[i].name == "a_ij" for i, _ in layer["tensors"])


@pytest.mark.parametrize("which", ["bert", "encoder_layer", "decoder_stack", "transformer"])
def test_every_attention_model_reaches_the_page_exactly(which):
    """What each model returns with need_weights is accepted and embedded exactly; for
    torch's models.Transformer (no need_weights) the maps come from the graph."""
    tg.manual_seed(0)
    x = tg.randn(1, 5, 8)
    if which == "bert":
        model = models.BERT(11, max_len=8, width=8, layers=2, heads=2, dropout=0.0)
        out, maps = model(tg.Tensor([[1, 2, 3, 4, 5]], dtype="int64"), need_weights=True)
        expected = {"attention": [w.detach().numpy()[0] for w in maps]}
    elif which == "encoder_layer":
        model = models.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        out, maps = model(x, need_weights=True)            # averaged over heads: (B, L, L)
        expected = {"attention": [maps.detach().numpy()[:1]]}
    elif which == "decoder_stack":
        layer = models.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        model = models.TransformerDecoder(layer, 2)
        out, maps = model(x[:, :3], x, need_weights=True, average_attn_weights=False)
        expected = {"self": [s.detach().numpy()[0] for s, _ in maps], "cross": [c.detach().numpy()[0] for _, c in maps]}
    else:
        model = models.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)
        out, maps = model(x, x[:, :3], tgt_is_causal=True), None
        expected = {"a_ij in the graph": None}
    data = attention_data(maps, None, Graph(out.sum()))
    assert [g["name"] for g in data["groups"]] == list(expected)
    for group in data["groups"]:
        wanted = expected[group["name"]]
        if wanted is None:                                   # encoder self, decoder self, cross
            assert [e["shape"] for e in group["layers"]] == [[2, 5, 5], [2, 3, 3], [2, 3, 5]]
            continue
        for entry, array in zip(group["layers"], wanted, strict=True):
            heads, L, S = entry["shape"]
            np.testing.assert_allclose(np.array(entry["heads"]).reshape(heads, L, S), array, **PRINTED)


def test_bad_attention_input_is_one_clear_error():
    loss, _, maps = small_gpt()
    graph = Graph(loss)
    with pytest.raises(ValueError, match=r"layer 1 of 'attention' has shape \(1, 1, 2, 12, 12\)"):
        attention_data([maps[0][None]], None, graph)
    with pytest.raises(ValueError, match=r"5 tokens fit no axis .* \(L=12, S=12\)"):
        attention_data(maps, "to be", graph)
    with pytest.raises(ValueError, match=r"3 query and 12 key tokens for layer 1 .* \(L=12, S=12\)"):
        attention_data(maps, (list("abc"), list(TEXT)), graph)
    with pytest.raises(ValueError, match=r"1,001,000 weights, more than 1,000,000"):
        attention_data(np.zeros((1, 1, 1001, 1000)), None, graph)
    assert attention_data(False, None, graph) is None
