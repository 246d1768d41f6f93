"""ALLOW_TF32 of kernels/cupy/conv2d.py: float32 GEMMs on TF32 tensor cores (WMMA 16x16x8, opt-in, off by default).

On the emulator the TF32 path rounds each operand with cvt.rna's rule and reads only its 19 TF32 bits, as the
tensor cores do (tests/kernels/cupy/test_emulator.py checks the rounding), so the error measured here is the one
a GPU gives up to the order of the fp32 sums. Measured on these shapes: 2.8e-4 to 3.1e-4 relative (forward,
backward_input, backward_weight alike: two operands rounded to a 2**-11 unit roundoff); IEEE float32 ~1e-7. The
tolerance, 1e-3, leaves 3x; the TF32 error must also exceed 3e-5, so a flag that silently ran IEEE would fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from ..conftest import rel_err, torch_reference

pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")
import torch  # noqa: E402

from kernels._args import ConvGeometry  # noqa: E402
from kernels.cupy import conv2d as conv  # noqa: E402
from kernels.cupy._runtime import xp  # noqa: E402

F = torch.nn.functional
TF32_TOL, TF32_MIN_ERR, IEEE_TOL = 1e-3, 3e-5, 1e-5

CASES = {
    # C*R*S = 45 (3 steps of BK = 16, the last zero-filled), K = 6 < 8: one fragment column mostly padding
    "small-remainders": (2, 5, 9, 8, 6, 3, 3, (1, 1), (1, 1)),
    # K = C = 70: two column tiles with a partial last vector; stride-2 phases of 4, 2, 2, 1 taps
    "two-tiles-stride2": (1, 70, 9, 10, 70, 3, 3, (2, 2), (1, 1)),
}


def _native(a):
    return xp().asarray(np.ascontiguousarray(a))


def _host(a) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else a.get()


def _errors(rng, case):
    N, C, H, W, K, R, S, stride, padding = case
    P, Q = (H + 2 * padding[0] - R) // stride[0] + 1, (W + 2 * padding[1] - S) // stride[1] + 1
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C, R, S)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    dy = rng.standard_normal((N, K, P, Q)).astype(np.float32)
    ref_y, (ref_dx, ref_dw, _) = torch_reference(
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), x, w, b, grad_output=dy
    )
    y = _host(conv.conv2d_forward(_native(x), _native(w), _native(b), stride, padding))
    dx = _host(conv.conv2d_backward_input(_native(dy), _native(w), x.shape, stride, padding))
    dw = _host(conv.conv2d_backward_weight(_native(dy), _native(x), w.shape, stride, padding))
    assert y.dtype == dx.dtype == dw.dtype == np.float32
    return rel_err(y, ref_y), rel_err(dx, ref_dx), rel_err(dw, ref_dw)


def test_off_by_default():
    assert conv.ALLOW_TF32 is False


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_tf32_path_at_tf32_tolerance(rng, monkeypatch, case):
    monkeypatch.setattr(conv, "ALLOW_TF32", True)
    for what, err in zip(("y", "dx", "dw"), _errors(rng, case)):
        assert TF32_MIN_ERR < err <= TF32_TOL, (what, err)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_ieee_when_off(rng, case):
    for what, err in zip(("y", "dx", "dw"), _errors(rng, case)):
        assert err <= IEEE_TOL, (what, err)


def test_tf32_split_k_and_float16_untouched(rng, monkeypatch):
    """backward_weight's split chunks on the TF32 tile (BK = 16), and ALLOW_TF32 leaves float16 / float64 alone."""
    monkeypatch.setattr(conv, "ALLOW_TF32", True)
    monkeypatch.setattr(conv, "MIN_SPLIT_DEPTH", 32)
    case = (3, 4, 7, 6, 5, 3, 3, (1, 1), (1, 1))  # N*P*Q = 126: 3 chunks of 48, 48, 30
    assert conv._backward_weight_launch(5, 36, 126, np.float32, conv.TARGET_BLOCKS, 32,
                                        tiles=conv.TF32_TILES)[2] == 3
    for what, err in zip(("y", "dx", "dw"), _errors(rng, case)):
        assert TF32_MIN_ERR < err <= TF32_TOL, (what, err)
    x = rng.standard_normal((1, 3, 5, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    assert rel_err(_host(conv.conv2d_forward(_native(x), _native(w), None, 1, 1)), ref) <= 1e-12  # float64: IEEE


def test_tf32_launch_is_the_tensor_core_block():
    g = ConvGeometry(1, 70, 9, 10, 70, 3, 3, 5, 5, 2, 2, 1, 1)
    launches, block = conv._backward_input_launch(g, np.float32, tiles=conv.TF32_TILES)
    assert block == (128, 1, 1) and launches == [((1, 2, 4), 0)]
    assert conv._gemm_launch(130, 65, np.float32, tiles=conv.TF32_TILES) == ((3, 2, 1), (128, 1, 1))


def test_tf32_launch_below_sm80_runs_ieee_fma(rng, monkeypatch):
    """A GPU without TF32 (below sm_80) compiles the TF32 kernels' FMA fallback (Tf32FmaTiles): the same 128-thread
    launch, IEEE float32 products (emulator only: KERNELGRAD_NO_TENSOR_CORES stands in for the architecture)."""
    from kernels.cupy._runtime import SourceModule, emulating

    if not emulating():
        pytest.skip("the macro is for the emulator; a GPU picks its path by architecture")
    monkeypatch.setattr(conv, "ALLOW_TF32", True)
    monkeypatch.setattr(conv, "MODULE", SourceModule(conv.MODULE.path.name, conv.MODULE.name_expressions,
                                                     defines=("KERNELGRAD_NO_TENSOR_CORES",)))
    for what, err in zip(("y", "dx", "dw"), _errors(rng, CASES["two-tiles-stride2"])):
        assert err <= IEEE_TOL, (what, err)
