"""The cp.async multi-stage pipeline of kernels/cupy/conv2d.cu (ladder rung 4) and its 16-byte copies of a packed
weight (rung 5, the production kernel).

The reduction runs through Tiles<T>::STAGES shared-memory stages (float 3, double 2, float16 2, BK = 16 / 16 / 32),
with the copies of step d + STAGES - 1 in flight during the math of step d. What would break if a stage were lost
or misnumbered: reductions shorter than the pipeline (1 step: the prologue's later stages are empty), exactly as
long (2, 3 steps), one step longer so the write stage wraps around (4 steps), remainders that are not a multiple
of BK (the zero-fill of the last step), C or K = 1, and row tiles that cross images. The CPU emulator lands a
cp.async group only when a wait forces it (kernels/cupy/emulator/cuda_emulator.h), so a stage read before its
wait holds the previous step's data and these comparisons fail -- e.g. ``cp_async_wait<STAGES - 1>`` instead of
``<STAGES - 2>`` fails float32 here. float32 / float64 must equal rung 3 (the single-stage loop, the same adds in
the same order) bit for bit, and the ordinary-load path (``KERNELGRAD_NO_CP_ASYNC``: a GPU below sm_80) must equal
the cp.async path bit for bit. Rung 5's packed weight: its layout, bit equality with rung 4's element-wise copies
(K, C not multiples of a vector, a second column tile, C or K = 1), and a caller's weight that is not 16-byte
aligned. Runs on the emulator without a GPU; shapes are small (one OS thread per CUDA thread).
"""

from __future__ import annotations

import numpy as np
import pytest

from ..conftest import rel_err, torch_reference

pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")
import torch  # noqa: E402

from kernels.cupy import _runtime  # noqa: E402
from kernels.cupy import conv2d as conv  # noqa: E402
from kernels.cupy._runtime import emulating  # noqa: E402
from kernels.cupy.ladder.conv2d import rung3_stride_phase as rung3  # noqa: E402

from .test_conv2d_rung0 import _host, _inputs, _native  # noqa: E402

F = torch.nn.functional
TOL = {np.float16: 1e-2, np.float32: 1e-4, np.float64: 1e-10}

# (N, C, H, W, K, R, S, stride, padding), with the reduction lengths (forward C*R*S, backward_input's phase
# K*taps, backward_weight N*P*Q) in float32 / float64 steps of BK = 16 (float16: BK = 32, half as many).
CASES = {
    # C = K = 1, 1x1: every reduction but backward_weight's is one index, one step with 15 zero-filled
    "one-step-C1-K1": (1, 1, 5, 6, 1, 1, 1, (1, 1), (0, 0)),
    # C*R*S = K*R*S = 32: exactly 2 steps (float16: 1), no remainder
    "two-steps-exact": (1, 2, 6, 5, 2, 4, 4, (1, 1), (1, 2)),
    # 45 = 16 + 16 + 13: 3 steps, the last one partly zero-filled; stride 2 phases of 4, 2, 2, 1 taps
    "three-steps-remainder": (1, 5, 7, 6, 5, 3, 3, (2, 2), (1, 1)),
    # C*R*S = 63: 4 steps -- one more than float32's 3 stages, so the write stage wraps around; K*R*S = 36
    "four-steps-wrap": (1, 7, 5, 5, 4, 3, 3, (1, 1), (1, 1)),
    # N*P*Q = 3 * 30 = 90 rows: row tiles (64) cross images, backward_weight reduces over 6 steps across images
    "tiles-cross-images": (3, 3, 6, 5, 6, 1, 3, (1, 1), (0, 1)),
    # C = 1 with K = 9 and K = 1 with C = 9: the other operand carries the reduction
    "C1": (2, 1, 9, 7, 9, 3, 3, (2, 1), (1, 1)),
    "K1": (1, 9, 6, 7, 1, 2, 3, (1, 2), (0, 1)),
}




def _all_passes(module, x, w, b, dy, stride, padding):
    """y, dx, dw of one implementation (a module exporting the contract's functions)."""
    y = module.conv2d_forward(_native(x), _native(w), _native(b), stride, padding)
    dx = module.conv2d_backward_input(_native(dy), _native(w), x.shape, stride, padding)
    dw = module.conv2d_backward_weight(_native(dy), _native(x), w.shape, stride, padding)
    return _host(y), _host(dx), _host(dw)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_pipeline_depths_against_torch(rng, case, dtype):
    x, w, b, dy = _inputs(rng, case, dtype)
    stride, padding = case[7], case[8]
    ref_y, (ref_dx, ref_dw, _) = torch_reference(
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), x, w, b, grad_output=dy
    )
    y, dx, dw = _all_passes(conv, x, w, b, dy, stride, padding)
    assert rel_err(y, ref_y) <= TOL[dtype]
    assert rel_err(dx, ref_dx) <= TOL[dtype]
    assert rel_err(dw, ref_dw) <= TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_pipeline_equals_the_single_stage_rung_bit_for_bit(rng, case, dtype):
    """The pipeline changes when bytes move, not which products are added in which order."""
    x, w, b, dy = _inputs(rng, case, dtype)
    ours = _all_passes(conv, x, w, b, dy, case[7], case[8])
    single = _all_passes(rung3, x, w, b, dy, case[7], case[8])
    for name, a, s in zip(("y", "dx", "dw"), ours, single):
        np.testing.assert_array_equal(a, s, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_ordinary_load_path_equals_cp_async(rng, monkeypatch, dtype):
    """A GPU below sm_80 compiles the same loop with ordinary loads (KG_CP_ASYNC == 0): same values, bit for bit."""
    if not emulating():
        pytest.skip("the macro is for the emulator; a GPU picks its path by architecture")
    names = ("three-steps-remainder", "four-steps-wrap", "tiles-cross-images")
    inputs = {name: _inputs(rng, CASES[name], dtype) for name in names}
    async_out = {name: _all_passes(conv, *inputs[name], *CASES[name][7:]) for name in names}
    plain = _runtime.SourceModule(conv.MODULE.path.name, conv.MODULE.name_expressions,
                                  defines=("KERNELGRAD_NO_CP_ASYNC",))
    monkeypatch.setattr(conv, "MODULE", plain)
    for name in names:
        for what, a, s in zip(("y", "dx", "dw"), _all_passes(conv, *inputs[name], *CASES[name][7:]),
                              async_out[name]):
            np.testing.assert_array_equal(a, s, err_msg=f"{name} {what}")


def test_split_k_chunks_are_pipelined_separately(rng, monkeypatch):
    """backward_weight's split-K chunks each run their own pipeline over [d_begin, d_end): chunks of 3 steps
    (float32: as many as its stages) and a short last chunk of 2."""
    monkeypatch.setattr(conv, "MIN_SPLIT_DEPTH", 40)
    case = (3, 3, 6, 7, 4, 3, 3, (1, 1), (1, 1))  # N*P*Q = 126: chunks of 48, 48 and 30 (3, 3 and 2 steps)
    x, w, b, dy = _inputs(rng, case, np.float32)
    assert conv._backward_weight_launch(4, 27, 126, np.float32, conv.TARGET_BLOCKS, 40)[2:] == (3, 48)
    dw = _host(conv.conv2d_backward_weight(_native(dy), _native(x), w.shape, (1, 1), (1, 1)))
    ref = torch.nn.grad.conv2d_weight(torch.from_numpy(x.astype(np.float64)), w.shape,
                                      torch.from_numpy(dy.astype(np.float64)), stride=1, padding=1).numpy()
    assert rel_err(dw, ref) <= TOL[np.float32]


# ------------------------------------------------------- rung 5: the packed weight and its 16-byte copies

# K and C not multiples of a vector (float32: 4, float64: 2, float16: 8 elements), K = 70 / C = 70: a second
# column tile whose last vectors lie past Kp / Cp (zero-filled), C = 1 and K = 1, stride 2 phases.
VECTOR_CASES = {
    "K70-two-column-tiles": (1, 3, 6, 5, 70, 3, 3, (1, 1), (1, 1)),
    "C70-two-column-tiles-stride2": (1, 70, 6, 7, 3, 3, 2, (2, 2), (1, 0)),
    "K5-C3": (2, 3, 5, 6, 5, 2, 3, (1, 2), (0, 1)),
    "C1-K1": (1, 1, 7, 5, 1, 3, 3, (2, 1), (1, 1)),
}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("k_inner", [True, False], ids=["forward-layout", "backward-input-layout"])
def test_packed_weight_layout(rng, dtype, k_inner):
    K, C, R, S = 5, 3, 2, 3
    w = rng.standard_normal((K, C, R, S)).astype(dtype)
    packed = _host(conv._pack_weight(_native(w), k_inner))
    vec = 16 // np.dtype(dtype).itemsize
    rows, cols = conv.packed_weight_shape(w.shape, dtype, k_inner)
    assert packed.shape == (rows, cols) and cols % vec == 0 and cols >= (K if k_inner else C)
    # forward: rows (c, r, s), columns k; backward_input: rows (k, r, s), columns c; zeros in the padding
    expected = np.zeros((rows, cols), dtype)
    if k_inner:
        expected[:, :K] = w.reshape(K, C * R * S).T
    else:
        expected[:, :C] = w.transpose(0, 2, 3, 1).reshape(K * R * S, C)
    np.testing.assert_array_equal(packed, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(VECTOR_CASES.values()), ids=list(VECTOR_CASES))
def test_vector_copies_equal_the_element_copies_bit_for_bit(rng, case, dtype):
    """Rung 5 (production) copies B in 16-byte vectors from the packed weight, rung 4 element by element from w: the
    same products in the same order."""
    from kernels.cupy.ladder.conv2d import rung4_cp_async as rung4

    x, w, b, dy = _inputs(rng, case, dtype)
    ours = _all_passes(conv, x, w, b, dy, case[7], case[8])
    elementwise = _all_passes(rung4, x, w, b, dy, case[7], case[8])
    for name, a, e in zip(("y", "dx", "dw"), ours, elementwise):
        np.testing.assert_array_equal(a, e, err_msg=name)


@pytest.mark.parametrize("case", list(VECTOR_CASES.values()), ids=list(VECTOR_CASES))
def test_vector_copies_float16_against_torch(rng, case):
    test_pipeline_depths_against_torch(rng, case, np.float16)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_weight_that_is_not_16_byte_aligned(rng, dtype):
    """The caller's weight may start anywhere (a C-contiguous view at an element offset): the packing reads it
    element by element, and only the packed copy, a fresh allocation, is read in 16-byte vectors."""
    case = VECTOR_CASES["K5-C3"]
    x, w, b, dy = _inputs(rng, case, dtype)
    buf = _native(np.zeros(w.size + 1, dtype))
    w_view = buf[1:].reshape(w.shape)
    w_view[...] = _native(w)
    address = w_view.ctypes.data if emulating() else w_view.data.ptr
    assert w_view.flags.c_contiguous and address % 16 != 0
    y = _host(conv.conv2d_forward(_native(x), w_view, None, case[7], case[8]))
    dx = _host(conv.conv2d_backward_input(_native(dy), w_view, x.shape, case[7], case[8]))
    ref_y, (ref_dx, _) = torch_reference(
        lambda x, w: F.conv2d(x, w, None, stride=case[7], padding=case[8]), x, w, grad_output=dy
    )
    assert rel_err(y, ref_y) <= TOL[dtype]
    assert rel_err(dx, ref_dx) <= TOL[dtype]
