"""glibc malloc settings for the ``cpu`` device: keep freed array memory in the process instead of returning it.

Why: a kernelgrad training step on the CPU allocates and frees a few dozen numpy temporaries (column matrices,
gradients, masks), many of them 100 KB - 50 MB.  glibc's malloc serves blocks above its mmap threshold (128 KiB
at start, raised dynamically only up to 32 MiB) with a fresh ``mmap`` and unmaps them on free, and returns the
top of the heap to the OS whenever more than the trim threshold is free there.  Either way the next step's
arrays land on pages the kernel must fault in and zero again: measured on DigitsCNN's step, the same
``maxpool2d_backward`` call took 0.2 ms back to back and 1.0-1.7 ms right after a step, and the whole DigitsCNN
step ran 1.2-1.5x slower than with the settings below (``benchmarks/README.md``, ``cpu_train_step.py``'s
results).  PyTorch's own tuning guide answers the same problem by swapping in jemalloc or tcmalloc; changing three
of glibc's ``mallopt`` parameters does it without a new dependency:

* ``M_MMAP_THRESHOLD`` = 1 GiB (or glibc's largest accepted value): arrays below it come from the heap, so a
  freed block is reused by the next allocation of its size without a page fault;
* ``M_TRIM_THRESHOLD`` = 1 GiB: free memory at the top of the heap stays mapped up to that much;
* ``M_TOP_PAD`` = 64 MiB: the heap grows in steps of at least that (fewer ``brk`` calls).

The cost is resident memory: a process keeps up to its peak heap (plus at most 1 GiB of free top) instead of
shrinking between steps -- what any caching allocator does.  The settings are process-wide, so a PyTorch model in
the same process (``benchmarks/cpu_train_step.py`` runs both) allocates under them too; its step time did not
measurably change.  They are applied once, when the ``cpu`` backend loads, on Linux with glibc only (elsewhere
nothing is changed).  ``KERNELGRAD_CPU_MALLOC=default`` in the environment leaves glibc's defaults alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["ENV_VAR", "tune", "settings"]

#: Set to ``default`` to leave glibc's malloc settings alone.
ENV_VAR = "KERNELGRAD_CPU_MALLOC"

# mallopt parameter numbers from glibc's <malloc.h>
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_GIB, _MIB = 1 << 30, 1 << 20
# glibc caps the mmap threshold at HEAP_MAX_SIZE / 2 (32 MiB on 64-bit builds before 2.35); tried in this order
_MMAP_THRESHOLDS = (_GIB, 32 * _MIB)

_applied: dict[str, int] | None = None


def _glibc_mallopt():
    """glibc's ``mallopt`` in this process, or None (not Linux, another C library, no symbol)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only (musl has mallopt as a no-op stub)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt


def tune() -> dict[str, int]:
    """Apply the settings (module docstring) once per process; returns what was set (``{}`` when nothing was:
    not glibc, or ``KERNELGRAD_CPU_MALLOC=default``).  Later calls return the first call's answer."""
    global _applied
    if _applied is not None:
        return dict(_applied)
    _applied = {}
    if os.environ.get(ENV_VAR, "").strip().lower() == "default":
        return {}
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return {}
    for threshold in _MMAP_THRESHOLDS:
        if mallopt(_M_MMAP_THRESHOLD, threshold):
            _applied["M_MMAP_THRESHOLD"] = threshold
            break
    for name, param, value in (("M_TRIM_THRESHOLD", _M_TRIM_THRESHOLD, _GIB), ("M_TOP_PAD", _M_TOP_PAD, 64 * _MIB)):
        if mallopt(param, value):
            _applied[name] = value
    return dict(_applied)


def settings() -> dict[str, int]:
    """What :func:`tune` set in this process (``{}`` if it set nothing or has not run)."""
    return dict(_applied or {})
