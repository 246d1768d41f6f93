"""Atomic file writes: a reader sees the old file or the whole new one, never half of it.

Every file kernelgrad writes for a user (checkpoints, ``fw.save``, ``metrics.json``, plots) goes through
:func:`atomic_write`: the bytes go to a temporary file in the destination directory, are flushed to disk,
and ``os.replace`` publishes them under the final name in one step.

Two details a plain ``tempfile.mkstemp`` gets wrong:

* permissions: ``mkstemp`` creates the file 0600 whatever the user's umask; here the temporary file is
  opened with mode 0666 so the umask applies, as for ``open(path, "w")``;
* litter: a process killed (SIGKILL, OOM, power loss) between create and rename cannot clean up after
  itself. The temporary name carries the writer's pid (``.<name>.<pid>.<random>.tmp``), and every later
  write to the same destination removes the temporaries whose writer is no longer alive.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "remove_stale_temporaries", "save_figure"]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete temporaries of ``path`` left by writers that died before renaming; returns what was removed."""
    path = Path(path)
    removed = []
    prefix = f".{path.name}."
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return removed
    for candidate in candidates:
        name = candidate.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        parts = name[len(prefix):-len(".tmp")].split(".")
        if len(parts) != 2 or not parts[0].isdigit():
            continue  # not one of ours
        pid = int(parts[0])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            candidate.unlink()
            removed.append(candidate)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit publish it as ``path``, else delete it.

    Args:
        path: the destination file; its directory must exist.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).

    Yields:
        the open temporary file (its ``.name`` is the temporary path, for writers that want a filename).

    Raises:
        ValueError: ``mode`` is not ``"wb"`` or ``"w"``.
        OSError: the directory is missing or not writable (nothing is left behind).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    remove_stale_temporaries(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0666 & ~umask, like open()
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # durable before the rename publishes it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def save_figure(fig, path: str | os.PathLike, **savefig_kwargs) -> None:
    """``fig.savefig`` through :func:`atomic_write`; the format comes from ``path``'s suffix (default png)."""
    path = Path(path)
    fmt = savefig_kwargs.pop("format", path.suffix.lstrip(".") or "png")
    with atomic_write(path) as f:
        fig.savefig(f, format=fmt, **savefig_kwargs)
