"""Global random state: one numpy Generator for initialisation and sampling, one Philox stream for dropout.

``manual_seed(s)`` resets both, so a seeded run is reproducible on every device: parameters are drawn
on the host and copied to the device, and dropout masks come from the counter-based Philox stream
(seed ``s``, an offset that advances by the number of elements each call), which the numpy, Triton
and CuPy kernels all reproduce bit for bit.
"""

from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()
_philox_seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
_philox_offset = 0


def manual_seed(seed: int) -> None:
    """Seed parameter initialisation, sampling (randn/rand/shuffle) and the dropout stream."""
    global _rng, _philox_seed, _philox_offset
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _rng = np.random.default_rng(int(seed))
    _philox_seed = int(seed) % (1 << 63)
    _philox_offset = 0


def generator() -> np.random.Generator:
    """The global numpy Generator (after the latest ``manual_seed``)."""
    return _rng


def next_philox(numel: int) -> tuple[int, int]:
    """Reserve ``numel`` counters of the dropout stream; returns ``(seed, offset)`` for one kernel call."""
    global _philox_offset
    offset = _philox_offset
    # Round up to a multiple of 4 so every call starts on a fresh Philox block (cheap, and lets a
    # vectorised kernel use all four outputs of a block later without overlapping the next call).
    _philox_offset += (int(numel) + 3) // 4 * 4
    return _philox_seed, offset
