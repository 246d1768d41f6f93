"""Conv2d ladder rung 6 (kernels/triton/ladder/conv2d/rung6_channels_last.py): the NCHW -> NHWC transpose bit-exact,
the channels-last forward and backward_input against torch in float64 (float16 operands), and which dtypes take them
-- under the interpreter in CI (which emulates tensor descriptors), on the GPU when there is one (sm_90+).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ..conftest import rel_err
from ..test_conv2d import _inputs, _torch_reference
from .test_conv2d import _triton_conv2d

HALF_TOL = 1e-2  # float16 operands, float32 accumulation, against float64

# (N, C, H, W, K, R, S, stride, padding): C = 1 and 3 (odd: no vector loads), 8 (one 16-byte vector per row), 70
# (C_ALIGN 2, three BLOCK_K chunks per tap, the last partial); K = 1, 17, 33 (not multiples of the TMA pitch nor of
# the column tile; as backward_input's reduction, K_ALIGN 1); strides (1,1), (2,1), (2,2); padding 0..3; a padded
# 1x1 (not rung 4's plain GEMM); N = 1..3.
CASES = [
    (2, 1, 9, 7, 17, 3, 3, (1, 1), (1, 1)),
    (1, 3, 11, 10, 33, 5, 4, (2, 2), (3, 2)),
    (3, 8, 6, 7, 1, 3, 2, (2, 1), (0, 2)),
    (2, 70, 6, 5, 33, 3, 3, (2, 1), (1, 0)),
    (3, 8, 5, 5, 17, 1, 1, (1, 1), (1, 1)),
    (1, 16, 8, 8, 16, 3, 3, (2, 2), (0, 0)),
]


def _rung():
    """Production (kernels/triton/conv2d.py), where rung 6's kernels live; it skips without kernels.triton."""
    return _triton_conv2d()


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _needs_tma(x, g):
    if not _triton_conv2d()._uses_tma(x, g):
        pytest.skip("this device/Triton has no TMA (needs sm_90+ and triton.tools.tensor_descriptor)")


@pytest.mark.parametrize("N,C,H,W", [(2, 70, 9, 13), (1, 3, 5, 5), (3, 8, 4, 4), (1, 1, 1, 1), (2, 40, 12, 12)])
def test_transpose_is_exact(N, C, H, W, test_seed):
    rung = _rung()
    gen = torch.Generator().manual_seed(test_seed)
    x = torch.randn((N, C, H, W), generator=gen).to(torch.float16).to(_device())
    xh = rung._nchw_to_nhwc(x)
    assert xh.is_contiguous() and torch.equal(xh.cpu(), x.cpu().permute(0, 2, 3, 1))


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-s{c[7][0]}{c[7][1]}")
def test_nhwc_forward_and_backward_input_match_torch(rng, case):
    with_bias = CASES.index(case) % 2 == 0  # both epilogues, each layer run once (the interpreter is slow)
    rung = _rung()
    conv = _triton_conv2d()
    stride, padding = case[7], case[8]
    x, w, b = _inputs(rng, case, np.float16)
    ref_y, _ = _torch_reference(x, w, b, stride, padding, None)
    dy = rng.standard_normal(ref_y.shape).astype(np.float16)
    _, (ref_dx, _, _) = _torch_reference(x, w, b, stride, padding, dy)
    xt, wt, bt, dyt = (torch.from_numpy(a).to(_device()) for a in (x, w, b, dy))

    g = conv._checked_forward(xt, wt, bt, stride, padding)
    _needs_tma(xt, g)
    y = rung._nhwc_forward(xt, wt, bt if with_bias else None, g)
    assert y.dtype == torch.float16 and tuple(y.shape) == ref_y.shape
    ref = ref_y if with_bias else ref_y - b.astype(np.float64)[None, :, None, None]
    assert rel_err(y.cpu().numpy(), ref) <= HALF_TOL

    gi = conv._checked_backward_input(dyt, wt, x.shape, stride, padding)
    dx = rung._nhwc_backward_input(dyt, wt, gi)
    assert dx.dtype == torch.float16 and rel_err(dx.cpu().numpy(), ref_dx) <= HALF_TOL


def test_empty_batch_and_dispatch(rng, monkeypatch):
    rung = _rung()
    conv = _triton_conv2d()
    case = (2, 5, 6, 6, 3, 3, 3, (1, 1), (1, 1))
    x, w, b = (torch.from_numpy(a).to(_device()) for a in _inputs(rng, case, np.float16))
    g = conv._checked_forward(x, w, b, 1, 1)
    _needs_tma(x, g)
    empty = x[:0]
    assert tuple(rung.conv2d_forward(empty, w, b, 1, 1).shape) == (0, 3, 6, 6)

    calls = []
    monkeypatch.setattr(rung, "_nhwc_forward", lambda *args: calls.append("forward"))
    monkeypatch.setattr(rung, "_nhwc_backward_input", lambda *args: calls.append("backward_input"))
    dy = torch.ones((2, 3, 6, 6), dtype=torch.float16, device=x.device)
    rung.conv2d_forward(x, w, b, 1, 1)
    rung.conv2d_backward_input(dy, w, tuple(x.shape), 1, 1)
    assert calls == ["forward", "backward_input"]  # float16 on a TMA device: the NHWC kernels
    # float32 (IEEE) and float64 never take them, nor a 1x1 plain layer (rung 4's GEMM), nor USE_TMA = False
    for dtype in (torch.float32, torch.float64):
        ref, _ = _torch_reference(*(a.double().cpu().numpy() for a in (x, w, b)), 1, 1, None)
        y = rung.conv2d_forward(x.to(dtype), w.to(dtype), b.to(dtype), 1, 1)
        assert rel_err(y.cpu().numpy(), ref) <= 1e-4
        rung.conv2d_backward_input(dy.to(dtype), w.to(dtype), tuple(x.shape), 1, 1)
    rung.conv2d_forward(x, w[:, :, :1, :1].contiguous(), b, 1, 0)
    monkeypatch.setattr(conv, "USE_TMA", False)
    rung.conv2d_forward(x, w, b, 1, 1)
    assert calls == ["forward", "backward_input"]
