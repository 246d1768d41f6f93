"""Rung 0 of the CUDA C conv2d ladder (kernels/cupy/ladder/conv2d/rung0_direct.py): what the shared tests
(tests/kernels/test_conv2d.py, which run this rung as ``cupy/rung0_direct``) do not reach -- float16 in all four
products, the grid-stride loop past the grid cap, the launch arithmetic, and errors identical to the production
wrapper's. Runs on the CPU emulator without a GPU (``KERNELGRAD_CUDA_EMULATE=1``, set by tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ..conftest import rel_err, torch_reference

pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")
from kernels.cupy import conv2d as production  # noqa: E402
from kernels.cupy._runtime import check_launch, xp  # noqa: E402
from kernels.cupy.ladder.conv2d import rung0_direct as rung0  # noqa: E402

F = torch.nn.functional


def _native(a: np.ndarray):
    return xp().asarray(np.ascontiguousarray(a))


def _host(a) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else a.get()


def _all_ops(conv, x, w, b, dy, stride, padding) -> list[np.ndarray]:
    return [
        _host(conv.conv2d_forward(_native(x), _native(w), _native(b), stride, padding)),
        _host(conv.conv2d_backward_input(_native(dy), _native(w), x.shape, stride, padding)),
        _host(conv.conv2d_backward_weight(_native(dy), _native(x), w.shape, stride, padding)),
        _host(conv.conv2d_backward_bias(_native(dy))),
    ]


def _inputs(rng, case, dtype):
    N, C, H, W, K, R, S, (sh, sw), (ph, pw) = case
    P, Q = (H + 2 * ph - R) // sh + 1, (W + 2 * pw - S) // sw + 1
    return [rng.standard_normal(s).astype(dtype) for s in ((N, C, H, W), (K, C, R, S), (K,), (N, K, P, Q))]


@pytest.mark.parametrize(
    "total, grid, block",
    [(1, 1, 32), (33, 1, 64), (256, 1, 256), (257, 2, 256), (2**31 * 3, 65535, 256)],
)
def test_launch_is_one_thread_per_element_up_to_the_grid_cap(total, grid, block):
    g, b = rung0._launch(total)
    assert (g, b) == ((grid,), (block,))
    check_launch(g, b)
    if grid < rung0.MAX_BLOCKS:
        assert grid * block >= total > grid * block - block  # one thread per element, no idle block
    else:
        assert grid * block < total  # past the cap every thread strides


# stride 2 with padding, a non-square kernel, padding wider than R - 1, C*R*S and K not multiples of anything
HALF_CASES = [(2, 5, 9, 7, 3, 2, 3, (2, 2), (1, 0)), (1, 3, 6, 5, 4, 3, 1, (1, 2), (2, 1))]


@pytest.mark.parametrize("case", HALF_CASES)
def test_float16_all_products_computed_in_float32(rng, case):
    """float16 in, float16 out, accumulated in float32 and rounded once: within 2e-3 of torch in float64."""
    stride, padding = case[7], case[8]
    x, w, b, dy = _inputs(rng, case, np.float16)
    ref_y, ref_grads = torch_reference(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), x, w, b,
                                       grad_output=dy)  # fmt: skip
    outs = _all_ops(rung0, x, w, b, dy, stride, padding)
    for got, ref in zip(outs, [ref_y, *ref_grads]):
        assert got.dtype == np.float16 and got.shape == ref.shape
        assert rel_err(got, ref) <= 2e-3


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_grid_stride_past_the_cap_gives_the_same_bits(rng, monkeypatch, dtype):
    """With the grid capped at 2 blocks of 64 threads every thread loops over several elements; each element is
    still summed by one thread in the same order, so the results are bit-for-bit those of the uncapped grid."""
    case = (2, 3, 9, 8, 5, 3, 2, (1, 2), (1, 1))  # y: 2*5*9*5 = 450, dx: 432, dw: 90 elements
    stride, padding = case[7], case[8]
    x, w, b, dy = _inputs(rng, case, dtype)
    full = _all_ops(rung0, x, w, b, dy, stride, padding)
    monkeypatch.setattr(rung0, "MAX_BLOCKS", 2)
    monkeypatch.setattr(rung0, "THREADS", 64)
    assert rung0._launch(450) == ((2,), (64,))
    capped = _all_ops(rung0, x, w, b, dy, stride, padding)
    for a, c in zip(full, capped):
        assert a.dtype == c.dtype and np.array_equal(a, c)
    ref = _all_ops(production, x, w, b, dy, stride, padding)
    tol = {np.float16: 1e-2, np.float32: 1e-4, np.float64: 1e-10}[dtype]
    assert all(rel_err(c, r.astype(np.float64)) <= tol for c, r in zip(capped, ref))


def test_empty_batch():
    x = _native(np.zeros((0, 3, 5, 5), np.float32))
    dy = _native(np.zeros((0, 2, 5, 5), np.float32))
    assert rung0.conv2d_forward(x, _native(np.ones((2, 3, 3, 3), np.float32)), None, 1, 1).shape == (0, 2, 5, 5)
    dw = _host(rung0.conv2d_backward_weight(dy, x, (2, 3, 3, 3), 1, 1))
    assert dw.shape == (2, 3, 3, 3) and np.all(dw == 0)
    assert np.all(_host(rung0.conv2d_backward_bias(dy)) == 0)


def _bad_calls(nat):
    x, w = nat(np.ones((1, 2, 6, 6), np.float32)), nat(np.ones((3, 2, 3, 3), np.float32))
    dy = nat(np.ones((1, 3, 4, 4), np.float32))
    one = nat(np.ones((1, 1, 1, 1), np.float32))
    return {
        "x not an array": lambda c: c.conv2d_forward(torch.ones(1, 2, 6, 6), w, None, 1, 0),
        "int dtype": lambda c: c.conv2d_forward(nat(np.ones((1, 2, 6, 6), np.int32)), w, None, 1, 0),
        "mixed dtypes": lambda c: c.conv2d_forward(x, nat(np.ones((3, 2, 3, 3), np.float16)), None, 1, 0),
        "channel mismatch": lambda c: c.conv2d_forward(x, nat(np.ones((3, 1, 3, 3), np.float32)), None, 1, 0),
        "bias shape": lambda c: c.conv2d_forward(x, w, nat(np.ones(2, np.float32)), 1, 0),
        "stride": lambda c: c.conv2d_forward(x, w, None, (0, 1), 0),
        "non-contiguous": lambda c: c.conv2d_forward(
            xp().asarray(np.ones((1, 2, 6, 6), np.float32)).transpose(0, 1, 3, 2), w, None, 1, 0
        ),
        "dy shape": lambda c: c.conv2d_backward_input(nat(np.ones((1, 3, 3, 4), np.float32)), w, (1, 2, 6, 6), 1, 0),
        "input_shape": lambda c: c.conv2d_backward_input(dy, w, (1, 2, 6), 1, 0),
        "weight_shape": lambda c: c.conv2d_backward_weight(dy, x, (3, 2, 9, 3), 1, 0),
        "H*W past int32": lambda c: c.conv2d_backward_input(one, one, (1, 1, 50000, 50000), 50000, 0),
        "bias of a 3-D dy": lambda c: c.conv2d_backward_bias(nat(np.ones((1, 3, 4), np.float32))),
    }


@pytest.mark.parametrize("what", list(_bad_calls(_native)))
def test_errors_are_the_production_wrappers(what):
    """Every bad argument raises the production wrapper's exception type with its exact message."""
    outcomes = []
    for conv in (production, rung0):
        with pytest.raises((TypeError, ValueError)) as info:
            _bad_calls(_native)[what](conv)
        outcomes.append((info.type, str(info.value)))
    assert outcomes[0] == outcomes[1]
