"""Linear (+ fused bias and ReLU) on the device's ``linear_relu`` kernels."""

from __future__ import annotations

from ..autograd import Function
from ._launch import _contiguous

# ---------------------------------------------------------------------------------------- linear


class Linear(Function):
    @staticmethod
    def forward(ctx, x, w, b, relu):
        x, w, b = _contiguous(ctx, x, w, b)
        y = ctx.backend.kernels.linear_relu.linear_forward(x, w, b, relu)
        ctx.save_for_backward(x, w, y if relu else None)
        ctx.relu = relu
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w, y = ctx.saved_tensors
        dx, dw, db = ctx.backend.kernels.linear_relu.linear_backward(
            ctx.backend.ascontiguous(dy), x, w, y, ctx.relu)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        return (dx if need_x else None), (dw if need_w else None), (db if need_b else None), None
