"""The softmax-cross-entropy ladder in CUDA C through CuPy, bottom to top (see ``kernels/cupy/ladder/__init__.py``).

Every rung exports ``softmax_cross_entropy_forward`` and ``softmax_cross_entropy_backward`` with the contract's
signatures; the top rung is ``kernels/cupy/softmax_xent.py`` (with ``softmax_xent.cu``). The map is
``docs/ladder/softmax_xent.md``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Rung modules, bottom to top.
RUNGS = ("rung0_three_pass", "rung1_online_stats", "rung2_fused_block", "rung3_warp_rows", "rung4_split_rows")


def load(name: str) -> ModuleType:
    """The rung module ``name`` (one of :data:`RUNGS`). Raises ValueError for another name."""
    if name not in RUNGS:
        raise ValueError(f"softmax_xent ladder: unknown rung {name!r}; rungs: {', '.join(RUNGS)}")
    return importlib.import_module(f"{__name__}.{name}")
