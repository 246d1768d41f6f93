"""CuPy (CUDA C) dropout details: philox.cuh on the host vs numpy, launch arithmetic, bit-equality with
numpy through the grid-stride loop, dtypes and bad arguments (the masks across 2**31 / 2**32 seeds and
counters are checked for every backend in tests/kernels/test_dropout.py).

The shared tests (tests/kernels/test_dropout.py) run the cupy backend too; these cover what they do not reach.  Under
``KERNELGRAD_CUDA_EMULATE=1`` (set by tests/conftest.py without a GPU) the kernels run on the CPU.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from ..conftest import rel_err
from ..test_dropout import DROPOUT_RAND_BITS, PHILOX_KAT, TRITON_RAND_BITS

# ImportError (no cupy / no GPU, and no emulator) skips the module with the reason
pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")
from kernels.cupy import dropout as do  # noqa: E402
from kernels.cupy._runtime import KERNEL_DIR, check_launch, emulating, xp  # noqa: E402

ref = pytest.importorskip("kernels.numpy").dropout
HOST_TEST = Path(__file__).parent / "cuda" / "philox_host_test.cpp"


def _dev(a: np.ndarray):
    """The runtime's array (cupy on a GPU, the numpy array itself under the emulator)."""
    return xp().asarray(a)


def _host(a) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)

SEEDS = [0, 1, 42, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 3, 2**40 + 7, 2**63 - 1]
COUNTERS = [0, 1, 12345, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 5, 2**62 + 11, 2**64 - 1]


# ---------------------------------------------------------------- philox.cuh compiled for the host


@pytest.fixture(scope="module")
def philox_host(tmp_path_factory) -> Path:
    """tests/kernels/cupy/cuda/philox_host_test.cpp built with g++ (strict warnings) against kernels/cupy/philox.cuh."""
    cxx = shutil.which("g++")
    if cxx is None:
        pytest.skip("g++ is not on PATH: cannot build the Philox host test")
    exe = tmp_path_factory.mktemp("philox") / "philox_host_test"
    cmd = [cxx, "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{KERNEL_DIR}", str(HOST_TEST), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr}"
    return exe


def _run_host(exe: Path, lines: list[str]) -> list[list[int]]:
    proc = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = [[int(v) for v in line.split()] for line in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    return out


def test_host_philox_known_answers(philox_host):
    lines = [f"philox {' '.join(map(hex, ctr))} {' '.join(map(hex, key))}" for ctr, key, _ in PHILOX_KAT]
    got = _run_host(philox_host, lines)
    assert got == [list(expected) for _, _, expected in PHILOX_KAT]


def test_host_philox_words_equal_numpy(philox_host, rng):
    words = rng.integers(0, 2**32, (200, 6), dtype=np.uint64)
    words[:3] = [[0xFFFFFFFF] * 6, [0] * 6, [2**31] * 6]
    got = np.array(_run_host(philox_host, [f"philox {' '.join(str(int(w)) for w in row)}" for row in words]))
    expected = np.stack(ref.philox4x32(*(words[:, j].astype(np.uint32) for j in range(6))), axis=1)
    np.testing.assert_array_equal(got, expected)


def test_host_rand_equals_numpy_bit_for_bit(philox_host, rng):
    """Seeds at and past 2**31 / 2**32 (the key's high word), counters past 2**32 (the counter's high word)."""
    pairs = [(s, c) for s in SEEDS for c in COUNTERS]
    pairs += [(int(s), int(c)) for s, c in zip(rng.integers(0, 2**63, 200), rng.integers(0, 2**63, 200))]
    got = [v[0] for v in _run_host(philox_host, [f"rand {s} {c}" for s, c in pairs])]
    expected = [int(ref.rand(s, np.array([c], dtype=np.uint64)).view(np.uint32)[0]) for s, c in pairs]
    assert got == expected


def test_host_rand_equals_recorded_triton_bits(philox_host):
    for (seed, offset), bits in TRITON_RAND_BITS.items():
        got = [v[0] for v in _run_host(philox_host, [f"rand {seed} {offset + i}" for i in range(8)])]
        assert got == bits, (seed, offset)


def test_host_randint4x_words_equal_numpy(philox_host, rng):
    """kg::philox_words (one call, four words: the fast kernels' draw) against numpy's tl.randint4x."""
    pairs = [(s, c) for s in SEEDS for c in COUNTERS]
    pairs += [(int(s), int(c)) for s, c in zip(rng.integers(0, 2**63, 100), rng.integers(0, 2**62, 100))]
    got = _run_host(philox_host, [f"words {s} {c}" for s, c in pairs])
    expected = [[int(w[0]) for w in ref.randint4x(s, np.array([c], dtype=np.uint64))] for s, c in pairs]
    assert got == expected


def test_host_dropout_uniform_equals_numpy_and_recorded_bits(philox_host, rng):
    """kg::philox_dropout_uniform (the per-element kernels' draw): word c & 3 of the call on c >> 2."""
    pairs = [(s, c) for s in SEEDS for c in COUNTERS if c < 2**63]
    pairs += [(int(s), int(c)) for s, c in zip(rng.integers(0, 2**63, 100), rng.integers(0, 2**63, 100))]
    got = [v[0] for v in _run_host(philox_host, [f"drop {s} {c}" for s, c in pairs])]
    expected = [int(ref.dropout_rand(s, np.array([c], dtype=np.uint64)).view(np.uint32)[0]) for s, c in pairs]
    assert got == expected
    for (seed, offset), bits in DROPOUT_RAND_BITS.items():
        got = [v[0] for v in _run_host(philox_host, [f"drop {seed} {offset + i}" for i in range(8)])]
        assert got == bits, (seed, offset)


def test_host_driver_rejects_malformed_input(philox_host):
    proc = subprocess.run([str(philox_host)], input="rand 1\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2


# ---------------------------------------------------------------- launch configuration (pure Python)


@pytest.mark.parametrize("numel", [1, 31, 32, 33, 255, 256, 257, 10_007, 2**31 - 1, 2**31 + 5, 2**33, 2**62])
def test_launch_config_covers_every_element_within_cuda_limits(numel):
    grid, block = do._launch_config(numel)
    check_launch(grid, block)  # raises on a grid or block outside the CUDA limits
    threads = grid[0] * block[0]
    assert block[0] % 32 == 0 and block[0] <= do.BLOCK
    assert grid[0] <= do.MAX_BLOCKS
    iterations = -(-numel // threads)  # grid-stride trips of the busiest thread
    assert threads * iterations >= numel and threads * (iterations - 1) < numel
    if numel <= do.BLOCK:
        assert grid == (1,) and block[0] == 32 * -(-numel // 32)  # one block, no idle warp
    if numel >= do.BLOCK * do.MAX_BLOCKS:
        assert grid == (do.MAX_BLOCKS,) and block == (do.BLOCK,)


def test_launch_config_respects_a_smaller_cap():
    assert do._launch_config(10_000, block=128, max_blocks=3) == ((3,), (128,))
    assert do._launch_config(100, block=128, max_blocks=3) == ((1,), (128,))


# ---------------------------------------------------------------- values


def test_kernel_choice_follows_the_alignment():
    """Four-per-call kernels exactly when offset (and row_len, row_stride) are multiples of 4."""
    from kernels._args import check_dropout_args

    assert do._kernel_name(check_dropout_args(0.5, 1, 8, 10)) == "dropout4_kernel"
    assert do._kernel_name(check_dropout_args(0.5, 1, 9, 10)) == "dropout_kernel"
    assert do._kernel_name(check_dropout_args(0.5, 1, 8, 24, 8, 12)) == "dropout4_rows_kernel"
    assert do._kernel_name(check_dropout_args(0.5, 1, 8, 24, 8, 14)) == "dropout_rows_kernel"
    assert do._kernel_name(check_dropout_args(0.5, 1, 8, 24, 6, 12)) == "dropout_rows_kernel"
    assert do._kernel_name(check_dropout_args(0.5, 1, 2, 24, 8, 12)) == "dropout_rows_kernel"
    assert do._kernel_name(check_dropout_args(0.5, 1, 8, 24, 6, 6)) == "dropout4_kernel"  # flat after all


@pytest.mark.parametrize("misalign", [0, 3], ids=["four_per_call", "per_element"])
@pytest.mark.parametrize("max_blocks", [1, 3])
def test_grid_stride_loop_covers_large_arrays(monkeypatch, rng, max_blocks, misalign):
    """With the grid capped at 1 or 3 blocks every thread loops many times; the result must not change."""
    monkeypatch.setattr(do, "MAX_BLOCKS", max_blocks)
    x = rng.standard_normal(5001).astype(np.float32) + 4.0
    seed, offset = 2**32 + 9, 2**32 - 2000 + misalign  # the counter's high word changes half-way through
    np.testing.assert_array_equal(_host(do.dropout_forward(_dev(x), 0.3, seed, offset)),
                                  ref.dropout_forward(x, 0.3, seed, offset))
    np.testing.assert_array_equal(_host(do.dropout_backward(_dev(x), 0.3, seed, offset)),
                                  ref.dropout_backward(x, 0.3, seed, offset))


@pytest.mark.parametrize("dtype, tol", [(np.float16, 1e-2), (np.float32, 1e-4), (np.float64, 1e-10)])
@pytest.mark.parametrize("shape", [(1,), (3, 7), (2, 13, 13), (1, 3, 7, 13)])
def test_values_match_numpy_and_torch(rng, dtype, tol, shape):
    """Bit-equal to numpy; against torch float64 (x * keep * scale, with the contract's float32-rounded
    scale = float32(1 / (1 - p)); 1 / (1 - p) itself is off by ~1e-8) within the dtype's tolerance."""
    p, seed, offset = 0.35, int(rng.integers(0, 2**63)), int(rng.integers(0, 2**62))
    x = (rng.standard_normal(shape) + 3.0).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    y = _host(do.dropout_forward(_dev(x), p, seed, offset))
    dx = _host(do.dropout_backward(_dev(dy), p, seed, offset))
    assert y.dtype == dtype and y.shape == shape and dx.dtype == dtype and dx.shape == shape
    np.testing.assert_array_equal(y, ref.dropout_forward(x, p, seed, offset))
    np.testing.assert_array_equal(dx, ref.dropout_backward(dy, p, seed, offset))

    counters = offset + np.arange(x.size, dtype=np.int64)
    keep = torch.from_numpy(ref.dropout_rand(seed, counters).reshape(shape) > np.float32(p))
    for out, inp in ((y, x), (dx, dy)):
        expected = torch.from_numpy(inp.astype(np.float64)) * keep * float(np.float32(1.0 / (1.0 - p)))
        if np.any(keep.numpy()) and np.any(inp != 0):
            assert rel_err(out, expected.numpy()) <= tol


def test_empty_and_p_zero_do_not_launch(monkeypatch):

    def no_launch(*args, **kwargs):
        raise AssertionError("launched a kernel")

    monkeypatch.setattr(do.MODULE, "launch", no_launch)
    x = _dev(np.arange(6, dtype=np.float32).reshape(2, 3))
    y = do.dropout_forward(x, 0.0, 1, 0)
    assert y is not x and y.dtype == x.dtype
    np.testing.assert_array_equal(_host(y), _host(x))
    empty = do.dropout_forward(_dev(np.empty((0, 3), dtype=np.float16)), 0.5, 1, 0)
    assert empty.shape == (0, 3) and empty.dtype == np.float16


def test_scale_is_float32_rounded_and_widened_for_float64():
    p32, scale = do._scalars(np.dtype(np.float64), 0.1)
    assert type(p32) is np.float32 and type(scale) is np.float64
    assert scale == np.float64(np.float32(1 / 0.9)) != 1 / 0.9
    assert type(do._scalars(np.dtype(np.float16), 0.1)[1]) is np.float32


# ---------------------------------------------------------------- bad arguments


@pytest.mark.skipif(not emulating(), reason="numpy arrays are the wrong type only under emulation")
def test_wrapper_specific_bad_arguments():
    with pytest.raises(TypeError, match=r"\bx\b.*numpy.ndarray"):
        do.dropout_forward(torch.ones(3), 0.5, 0, 0)
    with pytest.raises(TypeError, match=r"\bdy\b"):
        do.dropout_backward([1.0, 2.0], 0.5, 0, 0)
    with pytest.raises(ValueError, match=r"\bx\b.*contiguous"):
        do.dropout_forward(np.ones((4, 4), dtype=np.float32).T, 0.5, 0, 0)
    with pytest.raises(TypeError, match=r"\bx\b.*dtype"):
        do.dropout_forward(np.ones(3, dtype=np.int64), 0.5, 0, 0)
    with pytest.raises(ValueError, match=r"offset"):
        do.dropout_forward(np.ones(10, dtype=np.float32), 0.5, 0, 2**63 - 5)
    with pytest.raises(TypeError, match=r"\bp\b"):
        do.dropout_forward(np.ones(10, dtype=np.float32), "0.5", 0, 0)
