"""Atomic result files for every benchmark script: a temporary file in the same folder, then ``os.replace``.

A run that is killed (a device lease ending, a timeout) leaves the previous file or the new one, never half.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict[str, Any], indent: int = 2) -> None:
    """Write ``data`` as JSON atomically."""
    write_text(path, json.dumps(data, indent=indent) + "\n")
