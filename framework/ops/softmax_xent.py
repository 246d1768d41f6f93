"""Softmax cross-entropy on the device's fused ``softmax_xent`` kernels."""

from __future__ import annotations

from ..autograd import Function
from ._launch import _contiguous

# -------------------------------------------------------------------------------------- losses


class SoftmaxCrossEntropy(Function):
    @staticmethod
    def forward(ctx, logits, target, ignore_index):
        kern = ctx.backend.kernels.softmax_xent
        logits, target = _contiguous(ctx, logits, target)
        loss, ctx.dlogits = kern.softmax_cross_entropy_forward(logits, target, ignore_index)
        return loss

    @staticmethod
    def backward(ctx, grad):
        kern = ctx.backend.kernels.softmax_xent
        return kern.softmax_cross_entropy_backward(ctx.dlogits, grad), None, None
