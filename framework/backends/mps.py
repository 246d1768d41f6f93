"""``torch.backends.mps``: kernelgrad has no Apple-GPU (MPS) backend."""


def is_available() -> bool:
    """False: there is no MPS device."""
    return False


def is_built() -> bool:
    """False: kernelgrad is not built with MPS."""
    return False
