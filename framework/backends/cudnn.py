"""``torch.backends.cudnn`` as kernelgrad sees it: no cuDNN; the flags are plain attributes that nothing reads
(see :mod:`framework.backends`)."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: kernelgrad does not use cuDNN."""
    return False


def version() -> None:
    """None, as ``torch.backends.cudnn.version()`` without cuDNN."""
    return None
