"""Ready-made models built from :mod:`framework.nn`."""

from .cnn import DigitsCNN

__all__ = ["DigitsCNN"]
