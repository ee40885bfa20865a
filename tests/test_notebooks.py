"""Every lecture notebook in notebooks/ runs top to bottom (nbclient, the venv's ipykernel),
and is kept in the repository with its outputs stripped."""
from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
nbformat = pytest.importorskip("nbformat", reason="nbformat is a dev extra (pip install -e '.[dev]')")


def test_there_is_a_notebook_per_lecture():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_outputs_are_stripped_and_it_ends_with_something_to_change(path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs kept"
    last = book.cells[-1]
    assert last.cell_type == "markdown" and "Your turn" in last.source


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_it_runs(path, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient", reason="nbclient is a dev extra")
    pytest.importorskip("ipykernel", reason="ipykernel is a dev extra")
    from tinygrad_rnn.viz.dot import dot_path
    if dot_path() is None:
        pytest.skip("Graphviz's dot is not installed (the notebooks draw graphs)")
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):     # the kernel inherits them
        monkeypatch.setenv(name, "1")
    client.execute()
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
