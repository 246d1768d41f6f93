"""``nn.parallel``: ``DataParallel`` and ``data_parallel`` for a single device.

kernelgrad drives one device per process, so both simply run the module where its parameters are —
what PyTorch does without CUDA or with one GPU — and refuse more than one device id instead of
silently using one. Scripts written for several GPUs (the DCGAN example's ``ngpu``) then port as is.
"""

from __future__ import annotations

from typing import Any

from ..module import Module

__all__ = ["DataParallel", "data_parallel"]


def _check_device_ids(device_ids: Any, name: str) -> None:
    if device_ids is None:
        return
    ids = list(device_ids)
    if len(ids) > 1:
        raise ValueError(f"{name}(): kernelgrad runs one device per process; got device_ids={ids}. "
                         "Pass None or a single device")


def data_parallel(module: Module, inputs: Any, device_ids: Any = None, output_device: Any = None, dim: int = 0,
                  module_kwargs: dict | None = None) -> Any:
    """``module(*inputs, **module_kwargs)`` on the module's own device (``inputs``: one input or a tuple).

    Raises: ValueError for more than one device id.
    """
    _check_device_ids(device_ids, "data_parallel")
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))


class DataParallel(Module):
    """Wraps ``module`` as ``self.module`` (so state_dict keys get PyTorch's ``module.`` prefix) and calls it.

    Raises: ValueError for more than one device id.
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0) -> None:
        super().__init__()
        _check_device_ids(device_ids, "DataParallel")
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)
