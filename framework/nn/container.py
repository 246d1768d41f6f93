"""Containers: ``Sequential``, ``ModuleList`` and ``ModuleDict``, named like PyTorch's (``0``, ``1``, ...).

``Sequential.forward`` runs a ``Linear`` directly followed by a ``ReLU`` as one fused
``F.linear_relu`` call. The fusion is decided at call time from the children, so the modules and their
``state_dict`` names stay PyTorch's (``0.weight``) and a PyTorch ``nn.Sequential`` checkpoint loads as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from . import functional as F
from .layers import Linear, ReLU
from .module import Module

__all__ = ["ModuleDict", "ModuleList", "Sequential"]


def _index(idx: Any, length: int, owner: str) -> int:
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise TypeError(f"{owner} indices must be ints or slices, got {type(idx).__name__}")
    if not -length <= idx < length:
        raise IndexError(f"index {idx} is out of range for {owner} of length {length}")
    return idx % length


class Sequential(Module):
    """Children called in order, each on the previous one's output.

    Args:
        *args: modules (named ``'0'``, ``'1'``, ...), or a single dict/OrderedDict ``name -> module``.
    Raises: TypeError if an argument is not a Module.
    """

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
            # Exact types: a Linear subclass may change forward, and a ReLU subclass may not be a ReLU.
            if type(module) is Linear and i + 1 < len(modules) and type(modules[i + 1]) is ReLU:
                input = F.linear_relu(input, module.weight, module.bias)
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
