"""Bad arguments to the Triton kernels raise the same kind of clear errors as the numpy backend."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def _kt():
    try:
        import kernels.triton as kt
    except ImportError as exc:
        pytest.skip(f"kernels.triton not importable: {exc}")
    from kernels.triton._common import expected_device_type

    return kt, torch.device(expected_device_type())


def _calls(kt, dev):
    """(family, function name, builder of valid args with the first array replaced by ``first``)."""
    x = torch.randn(2, 3, 6, 6, device=dev)
    w = torch.randn(4, 3, 3, 3, device=dev)
    a = torch.randn(5, 7, device=dev)
    lw = torch.randn(3, 7, device=dev)
    t = torch.tensor([0, 1, 2, 3, 4], device=dev)
    return [
        ("conv2d_forward", x, lambda first: kt.conv2d.conv2d_forward(first, w, None, 1, 1)),
        ("maxpool2d_forward", x, lambda first: kt.maxpool2d.maxpool2d_forward(first, 2, 2, 0)),
        ("linear_forward", a, lambda first: kt.linear_relu.linear_forward(first, lw, None, True)),
        ("softmax_cross_entropy_forward", a, lambda first: kt.softmax_xent.softmax_cross_entropy_forward(first, t)),
        ("dropout_forward", a, lambda first: kt.dropout.dropout_forward(first, 0.5, 1, 0)),
    ]


@pytest.mark.parametrize("index", range(5))
def test_non_contiguous_wrong_type_wrong_device_and_dtype(index):
    kt, dev = _kt()
    name, valid, call = _calls(kt, dev)[index]
    call(valid)  # the valid call works
    strided = valid.transpose(-1, -2).contiguous().transpose(-1, -2)
    with pytest.raises(ValueError, match="contiguous"):
        call(strided)
    with pytest.raises(TypeError, match="torch.Tensor"):
        call(valid.cpu().numpy())
    with pytest.raises(ValueError, match="on device meta"):
        call(torch.empty(valid.shape, device="meta"))
    with pytest.raises(TypeError, match="dtype"):
        call(valid.to(torch.int32))


def test_mismatched_shapes_name_the_argument():
    kt, dev = _kt()
    x = torch.randn(2, 3, 6, 6, device=dev)
    with pytest.raises(ValueError, match="channel mismatch"):
        kt.conv2d.conv2d_forward(x, torch.randn(4, 2, 3, 3, device=dev), None, 1, 1)
    with pytest.raises(ValueError, match="larger than the padded input"):
        kt.conv2d.conv2d_forward(x, torch.randn(4, 3, 9, 9, device=dev), None, 1, 1)
    with pytest.raises((ValueError, TypeError), match="target"):
        kt.softmax_xent.softmax_cross_entropy_forward(torch.randn(5, 7, device=dev), torch.zeros(4, dtype=torch.int64,
                                                                                                   device=dev))
    with pytest.raises(ValueError, match="p"):
        kt.dropout.dropout_forward(torch.randn(3, device=dev), 1.0, 1, 0)
    assert np.isfinite(kt.dropout.dropout_forward(torch.randn(3, device=dev), 0.2, 1, 0).cpu().numpy()).all()
