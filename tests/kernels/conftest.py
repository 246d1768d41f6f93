"""Shared fixtures for the kernel tests: one parametrised ``kernel_backend`` per kernel package.

Every value test runs against ``kernels.numpy`` (the reference) and, when importable, against
``kernels.triton`` and ``kernels.cupy``; a backend whose package or hardware is missing is skipped
with the reason.  References are computed with PyTorch in float64 on the CPU (``torch_reference``).

Layout, the same for every backend:

* ``test_<family>.py`` -- what every backend must do, run through the one ``kernel_backend``
  parametrization (values and gradients vs torch, finite differences, bad input, NaN/inf);
* ``numpy/``, ``triton/``, ``cupy/test_<family>.py`` -- what only that backend has (launch configs, tile
  and split plans, autotune keys, half precision paths, the wrapper's own checks); ``cupy/`` also holds
  the CUDA emulator's and runtime's tests and the C++/CUDA self-test sources (``cupy/cuda/``);
* ``test_kernels_gpu.py`` (large shapes and half precision on a real GPU) and the ahead-of-time compile
  checks (``test_aot_compile.py``: Triton; ``test_cuda_compile.py``, ``test_nvrtc_compile.py``: CUDA C).

``-k triton`` selects the Triton tests (the folder, the ``triton`` parameter or the test's name), as CI's
second environment does.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from tests.helpers import rel_err, torch_reference  # noqa: F401  (re-exported for the kernel tests)

BACKEND_NAMES = ["numpy", "triton", "cupy"]


@dataclass(frozen=True)
class KernelBackend:
    """A kernel package plus the converters between numpy and its native arrays."""

    name: str
    module: Any
    to_native: Any
    to_numpy: Any

    def family(self, name: str) -> Any:
        """The kernel-family module, e.g. ``kb.family("conv2d").conv2d_forward``."""
        return getattr(self.module, name)


def _load(name: str) -> KernelBackend:
    try:
        module = importlib.import_module(f"kernels.{name}")
    except Exception as exc:  # any import failure (missing package, no GPU) means unavailable
        pytest.skip(f"kernels.{name} not importable: {type(exc).__name__}: {exc}")
    if name == "numpy":
        return KernelBackend(name, module, lambda a: a, np.asarray)
    if name == "triton":
        torch = pytest.importorskip("torch")
        device = "cuda" if torch.cuda.is_available() else "cpu"
        return KernelBackend(
            name,
            module,
            lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device),
            lambda t: t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t),
        )
    from kernels.cupy._runtime import emulating

    if emulating():  # KERNELGRAD_CUDA_EMULATE=1: the CUDA C kernels run on the CPU, on numpy arrays
        return KernelBackend(name, module, np.ascontiguousarray, np.asarray)
    cupy = pytest.importorskip("cupy")
    return KernelBackend(name, module, cupy.asarray, cupy.asnumpy)


@pytest.fixture(params=BACKEND_NAMES)
def kernel_backend(request) -> KernelBackend:
    return _load(request.param)


def ladder_params(family: str) -> list[str]:
    """``BACKEND_NAMES`` plus ``"<backend>/<rung>"`` for every rung of ``family``'s optimisation ladders below
    the top one (the top rung *is* the backend's production kernel, already in the list). The names come from
    ``kernels/<backend>/ladder/<family>/__init__.py``'s RUNGS, read as text so collection imports nothing."""
    import ast
    from pathlib import Path

    params = list(BACKEND_NAMES)
    root = Path(__file__).resolve().parents[2] / "kernels"
    for backend in BACKEND_NAMES:
        registry = root / backend / "ladder" / family / "__init__.py"
        if registry.is_file():
            for node in ast.parse(registry.read_text()).body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "RUNGS" for t in node.targets):
                    params += [f"{backend}/{rung}" for rung in ast.literal_eval(node.value)[:-1]]
    return params


class _Rung:
    """A kernel package seen through one ladder rung: ``family(<family>)`` is the rung module."""

    def __init__(self, module: Any, family: str, rung: Any) -> None:
        self._module, self._family, self._rung = module, family, rung

    def __getattr__(self, name: str) -> Any:
        return self._rung if name == self._family else getattr(self._module, name)


def load_ladder_backend(param: str, family: str) -> KernelBackend:
    """:func:`_load` for ``"numpy"``-style names; for ``"<backend>/<rung>"`` the backend with ``family`` replaced
    by that rung."""
    name, _, rung = param.partition("/")
    kb = _load(name)
    if not rung:
        return kb
    ladder = importlib.import_module(f"kernels.{name}.ladder.{family}")
    return KernelBackend(param, _Rung(kb.module, family, ladder.load(rung)), kb.to_native, kb.to_numpy)


def tolerance(dtype) -> float:
    """Relative-error bound against the float64 PyTorch reference."""
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-10


@pytest.fixture
def rng(test_seed) -> np.random.Generator:
    """Fresh inputs every run, from the root conftest's printed ``test_seed`` (KERNELGRAD_TEST_SEED replays)."""
    return np.random.default_rng(test_seed)
