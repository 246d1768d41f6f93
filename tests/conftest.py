"""Shared test fixtures: the device parametrization and the comparison against PyTorch in float64."""

from __future__ import annotations

import os

import torch

# Without a GPU, Triton kernels run under its CPU interpreter; it must be chosen before any kernel is
# compiled, i.e. before the first test imports kernels.triton.
# Likewise the CUDA C kernels of kernels.cupy run on the CPU emulator (g++ + the CUDA headers).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
    os.environ.setdefault("KERNELGRAD_CUDA_EMULATE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import framework as fw  # noqa: E402
from framework.backend import unavailable_devices  # noqa: E402

#: Every device the framework-level tests run on; absent ones skip with the reason.
DEVICES = ["cpu", "triton", "cupy"]


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs an NVIDIA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    name = request.param
    if name not in fw.available_devices():
        reason = unavailable_devices().get(name, "not registered")
        pytest.skip(f"device {name!r} is not available here: {reason}")
    return name


@pytest.fixture(autouse=True)
def test_seed() -> int:
    """A fresh seed per test, printed (pytest shows it with a failure's captured output) and used for the
    ``rng`` fixture and torch's and numpy's global generators (tests drawing with ``torch.randn`` are
    reproducible too). Replay a failure with ``KERNELGRAD_TEST_SEED=<seed> pytest ...``."""
    seed = int(os.environ.get("KERNELGRAD_TEST_SEED", np.random.SeedSequence().entropy % 2**32))
    print(f"test seed: {seed} (replay: KERNELGRAD_TEST_SEED={seed})")
    torch.manual_seed(seed)
    np.random.seed(seed)
    return seed


@pytest.fixture
def rng(test_seed) -> np.random.Generator:
    """Fresh random inputs each run, from the printed :func:`test_seed`."""
    return np.random.default_rng(test_seed)


def rel_err(out, ref) -> float:
    """‖out − ref‖ / ‖ref‖ in float64; refuses to compare against an all-zero reference."""
    out = np.asarray(out.numpy() if isinstance(out, fw.Tensor) else out, dtype=np.float64)
    ref = np.asarray(ref.detach().numpy() if isinstance(ref, torch.Tensor) else ref, dtype=np.float64)
    assert out.shape == ref.shape, f"shape {out.shape} != reference shape {ref.shape}"
    norm = np.linalg.norm(ref)
    assert norm > 0, "reference is all zeros: the comparison would prove nothing"
    return float(np.linalg.norm(out - ref) / norm)


def pair(array: np.ndarray, device: str, dtype=np.float32, requires_grad: bool = True):
    """The same values as a kernelgrad tensor (``dtype``) and a float64 torch leaf (the reference)."""
    ours = fw.tensor(array.astype(dtype), device=device, requires_grad=requires_grad)
    ref = torch.tensor(array.astype(np.float64), requires_grad=requires_grad)
    return ours, ref


def pytest_terminal_summary(terminalreporter):
    """One line per skip reason (instead of one per test), so absent devices are visible but not noisy."""
    counts: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        counts[reason] = counts.get(reason, 0) + 1
    if counts:
        terminalreporter.section("skipped, by reason")
        for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            terminalreporter.write_line(f"{n:5d}  {reason}")
