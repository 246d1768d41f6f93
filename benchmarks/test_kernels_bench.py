"""pytest-benchmark driver for the kernel benchmark cases of ``benchmarks/kernels.py`` (GPU only).

Collected only when named: ``pytest benchmarks/test_kernels_bench.py`` (the default ``pytest`` run
looks in ``tests/`` only). Skips cleanly without a CUDA GPU or without pytest-benchmark. The
``kernelgrad bench`` table (CUDA-event medians, roofline fractions, JSON) is the primary tool; this file
puts the same cases under pytest-benchmark's statistics and comparison (``--benchmark-compare``).
Set ``KERNELGRAD_BENCH_SUITE=full`` for the full suite (default: quick).
"""

import os

import pytest
import torch

from benchmarks import kernels as kb

pytest.importorskip("pytest_benchmark", reason="pytest-benchmark is not installed (pip install -e .[dev])")
if not torch.cuda.is_available():
    pytest.skip("needs an NVIDIA GPU (torch.cuda.is_available() is False)", allow_module_level=True)

SUITE = os.environ.get("KERNELGRAD_BENCH_SUITE", "quick")
CASES = kb.build_cases(SUITE)
IMPLS = ["torch", *kb.GPU_BACKENDS]


@pytest.fixture(scope="module")
def backends():
    loaded, skipped = kb.load_backends(kb.GPU_BACKENDS, "cuda")
    return {b.name: b for b in loaded}, skipped


@pytest.mark.gpu
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("pass_", kb.PASSES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.family}-{c.name}-{c.dtype}".replace(" ", "_"))
def test_kernel(benchmark, backends, case, pass_, impl):
    loaded, skipped = backends
    if impl != "torch" and impl not in loaded:
        pytest.skip(f"backend {impl} unavailable: {skipped.get(impl, 'not loaded')}")
    gen = torch.Generator(device="cuda").manual_seed(0)
    inputs = case.make_inputs(torch.device("cuda"), getattr(torch, case.dtype), gen)
    if impl == "torch":
        torch_fn = case.torch(pass_)

        def call():
            torch_fn(inputs)
            torch.cuda.synchronize()  # pytest-benchmark reads a host clock: wait for the device
    else:
        backend, ours_fn = loaded[impl], case.ours(pass_)
        native = backend.convert(inputs)

        def call():
            ours_fn(backend.module, native)
            torch.cuda.synchronize()

    call()  # compile / autotune outside the timed rounds
    benchmark.extra_info.update(family=case.family, case=case.name, dtype=case.dtype, pass_=pass_,
                                flops=case.flops[pass_], bytes=case.bytes[pass_])
    benchmark.pedantic(call, rounds=100, warmup_rounds=10, iterations=1)
