"""Shared test fixtures: the device parametrization and the per-test seed. The comparison against PyTorch in
float64 (``rel_err``, ``torch_reference``, ``pair``) lives in tests/helpers.py; it is re-exported here."""

from __future__ import annotations

import os

import torch

# Without a GPU, Triton kernels run under its CPU interpreter; it must be chosen before any kernel is
# compiled, i.e. before the first test imports kernels.triton.
# Likewise the CUDA C kernels of kernels.cupy run on the CPU emulator (g++ + the CUDA headers).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
    os.environ.setdefault("KERNELGRAD_CUDA_EMULATE", "1")


def _interpreter_without_overflow_checks() -> None:
    """Triton's interpreter checks every 32-bit integer add / sub / mul for overflow by recomputing it in int64
    and asserting the range (``InterpreterOptions.sanitize_overflow``, on by default): about a third of the
    interpreter's time in the GPU-backend tests (cProfile of ``train vae --device triton``). Compiled kernels on
    a GPU never check; with the check off the interpreter wraps 32-bit integers as a GPU does, and every test
    still compares values, so an index that overflows gives a wrong value there. Set
    ``KERNELGRAD_TEST_SANITIZE_OVERFLOW=1`` to keep the check (subprocess-based tests always keep it)."""
    if os.environ.get("KERNELGRAD_TEST_SANITIZE_OVERFLOW") == "1" or os.environ.get("TRITON_INTERPRET") != "1":
        return
    try:
        import dataclasses
        import functools

        from triton.runtime import interpreter
    except ImportError:  # no Triton: nothing to configure
        return
    options = interpreter.InterpreterOptions
    if not (isinstance(options, type) and "sanitize_overflow" in {f.name for f in dataclasses.fields(options)}):
        return  # another Triton: leave it as it is
    interpreter.InterpreterOptions = functools.partial(options, sanitize_overflow=False)  # builders made later
    builder = getattr(interpreter, "interpreter_builder", None)  # the module's builder, made at its import
    if builder is not None and isinstance(getattr(builder, "options", None), options):
        builder.options = dataclasses.replace(builder.options, sanitize_overflow=False)


_interpreter_without_overflow_checks()

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import framework as fw  # noqa: E402
from framework.backend import unavailable_devices  # noqa: E402
from tests.helpers import pair, rel_err, torch_reference  # noqa: E402, F401  (re-exported)

#: Every device the framework-level tests run on; absent ones skip with the reason.
DEVICES = ["cpu", "triton", "cupy"]


#: Test files that run for minutes on one worker (compiling every kernel ahead of time); they start first.
LONG_FILES = ("tests/kernels/test_aot_compile.py", "tests/kernels/test_nvrtc_compile.py")


def pytest_configure(config):
    """``--dist loadfile`` hands whole files to workers. pytest-xdist would dispatch them by test count, largest
    first (``loadscopereorder``), which starts the 7-test ahead-of-time compile (the longest file, ~10 min on one
    core) about two thirds of the way through and makes it the run's tail. Here files are dispatched in the order
    :func:`pytest_collection_modifyitems` gives: the long files first, then by test count."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def _file_order(items) -> None:
    """Sort ``items`` (stable, so each file keeps its own order) by file: LONG_FILES first, then by test count."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.nodeid.split("::")[0]] = counts.get(item.nodeid.split("::")[0], 0) + 1

    def rank(item) -> tuple:
        path = item.nodeid.split("::")[0]
        long_rank = LONG_FILES.index(path) if path in LONG_FILES else len(LONG_FILES)
        return (long_rank, -counts[path], path)

    items.sort(key=rank)


def pytest_collection_modifyitems(config, items):
    _file_order(items)
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
    ``rng`` fixture, torch's and numpy's global generators (tests drawing with ``torch.randn`` are
    reproducible too) and the framework's own stream (``fw.manual_seed``: parameter initialisation,
    ``fw.randn``/``fw.rand``, shuffling and the dropout seed). Replay a failure with
    ``KERNELGRAD_TEST_SEED=<seed> pytest ...``."""
    seed = int(os.environ.get("KERNELGRAD_TEST_SEED", np.random.SeedSequence().entropy % 2**32))
    print(f"test seed: {seed} (replay: KERNELGRAD_TEST_SEED={seed})")
    torch.manual_seed(seed)
    np.random.seed(seed)
    fw.manual_seed(seed)
    return seed


@pytest.fixture
def rng(test_seed) -> np.random.Generator:
    """Fresh random inputs each run, from the printed :func:`test_seed`."""
    return np.random.default_rng(test_seed)


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
