"""Hostile checkpoint and corpus files, generated (no binary fixtures in the repository).

    python tests/hostile_files.py DIR      # writes every one of them into DIR

Each maker writes one file (or FIFO, or symlink) at ``path`` and returns it. The tests load
them with tg.load, ``sample`` and ``train charlm --corpus`` and expect a CheckpointError (or
one CLI line), quickly and without allocating what the file claims.
"""
from __future__ import annotations

import io
import json
import os
import sys
import zipfile

import numpy as np


def _checkpoint_zip(path, manifest: dict, entries: dict, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _manifest(arrays: dict) -> dict:
    return {"format": "tinygrad_rnn.checkpoint", "version": 1,
            "root": {"type": "dict", "ordered": False, "items": [
                [{"type": "str", "value": key}, {"type": "array", "array": str(i)}]
                for i, key in enumerate(arrays)]},
            "arrays": {str(i): {"file": f"arrays/{i}.npy", "dtype": a.dtype.str,
                                "shape": list(a.shape), "device": "cpu"}
                       for i, a in enumerate(arrays.values())}}


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def deflate_bomb(path, unpacked_bytes: int = 64 * 2**20):
    """A consistent checkpoint whose one array, zeros of ``unpacked_bytes``, is deflated to a
    few kB (a zip bomb: tiny on disk, huge in memory)."""
    zeros = np.zeros(unpacked_bytes // 4, np.float32)
    return _checkpoint_zip(path, _manifest({"w": zeros}), {"arrays/0.npy": _npy(zeros)},
                           zipfile.ZIP_DEFLATED)


def lying_npy_header(path, claimed=(100_000, 100_000), manifest_agrees: bool = True):
    """A 1 kB entry whose .npy header (and, if ``manifest_agrees``, the manifest) claim a
    (100000, 100000) float32 array: 40 GB would be allocated before reading finds the data
    missing."""
    small = np.zeros(16, np.float32)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": small.dtype.str, "fortran_order": False,
                                                  "shape": tuple(claimed)})
    manifest = _manifest({"w": small})
    if manifest_agrees:
        manifest["arrays"]["0"]["shape"] = list(claimed)
    return _checkpoint_zip(path, manifest, {"arrays/0.npy": header.getvalue() + small.tobytes()})


def _tiny_charlm_checkpoint():
    import tinygrad_rnn as tg
    from tinygrad_rnn.models import CharLM, Vocabulary
    vocabulary = Vocabulary.from_text("abc\n")
    model = CharLM(len(vocabulary), hidden_size=4, embedding_dim=3)
    return tg, {"kind": "charlm", "config": dict(model.config),
                "vocabulary": vocabulary.to_dict(), "model": model.state_dict(), "step": 1}


def charlm_config_claiming(path, **config):
    """A real 1 kB charlm checkpoint whose config is edited (``hidden_size=12000`` took 9 GB
    to build the model it describes before the arrays were compared; ``num_layers=10**7``
    hung)."""
    tg, checkpoint = _tiny_charlm_checkpoint()
    checkpoint["config"].update(config)
    tg.save(checkpoint, path)
    return path


def fifo(path):
    """A named pipe: opening it for reading blocks until a writer comes."""
    os.mkfifo(path)
    return path


def link_to_dev_zero(path):
    """A symlink to /dev/zero: endless zeros."""
    os.symlink("/dev/zero", path)
    return path


def pickled_object_array(path):
    """An entry that is a pickled object array: loading it would run code."""
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}, 2], dtype=object), allow_pickle=True)
    small = np.zeros(2, np.float32)
    return _checkpoint_zip(path, _manifest({"w": small}), {"arrays/0.npy": buffer.getvalue()})


MAKERS = {"bomb.ckpt": deflate_bomb, "lying_header.ckpt": lying_npy_header,
          "hidden_12000.ckpt": lambda p: charlm_config_claiming(p, hidden_size=12000),
          "layers_1e7.ckpt": lambda p: charlm_config_claiming(p, num_layers=10**7),
          "fifo.ckpt": fifo, "dev_zero.ckpt": link_to_dev_zero,
          "pickled.ckpt": pickled_object_array}


def write_all(folder: str) -> dict:
    os.makedirs(folder, exist_ok=True)
    return {name: make(os.path.join(folder, name)) for name, make in MAKERS.items()}


if __name__ == "__main__":
    for name, path in write_all(sys.argv[1] if len(sys.argv) > 1 else "hostile").items():
        print(path)
