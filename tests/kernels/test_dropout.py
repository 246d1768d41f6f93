"""Dropout kernels and their counter-based RNG: Philox known answers, bit-equality with Triton's
``tl.rand``, mask statistics, forward/backward consistency, and bad input."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ref_dropout = pytest.importorskip("kernels.numpy").dropout

# Random123 kat_vectors, philox4x32 with 10 rounds: (counter, key) -> output
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]

# float32 bit patterns of tl.rand(seed, offset + arange(8)) produced by Triton 3.x (TRITON_INTERPRET=1);
# the last case passes a 64-bit offset, so the high counter word is 1.
TRITON_RAND_BITS = {
    (0, 0): [1061965777, 1029924458, 1025463396, 1054456898, 1040585188, 1063686439, 1058185575, 1060018629],
    (42, 12345): [
        1040608956,
        1056449776,
        1057835665,
        1051657838,
        1055330912,
        1057511023,
        1057622768,
        1021430450,
    ],
    (2**40 + 7, 2**32 - 5): [
        1058445357,
        1003142052,
        1018253811,
        1061473859,
        1059958390,
        1050439859,
        1049772112,
        1043596084,
    ],
}


def test_philox_known_answers():
    for ctr, key, expected in PHILOX_KAT:
        out = ref_dropout.philox4x32(*ctr, *key)
        assert [int(o) for o in out] == list(expected)
        assert all(np.asarray(o).dtype == np.uint32 for o in out)


def test_philox_is_vectorised():
    c0 = np.array([0, 0x243F6A88, 0xFFFFFFFF], dtype=np.uint32)
    c1 = np.array([0, 0x85A308D3, 0xFFFFFFFF], dtype=np.uint32)
    c2 = np.array([0, 0x13198A2E, 0xFFFFFFFF], dtype=np.uint32)
    c3 = np.array([0, 0x03707344, 0xFFFFFFFF], dtype=np.uint32)
    k0 = np.array([0, 0xA4093822, 0xFFFFFFFF], dtype=np.uint32)
    k1 = np.array([0, 0x299F31D0, 0xFFFFFFFF], dtype=np.uint32)
    out = np.stack(ref_dropout.philox4x32(c0, c1, c2, c3, k0, k1))
    expected = np.array([PHILOX_KAT[0][2], PHILOX_KAT[2][2], PHILOX_KAT[1][2]], dtype=np.uint32).T
    np.testing.assert_array_equal(out, expected)


def test_uniform_from_uint32_edges():
    u = ref_dropout.uniform_from_uint32(np.array([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF], dtype=np.uint32))
    assert u.dtype == np.float32
    assert u[0] == 0.0 and u[4] == 0.0  # 0xFFFFFFFF is int32 -1 -> ~(-1) = 0
    assert u[2] == u[3] and u[2] < 1.0  # 0x80000000 -> ~INT_MIN = INT_MAX
    assert u[1] == np.float32(4.6566127342e-10)


@pytest.mark.parametrize("seed, offset", list(TRITON_RAND_BITS))
def test_rand_matches_recorded_triton_bits(seed, offset):
    u = ref_dropout.rand(seed, offset + np.arange(8, dtype=np.int64))
    assert u.dtype == np.float32
    assert u.view(np.uint32).tolist() == TRITON_RAND_BITS[(seed, offset)]


_TRITON_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch, triton, triton.language as tl

    @triton.jit
    def k(out_ptr, seed, off0, BLOCK: tl.constexpr):
        i = tl.arange(0, BLOCK)
        tl.store(out_ptr + i, tl.rand(seed, off0 + i))

    res = {}
    for seed, off in json.loads(sys.argv[1]):
        out = torch.empty(16, dtype=torch.float32)
        k[(1,)](out, seed, off, BLOCK=16)
        res[f"{seed}:{off}"] = out.view(torch.int32).numpy().view("uint32").tolist()
    print(json.dumps(res))
    """
)


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed")
def test_rand_is_bit_identical_to_triton_tl_rand():
    """Run tl.rand under the Triton interpreter in a subprocess (TRITON_INTERPRET must not leak here)."""
    pairs = [(s, o) for s in (0, 42, 2**40 + 7) for o in (0, 12345, 2**31 - 8, 2**32 - 5)]
    proc = subprocess.run(
        [sys.executable, "-c", _TRITON_SCRIPT, json.dumps(pairs)],
        env={**os.environ, "TRITON_INTERPRET": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.skip(f"Triton interpreter unavailable: {proc.stderr.strip().splitlines()[-1:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for seed, off in pairs:
        ours = ref_dropout.rand(seed, off + np.arange(16, dtype=np.int64)).view(np.uint32).tolist()
        assert ours == got[f"{seed}:{off}"], (seed, off)


# ---------------------------------------------------------------- dropout kernels (every backend)


def _reference(x, p, seed, offset):
    """The documented formula, straight from the numpy helpers."""
    keep = ref_dropout.rand(seed, offset + np.arange(x.size, dtype=np.int64)).reshape(x.shape) > np.float32(p)
    scale = np.float32(1.0 / (1.0 - p))
    ct = np.float32 if x.dtype == np.float16 else x.dtype.type
    y = np.where(keep, x.astype(ct) * ct(scale), 0).astype(x.dtype)
    return keep, y


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_forward_matches_the_documented_formula(kernel_backend, rng, dtype, p):
    kb = kernel_backend
    do = kb.family("dropout")
    x = (rng.standard_normal((3, 5, 7)) + 3.0).astype(dtype)  # no zeros: kept <=> nonzero
    seed, offset = int(rng.integers(0, 2**63)), int(rng.integers(0, 2**40))
    keep, expected = _reference(x, p, seed, offset)
    y = kb.to_numpy(do.dropout_forward(kb.to_native(x), p, seed, offset))
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_array_equal(y != 0, keep)
    np.testing.assert_array_equal(y, expected)  # exact: same mask, same scale, same rounding


def test_keep_rate_within_four_sigma(kernel_backend):
    kb = kernel_backend
    do = kb.family("dropout")
    n, p = 100_000, 0.3
    x = np.ones(n, dtype=np.float32)
    for seed, offset in [(0, 0), (1234, 2**32 - 50_000)]:
        y = kb.to_numpy(do.dropout_forward(kb.to_native(x), p, seed, offset))
        kept = int(np.count_nonzero(y))
        assert abs(kept - n * (1 - p)) <= 4 * np.sqrt(n * p * (1 - p))
        assert np.all(y[y != 0] == np.float32(1.0 / (1.0 - p)))


def test_backward_regenerates_the_forward_mask(kernel_backend, rng):
    kb = kernel_backend
    do = kb.family("dropout")
    x = rng.standard_normal((4, 33)).astype(np.float32) + 5.0
    dy = rng.standard_normal((4, 33)).astype(np.float32) + 5.0
    p, seed, offset = 0.4, 7, 99
    y = kb.to_numpy(do.dropout_forward(kb.to_native(x), p, seed, offset))
    dx = kb.to_numpy(do.dropout_backward(kb.to_native(dy), p, seed, offset))
    np.testing.assert_array_equal(y != 0, dx != 0)
    np.testing.assert_array_equal(dx, _reference(dy, p, seed, offset)[1])

    other_offset = kb.to_numpy(do.dropout_forward(kb.to_native(x), p, seed, offset + x.size))
    other_seed = kb.to_numpy(do.dropout_forward(kb.to_native(x), p, seed + 1, offset))
    assert np.any((other_offset != 0) != (y != 0))
    assert np.any((other_seed != 0) != (y != 0))


def test_p_zero_is_an_identity_copy(kernel_backend, rng):
    kb = kernel_backend
    do = kb.family("dropout")
    x = rng.standard_normal((3, 4)).astype(np.float32)
    xn = kb.to_native(x)
    y = do.dropout_forward(xn, 0.0, 1, 0)
    assert y is not xn
    np.testing.assert_array_equal(kb.to_numpy(y), x)
    np.testing.assert_array_equal(kb.to_numpy(do.dropout_backward(xn, 0.0, 1, 0)), x)


def test_bad_inputs(kernel_backend):
    kb = kernel_backend
    do = kb.family("dropout")
    x = kb.to_native(np.ones((2, 3), dtype=np.float32))
    for p in (1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"\bp\b"):
            do.dropout_forward(x, p, 0, 0)
        with pytest.raises(ValueError, match=r"\bp\b"):
            do.dropout_backward(x, p, 0, 0)
    with pytest.raises(ValueError, match=r"seed"):
        do.dropout_forward(x, 0.5, -1, 0)
    with pytest.raises(ValueError, match=r"seed"):
        do.dropout_forward(x, 0.5, 2**63, 0)
    with pytest.raises(TypeError, match=r"seed"):
        do.dropout_forward(x, 0.5, 1.5, 0)
    with pytest.raises(ValueError, match=r"offset"):
        do.dropout_forward(x, 0.5, 0, -1)
    with pytest.raises(TypeError, match=r"offset"):
        do.dropout_forward(x, 0.5, 0, 2.0)
    with pytest.raises(TypeError, match=r"\bx\b"):
        do.dropout_forward(kb.to_native(np.ones(3, dtype=np.int32)), 0.5, 0, 0)


# ---------------------------------------------------------------- GPU backends against the numpy masks


def test_gpu_backend_masks_equal_numpy_bit_for_bit(kernel_backend):
    """Seeds on both sides of 2**31 / 2**32 (Triton passes them as int32 / int64), offsets whose counters
    cross 2**31, 2**32 and sit near 2**62, and sizes that are not multiples of any block."""
    kb = kernel_backend
    if kb.name == "numpy":
        pytest.skip("numpy is the reference these masks are compared with")
    do = kb.family("dropout")
    seeds = [0, 7, 2**31 - 1, 2**31, 2**32 + 3, 2**40 + 7, 2**63 - 1]
    offsets = [0, 2**31 - 700, 2**32 - 1500, 2**62 + 11]
    for n in (1, 2500):
        x = np.linspace(1.0, 2.0, n, dtype=np.float32)
        for seed in seeds:
            for offset in offsets:
                y = kb.to_numpy(do.dropout_forward(kb.to_native(x), 0.5, seed, offset))
                ref = ref_dropout.dropout_forward(x, 0.5, seed, offset)
                np.testing.assert_array_equal(y != 0, ref != 0, err_msg=f"seed={seed} offset={offset} n={n}")
                np.testing.assert_array_equal(y, ref, err_msg=f"seed={seed} offset={offset} n={n}")


# ---------------------------------------------------------------- NaN, inf, subnormals, autotune keys


def test_nan_inf_and_signed_zero_follow_the_select(kernel_backend):
    """Kept NaN/+-inf stay NaN/+-inf (times the scale), dropped ones become +0.0 on every backend: the mask is
    a select.  (PyTorch's dropout multiplies by the mask, so a dropped NaN or inf is NaN there.)"""
    kb = kernel_backend
    do = kb.family("dropout")
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 1.5, -2.0], dtype=np.float32)
    x = np.tile(specials, 50)
    p, seed, offset = 0.5, 11, 2**32 - 100
    keep, expected = _reference(x, p, seed, offset)
    assert keep.any() and (~keep).any()
    for fn in (do.dropout_forward, do.dropout_backward):
        y = kb.to_numpy(fn(kb.to_native(x), p, seed, offset))
        np.testing.assert_array_equal(y, expected)  # NaN where expected is NaN
        assert np.all(np.isnan(y[keep & np.isnan(x)])) and np.all(y[keep & np.isinf(x)] == x[keep & np.isinf(x)])
        assert np.all(y[~keep].view(np.uint32) == 0)  # +0.0, also for dropped NaN, inf and -0.0
        torch = pytest.importorskip("torch")  # kept elements: torch float64's x * scale, rounded to float32
        kept = torch.tensor(x[keep], dtype=torch.float64) * float(np.float32(1 / (1 - p)))
        np.testing.assert_array_equal(y[keep], kept.to(torch.float32).numpy())


