"""The interactive viewer (viz.html), tested in a real headless chromium driven by selenium.

The page's panels are read back as text and checked against the tensors' true values and
gradients (from the engine's backward, and by central finite differences in float64).
Browser tests skip, with the reason, only where chromium or chromium-driver is missing
(scripts/setup_env.sh installs Debian's packages where it can).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.viz import dot as render_module

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
needs_dot = pytest.mark.skipif(render_module.dot_path() is None,
                               reason="Graphviz's dot is not installed (apt-get install graphviz)")


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path, package in ((CHROMIUM, "chromium"), (DRIVER, "chromium-driver")):
        if not os.path.exists(path):
            return f"{path} is missing (apt-get install {package}; scripts/setup_env.sh tries)"
    return None


needs_browser = pytest.mark.skipif(_browser_missing() is not None, reason=str(_browser_missing()))
T, H = 3, 2


def rnn():
    """A 3-step tanh RNN with 2 hidden units, written with core ops inside tg.scope("t=k")."""
    rng = np.random.default_rng(0)
    W = tg.Tensor(rng.normal(0, 0.8, (H, H)), dtype="float64", requires_grad=True, name="W_hh")
    xs = [tg.Tensor(rng.normal(size=(1, H)), dtype="float64", name=f"x{t}") for t in range(T)]
    h = tg.zeros(1, H, dtype="float64")
    states = []
    for t in range(T):
        with tg.scope(f"t={t}"):
            h = (h @ W + xs[t]).tanh().named("h_t")
        states.append(h)
    loss = (h * h).sum()
    return loss, W, xs, states


def numbers(text: str) -> np.ndarray:
    return np.array([float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)])


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def open_page(driver, path):
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(path.as_uri())
    # get() returns at the load event; on a loaded 2-core machine the first page of a fresh
    # browser once ran its script later than that (seen in a full suite run): wait up to 10 s
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        WebDriverWait(driver, 10).until(
            lambda d: d.execute_script("return window.tinygradViewer !== undefined"))
    except TimeoutException:
        raise AssertionError("the script did not run") from None


def check_clean(driver, path):
    """No console message at all, no request but the page itself, no resource entries."""
    logs = driver.get_log("browser")
    assert logs == [], logs
    requests = []
    import json
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    assert set(requests) <= {path.as_uri()}, requests
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if render_module.dot_path() is None:
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)")
    loss, W, xs, states = rnn()
    path = tmp_path_factory.mktemp("viewer") / "rnn.html"
    viz.html(loss, path)
    for h in states:
        h.retain_grad()
    loss.backward()
    return types.SimpleNamespace(path=path, loss=loss, W=W, xs=xs, states=states)


def finite_difference_W(W_value, xs, eps=1e-6):
    def f(Wv):
        h = np.zeros((1, H))
        for x in xs:
            h = np.tanh(h @ Wv + x)
        return float((h * h).sum())
    grad = np.zeros_like(W_value)
    for idx in np.ndindex(*W_value.shape):
        up, down = W_value.copy(), W_value.copy()
        up[idx] += eps
        down[idx] -= eps
        grad[idx] = (f(up) - f(down)) / (2 * eps)
    return grad


@needs_dot
@needs_browser
def test_clicking_a_parameter_shows_its_value_gradient_and_chain_rule_terms(browser, page, tmp_path):
    from selenium.webdriver.common.by import By
    open_page(browser, page.path)
    box = browser.execute_script(
        "return Array.from(document.querySelectorAll('#view-forward g.node'))"
        ".find((g) => g.textContent.includes('W_hh')).dataset.id")
    browser.find_element(By.CSS_SELECTOR, f"#view-forward g.node[data-id='{box}']").click()
    panel = browser.find_element(By.ID, "tensor-panel").text
    assert browser.find_element(By.ID, "tensor-name").text.startswith("W_hh")
    assert browser.find_element(By.ID, "tensor-shape").text == "(2, 2)"
    assert browser.find_element(By.ID, "tensor-dtype").text == "float64"
    value = numbers(browser.find_element(By.ID, "tensor-value").text)
    np.testing.assert_allclose(value, page.W.detach().numpy().reshape(-1), rtol=1e-5)
    grad = numbers(browser.find_element(By.ID, "tensor-grad").text)
    np.testing.assert_allclose(grad, page.W.grad.numpy().reshape(-1), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(grad, finite_difference_W(page.W.detach().numpy(), [x.numpy() for x in page.xs]).reshape(-1),
                               rtol=1e-4, atol=1e-9)
    terms = browser.find_element(By.ID, "tensor-terms").text
    assert "sum of 3 terms" in terms, panel
    # backward reaches the last step first: t=2, t=1, t=0
    assert [m for m in re.findall(r"\[(t=\d)\]", terms)] == ["t=2", "t=1", "t=0"]
    picked = browser.find_elements(By.CSS_SELECTOR, "#view-forward g.node.picked")
    assert [g.get_attribute("data-id") for g in picked] == [box]
    browser.save_screenshot(str(tmp_path / "viewer_clicked.png"))
    check_clean(browser, page.path)


@needs_dot
@needs_browser
def test_the_slider_steps_through_backward_with_the_true_gy(browser, page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    open_page(browser, page.path)
    slider = browser.find_element(By.ID, "slider")
    total = int(slider.get_attribute("max"))
    assert total > 2 * T
    slider.click()                                  # a real pointer on the slider, then keys
    slider.send_keys(Keys.HOME)
    assert "before backward" in browser.find_element(By.ID, "step-title").text
    seen = []
    for k in range(1, total + 1):
        slider.send_keys(Keys.ARROW_RIGHT)
        title = browser.find_element(By.ID, "step-title").text
        assert title.startswith(f"backward step {k} of {total}"), title
        seen.append(title)
        if "tanh backward" in title and "[t=2]" in title:
            gy = numbers(browser.find_element(By.ID, "step-gy").text.split(":", 1)[1])
            h2 = page.states[2].detach().numpy().reshape(-1)
            np.testing.assert_allclose(gy[:H], 2 * h2, rtol=1e-5)        # dL/dh_2 = 2 h_2
            np.testing.assert_allclose(gy[H], np.linalg.norm(2 * h2), rtol=1e-5)
            formula = browser.find_element(By.ID, "step-formula").text
            assert "tanh" in formula or "1 - y" in formula, formula
            sends = browser.find_element(By.ID, "step-sends").text
            assert "gx to" in sends
            current = browser.find_elements(By.CSS_SELECTOR, "#view-forward g.node.current")
            assert len(current) == 1
            browser.save_screenshot(str(tmp_path / "viewer_step.png"))
    assert "sum backward" in seen[0]
    assert sum("tanh backward" in s for s in seen) == T
    check_clean(browser, page.path)


@needs_dot
@needs_browser
def test_bars_show_the_true_norm_of_dL_dh_t_and_views_switch(browser, page, tmp_path):
    from selenium.webdriver.common.by import By
    open_page(browser, page.path)
    browser.find_element(By.ID, "last").click()
    bars = browser.find_elements(By.CSS_SELECTOR, "#bars rect")
    shown = [float(b.get_attribute("data-norm")) for b in bars]
    true = [np.linalg.norm(h.grad.numpy()) for h in page.states]
    np.testing.assert_allclose(shown, true, rtol=1e-5)
    assert all(b.get_attribute("class") == "done" for b in bars)
    browser.find_element(By.ID, "first").click()
    assert all(b.get_attribute("class") == "pending"
               for b in browser.find_elements(By.CSS_SELECTOR, "#bars rect"))
    for name in ("backward", "cell", "rolled", "forward"):
        browser.find_element(By.CSS_SELECTOR, f"#views button[data-view='{name}']").click()
        assert browser.find_element(By.ID, f"view-{name}").is_displayed()
        others = [v for v in browser.find_elements(By.CSS_SELECTOR, ".view") if v.is_displayed()]
        assert len(others) == 1
    browser.find_element(By.CSS_SELECTOR, "input[name=pass][value=forward]").click()
    browser.find_element(By.ID, "next").click()
    title = browser.find_element(By.ID, "step-title").text
    assert title.startswith("forward step 1 of") and "matmul" in title and "[t=0]" in title, title
    reads = browser.find_element(By.ID, "step-inputs").text
    assert "B = W_hh (2, 2)" in reads, reads
    np.testing.assert_allclose(numbers(reads.split("W_hh (2, 2)")[1]), page.W.detach().numpy().reshape(-1), rtol=1e-5)
    made = numbers(browser.find_element(By.ID, "step-value").text.split(":", 1)[1])
    np.testing.assert_allclose(made, np.zeros(H))                     # h_0 W_hh with h_0 = 0
    # hovering (no click) shows a box's tensor: the last h_t
    from selenium.webdriver.common.action_chains import ActionChains
    box = browser.execute_script(
        "return Array.from(document.querySelectorAll('#view-forward g.node'))"
        ".filter((g) => g.textContent.includes('h_t = tanh')).pop().dataset.id")
    ActionChains(browser).move_to_element(
        browser.find_element(By.CSS_SELECTOR, f"#view-forward g.node[data-id='{box}']")).perform()
    assert browser.find_element(By.ID, "tensor-name").text.startswith("h_t")
    np.testing.assert_allclose(numbers(browser.find_element(By.ID, "tensor-value").text),
                               page.states[-1].detach().numpy().reshape(-1), rtol=1e-5)
    np.testing.assert_allclose(numbers(browser.find_element(By.ID, "tensor-grad").text),
                               page.states[-1].grad.numpy().reshape(-1), rtol=1e-5)
    browser.save_screenshot(str(tmp_path / "viewer_forward.png"))
    check_clean(browser, page.path)


def gru_loss(steps=5):
    from tinygrad_rnn.cli.graph_command import _loss_of_fresh_layer
    return _loss_of_fresh_layer(types.SimpleNamespace(hidden=4, cell="gru", fused=False, steps=steps))


@needs_dot
@needs_browser
def test_a_five_step_gru_page_is_small_and_opens_clean(browser, tmp_path):
    path = tmp_path / "gru.html"
    page = viz.html(gru_loss(), path)
    assert path.stat().st_size == len(page) < 3_000_000
    open_page(browser, path)
    loaded = browser.execute_script("return window.tinygradViewer.ready")
    print(f"5-step GRU page: {path.stat().st_size / 1e6:.2f} MB, script ready {loaded:.0f} ms")
    browser.save_screenshot(str(tmp_path / "viewer_gru.png"))
    check_clean(browser, path)


@needs_dot
def test_notebook_display_is_an_isolated_iframe_and_the_graph_is_unchanged():
    loss, W, xs, states = rnn()
    page = viz.html(loss)
    assert W.grad is None and loss._node is not None
    shown = page._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "<script" not in shown
    assert "Content-Security-Policy" in page.text and "http://" not in page.text.replace(
        "http://www.w3.org", "")
    with pytest.raises(ValueError, match="views"):
        viz.html(loss, views=["sideways"])
    with pytest.raises(ValueError, match=r"\.html"):
        page.save("page.txt")


@needs_dot
def test_cli_writes_the_viewer_and_refuses_to_replace_a_file(tmp_path):
    target = tmp_path / "g.html"
    args = [sys.executable, "-m", "tinygrad_rnn", "graph", "--cell", "gru", "--steps", "2",
            "--view", "forward", "--out", str(tmp_path / "out"), "--html", str(target)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "interactive viewer" in done.stdout and target.stat().st_size > 10_000
    before = target.read_bytes()
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert target.read_bytes() == before


@needs_dot
@needs_browser
def test_the_notebook_display_runs_inside_its_iframe(browser, page, tmp_path):
    """What Jupyter shows (``_repr_html_``), put into a host page: the viewer runs in the iframe."""
    from selenium.webdriver.common.by import By
    loss, *_ = rnn()
    host = tmp_path / "notebook_cell.html"
    host.write_text("<!DOCTYPE html><html><body><p>a notebook cell</p>" + viz.html(loss)._repr_html_()
                    + "</body></html>", encoding="utf-8")
    browser.get_log("browser")
    browser.get(host.as_uri())
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        assert browser.execute_script("return window.tinygradViewer !== undefined")
        browser.find_element(By.ID, "last").click()
        assert browser.find_element(By.ID, "step-title").text.startswith("backward step")
    finally:
        browser.switch_to.default_content()
    browser.save_screenshot(str(tmp_path / "viewer_iframe.png"))
    assert browser.get_log("browser") == []
