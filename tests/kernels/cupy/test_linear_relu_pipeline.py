"""The cp.async pipeline of kernels/cupy/linear_relu.cu (ladder rung 3, the production kernel) and the launch
arithmetic of the CUDA C linear + bias + ReLU ladder's lower rungs.

The reduction runs through STAGES = 3 shared-memory stages of BK = 16 (float32) / 8 (float64) / 32 (float16)
indices, the copies of step d + 2 in flight during the math of step d; each operand's slab is copied as 16-byte
vectors when its base is 16-byte aligned and its row length (K for x and w, N for dy and y) a multiple of V = 4 /
2 / 8 elements, element by element otherwise; when relu, y's slab is copied next to dy's and each thread masks what
it copied after its wait. What would break if a stage were lost, misnumbered or masked too early: reductions shorter
than the pipeline (one step), with a remainder, and many times longer (the stages wrap around), in each of the three
GEMMs (forward over K, dx over N, dw over M); row lengths that are not whole vectors and base addresses that are not
16-byte aligned (the element fallback -- the emulator aborts on a misaligned cp.async, so a wrong choice cannot pass
quietly); a y that alone is misaligned. The CPU emulator lands a cp.async group only when a wait forces it
(kernels/cupy/emulator/cuda_emulator.h), so a stage read before its wait holds the previous step's data and these
comparisons fail -- e.g. ``cp_async_wait<STAGES - 1>`` instead of ``<STAGES - 2>``, or the mask applied before the
wait. On the emulator (no FMA contraction) every rung adds the same products in the same order, so the pipeline must
equal rung 2 (the single-stage kernel it replaced) bit for bit, and the build a GPU without cp.async or tensor cores
gets (``KERNELGRAD_NO_CP_ASYNC`` + ``KERNELGRAD_NO_TENSOR_CORES``) must equal the cp.async / WMMA build bit for bit.
Also: repeat runs give the same bits (no atomics), and rungs 0 and 1 stride correctly over outputs / tiles when the
grid is capped. Shapes are small (one OS thread per CUDA thread).
"""

from __future__ import annotations

import numpy as np
import pytest

from ..conftest import rel_err

pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")

from kernels.cupy import _runtime  # noqa: E402
from kernels.cupy import linear_relu as lin  # noqa: E402
from kernels.cupy._runtime import emulating, xp  # noqa: E402
from kernels.cupy.ladder.linear_relu import rung0_naive as rung0  # noqa: E402
from kernels.cupy.ladder.linear_relu import rung1_smem_tiling as rung1  # noqa: E402
from kernels.cupy.ladder.linear_relu import rung2_register_wmma as rung2  # noqa: E402

TOL = {np.float16: 1e-2, np.float32: 1e-4, np.float64: 1e-10}

# (M, K, N).  Steps per GEMM: forward K / BK, dx N / BK, dw M / BK with BK = 16 float32, 8 float64, 32 float16;
# 16-byte vectors where K (x, w) or N (dy, y) is a multiple of 4 float32 / 2 float64 / 8 float16.
CASES = {
    # K = 4: one step, the prologue's second stage empty; N = 6: dy by elements except float64
    "one-step": (5, 4, 6),
    # K = 20: float32 16 + 4 (a remainder step), float64 3 steps; K and N = 8 in vectors (float16: K by elements)
    "remainder": (9, 20, 8),
    # K = 136: float32 9 steps, float64 17, float16 5 -- the 3 stages wrap around several times; all in vectors
    "many-steps": (6, 136, 16),
    # K = 13, N = 11: every operand by elements (4 / 8-byte cp.async, float16 ordinary loads)
    "unaligned-K-N": (7, 13, 11),
    # M = 70: two row tiles, dw reduces over 70 (float32 5 steps); N = 40 in vectors, dx over 40
    "two-row-tiles": (70, 24, 40),
}


def _native(a: np.ndarray):
    return xp().asarray(np.ascontiguousarray(a))


def _host(a) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else a.get()


def _inputs(rng, shape, dtype):
    M, K, N = shape
    return [rng.standard_normal(s).astype(dtype) for s in ((M, K), (N, K), (N,), (M, N))]


def _passes(module, x, w, b, dy, relu=True):
    """y, dx, dw, db of one implementation (a module exporting the contract's functions), as numpy arrays."""
    y = module.linear_forward(x, w, b, relu)
    dx, dw, db = module.linear_backward(dy, x, w, y if relu else None, relu)
    return [_host(a) for a in (y, dx, dw, db)]


def _reference(x, w, b, dy, y):
    """float64 forward, and the backward through the kernel's own mask (y > 0): a float16 pre-activation within
    rounding of 0 may fall on either side, and the backward is checked given the forward."""
    x, w, b, dy = (a.astype(np.float64) for a in (x, w, b, dy))
    g = np.where(y > 0, dy, 0.0)
    return [np.maximum(x @ w.T + b, 0.0), g @ w, g.T @ x, g.sum(0)]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_pipeline_depths_and_copy_paths(rng, case, dtype):
    """Against float64 on every runtime; on the emulator also bit for bit against rung 2 (single stage)."""
    x, w, b, dy = _inputs(rng, case, dtype)
    ours = _passes(lin, *map(_native, (x, w, b, dy)))
    for name, got, ref in zip(("y", "dx", "dw", "db"), ours, _reference(x, w, b, dy, ours[0])):
        assert got.dtype == dtype and rel_err(got, ref) <= TOL[dtype], name
    if emulating():
        single = _passes(rung2, *map(_native, (x, w, b, dy)))
        for name, a, s in zip(("y", "dx", "dw", "db"), ours, single):
            np.testing.assert_array_equal(a, s, err_msg=name)


def _offset_by_one_element(a: np.ndarray):
    """A C-contiguous copy of ``a`` whose base address is one element past a 16-byte boundary."""
    buf = _native(np.zeros(a.size + 1, a.dtype))
    view = buf[1:].reshape(a.shape)
    view[...] = _native(a)
    address = view.ctypes.data if emulating() else view.data.ptr
    assert view.flags.c_contiguous and address % 16 != 0
    return view


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("unaligned", ["all", "y-only"])
def test_unaligned_bases_take_the_element_path(rng, dtype, unaligned):
    """K and N are whole vectors, but the arrays start off a 16-byte boundary: element copies, the same bits as the
    vector copies of aligned arrays (the math is the same code)."""
    x, w, b, dy = _inputs(rng, CASES["remainder"], dtype)
    aligned = _passes(lin, *map(_native, (x, w, b, dy)))
    if unaligned == "all":
        shifted = [_offset_by_one_element(a) for a in (x, w, b, dy)]
        got = _passes(lin, *shifted)
    else:  # dy aligned, its gate y not: dy's slab must fall back too, or the mask would pair different copies
        y = _offset_by_one_element(aligned[0])
        dx, dw, db = lin.linear_backward(_native(dy), _native(x), _native(w), y, True)
        got = [aligned[0], *map(_host, (dx, dw, db))]
    for name, a, e in zip(("y", "dx", "dw", "db"), got, aligned):
        np.testing.assert_array_equal(a, e, err_msg=name)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_mask_on_vector_slabs_blocks_inf_and_passes_nan(rng):
    """The mask zeroes dy where y <= 0 (exact zeros included) even when dy is inf there, and a NaN y passes its
    gradient; float32 with M = K = N = 8, so every slab is copied in vectors."""
    x, w, _, dy = _inputs(rng, (8, 8, 8), np.float32)
    y = rng.standard_normal((8, 8)).astype(np.float32)
    y[0, :3] = 0.0
    y[1, 1] = np.nan
    dy[y <= 0] = np.inf
    dx, dw, db = map(_host, lin.linear_backward(_native(dy), _native(x), _native(w), _native(y), True))
    g = np.where(y <= 0, 0.0, dy.astype(np.float64))  # NaN <= 0 is False: the NaN row keeps its dy
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dw)) and np.all(np.isfinite(db))
    assert rel_err(dx, g @ w) <= 1e-5 and rel_err(dw, g.T @ x) <= 1e-5 and rel_err(db, g.sum(0)) <= 1e-5


def test_ordinary_loads_and_fma_build_equals_cp_async_and_wmma(rng, monkeypatch):
    """A GPU below sm_70 compiles the same loop with ordinary loads (no cp.async) and float16 on FMA (no tensor
    cores): the same products in the same order, so the same bits (emulator only: the macros stand in for the
    architecture)."""
    if not emulating():
        pytest.skip("the macros are for the emulator; a GPU picks its paths by architecture")
    names = ("remainder", "many-steps", "unaligned-K-N")
    inputs = {(n, d): _inputs(rng, CASES[n], d) for n in names for d in (np.float16, np.float32, np.float64)}
    expected = {key: _passes(lin, *map(_native, arrays)) for key, arrays in inputs.items()}
    plain = _runtime.SourceModule(lin.MODULE.path.name, lin.MODULE.name_expressions,
                                  defines=("KERNELGRAD_NO_CP_ASYNC", "KERNELGRAD_NO_TENSOR_CORES"))
    monkeypatch.setattr(lin, "MODULE", plain)
    for key, arrays in inputs.items():
        for name, a, e in zip(("y", "dx", "dw", "db"), _passes(lin, *map(_native, arrays)), expected[key]):
            np.testing.assert_array_equal(a, e, err_msg=f"{key} {name}")


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_repeat_runs_are_bit_identical(rng, dtype):
    """No atomics, a fixed order everywhere (db included): the same inputs give the same bits."""
    arrays = list(map(_native, _inputs(rng, (70, 136, 16), dtype)))
    first = _passes(lin, *arrays)
    for name, a, s in zip(("y", "dx", "dw", "db"), _passes(lin, *arrays), first):
        np.testing.assert_array_equal(a, s, err_msg=name)


# ------------------------------------------------------------------ rungs 0 and 1: capped grids stride


def test_rung0_launch_and_grid_stride(rng, monkeypatch):
    assert rung0._launch(1) == ((1,), (32,)) and rung0._launch(257) == ((2,), (256,))
    assert rung0._launch(2**40) == ((65535,), (256,))
    monkeypatch.setattr(rung0, "MAX_BLOCKS", 1)  # one block of 256 threads strides over 9 x 40 outputs
    x, w, b, dy = _inputs(rng, (9, 5, 40), np.float32)
    got = _passes(rung0, *map(_native, (x, w, b, dy)))
    for name, a, e in zip(("y", "dx", "dw", "db"), got, _reference(x, w, b, dy, got[0])):
        assert rel_err(a, e) <= 1e-5, name


def test_rung1_launch_and_tile_stride(rng, monkeypatch):
    assert rung1._launch(0, 5) is None and rung1._launch(17, 16) == ((2,), (256,))
    assert rung1._launch(5, 0, min_col_tiles=1) == ((1,), (256,))
    monkeypatch.setattr(rung1, "MAX_GRID", (2, 65535, 65535))  # 2 blocks stride over 2 x 3 tiles
    x, w, b, dy = _inputs(rng, (20, 5, 40), np.float32)
    got = _passes(rung1, *map(_native, (x, w, b, dy)))
    for name, a, e in zip(("y", "dx", "dw", "db"), got, _reference(x, w, b, dy, got[0])):
        assert rel_err(a, e) <= 1e-5, name
