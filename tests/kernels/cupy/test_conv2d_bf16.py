"""CuPy (CUDA C) conv2d in bfloat16: ``BFloat16Array`` (uint16 bits) into the ``__nv_bfloat16`` instantiations.

Values and the three gradients (and the bias) of production ``kernels/cupy/conv2d.py`` and of every ladder rung
against torch in float64 on the bf16-rounded inputs (rel err <= 1e-2), on awkward shapes (stride 2, padding,
non-square kernels, C = 1, K = 1, 1x1, a shape past one 64x64 tile that splits backward_weight's reduction); the
empty batch; the bit conversions (round to nearest even against torch, zero-copy to and from torch); and the
errors: mixed dtypes, raw uint16 arrays, bfloat16 where a family has no bfloat16 kernels, a bfloat16 array
given to the ``__half`` instantiation.  Under ``KERNELGRAD_CUDA_EMULATE=1`` (tests/conftest.py) on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels._args import conv2d_forward_geometry

from ..conftest import rel_err

pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")
from kernels.cupy import conv2d as conv  # noqa: E402
from kernels.cupy._runtime import BFLOAT16, BFloat16Array, emulating, xp  # noqa: E402
from kernels.cupy.ladder import conv2d as ladder  # noqa: E402

F = torch.nn.functional
TOL = 1e-2

# N, C, H, W, K, R, S, stride, padding
CASES = [
    (2, 3, 9, 7, 4, 3, 2, (2, 2), (1, 0)),  # stride 2, padding, non-square kernel
    (1, 1, 5, 6, 3, 3, 3, 1, 1),  # C = 1
    (3, 4, 6, 5, 1, 2, 3, (1, 2), (0, 1)),  # K = 1, mixed stride and padding
    (2, 5, 4, 4, 6, 1, 1, 1, 0),  # 1x1
]
#: past one 64x64 tile in rows and columns, backward_weight split over the reduction (split depth lowered below)
MULTI_TILE = (3, 9, 13, 13, 70, 3, 3, 1, 1)


def _bf16(rng: np.random.Generator, shape) -> torch.Tensor:
    return torch.from_numpy(rng.standard_normal(shape)).to(torch.bfloat16)


def _native(t: torch.Tensor) -> BFloat16Array:
    a = BFloat16Array.from_torch(t)
    return a if emulating() else BFloat16Array(xp().asarray(a.bits))


def _host(a: BFloat16Array) -> torch.Tensor:
    assert isinstance(a, BFloat16Array)
    bits = a.bits if isinstance(a.bits, np.ndarray) else a.bits.get()
    return BFloat16Array(bits).to_torch()


def _check_all_ops(module, rng, case):
    N, C, H, W, K, R, S, stride, padding = case
    x, w, b = _bf16(rng, (N, C, H, W)), _bf16(rng, (K, C, R, S)), _bf16(rng, (K,))
    x64, w64, b64 = (t.double().requires_grad_() for t in (x, w, b))
    ref_y = F.conv2d(x64, w64, b64, stride=stride, padding=padding)
    dy = _bf16(rng, tuple(ref_y.shape))
    ref_y.backward(dy.double())

    y = _host(module.conv2d_forward(_native(x), _native(w), _native(b), stride, padding))
    assert y.dtype == torch.bfloat16 and y.shape == ref_y.shape
    assert rel_err(y.double().numpy(), ref_y.detach().numpy()) <= TOL
    y0 = _host(module.conv2d_forward(_native(x), _native(w), None, stride, padding))
    assert rel_err(y0.double().numpy(), (ref_y - b64[None, :, None, None]).detach().numpy()) <= TOL

    dx = _host(module.conv2d_backward_input(_native(dy), _native(w), x.shape, stride, padding))
    dw = _host(module.conv2d_backward_weight(_native(dy), _native(x), w.shape, stride, padding))
    db = _host(module.conv2d_backward_bias(_native(dy)))
    for got, ref in ((dx, x64.grad), (dw, w64.grad), (db, b64.grad)):
        assert got.dtype == torch.bfloat16 and got.shape == ref.shape
        assert rel_err(got.double().numpy(), ref.numpy()) <= TOL


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_bf16_matches_torch_float64(rng, case):
    _check_all_ops(conv, rng, case)


def test_bf16_multi_tile_and_split_reduction(rng, monkeypatch):
    N, C, H, W, K, R, S, _, _ = MULTI_TILE
    monkeypatch.setattr(conv, "MIN_SPLIT_DEPTH", 64)  # N*P*Q = 507: several partial tiles, the reduce kernel
    assert conv._backward_weight_launch(K, C * R * S, N * H * W, BFLOAT16, conv.TARGET_BLOCKS, 64)[2] > 1
    _check_all_ops(conv, rng, MULTI_TILE)


@pytest.mark.parametrize("rung", ladder.RUNGS[:-1])  # the top rung is conv2d.py itself
def test_bf16_every_ladder_rung(rng, rung):
    _check_all_ops(ladder.load(rung), rng, CASES[0])


def test_bf16_empty_batch():
    x, w = BFloat16Array(xp().zeros((0, 3, 5, 5), np.uint16)), BFloat16Array.from_float(xp().ones((4, 3, 3, 3)))
    dy = BFloat16Array(xp().zeros((0, 4, 3, 3), np.uint16))
    y = conv.conv2d_forward(x, w, None, 1, 0)
    dw = conv.conv2d_backward_weight(dy, x, (4, 3, 3, 3), 1, 0)
    db = conv.conv2d_backward_bias(dy)
    assert all(isinstance(a, BFloat16Array) for a in (y, dw, db))  # (input_shape must be positive: no dx)
    assert (y.shape, dw.shape, db.shape) == ((0, 4, 3, 3), (4, 3, 3, 3), (4,))
    assert not xp().asarray(dw.bits).any() and not xp().asarray(db.bits).any()  # sums of nothing: +0.0


# ----------------------------------------------------------------------------------- conversions


def test_from_float_rounds_to_nearest_even_like_torch(rng):
    # ties (bit 15 set, lower bits clear) both ways, subnormals, infinities, NaN, and random values
    special = np.array([1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8), 2**-130, 3.0e38, np.inf, -np.inf, 0.0, -0.0],
                       np.float32)
    values = np.concatenate([special, rng.standard_normal(1000).astype(np.float32) * 10.0 ** rng.integers(-30, 30)])
    ours = BFloat16Array.from_float(values)
    want = torch.from_numpy(values).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(ours.bits, want)
    np.testing.assert_array_equal(ours.to_float32(), torch.from_numpy(values).to(torch.bfloat16).float().numpy())
    nan = BFloat16Array.from_float(np.array([np.nan], np.float32))
    assert np.isnan(nan.to_float32()).all()


def test_torch_round_trip_shares_memory():
    t = torch.arange(6, dtype=torch.bfloat16).reshape(2, 3)
    a = BFloat16Array.from_torch(t)
    assert a.shape == (2, 3) and a.dtype is BFLOAT16 and str(a.dtype) == "bfloat16"
    a.bits[0, 0] = BFloat16Array.from_float(np.array([7.0])).bits[0]
    assert t[0, 0].item() == 7.0  # the bits are the tensor's storage
    back = a.to_torch()
    assert back.dtype == torch.bfloat16 and back.data_ptr() == t.data_ptr()


# ----------------------------------------------------------------------------------------- errors


def _args(rng):
    x, w, b = (BFloat16Array.from_float(rng.standard_normal(s)) for s in ((2, 3, 6, 6), (4, 3, 3, 3), (4,)))
    dy = BFloat16Array.from_float(rng.standard_normal((2, 4, 4, 4)))
    return x, w, b, dy


def test_mixed_dtypes_name_the_arguments(rng):
    x, w, b, dy = _args(rng)
    f32 = {k: xp().asarray(v.to_float32()) for k, v in dict(x=x, w=w, b=b, dy=dy).items()}
    with pytest.raises(TypeError, match="dtype mismatch: x=bfloat16, w=float32"):
        conv.conv2d_forward(x, f32["w"], b, 1, 0)
    with pytest.raises(TypeError, match="dtype mismatch: x=bfloat16, w=bfloat16, b=float16"):
        conv.conv2d_forward(x, w, f32["b"].astype(np.float16), 1, 0)
    with pytest.raises(TypeError, match="dtype mismatch: dy=float32, w=bfloat16"):
        conv.conv2d_backward_input(f32["dy"], w, x.shape, 1, 0)
    with pytest.raises(TypeError, match="dtype mismatch: dy=bfloat16, x=float64"):
        conv.conv2d_backward_weight(dy, f32["x"].astype(np.float64), w.shape, 1, 0)


def test_wrong_types(rng):
    x, w, b, dy = _args(rng)
    with pytest.raises(TypeError, match="x must have dtype float16, bfloat16, float32 or float64, got uint16"):
        conv.conv2d_forward(x.bits, w, None, 1, 0)  # raw bits are not bfloat16 until marked so
    with pytest.raises(TypeError, match="bits must be a numpy or cupy uint16 array"):
        BFloat16Array(xp().zeros(3, np.int16))
    with pytest.raises(TypeError, match="from_torch needs a torch.bfloat16 tensor, got dtype torch.float16"):
        BFloat16Array.from_torch(torch.zeros(3, dtype=torch.float16))
    with pytest.raises(ValueError, match="dy must be C-contiguous"):
        conv.conv2d_backward_bias(BFloat16Array(dy.bits.transpose(0, 1, 3, 2)))
    with pytest.raises(ValueError, match="w must be 4-D"):
        conv.conv2d_forward(x, b, None, 1, 0)
    from kernels.cupy import maxpool2d  # a family without bfloat16 kernels says so at its API

    with pytest.raises(TypeError, match="x must have dtype float16, float32 or float64, got bfloat16"):
        maxpool2d.maxpool2d_forward(x, 2, 2, 0)


def test_launch_refuses_bf16_bits_for_the_half_kernel(rng):
    """The launch check reads the kernel's C types: bfloat16 bits never reach a __half* (or a float16 array a
    __nv_bfloat16*)."""
    x, w, b, _ = _args(rng)
    y = BFloat16Array(xp().empty((2, 4, 4, 4), np.uint16))
    args = [x, w, b, y, *conv._i32(*conv2d_forward_geometry(x.shape, w.shape, b.shape, 1, 0), 1)]
    grid, block = conv._gemm_launch(32, 4, BFLOAT16)
    with pytest.raises(TypeError, match=r"conv2d_forward_kernel<__half> argument 0 \(__half\* x\) needs a float16"):
        conv.MODULE.launch("conv2d_forward_kernel<__half>", grid, block, args)
    half = [xp().asarray(a.to_float32()).astype(np.float16) for a in (x, w, b)]
    with pytest.raises(TypeError, match=r"argument 0 \(__nv_bfloat16\* x\) needs a bfloat16 array, got dtype float16"):
        conv.MODULE.launch("conv2d_forward_kernel<__nv_bfloat16>", grid, block, [*half, y, *args[4:]])


def test_ladder_benchmark_hands_cupy_bf16_tensors_as_bfloat16_arrays():
    from benchmarks.ladder import native_inputs

    t = {"x": torch.randn(2, 3, dtype=torch.bfloat16), "n": torch.ones(2)}
    out = native_inputs("cupy", lambda v: v.numpy(), t)
    assert isinstance(out["x"], BFloat16Array) and out["x"].to_torch().data_ptr() == t["x"].data_ptr()
    assert isinstance(out["n"], np.ndarray)
    assert native_inputs("triton", lambda v: v, t)["x"] is t["x"]
