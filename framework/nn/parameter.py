"""``Parameter``: a leaf Tensor that a :class:`~framework.nn.Module` registers as trainable state."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor, tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf Tensor with ``requires_grad=True`` by default, found by ``Module.parameters()``.

    Args:
        data: a Tensor (its device array is shared, not copied) or anything ``fw.tensor`` accepts
            (numpy array, nested lists); ``None`` gives an empty float32 tensor.
        requires_grad: whether the optimizer should train it.

    Raises:
        TypeError: ``requires_grad=True`` on a non-floating-point dtype.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True):
        if data is None:
            data = Tensor([], dtype="float32")
        elif not isinstance(data, Tensor):
            data = tensor(data)
        # Share the device array: `Parameter(fw.randn(3))` must not cost a copy, and optimizers and
        # `Module.to` replace `._data` on this object, which is what keeps them pointing at it.
        self._data = data._data
        self.backend = data.backend
        self.grad = None
        self._ctx = None
        self._retain_grad = False
        self._vbox, self._view_version, self._view_src, self._history = data._vbox, None, None, None  # one storage
        self.requires_grad = False
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        # The default deepcopy would try to copy the Backend (which holds modules); the array is the state.
        copied = Parameter(Tensor._wrap(self.backend.xp.asarray(self._data, copy=True), self.backend),
                           requires_grad=self.requires_grad)
        memo[id(self)] = copied
        return copied
