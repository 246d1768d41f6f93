"""Fused recurrent layers: one direction of one LSTM, GRU or Elman-RNN layer over a whole sequence as ONE
autograd node, forward and backward (backpropagation through time) on raw arrays through ``ctx.xp``.

Built from generic ops, every time step of a layer records about fifteen graph nodes (a linear, a slice and an
activation per gate, the products and sums of the state update), and each node pays Python and autograd
overhead for an array of a few thousand elements. Here:

- the input projection of all T steps is ONE GEMM, ``X [T*B, In] @ W_ih.T``, plus the biases added once
  (``b_ih + b_hh`` for LSTM and RNN; the GRU keeps ``b_hn`` apart, it sits inside ``r * (...)``);
- each step is one GEMM ``h @ W_hh.T`` added to that step's projection, then the gate nonlinearities on the
  whole ``[B, G*H]`` block in a few array calls (the stable sigmoid over the block, tanh over the cell gate);
- backward runs the loop the other way: per step, a handful of products on the gate block plus one GEMM
  ``d_gates @ W_hh`` (the gradient of the previous state). The parameter gradients come after the loop, each
  ONE GEMM or sum over all T*B rows: ``dW_hh = d_gates.T @ h_prev``, ``dW_ih = d_gates.T @ X``,
  ``db = sum(d_gates)``, ``dX = d_gates @ W_ih``.
  ``ctx.needs_input_grad`` skips those nobody needs.

Math and gate order are PyTorch's (``H`` = hidden size; ``σ`` the numerically stable sigmoid of
:func:`framework.ops.activation.stable_sigmoid`):

- LSTM, gates i, f, g, o: ``c' = σ(f)*c + σ(i)*tanh(g)``, ``h' = σ(o)*tanh(c')``;
- GRU, gates r, z, n: ``n = tanh(x_n + r*(W_hn h + b_hn))``, ``h' = (h - n)*z + n`` (ATen's CPU form of
  ``(1-z)*n + z*h``);
- RNN: ``h' = tanh(x_proj + W_hh h + b)`` or ``relu(...)``.

Layout: ``x [T, B, In]`` time-major (any strides: it is copied once if the reshape needs it); ``h0``/``c0``
``[B, H]`` or None for zeros; ``reverse=True`` runs t = T-1..0 (a bidirectional layer's second direction).
Outputs: ``out [T, B, H]`` (the state after each step, indexed by time in either direction), ``h_n [B, H]``
and, for the LSTM, ``c_n [B, H]``, none of them sharing memory with what backward reads. The states of all
steps live in one ``[T+1, B, H]`` buffer: a forward run reads slot t and writes t+1, a reverse run reads t+1
and writes t, so ``out`` (copied from it) and the previous states that ``dW_hh`` needs are plain slices.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import device as _array_device

from ..autograd import Function
from .activation import stable_sigmoid

__all__ = ["GRULayer", "LSTMLayer", "RNNLayer"]


# ---------------------------------------------------------------------------------------------- helpers


def _empty(xp, shape: tuple[int, ...], like: Any) -> Any:
    """An uninitialised array of ``like``'s dtype on ``like``'s device (a bare ``xp.empty`` lands on the host)."""
    return xp.empty(shape, dtype=like.dtype, device=_array_device(like))


def _project_inputs(xp, x, w_ih, bias) -> tuple[Any, Any]:
    """``(x2 [T*B, In], proj [T, B, G*H])``: every step's input projection ``x @ W_ih.T + bias`` as one GEMM.
    ``x2`` is kept for ``dW_ih``; reshaping copies only a non-contiguous x (batch_first's transpose)."""
    T, B, n_in = x.shape
    x2 = xp.reshape(x, (T * B, n_in))
    proj = x2 @ w_ih.T
    if bias is not None:
        proj += bias  # proj is a fresh array: add in place, no second [T*B, G*H] temporary
    return x2, xp.reshape(proj, (T, B, w_ih.shape[0]))


def _summed_bias(b_ih, b_hh) -> Any:
    """``b_ih + b_hh`` (None without biases): LSTM and RNN add both to every step's pre-activation."""
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


def _time_steps(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def _set_initial(states, slot: int, given) -> None:
    """Write the initial state (zeros when not given) into ``states[slot]``."""
    states[slot] = 0 if given is None else given


def _input_side_grads(ctx, d_proj, x2, w_ih, T: int, B: int) -> tuple[Any, Any, Any]:
    """``(dx [T, B, In], dW_ih, db_ih)`` from the gradient of the input projection ``d_proj [T*B, G*H]``:
    one GEMM each over all steps, None for what nobody needs."""
    xp = ctx.xp
    need_x, need_w_ih, need_b_ih = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[3]
    dx = xp.reshape(d_proj @ w_ih, (T, B, w_ih.shape[1])) if need_x else None
    dw_ih = d_proj.T @ x2 if need_w_ih else None
    db_ih = xp.sum(d_proj, axis=0) if need_b_ih else None
    return dx, dw_ih, db_ih


def _hidden_side_grads(ctx, d_gates, h_prev) -> tuple[Any, Any]:
    """``(dW_hh, db_hh)`` from the gradient of the recurrent pre-activation ``d_gates [T*B, G*H]`` and the
    states that entered each step ``h_prev [T*B, H]``: one GEMM and one sum over all steps."""
    need_w_hh, need_b_hh = ctx.needs_input_grad[2], ctx.needs_input_grad[4]
    dw_hh = d_gates.T @ h_prev if need_w_hh else None
    db_hh = ctx.xp.sum(d_gates, axis=0) if need_b_hh else None
    return dw_hh, db_hh


def _copy(xp, a) -> Any:
    """A copy: what is handed out must not alias the buffers saved for backward (an in-place write on the
    output, ``out += residual``, must work as it does on the generic path instead of raising at backward)."""
    return xp.asarray(a, copy=True)


# ------------------------------------------------------------------------------------------------- LSTM


class LSTMLayer(Function):
    """``(out [T, B, H], h_n, c_n)`` of one LSTM layer direction; see the module docstring."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, c0, *, reverse=False):
        xp = ctx.xp
        T, B = x.shape[0], x.shape[1]
        H = w_hh.shape[1]
        r = int(reverse)
        keep = any(ctx.needs_input_grad)  # outside a recorded graph only the running states are needed
        x2, proj = _project_inputs(xp, x, w_ih, _summed_bias(b_ih, b_hh))
        hs, cs = _empty(xp, (T + 1, B, H), proj), _empty(xp, (T + 1, B, H), proj)
        _set_initial(hs, r * T, h0)
        _set_initial(cs, r * T, c0)
        gates = _empty(xp, (T, B, 4, H), proj) if keep else None  # activations i, f, g, o
        tanh_c = _empty(xp, (T, B, H), proj) if keep else None
        w_hh_t = w_hh.T
        c = cs[r * T]
        for t in _time_steps(T, reverse):
            pre = xp.reshape(proj[t] + hs[t + r] @ w_hh_t, (B, 4, H))
            act = stable_sigmoid(xp, pre)  # on the whole block (one call, not three); g is redone below
            act[:, 2] = xp.tanh(pre[:, 2])
            c = act[:, 1] * c + act[:, 0] * act[:, 2]
            tc = xp.tanh(c)
            hs[t + 1 - r] = act[:, 3] * tc
            if keep:
                cs[t + 1 - r] = c
                gates[t] = act
                tanh_c[t] = tc
        if keep:
            ctx.save_for_backward(x2, w_ih, w_hh, hs, cs, gates, tanh_c)
            ctx.reverse = reverse
        # c is the last step's own array (never a view of cs), so it is handed out as is.
        return _copy(xp, hs[1 - r:T + 1 - r]), _copy(xp, hs[(1 - r) * T]), c

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn):
        xp = ctx.xp
        x2, w_ih, w_hh, hs, cs, gates, tanh_c = ctx.saved_tensors
        T, B, _, H = gates.shape
        r = int(ctx.reverse)
        d_gates = _empty(xp, (T, B, 4, H), gates)  # gradients of the pre-activations, all steps
        dh, dc = d_hn, d_cn
        # Everything per step, on that step's [B, 4, H] block: it stays in cache (computing the gate
        # derivatives for all T steps at once before the loop streams T-sized arrays through memory and
        # measured ~10% slower for a whole layer, T=64 B=32 H=128).
        for t in _time_steps(T, not ctx.reverse):
            act, tc, d_pre = gates[t], tanh_c[t], d_gates[t]
            dh = d_out[t] + dh
            dc = dc + dh * act[:, 3] * (1 - tc * tc)
            # each gate's partner in c' = f*c + i*g (and h' = o*tanh(c')), then times its derivative
            d_pre[:, 0] = dc * act[:, 2]
            d_pre[:, 1] = dc * cs[t + r]
            d_pre[:, 2] = dc * act[:, 0]
            d_pre[:, 3] = dh * tc
            slope = act * (1 - act)  # sigmoid' (as s(1-s), not s - s*s: exact near s = 1); g's tanh' below
            slope[:, 2] = 1 - act[:, 2] * act[:, 2]
            d_pre *= slope
            dc = dc * act[:, 1]
            dh = xp.reshape(d_pre, (B, 4 * H)) @ w_hh
        d_gates = xp.reshape(d_gates, (T * B, 4 * H))
        # Both biases enter the same sum: their gradient is the same array, so the second one is a copy.
        dx, dw_ih, db_ih = _input_side_grads(ctx, d_gates, x2, w_ih, T, B)
        dw_hh, db_hh = _hidden_side_grads(ctx, d_gates, xp.reshape(hs[r:T + r], (T * B, H)))
        if db_ih is not None and db_hh is not None:
            db_hh = _copy(xp, db_ih)
        need_h0, need_c0 = ctx.needs_input_grad[5], ctx.needs_input_grad[6]
        return dx, dw_ih, dw_hh, db_ih, db_hh, (dh if need_h0 else None), (dc if need_c0 else None)


# -------------------------------------------------------------------------------------------------- GRU


class GRULayer(Function):
    """``(out [T, B, H], h_n)`` of one GRU layer direction; see the module docstring."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, *, reverse=False):
        xp = ctx.xp
        T, B = x.shape[0], x.shape[1]
        H = w_hh.shape[1]
        r = int(reverse)
        keep = any(ctx.needs_input_grad)
        x2, proj = _project_inputs(xp, x, w_ih, b_ih)
        hs = _empty(xp, (T + 1, B, H), proj)
        _set_initial(hs, r * T, h0)
        rz = _empty(xp, (T, B, 2, H), proj) if keep else None  # the reset and update gates
        new = _empty(xp, (T, B, H), proj) if keep else None  # n
        hidden_n = _empty(xp, (T, B, H), proj) if keep else None  # W_hn h + b_hn, what r multiplies
        w_hh_t = w_hh.T
        for t in _time_steps(T, reverse):
            h = hs[t + r]
            gh = h @ w_hh_t
            if b_hh is not None:
                gh += b_hh
            gh = xp.reshape(gh, (B, 3, H))
            gi = xp.reshape(proj[t], (B, 3, H))
            gate = stable_sigmoid(xp, gi[:, 0:2] + gh[:, 0:2])
            n = xp.tanh(gi[:, 2] + gate[:, 0] * gh[:, 2])
            hs[t + 1 - r] = (h - n) * gate[:, 1] + n
            if keep:
                rz[t] = gate
                new[t] = n
                hidden_n[t] = gh[:, 2]
        if keep:
            ctx.save_for_backward(x2, w_ih, w_hh, hs, rz, new, hidden_n)
            ctx.reverse = reverse
        return _copy(xp, hs[1 - r:T + 1 - r]), _copy(xp, hs[(1 - r) * T])

    @staticmethod
    def backward(ctx, d_out, d_hn):
        xp = ctx.xp
        x2, w_ih, w_hh, hs, rz, n, hidden_n = ctx.saved_tensors
        T, B, _, H = rz.shape
        r = int(ctx.reverse)
        d_hidden = _empty(xp, (T, B, 3, H), rz)  # gradient of h @ W_hh.T + b_hh, all steps
        d_new = _empty(xp, (T, B, H), rz)  # gradient of n's pre-activation: the input side's n slot
        dh = d_hn
        for t in _time_steps(T, not ctx.reverse):  # per step, in cache (as in the LSTM's backward)
            reset, update, n_t, d_pre = rz[t, :, 0], rz[t, :, 1], n[t], d_hidden[t]
            dh = d_out[t] + dh
            dn = dh * (1 - update) * (1 - n_t * n_t)
            d_new[t] = dn
            d_pre[:, 0] = dn * hidden_n[t] * (reset * (1 - reset))
            d_pre[:, 1] = dh * (hs[t + r] - n_t) * (update * (1 - update))
            d_pre[:, 2] = dn * reset  # on the recurrent side r multiplies W_hn h + b_hn
            dh = dh * update + xp.reshape(d_pre, (B, 3 * H)) @ w_hh
        d_hidden = xp.reshape(d_hidden, (T * B, 3 * H))
        dw_hh, db_hh = _hidden_side_grads(ctx, d_hidden, xp.reshape(hs[r:T + r], (T * B, H)))
        dx = dw_ih = db_ih = None
        if any(ctx.needs_input_grad[k] for k in (0, 1, 3)):
            # The input side differs from the recurrent side only in the n gate (no r there).
            d_input = _copy(xp, xp.reshape(d_hidden, (T, B, 3, H)))
            d_input[:, :, 2] = d_new
            dx, dw_ih, db_ih = _input_side_grads(ctx, xp.reshape(d_input, (T * B, 3 * H)), x2, w_ih, T, B)
        return dx, dw_ih, dw_hh, db_ih, db_hh, (dh if ctx.needs_input_grad[5] else None)


# -------------------------------------------------------------------------------------------------- RNN


class RNNLayer(Function):
    """``(out [T, B, H], h_n)`` of one Elman-RNN layer direction (``relu=True``: ReLU instead of tanh)."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, *, reverse=False, relu=False):
        xp = ctx.xp
        T, B = x.shape[0], x.shape[1]
        H = w_hh.shape[1]
        r = int(reverse)
        x2, proj = _project_inputs(xp, x, w_ih, _summed_bias(b_ih, b_hh))
        hs = _empty(xp, (T + 1, B, H), proj)
        _set_initial(hs, r * T, h0)
        w_hh_t = w_hh.T
        for t in _time_steps(T, reverse):
            pre = proj[t] + hs[t + r] @ w_hh_t
            hs[t + 1 - r] = xp.maximum(pre, 0) if relu else xp.tanh(pre)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x2, w_ih, w_hh, hs)
            ctx.reverse, ctx.relu = reverse, relu
        return _copy(xp, hs[1 - r:T + 1 - r]), _copy(xp, hs[(1 - r) * T])

    @staticmethod
    def backward(ctx, d_out, d_hn):
        xp = ctx.xp
        x2, w_ih, w_hh, hs = ctx.saved_tensors
        T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        r = int(ctx.reverse)
        out = hs[1 - r:T + 1 - r]
        if ctx.relu:
            # PyTorch's threshold_backward: a select, not a product (an inf gradient where the unit is off
            # gives 0, not NaN), and a NaN output passes the gradient.
            off, zero = out <= 0, xp.zeros_like(out[0])
        else:
            slope = 1 - out * out
        d_pre = _empty(xp, (T, B, H), hs)
        dh = d_hn
        for t in _time_steps(T, not ctx.reverse):
            dh = d_out[t] + dh
            d_pre[t] = xp.where(off[t], zero, dh) if ctx.relu else dh * slope[t]
            dh = d_pre[t] @ w_hh
        d_pre = xp.reshape(d_pre, (T * B, H))
        dx, dw_ih, db_ih = _input_side_grads(ctx, d_pre, x2, w_ih, T, B)
        dw_hh, db_hh = _hidden_side_grads(ctx, d_pre, xp.reshape(hs[r:T + r], (T * B, H)))
        if db_ih is not None and db_hh is not None:
            db_hh = _copy(xp, db_ih)
        return dx, dw_ih, dw_hh, db_ih, db_hh, (dh if ctx.needs_input_grad[5] else None)
