"""The conv2d ladder in CUDA C through CuPy, bottom to top (see ``kernels/cupy/ladder/__init__.py``).

Every rung exports ``conv2d_forward``, ``conv2d_backward_input``, ``conv2d_backward_weight`` and
``conv2d_backward_bias`` with the contract's signatures; the top rung is ``kernels/cupy/conv2d.py`` (with
``conv2d.cu``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Rung modules, bottom to top.
RUNGS = ("rung0_direct", "rung1_smem_tiling", "rung2_register_wmma", "rung3_stride_phase", "rung4_cp_async",
         "rung5_vector_loads")


def load(name: str) -> ModuleType:
    """The rung module ``name`` (one of :data:`RUNGS`). Raises ValueError for another name."""
    if name not in RUNGS:
        raise ValueError(f"conv2d ladder: unknown rung {name!r}; rungs: {', '.join(RUNGS)}")
    return importlib.import_module(f"{__name__}.{name}")
