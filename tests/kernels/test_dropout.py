"""Dropout kernels and their counter-based RNG: Philox known answers, bit-equality with Triton's
``tl.randint4x`` / ``tl.rand``, mask statistics, forward/backward consistency, and bad input.

The RNG contract (``kernels/numpy/dropout.py``): element i's uniform is word c_i & 3 of Philox4x32-10(seed,
c_i >> 2).  Every backend runs every test, and so does every rung of the dropout ladders below the production
kernel (``triton/rung0_per_element``, ``cupy/rung0_per_element``: ``ladder_params``); production itself runs
both its kernels (the four-per-call fast path for aligned counters, the per-element fallback otherwise), which
the offsets below choose."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from .conftest import ladder_params, load_ladder_backend

ref_dropout = pytest.importorskip("kernels.numpy").dropout


@pytest.fixture(params=ladder_params("dropout"))
def kernel_backend(request):
    """Every backend, and every rung of the dropout ladders below the production kernel: each draws the same mask.
    A rung whose two functions are production's own (``rung1_four_per_call`` and ``rung2_residual_add``: the rungs
    above them added fused entry points beside the same two) is skipped: production's parameter runs those very
    functions."""
    kb = load_ladder_backend(request.param, "dropout")
    if "/" in kb.name:
        production = load_ladder_backend(kb.name.partition("/")[0], "dropout").family("dropout")
        rung = kb.family("dropout")
        if all(getattr(rung, f) is getattr(production, f) for f in ("dropout_forward", "dropout_backward")):
            pytest.skip(f"{kb.name}: its functions are production's, tested as {kb.name.partition('/')[0]}")
    return kb


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


# float32 bit patterns of dropout's uniforms for counters offset + arange(8), from Triton 3.9's own
# ``tl.randint4x(seed, c >> 2)`` word c & 3 converted by ``tl.random.uint_to_uniform_float`` (TRITON_INTERPRET=1):
# the contract's known answers.  Word 0 of each group equals tl.rand(seed, c >> 2) (TRITON_RAND_BITS (0, 0)).
DROPOUT_RAND_BITS = {
    (0, 0): [1061965777, 1047835091, 1057444006, 1061813831, 1029924458, 1060725761, 1058845973, 1033367541],
    (42, 12345): [1060592090, 1058854418, 1063532522, 1031952539, 1056982660, 1061834783, 1025555008, 1030744279],
    (2**40 + 7, 2**32 - 5): [
        1053291913, 1049554862, 1058577815, 1057837614, 1059158622, 1059196061, 1053418279, 1056110106,
    ],
}


def _contract_uniforms(seed: int, counters) -> np.ndarray:
    """The contract written out with the known-answer-tested :func:`philox4x32` (Python ints, one call per counter)."""
    out = []
    for c in (int(v) for v in np.asarray(counters).reshape(-1)):
        g = c >> 2
        words = ref_dropout.philox4x32(g & 0xFFFFFFFF, g >> 32, 0, 0, seed & 0xFFFFFFFF, seed >> 32)
        out.append(int(words[c & 3]))
    return ref_dropout.uniform_from_uint32(np.array(out, dtype=np.uint32)).reshape(np.shape(counters))


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


@pytest.mark.parametrize("seed, offset", list(DROPOUT_RAND_BITS))
def test_dropout_rand_matches_recorded_triton_randint4x_bits(seed, offset):
    counters = offset + np.arange(8, dtype=np.int64)
    u = ref_dropout.dropout_rand(seed, counters)
    assert u.dtype == np.float32 and u.shape == (8,)
    assert u.view(np.uint32).tolist() == DROPOUT_RAND_BITS[(seed, offset)]
    assert _contract_uniforms(seed, counters).view(np.uint32).tolist() == DROPOUT_RAND_BITS[(seed, offset)]
    # word 0 of group g is tl.rand(seed, g): the old first-word stream, thinned to every fourth counter
    groups = counters[counters % 4 == 0] >> 2
    np.testing.assert_array_equal(u[counters % 4 == 0], ref_dropout.rand(seed, groups))


def test_dropout_rand_equals_the_contract_written_out(rng):
    """Seeds across 2**31 / 2**32, counters whose groups cross 2**32 (c >> 2 past 2**32: c past 2**34) and 2**62."""
    seeds = [0, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, int(rng.integers(0, 2**63))]
    counters = np.concatenate([np.arange(2**34 - 6, 2**34 + 6), np.arange(2**32 - 3, 2**32 + 3),
                               [0, 1, 2, 3, 2**62 + 11, 2**63 - 1], rng.integers(0, 2**63, 20)]).astype(np.uint64)
    for seed in seeds:
        got = ref_dropout.dropout_rand(seed, counters)
        np.testing.assert_array_equal(got.view(np.uint32), _contract_uniforms(seed, counters).view(np.uint32))
    words = ref_dropout.randint4x(5, counters >> np.uint64(2))
    assert all(w.dtype == np.uint32 and w.shape == counters.shape for w in words)
    with pytest.raises(ValueError, match=r"offsets"):
        ref_dropout.dropout_rand(0, np.array([-1]))


_TRITON_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch, triton, triton.language as tl

    @triton.jit
    def k(out_ptr, words_ptr, seed, off0, BLOCK: tl.constexpr):
        i = tl.arange(0, BLOCK)
        tl.store(out_ptr + i, tl.rand(seed, off0 + i))
        w0, w1, w2, w3 = tl.randint4x(seed, off0 + i)
        tl.store(words_ptr + 4 * i, w0)
        tl.store(words_ptr + 4 * i + 1, w1)
        tl.store(words_ptr + 4 * i + 2, w2)
        tl.store(words_ptr + 4 * i + 3, w3)

    res = {}
    for seed, off in json.loads(sys.argv[1]):
        out = torch.empty(16, dtype=torch.float32)
        words = torch.empty(64, dtype=torch.int32)
        k[(1,)](out, words, seed, off, BLOCK=16)
        res[f"{seed}:{off}"] = out.view(torch.int32).numpy().view("uint32").tolist()
        res[f"words {seed}:{off}"] = words.numpy().view("uint32").tolist()
    print(json.dumps(res))
    """
)


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed")
def test_rand_and_randint4x_are_bit_identical_to_triton():
    """Run tl.rand and tl.randint4x under the Triton interpreter in a subprocess (TRITON_INTERPRET must not leak
    here); offsets are 64-bit, so counters past 2**32 carry into the high counter word."""
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
        words = np.stack(ref_dropout.randint4x(seed, off + np.arange(16, dtype=np.int64)), axis=1)
        assert words.reshape(-1).tolist() == got[f"words {seed}:{off}"], (seed, off)


# ---------------------------------------------------------------- dropout kernels (every backend)


def _reference(x, p, seed, offset):
    """The documented formula, straight from the numpy helpers."""
    counters = offset + np.arange(x.size, dtype=np.int64)
    keep = ref_dropout.dropout_rand(seed, counters).reshape(x.shape) > np.float32(p)
    scale = np.float32(1.0 / (1.0 - p))
    ct = np.float32 if x.dtype == np.float16 else x.dtype.type
    y = np.where(keep, x.astype(ct) * ct(scale), 0).astype(x.dtype)
    return keep, y


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_forward_matches_the_documented_formula(kernel_backend, rng, dtype, p):
    kb = kernel_backend
    do = kb.family("dropout")
    x = (rng.standard_normal((3, 5, 7)) + 3.0).astype(dtype)  # no zeros: kept <=> nonzero; 105 = 4 * 26 + 1
    seed, base = int(rng.integers(0, 2**63)), 4 * int(rng.integers(0, 2**38))
    for offset in (base, base + 1, base + 3):  # aligned (production's fast path) and unaligned (its fallback)
        keep, expected = _reference(x, p, seed, offset)
        y = kb.to_numpy(do.dropout_forward(kb.to_native(x), p, seed, offset))
        assert y.dtype == dtype and y.shape == x.shape
        np.testing.assert_array_equal(y != 0, keep, err_msg=f"offset={offset}")
        np.testing.assert_array_equal(y, expected, err_msg=f"offset={offset}")  # exact: same mask, scale, rounding


def _lower_rung_subset(kb, reason: str) -> None:
    """Skip a heavy case for a ladder rung below production (the per-element rungs draw the same mask as
    production's fallback, bit-checked against numpy by the other tests)."""
    if "/" in kb.name:
        pytest.skip(f"{kb.name}: ladder rungs below production run a subset of these tests ({reason})")


def test_keep_rate_within_four_sigma(kernel_backend):
    kb = kernel_backend
    _lower_rung_subset(kb, "100k-element statistics: the mask is bit-equal to numpy's in the other tests")
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


def test_empty_input_launches_nothing_and_keeps_the_shape(kernel_backend):
    kb = kernel_backend
    do = kb.family("dropout")
    for dtype in (np.float32, np.float16):
        for offset in (0, 3):
            y = kb.to_numpy(do.dropout_forward(kb.to_native(np.empty((0, 5), dtype=dtype)), 0.5, 1, offset))
            assert y.shape == (0, 5) and y.dtype == dtype


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
    cross 2**31, 2**32 and sit near 2**62, whose Philox groups (c >> 2) cross 2**32, aligned (offset % 4 == 0:
    production's four-per-call path) and not, and sizes that are not multiples of 4 or of any block."""
    kb = kernel_backend
    if kb.name == "numpy":
        pytest.skip("numpy is the reference these masks are compared with")
    do = kb.family("dropout")
    seeds = [0, 7, 2**31 - 1, 2**31, 2**32 + 3, 2**40 + 7, 2**63 - 1]
    offsets = [0, 2**31 - 700, 2**32 - 1500, 2**32 - 1499, 2**34 - 1000, 2**34 - 998, 2**62 + 11]
    sizes = (1, 7, 2500)
    if "/" in kb.name:  # a rung below production: one way of reaching every counter, a subset of the seeds
        seeds, offsets, sizes = [0, 2**31, 2**32 + 3, 2**63 - 1], [2**32 - 1499, 2**34 - 1000, 2**62 + 11], (7, 2500)
    for n in sizes:
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


