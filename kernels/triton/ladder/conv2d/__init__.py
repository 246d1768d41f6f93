"""The conv2d ladder in Triton, bottom to top (see ``kernels/triton/ladder/__init__.py``).

Every rung exports ``conv2d_forward``, ``conv2d_backward_input``, ``conv2d_backward_weight`` and
``conv2d_backward_bias`` with the contract's signatures; the top rung is ``kernels/triton/conv2d.py``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Rung modules, bottom to top.
RUNGS = (
    "rung0_direct",
    "rung1_implicit_gemm",
    "rung2_tap_major",
    "rung3_stride_phase",
    "rung4_pointwise_gemm",
    "rung5_tma_persistent",
    "rung6_channels_last",
)


def load(name: str) -> ModuleType:
    """The rung module ``name`` (one of :data:`RUNGS`). Raises ValueError for another name."""
    if name not in RUNGS:
        raise ValueError(f"conv2d ladder: unknown rung {name!r}; rungs: {', '.join(RUNGS)}")
    return importlib.import_module(f"{__name__}.{name}")
