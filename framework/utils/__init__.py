"""``framework.utils``: PyTorch's ``torch.utils`` names (``framework.utils.data``)."""

from . import data

__all__ = ["data"]
