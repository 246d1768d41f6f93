"""``Module``: the base class of layers and models, with PyTorch's registration and naming rules.

Assigning an attribute registers it: a :class:`Parameter` goes to ``_parameters``, a ``Module`` to
``_modules``, a tensor named in ``register_buffer`` to ``_buffers`` (all insertion-ordered dicts kept
by ``__setattr__``, which is what makes the order of ``parameters()`` and ``state_dict()``
deterministic and equal to PyTorch's). Plain ``list`` / ``tuple`` / ``dict`` attributes are walked
too, so ``self.blocks = [Linear(...), Linear(...)]`` is found and named ``blocks.0.weight``, exactly
the names a ``ModuleList`` would give. Their position in the walk is where the attribute was first
assigned, among the sub-modules.

Parameters are never rebound by the machinery here: ``to()``, ``load_state_dict()`` and the
optimizers replace ``p._data`` on the same :class:`Parameter` object, so references held elsewhere (an
optimizer's ``param_groups``) stay valid.
"""

from __future__ import annotations

import warnings
from collections import namedtuple
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..autograd import RemovableHandle, add_hook, group_identity, is_grad_enabled, no_grad
from ..backend import Backend, get_backend
from ..dtypes import DType, as_dtype
from ..tensor import Tensor, host_copy
from .parameter import Parameter

__all__ = ["Module", "IncompatibleKeys"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

_PLAIN_CONTAINERS = (list, tuple, dict)


def _walk_container(prefix: str, value: Any) -> Iterator[tuple[str, Module | Parameter]]:
    """Modules and Parameters inside (nested) plain containers, named ``prefix.index`` / ``prefix.key``."""
    if isinstance(value, Module | Parameter):
        yield prefix, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_container(f"{prefix}.{key}", item)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk_container(f"{prefix}.{i}", item)


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    return lines[0] if len(lines) == 1 else lines[0] + "\n" + "\n".join(" " * spaces + s for s in lines[1:])


def _check_name(owner: Module, name: Any, kind: str, registry: dict) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a str, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f"{kind} name can't be empty or contain '.', got {name!r}")
    if hasattr(owner, name) and name not in registry:
        raise KeyError(f"attribute {name!r} already exists")


class Module:
    """Base class for layers and models: subclasses set attributes in ``__init__`` and define ``forward``.

    Attributes:
        training: True in training mode (``train()``), False after ``eval()``; dropout reads it.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})
        # Names of sub-module and plain-container attributes in first-assignment order: the walk order.
        object.__setattr__(self, "_child_order", {})
        # Hooks: id -> hook, insertion-ordered; the sets hold the ids registered with a flag.
        for name in ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks", "_backward_pre_hooks"):
            object.__setattr__(self, name, {})
        for name in ("_forward_pre_hooks_with_kwargs", "_forward_hooks_with_kwargs", "_forward_hooks_always_called"):
            object.__setattr__(self, name, set())

    # ------------------------------------------------------------------------------ registration

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            if isinstance(value, Parameter | Module):
                raise AttributeError(f"cannot assign {type(value).__name__} {name!r} before "
                                     f"{type(self).__name__}.__init__() called super().__init__()")
            object.__setattr__(self, name, value)
            return
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, Parameter):
            self._forget(name, keep="_parameters")  # a rebound parameter keeps its place, as in PyTorch
            params[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(fw.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name, keep="_modules")  # Sequential's s[i] = m replaces module i in place
            modules[name] = value
            self._child_order[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                "(fw.nn.Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (Tensor or None expected)")
            buffers[name] = value
        else:
            if isinstance(value, _PLAIN_CONTAINERS):
                self._child_order[name] = None  # may hold modules now or after later appends
            else:
                self._child_order.pop(name, None)
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str | None = None) -> None:
        """Drop ``name`` from every registry but ``keep`` (the one about to be rebound: a dict keeps an existing key's
        position) and not from the walk order, so a rebinding keeps its place."""
        self.__dict__.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                getattr(self, registry).pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: registered parameters, buffers and modules live in dicts.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)
        self._child_order.pop(name, None)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or a None placeholder) as ``self.<name>``. Raises TypeError/KeyError."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot register a parameter before Module.__init__() call")
        _check_name(self, name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r} "
                            "(fw.nn.Parameter or None expected)")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a non-trainable tensor (running statistics, class weights) as ``self.<name>``.

        Buffers follow ``to()`` and, when ``persistent``, appear in ``state_dict()``.
        Raises: TypeError for a non-Tensor, KeyError for a bad or taken name.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot register a buffer before Module.__init__() call")
        _check_name(self, name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} as buffer {name!r} (Tensor or None expected)")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``self.<name>``. Raises TypeError/KeyError."""
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot add a module before Module.__init__() call")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_name(self, name, "module", self._modules)
        self._forget(name)
        self._modules[name] = module
        self._child_order[name] = None

    register_module = add_module

    def _set_children(self, named: list[tuple[str, Module]]) -> None:
        """Replace all registered children at once (containers renumber after insert/delete)."""
        for name in list(self._modules):
            del self._modules[name]
            self._child_order.pop(name, None)
        for name, module in named:
            self.add_module(name, module)

    # ------------------------------------------------------------------------------------ forward

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required 'forward' function")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._has_hooks():
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _has_hooks(self) -> bool:
        """Whether any forward or backward hook is registered on this module (not its children)."""
        d = self.__dict__
        return bool(d.get("_forward_pre_hooks") or d.get("_forward_hooks") or d.get("_backward_hooks")
                    or d.get("_backward_pre_hooks"))

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        """``forward`` with PyTorch's hook order: pre-hooks, backward-hook wiring of the inputs, forward,
        forward hooks, backward-hook wiring of the outputs."""
        for hook_id, hook in list(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
                        raise TypeError("a forward pre-hook registered with with_kwargs=True must return None "
                                        f"or a tuple (args, kwargs), got {type(result).__name__}")
                    args, kwargs = result
                    args = args if isinstance(args, tuple) else (args,)
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward_hooks = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            backward_hooks = _BackwardHooks(self)
            args = backward_hooks.wrap_inputs(args)
        try:
            output = self.forward(*args, **kwargs)
        except Exception:
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id in self._forward_hooks_always_called:
                    try:
                        if hook_id in self._forward_hooks_with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception as exc:  # noqa: BLE001 - the forward's exception is the one to raise
                        warnings.warn(f"forward hook {hook!r} (always_call=True) raised {exc!r} after the "
                                      "forward raised", stacklevel=2)
            raise
        for hook_id, hook in list(self._forward_hooks.items()):
            if hook_id in self._forward_hooks_with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        if backward_hooks is not None:
            output = backward_hooks.wrap_outputs(output)
        return output

    # -------------------------------------------------------------------------------------- hooks

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before each ``forward``; a non-None result replaces ``args`` (a
        non-tuple is wrapped in one). With ``with_kwargs``, ``hook(module, args, kwargs)`` may return
        ``(args, kwargs)``. ``prepend`` runs it before the hooks already registered.

        Returns: a handle whose ``remove()`` unregisters the hook.
        """
        return add_hook(self._forward_pre_hooks, hook, prepend,
                        *_flag(self._forward_pre_hooks_with_kwargs, with_kwargs))

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each ``forward`` (``hook(module, args, kwargs, output)``
        with ``with_kwargs``); a non-None result replaces the output. ``always_call``: also call it (with
        ``output=None``) when ``forward`` raises. ``prepend`` runs it before the hooks already registered.

        Returns: a handle whose ``remove()`` unregisters the hook.
        """
        return add_hook(self._forward_hooks, hook, prepend,
                        *_flag(self._forward_hooks_with_kwargs, with_kwargs),
                        *_flag(self._forward_hooks_always_called, always_call))

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients w.r.t. this module's inputs
        are computed, as PyTorch does.

        ``grad_output`` holds one entry per element of the output (the output itself when it is a single
        Tensor, else the items of the tuple it returns): the gradient w.r.t. it, or None. ``grad_input``
        holds one entry per positional argument of the call: the gradient w.r.t. it, None for non-Tensors
        and for inputs that do not require grad. A non-None result (a tuple of the same length) replaces
        ``grad_input`` for the rest of the backward pass. When no input requires grad, the hook runs with
        all-None ``grad_input`` as soon as ``grad_output`` is known. Keyword arguments get no gradients here.

        Returns: a handle whose ``remove()`` unregisters the hook.
        """
        return add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients w.r.t. this module's outputs are computed
        (see :meth:`register_full_backward_hook`); a non-None result (a tuple of the same length)
        replaces ``grad_output``. Returns a handle whose ``remove()`` unregisters the hook."""
        return add_hook(self._backward_pre_hooks, hook, prepend)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        """PyTorch's deprecated non-full backward hook: not supported (its ``grad_input`` is the gradient of
        the module's last op, not of its inputs); use :meth:`register_full_backward_hook`."""
        raise NotImplementedError("register_backward_hook (PyTorch's deprecated non-full hook) is not "
                                  "supported; use register_full_backward_hook")

    # -------------------------------------------------------------------------------------- walks

    def _slots(self) -> Iterator[tuple[str, Module | Parameter | None]]:
        """Direct children in walk order: registered modules, plus Modules/Parameters in plain containers."""
        order = list(self._child_order) + [n for n in self._modules if n not in self._child_order]
        for name in order:
            if name in self._modules:
                yield name, self._modules[name]
            elif name in self.__dict__:
                yield from _walk_container(name, self.__dict__[name])

    def _named_tensors(self, prefix: str, recurse: bool, memo: set | None, params: bool, buffers: bool,
                       persistent_only: bool) -> Iterator[tuple[str, Tensor]]:
        """Pre-order walk: own parameters, own buffers, then each child's (PyTorch's state_dict order)."""
        dot = prefix + "." if prefix else ""
        if params:
            yield from ((dot + n, p) for n, p in self._parameters.items() if p is not None)
        if buffers:
            yield from ((dot + n, b) for n, b in self._buffers.items()
                        if b is not None and not (persistent_only and n in self._non_persistent_buffers))
        for name, child in self._slots():
            if isinstance(child, Parameter):
                if params:
                    yield dot + name, child
            elif isinstance(child, Module) and recurse:
                if memo is not None:
                    if id(child) in memo:
                        continue
                    memo.add(id(child))
                yield from child._named_tensors(dot + name, recurse, memo, params, buffers, persistent_only)

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs, named like PyTorch (``features.0.weight``); shared ones once."""
        seen: set[int] = set()
        memo = set() if remove_duplicate else None
        for name, p in self._named_tensors(prefix, recurse, memo, True, False, False):
            if remove_duplicate:
                if id(p) in seen:
                    continue
                seen.add(id(p))
            yield name, p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """All parameters (of sub-modules too when ``recurse``), each once, in registration order."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(name, buffer)`` pairs, persistent or not."""
        seen: set[int] = set()
        memo = set() if remove_duplicate else None
        for name, b in self._named_tensors(prefix, recurse, memo, False, True, False):
            if remove_duplicate:
                if id(b) in seen:
                    continue
                seen.add(id(b))
            yield name, b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their names (``'0'``, ``'conv'``, ``'blocks.0'`` for a plain list)."""
        seen: set[int] = set()
        for name, child in self._slots():
            if isinstance(child, Module) and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and every descendant, pre-order, named by dotted path (``''`` for self)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._slots():
            if isinstance(child, Module):
                yield from child.named_modules(memo, prefix + "." + name if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def get_submodule(self, target: str) -> Module:
        """The descendant at dotted path ``target`` (``''`` is self), as PyTorch. Raises AttributeError
        naming the first missing part, or a part that is not a Module."""
        module = self
        path = []
        for part in target.split(".") if target else []:
            path.append(part)
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {'.'.join(path)!r}")
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (e.g. ``'fc.1.weight'``). Raises AttributeError."""
        owner, _, name = target.rpartition(".")
        module = self.get_submodule(owner)
        if name not in module._parameters or module._parameters[name] is None:
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r}")
        return module._parameters[name]

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (only those with ``requires_grad`` when ``trainable_only``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # --------------------------------------------------------------------------------- state dict

    def state_dict(self, *, prefix: str = "", keep_vars: bool = False) -> dict[str, Tensor]:
        """Ordered ``name -> Tensor`` of parameters and persistent buffers, named like PyTorch.

        Values are detached tensors sharing storage with the module (the Parameters themselves when
        ``keep_vars``). Optimizers replace arrays rather than write into them, so in practice a state
        dict taken now keeps today's values.
        """
        out: dict[str, Tensor] = {}
        for name, t in self._named_tensors(prefix, True, None, True, True, True):
            out[name] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values into this module's parameters and persistent buffers (same objects, new arrays).

        Args:
            state_dict: ``name -> value``; a value may be a Tensor, a numpy array, a torch tensor or
                anything with ``__array__``. Values are copied onto each parameter's device and dtype.
            strict: whether missing and unexpected keys are errors.
        Returns: ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        Raises:
            RuntimeError: (as PyTorch) listing every unexpected/missing key (when ``strict``) and every
                shape mismatch, naming the key and both shapes; the module is left unchanged.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"expected state_dict to be a dict, got {type(state_dict).__name__}")
        own = dict(self._named_tensors("", True, None, True, True, True))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        arrays: dict[str, np.ndarray] = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            array = host_copy(state_dict[key])
            if tuple(array.shape) != target.shape:
                errors.append(f'size mismatch for "{key}": copying a param with shape {tuple(array.shape)} from '
                              f"checkpoint, the shape in current model is {target.shape}.")
            arrays[key] = array
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for key, array in arrays.items():
            target = own[key]
            # into the existing storage, as torch's param.copy_(): views, .data and optimizers keep seeing it
            target._write("load_state_dict", ..., target.backend.from_numpy(array, str(target.dtype)))
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------------------- mode, grads

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a bool, got {mode!r}")
        self.training = mode
        for child in self.children():  # through train() so a subclass override is honoured, as in PyTorch
            child.train(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: dropout becomes the identity."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (to None, or to zeros when ``set_to_none=False``)."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def freeze(self) -> Module:
        """Stop training these parameters (``requires_grad_(False)``); returns self."""
        return self.requires_grad_(False)

    def unfreeze(self) -> Module:
        """``requires_grad_(True)``; returns self."""
        return self.requires_grad_(True)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module (children first) and then on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---------------------------------------------------------------------------- device / dtype

    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> Module:
        """Move parameters and buffers in place: ``to(device)``, ``to(dtype)`` or ``to(device, dtype)``.

        The same Parameter objects get new arrays (so an optimizer built before stays valid); a dtype
        applies to floating-point tensors only, as in PyTorch; gradients are converted too.
        Raises: TypeError for a non-floating dtype, ValueError/RuntimeError for an unknown/absent device.
        """
        for arg in args:
            if isinstance(arg, Backend):
                device = arg
            elif isinstance(arg, str) and not isinstance(arg, DType):
                try:
                    dtype = as_dtype(arg)
                except TypeError:
                    device = arg
            else:
                dtype = as_dtype(arg)
        backend = get_backend(device) if device is not None else None
        if dtype is not None:
            dtype = as_dtype(dtype)
            if not dtype.is_floating_point:
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")
        tensors = {id(t): t for t in self.parameters()}
        tensors.update((id(b), b) for b in self.buffers())
        with no_grad():
            for t in tensors.values():
                _convert_in_place(t, backend, dtype)
                if t.grad is not None:
                    _convert_in_place(t.grad, backend, dtype)
        return self

    def float(self) -> Module:
        return self.to(dtype="float32")

    def double(self) -> Module:
        return self.to(dtype="float64")

    def half(self) -> Module:
        return self.to(dtype="float16")

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    # ------------------------------------------------------------------------------------- repr

    def extra_repr(self) -> str:
        """One line of constructor arguments shown inside ``repr`` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): {_addindent(repr(m), 2)}" for name, m in self.named_children()]
        lines += children
        body = ""
        if lines:
            body = lines[0] if len(lines) == 1 and not children else "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"


def _convert_in_place(t: Tensor, backend: Backend | None, dtype: DType | None) -> None:
    target_dtype = dtype if dtype is not None and t.dtype.is_floating_point else None
    moved = t.detach().to(dtype=target_dtype, device=backend)
    t._data, t.backend = moved._data, moved.backend


def _flag(flags: set, on: bool) -> tuple:
    """``(flags,)`` when ``on``: ``add_hook`` then records the hook's id in ``flags`` (and its handle
    removes it again)."""
    return (flags,) if on else ()


class _BackwardHooks:
    """A module's full backward (pre-)hooks for one call, as PyTorch's ``BackwardHook``.

    The tensors among the call's positional arguments that require grad pass through one group identity
    (:func:`framework.autograd.group_identity`), the output's tensors through another. Backward reaches
    the output group first (all of ``grad_output`` at once: the backward pre-hooks run and may replace
    it), then, once every use of the inputs inside the module is done, the input group: the backward
    hooks get ``(module, grad_input, grad_output)`` and may replace ``grad_input``.
    """

    def __init__(self, module: Module) -> None:
        self.module = module
        self.grad_output: tuple | None = None
        self.n_args = 0
        self.input_positions: list[int] | None = None  # None: no input requires grad
        self.n_outputs = 0
        self.output_positions: list[int] = []

    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_args = len(args)
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not positions:
            return args
        self.input_positions = positions
        self._input_sources = [args[i] for i in positions]
        members = group_identity([args[i] for i in positions], self._input_backward)
        args = list(args)
        for i, member in zip(positions, members):
            args[i] = member
        return tuple(args)

    def wrap_outputs(self, output: Any) -> Any:
        items = output if isinstance(output, tuple) else (output,)
        positions = [i for i, o in enumerate(items) if isinstance(o, Tensor) and o.requires_grad]
        if not positions:
            return output
        self.n_outputs, self.output_positions = len(items), positions
        self._output_sources = [items[i] for i in positions]
        members = group_identity([items[i] for i in positions], self._output_backward)
        wrapped = list(items)
        for i, member in zip(positions, members):
            wrapped[i] = member
        return tuple(wrapped) if isinstance(output, tuple) else wrapped[0]

    @staticmethod
    def _wrapped(arrays: list, sources: list) -> list:
        """Gradient arrays as Tensors on their tensor's device (None stays None)."""
        return [None if a is None else Tensor._wrap(a, s.backend) for a, s in zip(arrays, sources)]

    @staticmethod
    def _arrays(grads: tuple, positions: list, sources: list, hook_kind: str) -> list:
        """The arrays of ``grads`` at ``positions`` for backward, checked against their tensors."""
        arrays = []
        for i, src in zip(positions, sources):
            g = grads[i]
            if g is not None and (g.shape != src.shape or g.backend is not src.backend):
                raise ValueError(f"a {hook_kind} returned a gradient of shape {g.shape} on {g.device!r} for "
                                 f"entry {i}, whose tensor has shape {src.shape} on {src.device!r}")
            arrays.append(None if g is None else g._data)
        return arrays

    @staticmethod
    def _replacement(result: Any, expected: int, what: str, hook: Any) -> tuple | None:
        if result is None:
            return None
        if not isinstance(result, tuple | list):
            raise TypeError(f"backward hook {hook!r} must return None or a tuple of {what} gradients, got "
                            f"{type(result).__name__}")
        if len(result) != expected:
            raise ValueError(f"backward hook {hook!r} returned {len(result)} {what} gradients, expected {expected}")
        for g in result:
            if g is not None and not isinstance(g, Tensor):
                raise TypeError(f"backward hook {hook!r} must return Tensors or None, got {type(g).__name__}")
        return tuple(result)

    def _output_backward(self, member_grads: list) -> list:
        module = self.module
        grad_output: Any = [None] * self.n_outputs
        for i, g in zip(self.output_positions, self._wrapped(member_grads, self._output_sources)):
            grad_output[i] = g
        grad_output = tuple(grad_output)
        for hook in list(module._backward_pre_hooks.values()):
            replaced = self._replacement(hook(module, grad_output), self.n_outputs, "grad_output", hook)
            if replaced is not None:
                grad_output = replaced
        self.grad_output = grad_output
        if self.input_positions is None and module._backward_hooks:
            grad_input = (None,) * self.n_args
            for hook in list(module._backward_hooks.values()):
                result = hook(module, grad_input, grad_output)
                if result is not None and not all(g is None for g in result):
                    raise RuntimeError("a backward hook of a module where no input requires grad must return "
                                       "None (or only Nones)")
            self.grad_output = None  # no input group will come for it
        return self._arrays(grad_output, self.output_positions, self._output_sources, "backward pre-hook")

    def _input_backward(self, member_grads: list) -> list:
        module = self.module
        if self.grad_output is None:  # the gradient reached the inputs without passing through the outputs
            return member_grads
        grad_input: Any = [None] * self.n_args
        for i, g in zip(self.input_positions, self._wrapped(member_grads, self._input_sources)):
            grad_input[i] = g
        grad_input = tuple(grad_input)
        for hook in list(module._backward_hooks.values()):
            replaced = self._replacement(hook(module, grad_input, self.grad_output), self.n_args, "grad_input", hook)
            if replaced is not None:
                grad_input = replaced
        self.grad_output = None
        return self._arrays(grad_input, self.input_positions, self._input_sources, "backward hook")
