"""One mistake, one exception: the same type and the same message on every device, raised by the framework's
own check (naming the user's argument), never a backend's wording, a kernel-internal name or a Python
internal ("tuple index out of range", ZeroDivisionError from a step of 0)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import framework as fw
import framework.nn as nn
import framework.nn.functional as F
from tests.conftest import DEVICES

# name -> (call(device), expected exception type, a regex its message must match)
MISTAKES = {
    "broadcast add": (lambda d: fw.ones(2, 3, device=d) + fw.ones(4, device=d), ValueError,
                      r"add\(\): shapes \(2, 3\) and \(4,\) do not broadcast"),
    "broadcast mul (reversed)": (lambda d: fw.ones(3, 2, device=d) * fw.ones(2, 3, device=d), ValueError,
                                 r"^mul\(\): .*non-singleton dimension 1$"),
    "broadcast comparison": (lambda d: fw.ones(2, 3, device=d) < fw.ones(2, device=d), ValueError, r"^lt\(\)"),
    "broadcast where": (lambda d: fw.where(fw.ones(2, 3, device=d) > 0, fw.ones(2, 3, device=d),
                                           fw.ones(4, device=d)), ValueError, r"^where\(\)"),
    "broadcast maximum": (lambda d: fw.maximum(fw.ones(2, device=d), fw.ones(3, device=d)), ValueError,
                          r"^maximum\(\)"),
    "reshape size": (lambda d: fw.ones(2, 3, device=d).reshape(4), ValueError,
                     r"shape \(4,\) is invalid for a tensor of shape \(2, 3\)"),
    "view two -1": (lambda d: fw.ones(2, 3, device=d).view(-1, -1), ValueError, "only one dimension can be inferred"),
    "reshape negative": (lambda d: fw.ones(2, 3, device=d).reshape(-2, -3), ValueError, "invalid size -3"),
    "reshape float": (lambda d: fw.ones(2, 3, device=d).reshape(2.0, 3), TypeError, "shape must be ints"),
    "expand size": (lambda d: fw.ones(2, 3, device=d).expand(2, 4), ValueError,
                    r"expanded size \(4\) must match the existing size \(3\)"),
    "expand fewer dims": (lambda d: fw.ones(2, 3, device=d).expand(3), ValueError, "number of sizes provided"),
    "cat sizes": (lambda d: fw.cat([fw.ones(2, 3, device=d), fw.ones(3, 3, device=d)], 1), ValueError,
                  r"cat\(\): sizes of tensors must match except in dimension 1"),
    "cat ndim": (lambda d: fw.cat([fw.ones(2, 3, device=d), fw.ones(3, device=d)]), ValueError,
                 "same number of dimensions"),
    "cat 0-d": (lambda d: fw.cat([fw.tensor(1.0, device=d), fw.tensor(2.0, device=d)]), ValueError,
                "zero-dimensional"),
    "cat not a list": (lambda d: fw.cat(fw.ones(2, device=d)), TypeError, "list or tuple of Tensors"),
    "stack sizes": (lambda d: fw.stack([fw.ones(2, device=d), fw.ones(3, device=d)]), ValueError,
                    "equal size"),
    "matmul shapes": (lambda d: fw.ones(2, 3, device=d) @ fw.ones(2, 3, device=d), ValueError, "not aligned"),
    "matmul batch": (lambda d: fw.ones(2, 2, 3, device=d) @ fw.ones(3, 3, 2, device=d), ValueError,
                     r"matmul\(\): shapes \(2,\) and \(3,\) do not broadcast"),
    "matmul dtypes": (lambda d: fw.ones(2, 3, device=d) @ fw.ones(3, dtype="float64", device=d), TypeError,
                      "same non-bool dtype"),
    "split(0)": (lambda d: fw.ones(4, device=d).split(0), ValueError, "split_size must be a positive int"),
    "split sizes": (lambda d: fw.ones(4, device=d).split([1, 2]), ValueError, "sum to 4"),
    "chunk(0)": (lambda d: fw.ones(4, device=d).chunk(0), ValueError, "chunks must be a positive int"),
    "arange(step=0)": (lambda d: fw.arange(0, 5, 0, device=d), ValueError, "step must be nonzero"),
    "arange wrong sign": (lambda d: fw.arange(0, 5, -1, device=d), ValueError, "inconsistent with step sign"),
    "size(5)": (lambda d: fw.ones(2, 3, device=d).size(5), IndexError, "Dimension out of range"),
    "permute too few": (lambda d: fw.ones(2, 3, device=d).permute(0), ValueError, "name 1 dims"),
    "index too many": (lambda d: fw.ones(2, 3, device=d)[0, 0, 0], IndexError, "too many indices"),
    "index out of bounds": (lambda d: fw.ones(2, 3, device=d)[:, 3], IndexError,
                            "index 3 is out of bounds for dimension 1 with size 3"),
    "index tensor out of bounds": (lambda d: fw.ones(2, 3, device=d)[fw.tensor([0, 5], device=d)], IndexError,
                                   "an index tensor holds a value outside"),
    "index float tensor": (lambda d: fw.ones(2, 3, device=d)[fw.ones(2, device=d)], IndexError,
                           "must be integer or bool tensors"),
    "index bool mask shape": (lambda d: fw.ones(2, 3, device=d)[fw.ones(3, device=d) > 0], IndexError,
                              "shape of the mask"),
    "negative slice step": (lambda d: fw.ones(4, device=d)[::-1], ValueError, "step must be greater than zero"),
    "int // 0": (lambda d: fw.tensor([1, 2], device=d) // 0, ZeroDivisionError, r"floor_divide\(\)"),
    "int ** -1": (lambda d: fw.tensor([1, 2], device=d) ** -1, ValueError, "negative integer powers"),
    "bool - bool": (lambda d: (fw.ones(2, device=d) > 0) - (fw.ones(2, device=d) > 0), TypeError,
                    "with a bool operand"),
    "-bool": (lambda d: -(fw.ones(2, device=d) > 0), TypeError, "bool tensor is not supported"),
    "float & float": (lambda d: fw.ones(2, device=d) & fw.ones(2, device=d), TypeError, "bool or integer"),
    "~float": (lambda d: ~fw.ones(2, device=d), TypeError, "bool or integer"),
    "tensor + str": (lambda d: fw.ones(2, device=d) + "a", TypeError, "str"),
    "clamp()": (lambda d: fw.ones(2, device=d).clamp(), ValueError, "at least one of min and max"),
    "devices mixed": (lambda d: fw.ones(2, device=d) + fw.ones(2, device="cpu" if d != "cpu" else "triton"),
                      ValueError, "expected all tensors on one device"),
    "conv2d int input": (lambda d: F.conv2d(fw.ones(1, 2, 5, 5, device=d).long(), fw.ones(4, 2, 3, 3, device=d)),
                         TypeError, "floating-point"),
    "max_pool2d int input": (lambda d: F.max_pool2d(fw.ones(1, 2, 4, 4, device=d).long(), 2), TypeError,
                             r"max_pool2d\(\): input must be a floating-point tensor"),
    "softmax int input": (lambda d: F.softmax(fw.ones(2, 3, device=d).long(), 1), TypeError, "floating-point"),
    "linear float64 input": (lambda d: nn.Linear(3, 2).to(d)(fw.ones(2, 3, dtype="float64", device=d)), TypeError,
                             "dtype float64 and weight dtype float32"),
    "conv2d torch input": (lambda d: F.conv2d(torch.ones(1, 2, 5, 5), fw.ones(4, 2, 3, 3, device=d)), TypeError,
                           "must be a Tensor, got torch.Tensor"),
    "linear numpy input": (lambda d: F.linear(np.ones((2, 3)), fw.ones(4, 3, device=d)), TypeError,
                           "must be a Tensor, got numpy.ndarray"),
    "cross_entropy 0-d input": (lambda d: F.cross_entropy(fw.tensor(1.5, device=d), fw.tensor(1, device=d)),
                                ValueError, "got a 0-d tensor"),
    "cross_entropy 0-d probabilities": (lambda d: F.cross_entropy(fw.tensor(1.5, device=d), fw.tensor(0.5, device=d)),
                                        ValueError, "got a 0-d tensor"),
    "dim given as a tensor": (lambda d: fw.ones(2, 3, device=d).sum(fw.ones(2, device=d)), TypeError,
                              "dim must be an int or a tuple of ints, got Tensor"),
    "keepdim given as a tensor": (lambda d: fw.ones(2, 3, device=d).amax(1, fw.ones(2, device=d)), TypeError,
                                  "keepdim must be a bool"),
    "amax of an empty dim": (lambda d: fw.ones(0, 3, device=d).amax(0), IndexError,
                             r"amax\(\): Expected reduction dim 0 to have non-zero size"),
    "argmax of nothing": (lambda d: fw.ones(0, device=d).argmax(), IndexError, r"input.numel\(\) == 0"),
    "argmax of bool": (lambda d: (fw.ones(3, device=d) > 0).argmax(), TypeError, "bool input"),
    "bool ** bool": (lambda d: (fw.ones(3, device=d) > 0) ** (fw.ones(3, device=d) > 0), TypeError, "bool"),
    "abs of bool": (lambda d: (fw.ones(3, device=d) > 0).abs(), TypeError, "bool"),
    "ragged data": (lambda d: fw.tensor([[1, 2], [3]], device=d), ValueError, "ragged"),
    "float size": (lambda d: fw.ones(2.0, device=d), TypeError, "shape must be non-negative ints"),
    "negative size": (lambda d: fw.zeros(2, -1, device=d), ValueError, "shape must be non-negative ints"),
    "ConvTranspose2d output_size with a 0-d input": (
        lambda d: nn.ConvTranspose2d(3, 2, 3).to(d)(fw.tensor(0.5, device=d), (3, 3)), ValueError,
        "expected a 4-D input"),
    "leaky_relu of int": (lambda d: F.leaky_relu(fw.ones(3, dtype="int64", device=d)), TypeError, "floating-point"),
}

# What a message must never show: a kernel's parameter name, an op class ("Mul: ..."), a foreign class
# called Tensor, a Python internal.
LEAKS = re.compile(r"\b[xw] must have dtype|^[A-Z][A-Za-z]+: |must be a Tensor, got Tensor\b|tuple index out of range|"
                   r"list index out of range|has no attribute|integer division or modulo by zero")


def _devices() -> list[str]:
    present = [d for d in DEVICES if d in fw.available_devices()]
    if len(present) < 2:
        pytest.skip("needs at least two devices to compare")
    return present


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_same_exception_on_every_device(mistake):
    call, expected, pattern = MISTAKES[mistake]
    seen = {}
    for device in _devices():
        with pytest.raises(Exception) as info:
            call(device)
        message = str(info.value).replace(f"'{device}'", "'<device>'")
        seen[device] = (type(info.value), message)
        assert isinstance(info.value, expected), f"{device}: {type(info.value).__name__}: {message}"
        assert re.search(pattern, message), f"{device}: {message!r} does not match {pattern!r}"
        assert not LEAKS.search(message), f"{device}: the message leaks internals: {message!r}"
    if mistake != "devices mixed":  # that message names the two devices, which differ by construction
        assert len(set(seen.values())) == 1, f"messages differ between devices: {seen}"


@pytest.mark.parametrize("index", [[3], (slice(None), [-5]), (0, [4]), (Ellipsis, [0, 9])])
def test_index_values_are_checked_where_the_backend_would_wrap_them(monkeypatch, index):
    """CuPy on a GPU wraps an out-of-range index array around instead of raising: there the framework checks
    the values itself. Simulated on cpu (the check is backend-independent code; here numpy would also raise,
    so the message proves the framework's check ran first)."""
    import sys

    tensor_module = sys.modules["framework.tensor"]
    monkeypatch.setattr(tensor_module, "_wraps_indices", lambda backend: True)
    x = fw.arange(12.0).reshape(3, 4)
    native = tuple(fw.tensor(i) if isinstance(i, list) else i for i in index) if isinstance(index, tuple) \
        else fw.tensor(index)
    with pytest.raises(IndexError, match=r"index -?\d+ is out of bounds for dimension \d with size \d"):
        x[native]
    with pytest.raises(IndexError, match=r"index -?\d+ is out of bounds for dimension \d with size \d"):
        x[native] = 0.0
    ok = fw.tensor([0, -1])
    assert x[ok].tolist() == [x[0].tolist(), x[-1].tolist()]


def test_where_needs_a_bool_condition_and_integer_arange_whole_numbers(device):
    """Both were accepted on some devices and not others (where) or gave values PyTorch does not (arange)."""
    x = fw.ones(2, device=device)
    for condition in (fw.tensor([1.0, 0.0], device=device), fw.tensor([1, 0], device=device)):
        with pytest.raises(TypeError, match="where\\(\\): condition must be a bool tensor"):
            fw.where(condition, x, x * 0)
    with pytest.raises(ValueError, match="arange\\(\\): with an integer dtype"):
        fw.arange(0, 5, 1.5, dtype=fw.int64, device=device)
    assert fw.arange(0.0, 5.0, 2.0, dtype=fw.int64, device=device).tolist() == \
        torch.arange(0.0, 5.0, 2.0, dtype=torch.int64).tolist()


@pytest.mark.parametrize("value, dtype", [(float("nan"), "int64"), (1e30, "int32"), (float("inf"), "int64"),
                                          (-1, "uint8")])
def test_writing_a_number_an_integer_tensor_cannot_hold(device, value, dtype):
    """fill_, x[i] = v and masked_fill_ raise one ValueError on every device (were three exception types)."""
    for write in (lambda t: t.fill_(value), lambda t: t.__setitem__(0, value),
                  lambda t: t.masked_fill_(t == 0, value), lambda t: t.masked_fill(t == 0, value)):
        t = fw.zeros(2, dtype=dtype, device=device)
        with pytest.raises(ValueError, match=f"cannot be converted to {dtype} without overflow"):
            write(t)
        assert t.tolist() == [0, 0]
    t = fw.zeros(2, dtype=dtype, device=device).fill_(2.7)  # a fraction truncates, as torch
    assert t.tolist() == torch.zeros(2, dtype=getattr(torch, dtype)).fill_(2.7).tolist()
