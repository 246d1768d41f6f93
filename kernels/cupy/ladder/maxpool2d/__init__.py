"""The max-pool ladder in CUDA C through CuPy, bottom to top (see ``kernels/cupy/ladder/__init__.py``).

Every rung exports ``maxpool2d_forward`` and ``maxpool2d_backward`` with the contract's signatures; the top rung is
``kernels/cupy/maxpool2d.py`` (with ``maxpool2d.cu``) and also exports the fused ``relu_maxpool2d_forward`` /
``relu_maxpool2d_backward``. The map is ``docs/ladder/maxpool2d.md``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Rung modules, bottom to top.
RUNGS = ("rung0_naive", "rung1_compact_argmax", "rung2_gather_backward", "rung3_vector_loads",
         "rung4_relu_fusion")


def load(name: str) -> ModuleType:
    """The rung module ``name`` (one of :data:`RUNGS`). Raises ValueError for another name."""
    if name not in RUNGS:
        raise ValueError(f"maxpool2d ladder: unknown rung {name!r}; rungs: {', '.join(RUNGS)}")
    return importlib.import_module(f"{__name__}.{name}")
