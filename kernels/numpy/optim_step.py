"""Fused optimizer steps (Adam / AdamW, SGD) over a list of parameters, in place: the numpy reference.

One call updates every parameter of a list -- PyTorch's ``fused=True`` optimizers.  Entry ``i`` of each
list (params, grads, moments, ...) belongs to parameter ``i``; every array of every list has one dtype, and
arrays of one parameter have one shape.  The GPU backends launch ONE kernel for the whole list (a
multi-tensor apply); this module loops over the list with numpy and defines the numbers they must give.

Math, per element, exactly ``torch.optim``'s single-tensor code (torch 2.13 ``_single_tensor_adam`` /
``_single_tensor_sgd``), with t = ``step`` (the step being taken, counted from 1):

Adam (``adam_step``)::

    g = -grad if maximize else grad
    if weight_decay != 0:
        decoupled (AdamW):  p = p * (1 - lr * weight_decay)
        else (L2):          g = g + weight_decay * p
    m = m + (1 - beta1) * (g - m)                       (torch's exp_avg.lerp_(g, 1 - beta1))
    v = v * beta2 + (1 - beta2) * g * g
    amsgrad: vmax = max(vmax, v); vhat = vmax          else vhat = v
    denom = sqrt(vhat) / sqrt(1 - beta2**t) + eps
    p = p - (lr / (1 - beta1**t)) * m / denom

SGD (``sgd_step``)::

    g = -grad if maximize else grad
    if weight_decay != 0: g = g + weight_decay * p
    if momentum != 0:
        buf = g if first_step else buf * momentum + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    p = p - lr * g

The step-dependent numbers (``lr / (1 - beta1**t)``, ``sqrt(1 - beta2**t)``, ``1 - lr * weight_decay``)
are formed once on the host in float64 (``kernels._optim_args.adam_scalars``); every backend uses the same
ones, so no kernel reads the step count from device memory.  The capturable variant (``step`` a float64 array of
step counts, ``lr`` a float or a 0-d float64 array, ``table_cache``: ``kernels/_optim_capturable.py``) forms the
same numbers as array operations (one row per parameter) and reads them from there; this reference has no
launch table, but records the key in the cache like the GPU backends, so the contract is the same.
Compute dtype: float32 for float16 (and
bfloat16 on the GPU backends) and float32, float64 for float64; every scalar is rounded to the compute
dtype, the results rounded once to the storage dtype.  ``first_step`` is SGD's "no momentum buffer yet":
torch starts the buffer as a copy of g; the caller allocates the buffers and passes ``first_step=True``.

Cost (per element, float32): Adam reads p, grad, m, v (+ vmax) and writes p, m, v (+ vmax): 28 bytes
(36 with AMSGrad), ~15 FLOPs and one square root; SGD with momentum reads p, grad, buf and writes p, buf:
20 bytes, ~5 FLOPs.  Memory-bound on every device.

Layout: any shapes, C-contiguous (an update in place must hit the array the caller holds); empty arrays
are allowed and skipped.  Bad input (list lengths, dtypes, shapes, non-arrays, non-contiguous arrays, a
missing ``max_exp_avg_sqs`` with AMSGrad or ``momentum_buffers`` with momentum) raises TypeError /
ValueError naming the argument, before anything is written (``kernels/_optim_args.py``, shared by
every backend).

Verified: against ``torch.optim`` (Adam, AdamW, SGD, ``fused=False``) in float64 on the CPU, every option
combination, several steps (tests/kernels/test_optim_step.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._optim_args import (
    adam_scalars,
    check_flags,
    check_hyperparameters,
    check_required,
    check_step,
    check_tensor_lists,
)
from .._optim_capturable import TableCache, check_device_step, check_table_cache, fill_step_scalars
from ._checks import check_float_array

__all__ = ["adam_step", "sgd_step"]


def _check_array(name: str, a: object) -> None:
    check_float_array(name, a)
    if not a.flags.c_contiguous:  # type: ignore[union-attr]
        raise ValueError(f"{name} must be C-contiguous, got strides {a.strides} for shape {a.shape}")  # type: ignore
    if not a.flags.writeable:  # type: ignore[union-attr]
        raise ValueError(f"{name} must be writeable: the step updates it in place")


def _compute(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _placement(name: str, a: np.ndarray) -> None:
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous, got strides {a.strides} for shape {a.shape}")


def adam_step(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], exp_avgs: Sequence[np.ndarray],
              exp_avg_sqs: Sequence[np.ndarray], max_exp_avg_sqs: Sequence[np.ndarray] | None, *,
              step: int | np.ndarray, lr: float | np.ndarray, beta1: float, beta2: float, eps: float,
              weight_decay: float, amsgrad: bool, maximize: bool, decoupled: bool,
              table_cache: TableCache | None = None, launch: bool = True) -> None:
    """One Adam (``decoupled=True``: AdamW) step of every parameter, in place (module docstring has the math).

    Args: parallel lists (params, grads, exp_avgs, exp_avg_sqs and, with ``amsgrad``, max_exp_avg_sqs; else
    None or ignored), one dtype; ``step`` the step being taken (>= 1), or -- the capturable variant -- a float64
    array of shape () or (len(params),) holding it per parameter (``lr`` then a float or a 0-d float64 array);
    ``table_cache``: the caller's cache of the launch table (``kernels/_optim_capturable.py``; here only its key);
    ``launch=False``: check and build the table only; the rest torch.optim.Adam's.
    Updates params, exp_avgs, exp_avg_sqs (and max_exp_avg_sqs); returns None.
    Raises: TypeError / ValueError naming the argument.
    """
    check_flags(amsgrad=amsgrad, maximize=maximize, decoupled=decoupled, launch=launch)
    check_required("max_exp_avg_sqs", max_exp_avg_sqs, amsgrad, "amsgrad=True")
    check_table_cache(table_cache)
    lists = [params, grads, exp_avgs, exp_avg_sqs] + ([max_exp_avg_sqs] if amsgrad else [])
    n, dtype = check_tensor_lists(_check_array, params=params, grads=grads, exp_avgs=exp_avgs,
                                  exp_avg_sqs=exp_avg_sqs, max_exp_avg_sqs=max_exp_avg_sqs if amsgrad else None)
    device = check_device_step(step, lr, n, is_array=lambda a: isinstance(a, np.ndarray), check_placement=_placement)
    h = check_hyperparameters(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                              **({} if isinstance(lr, np.ndarray) else {"lr": lr}))
    if not device:
        step = check_step(step)
    if n == 0 or all(a.size == 0 for a in params):
        return
    if device and table_cache is not None:  # the GPU backends' table key: addresses, sizes, constant numbers
        key = (tuple(a.ctypes.data for lst in lists for a in lst), tuple(a.size for a in params),
               (h["beta1"], h["beta2"], h["eps"], h["weight_decay"]))
        table_cache.lookup(key, lambda: n)
    if not launch:
        return
    c = _compute(dtype).type
    if device:  # one row of step-dependent numbers per parameter, formed as array operations
        rows = fill_step_scalars(np.empty((n, 3)), step, lr if isinstance(lr, np.ndarray) else h["lr"],
                                 h["beta1"], h["beta2"], h["weight_decay"], np.sqrt)
        scalars = [dict(step_size=r[0], bias_correction2_sqrt=r[1], decay=r[2]) for r in rows]
    else:
        scalars = [adam_scalars(step, h["lr"], h["beta1"], h["beta2"], h["weight_decay"])] * n
    for i in range(n):
        s = scalars[i]
        p, g = params[i].astype(c), grads[i].astype(c)
        if maximize:
            g = -g
        if h["weight_decay"] != 0:
            if decoupled:
                p = p * c(s["decay"])
            else:
                g = g + c(h["weight_decay"]) * p
        m = exp_avgs[i].astype(c)
        m = m + c(1 - h["beta1"]) * (g - m)
        v = exp_avg_sqs[i].astype(c) * c(h["beta2"]) + c(1 - h["beta2"]) * (g * g)
        if amsgrad:
            vhat = np.maximum(max_exp_avg_sqs[i].astype(c), v)
            max_exp_avg_sqs[i][...] = vhat
        else:
            vhat = v
        denom = np.sqrt(vhat) / c(s["bias_correction2_sqrt"]) + c(h["eps"])
        params[i][...] = p - c(s["step_size"]) * (m / denom)
        exp_avgs[i][...] = m
        exp_avg_sqs[i][...] = v


def sgd_step(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
             momentum_buffers: Sequence[np.ndarray] | None, *, lr: float, momentum: float, dampening: float,
             weight_decay: float, nesterov: bool, maximize: bool, first_step: bool) -> None:
    """One SGD step of every parameter, in place (module docstring has the math).

    Args: parallel lists (params, grads and, with ``momentum != 0``, momentum_buffers; else None or ignored),
    one dtype; ``first_step``: the buffers hold no history yet and are set to g (torch's first step); the
    rest torch.optim.SGD's.  Updates params (and momentum_buffers); returns None.
    Raises: TypeError / ValueError naming the argument.
    """
    check_flags(nesterov=nesterov, maximize=maximize, first_step=first_step)
    h = check_hyperparameters(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
    check_required("momentum_buffers", momentum_buffers, h["momentum"] != 0, "momentum != 0")
    buffers = momentum_buffers if h["momentum"] != 0 else None
    n, dtype = check_tensor_lists(_check_array, params=params, grads=grads, momentum_buffers=buffers)
    if n == 0:
        return
    c = _compute(dtype).type
    for i in range(n):
        p, g = params[i].astype(c), grads[i].astype(c)
        if maximize:
            g = -g
        if h["weight_decay"] != 0:
            g = g + c(h["weight_decay"]) * p
        if buffers is not None:
            if first_step:
                buf = g
            else:
                buf = buffers[i].astype(c) * c(h["momentum"]) + c(1 - h["dampening"]) * g
            buffers[i][...] = buf
            g = g + c(h["momentum"]) * buf if nesterov else buf
        params[i][...] = p - c(h["lr"]) * g
