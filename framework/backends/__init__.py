"""``fw.backends``: the ``torch.backends`` switches scripts set, so they port unchanged.

kernelgrad has its own kernels (no cuDNN, no MPS): ``backends.cudnn``'s flags are accepted and read by
nothing, and ``backends.mps`` reports no MPS device. ``benchmark``: the Triton kernels autotune their
tiles anyway. ``deterministic``: not enforced; no kernel uses atomics, but Triton's autotuner may pick
a different tile (so a different summation order, last-bit differences) in another process.
"""

from . import cudnn, mps

__all__ = ["cudnn", "mps"]
