"""Rendering a drawing to SVG, PNG or PDF with Graphviz's ``dot`` program.

``dot`` runs as a subprocess with an argument list (no shell); it writes exactly the file
asked for. Without ``dot``, the DOT source is written next to it (same name, ``.dot``) and
:class:`GraphvizNotFound` says how to install Graphviz.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

FORMATS = ("svg", "png", "pdf")
INSTALL = ("Graphviz's `dot` program was not found on PATH; install Graphviz "
           "(Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz; "
           "conda: conda install -c conda-forge graphviz; Windows: winget install graphviz), "
           "or open the .dot file with any Graphviz viewer")


class GraphvizNotFound(RuntimeError):
    """Raised when rendering needs Graphviz's ``dot`` and it is not installed."""


def dot_path() -> str | None:
    """Where ``dot`` is, or None."""
    return shutil.which("dot")


def output_path(path, format: str | None) -> tuple[Path, str]:
    """The file to write and its format: from ``format``, else from the suffix (default svg)."""
    path = Path(os.fspath(path))
    suffix = path.suffix.lower().lstrip(".")
    if format is None:
        if suffix and suffix not in FORMATS:
            raise ValueError(f"render: cannot tell the format from {str(path)!r}; name the file "
                             f".svg, .png or .pdf, or pass format=")
        format = suffix or "svg"
    format = format.lower()
    if format not in FORMATS:
        raise ValueError(f"render: format must be one of {', '.join(FORMATS)}, not {format!r}")
    if suffix in FORMATS and suffix != format:
        raise ValueError(f"render: the path {str(path)!r} ends in .{suffix} but format={format!r}")
    if suffix != format:
        path = path.with_name(path.name + "." + format)
    return path, format


def source_of(graph) -> str:
    return graph if isinstance(graph, str) else graph.source


def render(graph, path, format: str | None = None, timeout: float | None = None) -> Path:
    """Write ``graph`` (a ``graphviz.Digraph`` from ``draw``, or DOT text) to ``path`` as SVG,
    PNG or PDF; returns the path written. The format comes from ``format`` or from the path's
    suffix (``.svg`` is added to a path without one). Without Graphviz's ``dot``, writes the DOT
    source to the same name with ``.dot`` and raises :class:`GraphvizNotFound`."""
    path, format = output_path(path, format)
    source = source_of(graph)
    dot = dot_path()
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    if dot is None:
        fallback = path.with_suffix(".dot")
        fallback.write_text(source, encoding="utf-8")
        raise GraphvizNotFound(f"{INSTALL}. The DOT source was written to {fallback}.")
    done = subprocess.run([dot, f"-T{format}", "-o", str(path)], input=source.encode("utf-8"),
                          capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"render: dot failed with exit status {done.returncode}: {message[:2000]}")
    return path
