"""The ``kernelgrad`` commands, one module each (see :mod:`framework.cli` for the contract)."""
