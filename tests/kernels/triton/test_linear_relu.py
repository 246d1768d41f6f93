"""Triton linear(+bias)(+ReLU) details: grouped multi-tile ordering, half precision accumulating in float32,
non-contiguous input, the configs pruned per dtype, autotune keys.

The shared tests (tests/kernels/test_linear_relu.py) run the triton backend too; these cover what they do not reach.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ..conftest import rel_err
from ..test_linear_relu import _inputs, _torch_reference


def _triton_linear():
    kb = pytest.importorskip("tests.kernels.conftest")._load("triton")
    return kb, kb.family("linear_relu")


@pytest.mark.parametrize("relu", [True, False], ids=["relu", "linear"])
@pytest.mark.parametrize("shape", [(80, 33, 40), (17, 50, 70)], ids=["M80K33N40", "M17K50N70"])
def test_triton_multi_tile_grouped_ordering(rng, shape, relu):
    """Several tiles per axis, a partial GROUP_M group and ragged tails on every axis (interpreter tiles are 16)."""
    kb, lin = _triton_linear()
    x, w, b = _inputs(rng, shape, np.float32)
    dy = rng.standard_normal((shape[0], shape[2])).astype(np.float32)
    ref_y, (ref_dx, ref_dw, ref_db) = _torch_reference(x, w, b, relu, dy)
    y = lin.linear_forward(kb.to_native(x), kb.to_native(w), kb.to_native(b), relu)
    assert rel_err(kb.to_numpy(y), ref_y) <= 1e-4
    dx, dw, db = lin.linear_backward(kb.to_native(dy), kb.to_native(x), kb.to_native(w), y, relu)
    assert rel_err(kb.to_numpy(dx), ref_dx) <= 1e-4
    assert rel_err(kb.to_numpy(dw), ref_dw) <= 1e-4
    assert rel_err(kb.to_numpy(db), ref_db) <= 1e-4


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_triton_half_precision_accumulates_in_float32(rng, dtype):
    kb, lin = _triton_linear()
    x, w, b = _inputs(rng, (19, 24, 21), np.float32)
    dy = rng.standard_normal((19, 21)).astype(np.float32)
    xh, wh, bh, dyh = (torch.from_numpy(a).to(dtype) for a in (x, w, b, dy))
    # reference on the rounded half-precision inputs, so only the kernel's own error is measured
    ref_y, (ref_dx, ref_dw, ref_db) = _torch_reference(*(t.double().numpy() for t in (xh, wh, bh)), True,
                                                       dyh.double().numpy())
    y = lin.linear_forward(xh, wh, bh, True)
    assert y.dtype == dtype
    assert rel_err(y.double().numpy(), ref_y) <= 1e-2
    dx, dw, db = lin.linear_backward(dyh, xh, wh, y, True)
    for got, ref in ((dx, ref_dx), (dw, ref_dw), (db, ref_db)):
        assert got.dtype == dtype
        assert rel_err(got.double().numpy(), ref) <= 1e-2


def test_triton_rejects_non_contiguous_input(rng):
    kb, lin = _triton_linear()
    x = torch.from_numpy(rng.standard_normal((5, 4)))
    w = torch.from_numpy(rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match=r"\bw\b.*contiguous"):
        lin.linear_forward(x, w.t(), None, False)


def test_triton_linear_configs_pruned_per_dtype(monkeypatch):
    """float16/bfloat16 may pick the tensor-core tiles, IEEE float32 and float64 only their spill-free lists."""
    import triton

    _, lin = _triton_linear()
    from kernels.triton import _common

    monkeypatch.setattr(_common, "interpreting", lambda: False)
    full = [triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8}, num_warps=nw, num_stages=ns)
            for bm, bn, bk, nw, ns in dict.fromkeys(s for v in lin._DTYPE_CONFIGS.values() for s in v)]
    prune = lin._PRUNE["early_config_prune"]
    for dtype, cls in [(torch.float16, "half"), (torch.bfloat16, "half"), (torch.float32, "float32"),
                       (torch.float64, "float64")]:
        for arg in ("x_ptr", "dy_ptr"):
            kept = prune(full, {arg: torch.empty(0, dtype=dtype)})
            assert [_common.tile_shape(c) for c in kept] == lin._DTYPE_CONFIGS[cls], (dtype, arg)
    monkeypatch.setattr(lin, "ALLOW_TF32", True)  # TF32 float32 runs on tensor cores: the half list
    assert [_common.tile_shape(c) for c in prune(full, {"x_ptr": torch.empty(0)})] == lin._DTYPE_CONFIGS["half"]
    assert all(bm * bn <= 64 * 64 for bm, bn, *_ in lin._DTYPE_CONFIGS["float32"])  # larger FMA tiles spill


def test_triton_linear_autotune_key_has_no_batch_size():
    _, lin = _triton_linear()
    for kernel in (lin._linear_forward_kernel, lin._linear_backward_input_kernel, lin._linear_backward_weight_kernel):
        assert kernel.keys == ["M_BUCKET", "N", "K"]
    from kernels.triton._common import size_bucket

    assert size_bucket(33) == size_bucket(64) == 64 and size_bucket(0) == 1
