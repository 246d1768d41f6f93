"""Matrix products: batched ``a @ b`` and ``einsum``."""

from __future__ import annotations

from ..autograd import Function
from .elementwise import _save_operands

# ------------------------------------------------------------------------------------------ matmul


class MatMul(Function):
    """Batched ``a @ b`` for operands with ndim >= 2 (Tensor.__matmul__ lifts 1-D operands)."""

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        xp = ctx.xp
        ga = grad @ xp.matrix_transpose(b) if need_a else None
        gb = xp.matrix_transpose(a) @ grad if need_b else None
        return ga, gb


class Einsum(Function):
    """``einsum(equation, *operands)`` for an explicit equation (``"ij,jk->ik"``; no ``...``, no repeated
    subscript inside one operand: Tensor-level :func:`framework.tensor.einsum` rewrites and checks that).

    The gradient of operand ``i`` is itself an einsum: the output gradient contracted with every other
    operand, producing operand ``i``'s subscripts. A subscript that only operand ``i`` has (summed away
    in the forward) is missing from that product; it is put back by broadcasting, since the forward
    summed it with weight 1.
    """

    @staticmethod
    def forward(ctx, *operands, equation):
        inputs, output = equation.split("->")
        ctx.terms, ctx.output = inputs.split(","), output  # not ctx.inputs: the engine's parents
        ctx.save_for_backward(*operands)
        return ctx.xp.einsum(equation, *operands)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        operands = ctx.saved_tensors
        grads = []
        for i, (subs, a) in enumerate(zip(ctx.terms, operands, strict=True)):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [(s, o) for j, (s, o) in enumerate(zip(ctx.terms, operands, strict=True)) if j != i]
            known = set(ctx.output).union(*(s for s, _ in others))
            kept = "".join(c for c in subs if c in known)
            terms = ",".join([ctx.output] + [s for s, _ in others])
            g = xp.einsum(f"{terms}->{kept}", grad, *(o for _, o in others))
            # Reinsert subscripts summed only in this operand (size 1, then broadcast), and broadcast
            # size-1 dims that met a bigger one elsewhere; the engine sums any broadcast back.
            sizes = iter(g.shape)
            g = xp.reshape(g, tuple(next(sizes) if c in known else 1 for c in subs))
            # The operand's own sizes (0 included: not max(0, 1)), except a size-1 dim that met a bigger one.
            grads.append(xp.broadcast_to(g, tuple(m if n == 1 else n for n, m in zip(a.shape, g.shape, strict=True))))
        return tuple(grads)
