"""conv2d, conv_transpose2d and the dilated weight, on the device's ``conv2d`` kernels."""

from __future__ import annotations

from ..autograd import Function
from ._launch import _contiguous, _conv_output_hw, _zeros


class Conv2d(Function):
    # An empty batch (N = 0) launches no kernel (a zero-size grid is a launch error on a GPU, and the kernel
    # contract takes N >= 1): y is [0, K, P, Q], dx empty, dw and db zero -- PyTorch's answer.
    # A backend with the column-matrix extension (the numpy kernels: conv2d_forward_saving_columns /
    # conv2d_backward_from_columns, see kernels/numpy/conv2d.py) keeps forward's im2col for backward when the
    # weight's gradient is wanted, so a training step gathers the windows once. The engine frees it with the rest
    # of the saved values after backward (kept under retain_graph); x stays saved too, so an in-place write to x
    # still raises at backward as in PyTorch.
    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        kern = ctx.backend.kernels.conv2d
        x, w, b = _contiguous(ctx, x, w, b)  # group slices and permuted views are not C-contiguous
        ctx.stride, ctx.padding = stride, padding
        if x.shape[0] == 0:
            ctx.save_for_backward(x, w)
            return _zeros(ctx, (0, w.shape[0]) + _conv_output_hw(x.shape, w.shape, stride, padding), x)
        saving = getattr(kern, "conv2d_forward_saving_columns", None)
        if saving is not None and ctx.needs_input_grad[1]:
            y, cols = saving(x, w, b, stride, padding)
            ctx.save_for_backward(x, w, cols)
            return y
        ctx.save_for_backward(x, w)
        return kern.conv2d_forward(x, w, b, stride, padding)

    @staticmethod
    def backward(ctx, dy):
        kern = ctx.backend.kernels.conv2d
        x, w, *cols = ctx.saved_tensors
        dy = ctx.backend.ascontiguous(dy)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if x.shape[0] == 0:
            return (_zeros(ctx, x.shape, x) if need_x else None), (_zeros(ctx, w.shape, w) if need_w else None), \
                (_zeros(ctx, (dy.shape[1],), dy) if need_b else None), None, None
        if cols:
            dx, dw = kern.conv2d_backward_from_columns(dy, cols[0], w, tuple(x.shape), ctx.stride, ctx.padding,
                                                       need_input=need_x, need_weight=need_w)
        else:
            dx = kern.conv2d_backward_input(dy, w, tuple(x.shape), ctx.stride, ctx.padding) if need_x else None
            dw = kern.conv2d_backward_weight(dy, x, tuple(w.shape), ctx.stride, ctx.padding) if need_w else None
        db = kern.conv2d_backward_bias(dy) if need_b else None
        return dx, dw, db, None, None


class Conv2dReluMaxPool2d(Function):
    """``max_pool2d(relu(conv2d(x, w, b, stride, padding)), kernel)`` with non-overlapping pool windows, as one node, on
    a backend with the CPU extension ``conv2d_relu_maxpool2d_forward`` / ``_backward`` (kernels/numpy/maxpool2d.py:
    the pool runs in the conv's GEMM output layout, without a window gather or a transpose of y and dy). One output,
    z; the pool's argmax and the conv's column matrix stay for backward, and so do x and w, so an in-place write to
    either still raises at backward. ``Sequential`` uses it (framework/nn/utils/fusion.py)."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, kernel):
        x, w, b = _contiguous(ctx, x, w, b)
        fused = ctx.backend.kernels.maxpool2d.conv2d_relu_maxpool2d_forward
        z, ctx.argmax, cols = fused(x, w, b, stride, padding, kernel)
        ctx.save_for_backward(x, w, cols)
        ctx.stride, ctx.padding, ctx.kernel = stride, padding, kernel
        return z

    @staticmethod
    def backward(ctx, dz):
        x, w, cols = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx, dw, db = ctx.backend.kernels.maxpool2d.conv2d_relu_maxpool2d_backward(
            ctx.backend.ascontiguous(dz), ctx.argmax, cols, w, tuple(x.shape), ctx.stride, ctx.padding, ctx.kernel,
            need_input=need_x, need_weight=need_w, need_bias=need_b)
        return dx, dw, db, None, None, None


class ConvTranspose2d(Function):
    """Transposed convolution = the adjoint of conv2d: its forward is conv2d's backward-input."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, output_shape):
        kern = ctx.backend.kernels.conv2d
        x, w, b = _contiguous(ctx, x, w, b)
        ctx.save_for_backward(x, w)
        ctx.stride, ctx.padding = stride, padding
        if x.shape[0] == 0:  # an empty batch launches nothing, as in Conv2d
            return _zeros(ctx, output_shape, x)
        y = kern.conv2d_backward_input(x, w, output_shape, stride, padding)
        if b is not None:  # y is the kernel's fresh array: add in place, no second output-sized array
            y += ctx.xp.reshape(b, (1, -1, 1, 1))
        return y

    @staticmethod
    def backward(ctx, dy):
        kern = ctx.backend.kernels.conv2d
        x, w = ctx.saved_tensors
        dy = ctx.backend.ascontiguous(dy)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if x.shape[0] == 0:
            return (_zeros(ctx, x.shape, x) if need_x else None), (_zeros(ctx, w.shape, w) if need_w else None), \
                (_zeros(ctx, (dy.shape[1],), dy) if need_b else None), None, None, None
        saving = getattr(kern, "conv2d_forward_saving_columns", None)
        if saving is not None and need_x and need_w:  # dx and dw gather the same windows of dy: once (see Conv2d)
            dx, cols = saving(dy, w, None, ctx.stride, ctx.padding)
            _, dw = kern.conv2d_backward_from_columns(x, cols, w, tuple(dy.shape), ctx.stride, ctx.padding,
                                                      need_input=False)
        else:
            dx = kern.conv2d_forward(dy, w, None, ctx.stride, ctx.padding) if need_x else None
            dw = kern.conv2d_backward_weight(x, dy, tuple(w.shape), ctx.stride, ctx.padding) if need_w else None
        db = kern.conv2d_backward_bias(dy) if need_b else None  # y's bias is added per output channel, as conv2d's
        return dx, dw, db, None, None, None


class DilateWeight(Function):
    """Insert (d-1) zeros between kernel taps: a dilated conv is a plain conv with this weight."""

    @staticmethod
    def forward(ctx, w, dilation):
        dh, dw = dilation
        K, C, R, S = w.shape
        out = _zeros(ctx, (K, C, (R - 1) * dh + 1, (S - 1) * dw + 1), w)
        out[:, :, ::dh, ::dw] = w
        ctx.dilation = dilation
        return out

    @staticmethod
    def backward(ctx, grad):
        dh, dw = ctx.dilation
        return ctx.backend.ascontiguous(grad[:, :, ::dh, ::dw]), None
