"""The linear + bias + ReLU ladder in CUDA C through CuPy, bottom to top (see ``kernels/cupy/ladder/__init__.py``).

Every rung exports ``linear_forward`` and ``linear_backward`` with the contract's signatures; the top rung is
``kernels/cupy/linear_relu.py`` (with ``linear_relu.cu``). The map is ``docs/ladder/linear_relu.md``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Rung modules, bottom to top.
RUNGS = ("rung0_naive", "rung1_smem_tiling", "rung2_register_wmma", "rung3_cp_async")


def load(name: str) -> ModuleType:
    """The rung module ``name`` (one of :data:`RUNGS`). Raises ValueError for another name."""
    if name not in RUNGS:
        raise ValueError(f"linear_relu ladder: unknown rung {name!r}; rungs: {', '.join(RUNGS)}")
    return importlib.import_module(f"{__name__}.{name}")
