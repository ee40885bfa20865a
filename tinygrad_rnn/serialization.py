"""Checkpoints: ``tg.save(obj, path)`` and ``tg.load(path, map_location=None)``.

``obj`` is a nest of dicts (OrderedDict too), lists and tuples whose leaves are Tensors
(Parameters too), NumPy/CuPy arrays, NumPy scalars, and ``None``, bools, ints, floats and
strings, e.g. ``{"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 10}``.
Loading gives back the same structure, with every array's dtype and bits unchanged.

The file is a zip archive (the layout of NumPy's ``.npz``), never a pickle:

* ``manifest.json``: the structure, as JSON: ``{"format": "tinygrad_rnn.checkpoint",
  "version": 1, "root": <node>, "arrays": {"0": {"file", "dtype", "shape", "device"}}}``,
  where a node is ``{"type": "dict", "ordered": .., "items": [[key, value], ...]}``,
  ``{"type": "list" | "tuple", "items": [...]}``, ``{"type": "tensor", "array": "0",
  "requires_grad": .., "parameter": .., "name": ..}``, ``{"type": "array" | "scalar",
  "array": "0"}`` or ``{"type": "none" | "bool" | "int" | "str", "value": ..}`` and
  ``{"type": "float", "value": float.hex(x)}`` (exact, NaN and infinities included);
* ``arrays/<n>.npy``: one ``.npy`` file per distinct array (tensors sharing an array, such
  as tied weights, share it again after loading), written and read with
  ``allow_pickle=False``.

Loading therefore never runs code from the file: JSON and ``.npy`` headers are parsed as
data, and an object (pickled) array is refused. Anything wrong with the file (missing,
truncated, corrupt, not a checkpoint) raises :class:`CheckpointError` naming the path and
the problem. ``map_location`` moves tensors: ``"cpu"``, ``"cuda:1"``, or a dict such as
``{"cuda:0": "cpu"}`` from saved device to new device.

Loading is bounded: only regular files are read (a FIFO or ``/dev/zero`` is refused before
it is opened for reading), ``manifest.json`` may hold at most 64 MiB, and every array's size
is checked against ``max_entry_bytes`` (default 4 GiB) and their sum against
``max_total_bytes`` (default 8 GiB) before anything is allocated or decompressed. The defaults
can be changed with the environment variables ``TINYGRAD_RNN_MAX_ENTRY_BYTES`` and
``TINYGRAD_RNN_MAX_TOTAL_BYTES``.

Saving to a path is durable: the data is written to ``.tg-save-<host>-<pid>-*.tmp`` in the
same folder, flushed to disk (fsync), renamed over the target and the folder is synced; the
new file gets the mode the umask gives (or the replaced file's mode). Temporary files left by
a writer that was killed (its pid no longer runs on this host) are removed by the next save
into that folder.

This module does not import NumPy: array (de)serialisation lives in the NumPy backend.
"""
from __future__ import annotations

import json
import os
import socket
import stat
import tempfile
import threading
import zipfile
from collections import OrderedDict
from typing import Any

from .backends import SCALAR_TO_ARRAY, BackendUnavailable, backend_for, backend_for_device
from .backends import numpy_backend
from .device import normalize_device
from .files import open_regular_file
from .tensor import Tensor

FORMAT = "tinygrad_rnn.checkpoint"
VERSION = 1
MANIFEST = "manifest.json"
_ZIP_MAGIC = b"PK\x03\x04"
MAX_MANIFEST_BYTES = 64 * 2**20
MAX_ENTRY_BYTES = 4 * 2**30
MAX_TOTAL_BYTES = 8 * 2**30
_NPY_HEADER_SLACK = 2**16          # an .npy entry is its array plus a header shorter than this
_TEMP_PREFIX = ".tg-save-"


class CheckpointError(ValueError):
    """A file could not be loaded as a tinygrad_rnn checkpoint (the message says why)."""


# ---------------------------------------------------------------------------- save
class _Encoder:
    """Turns the object into a JSON-able node tree, collecting its arrays."""

    def __init__(self):
        self.arrays: list = []             # (entry name, host array)
        self.entries: dict[str, dict] = {}
        self._by_id: dict[int, str] = {}   # id(array) -> key: shared arrays are saved once
        self._keep: list = []              # keeps encoded arrays alive while ids are in use
        self._active: set[int] = set()     # containers being encoded (cycle detection)

    def array(self, array, where: str) -> str:
        key = self._by_id.get(id(array))
        if key is not None:
            return key
        if array.dtype.kind == "O":
            raise TypeError(f"tg.save: {where} is an object array; only numeric, bool and "
                            "string arrays can be saved (object arrays would need pickle)")
        key = str(len(self.entries))
        host = backend_for(array).to_numpy(array)
        name = f"arrays/{key}.npy"
        self.entries[key] = {"file": name, "dtype": host.dtype.str, "shape": list(host.shape),
                             "device": backend_for(array).device_of(array)}
        self.arrays.append((name, host))
        self._by_id[id(array)] = key
        self._keep.append(array)
        return key

    def encode(self, obj: Any, where: str) -> dict:
        if obj is None:
            return {"type": "none"}
        if isinstance(obj, bool):
            return {"type": "bool", "value": obj}
        if isinstance(obj, int):
            return {"type": "int", "value": int(obj)}
        if isinstance(obj, float):
            return {"type": "float", "value": float(obj).hex()}
        if isinstance(obj, str):
            return {"type": "str", "value": str(obj)}
        if isinstance(obj, Tensor):
            node = {"type": "tensor", "array": self.array(obj.data, where),
                    "requires_grad": bool(obj.requires_grad)}
            from .nn.parameter import Parameter
            if isinstance(obj, Parameter):
                node["parameter"] = True
            if obj.name is not None:
                node["name"] = str(obj.name)
            return node
        if type(obj) in SCALAR_TO_ARRAY:                   # numpy.float32(1.5) and the like
            return {"type": "scalar", "array": self.array(SCALAR_TO_ARRAY[type(obj)](obj), where)}
        if _is_array(obj):
            return {"type": "array", "array": self.array(obj, where)}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._active:
                raise ValueError(f"tg.save: {where} contains itself (a reference cycle)")
            self._active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    items = [[self.key(k, where), self.encode(v, f"{where}[{k!r}]")]
                             for k, v in obj.items()]
                    return {"type": "dict", "ordered": isinstance(obj, OrderedDict),
                            "items": items}
                items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
                return {"type": "tuple" if isinstance(obj, tuple) else "list", "items": items}
            finally:
                self._active.discard(id(obj))
        hint = " (convert it with .numpy() first)" if type(obj).__module__.startswith("torch") else ""
        raise TypeError(f"tg.save: {where} is a {type(obj).__module__}.{type(obj).__name__}, "
                        "which a checkpoint cannot hold; only Tensors, arrays, dicts, lists, "
                        f"tuples, str, int, float, bool and None can be saved{hint}")

    def key(self, key: Any, where: str) -> dict:
        if key is None or isinstance(key, (bool, int, float, str)):
            return self.encode(key, where)
        if isinstance(key, tuple):
            return {"type": "tuple", "items": [self.key(k, where) for k in key]}
        raise TypeError(f"tg.save: {where} has a key of type {type(key).__name__}; dict keys "
                        "must be str, int, float, bool, None or tuples of them")


def _is_array(obj) -> bool:
    try:
        backend_for(obj)
        return True
    except (TypeError, BackendUnavailable):
        return False


def save(obj: Any, f) -> None:
    """Save ``obj`` (nested dicts/lists/tuples of Tensors, arrays and plain values) to ``f``,
    a path or a writable binary file object. A path is written atomically: a temporary file
    in the same folder, renamed when complete, so an interrupted save never leaves a
    truncated checkpoint under that name."""
    encoder = _Encoder()
    root = encoder.encode(obj, "obj")
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "root": root,
                           "arrays": encoder.entries}, allow_nan=False)
    if hasattr(f, "write"):
        _write(f, manifest, encoder.arrays)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temporaries(folder)
    handle, temporary = tempfile.mkstemp(prefix=_temp_prefix(), suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            _write(out, manifest, encoder.arrays)
            out.flush()
            os.fchmod(out.fileno(), _new_file_mode(path))
            os.fsync(out.fileno())          # the data is on disk before the name points at it
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_folder(folder)                   # ... and the rename itself survives a power cut


def _temp_prefix() -> str:
    # host and pid in the name, so a later save can tell an orphan from a save in progress
    host = socket.gethostname().replace("-", "_") or "host"
    return f"{_TEMP_PREFIX}{host}-{os.getpid()}-"


def remove_stale_temporaries(folder: str) -> list[str]:
    """Delete ``.tg-save-<host>-<pid>-*.tmp`` files in ``folder`` whose writer (a process on
    this host) no longer runs, as left by a save killed with kill -9; returns their paths.
    Files from other hosts or from live processes are left alone."""
    host = socket.gethostname().replace("-", "_") or "host"
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(_TEMP_PREFIX) and name.endswith(".tmp")):
            continue
        parts = name[len(_TEMP_PREFIX):].split("-")
        if len(parts) < 3 or parts[0] != host or not parts[1].isdigit():
            continue
        if _process_alive(int(parts[1])):
            continue
        try:
            os.unlink(os.path.join(folder, name))
            removed.append(os.path.join(folder, name))
        except OSError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # it exists, owned by someone else
        return True
    return True


_UMASK_LOCK = threading.Lock()


def _new_file_mode(path: str) -> int:
    """The replaced file's permissions, or for a new file 0o666 less the umask (as open()
    would give; mkstemp's 0o600 would hide checkpoints from the group)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    with _UMASK_LOCK:                # the umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def _fsync_folder(folder: str) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return                       # e.g. Windows cannot open a folder
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _write(file, manifest: str, arrays: list) -> None:
    host = numpy_backend()
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(MANIFEST, manifest)
        for name, array in arrays:
            with archive.open(name, "w", force_zip64=array.nbytes > 2**30) as entry:
                host.write_array(entry, array)


# ---------------------------------------------------------------------------- load
def load(f, map_location=None, *, max_entry_bytes: int | None = None,
         max_total_bytes: int | None = None) -> Any:
    """Load what :func:`save` wrote. ``map_location``: None (each tensor back on the device
    it was saved from), a device (``"cpu"``, ``"cuda:0"``) for all of them, or a dict from
    saved device to device. ``max_entry_bytes`` / ``max_total_bytes`` bound one array and all
    of them (defaults: :data:`MAX_ENTRY_BYTES`, :data:`MAX_TOTAL_BYTES`, or the environment
    variables named in the module's docstring). Raises :class:`CheckpointError` if ``f`` is
    not a readable tinygrad_rnn checkpoint or is over the limits."""
    limits = (_limit(max_entry_bytes, "TINYGRAD_RNN_MAX_ENTRY_BYTES", MAX_ENTRY_BYTES),
              _limit(max_total_bytes, "TINYGRAD_RNN_MAX_TOTAL_BYTES", MAX_TOTAL_BYTES))
    relocate = _relocation(map_location)
    if hasattr(f, "read"):
        return _load_from(f, "<file object>", relocate, limits)
    where = os.fspath(f)
    with open_regular_file(where, CheckpointError, "checkpoint") as handle:
        return _load_from(handle, where, relocate, limits)


def _limit(given, variable: str, default: int) -> int:
    if given is None:
        text = os.environ.get(variable)
        if not text:
            return default
        try:
            given = int(text)
        except ValueError:
            raise CheckpointError(f"{variable}={text!r} is not a whole number of bytes") from None
    if isinstance(given, bool) or not isinstance(given, int) or given < 0:
        raise ValueError(f"tg.load: byte limits must be non-negative ints, got {given!r}")
    return given


def _load_from(f, where: str, relocate, limits: tuple[int, int]) -> Any:
    try:
        archive = zipfile.ZipFile(f, "r")
    except zipfile.BadZipFile as error:
        raise CheckpointError(f"{where}: {_not_zip_reason(f)} ({error})") from None
    except Exception as error:  # noqa: BLE001 - whatever zipfile trips on, say which file
        raise CheckpointError(f"{where}: cannot be read as a checkpoint "
                              f"({type(error).__name__}: {error})") from None
    with archive:
        manifest = _read_manifest(archive, where)
        decoder = _Decoder(archive, manifest, where, relocate, limits)
        try:
            return decoder.decode(manifest["root"])
        except (CheckpointError, BackendUnavailable):
            raise
        except Exception as error:  # noqa: BLE001 - a manifest that does not fit the format
            raise CheckpointError(f"{where}: manifest.json is malformed "
                                  f"({type(error).__name__}: {error})") from None


def _not_zip_reason(f) -> str:
    """Why ZipFile refused the file: a damaged zip, or not a zip at all."""
    try:
        f.seek(0)
        head = f.read(4)
    except (OSError, ValueError):
        return "not a tinygrad_rnn checkpoint"
    if head == _ZIP_MAGIC:
        return "the checkpoint is truncated or corrupt (its zip directory cannot be read)"
    if not head:
        return "the file is empty, not a tinygrad_rnn checkpoint"
    return "not a tinygrad_rnn checkpoint (not a zip archive)"


def _read_manifest(archive: zipfile.ZipFile, where: str) -> dict:
    names = archive.namelist()
    if MANIFEST not in names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise CheckpointError(f"{where}: not a tinygrad_rnn checkpoint: the zip archive has no "
                              f"{MANIFEST} (it holds: {shown or 'nothing'})")
    size = archive.getinfo(MANIFEST).file_size
    if size > MAX_MANIFEST_BYTES:
        raise CheckpointError(f"{where}: {MANIFEST} would be {size:,} bytes uncompressed, over "
                              f"the limit of {MAX_MANIFEST_BYTES:,}; refused")
    try:
        manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{where}: {MANIFEST} is not valid JSON ({error})") from None
    except Exception as error:  # noqa: BLE001 - bad CRC, damaged header, ...
        raise CheckpointError(f"{where}: {MANIFEST} is corrupt "
                              f"({type(error).__name__}: {error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not a tinygrad_rnn checkpoint ({MANIFEST} does not "
                              f"declare format {FORMAT!r})")
    version = manifest.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(f"{where}: checkpoint format version {version!r} is not "
                              f"supported (this tinygrad_rnn reads version <= {VERSION})")
    if "root" not in manifest or not isinstance(manifest.get("arrays"), dict):
        raise CheckpointError(f"{where}: {MANIFEST} is malformed (no 'root' or 'arrays')")
    return manifest


def _relocation(map_location):
    """A function from saved device to target device."""
    if map_location is None:
        return lambda saved: saved
    if isinstance(map_location, dict):
        table = {normalize_device(k): normalize_device(v) for k, v in map_location.items()}
        return lambda saved: table.get(saved, saved)
    if isinstance(map_location, str):
        target = normalize_device(map_location)
        return lambda saved: target
    raise TypeError(f"tg.load: map_location must be None, a device string or a dict from "
                    f"device to device, got {type(map_location).__name__}")


class _Decoder:
    def __init__(self, archive, manifest, where, relocate, limits=(MAX_ENTRY_BYTES, MAX_TOTAL_BYTES)):
        self.archive, self.where, self.relocate = archive, where, relocate
        self.entries = manifest["arrays"]
        self.names = set(archive.namelist())
        self._loaded: dict[tuple, Any] = {}    # (key, device) -> array: sharing survives
        self.max_entry_bytes, max_total = limits
        self._check_sizes(max_total)

    def _check_sizes(self, max_total: int) -> None:
        """Every array's size, from the manifest and from the zip directory, within the
        limits and consistent, before a byte is decompressed (a zip bomb stops here)."""
        total = 0
        for key, info in self.entries.items():
            try:
                name, shape = info["file"], [int(n) for n in info["shape"]]
                itemsize = numpy_backend().xp.dtype(info["dtype"]).itemsize
            except Exception as error:  # noqa: BLE001 - a manifest that does not fit the format
                raise CheckpointError(f"{self.where}: {MANIFEST} is malformed (array {key}: "
                                      f"{type(error).__name__}: {error})") from None
            if name not in self.names:
                continue                         # reported when (if) the entry is read
            declared = self.archive.getinfo(name).file_size
            nbytes = itemsize
            for n in shape:
                nbytes *= max(n, 0)
            for size, what in ((declared, "its zip entry"), (nbytes, "its manifest shape")):
                if size > self.max_entry_bytes:
                    raise CheckpointError(
                        f"{self.where}: entry {name} would be {size:,} bytes ({what}), over the "
                        f"limit of {self.max_entry_bytes:,} per array; refused (raise "
                        "max_entry_bytes to load it)")
            if declared > nbytes + _NPY_HEADER_SLACK:
                raise CheckpointError(
                    f"{self.where}: entry {name} unpacks to {declared:,} bytes but {MANIFEST} "
                    f"lists an array of {nbytes:,} bytes (corrupt or hostile checkpoint)")
            total += declared
            if total > max_total:
                raise CheckpointError(
                    f"{self.where}: the arrays would take over {max_total:,} bytes in all "
                    f"(the limit); refused (raise max_total_bytes to load it)")

    def decode(self, node: dict) -> Any:
        kind = node["type"]
        if kind == "none":
            return None
        if kind == "bool":
            return _typed(node["value"], bool)
        if kind == "int":
            return _typed(node["value"], int)
        if kind == "float":
            return float.fromhex(node["value"])
        if kind == "str":
            return _typed(node["value"], str)
        if kind == "list":
            return [self.decode(item) for item in node["items"]]
        if kind == "tuple":
            return tuple(self.decode(item) for item in node["items"])
        if kind == "dict":
            pairs = [(self.decode(k), self.decode(v)) for k, v in node["items"]]
            return OrderedDict(pairs) if node.get("ordered") else dict(pairs)
        if kind == "array":
            return self.array(node["array"])
        if kind == "scalar":
            return self.array(node["array"], host=True)[()]
        if kind == "tensor":
            data = self.array(node["array"])
            cls = Tensor
            if node.get("parameter"):
                from .nn.parameter import Parameter
                cls = Parameter
            tensor = cls._make(data)
            if node.get("requires_grad"):
                tensor.requires_grad_(True)
            tensor.name = node.get("name")
            return tensor
        raise CheckpointError(f"{self.where}: manifest.json has a node of unknown type {kind!r}")

    def array(self, key: str, host: bool = False):
        info = self.entries[str(key)]
        device = "cpu" if host else self.relocate(normalize_device(info["device"]))
        cached = self._loaded.get((key, device))
        if cached is not None:
            return cached
        array = self._loaded.get((key, "cpu"))
        if array is None:
            array = self._read(info)
            self._loaded[(key, "cpu")] = array
        if device != "cpu":
            try:
                array = backend_for_device(device).asarray(array, device=device)
            except BackendUnavailable as error:
                raise BackendUnavailable(
                    f"{self.where}: a tensor was saved on {info['device']} and would load on "
                    f"{device}, but {error}; pass map_location='cpu' to load it on the "
                    "CPU") from None
            self._loaded[(key, device)] = array
        return array

    def _read(self, info: dict):
        name = info["file"]
        if name not in self.names:
            raise CheckpointError(f"{self.where}: entry {name} listed in {MANIFEST} is missing "
                                  "from the archive (truncated or corrupt checkpoint)")
        try:
            with self.archive.open(name) as entry:
                array = numpy_backend().read_array(entry, self.max_entry_bytes)
                trailing = entry.read(1)       # reads to the end, so the CRC is checked
        except ValueError as error:
            if "allow_pickle" in str(error) or "Object arrays" in str(error):
                raise CheckpointError(
                    f"{self.where}: entry {name} holds a pickled object array; refused, since "
                    "loading it would run code from the file") from None
            raise CheckpointError(f"{self.where}: entry {name} is corrupt ({error})") from None
        except Exception as error:  # noqa: BLE001 - bad CRC, damaged header, huge shape, ...
            raise CheckpointError(f"{self.where}: entry {name} is corrupt "
                                  f"({type(error).__name__}: {error})") from None
        if trailing:
            raise CheckpointError(f"{self.where}: entry {name} is corrupt (bytes after the array)")
        if array.dtype.str != info["dtype"] or list(array.shape) != list(info["shape"]):
            raise CheckpointError(
                f"{self.where}: entry {name} holds a {array.dtype.str} array of shape "
                f"{tuple(array.shape)}, but {MANIFEST} says {info['dtype']} of shape "
                f"{tuple(info['shape'])} (corrupt checkpoint)")
        return array


def _typed(value, kind: type):
    if type(value) is not kind:
        raise TypeError(f"expected a {kind.__name__}, got {type(value).__name__}")
    return value


__all__ = ["save", "load", "CheckpointError", "remove_stale_temporaries", "MAX_ENTRY_BYTES",
           "MAX_TOTAL_BYTES"]
