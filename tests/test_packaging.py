"""Layout rules: the core never imports numpy/cupy, and the wheel installs one package."""
import ast
import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_core_never_imports_numpy_or_cupy():
    offenders = []
    for path in sorted((ROOT / "tinygrad_rnn").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}"
                          for n in names if n.split(".")[0] in ("numpy", "cupy", "cupyx")]
    assert not offenders, "\n".join(offenders)


def test_models_package_imports():
    import tinygrad_rnn.backends
    import tinygrad_rnn.models  # noqa: F401
    assert tinygrad_rnn.backends.numpy_backend().name == "numpy"


@pytest.mark.slow
def test_built_wheel_installs_only_tinygrad_rnn_and_imports(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("tinygrad_rnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"tinygrad_rnn"}, top_level
    assert "tinygrad_rnn/backends/numpy_backend.py" in names
    assert "tinygrad_rnn/models/__init__.py" in names
    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                                "--target", str(target), str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    code = ("import tinygrad_rnn as tg, tinygrad_rnn.backends, tinygrad_rnn.models;"
            "x = tg.Tensor([1.0, 2.0], requires_grad=True); (x * x).sum().backward();"
            "print(tg.__file__); print(x.grad.tolist())")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(str(target)) and lines[1] == "[2.0, 4.0]"
