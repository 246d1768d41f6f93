"""What every test compares with: the relative error, the float64 PyTorch reference, and paired inputs.

A plain module (not a conftest), so a test imports it by name: ``from tests.helpers import rel_err``.
tests/conftest.py and tests/kernels/conftest.py re-export these names for the tests that import them there.
"""

from __future__ import annotations

import numpy as np
import torch

import framework as fw


def _float64(a) -> np.ndarray:
    """A numpy, kernelgrad or torch array (or a number) as a float64 numpy array on the host."""
    if isinstance(a, fw.Tensor):
        a = a.numpy()
    elif isinstance(a, torch.Tensor):
        a = a.detach().cpu().double().numpy()  # .double() first: numpy has no bfloat16
    return np.asarray(a, dtype=np.float64)


def rel_err(out, ref) -> float:
    """‖out − ref‖ / ‖ref‖ in float64; refuses a shape mismatch and an all-zero reference (the comparison
    would prove nothing). ``out`` and ``ref``: numpy arrays, numbers, kernelgrad or torch tensors."""
    out, ref = _float64(out), _float64(ref)
    assert out.shape == ref.shape, f"shape {out.shape} != reference shape {ref.shape}"
    norm = np.linalg.norm(ref)
    assert norm > 0, "reference is all zeros: the comparison would prove nothing"
    return float(np.linalg.norm(out - ref) / norm)


def torch_reference(fn, *inputs, grad_output=None):
    """Run the PyTorch function ``fn(*tensors)`` in float64 on copies of ``inputs``; return its output(s)
    and the gradients of the inputs.

    Floating-point numpy arrays become float64 leaves that require grad; integer arrays (targets,
    indices) become torch tensors of their own dtype; ``None`` passes through. The backward pass runs
    with ``grad_output`` as the upstream gradient of the (first) output, or with 1 when that output is a
    scalar and no ``grad_output`` is given; otherwise no gradient is computed.

    Returns:
        ``(out, grads)``: ``out`` as numpy (a tuple of them when ``fn`` returns a tuple); ``grads`` a list
        with one numpy array per input (``None`` for a non-float input or one the output does not use),
        or ``None`` when no backward ran.
    """
    tensors, leaves = [], []
    for a in inputs:
        if a is None:
            tensors.append(None)
        elif np.issubdtype(np.asarray(a).dtype, np.floating):
            leaf = torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
            tensors.append(leaf)
            leaves.append(leaf)
        else:
            tensors.append(torch.tensor(np.asarray(a)))
    result = fn(*tensors)
    outputs = result if isinstance(result, tuple) else (result,)
    first = outputs[0]
    grads = None
    if grad_output is not None or first.ndim == 0:
        upstream = None if grad_output is None else torch.tensor(np.asarray(grad_output, dtype=np.float64))
        found = torch.autograd.grad(first, leaves, upstream, allow_unused=True) if leaves else ()
        by_leaf = iter(found)
        grads = [
            None if t is None or not t.requires_grad else _numpy_or_none(next(by_leaf)) for t in tensors
        ]
    out = tuple(o.detach().numpy() for o in outputs)
    return (out if isinstance(result, tuple) else out[0]), grads


def _numpy_or_none(g):
    return None if g is None else g.numpy()


def pair(array: np.ndarray, device: str, dtype=np.float32, requires_grad: bool = True):
    """The same values as a kernelgrad tensor (``dtype``) and a float64 torch leaf (the reference)."""
    ours = fw.tensor(array.astype(dtype), device=device, requires_grad=requires_grad)
    ref = torch.tensor(array.astype(np.float64), requires_grad=requires_grad)
    return ours, ref
