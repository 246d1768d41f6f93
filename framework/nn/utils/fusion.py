"""The module-level kernel fusions ``Sequential`` makes, both invisible in values, gradients and structure.

**Linear + ReLU**: a ``Linear`` directly followed by a ``ReLU`` inside a
``Sequential`` runs as a single ``F.linear_relu`` call (bias and ReLU in the GEMM's epilogue: one kernel
launch and one pass over the output instead of two). This is what makes a ported
``nn.Sequential(nn.Linear(...), nn.ReLU())`` fast on a GPU without changing a line of it.

Where: :meth:`framework.nn.Sequential.forward` is the only caller; it asks :func:`can_fuse_linear_relu` (and
:func:`can_pool_before_relu`, below) about each pair of neighbouring children. Nothing else in the framework fuses
modules. The explicit forms, for a model written by hand, are :class:`framework.nn.LinearReLU` and
``F.relu_max_pool2d``.

The rule — a pair ``(first, second)`` runs fused when all of these hold:

1. ``type(first) is Linear`` and ``type(second) is ReLU``: exact types, because a subclass may change
   ``forward`` (``LinearReLU`` followed by a ``ReLU`` runs as two calls).
2. Neither has a forward or backward hook: a hook must see its own module's call, with its input and
   output, and the fused call has no intermediate to show it.
3. Neither has ``forward`` replaced on the instance (``linear.forward = fn``): that function must run.
4. The ``Sequential``'s ``fuse_linear_relu`` is True (the default; set it to False on an instance to run
   every child on its own, e.g. to compare the two paths).

Not part of the rule (fused either way): train/eval mode and grad mode (neither module depends on
them), dtype and device, ``bias=False``, and ``ReLU(inplace=True)`` (``inplace`` has no effect here; in
PyTorch it would overwrite the Linear's output, which no one else can see once hooks are excluded).

**ReLU + MaxPool2d, one op**: a ``ReLU`` directly followed by a ``MaxPool2d`` runs as one
``F.relu_max_pool2d`` call on the fused ``relu_maxpool2d`` kernels (every backend has them): the pool, with the ReLU
applied to the pooled map inside the kernel, and a backward that routes the gradient to each window's winner
except where the ReLU zeroes it -- no ReLU pass of its own, forward or backward, and one graph node instead of two
(DigitsCNN's conv -> ReLU -> pool stages). The two orders are the same function: ReLU is monotone, so the largest of
the ReLU'd window is the ReLU of the window's largest, and the padding (-inf) never wins a window that holds an
input element. Same gradients: where the window's maximum is positive both send the upstream gradient to the same
element (the first maximum, as ReLU keeps every positive tie); where it is <= 0 both give 0 to the whole window; a
NaN wins its window either way and passes the gradient (PyTorch's ReLU passes it at NaN). The fused kernels give
PyTorch's bits, the sign of a zero included (torch's ``relu(-0.0)`` is ``-0.0``; the unfused ``F.relu`` on the
``cpu`` device gives ``+0.0`` there, an equal value). A dilated pool has no kernel: it runs the pool, then the ReLU on
the pooled map. Same rule for when it applies: exact types ``ReLU`` and ``MaxPool2d``, no hooks, no instance
``forward``, ``return_indices=False`` (the indices would be the same, but the tuple output would meet the ReLU),
and the ``Sequential``'s ``pool_before_relu`` switch True (the default; the name is from when the pair ran as two
ops, pool first).

**Conv2d + ReLU + MaxPool2d, one op on the CPU**: a plain ``Conv2d`` directly followed by such a ReLU, MaxPool2d
pair whose windows do not overlap (stride = kernel, no padding, no dilation, floor mode) runs as one
``Conv2dReluMaxPool2d`` op where the device's kernels have the numpy backend's extension for it
(``kernels/numpy/maxpool2d.py``): a conv whose GEMM leaves its output batch-innermost (small maps with many channels,
DigitsCNN's second conv) is pooled there, without gathering windows or moving the full map to NCHW, and its backward
builds dy in the layout the conv's GEMMs take. Same numbers as the conv followed by the ReLU, MaxPool2d op, bit for
bit: z and every gradient (the bias gradient summed from dy moved to NCHW, as the conv op sums it). A first layer on
small maps that the pool windows tile (DigitsCNN's first conv) gathers its columns pool-window-major and runs one GEMM
for the batch where the unfused conv runs one per image: the same function, rounded differently (a few ulps in z,
dw and db; bit for bit where the GEMM is exact). The conv must be a
``Conv2d`` of exact type with ``padding_mode='zeros'``, numeric padding, dilation 1 and one group, with
no hook and no instance ``forward``; the input a batched, non-empty float tensor of the weight's dtype and device
(anything else runs the three modules, which raise what they raise). Other devices run the conv, then the ReLU,
MaxPool2d op.

What stays PyTorch's: the decision is made at call time and the modules are never replaced, so
``state_dict`` keys (``0.weight``), ``repr``, ``seq[0]``, ``len(seq)``, iteration and parameter order
are exactly those of ``torch.nn.Sequential``, and a PyTorch checkpoint loads as is. Calling the children
yourself (``for m in seq: x = m(x)``) runs them unfused, with the same numbers.

Same numbers (tests/nn/test_fusion.py, float32/float64 on cpu, the Triton interpreter and the CUDA
emulator; not yet run on a GPU): the forward output is bit-identical fused or not
(the kernel rounds ``x @ w.T + b`` to the output dtype either way, the ReLU commutes with that rounding,
NaN stays NaN, and the GEMM never produces a ``-0.0`` for the ReLU to see), and so are the gradients
for a finite upstream gradient. The edges, where PyTorch's ReLU backward is ``0 if out <= 0 else grad``:

- an inf/NaN upstream gradient where the output is 0: fused gives 0, as PyTorch; the unfused ``F.relu``
  gives NaN (its backward multiplies the gradient by the mask, and inf * 0 is NaN);
- a NaN pre-activation: both paths give the gradient 0 there; PyTorch passes the gradient through
  (``NaN <= 0`` is false).
"""

from __future__ import annotations

from ..functional._args import _pair
from ..layers import Conv2d, Linear, MaxPool2d, ReLU
from ..module import Module

__all__ = ["can_fuse_conv_relu_pool", "can_fuse_linear_relu", "can_pool_before_relu", "fused_linear_relu_pairs"]


def _runs_as_written(module: Module) -> bool:
    """No hook and no instance-level ``forward``: calling the module is calling its class's forward."""
    return not module._has_hooks() and "forward" not in vars(module)


def can_fuse_linear_relu(first: Module, second: Module) -> bool:
    """Whether ``second(first(x))`` may run as ``F.linear_relu(x, first.weight, first.bias)`` (rules 1-3
    of the module docstring; rule 4, the ``Sequential``'s switch, is checked by the caller)."""
    return (type(first) is Linear and type(second) is ReLU
            and _runs_as_written(first) and _runs_as_written(second))


def can_pool_before_relu(first: Module, second: Module) -> bool:
    """Whether ``second(first(x))`` (a ReLU, then a max-pool) may run as one ``F.relu_max_pool2d`` (the module
    docstring's second rule, without the caller's switch)."""
    return (type(first) is ReLU and type(second) is MaxPool2d and not second.return_indices
            and _runs_as_written(first) and _runs_as_written(second))


def can_fuse_conv_relu_pool(conv: Module, relu: Module, pool: Module) -> bool:
    """Whether ``pool(relu(conv(x)))`` may run as one ``Conv2dReluMaxPool2d`` op (the module docstring's third rule,
    without the caller's switch and the device's part, which ``F._conv2d_relu_max_pool2d`` checks): a plain
    ``Conv2d`` (zeros padding given as numbers, no dilation, one group) and a ``ReLU``, ``MaxPool2d`` pair that may
    run as one, its windows not overlapping (stride = kernel, no padding, dilation 1, floor mode)."""
    if not (type(conv) is Conv2d and _runs_as_written(conv) and can_pool_before_relu(relu, pool)):
        return False
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str) or conv.dilation != (1, 1) or conv.groups != 1:
        return False
    kernel = _pair(pool.kernel_size, "kernel_size", 1)
    return (_pair(pool.stride, "stride", 1) == kernel and _pair(pool.padding, "padding", 0) == (0, 0)
            and _pair(pool.dilation, "dilation", 1) == (1, 1) and not pool.ceil_mode)


def fused_linear_relu_pairs(module: Module) -> list[tuple[str, str]]:
    """The qualified names of every ``(Linear, ReLU)`` pair that runs fused in ``module`` and its
    submodules, e.g. ``[('7', '8')]`` for :class:`framework.models.DigitsCNN`: what fusion does to a
    model, made visible. Reads the same rule as ``Sequential.forward``; nothing is changed.
    """
    pairs = []
    for prefix, container in module.named_modules():
        # The modules that fuse are those carrying the switch (only Sequential does); read by name, so this
        # module does not import the container module, which imports it.
        if getattr(container, "fuse_linear_relu", False) is not True:
            continue
        children = [(name, m) for name, m in container._modules.items() if m is not None]
        for (name_a, a), (name_b, b) in zip(children, children[1:], strict=False):
            # A Linear is never the second of a pair, so fused pairs never overlap: each pair found here
            # is one that forward's left-to-right scan fuses.
            if can_fuse_linear_relu(a, b):
                pairs.append((f"{prefix}.{name_a}" if prefix else name_a, f"{prefix}.{name_b}" if prefix else name_b))
    return pairs
