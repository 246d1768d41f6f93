"""The Triton conv2d ladder's rung 5 (Hopper: the weight packed for TMA, tensor-descriptor loads, the persistent
grid, over the NCHW gather) and production's weight packing -- against torch in float64, under the interpreter in
CI (which emulates tensor descriptors) and on the GPU when there is one (sm_90+; elsewhere the gather kernels run).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ..conftest import rel_err
from ..test_conv2d import _inputs, _torch_reference
from .test_conv2d import _triton_conv2d


def _rung5():
    _triton_conv2d()  # skips when kernels.triton cannot be imported
    from kernels.triton.ladder.conv2d import rung5_tma_persistent

    return rung5_tma_persistent

HALF_TOL = 1e-2  # float16 operands, float32 accumulation: the fp16 bound against float64

# (N, C, H, W, K, R, S, stride, padding): channel counts below, at and across the packed tap's 64 rows (C_PAD) and
# the BLOCK_K chunks; K not a multiple of 16 (the packed pitch) nor of the column tile; stride and wide padding;
# enough output tiles that the 3 persistent programs of the interpreter walk several each.
TMA_CASES = [
    (2, 1, 9, 7, 1, 3, 3, (1, 1), (1, 1)),
    (1, 3, 11, 10, 17, 7, 7, (2, 2), (3, 3)),
    (2, 70, 6, 5, 33, 3, 2, (2, 1), (1, 0)),
    (3, 8, 5, 5, 40, 1, 1, (1, 1), (1, 1)),  # a padded 1x1: not a plain GEMM (rung 4), so TMA
    (1, 16, 4, 4, 8, 5, 5, (1, 1), (3, 2)),
    (2, 65, 12, 12, 16, 3, 3, (1, 1), (1, 1)),
]


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _needs_tma(conv, x, g):
    if not conv._uses_tma(x, g):
        pytest.skip("this device/Triton has no TMA forward (needs sm_90+ and triton.tools.tensor_descriptor)")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", TMA_CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_tma_forward_matches_torch(rng, case, bias):
    conv = _triton_conv2d()
    stride, padding = case[7], case[8]
    x, w, b = _inputs(rng, case, np.float16)
    b = b if bias else None
    ref, _ = _torch_reference(x, w, b, stride, padding, None)
    xt, wt = torch.from_numpy(x).to(_device()), torch.from_numpy(w).to(_device())
    bt = None if b is None else torch.from_numpy(b).to(_device())
    g = conv._checked_forward(xt, wt, bt, stride, padding)
    _needs_tma(conv, xt, g)
    y = _rung5()._tma_forward(xt, wt, bt, g)
    assert y.dtype == torch.float16 and tuple(y.shape) == ref.shape
    assert rel_err(y.cpu().numpy(), ref) <= HALF_TOL
    # the rung's forward takes this path for float16 on such a device
    assert np.array_equal(_rung5().conv2d_forward(xt, wt, bt, stride, padding).cpu().numpy(), y.cpu().numpy())


def test_tma_forward_empty_batch_and_switch(rng, monkeypatch):
    conv = _triton_conv2d()
    case = (2, 5, 6, 6, 3, 3, 3, (1, 1), (1, 1))
    x, w, b = (torch.from_numpy(a).to(_device()) for a in _inputs(rng, case, np.float16))
    g = conv._checked_forward(x, w, b, 1, 1)
    _needs_tma(conv, x, g)
    empty = x[:0]
    assert tuple(_rung5()._tma_forward(empty, w, b, conv._checked_forward(empty, w, b, 1, 1)).shape) == (0, 3, 6, 6)
    # float32 (IEEE) and float64 never take it; USE_TMA = False turns it off for half too
    assert not conv._uses_tma(x.float(), g) and not conv._uses_tma(x.double(), g)
    monkeypatch.setattr(conv, "USE_TMA", False)
    assert not conv._uses_tma(x, g)
    ref, _ = _torch_reference(*(a.cpu().numpy() for a in (x, w, b)), 1, 1, None)
    assert rel_err(_rung5().conv2d_forward(x, w, b, 1, 1).cpu().numpy(), ref) <= HALF_TOL  # the gather forward


@pytest.mark.parametrize("by_k", [False, True], ids=["forward", "backward_input"])
@pytest.mark.parametrize("K,C,R,S", [(1, 1, 1, 1), (17, 70, 3, 2), (64, 64, 3, 3), (5, 3, 7, 7)])
def test_pack_weight_layout(K, C, R, S, by_k, test_seed):
    """forward: wp[rs * ROW_PAD + c, k] = w[k, c, r, s]; backward_input: wp[rs * ROW_PAD + k, c] = w[k, c, r, s];
    every padding row and column is exactly 0."""
    conv = _triton_conv2d()
    gen = torch.Generator().manual_seed(test_seed)
    w = torch.randn((K, C, R, S), generator=gen).to(torch.float16).to(_device())
    rows, cols = (K, C) if by_k else (C, K)
    RS, row_pad, col_pad = R * S, -(-rows // conv._TMA_C_ALIGN) * conv._TMA_C_ALIGN, -(-cols // 16) * 16
    wp = torch.full((RS * row_pad, col_pad), float("nan"), dtype=w.dtype, device=w.device)
    conv._pack_weight_kernel[(-(-wp.numel() // 128),)](w, wp, K, C, RS, row_pad, col_pad, wp.numel(), BY_K=by_k,
                                                       BLOCK=128)
    expect = torch.zeros((RS, row_pad, col_pad), dtype=w.dtype)
    per_tap = w.cpu().permute(2, 3, 0, 1) if by_k else w.cpu().permute(2, 3, 1, 0)  # [R, S, rows, cols]
    expect[:, :rows, :cols] = per_tap.reshape(RS, rows, cols)
    assert torch.equal(wp.cpu().reshape(RS, row_pad, col_pad), expect)


# backward_input: stride phases with and without taps (stride 3 over a 2-wide kernel), sh != sw, K across the
# packed tap's 64 rows and the BLOCK_K chunks, C not a multiple of the pitch, padding wider than the stride
DGRAD_CASES = TMA_CASES + [
    (2, 5, 10, 9, 70, 2, 2, (3, 3), (0, 1)),
    (1, 33, 7, 8, 3, 3, 3, (2, 3), (2, 1)),
]


@pytest.mark.parametrize("case", DGRAD_CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-s{c[7][0]}{c[7][1]}")
def test_tma_backward_input_matches_torch(rng, case):
    conv = _triton_conv2d()
    stride, padding = case[7], case[8]
    x, w, b = _inputs(rng, case, np.float16)
    ref_y, _ = _torch_reference(x, w, b, stride, padding, None)
    dy = rng.standard_normal(ref_y.shape).astype(np.float16)
    _, (ref_dx, _, _) = _torch_reference(x, w, b, stride, padding, dy)
    dyt, wt = torch.from_numpy(dy).to(_device()), torch.from_numpy(w).to(_device())
    g = conv._checked_backward_input(dyt, wt, x.shape, stride, padding)
    _needs_tma(conv, dyt, g)
    dx = _rung5()._tma_backward_input(dyt, wt, g)
    assert dx.dtype == torch.float16 and rel_err(dx.cpu().numpy(), ref_dx) <= HALF_TOL
    if not conv._is_pointwise(g):  # the rung's backward_input takes this path for such a layer
        assert np.array_equal(_rung5().conv2d_backward_input(dyt, wt, x.shape, stride, padding).cpu().numpy(),
                              dx.cpu().numpy())


def test_persistent_programs_cover_every_tile(rng, monkeypatch):
    """With 1 or 2 programs (each walking many tiles) the output is the same as with one program per tile."""
    conv = _triton_conv2d()
    case = (3, 6, 9, 8, 35, 3, 3, (1, 1), (1, 1))  # 216 rows, 35 columns: several tiles each way
    x, w, b = (torch.from_numpy(a).to(_device()) for a in _inputs(rng, case, np.float16))
    g = conv._checked_forward(x, w, b, 1, 1)
    _needs_tma(conv, x, g)
    outs = []
    for programs in (1, 2, 10_000):
        monkeypatch.setattr(_rung5(), "_persistent_programs", lambda index, programs=programs: programs)
        outs.append(_rung5()._tma_forward(x, w, b, g).cpu())
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])
