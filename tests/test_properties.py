"""Shapes and argument combinations drawn by hypothesis, against PyTorch in float64 (values and gradients).

The hand-written tests pick awkward cases; these let hypothesis combine the arguments (conv2d stride,
padding, dilation and groups; max_pool2d kernel, stride, padding, dilation and ceil_mode; linear's
leading dimensions; broadcasting; permute + indexing + reshape) on the cpu device, where one example costs
about a millisecond. Each example draws its own ``seed`` for the input values, so a failure prints the
whole example (geometry and seed) and ``derandomize`` makes every run draw the same examples: CI
replays a failure exactly. Kept to a few seconds in all (``max_examples`` below).
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import framework as fw
from framework.nn import functional as F

from .helpers import rel_err, torch_reference

TF = torch.nn.functional
TOL = 1e-4  # float32 against the float64 reference
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)
CONV_SETTINGS = settings(SETTINGS, max_examples=15)  # the costliest: about 2 ms per example
SEEDS = st.integers(0, 2**32 - 1)


def _compare(fw_fn, torch_fn, arrays, rng):
    """``fw_fn`` on float32 kernelgrad leaves against ``torch_fn`` in float64: the output, then every input's
    gradient under one random upstream gradient."""
    ref_out, _ = torch_reference(torch_fn, *arrays)
    upstream = rng.standard_normal(np.shape(ref_out))
    _, ref_grads = torch_reference(torch_fn, *arrays, grad_output=upstream)
    leaves = [fw.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out = fw_fn(*leaves)
    assert tuple(out.shape) == np.shape(ref_out)
    assert rel_err(out, ref_out) <= TOL
    out.backward(fw.tensor(upstream.astype(np.float32)))
    for leaf, ref_grad in zip(leaves, ref_grads, strict=True):
        if np.any(ref_grad):
            assert rel_err(leaf.grad, ref_grad) <= TOL
        else:  # e.g. maximum's operand that lost everywhere: exactly zero, not merely small
            assert leaf.grad is not None and not np.any(leaf.grad.numpy())


def _pair2(draw, low, high):
    """An (h, w) pair, sometimes given as one int as PyTorch allows."""
    h, w = draw(st.integers(low, high)), draw(st.integers(low, high))
    return h if draw(st.booleans()) and h == w else (h, w)


def _as_pair(v):
    return (v, v) if isinstance(v, int) else v


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 2))
    C, K = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    R, S = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, padding, dilation = _pair2(draw, 1, 3), _pair2(draw, 0, 2), _pair2(draw, 1, 2)
    (ph, pw), (dh, dw) = _as_pair(padding), _as_pair(dilation)
    # the dilated kernel must fit the padded input: H + 2p >= d(R - 1) + 1
    H = draw(st.integers(max(1, dh * (R - 1) + 1 - 2 * ph), 8))
    W = draw(st.integers(max(1, dw * (S - 1) + 1 - 2 * pw), 8))
    N, bias = draw(st.integers(1, 2)), draw(st.booleans())
    return dict(x=(N, C, H, W), w=(K, C // groups, R, S), bias=bias,
                kw=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))


@CONV_SETTINGS
@given(case=conv_cases(), seed=SEEDS)
def test_conv2d_geometry_matches_torch(case, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(case["x"]), rng.standard_normal(case["w"])]
    if case["bias"]:
        arrays.append(rng.standard_normal(case["w"][0]))
    kw = case["kw"]
    _compare(lambda *t: F.conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), arrays, rng)


@st.composite
def pool_cases(draw):
    kernel = _pair2(draw, 1, 3)
    stride = None if draw(st.booleans()) else _pair2(draw, 1, 3)  # None: the kernel size
    (kh, kw_), dilation = _as_pair(kernel), _pair2(draw, 1, 2)
    # PyTorch allows padding up to half the kernel; with dilation 1 every window then still holds an input
    # pixel. A dilated window can skip all of them (its maximum is -inf), so dilation comes without padding.
    padding = (0, 0) if dilation != 1 else (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw_ // 2)))
    dh, dw = _as_pair(dilation)
    H = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * padding[0]), 9))
    W = draw(st.integers(max(1, dw * (kw_ - 1) + 1 - 2 * padding[1]), 9))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), H, W)
    return shape, dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                       ceil_mode=draw(st.booleans()))


@SETTINGS
@given(case=pool_cases(), seed=SEEDS)
def test_max_pool2d_geometry_matches_torch(case, seed):
    shape, kw = case
    rng = np.random.default_rng(seed)
    # distinct values 0.01 apart (none 0): every window has one maximum, so the gradient's route is unambiguous
    x = (rng.permutation(int(np.prod(shape))).reshape(shape) + 1) * 0.01
    _compare(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), [x], rng)


@SETTINGS
@given(lead=hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3), features=st.tuples(
    st.integers(1, 5), st.integers(1, 5)), bias=st.booleans(), seed=SEEDS)
def test_linear_over_leading_dimensions_matches_torch(lead, features, bias, seed):
    rng = np.random.default_rng(seed)
    n_in, n_out = features
    arrays = [rng.standard_normal((*lead, n_in)), rng.standard_normal((n_out, n_in))]
    if bias:
        arrays.append(rng.standard_normal(n_out))
    _compare(F.linear, TF.linear, arrays, rng)


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "maximum": (fw.maximum, torch.maximum),
}


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       op=st.sampled_from(sorted(BINARY)), seed=SEEDS)
def test_broadcasting_binary_ops_match_torch(shapes, op, seed):
    """Values and the gradients summed back to each operand's own shape (the chain rule's unbroadcast)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shapes.input_shapes[0])
    b = rng.uniform(0.5, 2.0, shapes.input_shapes[1]) * rng.choice([-1.0, 1.0], shapes.input_shapes[1])
    ours, theirs = BINARY[op]
    _compare(ours, theirs, [a, b], rng)


@st.composite
def view_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    perm = tuple(draw(st.permutations(range(len(shape)))))
    permuted = [shape[p] for p in perm]
    index = []
    for n in permuted:  # an int (negative ones too) or a slice with a positive step, per dimension
        if draw(st.booleans()):
            index.append(draw(st.integers(-n, n - 1)))
        else:
            start, stop = draw(st.integers(-n, n)), draw(st.integers(-n, n))
            index.append(slice(start, stop, draw(st.integers(1, 3))))
    size = int(np.prod(np.empty(permuted)[tuple(index)].shape))
    rows = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0] or [1]))
    return shape, perm, tuple(index), rows


@SETTINGS
@given(case=view_cases(), seed=SEEDS)
def test_permute_index_reshape_match_torch(case, seed):
    """A permuted (non-contiguous) view, indexed with ints and strided slices, then reshaped with -1."""
    shape, perm, index, rows = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.empty(shape).transpose(perm)[index].size == 0:
        return  # nothing selected: no value or gradient to compare
    _compare(lambda t: t.permute(*perm)[index].reshape(rows, -1),
             lambda t: t.permute(*perm)[index].reshape(rows, -1), [x], rng)
