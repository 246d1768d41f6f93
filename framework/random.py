"""Global random state: one numpy Generator for initialisation and sampling, one Philox stream for dropout.

``manual_seed(s)`` resets both, so a seeded run is reproducible on every device: parameters are drawn
on the host and copied to the device, and dropout masks come from the counter-based Philox stream
(seed ``s``, an offset that advances by the number of elements each call), which the numpy, Triton
and CuPy kernels all reproduce bit for bit.

A training step replayed as a CUDA graph cannot read the host's offset (a replay runs no Python), so inside
:func:`use_device_philox` the stream's position lives in device memory (:class:`DevicePhilox`): each dropout call
gets a device offset (the position plus the call's place in the step), and the step's end advances the position
on the device. The counters are the ones the host stream would hand out for the same calls, so the masks are
bit-identical to eager training's.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, NamedTuple

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


def next_philox(numel: int) -> tuple[int, Any]:
    """Reserve ``numel`` counters of the dropout stream; returns ``(seed, offset)`` for one kernel call.

    ``offset`` is an int, or inside :func:`use_device_philox` a one-element int64 device array (the kernels'
    device offset) and the host's position does not move (:meth:`DevicePhilox.replayed` moves it)."""
    global _philox_offset
    if _device_philox is not None:
        return _philox_seed, _device_philox.reserve(numel)
    offset = _philox_offset
    # Round up to a multiple of 4: every call's offset is then a multiple of 4, so its counters start on a
    # fresh Philox call (counters 4g..4g+3 share call g: kernels/numpy/dropout.py) -- the kernels' four-outputs-
    # per-call fast path -- and no two calls draw from one Philox call.
    _philox_offset += _round4(numel)
    return _philox_seed, offset


def _round4(numel: int) -> int:
    return (int(numel) + 3) // 4 * 4


# ------------------------------------------------------------------------------ the stream on the device

class DevicePhilox:
    """The dropout stream's position in device memory, for a training step captured as a CUDA graph.

    ``position`` is a one-element int64 array on ``backend`` that equals the host's offset whenever no replay
    is queued ahead of the host. Inside :func:`use_device_philox` the dropout calls of one step reserve
    counters relative to it (``position + r``, r = what earlier calls of the step reserved, each rounded up to
    a multiple of 4 as :func:`next_philox` does), and leaving the block adds the step's total to ``position``
    on the device -- recorded into the graph, so every replay draws the next step's counters. The host, which
    never reads the device, keeps the same count: :meth:`replayed` after each replay, :meth:`sync` before one
    (it rewrites ``position`` only when eager steps or ``manual_seed`` moved the host's offset since).

    Raises: ValueError for a backend whose arrays are not device arrays of its own (none today).
    """

    def __init__(self, backend: Any):
        self.backend = backend
        self.position = backend.from_numpy(np.array([_philox_offset], dtype=np.int64), "int64")
        self.seed = _philox_seed  # the seed the step was recorded with (kernels take the seed on the host)
        self._device_value = _philox_offset  # what the host knows position holds once queued work has run
        self._reserved = 0
        #: counters one step reserves (known after the step has been recorded once)
        self.step_total: int | None = None

    def reserve(self, numel: int) -> Any:
        """A device offset for one dropout call of ``numel`` counters in the step being recorded."""
        relative = self._reserved
        self._reserved += _round4(numel)
        # the first call uses the position itself (no extra launch); it is advanced only at the step's end
        return self.position if relative == 0 else self.position + relative

    def sync(self) -> None:
        """Before a replay: make ``position`` the host's offset if eager draws (or a reseed) moved it. The write
        is a device fill, queued, never a host read."""
        if self._device_value != _philox_offset:
            self.position[...] = _philox_offset
            self._device_value = _philox_offset

    def replayed(self) -> None:
        """After a replay (or a capture that ran the step): the host's offset moves as the device's did."""
        global _philox_offset
        if self.step_total is None:
            raise RuntimeError("DevicePhilox.replayed(): no step has been recorded in use_device_philox yet")
        _philox_offset += self.step_total
        self._device_value += self.step_total


_device_philox: DevicePhilox | None = None


@contextlib.contextmanager
def use_device_philox(stream: DevicePhilox):
    """Within the block, dropout takes device offsets from ``stream`` (one step of a graph-captured training
    loop); on a normal exit the step's total is added to ``stream.position`` on the device and recorded as
    ``stream.step_total``. The host's offset is left alone (:meth:`DevicePhilox.replayed` moves it once the step
    has run). Blocks do not nest.

    Raises: RuntimeError inside another such block, or when ``manual_seed`` changed the seed since ``stream``
    was made (the kernels take the seed from the host: record the step again).
    """
    global _device_philox
    if _device_philox is not None:
        raise RuntimeError("use_device_philox: blocks do not nest")
    if stream.seed != _philox_seed:
        raise RuntimeError("use_device_philox: the dropout seed changed (manual_seed) since this DevicePhilox was "
                           "made; make a new one")
    stream._reserved = 0
    _device_philox = stream
    try:
        yield stream
    finally:
        _device_philox = None
    total = stream._reserved
    if total:
        stream.position += total
    stream.step_total = total


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
