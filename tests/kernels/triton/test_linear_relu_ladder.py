"""Production's top-rung paths of the Triton linear ladder: split-K (deterministic, from the shape alone) and the
persistent TMA kernels (float16 / bfloat16 on sm_90+; the interpreter emulates tensor descriptors), against torch
in float64, with a spy on the kernels so each test knows which path ran.

The shared tests (tests/kernels/test_linear_relu.py) run every rung on shapes that take neither path (float32 and
float64; reductions far below a split); these cover what they do not reach. Split-K runs here with its thresholds
scaled down (``SPLIT_MIN_LEN``, ``SPLIT_GRANULE``) so the interpreter walks a few hundred reduction steps, not
thousands; the plan itself is checked at its real constants.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ..conftest import rel_err
from ..test_linear_relu import _inputs, _torch_reference
from .test_linear_relu import _triton_linear


class _Spy:
    """Counts launches of a kernel (``kernel[grid](...)``) and passes them through."""

    def __init__(self, kernel):
        self.kernel, self.launches = kernel, 0

    def __getitem__(self, grid):
        self.launches += 1
        return self.kernel[grid]


def _spy(monkeypatch, lin, name: str) -> _Spy:
    spy = _Spy(getattr(lin, name))
    monkeypatch.setattr(lin, name, spy)
    return spy


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _run(lin, x, w, b, dy, relu):
    """Forward and backward on torch tensors of x's dtype: (y, dx, dw, db)."""
    y = lin.linear_forward(x, w, b, relu)
    return (y, *lin.linear_backward(dy, x, w, y, relu))


def _check(got, x, w, b, dy, relu, tol):
    ref_y, refs = _torch_reference(*(None if t is None else t.double().cpu().numpy() for t in (x, w, b)), relu,
                                   dy.double().cpu().numpy())
    for name, g, ref in zip(("y", "dx", "dw", "db"), got, (ref_y, *refs), strict=True):
        assert g.dtype == x.dtype and tuple(g.shape) == ref.shape, name
        assert rel_err(g.double().cpu().numpy(), ref) <= tol, name


def test_split_plan_depends_on_the_shape_alone():
    _, lin = _triton_linear()
    plan = lin._split_plan
    assert plan(4096, 4096, 4096) == (1, 4096)  # 1024 output tiles: no split
    assert plan(32, 1024, 8192) == (8, 1024)  # a head at batch 32: 8 tiles, K = 8192
    assert plan(4096, 64, 4096) == (4, 1024)  # dx of a narrow input layer: 32 tiles
    assert plan(256, 256, 16384) == (16, 1024)  # dw of 256 -> 256 over 16384 rows: 4 tiles
    assert plan(32, 128, 256) == (1, 256)  # DigitsCNN's fc: reductions far too short
    assert plan(128, 128, 2047) == (1, 2047) and plan(128, 128, 2048) == (2, 1024)
    splits, length = plan(1, 1, 10**6 + 3)
    assert splits == lin.SPLIT_MAX and length % lin.SPLIT_GRANULE == 0
    for rows, cols, red in ((1, 1, 5000), (100, 300, 3333), (512, 700, 99999)):
        splits, length = plan(rows, cols, red)
        assert length % lin.SPLIT_GRANULE == 0 and (splits - 1) * length < red <= splits * length


# (M, K, N) and which product splits at SPLIT_MIN_LEN = SPLIT_GRANULE = 32: the forward over K, dx over N, dw (and
# db) over M; every size ragged against the interpreter's 16-wide tiles and the 32-long splits.
SPLIT_CASES = {"forward-K": (5, 130, 7), "dx-N": (5, 7, 130), "dw-M": (130, 5, 7)}


@pytest.mark.parametrize("case, dtype", [("forward-K", torch.float32), ("dx-N", torch.float32),
                                         ("dw-M", torch.float32), ("dw-M", torch.float64)],
                         ids=["forward-K-float32", "dx-N-float32", "dw-M-float32", "dw-M-float64"])
def test_split_k_matches_torch_and_is_bit_reproducible(monkeypatch, rng, case, dtype):
    """The product with the long reduction takes the split path (its partials summed in split order by
    ``_sum_splits_kernel``), matches torch, and gives the same bits on a second run."""
    _, lin = _triton_linear()
    monkeypatch.setattr(lin, "SPLIT_MIN_LEN", 32)
    monkeypatch.setattr(lin, "SPLIT_GRANULE", 32)
    sums = _spy(monkeypatch, lin, "_sum_splits_kernel")
    M, K, N = SPLIT_CASES[case]
    x, w, b = (torch.from_numpy(a).to(_device(), dtype) for a in _inputs(rng, (M, K, N), np.float64))
    dy = torch.from_numpy(rng.standard_normal((M, N))).to(_device(), dtype)
    rows, cols, red = {"forward-K": (M, N, K), "dx-N": (M, K, N), "dw-M": (N, K, M)}[case]
    assert lin._split_plan(rows, cols, red)[0] >= 3  # several splits, the last one short

    first = _run(lin, x, w, b, dy, True)
    assert sums.launches == (2 if case == "dw-M" else 1)  # dw and db are summed apart
    _check(first, x, w, b, dy, True, 1e-4 if dtype == torch.float32 else 1e-10)
    second = _run(lin, x, w, b, dy, True)
    for a, c in zip(first, second, strict=True):
        assert torch.equal(a, c)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_split_k_forward_epilogue_keeps_nan_and_adds_the_bias_once(monkeypatch, rng):
    """The bias and ReLU move to ``_sum_splits_kernel``: added once after the split sums, NaN kept (not tl.maximum)."""
    _, lin = _triton_linear()
    monkeypatch.setattr(lin, "SPLIT_MIN_LEN", 32)
    monkeypatch.setattr(lin, "SPLIT_GRANULE", 32)
    M, K, N = SPLIT_CASES["forward-K"]
    x, w, b = (torch.from_numpy(a).to(_device()) for a in _inputs(rng, (M, K, N), np.float32))
    b[1] = float("nan")
    y = lin.linear_forward(x, w, b, True).cpu()
    ref = torch.relu(x.double().cpu() @ w.double().cpu().T + b.double().cpu())
    assert torch.isnan(y[:, 1]).all() and not torch.isnan(y[:, [0, *range(2, N)]]).any()
    keep = ~torch.isnan(ref)
    assert rel_err(y[keep].double().numpy(), ref[keep].numpy()) <= 1e-6


# (M, K, N): K and N multiples of 8 (16-byte rows in half precision) but not of the interpreter's 32-wide TMA tiles,
# ragged M; each GEMM's output has 4-9 tiles of 32 x 32, more than the interpreter's 3 persistent programs.
TMA_SHAPES = [(70, 40, 72), (45, 64, 40)]


@pytest.mark.parametrize("shape, relu", [(TMA_SHAPES[0], True), (TMA_SHAPES[1], False)],
                         ids=[f"M{m}K{k}N{n}-{r}" for (m, k, n), r in zip(TMA_SHAPES, ("relu", "linear"))])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_tma_persistent_kernels_match_torch(monkeypatch, rng, shape, dtype, relu):
    _, lin = _triton_linear()
    spies = [_spy(monkeypatch, lin, f"_linear_{k}_tma_kernel")
             for k in ("forward", "backward_input", "backward_weight")]
    M, K, N = shape
    # no margin from the ReLU kink here: the reference below takes its mask from the kernel's own y
    x, w, b = (torch.from_numpy(rng.standard_normal(s)).to(_device(), dtype) for s in ((M, K), (N, K), (N,)))
    if not lin._uses_tma(x, w):
        pytest.skip("this device/Triton has no TMA path (needs sm_90+ and triton.tools.tensor_descriptor)")
    dy = rng.standard_normal((M, N))
    if relu:  # an inf or NaN gradient where the unit is clearly off must not leak through the mask
        pre = (x.double() @ w.double().T + b.double()).cpu().numpy()
        off = pre < -0.05
        dy[off] = rng.choice([np.inf, -np.inf, np.nan], off.sum())
    dy = torch.from_numpy(dy).to(_device(), dtype)
    got = _run(lin, x, w, b, dy, relu)
    assert [s.launches for s in spies] == [1, 1, 1]
    if relu:  # the reference takes the select's zeros where the kernel's y is off
        dy = torch.where(got[0] <= 0, torch.zeros_like(dy), dy)
    _check(got, x, w, b, dy, relu, 1e-2)


def test_tma_falls_back_to_the_tiled_kernels_on_unaligned_rows(monkeypatch, rng):
    """K = 36 float16 elements = 72 bytes: not a 16-byte pitch, so no descriptor; the tiled kernels run instead."""
    _, lin = _triton_linear()
    tma = _spy(monkeypatch, lin, "_linear_forward_tma_kernel")
    tiled = _spy(monkeypatch, lin, "_linear_forward_kernel")
    x, w, b = (torch.from_numpy(a).to(_device(), torch.float16) for a in _inputs(rng, (9, 36, 16), np.float32))
    y = lin.linear_forward(x, w, b, True)
    assert (tma.launches, tiled.launches) == (0, 1)
    ref = torch.relu(x.double() @ w.double().T + b.double())
    assert rel_err(y.double().cpu().numpy(), ref.cpu().numpy()) <= 1e-2


def test_split_and_tma_autotune_keys_have_no_batch_size():
    """The split-K and TMA autotuners key on the layer and the row bucket, like the tiled ones; the split ones are
    their own autotuners (a split launch never reuses a whole-reduction launch's tuning)."""
    _, lin = _triton_linear()
    kernels = [lin._linear_forward_split_kernel, lin._linear_backward_input_split_kernel,
               lin._linear_backward_weight_split_kernel, lin._linear_forward_tma_kernel,
               lin._linear_backward_input_tma_kernel, lin._linear_backward_weight_tma_kernel]
    assert all(k.keys == ["M_BUCKET", "N", "K"] for k in kernels)
    assert lin._linear_forward_split_kernel is not lin._linear_forward_kernel
    assert lin._linear_forward_split_kernel.fn is lin._linear_forward_kernel.fn
