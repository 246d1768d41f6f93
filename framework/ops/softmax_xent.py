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
        # The kernel fuses the gradient into the forward; under no_grad (or for logits that do not
        # require grad) it computes the loss alone.
        loss, ctx.dlogits = kern.softmax_cross_entropy_forward(logits, target, ignore_index,
                                                               need_grad=ctx.needs_input_grad[0])
        return loss

    @staticmethod
    def backward(ctx, grad):
        kern = ctx.backend.kernels.softmax_xent
        return kern.softmax_cross_entropy_backward(ctx.dlogits, grad), None, None
