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

from kernels._optim_capturable import TableCache
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


# ----------------------------------------------------------------------------- the capturable variant

def _write(dst, src: np.ndarray) -> None:
    """New values into an existing native array (a static buffer: its address, so the cached table, stays)."""
    if isinstance(dst, torch.Tensor):
        dst.copy_(torch.from_numpy(src))
    else:
        dst[...] = src


def _fill(dst, value: float) -> None:
    if isinstance(dst, torch.Tensor):
        dst.fill_(value)
    else:
        dst[...] = value


def _scalar(kb, value: float):
    """A 0-d float64 native array (``to_native`` makes 0-d arrays 1-d: np.ascontiguousarray)."""
    return kb.to_native(np.array([value])).reshape(())


def _capturable(kb, rng, opts, lrs=(1e-2, 5e-3, 2e-3), betas=(0.9, 0.99), eps=1e-6):
    """float64 steps with the step counts and lr in device arrays (lr rewritten in place between steps, as a
    scheduler does) and static gradient buffers; returns the cache and the torch reference run."""
    params, grads = _data(rng, 4)
    native = lambda a: _native(kb, a, "float64")  # noqa: E731
    ps, gs = [native(p) for p in params], [native(np.zeros(s)) for s in SHAPES]
    m, v = [native(np.zeros(s)) for s in SHAPES], [native(np.zeros(s)) for s in SHAPES]
    vmax = [native(np.zeros(s)) for s in SHAPES] if opts["amsgrad"] else None
    steps, lr = native(np.zeros(len(SHAPES))), _scalar(kb, 0.0)
    cache = TableCache()
    for step_grads, step_lr in zip(grads, lrs):
        for g, new in zip(gs, step_grads):
            _write(g, new)
        _write(steps, _numpy(kb, steps) + 1)  # the caller's increment (a device add in the optimizer)
        _fill(lr, step_lr)
        kb.family("optim_step").adam_step(ps, gs, m, v, vmax, step=steps, lr=lr, beta1=betas[0], beta2=betas[1],
                                          eps=eps, table_cache=cache, **opts)
    torch_opts = dict(opts)
    decoupled = torch_opts.pop("decoupled")
    ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    opt = (torch.optim.AdamW if decoupled else torch.optim.Adam)(ts, lr=lrs[0], betas=betas, eps=eps, foreach=False,
                                                                 fused=False, **torch_opts)
    for step_grads, step_lr in zip(grads, lrs):
        opt.param_groups[0]["lr"] = step_lr
        for t, g in zip(ts, step_grads):
            t.grad = torch.tensor(g)
        opt.step()
    _assert_close(kb, ps, ts, 1e-12, "params")
    _assert_close(kb, m, [opt.state[t]["exp_avg"] for t in ts], 1e-12, "exp_avg")
    if vmax is not None:
        _assert_close(kb, vmax, [opt.state[t]["max_exp_avg_sq"] for t in ts], 1e-12, "max_exp_avg_sq")
    return cache, (ps, gs, m, v, vmax, steps, lr)


@pytest.mark.parametrize("case", ["plain", "l2_maximize", "adamw_amsgrad_maximize"])
def test_capturable_adam_step_matches_torch(kernel_backend, rng, case):
    """Device step counts and a device lr changed between steps (no rebuild: one table for every step)."""
    cache, _ = _capturable(kernel_backend, rng, ADAM_CASES[case])
    assert cache.builds == 1


def test_capturable_per_tensor_step_counts(kernel_backend, rng):
    """Row t of the device numbers belongs to tensor t: tensors at different step counts in one call equal the
    host-scalar call per tensor (float32: the rounding of the numbers to the compute dtype is the same)."""
    kb, module = kernel_backend, kernel_backend.family("optim_step")
    counts = [1.0, 4.0, 2.0, 7.0, 3.0]
    kw = dict(lr=0.01, beta1=0.9, beta2=0.99, eps=1e-6, weight_decay=0.1, amsgrad=False, maximize=False,
              decoupled=True)
    arrays = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(3)]
    arrays.append([np.abs(a) for a in arrays[2]])
    fused = [[kb.to_native(a.copy()) for a in lst] for lst in arrays]
    alone = [[kb.to_native(a.copy()) for a in lst] for lst in arrays]
    module.adam_step(*fused, None, step=kb.to_native(np.array(counts)), **kw)
    for i, count in enumerate(counts):
        module.adam_step(*[[lst[i]] for lst in alone], None, step=int(count), **kw)
    for a, b in zip(fused, alone):
        out = np.concatenate([_numpy(kb, x).ravel() for x in a])
        ref = np.concatenate([_numpy(kb, x).ravel() for x in b])
        assert rel_err(out, ref) <= 1e-6


def test_capturable_table_is_cached_and_rebuilt_when_a_parameter_is_replaced(kernel_backend, rng, monkeypatch):
    kb = kernel_backend
    module = kb.family("optim_step")
    cache, (ps, gs, m, v, vmax, steps, lr) = _capturable(kb, rng, ADAM_CASES["plain"], lrs=(1e-2,))
    uploads = []
    if hasattr(module, "_table"):
        monkeypatch.setattr(module, "_table", lambda *a, _t=module._table, **k: uploads.append(1) or _t(*a, **k))
    kw = dict(step=steps, lr=lr, beta1=0.9, beta2=0.99, eps=1e-6, table_cache=cache, **ADAM_CASES["plain"])
    module.adam_step(ps, gs, m, v, None, **kw)
    assert cache.builds == 1 and uploads == []
    ps[2] = kb.to_native(np.ones(SHAPES[2]))  # a new tensor: a new address
    before = _numpy(kb, ps[2]).copy()
    module.adam_step(ps, gs, m, v, None, launch=False, **kw)  # built, nothing updated
    assert cache.builds == 2 and np.array_equal(_numpy(kb, ps[2]), before)
    assert uploads == ([1] if hasattr(module, "_table") else [])
    module.adam_step(ps, gs, m, v, None, **kw)
    assert cache.builds == 2 and not np.array_equal(_numpy(kb, ps[2]), before)


@pytest.mark.parametrize("mistake, error, match", [
    ("step_dtype", TypeError, "step as a device array must have dtype float64"),
    ("step_shape", ValueError, r"step as a device array must have shape \(\) or \(2,\)"),
    ("lr_without_step", ValueError, "lr is a device array but step is an int"),
    ("lr_shape", ValueError, "lr as a device array must be 0-d"),
    ("cache", TypeError, "table_cache must be a kernels._optim_capturable.TableCache"),
    ("launch", TypeError, "launch must be a bool"),
])
def test_capturable_bad_input(kernel_backend, mistake, error, match):
    kb = kernel_backend
    p, g, m, v = _lists(kb, 4)
    kw = dict(ADAM_KW, step=kb.to_native(np.ones(2)), lr=_scalar(kb, 1e-3))
    if mistake == "step_dtype":
        kw["step"] = kb.to_native(np.ones(2, np.float32))
    elif mistake == "step_shape":
        kw["step"] = kb.to_native(np.ones(3))
    elif mistake == "lr_without_step":
        kw["step"] = 1
    elif mistake == "lr_shape":
        kw["lr"] = kb.to_native(np.ones(1))
    elif mistake == "cache":
        kw["table_cache"] = {}
    elif mistake == "launch":
        kw["launch"] = 0
    with pytest.raises(error, match=match):
        kb.family("optim_step").adam_step(p, g, m, v, None, **kw)
    assert all(np.array_equal(_numpy(kb, a), np.ones(a.shape)) for a in p), "a refused call wrote into the arrays"
