"""The interactive viewer's size and how long a real browser takes to open it.

    python bench/bench_viz_html.py [--steps 5 10 20] [--cell gru] [--repeat 3]

For each number of time steps, builds the char-LM loss that ``tinygrad-rnn graph`` draws (a
fresh layer at op detail, composed cells), writes ``viz.html`` and opens it from file:// in
headless chromium (Debian's chromium + chromium-driver, via selenium): prints the file size,
the time to build the page in Python, and the browser's navigation time to the load event and
until the viewer's script is ready (best of ``--repeat``). Targets: 5-step GRU under 3 MB and
under 2 s to open.
"""
from __future__ import annotations

import argparse
import tempfile
import time
import types
from pathlib import Path

from tinygrad_rnn import viz
from tinygrad_rnn.cli.graph_command import _loss_of_fresh_layer


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--cell", default="gru")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    driver = browser()
    try:
        with tempfile.TemporaryDirectory() as folder:
            print(f"{'steps':>5} {'MB':>6} {'build s':>8} {'load ms':>8} {'ready ms':>9}")
            for steps in args.steps:
                loss = _loss_of_fresh_layer(types.SimpleNamespace(hidden=4, cell=args.cell,
                                                                  fused=False, steps=steps))
                path = Path(folder) / f"{args.cell}{steps}.html"
                started = time.perf_counter()
                viz.html(loss, path, max_nodes=None)
                built = time.perf_counter() - started
                loads, readies = [], []
                for _ in range(args.repeat):
                    driver.get("about:blank")
                    driver.get(path.as_uri())
                    loads.append(driver.execute_script(
                        "return performance.getEntriesByType('navigation')[0].loadEventEnd"))
                    readies.append(driver.execute_script("return window.tinygradViewer.ready"))
                print(f"{steps:>5} {path.stat().st_size / 1e6:>6.2f} {built:>8.2f} "
                      f"{min(loads):>8.0f} {min(readies):>9.0f}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
