"""The CPU emulator for the CUDA C kernels: barriers, shared memory, shuffles, WMMA, launch checks.

These kernels (tests/kernels/cupy/cuda/emulator_selftest.cu) are real CUDA (CI compiles them with nvcc); here
they run through ``kernels.cupy.emulator`` and must give what a GPU gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kernels.cupy import _runtime
from kernels.cupy.emulator import EmulatedModule, available

from ..conftest import rel_err

SELFTEST = Path(__file__).parent / "cuda" / "emulator_selftest.cu"
EXPRESSIONS = (
    "block_sum",
    "warp_reduce<float>",
    "warp_reduce<double>",
    "warp_reduce<__half>",
    "early_exit_scale",
    "wmma_16x16x16",
    "index_grid",
    "pipeline_copy",
    "pipeline_deferred",
    "tf32_round",
)

ok, why = available()
pytestmark = pytest.mark.skipif(not ok, reason=f"CUDA emulator unavailable: {why}")


@pytest.fixture(scope="module")
def module() -> EmulatedModule:
    return EmulatedModule(SELFTEST, EXPRESSIONS, include_dirs=(_runtime.KERNEL_DIR,))


def test_block_sum_uses_barriers_and_shared_memory(module, rng):
    x = rng.standard_normal((5, 1000)).astype(np.float32)
    out = np.zeros(5, np.float32)
    module.launch("block_sum", (5, 1, 1), (128, 1, 1), (x, out, np.int32(1000)))
    # A float32 tree sum errs by ~eps * sum|x| (not * |sum|: a row summing near zero would fail by chance)
    bound = 1e-6 * np.abs(x).sum(axis=1, dtype=np.float64)
    assert (np.abs(out - x.sum(axis=1, dtype=np.float64)) <= bound).all()
    assert (out != 0).all()  # a kernel that never wrote would not pass by luck


@pytest.mark.parametrize("dtype, name", [(np.float32, "float"), (np.float64, "double"), (np.float16, "__half")])
def test_warp_shuffles(module, rng, dtype, name):
    x = rng.standard_normal(96).astype(dtype)
    sums, maxes = np.zeros(3, dtype), np.zeros(3, dtype)
    shifted = np.zeros(96, dtype)
    module.launch(f"warp_reduce<{name}>", (1, 1, 1), (96, 1, 1), (x, sums, maxes, shifted))
    tol = 1e-3 if dtype == np.float16 else 1e-6
    np.testing.assert_allclose(sums, x.reshape(3, 32).astype(np.float64).sum(1), rtol=tol, atol=tol)
    np.testing.assert_array_equal(maxes, x.reshape(3, 32).max(1))
    lanes = np.arange(96) % 32
    expected = np.where(lanes < 31, np.roll(x, -1), x)  # the last lane keeps its own value
    np.testing.assert_array_equal(shifted, expected)


def test_threads_that_return_early_leave_the_barriers(module, rng):
    x = rng.standard_normal(200).astype(np.float32)
    out = np.full(256, -7.0, np.float32)
    module.launch("early_exit_scale", (2, 1, 1), (128, 1, 1), (x, out, np.int32(200), np.float32(3.0)))
    np.testing.assert_array_equal(out[:200], x * np.float32(3.0))
    assert (out[200:] == -7.0).all()


def test_wmma_fragment_product(module, rng):
    a = rng.standard_normal((16, 16)).astype(np.float16)
    b = rng.standard_normal((16, 16)).astype(np.float16)
    c = np.zeros((16, 16), np.float32)
    module.launch("wmma_16x16x16", (1, 1, 1), (32, 1, 1), (a, np.ascontiguousarray(b.T), c))
    ref = 2.0 * a.astype(np.float64) @ b.astype(np.float64)
    assert rel_err(c, ref) < 1e-6


def test_two_dimensional_grid_and_64_bit_scalar(module):
    out = np.zeros((6, 37), np.int64)
    module.launch("index_grid", (3, 3, 1), (16, 2, 1), (out, np.int32(37), np.int64(2**40)))
    ys, xs = np.mgrid[0:6, 0:37]
    np.testing.assert_array_equal(out, 2**40 + ys * 1000 + xs)


def test_cp_async_pipeline_primitives_copy_and_zero_fill(module, rng):
    n = 48
    x = rng.standard_normal(8 * n).astype(np.float32)
    out = np.zeros(8 * n, np.float32)
    module.launch("pipeline_copy", (1, 1, 1), (n, 1, 1), (x, out))
    s = x.reshape(n, 8).copy()
    s[:, 5:7] = 0.0  # zero-filled tails
    s[:, 7] = -1.0
    np.testing.assert_array_equal(out.reshape(n, 8), np.roll(s, -1, axis=0))


def test_cp_async_lands_when_its_group_is_waited_for(module):
    """The emulator delays every copy to the wait that forces it, so a kernel that reads a pipeline stage before
    waiting for it reads stale data (the conv2d pipeline tests rely on this to catch a lost stage)."""
    out = np.zeros(4, np.float32)
    module.launch("pipeline_deferred", (1, 1, 1), (1, 1, 1), (np.array([3.0, 5.0], np.float32), out))
    np.testing.assert_array_equal(out, [-1.0, 3.0, -1.0, 5.0])


def test_tf32_rounding_is_round_to_nearest_ties_away(module, rng):
    """__float_to_tf32 as cvt.rna.tf32.f32: keep 10 mantissa bits (clear the low 13), rounding half an ulp away from
    zero; inf and NaN survive."""
    base = np.array([1.0, -1.0, 3.0, -2.5e-3, 6.0e4, 1.0e-40], np.float32).view(np.uint32)
    bits = np.concatenate([base | 0x1000, base | 0x0FFF, base | 0x1001, base & ~np.uint32(0x1FFF),
                           rng.integers(0, 2**32, 64, dtype=np.uint64).astype(np.uint32) & np.uint32(0xBFFFFFFF)])
    x = np.concatenate([bits.view(np.float32), np.array([np.inf, -np.inf, np.nan], np.float32)])
    out = np.zeros_like(x)
    module.launch("tf32_round", (1, 1, 1), (128, 1, 1), (x, out, np.int32(x.size)))
    u = x[:-3].view(np.uint32)
    expected = ((u.astype(np.uint64) + 0x1000) & 0xFFFFE000).astype(np.uint32).view(np.float32)  # magnitude + half ulp
    np.testing.assert_array_equal(out[:-3], expected)
    assert out[0] == np.float32(1.0 + 2**-10) and out[1] == np.float32(-(1.0 + 2**-10))  # ties: away from zero
    assert out[-3] == np.inf and out[-2] == -np.inf and np.isnan(out[-1])


def test_undeclared_kernel_is_refused(module):
    with pytest.raises(ValueError, match="not one of the kernels declared"):
        module.launch("no_such_kernel", (1, 1, 1), (1, 1, 1), ())


def test_launch_checks():
    assert _runtime.check_launch((4,), (128,)) == ((4, 1, 1), (128, 1, 1))
    with pytest.raises(ValueError, match="grid"):
        _runtime.check_launch((0,), (32,))
    with pytest.raises(ValueError, match="grid"):
        _runtime.check_launch((1, 70000), (32,))
    with pytest.raises(ValueError, match="block"):
        _runtime.check_launch((1,), (64, 32))  # 2048 threads
    with pytest.raises(ValueError, match="block"):
        _runtime.check_launch((1,), (1, 1, 65))


def test_kernel_scalars_must_have_an_explicit_width(monkeypatch):
    """Launch arguments are checked against the kernel's C signature (test_runtime.py has the rest)."""
    from kernels.cupy import _signatures

    monkeypatch.setenv(_runtime.EMULATE_ENV, "1")
    sig = _signatures.signature(SELFTEST, "early_exit_scale")
    _runtime.check_kernel_args(sig, (np.zeros(3, np.float32), np.zeros(3, np.float32), np.int32(1), np.float32(2.0)))
    with pytest.raises(TypeError, match=r"argument 2 \(int n\).*got int"):
        _runtime.check_kernel_args(sig, (np.zeros(3, np.float32), np.zeros(3, np.float32), 5, np.float32(2.0)))
    with pytest.raises(TypeError, match=r"argument 3 \(float scale\).*got numpy.float16"):
        _runtime.check_kernel_args(sig, (np.zeros(3, np.float32), np.zeros(3, np.float32), np.int32(1),
                                         np.float16(1.0)))


def test_cdiv():
    assert [_runtime.cdiv(a, 32) for a in (1, 32, 33, 64)] == [1, 1, 2, 2]
