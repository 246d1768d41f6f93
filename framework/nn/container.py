"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList`` and ``ParameterDict``, named
like PyTorch's (``0``, ``1``, ...).

``Sequential.forward`` runs a ``Linear`` directly followed by a ``ReLU`` as one fused ``F.linear_relu``
call, and a ``ReLU`` directly followed by a ``MaxPool2d`` as one ``F.relu_max_pool2d``; the rules (and why they change
neither the numbers nor PyTorch's structure) are written once, in :mod:`framework.nn.utils.fusion`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module
from .parameter import Parameter
from .utils.fusion import can_fuse_conv_relu_pool, can_fuse_linear_relu, can_pool_before_relu

__all__ = ["ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"]


def _index(idx: Any, length: int, owner: str) -> int:
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise TypeError(f"{owner} indices must be ints or slices, got {type(idx).__name__}")
    if not -length <= idx < length:
        raise IndexError(f"index {idx} is out of range for {owner} of length {length}")
    return idx % length


class Sequential(Module):
    """Children called in order, each on the previous one's output.

    A ``Linear`` directly followed by a ``ReLU`` runs as one ``F.linear_relu`` kernel call, with the same
    numbers and PyTorch's names, indexing and ``state_dict``; the rule is in :mod:`framework.nn.utils.fusion`
    (``fused_linear_relu_pairs(model)`` lists the pairs). ``seq.fuse_linear_relu = False`` runs every child
    on its own. A ``ReLU`` directly followed by a ``MaxPool2d`` runs as one ``F.relu_max_pool2d`` (the fused
    kernels: the same function and gradients, the ReLU on the pooled map), and on the ``cpu`` device a ``Conv2d``
    before such a pair with the three as one op; ``seq.pool_before_relu = False`` keeps the written order.

    Args:
        *args: modules (named ``'0'``, ``'1'``, ...), or a single dict/OrderedDict ``name -> module``.
    Raises: TypeError if an argument is not a Module.
    """

    #: Whether ``forward`` fuses Linear+ReLU pairs (a plain attribute: not in ``state_dict`` or ``repr``).
    fuse_linear_relu: bool = True
    #: Whether ``forward`` runs ReLU+MaxPool2d pairs as one fused op (a plain attribute, like the one above).
    pool_before_relu: bool = True

    def __init__(self, *args: Module | Mapping[str, Module]):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input: Any) -> Any:
        modules = [m for m in self._modules.values() if m is not None]
        i = 0
        while i < len(modules):
            module = modules[i]
            if (self.pool_before_relu and i + 2 < len(modules)
                    and can_fuse_conv_relu_pool(module, modules[i + 1], modules[i + 2])):
                fused = F._conv2d_relu_max_pool2d(input, module.weight, module.bias, module.stride, module.padding,
                                                  modules[i + 2].kernel_size)  # None where the device has no kernel
                if fused is not None:
                    input, i = fused, i + 3
                    continue
            if self.fuse_linear_relu and i + 1 < len(modules) and can_fuse_linear_relu(module, modules[i + 1]):
                input = F.linear_relu(input, module.weight, module.bias)  # the Linear and the ReLU in one call
                i += 2
            elif self.pool_before_relu and i + 1 < len(modules) and can_pool_before_relu(module, modules[i + 1]):
                pool = modules[i + 1]  # the ReLU and the max-pool in one op (the ReLU applied to the pooled map)
                input = F.relu_max_pool2d(input, pool.kernel_size, pool.stride, pool.padding, pool.dilation,
                                          pool.ceil_mode)
                i += 2
            else:
                input = module(input)
                i += 1
        return input

    def __getitem__(self, idx: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(dict(items[idx]))
        return items[_index(idx, len(items), "Sequential")][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_index(idx, len(keys), "Sequential")], module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)
        doomed = set(keys[idx]) if isinstance(idx, slice) else {keys[_index(idx, len(keys), "Sequential")]}
        kept = [m for k, m in self._modules.items() if k not in doomed]
        self._set_children([(str(i), m) for i, m in enumerate(kept)])  # renumbered, as PyTorch does

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (named ``str(len(self))``); returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index`` (renumbering the rest); returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        modules = list(self._modules.values())
        if not isinstance(index, int) or not -len(modules) <= index <= len(modules):
            raise IndexError(f"Sequential.insert: index {index!r} is out of range for length {len(modules)}")
        modules.insert(index, module)  # list.insert semantics, as PyTorch's
        self._set_children([(str(i), m) for i, m in enumerate(modules)])
        return self


class ModuleList(Module):
    """A list of modules that registers them (named ``'0'``, ``'1'``, ...); has no ``forward``."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: int | slice) -> Any:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(values[idx])
        return values[_index(idx, len(values), "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_index(idx, len(keys), "ModuleList")], module)

    def __delitem__(self, idx: int | slice) -> None:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            del values[idx]
        else:
            del values[_index(idx, len(values), "ModuleList")]
        self._set_children([(str(i), m) for i, m in enumerate(values)])

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        values = list(self._modules.values())
        values.insert(index, module)
        self._set_children([(str(i), m) for i, m in enumerate(values)])


class ModuleDict(Module):
    """A dict ``name -> module`` that registers its values, in insertion order; has no ``forward``."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]
        self._child_order.pop(key, None)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key: str) -> Module:
        module = self._modules[key]
        del self[key]
        return module

    def clear(self) -> None:
        self._set_children([])

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        items = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in items:
            self[key] = module


def _as_parameter(value: Any, owner: str) -> Parameter:
    """A Parameter as is; a plain Tensor wrapped in one (sharing its storage), as PyTorch does."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{owner} holds Parameters or Tensors, got {type(value).__name__}")


def _parameter_lines(items: Iterable[tuple[str, Parameter]]) -> str:
    lines = []
    for key, p in items:
        size = "x".join(map(str, p.shape)) or "()"
        lines.append(f"({key}): Parameter containing: [{p.dtype} of size {size} on {p.device}]")
    return "\n".join(lines)


class ParameterList(Module):
    """A list of Parameters registered on the module (named ``'0'``, ``'1'``, ...), PyTorch's
    ``nn.ParameterList``: they appear in ``parameters()``, ``named_parameters()`` and ``state_dict()``.

    A plain Tensor put in is wrapped in a :class:`Parameter` sharing its storage, as in PyTorch.
    Raises: TypeError for values that are not Tensors, IndexError for an index out of range.
    """

    def __init__(self, values: Iterable[Tensor] | None = None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx: int | slice) -> Any:
        values = list(self._parameters.values())
        if isinstance(idx, slice):
            return ParameterList(values[idx])
        return values[_index(idx, len(values), "ParameterList")]

    def __setitem__(self, idx: int, param: Tensor) -> None:
        i = _index(idx, len(self), "ParameterList")
        self._parameters[str(i)] = _as_parameter(param, "ParameterList")  # in place: the order stays

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __iadd__(self, values: Iterable[Tensor]) -> ParameterList:
        return self.extend(values)

    def append(self, value: Tensor) -> ParameterList:
        """Add ``value`` at the end (named ``str(len(self))``); returns self."""
        self.register_parameter(str(len(self)), _as_parameter(value, "ParameterList"))
        return self

    def extend(self, values: Iterable[Tensor]) -> ParameterList:
        """Append each of ``values``; returns self. Raises TypeError for a Tensor or a non-iterable."""
        if isinstance(values, Tensor) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got "
                            f"{type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return _parameter_lines(self._parameters.items())


class ParameterDict(Module):
    """A dict ``name -> Parameter`` registered on the module, PyTorch's ``nn.ParameterDict``: entries appear
    in ``parameters()`` and ``state_dict()`` under their key, in insertion order.

    As in PyTorch, ``update`` (and the constructor) insert a plain ``dict`` in sorted key order, an
    ``OrderedDict``/``ParameterDict`` or a sequence of pairs in its own order; a plain Tensor is wrapped in
    a Parameter sharing its storage.
    Raises: TypeError for non-str keys or non-Tensor values, KeyError for a missing key, an empty key, a
        key containing ``'.'`` or one naming an existing attribute (``'keys'``).
    """

    def __init__(self, parameters: Any = None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value: Tensor) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be str, got {type(key).__name__}")
        param = _as_parameter(value, "ParameterDict")
        if key in self._parameters:
            self._parameters[key] = param  # a replaced entry keeps its place, as in PyTorch
        else:
            self.register_parameter(key, param)

    def __delitem__(self, key: str) -> None:
        if key not in self._parameters:
            raise KeyError(key)
        self._forget(key)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self._parameters))

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def get(self, key: str, default: Any = None) -> Any:
        return self._parameters.get(key, default)

    def pop(self, key: str) -> Parameter:
        value = self[key]
        del self[key]
        return value

    def setdefault(self, key: str, default: Tensor | None = None) -> Parameter:
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self) -> None:
        for key in list(self._parameters):
            del self[key]

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same Parameter objects."""
        return ParameterDict(OrderedDict(self._parameters))

    def update(self, parameters: Any) -> None:
        """Insert or replace entries from a mapping or an iterable of ``(key, value)`` pairs."""
        if isinstance(parameters, OrderedDict | ParameterDict):
            items = list(parameters.items())
        elif isinstance(parameters, Mapping):
            items = sorted(parameters.items(), key=lambda kv: kv[0])
        elif isinstance(parameters, Iterable) and not isinstance(parameters, Tensor | str):
            items = []
            for j, pair in enumerate(parameters):
                if not isinstance(pair, Iterable) or isinstance(pair, Tensor | str) or len(pair := tuple(pair)) != 2:
                    raise ValueError(f"ParameterDict.update: element #{j} of the sequence should be a (key, value) "
                                     f"pair, got {pair!r}")
                items.append(pair)
        else:
            raise TypeError(f"ParameterDict.update should be called with a mapping or an iterable of key/value "
                            f"pairs, but got {type(parameters).__name__}")
        for key, value in items:
            self[key] = value

    def extra_repr(self) -> str:
        return _parameter_lines(self._parameters.items())
