"""The dropout ladder in CUDA C through CuPy, bottom to top (see ``kernels/cupy/ladder/__init__.py``).

Every rung exports ``dropout_forward`` and ``dropout_backward`` with the contract's signatures and draws the same
mask (the RNG contract of ``kernels/numpy/dropout.py``); rungs 2 and 3 re-export production's functions (rung 2
added the fused ``dropout_add_forward`` / ``dropout_add_backward``, rung 3 ``linear_relu_dropout_forward`` /
``linear_relu_dropout_backward``: bias + ReLU + dropout in the linear epilogue), and the top rung is
``kernels/cupy/dropout.py`` (with ``dropout.cu``). The map is ``docs/ladder/dropout.md``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Rung modules, bottom to top.
RUNGS = ("rung0_per_element", "rung1_four_per_call", "rung2_residual_add", "rung3_linear_epilogue")


def load(name: str) -> ModuleType:
    """The rung module ``name`` (one of :data:`RUNGS`). Raises ValueError for another name."""
    if name not in RUNGS:
        raise ValueError(f"dropout ladder: unknown rung {name!r}; rungs: {', '.join(RUNGS)}")
    return importlib.import_module(f"{__name__}.{name}")
