"""Global random state: one numpy Generator for initialisation and sampling, one Philox stream for dropout.

``manual_seed(s)`` resets both, so a seeded run is reproducible on every device: parameters are drawn
on the host and copied to the device, and dropout masks come from the counter-based Philox stream
(seed ``s``, an offset that advances by the number of elements each call), which the numpy, Triton
and CuPy kernels all reproduce bit for bit.
"""

from __future__ import annotations

import contextlib
import json
from typing import NamedTuple

import numpy as np

_rng = np.random.default_rng()
_philox_seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
_philox_offset = 0

#: Wraps a host uint8 array as a cpu Tensor for :meth:`Generator.get_state`. framework.tensor sits above this
#: module (its random creation functions draw from here), so it installs the function when it is imported.
_state_tensor = None


def manual_seed(seed: int) -> Generator:
    """Seed parameter initialisation, sampling (randn/rand/shuffle) and the dropout stream; returns the
    global stream as a Generator (``default_generator``), as torch.manual_seed does."""
    global _rng, _philox_seed, _philox_offset
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _rng = np.random.default_rng(int(seed))
    _philox_seed = int(seed) % (1 << 63)
    _philox_offset = 0
    default_generator._initial_seed = int(seed)
    return default_generator


def generator() -> np.random.Generator:
    """The global numpy Generator (after the latest ``manual_seed``)."""
    return _rng


class Generator:
    """A private random stream (``torch.Generator``'s name): ``g = fw.Generator().manual_seed(0)``.

    Samplers, ``random_split`` and the DataLoader take one as ``generator=`` and draw from it instead of
    the global stream, so a seeded generator makes their order reproducible. Backed by a numpy
    PCG64 Generator on the host (``device`` is accepted for PyTorch compatibility; only ``'cpu'``).

    Raises:
        ValueError: a device other than cpu, or a seed that is not a non-negative int.
    """

    def __init__(self, device: str = "cpu"):
        if str(device) != "cpu":
            raise ValueError(f"Generator: only device='cpu' is supported, got device={device!r}")
        self.device = "cpu"
        self.seed()

    def manual_seed(self, seed: int) -> Generator:
        """Reset the stream to ``seed``; returns ``self`` so ``Generator().manual_seed(s)`` chains."""
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"Generator.manual_seed: seed must be a non-negative int, got {seed!r}")
        self._initial_seed = int(seed)
        self._rng = np.random.default_rng(self._initial_seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh OS entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1)))
        return self._initial_seed

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self):
        """The stream's state as a uint8 Tensor (opaque; pass it back to :meth:`set_state`)."""
        raw = json.dumps(self._rng.bit_generator.state).encode()
        return _state_tensor(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, state) -> Generator:
        try:
            self._rng.bit_generator.state = json.loads(bytes(np.asarray(state, dtype=np.uint8)))
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError("Generator.set_state: state must come from Generator.get_state()") from exc
        return self


class _GlobalGenerator(Generator):
    """The global stream seen as a Generator (torch's ``default_generator``): it draws from and seeds the
    module's stream, so ``generator=fw.default_generator`` is the same as passing no generator."""

    def __init__(self):
        self.device = "cpu"
        self._initial_seed = _philox_seed

    @property
    def _rng(self) -> np.random.Generator:
        return _rng

    @_rng.setter
    def _rng(self, value: np.random.Generator) -> None:
        global _rng
        _rng = value

    def manual_seed(self, seed: int) -> Generator:
        return manual_seed(seed)


default_generator = _GlobalGenerator()


def numpy_generator(generator: Generator | np.random.Generator | None) -> np.random.Generator:
    """The numpy Generator to draw from for a ``generator=`` argument.

    A :class:`Generator` gives its own stream (advanced by the draw); a numpy Generator is used as is;
    None gives a fresh stream seeded from the global one (so ``manual_seed`` makes it reproducible).

    Raises:
        TypeError: anything else.
    """
    if generator is None:
        return np.random.default_rng(int(_rng.integers(2**63)))
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a framework.Generator (or a numpy Generator), got {type(generator).__name__}")


def next_philox(numel: int) -> tuple[int, int]:
    """Reserve ``numel`` counters of the dropout stream; returns ``(seed, offset)`` for one kernel call."""
    global _philox_offset
    offset = _philox_offset
    # Round up to a multiple of 4: every call's offset is then a multiple of 4, so its counters start on a
    # fresh Philox call (counters 4g..4g+3 share call g: kernels/numpy/dropout.py) -- the kernels' four-outputs-
    # per-call fast path -- and no two calls draw from one Philox call.
    _philox_offset += (int(numel) + 3) // 4 * 4
    return _philox_seed, offset


# ------------------------------------------------------------------------------ data-parallel shards

class SampleShard(NamedTuple):
    """This process holds rows ``rank, rank + world_size, rank + 2*world_size, ...`` of a global batch of
    ``global_rows`` rows (None: ``world_size`` times the local rows; give it when the ranks' shares differ)."""

    rank: int
    world_size: int
    global_rows: int | None = None


_shard: SampleShard | None = None


@contextlib.contextmanager
def sample_shard(rank: int, world_size: int, global_rows: int | None = None):
    """Within the block, dropout draws its masks by *global* sample: row ``j`` of a dropout input (dim 0 is the
    batch) gets the mask that row ``rank + world_size * j`` of the global batch gets in a single process, and
    the stream advances by the global batch's count, so N processes draw exactly the masks of one process
    with the global batch (what :class:`~framework.nn.parallel.DistributedDataParallel`'s forward sets up,
    and the row layout :class:`~framework.utils.data.DistributedSampler` gives). An inner block replaces an
    outer one; ``world_size`` 1 is the ordinary stream.

    Raises: ValueError unless ``0 <= rank < world_size`` and ``global_rows`` (if given) >= 0.
    """
    global _shard
    for name, value in (("rank", rank), ("world_size", world_size)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool):
            raise TypeError(f"sample_shard: {name} must be an int, got {type(value).__name__}")
    if not 0 <= rank < world_size:
        raise ValueError(f"sample_shard: need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    if global_rows is not None and (not isinstance(global_rows, int | np.integer) or global_rows < 0):
        raise ValueError(f"sample_shard: global_rows must be a non-negative int or None, got {global_rows!r}")
    outer = _shard
    _shard = SampleShard(int(rank), int(world_size), None if global_rows is None else int(global_rows))
    try:
        yield _shard
    finally:
        _shard = outer


def current_shard() -> SampleShard | None:
    """The active :func:`sample_shard` (None outside one, or with one process)."""
    return _shard if _shard is not None and _shard.world_size > 1 else None
