"""Layout rules: the core never imports numpy/cupy, and the built wheel is the whole program
(the package, its subpackages, the command and the bundled data), installed into a fresh
virtual environment."""
import ast
import os
import pathlib
import shutil
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


def _packages_in_source_tree() -> set:
    """Every importable package of the install: folders with an __init__.py under
    tinygrad_rnn/, plus backends/ and models/ (installed as tinygrad_rnn.backends/.models)."""
    found = {"tinygrad_rnn." + str(d.parent.relative_to(ROOT / "tinygrad_rnn")).replace(os.sep, ".")
             for d in (ROOT / "tinygrad_rnn").rglob("__init__.py")}
    found = {"tinygrad_rnn" if name == "tinygrad_rnn.." else name for name in found}
    return found | {"tinygrad_rnn.backends", "tinygrad_rnn.models"}


def _build_wheel_from_a_clean_copy(tmp_path) -> pathlib.Path:
    """``pip wheel`` of a copy without build/ and *.egg-info: setuptools reuses a stale
    build/lib, which would hide a package left out of pyproject.toml."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "out", "*.egg-info", "__pycache__", ".hypothesis"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("tinygrad_rnn-*.whl")
    return wheel


def test_pyproject_lists_every_package():
    import tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert listed == _packages_in_source_tree(), (
        f"pyproject.toml [tool.setuptools] packages is missing {_packages_in_source_tree() - listed} "
        f"(or lists stale ones: {listed - _packages_in_source_tree()})")


@pytest.mark.slow
def test_built_wheel_in_a_fresh_venv_runs_the_command_a_demo_and_reads_its_data(tmp_path):
    """The wheel as a user gets it: built, installed (no editable link, no source tree on the
    path) into a new virtual environment; then the console script, ``python -m``, a demo and
    the bundled corpora. The dependencies (numpy, tqdm, graphviz) are not the subject here:
    the new venv sees the test environment's copies through a .pth line, which keeps the test
    offline and fast; the package itself comes only from the wheel."""
    wheel = _build_wheel_from_a_clean_copy(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"tinygrad_rnn"}, top_level    # no plain `backends` or `models`
    for package in _packages_in_source_tree():
        assert package.replace(".", "/") + "/__init__.py" in names, f"{package} is not in the wheel"
    corpora = {p.name for p in (ROOT / "tinygrad_rnn" / "data").glob("*.gz")}
    assert corpora and {f"tinygrad_rnn/data/{n}" for n in corpora} <= names

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                                "-q", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    import graphviz, numpy, tqdm   # noqa: E401  (their folders go on the new venv's path)
    dependency_dirs = {str(pathlib.Path(m.__file__).parents[1]) for m in (numpy, tqdm, graphviz)}
    pathlib.Path(site, "test_dependencies.pth").write_text("\n".join(sorted(dependency_dirs)) + "\n")
    env = {"PATH": f"{bindir}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

    def run(*command):
        done = subprocess.run(list(command), cwd=tmp_path, capture_output=True, text=True, env=env,
                              timeout=300)
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
        return done.stdout

    assert "train" in run(str(bindir / "tinygrad-rnn"), "--help")
    assert "graph" in run(str(python), "-m", "tinygrad_rnn", "--help")
    demo = run(str(bindir / "tinygrad-rnn"), "demo", "hello", "--steps", "30", "--out", str(tmp_path / "o"))
    assert "demo hello:" in demo
    where = run(str(python), "-c",
                "import tinygrad_rnn as tg, tinygrad_rnn.data as d; print(tg.__file__); "
                "print(len(d.load_text('tinyshakespeare'))); print(d.bundled_path('SOURCES.md'))")
    package_file, symbols, sources = where.splitlines()
    assert package_file.startswith(site) and sources.startswith(site), where
    assert int(symbols) > 1_000_000
