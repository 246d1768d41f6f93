"""``fw.save`` / ``fw.load``: state dicts and nested containers of tensors in a safe file format.

PyTorch pickles, so loading a file can run any code in it. Here the file is a ``.safetensors`` file:

* every tensor's bytes are one safetensors entry (``"0"``, ``"1"``, ...), written from host memory;
* the safetensors metadata key ``kernelgrad.save`` holds a JSON document: the format name and version
  and the saved object, in which every container and special value is a one-key tagged JSON object
  (``{"dict": [[key, value], ...]}``, ``{"list": [...]}``, ``{"tuple": [...]}``, ``{"odict": ...}``,
  ``{"tensor": "3", "dtype": ..., "device": ..., "requires_grad": ...}``, ...) and numbers, strings,
  bools and None are plain JSON values.

Loading reads the JSON and the arrays back, nothing else: no object is ever constructed from a name in
the file, so ``weights_only`` is always in effect. What can be saved: Tensors (and ``nn.Parameter``),
numpy arrays, Python numbers/strings/bools/None, dtypes, devices, and dicts (any of those as keys,
e.g. an optimizer's int keys), OrderedDicts, lists and tuples of them. Anything else raises TypeError
naming its type and where it sits. A tensor that appears twice is stored once and loads as one object;
but views of one storage (``t`` and ``t[0]``, ``t.t()``) load as independent contiguous copies, where
PyTorch keeps them sharing memory (a write into one shows in the other).

Writes to a path go through :func:`framework.atomic.atomic_write`: a crash leaves the old file or the
new one, never half of one, and no temporary behind.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections import OrderedDict
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from .backend import Backend, device, get_backend
from .dtypes import DType, as_dtype
from .tensor import Tensor

__all__ = ["save", "load"]

_FORMAT = "kernelgrad-save"
_VERSION = 1
_META_KEY = "kernelgrad.save"


def save(obj: Any, f: str | os.PathLike | IO[bytes]) -> None:
    """Write ``obj`` (a state dict, or nested dicts/lists/tuples of tensors and plain values) to ``f``.

    Args:
        obj: what to save (see the module docstring for the supported types).
        f: a path (written atomically; its directory must exist) or a binary file object with ``write``.

    Raises:
        TypeError: ``obj`` holds something that cannot be saved (the message names its type and path).
    """
    from safetensors.numpy import save as safetensors_bytes

    arrays: dict[str, np.ndarray] = {}
    document = {"format": _FORMAT, "version": _VERSION, "object": _encode(obj, arrays, {}, "obj")}
    data = safetensors_bytes(arrays, metadata={_META_KEY: json.dumps(document)})
    if hasattr(f, "write"):
        f.write(data)
        return
    if not isinstance(f, str | os.PathLike):
        raise TypeError(f"save(): f must be a path or a binary file object, got {type(f).__name__}")
    from .atomic import atomic_write

    with atomic_write(f, "wb") as out:
        out.write(data)


def load(f: str | os.PathLike | IO[bytes], map_location: Any = None, weights_only: bool | None = None) -> Any:
    """Read an object written by :func:`save`.

    Args:
        f: a path or a binary file object with ``read``.
        map_location: where tensors go: ``None`` (the device each was saved from), a device (``"cpu"``,
            ``fw.device("cuda")``), a dict mapping saved device names to devices (``{"cuda": "cpu"}``;
            unlisted devices stay), or a callable ``(cpu_tensor, saved_device_name) -> Tensor`` (as
            ``lambda storage, loc: storage``, which keeps everything on the cpu).
        weights_only: accepted for PyTorch compatibility; the format holds data only, so loading is
            always as safe as PyTorch's ``weights_only=True``.

    Raises:
        ValueError: the file is not one written by :func:`save` (or is damaged, or a newer version).
        TypeError: ``map_location`` is of an unsupported type.
        RuntimeError: a tensor's device is not available here and ``map_location`` does not move it.
    """
    del weights_only  # always data-only: see above
    place = _placement(map_location)
    if hasattr(f, "read"):
        data, name = f.read(), getattr(f, "name", type(f).__name__)
    elif isinstance(f, str | os.PathLike):
        with open(f, "rb") as handle:
            data, name = handle.read(), os.fspath(f)
    else:
        raise TypeError(f"load(): f must be a path or a binary file object, got {type(f).__name__}")
    document, arrays = _read(data, name)
    return _decode(document["object"], arrays, place, {})


# --------------------------------------------------------------------------------------- encoding


def _encode(obj: Any, arrays: dict[str, np.ndarray], seen: dict[int, str], where: str) -> Any:
    """``obj`` as JSON-ready data, moving tensor bytes into ``arrays``; ``where`` names the spot for errors."""
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, DType):  # before str: a DType is a str
        return {"dtype": str(obj)}
    if isinstance(obj, device):
        return {"device": str(obj)}
    if isinstance(obj, int | str):
        return obj
    if isinstance(obj, float):
        # JSON has no NaN/inf: keep them as tagged strings so the document stays standard JSON.
        return obj if math.isfinite(obj) else {"float": repr(obj)}
    if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
        return _encode(obj.item(), arrays, seen, where)
    if isinstance(obj, Tensor):
        return _encode_tensor(obj, arrays, seen)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"save(): cannot save a numpy array of dtype {obj.dtype} (at {where})")
        key = _store(np.asarray(obj), arrays)
        return {"ndarray": key}
    if isinstance(obj, dict):
        items = [[_encode(k, arrays, seen, f"{where} key {k!r}"), _encode(v, arrays, seen, f"{where}[{k!r}]")]
                 for k, v in obj.items()]
        return {"odict" if isinstance(obj, OrderedDict) else "dict": items}
    if isinstance(obj, list | tuple) and type(obj) in (list, tuple):  # not namedtuples: their class is code
        items = [_encode(v, arrays, seen, f"{where}[{i}]") for i, v in enumerate(obj)]
        return {type(obj).__name__: items}
    raise TypeError(f"save(): cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__} "
                    f"(at {where}); supported: Tensor, numpy array, int, float, bool, str, None, dtype, "
                    "device, and dict/OrderedDict/list/tuple of those")


def _encode_tensor(t: Tensor, arrays: dict[str, np.ndarray], seen: dict[int, str]) -> dict:
    from .nn.parameter import Parameter

    key = seen.get(id(t))
    if key is None:
        host = t.numpy()
        if t.dtype == "bfloat16":  # numpy (and so safetensors.numpy) has no bfloat16; float32 holds it exactly
            host = host.astype(np.float32)
        key = seen[id(t)] = _store(host, arrays)
    return {"tensor": key, "dtype": str(t.dtype), "device": t.backend.name, "requires_grad": t.requires_grad,
            "parameter": isinstance(t, Parameter)}


def _store(array: np.ndarray, arrays: dict[str, np.ndarray]) -> str:
    key = str(len(arrays))
    # safetensors wants C-contiguous bytes (not np.ascontiguousarray: it turns a 0-d array into 1-d).
    arrays[key] = array if array.flags.c_contiguous else array.copy(order="C")
    return key


# --------------------------------------------------------------------------------------- decoding


def _read(data: bytes, name: str) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON document and the arrays of a file's bytes; ValueError for anything not ours."""
    from safetensors.numpy import load as safetensors_arrays

    not_ours = f"load(): {name} is not a file written by fw.save"
    # safetensors layout: an 8-byte little-endian header length, then the JSON header (with __metadata__).
    try:
        (size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + size])
        document = json.loads(header["__metadata__"][_META_KEY])
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        if data[:2] == b"PK" or data[:1] == b"\x80":  # a zip archive or a raw pickle: what torch.save writes
            raise ValueError(f"{not_ours}: it looks like a torch.save pickle, which kernelgrad never unpickles "
                             "(load it with torch, then fw.save a dict of the tensors' .numpy() arrays)") from None
        raise ValueError(f"{not_ours} (no {_META_KEY} metadata)") from exc
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise ValueError(f"{not_ours} (format {document.get('format') if isinstance(document, dict) else None!r})")
    if document.get("version") != _VERSION:
        raise ValueError(f"load(): {name} has format version {document.get('version')!r}; this kernelgrad "
                         f"reads version {_VERSION}")
    try:
        arrays = safetensors_arrays(data)
    except Exception as exc:  # safetensors raises its own SafetensorError for damaged files
        raise ValueError(f"load(): {name} is damaged: {exc}") from exc
    return document, arrays


def _decode(obj: Any, arrays: dict[str, np.ndarray], place: Callable, loaded: dict[str, Tensor]) -> Any:
    if not isinstance(obj, dict):
        return obj
    if "tensor" in obj:
        return _decode_tensor(obj, arrays, place, loaded)
    if len(obj) != 1:
        raise ValueError(f"load(): malformed entry {sorted(obj)} in the file")
    ((tag, value),) = obj.items()
    if tag == "ndarray":
        return arrays[value].copy()
    if tag == "float":
        return float(value)
    if tag == "dtype":
        return as_dtype(value)
    if tag == "device":
        return device(value)
    if tag in ("dict", "odict"):
        pairs = ((_decode(k, arrays, place, loaded), _decode(v, arrays, place, loaded)) for k, v in value)
        return OrderedDict(pairs) if tag == "odict" else dict(pairs)
    if tag == "list":
        return [_decode(v, arrays, place, loaded) for v in value]
    if tag == "tuple":
        return tuple(_decode(v, arrays, place, loaded) for v in value)
    raise ValueError(f"load(): unknown entry {tag!r} in the file")



def _decode_tensor(entry: dict, arrays: dict[str, np.ndarray], place: Callable, loaded: dict[str, Tensor]) -> Tensor:
    key = entry["tensor"]
    if key in loaded:  # the same tensor saved twice loads as one object
        return loaded[key]
    host = Tensor(arrays[key], dtype=entry["dtype"] if entry["dtype"] != "bfloat16" else "float32", device="cpu")
    t = place(host, entry["device"])
    if entry["dtype"] == "bfloat16":
        t = t.to(dtype="bfloat16")
    if entry.get("parameter"):
        from .nn.parameter import Parameter

        t = Parameter(t, requires_grad=entry["requires_grad"])
    elif entry["requires_grad"]:
        t.requires_grad_(True)
    loaded[key] = t
    return t


def _placement(map_location: Any) -> Callable[[Tensor, str], Tensor]:
    """``map_location`` as one function ``(cpu tensor, saved device name) -> tensor where it belongs``."""
    def move(t: Tensor, target: Any) -> Tensor:
        try:
            backend = get_backend(target)
        except RuntimeError as exc:
            raise RuntimeError(f"load(): {exc}; pass map_location='cpu' (or another device) to load it elsewhere"
                               ) from None
        return t if backend is t.backend else Tensor._wrap(backend.from_numpy(t.numpy(), str(t.dtype)), backend)

    if map_location is None:
        return move
    if isinstance(map_location, str | Backend):
        return lambda t, saved: move(t, map_location)
    if isinstance(map_location, dict):
        return lambda t, saved: move(t, map_location.get(saved, saved))
    if callable(map_location):
        def call(t: Tensor, saved: str) -> Tensor:
            out = map_location(t, saved)
            if not isinstance(out, Tensor):
                raise TypeError(f"load(): map_location returned {type(out).__name__}, expected a Tensor")
            return out
        return call
    raise TypeError(f"load(): map_location must be None, a device, a dict or a callable, got "
                    f"{type(map_location).__name__}")
