"""Global random state: one numpy Generator for initialisation and sampling, one Philox stream for dropout.

``manual_seed(s)`` resets both, so a seeded run is reproducible on every device: parameters are drawn
on the host and copied to the device, and dropout masks come from the counter-based Philox stream
(seed ``s``, an offset that advances by the number of elements each call), which the numpy, Triton
and CuPy kernels all reproduce bit for bit.
"""

from __future__ import annotations

import json

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
    # Round up to a multiple of 4 so every call starts on a fresh Philox block (cheap, and lets a
    # vectorised kernel use all four outputs of a block later without overlapping the next call).
    _philox_offset += (int(numel) + 3) // 4 * 4
    return _philox_seed, offset
