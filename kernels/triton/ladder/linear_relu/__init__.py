"""The linear + bias + ReLU ladder in Triton, bottom to top (see ``kernels/triton/ladder/__init__.py``).

Every rung exports ``linear_forward`` and ``linear_backward`` with the contract's signatures; the top rung is
``kernels/triton/linear_relu.py``. The map is ``docs/ladder/linear_relu.md``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Rung modules, bottom to top.
RUNGS = (
    "rung0_naive",
    "rung1_tiled",
    "rung2_fused_mask",
    "rung3_grouped",
    "rung4_autotuned",
    "rung5_tma_persistent",
    "rung6_split_k",
)


def load(name: str) -> ModuleType:
    """The rung module ``name`` (one of :data:`RUNGS`). Raises ValueError for another name."""
    if name not in RUNGS:
        raise ValueError(f"linear_relu ladder: unknown rung {name!r}; rungs: {', '.join(RUNGS)}")
    return importlib.import_module(f"{__name__}.{name}")
