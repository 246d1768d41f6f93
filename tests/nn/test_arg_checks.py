"""One check per argument: a mistake raises the same exception, with the same words, from an nn module's
constructor and from the F function it calls (TypeError for a wrong type, ValueError for a wrong value, as
PyTorch); only the owner that prefixes the message differs."""

from __future__ import annotations

import pytest

import framework as fw
import framework.nn as nn
import framework.nn.functional as F

x4 = fw.ones(1, 4, 6, 6)
w4 = fw.ones(4, 4, 3, 3)

CASES = {  # name: (nn constructor call, F call, exception, message both must contain)
    "stride='a'": (lambda: nn.Conv2d(4, 4, 3, stride="a"), lambda: F.conv2d(x4, w4, stride="a"),
                   TypeError, "stride must be an int or a pair of ints, got 'a'"),
    "stride=0": (lambda: nn.Conv2d(4, 4, 3, stride=0), lambda: F.conv2d(x4, w4, stride=0),
                 ValueError, "stride must be >= 1, got 0"),
    "dilation=(1, 2, 3)": (lambda: nn.Conv2d(4, 4, 3, dilation=(1, 2, 3)), lambda: F.conv2d(x4, w4, dilation=(1, 2, 3)),
                           TypeError, "dilation must be an int or a pair of ints"),
    "stride=(True, 1)": (lambda: nn.ConvTranspose2d(4, 4, 3, stride=(True, 1)),
                         lambda: F.conv_transpose2d(x4, w4, stride=(True, 1)),
                         TypeError, "stride must be an int or a pair of ints"),
    "groups=1.5": (lambda: nn.Conv2d(4, 4, 3, groups=1.5), lambda: F.conv2d(x4, w4, groups=1.5),
                   TypeError, "groups must be an int, got 1.5"),
    "groups=0": (lambda: nn.Conv2d(4, 4, 3, groups=0), lambda: F.conv2d(x4, w4, groups=0),
                 ValueError, "groups must be a positive int, got 0"),
    "kernel_size='a'": (lambda: nn.MaxPool2d("a"), lambda: F.max_pool2d(x4, "a"),
                        TypeError, "kernel_size must be an int or a pair of ints, got 'a'"),
    "divisor_override=2.5": (lambda: nn.AvgPool2d(2, divisor_override=2.5),
                             lambda: F.avg_pool2d(x4, 2, divisor_override=2.5),
                             TypeError, "divisor_override must be an int or None, got 2.5"),
    "divisor_override=0": (lambda: nn.AvgPool2d(2, divisor_override=0), lambda: F.avg_pool2d(x4, 2, divisor_override=0),
                           ValueError, "divisor_override must not be zero"),
    "upscale_factor='a'": (lambda: nn.PixelShuffle("a"), lambda: F.pixel_shuffle(x4, "a"),
                           TypeError, "upscale_factor must be an int, got 'a'"),
    "upscale_factor=0": (lambda: nn.PixelShuffle(0), lambda: F.pixel_shuffle(x4, 0),
                         ValueError, "upscale_factor must be a positive int, got 0"),
    "mode='x'": (lambda: nn.Upsample(scale_factor=2, mode="x"), lambda: F.interpolate(x4, scale_factor=2, mode="x"),
                 ValueError, "mode 'x' is not supported"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_nn_and_functional_raise_the_same_error(case):
    make_module, call_function, exc, message = CASES[case]
    with pytest.raises(exc) as from_nn:
        make_module()
    with pytest.raises(exc) as from_f:
        call_function()
    assert type(from_nn.value) is type(from_f.value) is exc
    assert message in str(from_nn.value) and message in str(from_f.value)
