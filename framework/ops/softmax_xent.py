"""Softmax cross-entropy on the device's fused ``softmax_xent`` kernels."""

from __future__ import annotations

from ..autograd import Function
from ._launch import _contiguous

# -------------------------------------------------------------------------------------- losses


class SoftmaxCrossEntropy(Function):
    """``forward(logits[M, V], target[M], ignore_index, written=None)`` -> the mean loss.

    With ``written`` (a callable; ``F.cross_entropy(..., consume_input=True)``, which has proven that nothing but
    the logits tensor reaches their storage) and a gradient to compute, the kernel writes dlogits over the logits
    (the contract's ``out=logits``), then ``written()`` bumps their version counter -- before ``apply`` records
    the inputs' versions, so this node's own saved-value check stays quiet. Backward then scales that buffer in
    place (untouched for a gradient of exactly 1) and hands it on; it can run once (a second backward with
    ``retain_graph=True`` raises: the buffer already holds the scaled gradient).
    """

    @staticmethod
    def forward(ctx, logits, target, ignore_index, written=None):
        kern = ctx.backend.kernels.softmax_xent
        logits, target = _contiguous(ctx, logits, target)
        # The kernel fuses the gradient into the forward; under no_grad (or for logits that do not
        # require grad) it computes the loss alone.
        need_grad = ctx.needs_input_grad[0]
        ctx.in_place = written is not None and need_grad
        loss, ctx.dlogits = kern.softmax_cross_entropy_forward(logits, target, ignore_index, need_grad=need_grad,
                                                               out=logits if ctx.in_place else None)
        if ctx.in_place:
            written()
        return loss

    @staticmethod
    def backward(ctx, grad):
        kern = ctx.backend.kernels.softmax_xent
        if not ctx.in_place:
            return kern.softmax_cross_entropy_backward(ctx.dlogits, grad), None, None, None
        if ctx.dlogits is None:
            raise RuntimeError(
                "cross_entropy(consume_input=True): backward ran a second time (retain_graph=True), but the first "
                "backward scaled the gradient in place over the logits' storage; call without consume_input to "
                "differentiate the loss more than once")
        dlogits, ctx.dlogits = ctx.dlogits, None
        return kern.softmax_cross_entropy_backward(dlogits, grad, out=dlogits), None, None, None
