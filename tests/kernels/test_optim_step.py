"""optim_step: fused Adam / AdamW / SGD over a list of tensors, every backend against torch.optim in float64.

One call updates tensors of awkward sizes (1, 7, 1000 -- past one chunk on neither GPU backend's boundary --,
0 elements, a 2-D one) in place; after several steps params and state are compared with torch.optim
(``foreach=False, fused=False``: the single-tensor code whose formulas the kernels follow) run in float64 on
the same data.  Bad input raises one TypeError / ValueError naming the argument on every backend, before
anything is written; the GPU backends launch one kernel per call whatever the list's length.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.kernels.conftest import rel_err

SHAPES = [(1,), (7,), (1000,), (0,), (3, 5)]
STEPS = 3
#: relative error after STEPS steps against torch in float64
TOL = {"float16": 1e-2, "bfloat16": 3e-2, "float32": 1e-5, "float64": 1e-12}

ADAM_CASES = {
    "plain": dict(amsgrad=False, maximize=False, weight_decay=0.0, decoupled=False),
    "amsgrad": dict(amsgrad=True, maximize=False, weight_decay=0.0, decoupled=False),
    "l2_maximize": dict(amsgrad=False, maximize=True, weight_decay=0.1, decoupled=False),
    "adamw": dict(amsgrad=False, maximize=False, weight_decay=0.1, decoupled=True),
    "adamw_amsgrad_maximize": dict(amsgrad=True, maximize=True, weight_decay=0.05, decoupled=True),
}
SGD_CASES = {
    "plain": dict(momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    "momentum": dict(momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    "dampening_wd": dict(momentum=0.8, dampening=0.3, weight_decay=0.01, nesterov=False, maximize=False),
    "nesterov_wd_maximize": dict(momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=True, maximize=True),
}
DTYPE_CASES = [("float32", c) for c in ("adam", "sgd")] + [("float64", c) for c in ("adam", "sgd")]


def _native(kb, a: np.ndarray, dtype: str):
    """``a`` (float64) as a native array of ``dtype`` on ``kb``'s device; bfloat16 where the backend has it."""
    if dtype != "bfloat16":
        return kb.to_native(a.astype(dtype))
    if kb.name == "triton":
        return kb.to_native(a.astype(np.float32)).to(torch.bfloat16)
    if kb.name == "cupy":
        from kernels.cupy._runtime import BFloat16Array

        return BFloat16Array.from_float(kb.to_native(a.astype(np.float32)))
    pytest.skip(f"{kb.name} has no bfloat16")


def _numpy(kb, a) -> np.ndarray:
    if hasattr(a, "to_float32"):  # a cupy BFloat16Array
        return np.asarray(kb.to_numpy(a.to_float32()), dtype=np.float64)
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().double().numpy()
    return np.asarray(kb.to_numpy(a), dtype=np.float64)


def _data(rng, n_lists: int):
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    return params, grads


def _torch_run(opt_cls, params, grads, **kw):
    """torch.optim (single-tensor path) in float64: the parameters and state after len(grads) steps."""
    ps = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    opt = opt_cls(ps, foreach=False, fused=False, **kw)
    for step_grads in grads:
        for p, g in zip(ps, step_grads):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return ps, opt


def _assert_close(kb, ours, ref, tol, what):
    out = np.concatenate([_numpy(kb, a).ravel() for a in ours])
    expected = np.concatenate([r.detach().numpy().ravel() for r in ref])
    err = rel_err(out, expected)
    assert err <= tol, f"{what}: rel err {err:.3g} > {tol}"


def _run_adam(kb, rng, dtype, opts, lr=1e-2, betas=(0.9, 0.99), eps=1e-6):
    params, grads = _data(rng, 4)
    ps = [_native(kb, p, dtype) for p in params]
    m = [_native(kb, np.zeros(s), dtype) for s in SHAPES]
    v = [_native(kb, np.zeros(s), dtype) for s in SHAPES]
    vmax = [_native(kb, np.zeros(s), dtype) for s in SHAPES] if opts["amsgrad"] else None
    for step, step_grads in enumerate(grads, start=1):
        gs = [_native(kb, g, dtype) for g in step_grads]
        kb.family("optim_step").adam_step(ps, gs, m, v, vmax, step=step, lr=lr, beta1=betas[0], beta2=betas[1],
                                          eps=eps, **opts)
    torch_opts = dict(opts)
    decoupled = torch_opts.pop("decoupled")
    ref, opt = _torch_run(torch.optim.AdamW if decoupled else torch.optim.Adam, params, grads, lr=lr, betas=betas,
                          eps=eps, **torch_opts)
    state = [opt.state[p] for p in ref]
    tol = TOL[dtype]
    _assert_close(kb, ps, ref, tol, "params")
    _assert_close(kb, m, [s["exp_avg"] for s in state], tol, "exp_avg")
    _assert_close(kb, v, [s["exp_avg_sq"] for s in state], tol, "exp_avg_sq")
    if vmax is not None:
        _assert_close(kb, vmax, [s["max_exp_avg_sq"] for s in state], tol, "max_exp_avg_sq")


def _run_sgd(kb, rng, dtype, opts, lr=0.05):
    params, grads = _data(rng, 2)
    ps = [_native(kb, p, dtype) for p in params]
    bufs = [_native(kb, np.zeros(s), dtype) for s in SHAPES] if opts["momentum"] else None
    for step, step_grads in enumerate(grads, start=1):
        gs = [_native(kb, g, dtype) for g in step_grads]
        kb.family("optim_step").sgd_step(ps, gs, bufs, lr=lr, first_step=step == 1, **opts)
    ref, opt = _torch_run(torch.optim.SGD, params, grads, lr=lr, **opts)
    _assert_close(kb, ps, ref, TOL[dtype], "params")
    if bufs is not None:
        _assert_close(kb, bufs, [opt.state[p]["momentum_buffer"] for p in ref], TOL[dtype], "momentum_buffer")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(ADAM_CASES))
def test_adam_step_matches_torch(kernel_backend, rng, case, dtype):
    _run_adam(kernel_backend, rng, dtype, ADAM_CASES[case])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(SGD_CASES))
def test_sgd_step_matches_torch(kernel_backend, rng, case, dtype):
    _run_sgd(kernel_backend, rng, dtype, SGD_CASES[case])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_steps_compute_in_float32(kernel_backend, rng, dtype):
    _run_adam(kernel_backend, rng, dtype, ADAM_CASES["adamw_amsgrad_maximize"])
    _run_sgd(kernel_backend, rng, dtype, SGD_CASES["nesterov_wd_maximize"])


def test_one_launch_for_the_whole_list(kernel_backend, rng, monkeypatch):
    """The GPU backends launch ONE kernel per call, however many tensors (the point of a fused step)."""
    kb = kernel_backend
    module = kb.family("optim_step")
    launches = []
    if kb.name == "triton":
        for name in ("_adam_step_kernel", "_sgd_step_kernel"):
            kernel = getattr(module, name)
            monkeypatch.setattr(kernel, "run", lambda *a, _run=kernel.run, **k: launches.append(1) or _run(*a, **k))
    elif kb.name == "cupy":
        original = module.MODULE.launch
        monkeypatch.setattr(module.MODULE, "launch", lambda *a, **k: launches.append(1) or original(*a, **k))
    else:
        pytest.skip("numpy loops over the list: launches are a GPU backend's notion")
    ps = [kb.to_native(rng.standard_normal(s).astype(np.float32)) for s in SHAPES]
    gs = [kb.to_native(rng.standard_normal(s).astype(np.float32)) for s in SHAPES]
    zeros = [[kb.to_native(np.zeros(s, np.float32)) for s in SHAPES] for _ in range(3)]
    module.adam_step(ps, gs, zeros[0], zeros[1], zeros[2], step=1, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                     weight_decay=0.0, amsgrad=True, maximize=False, decoupled=False)
    module.sgd_step(ps, gs, None, lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                    maximize=False, first_step=False)
    assert launches == [1, 1]
    before = list(launches)
    empty = [kb.to_native(np.zeros((0,), np.float32))]
    module.sgd_step(empty, empty, None, lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                    maximize=False, first_step=False)
    assert launches == before  # nothing to update: no launch


ADAM_KW = dict(step=1, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
               decoupled=False)
SGD_KW = dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False,
              first_step=False)


def _lists(kb, n, dtype=np.float32, shapes=((3,), (5,))):
    return [[kb.to_native(np.ones(s, dtype)) for s in shapes] for _ in range(n)]


@pytest.mark.parametrize("mistake, error, match", [
    ("short_grads", ValueError, "grads has 1 arrays but params has 2"),
    ("mixed_dtypes", TypeError, r"exp_avgs\[1\] has dtype"),
    ("shape", ValueError, r"grads\[0\] has shape \(4,\), but params\[0\] has shape \(3,\)"),
    ("non_contiguous", ValueError, r"exp_avg_sqs\[0\] must be .*contiguous"),
    ("no_vmax", ValueError, "max_exp_avg_sqs must be a list of arrays when amsgrad=True"),
    ("step0", ValueError, "step must be >= 1"),
    ("not_a_list", TypeError, "params must be a list of arrays"),
    ("flag", TypeError, "maximize must be a bool"),
    ("lr", TypeError, "lr must be a real number"),
])
def test_adam_step_bad_input(kernel_backend, mistake, error, match):
    kb = kernel_backend
    p, g, m, v = _lists(kb, 4)
    kw = dict(ADAM_KW)
    vmax = None
    if mistake == "short_grads":
        g = g[:1]
    elif mistake == "mixed_dtypes":
        m[1] = kb.to_native(np.ones((5,), np.float64))
    elif mistake == "shape":
        g[0] = kb.to_native(np.ones((4,), np.float32))
    elif mistake == "non_contiguous":
        v[0] = kb.to_native(np.ones((6,), np.float32))[::2]
    elif mistake == "no_vmax":
        kw["amsgrad"] = True
    elif mistake == "step0":
        kw["step"] = 0
    elif mistake == "not_a_list":
        p = p[0]
    elif mistake == "flag":
        kw["maximize"] = 1
    elif mistake == "lr":
        kw["lr"] = "0.1"
    before = [_numpy(kb, a).copy() for a in (m if mistake == "not_a_list" else p)]
    with pytest.raises(error, match=match):
        kb.family("optim_step").adam_step(p, g, m, v, vmax, **kw)
    after = [_numpy(kb, a) for a in (m if mistake == "not_a_list" else p)]
    assert all(np.array_equal(a, b) for a, b in zip(before, after)), "a refused call wrote into the arrays"


@pytest.mark.parametrize("mistake, error, match", [
    ("no_buffers", ValueError, "momentum_buffers must be a list of arrays when momentum != 0"),
    ("short_buffers", ValueError, "momentum_buffers has 1 arrays but params has 2"),
    ("not_an_array", TypeError, r"grads\[1\] must be"),
    ("int_dtype", TypeError, r"params\[0\] must have dtype"),
])
def test_sgd_step_bad_input(kernel_backend, mistake, error, match):
    kb = kernel_backend
    p, g, buf = _lists(kb, 3)
    if mistake == "no_buffers":
        buf = None
    elif mistake == "short_buffers":
        buf = buf[:1]
    elif mistake == "not_an_array":
        g[1] = [1.0, 2.0]
    elif mistake == "int_dtype":
        p[0] = kb.to_native(np.ones((3,), np.int32))
    with pytest.raises(error, match=match):
        kb.family("optim_step").sgd_step(p, g, buf, **SGD_KW)


def test_no_momentum_ignores_the_buffers(kernel_backend):
    """momentum == 0: momentum_buffers may be None and is not read or written (torch keeps no buffer)."""
    kb = kernel_backend
    p, g, buf = _lists(kb, 3)
    kb.family("optim_step").sgd_step(p, g, buf, **dict(SGD_KW, momentum=0.0))
    assert all(np.array_equal(_numpy(kb, b), np.ones(b.shape)) for b in buf)
    np.testing.assert_allclose(_numpy(kb, p[0]), np.full(3, 1 - 0.1, np.float32))
