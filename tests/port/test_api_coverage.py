# ruff: noqa: E501 — the table keeps one entry per line
"""The everyday PyTorch API, call by call: each entry of ``ENTRIES`` is a small program ``fn(E)`` written once
and run twice — with ``E`` built on ``torch`` and on ``framework`` (``E.T`` is the package, ``E.nn``, ``E.F``,
``E.optim``, ``E.init``, ``E.data`` its submodules). A call *works* when kernelgrad gives torch's answer:
the same structure, dtypes, shapes, integers and strings, float values within rel err 1e-5 of torch run in
float64 (or within 4x torch's own float32 error, where a cancelling sum leaves torch itself further off), and the same gradients for every leaf the entry made. A call we deliberately do not support is
marked ``unsupported="<word>"`` and must raise a clear error (NotImplementedError, TypeError, ValueError, or
AttributeError for a missing name) whose message contains that word — never a silently different answer.

``/work/notes/api_coverage.py`` (outside the suite) runs the same table and counts worked / clear error /
wrong / crash."""

from __future__ import annotations

import collections
import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import framework as fw

# torch's own notes about its deprecated or CUDA-less paths that some entries take on purpose
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:torch", "ignore::FutureWarning",
                                        "ignore::DeprecationWarning:torch", "ignore:enable_nested_tensor",
                                        "ignore:std\\(\\)",  # (a message with ':' cannot be matched whole)
                                        "ignore:invalid value encountered:RuntimeWarning")

#: Exceptions that count as a clear refusal (their message must name the unsupported thing).
CLEAR_ERRORS = (NotImplementedError, TypeError, ValueError, AttributeError)


class Env:
    """One side of a comparison: the package under test plus seeded inputs identical on both sides."""

    def __init__(self, T, seed: int, float_dtype=np.float32):
        self.T, self.nn, self.optim = T, T.nn, T.optim
        self.F, self.init = T.nn.functional, T.nn.init
        self.data = T.utils.data
        self.fdt = float_dtype  # torch's float64 reference run uses float64 inputs of the same values
        self.rng = np.random.default_rng(seed)
        self.leaves: list = []

    def a(self, *shape, positive: bool = False) -> np.ndarray:
        """A float array (float32 values, so both runs see exactly the same numbers)."""
        a = self.rng.standard_normal(shape).astype(np.float32)
        return (np.abs(a) + 0.5 if positive else a).astype(self.fdt)

    def x(self, *shape, grad: bool = False, positive: bool = False):
        """A float tensor; with ``grad`` a leaf whose gradient is compared."""
        t = self.T.tensor(self.a(*shape, positive=positive), requires_grad=grad)
        if grad:
            self.leaves.append(t)
        return t

    def p(self, *shape):
        """Probabilities in (0.05, 0.95)."""
        return self.T.tensor((self.rng.uniform(0.05, 0.95, shape).astype(np.float32)).astype(self.fdt))

    def i(self, high: int, *shape):
        """An int64 tensor in [0, high)."""
        return self.T.tensor(self.rng.integers(0, high, shape).astype(np.int64))

    def b(self, *shape):
        """A bool tensor."""
        return self.T.tensor(self.rng.random(shape) < 0.5)

    def mod(self, m, grad: bool = True):
        """Give module ``m`` the same parameter values on both sides (drawn in name order); its parameters
        become compared leaves."""
        if self.fdt == np.float64:
            m = m.double()
        params = dict(m.named_parameters())
        with self.T.no_grad():
            for name in sorted(params):
                p = params[name]
                p.copy_(self.T.tensor(self.a(*tuple(p.shape)) * 0.5))
                if grad:
                    self.leaves.append(p)
        return m

    def lin(self, i: int = 4, o: int = 3):
        return self.mod(self.nn.Linear(i, o))


# ---- comparison -------------------------------------------------------------------------------------------

@dataclass
class TensorValue:
    array: np.ndarray
    dtype: str
    requires_grad: bool


def _dtype_name(d) -> str:
    return str(d).replace("torch.", "").replace("kernelgrad.", "")


def normalize(obj, meta_only: bool = False):
    """A comparable, framework-free form of a result."""
    if isinstance(obj, (torch.Tensor, fw.Tensor)):
        t = obj.detach()
        arr = np.asarray(t.cpu().numpy() if isinstance(t, torch.Tensor) else t.numpy())
        if meta_only:
            arr = np.zeros(arr.shape, np.float64)
        return TensorValue(arr.astype(np.float64) if arr.dtype != np.bool_ else arr, _dtype_name(obj.dtype),
                           bool(obj.requires_grad))
    if isinstance(obj, (torch.dtype, fw.DType)):
        return ("dtype", _dtype_name(obj))
    if isinstance(obj, (torch.device, fw.device)):
        return ("device", str(obj))
    if isinstance(obj, (torch.nn.Module, fw.nn.Module)):
        return ("module", type(obj).__name__, normalize(dict(obj.state_dict()), meta_only))
    if isinstance(obj, dict):
        return {k: normalize(v, meta_only) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return [normalize(v, meta_only) for v in obj]
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    if isinstance(obj, np.generic):
        return ("numpy scalar", repr(obj))
    return ("object", type(obj).__name__)


def _rel_tol(dtype: str) -> float:
    return 1e-2 if dtype in ("float16", "bfloat16") else 1e-5


def compare(out, ref32, ref64, path: str = "result") -> str | None:
    """None when ``out`` matches torch's answer; else what differs. ``ref64`` (torch on float64 inputs) gives
    the float values where its structure matches ``ref32`` (torch on the same float32 inputs)."""
    if isinstance(ref32, TensorValue):
        if not isinstance(out, TensorValue):
            return f"{path}: expected a tensor, got {out!r:.80}"
        if out.dtype != ref32.dtype:
            return f"{path}: dtype {out.dtype} != torch's {ref32.dtype}"
        if out.array.shape != ref32.array.shape:
            return f"{path}: shape {out.array.shape} != torch's {ref32.array.shape}"
        if out.requires_grad != ref32.requires_grad:
            return f"{path}: requires_grad {out.requires_grad} != torch's {ref32.requires_grad}"
        ref = ref32.array
        if (isinstance(ref64, TensorValue) and ref64.array.shape == ref.shape
                and ref32.dtype.startswith(("float", "bfloat"))):
            ref = ref64.array
        if ref.dtype == np.bool_ or not ref32.dtype.startswith(("float", "bfloat")):
            return None if np.array_equal(out.array, ref) else f"{path}: values differ from torch's"
        nan_out, nan_ref = np.isnan(out.array), np.isnan(ref)
        if not np.array_equal(nan_out, nan_ref):
            return f"{path}: NaNs differ from torch's"
        o, r = np.where(nan_out, 0, out.array), np.where(nan_ref, 0, ref)
        if not np.array_equal(np.isinf(o), np.isinf(r)) or not np.array_equal(o[np.isinf(o)], r[np.isinf(r)]):
            return f"{path}: infinities differ from torch's"
        o, r = np.where(np.isinf(o), 0, o), np.where(np.isinf(r), 0, r)
        norm = np.linalg.norm(r)
        err = np.linalg.norm(o - r) / norm if norm > 0 else np.abs(o).max(initial=0)
        tol = _rel_tol(ref32.dtype)
        if ref is not ref32.array:
            # An ill-conditioned result (a sum that cancels to near zero) is off by more than ``tol`` in torch's
            # own float32 answer too: then kernelgrad may be as far from float64 as a few times torch's error.
            r32 = np.where(np.isnan(ref32.array) | np.isinf(ref32.array), 0, ref32.array).astype(np.float64)
            torch_err = np.linalg.norm(r32 - r) / norm if norm > 0 else np.abs(r32).max(initial=0)
            tol = max(tol, 4 * torch_err)
        return None if err <= tol else f"{path}: rel err {err:.3g} > {tol:g}"
    if isinstance(ref32, list):
        if not isinstance(out, list) or len(out) != len(ref32):
            return f"{path}: expected a sequence of {len(ref32)}, got {out!r:.80}"
        r64 = ref64 if isinstance(ref64, list) and len(ref64) == len(ref32) else [None] * len(ref32)
        for k, (o, r, r2) in enumerate(zip(out, ref32, r64)):
            if msg := compare(o, r, r2, f"{path}[{k}]"):
                return msg
        return None
    if isinstance(ref32, dict):
        if not isinstance(out, dict) or list(out) != list(ref32):
            return f"{path}: keys {list(out) if isinstance(out, dict) else out!r:.120} != torch's {list(ref32)!r:.120}"
        r64 = ref64 if isinstance(ref64, dict) and list(ref64) == list(ref32) else {}
        for k in ref32:
            if msg := compare(out[k], ref32[k], r64.get(k), f"{path}[{k!r}]"):
                return msg
        return None
    if isinstance(ref32, tuple):
        if not isinstance(out, tuple) or len(out) != len(ref32) or out[:2] != ref32[:2]:
            return f"{path}: {out!r:.80} != torch's {ref32!r:.80}"
        if len(ref32) == 3:
            return compare(out[2], ref32[2], ref64[2] if isinstance(ref64, tuple) else None, path)
        return None
    if isinstance(ref32, float) and type(out) is float:
        r = ref64 if type(ref64) is float else ref32
        if math.isnan(r):
            return None if math.isnan(out) else f"{path}: {out} != torch's nan"
        return None if abs(out - r) <= 1e-5 * max(1.0, abs(r)) else f"{path}: {out} != torch's {r}"
    if type(out) is not type(ref32) or out != ref32:
        return f"{path}: {out!r:.80} != torch's {ref32!r:.80}"
    return None


def _float_tensors(obj, T):
    """Every float tensor with requires_grad in a (nested) result, depth first."""
    if isinstance(obj, T.Tensor):
        return [obj] if obj.requires_grad and obj.is_floating_point() else []
    if isinstance(obj, (tuple, list)):
        return [t for v in obj for t in _float_tensors(v, T)]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _float_tensors(v, T)]
    return []


def execute(entry: Entry, T, seed: int, float_dtype=np.float32):
    """Run ``entry`` on package ``T``; backpropagate a seeded random gradient through every float output
    that requires grad; return (normalized result, normalized leaf gradients)."""
    E = Env(T, seed, float_dtype)
    result = entry.fn(E)
    outs = _float_tensors(result, T)
    if outs and entry.check == "value":
        g_rng = np.random.default_rng(seed + 1)
        total = None
        for t in outs:
            g = T.tensor(g_rng.standard_normal(tuple(t.shape)).astype(np.float32).astype(float_dtype)).to(t.dtype)
            term = (t * g).sum()
            total = term if total is None else total + term
        total.backward()
    meta = entry.check == "meta"
    grads = [normalize(leaf.grad, meta) for leaf in E.leaves] if outs and entry.check == "value" else []
    return normalize(result, meta), grads


def _has_float(value) -> bool:
    if isinstance(value, TensorValue):
        return value.dtype.startswith(("float", "bfloat"))
    if isinstance(value, (list, tuple)):
        return any(_has_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return isinstance(value, float)


def classify(entry: Entry, seed: int) -> tuple[str, str]:
    """('worked' | 'clear error' | 'wrong' | 'crash', detail) for kernelgrad on this entry."""
    try:
        ref32 = execute(entry, torch, seed)
    except Exception as exc:  # noqa: BLE001 — a broken entry, reported as such
        return "bad entry", f"torch raised {type(exc).__name__}: {exc}"
    ref64 = None
    if _has_float(ref32):  # the float64 run only supplies float values
        try:
            ref64 = execute(entry, torch, seed, np.float64)
        except Exception:  # noqa: BLE001 — some calls need float32 (e.g. a half() round trip); use ref32 then
            ref64 = None
    try:
        out = execute(entry, fw, seed)
    except CLEAR_ERRORS as exc:
        msg = str(exc)
        if entry.unsupported:
            clear = entry.unsupported.lower() in msg.lower()
        else:  # not in the table as unsupported: count it as clear only when it says what is missing
            clear = isinstance(exc, NotImplementedError) or "not supported" in msg or "has no attribute" in msg
        return ("clear error" if clear else "crash"), f"{type(exc).__name__}: {msg}"
    except Exception as exc:  # noqa: BLE001 — classified, not swallowed: the test asserts on it
        return "crash", f"{type(exc).__name__}: {exc}"
    msg = compare(out[0], ref32[0], ref64[0] if ref64 else None)
    if msg is None:
        msg = compare(out[1], ref32[1], ref64[1] if ref64 else None, "grads")
    return ("wrong", msg) if msg else ("worked", "")


@dataclass
class Entry:
    name: str
    fn: Callable[[Env], Any]
    check: str = "value"  # "meta": random results, compare structure, dtypes and shapes only
    unsupported: str | None = None  # a word the clear error's message must contain


ENTRIES: list[Entry] = []


def C(name: str, fn: Callable[[Env], Any], check: str = "value", unsupported: str | None = None) -> None:
    ENTRIES.append(Entry(name, fn, check, unsupported))


# ---- helpers for entries ----------------------------------------------------------------------------------

def _train_linear(E, make_opt, steps: int = 3, closure: bool = False):
    """``steps`` optimizer steps of a Linear on a fixed regression; the parameters after."""
    m = E.mod(E.nn.Linear(4, 3), grad=False)
    x, y = E.x(5, 4), E.x(5, 3)
    opt = make_opt(E, m.parameters())
    for _ in range(steps):
        opt.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return [p.detach() for p in m.parameters()]


def _lrs(E, make_sched, steps: int = 9, metrics=None):
    """The learning rate after each of ``steps`` scheduler steps (SGD, lr 0.1)."""
    p = E.nn.Parameter(E.T.zeros(2))
    opt = E.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = make_sched(E, opt)
    out = []
    for k in range(steps):
        opt.step()
        sched.step(metrics[k]) if metrics else sched.step()
        out.append(round(opt.param_groups[0]["lr"], 12))
    return out


class _Net:
    """A small CNN built from either package's nn (module methods are tried on it)."""

    @staticmethod
    def build(E):
        nn = E.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 2, 3, bias=False)  # a bias before BatchNorm has a zero gradient
                self.bn = nn.BatchNorm2d(2)
                self.fc = nn.Sequential(nn.Flatten(), nn.Linear(8, 3))

            def forward(self, x):
                return self.fc(E.F.relu(self.bn(self.conv(x))))

        return E.mod(Net())


def _custom_function(E):
    class Cube(E.T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    return Cube.apply(E.x(3, 2, grad=True))


def _hooked(E):
    x = E.x(4, grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 3)
    return y


def _dataset_class(E):
    class Squares(E.data.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return E.T.tensor([float(i)]), i * i

    return list(E.data.DataLoader(Squares(), batch_size=3))


def _iterable_dataset(E):
    class Count(E.data.IterableDataset):
        def __iter__(self):
            return iter(range(5))

    return list(E.data.DataLoader(Count(), batch_size=2))


# ---- the table --------------------------------------------------------------------------------------------
# torch.* creation
C("torch.tensor(list)", lambda E: E.T.tensor([[1.5, 2.0], [3.0, -4.0]]))
C("torch.tensor(int list)", lambda E: E.T.tensor([1, 2, 3]))
C("torch.tensor(bool)", lambda E: E.T.tensor([True, False]))
C("torch.tensor(dtype=long)", lambda E: E.T.tensor([1.7, 2.2], dtype=E.T.long))
C("torch.tensor(scalar)", lambda E: E.T.tensor(3.5))
C("torch.zeros(*sizes)", lambda E: E.T.zeros(2, 3))
C("torch.zeros(tuple, dtype)", lambda E: E.T.zeros((2, 3), dtype=E.T.int64))
C("torch.ones", lambda E: E.T.ones(3, 1))
C("torch.full", lambda E: E.T.full((2, 2), 7.0))
C("torch.full(int fill)", lambda E: E.T.full((2,), 3))
C("torch.arange(n)", lambda E: E.T.arange(5))
C("torch.arange(start, end, step)", lambda E: E.T.arange(1, 2, 0.25))
C("torch.arange(float)", lambda E: E.T.arange(4.0))
C("torch.linspace", lambda E: E.T.linspace(-1, 1, 7))
C("torch.logspace", lambda E: E.T.logspace(0, 2, 3))
C("torch.eye", lambda E: E.T.eye(3))
C("torch.eye(n, m)", lambda E: E.T.eye(2, 4))
C("torch.empty", lambda E: E.T.empty(2, 3), check="meta")
C("torch.zeros_like", lambda E: E.T.zeros_like(E.x(2, 3)))
C("torch.ones_like(dtype)", lambda E: E.T.ones_like(E.x(2, 3), dtype=E.T.float64))
C("torch.full_like", lambda E: E.T.full_like(E.x(2, 3), 0.5))
C("torch.empty_like", lambda E: E.T.empty_like(E.x(2, 3)), check="meta")
C("torch.rand", lambda E: E.T.rand(2, 3), check="meta")
C("torch.randn", lambda E: E.T.randn(2, 3), check="meta")
C("torch.randint(high, size)", lambda E: E.T.randint(5, (3, 2)), check="meta")
C("torch.randint(low, high, size)", lambda E: E.T.randint(2, 5, (3,)), check="meta")
C("torch.randperm", lambda E: E.T.randperm(6).sort()[0])
C("torch.rand_like", lambda E: E.T.rand_like(E.x(2, 2)), check="meta")
C("torch.randn_like", lambda E: E.T.randn_like(E.x(2, 2)), check="meta")
C("torch.normal(mean, std, size)", lambda E: E.T.normal(0.0, 1.0, size=(2, 3)), check="meta")
C("torch.from_numpy", lambda E: E.T.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3)))
C("torch.as_tensor", lambda E: E.T.as_tensor([1.0, 2.0]))
C("torch.manual_seed + randn", lambda E: (E.T.manual_seed(0), E.T.randn(3).shape)[1])
C("torch.get_default_dtype", lambda E: E.T.get_default_dtype())
C("torch.is_tensor", lambda E: E.T.is_tensor(E.x(2)))
C("torch.numel", lambda E: E.T.numel(E.x(2, 3)))
C("torch.Tensor isinstance", lambda E: isinstance(E.x(2), E.T.Tensor))
C("torch.float32 / torch.long aliases", lambda E: [E.T.float, E.T.long, E.T.double, E.T.int, E.T.bool, E.T.half])
C("torch.device", lambda E: E.x(2).to(E.T.device("cpu")).device)
C("torch.cuda.is_available", lambda E: type(E.T.cuda.is_available()))
C("torch.finfo(float32).eps", lambda E: E.T.finfo(E.T.float32).eps)
C("torch.iinfo(int64).max", lambda E: E.T.iinfo(E.T.int64).max)

# torch.* math and reductions
C("torch.abs", lambda E: E.T.abs(E.x(3, 4, grad=True)))
C("torch.sqrt", lambda E: E.T.sqrt(E.x(3, 4, grad=True, positive=True)))
C("torch.exp", lambda E: E.T.exp(E.x(3, 4, grad=True)))
C("torch.log", lambda E: E.T.log(E.x(3, 4, grad=True, positive=True)))
C("torch.sin / cos", lambda E: E.T.sin(E.x(5, grad=True)) + E.T.cos(E.x(5, grad=True)))
C("torch.tanh", lambda E: E.T.tanh(E.x(3, 4, grad=True)))
C("torch.sigmoid", lambda E: E.T.sigmoid(E.x(3, 4, grad=True)))
C("torch.relu", lambda E: E.T.relu(E.x(3, 4, grad=True)))
C("torch.pow(t, 2)", lambda E: E.T.pow(E.x(3, 4, grad=True), 2))
C("torch.pow(t, t)", lambda E: E.T.pow(E.x(3, grad=True, positive=True), E.x(3, grad=True)))
C("torch.clamp(min, max)", lambda E: E.T.clamp(E.x(3, 4, grad=True), -0.5, 0.5))
C("torch.clamp(min=)", lambda E: E.T.clamp(E.x(3, 4, grad=True), min=0.1))
C("torch.clip", lambda E: E.T.clip(E.x(6, grad=True), -1, 1))
C("torch.floor / ceil / round / trunc", lambda E: [f(E.x(5) * 3) for f in (E.T.floor, E.T.ceil, E.T.round, E.T.trunc)])
C("torch.sign", lambda E: E.T.sign(E.x(6)))
C("torch.neg / reciprocal / rsqrt", lambda E: [E.T.neg(E.x(3, grad=True)), E.T.reciprocal(E.x(3, grad=True, positive=True)), E.T.rsqrt(E.x(3, grad=True, positive=True))])
C("torch.log1p / expm1 / log2 / log10", lambda E: [f(E.x(4, grad=True, positive=True)) for f in (E.T.log1p, E.T.expm1, E.T.log2, E.T.log10)])
C("torch.square", lambda E: E.T.square(E.x(4, grad=True)))
C("torch.erf", lambda E: E.T.erf(E.x(5, grad=True)))
C("torch.atan2", lambda E: E.T.atan2(E.x(3, 4, grad=True), E.x(4, grad=True)))
C("torch.add(a, b, alpha)", lambda E: E.T.add(E.x(3, grad=True), E.x(3, grad=True), alpha=2))
C("torch.sub", lambda E: E.T.sub(E.x(3, grad=True), E.x(3, grad=True)))
C("torch.mul", lambda E: E.T.mul(E.x(3, grad=True), E.x(3, grad=True)))
C("torch.div", lambda E: E.T.div(E.x(3, grad=True), E.x(3, grad=True, positive=True)))
C("torch.div(rounding_mode='floor')", lambda E: E.T.div(E.T.arange(-5, 5), 3, rounding_mode="floor"))
C("torch.floor_divide", lambda E: E.T.floor_divide(E.T.arange(-5, 5), 3))
C("torch.remainder", lambda E: E.T.remainder(E.T.arange(-5, 5), 3))
C("torch.fmod", lambda E: [E.T.fmod(E.x(5, grad=True) * 4, 1.5), E.T.fmod(E.T.arange(-5, 5), 3), E.T.fmod(E.x(4, grad=True), E.x(4, grad=True, positive=True))])
C("torch.maximum / minimum", lambda E: [E.T.maximum(E.x(4, grad=True), E.x(4, grad=True)), E.T.minimum(E.x(4, grad=True), E.x(4, grad=True))])
C("torch.where(cond, x, y)", lambda E: E.T.where(E.b(3, 4), E.x(3, 4, grad=True), E.x(3, 4, grad=True)))
C("torch.where(cond, x, 0.)", lambda E: E.T.where(E.b(3, 4), E.x(3, 4, grad=True), 0.0))
C("torch.lerp", lambda E: E.T.lerp(E.x(4, grad=True), E.x(4, grad=True), 0.3))
C("torch.sum", lambda E: E.T.sum(E.x(3, 4, grad=True)))
C("torch.sum(dim, keepdim)", lambda E: E.T.sum(E.x(3, 4, grad=True), dim=1, keepdim=True))
C("torch.sum(dim tuple)", lambda E: E.T.sum(E.x(2, 3, 4, grad=True), dim=(0, 2)))
C("torch.mean", lambda E: E.T.mean(E.x(3, 4, grad=True), 0))
C("torch.prod", lambda E: E.T.prod(E.x(3, 4, grad=True), 1))
C("torch.std / var", lambda E: [E.T.std(E.x(3, 5, grad=True), dim=1), E.T.var(E.x(3, 5, grad=True), unbiased=False)])
C("torch.std(correction=0)", lambda E: E.T.std(E.x(3, 5, grad=True), dim=1, correction=0))
C("torch.var_mean", lambda E: E.T.var_mean(E.x(3, 5, grad=True), dim=1))
C("torch.max (all)", lambda E: E.T.max(E.x(3, 4, grad=True)))
C("torch.max(dim)", lambda E: tuple(E.T.max(E.x(3, 4, grad=True), dim=1)))
C("torch.max(dim).values/.indices", lambda E: [E.T.max(E.x(3, 4), 0).values, E.T.max(E.x(3, 4), 0).indices])
C("torch.min(dim)", lambda E: tuple(E.T.min(E.x(3, 4, grad=True), 1, keepdim=True)))
C("torch.max(a, b)", lambda E: E.T.max(E.x(3, grad=True), E.x(3, grad=True)))
C("torch.argmax / argmin", lambda E: [E.T.argmax(E.x(3, 4), 1), E.T.argmin(E.x(3, 4)), E.T.argmax(E.x(3, 4), dim=0, keepdim=True)])
C("torch.amax / amin", lambda E: [E.T.amax(E.x(3, 4, grad=True), 1), E.T.amin(E.x(3, 4, grad=True), dim=(0, 1))])
C("torch.logsumexp", lambda E: E.T.logsumexp(E.x(3, 4, grad=True), dim=1))
C("torch.norm", lambda E: E.T.norm(E.x(3, 4, grad=True)))
C("torch.norm(dim, p=1)", lambda E: E.T.norm(E.x(3, 4, grad=True), p=1, dim=1))
C("torch.linalg.norm", lambda E: E.T.linalg.norm(E.x(3, 4, grad=True), dim=1))
C("torch.cumsum", lambda E: E.T.cumsum(E.x(3, 4, grad=True), dim=1))
C("torch.cumprod", lambda E: E.T.cumprod(E.x(3, 4, grad=True), dim=1), unsupported="cumprod")
C("torch.median", lambda E: E.T.median(E.x(3, 5)))
C("torch.matmul", lambda E: E.T.matmul(E.x(2, 3, 4, grad=True), E.x(4, 5, grad=True)))
C("torch.mm / bmm / mv / dot", lambda E: [E.T.mm(E.x(2, 3, grad=True), E.x(3, 4, grad=True)), E.T.bmm(E.x(2, 2, 3, grad=True), E.x(2, 3, 2, grad=True)), E.T.mv(E.x(2, 3, grad=True), E.x(3, grad=True)), E.T.dot(E.x(3, grad=True), E.x(3, grad=True))])
C("torch.outer", lambda E: E.T.outer(E.x(3, grad=True), E.x(4, grad=True)))
C("torch.addmm", lambda E: E.T.addmm(E.x(4, grad=True), E.x(2, 3, grad=True), E.x(3, 4, grad=True)))
C("torch.einsum", lambda E: E.T.einsum("bij,bjk->bik", E.x(2, 3, 4, grad=True), E.x(2, 4, 2, grad=True)))
C("torch.softmax / log_softmax", lambda E: [E.T.softmax(E.x(3, 4, grad=True), dim=1), E.T.log_softmax(E.x(3, 4, grad=True), -1)])
C("torch.sort", lambda E: tuple(E.T.sort(E.x(3, 5, grad=True), dim=1, descending=True)))
C("torch.argsort", lambda E: E.T.argsort(E.x(3, 5), dim=1))
C("torch.topk", lambda E: tuple(E.T.topk(E.x(3, 5, grad=True), 2)))
C("torch.topk(largest=False)", lambda E: tuple(E.T.topk(E.x(3, 5), 2, dim=0, largest=False)))
C("torch.unique", lambda E: E.T.unique(E.T.tensor([3, 1, 3, 2, 1])))
C("torch.flatten", lambda E: E.T.flatten(E.x(2, 3, 4, grad=True), 1))
C("torch.reshape", lambda E: E.T.reshape(E.x(2, 6, grad=True), (3, -1)))
C("torch.transpose / permute", lambda E: [E.T.transpose(E.x(2, 3, grad=True), 0, 1), E.T.permute(E.x(2, 3, 4, grad=True), (2, 0, 1))])
C("torch.squeeze / unsqueeze", lambda E: [E.T.squeeze(E.x(2, 1, 3, grad=True)), E.T.unsqueeze(E.x(2, 3, grad=True), 1)])
C("torch.cat", lambda E: E.T.cat([E.x(2, 3, grad=True), E.x(1, 3, grad=True)]))
C("torch.cat(dim=1)", lambda E: E.T.cat((E.x(2, 3, grad=True), E.x(2, 1, grad=True)), dim=1))
C("torch.stack", lambda E: E.T.stack([E.x(3, grad=True), E.x(3, grad=True)], dim=1))
C("torch.hstack / vstack", lambda E: [E.T.hstack([E.x(2, grad=True), E.x(3, grad=True)]), E.T.vstack([E.x(1, 3, grad=True), E.x(2, 3, grad=True)])])
C("torch.chunk / split", lambda E: [list(E.T.chunk(E.x(5, 2, grad=True), 2)), list(E.T.split(E.x(5, 2, grad=True), [2, 3]))])
C("torch.unbind", lambda E: list(E.T.unbind(E.x(3, 2, grad=True), 1)))
C("torch.gather", lambda E: E.T.gather(E.x(3, 4, grad=True), 1, E.i(4, 3, 2)))
C("torch.scatter", lambda E: E.T.scatter(E.T.zeros(3, 4), 1, E.T.tensor([[0], [2], [1]]), 1.0))
C("torch.index_select", lambda E: E.T.index_select(E.x(4, 3, grad=True), 0, E.T.tensor([2, 0, 2])))
C("torch.masked_select", lambda E: E.T.masked_select(E.x(3, 4, grad=True), E.b(3, 4)))
C("torch.nonzero", lambda E: E.T.nonzero(E.T.tensor([[0, 1], [2, 0]])))
C("torch.tril / triu", lambda E: [E.T.tril(E.x(3, 3, grad=True)), E.T.triu(E.x(3, 4, grad=True), diagonal=1)])
C("torch.flip / roll", lambda E: [E.T.flip(E.x(3, 4, grad=True), [0]), E.T.roll(E.x(5, grad=True), 2)])
C("torch.diag / trace", lambda E: [E.T.diag(E.x(3, grad=True)), E.T.trace(E.x(3, 3, grad=True))])
C("torch.eq / ne / gt / lt / ge / le", lambda E: [f(E.T.arange(4), 2) for f in (E.T.eq, E.T.ne, E.T.gt, E.T.lt, E.T.ge, E.T.le)])
C("torch.isnan / isinf / isfinite", lambda E: [f(E.T.tensor([1.0, float("nan"), float("inf")])) for f in (E.T.isnan, E.T.isinf, E.T.isfinite)])
C("torch.allclose / isclose / equal", lambda E: [E.T.allclose(E.T.ones(2), E.T.ones(2) + 1e-9), E.T.isclose(E.T.ones(2), E.T.tensor([1.0, 2.0])), E.T.equal(E.T.ones(2), E.T.ones(2))])
C("torch.all / any", lambda E: [E.T.all(E.b(3, 4)), E.T.any(E.b(3, 4), dim=1)])
C("torch.logical_and / or / not", lambda E: [E.T.logical_and(E.b(4), E.b(4)), E.T.logical_or(E.b(4), E.b(4)), E.T.logical_not(E.b(4))])
C("torch.count_nonzero", lambda E: E.T.count_nonzero(E.T.tensor([[0, 1], [2, 3]]), dim=1))
C("torch.meshgrid(indexing='ij')", lambda E: list(E.T.meshgrid(E.T.arange(3), E.T.arange(2), indexing="ij")))
C("torch.broadcast_to / tile", lambda E: [E.T.broadcast_to(E.x(3, grad=True), (2, 3)), E.T.tile(E.x(2, grad=True), (2, 2))])
C("torch.repeat_interleave", lambda E: E.T.repeat_interleave(E.x(3, grad=True), 2))
C("torch.movedim", lambda E: E.T.movedim(E.x(2, 3, 4, grad=True), 0, -1))
C("torch.nan_to_num", lambda E: E.T.nan_to_num(E.T.tensor([float("nan"), float("inf"), 1.0])))
C("torch.clone", lambda E: E.T.clone(E.x(3, grad=True)))
C("torch.cdist", lambda E: E.T.cdist(E.x(3, 2, grad=True), E.x(4, 2, grad=True)))
C("torch.bucketize", lambda E: E.T.bucketize(E.x(5), E.T.tensor([-1.0, 0.0, 1.0])))
C("torch.diff", lambda E: E.T.diff(E.x(5, grad=True)))
C("torch.zeros(int tensor size)", lambda E: E.T.zeros(E.T.tensor(3)))

# Tensor methods and operators
C("x.view / view(-1)", lambda E: [E.x(2, 6, grad=True).view(3, 4), E.x(2, 3, grad=True).view(-1)])
C("x.reshape", lambda E: E.x(2, 6, grad=True).reshape(4, 3))
C("x.size() / size(d) / shape", lambda E: [E.x(2, 3).size(), E.x(2, 3).size(1), E.x(2, 3).shape, E.x(2, 3).size(-1)])
C("x.shape[0] / len(x)", lambda E: [E.x(4, 2).shape[0], len(E.x(4, 2))])
C("x.dim() / ndim / numel() / nelement()", lambda E: [E.x(2, 3).dim(), E.x(2, 3).ndim, E.x(2, 3).numel(), E.x(2, 3).nelement()])
C("x.item()", lambda E: E.x(1).item())
C("x.item() (int)", lambda E: E.T.tensor([5]).item())
C("x.tolist()", lambda E: E.T.tensor([[1, 2], [3, 4]]).tolist())
C("x.float() / long() / int() / bool() / double() / half()", lambda E: [E.T.tensor([1.6, -0.5]).float(), E.T.tensor([1.6, -0.5]).long(), E.T.tensor([1.6, -0.5]).int(), E.T.tensor([1.6, 0.0]).bool(), E.T.tensor([1.5]).double(), E.T.tensor([1.5]).half()])
C("x.to(dtype)", lambda E: E.x(3, grad=True).to(E.T.float64))
C("x.to('cpu') / cpu()", lambda E: [E.x(3).to("cpu"), E.x(3).cpu()])
C("x.to(other)", lambda E: E.x(3).to(E.T.zeros(1, dtype=E.T.float64)))
C("x.type(dtype) / type_as", lambda E: [E.x(3).type(E.T.int64), E.x(3).type_as(E.T.zeros(1, dtype=E.T.float64))])
C("x.type() string (package prefix differs: 'kernelgrad.')", lambda E: E.x(3).type().split(".")[-1])
C("x.numpy()", lambda E: E.x(2, 3).numpy().tolist())
C("x.clone / detach / contiguous", lambda E: [E.x(3, grad=True).clone(), E.x(3, grad=True).detach(), E.x(3, 2, grad=True).t().contiguous()])
C("x.t() / x.T / x.mT", lambda E: [E.x(2, 3, grad=True).t(), E.x(2, 3, grad=True).T, E.x(2, 2, 3, grad=True).mT])
C("x.permute / transpose", lambda E: [E.x(2, 3, 4, grad=True).permute(1, 2, 0), E.x(2, 3, grad=True).transpose(-1, -2)])
C("x.unsqueeze / squeeze(dim)", lambda E: [E.x(2, 3, grad=True).unsqueeze(-1), E.x(2, 1, 3, grad=True).squeeze(1)])
C("x.expand / expand_as", lambda E: [E.x(3, 1, grad=True).expand(3, 4), E.x(1, 4, grad=True).expand(-1, 4), E.x(4, grad=True).expand_as(E.x(2, 4))])
C("x.repeat", lambda E: E.x(2, 3, grad=True).repeat(2, 1, 1))
C("x.view_as / reshape_as", lambda E: [E.x(6, grad=True).view_as(E.x(2, 3)), E.x(6, grad=True).reshape_as(E.x(3, 2))])
C("x.flatten(start)", lambda E: E.x(2, 3, 4, grad=True).flatten(1))
C("x + y / x - y / x * y / x / y", lambda E: [E.x(3, grad=True) + E.x(3, grad=True), E.x(3, grad=True) - E.x(2, 1, grad=True), E.x(3, grad=True) * 2.5, E.x(3, grad=True) / E.x(3, positive=True, grad=True)])
C("scalar - x / scalar / x", lambda E: [1.0 - E.x(3, grad=True), 2 / E.x(3, grad=True, positive=True)])
C("x ** 2 / 2 ** x / -x / abs(x)", lambda E: [E.x(3, grad=True) ** 2, 2 ** E.x(3, grad=True), -E.x(3, grad=True), abs(E.x(3, grad=True))])
C("x // y / x % y (ints)", lambda E: [E.T.arange(-4, 5) // 3, E.T.arange(-4, 5) % 3])
C("x @ y", lambda E: E.x(2, 3, grad=True) @ E.x(3, 2, grad=True))
C("x.add / sub(alpha) / mul / div", lambda E: [E.x(3, grad=True).add(E.x(3, grad=True), alpha=0.5), E.x(3, grad=True).sub(1), E.x(3, grad=True).mul(3), E.x(3, grad=True).div(2)])
C("x.pow / sqrt / exp / log / abs", lambda E: [E.x(3, grad=True).pow(3), E.x(3, grad=True, positive=True).sqrt(), E.x(3, grad=True).exp(), E.x(3, grad=True, positive=True).log(), E.x(3, grad=True).abs()])
C("x.sigmoid / tanh / relu / softmax / log_softmax", lambda E: [E.x(2, 3, grad=True).sigmoid(), E.x(2, 3, grad=True).tanh(), E.x(2, 3, grad=True).relu(), E.x(2, 3, grad=True).softmax(-1), E.x(2, 3, grad=True).log_softmax(dim=1)])
C("x.sum / mean(dim)", lambda E: [E.x(2, 3, grad=True).sum(), E.x(2, 3, grad=True).sum(1), E.x(2, 3, grad=True).mean(dim=0, keepdim=True)])
C("x.max() / x.max(dim)", lambda E: [E.x(2, 3, grad=True).max(), tuple(E.x(2, 3, grad=True).max(dim=1))])
C("x.max(1)[1] (accuracy idiom)", lambda E: E.x(4, 3).max(1)[1])
C("x.min(dim) / argmax / argmin", lambda E: [tuple(E.x(2, 3, grad=True).min(0)), E.x(2, 3).argmax(dim=1), E.x(2, 3).argmin()])
C("x.std / var / norm / prod / logsumexp", lambda E: [E.x(3, 4, grad=True).std(), E.x(3, 4, grad=True).var(1), E.x(3, 4, grad=True).norm(), E.x(3, grad=True).prod(), E.x(2, 3, grad=True).logsumexp(1)])
C("x.cumsum / sort / argsort / topk", lambda E: [E.x(2, 3, grad=True).cumsum(1), tuple(E.x(4, grad=True).sort()), E.x(4).argsort(descending=True), tuple(E.x(5, grad=True).topk(3))])
C("x.clamp / clamp_min / clip", lambda E: [E.x(5, grad=True).clamp(min=0), E.x(5, grad=True).clamp_min(0.2), E.x(5, grad=True).clip(-0.1, 0.1)])
C("x.eq / ne / gt / lt / ge / le (methods)", lambda E: [E.T.arange(4).eq(2), E.T.arange(4).ne(E.T.tensor(1)), E.x(3).gt(0), E.x(3).lt(0), E.x(3).ge(0), E.x(3).le(0)])
C("x == y / x > 0 / x < y", lambda E: [E.T.arange(4) == 2, E.x(3) > 0, E.x(3) < E.x(3)])
C("x.eq(y).sum().item() (accuracy)", lambda E: E.T.tensor([1, 2, 3]).eq(E.T.tensor([1, 0, 3])).sum().item())
C("x.all / any / isnan / isfinite", lambda E: [E.b(3).all(), E.b(3).any(), E.x(3).isnan(), E.x(3).isfinite().all()])
C("x.masked_fill", lambda E: E.x(3, 4, grad=True).masked_fill(E.b(3, 4), float("-inf")).softmax(-1))
C("x.gather / scatter / index_select", lambda E: [E.x(3, 4, grad=True).gather(1, E.i(4, 3, 1)), E.T.zeros(3, 4).scatter(1, E.i(4, 3, 1), 1.0), E.x(4, 2, grad=True).index_select(0, E.T.tensor([1, 1, 3]))])
C("x.masked_select / nonzero", lambda E: [E.x(3, 2, grad=True).masked_select(E.b(3, 2)), E.T.tensor([0, 3, 0, 1]).nonzero()])
C("x.tril / triu / flip / roll", lambda E: [E.x(3, 3, grad=True).tril(), E.x(3, 3, grad=True).triu(1), E.x(2, 3, grad=True).flip(1), E.x(4, grad=True).roll(1, 0)])
C("x.split / chunk / unbind", lambda E: [list(E.x(5, 2, grad=True).split(2)), list(E.x(4, grad=True).chunk(2)), list(E.x(2, 3, grad=True).unbind())])
C("x.narrow", lambda E: E.x(5, 3, grad=True).narrow(0, 1, 3))
C("x.new_zeros / new_ones / new_full / new_tensor", lambda E: [E.x(2).new_zeros(2, 3), E.x(2).new_ones((2,)), E.x(2).new_full((2,), 4.0), E.x(2).new_tensor([1.0, 2.0])])
C("x.new_empty", lambda E: E.x(2).new_empty(3, 1), check="meta")
C("x.is_floating_point / dtype / device", lambda E: [E.x(2).is_floating_point(), E.x(2).dtype, E.T.arange(2).dtype, E.x(2).device])
C("x.is_cuda / is_leaf / requires_grad", lambda E: [E.x(2).is_cuda, E.x(2, grad=True).is_leaf, (E.x(2, grad=True) * 2).is_leaf, (E.x(2, grad=True) * 2).requires_grad])
C("x.element_size", lambda E: [E.x(2).element_size(), E.T.arange(2).element_size()])
C("x.bmm / mm / matmul / dot / mv / outer", lambda E: [E.x(2, 2, 3, grad=True).bmm(E.x(2, 3, 1, grad=True)), E.x(2, 3, grad=True).mm(E.x(3, 2, grad=True)), E.x(3, grad=True).matmul(E.x(3, 2, grad=True)), E.x(3, grad=True).dot(E.x(3, grad=True))])
C("x.floor / ceil / round / sign / trunc", lambda E: [f(E.x(5) * 3) for f in ("floor", "ceil", "round", "sign", "trunc") for f in [lambda t, f=f: getattr(t, f)()]])
C("x.square / rsqrt / reciprocal / neg", lambda E: [E.x(3, grad=True).square(), E.x(3, grad=True, positive=True).rsqrt(), E.x(3, grad=True, positive=True).reciprocal(), E.x(3, grad=True).neg()])
C("x.maximum / minimum (methods)", lambda E: [E.x(3, grad=True).maximum(E.x(3, grad=True)), E.x(3, grad=True).minimum(E.x(3))])
C("x.where(cond, y)", lambda E: E.x(3, grad=True).where(E.b(3), E.x(3, grad=True)))
C("x.lerp", lambda E: E.x(3, grad=True).lerp(E.x(3, grad=True), 0.25))
C("x.unfold(dim, size, step)", lambda E: E.x(7, grad=True).unfold(0, 3, 2), unsupported="unfold")
C("x.stride()", lambda E: E.x(2, 3).stride(), unsupported="stride")
C("x.is_contiguous (fresh tensor; views always report True here)", lambda E: E.x(2, 3).is_contiguous())
C("x.data / x.data.numpy()", lambda E: [E.x(3, grad=True).data, E.x(3, grad=True).data.numpy().tolist()])
C("x.grad after backward", lambda E: (lambda x: ((x * x).sum().backward(), x.grad)[1])(E.x(3, grad=True)))
C("x.backward(gradient)", lambda E: (lambda x: ((x * 3).backward(E.T.ones(3) * 2), x.grad)[1])(E.x(3, grad=True)))
C("x.retain_grad", lambda E: (lambda x: (lambda y: (y.retain_grad(), (y * y).sum().backward(), y.grad)[2])(x * 2))(E.x(3, grad=True)))
C("x.requires_grad_()", lambda E: E.T.ones(2).requires_grad_().requires_grad)
C("x.grad.zero_() / grad accumulates", lambda E: (lambda x: (x.sum().backward(), x.sum().backward(), x.grad.clone(), x.grad.zero_())[2])(E.x(3, grad=True)))
C("x[0] / x[-1] / x[1:3] / x[:, 0]", lambda E: (lambda x: [x[0], x[-1], x[1:3], x[:, 0], x[::2]])(E.x(4, 3, grad=True)))
C("x[None] / x[..., 0] / x[:, None]", lambda E: (lambda x: [x[None], x[..., 0], x[:, None]])(E.x(2, 3, grad=True)))
C("x[bool mask]", lambda E: E.x(3, 4, grad=True)[E.b(3, 4)])
C("x[long tensor] / x[list]", lambda E: (lambda x: [x[E.T.tensor([2, 0, 2])], x[[1, 0]]])(E.x(3, 2, grad=True)))
C("x[rows, cols] (advanced)", lambda E: E.x(3, 4, grad=True)[E.T.arange(3), E.T.tensor([1, 3, 0])])
C("x[idx] = v", lambda E: (lambda x: (x.__setitem__((slice(None), 1), 0.0), x)[1])(E.x(3, 4)))
C("x[mask] = v", lambda E: (lambda x: (x.__setitem__(x > 0, 0.0), x)[1])(E.x(3, 4)))
C("iterate over a tensor", lambda E: [r for r in E.x(3, 2)])
C("x.add_ / mul_ / sub_ / div_", lambda E: (lambda x: (x.add_(1), x.mul_(2), x.sub_(E.T.ones(3)), x.div_(4), x)[-1])(E.x(3)))
C("x.add_(y, alpha=)", lambda E: E.x(3).add_(E.x(3), alpha=-0.1))
C("x.zero_ / fill_ / copy_", lambda E: [E.x(3).zero_(), E.x(3).fill_(2.5), E.x(3).copy_(E.T.arange(3))])
C("x.clamp_ / masked_fill_ / exp_ / sigmoid_", lambda E: [E.x(3).clamp_(-0.1, 0.1), E.x(3).masked_fill_(E.b(3), 0.0), E.x(3).exp_(), E.x(3).sigmoid_()])
C("x.normal_ / uniform_", lambda E: [E.T.empty(3, 4).normal_(0, 0.02), E.T.empty(3).uniform_(-1, 1)], check="meta")
C("x.bernoulli_ / x.random_", lambda E: E.T.empty(3).bernoulli_(0.5), check="meta")
C("p -= lr * g under no_grad (in place)", lambda E: _sgd_by_hand(E))
C("x.scatter_", lambda E: E.T.zeros(2, 3).scatter_(1, E.T.tensor([[2], [0]]), 1.0))
C("x.index_add_", lambda E: E.T.zeros(3).index_add_(0, E.T.tensor([0, 2, 0]), E.T.ones(3)), unsupported="index_add_")
C("x.unsqueeze_", lambda E: E.x(2, 3).unsqueeze_(0), unsupported="unsqueeze_")
C("x.squeeze_", lambda E: E.x(1, 3).squeeze_(0), unsupported="squeeze_")
C("x.t_", lambda E: E.x(2, 3).t_(), unsupported="t_")
C("x.apply_ (python function)", lambda E: E.x(3).apply_(lambda v: v * 2), unsupported="apply_")
C("DataLoader(pin_memory=True)", lambda E: list(E.data.DataLoader(E.data.TensorDataset(E.x(4, 2)), batch_size=2, pin_memory=False)))
C("x.multinomial", lambda E: E.T.tensor([0.0, 1.0, 0.0]).multinomial(2, replacement=True))
C("x.half() arithmetic", lambda E: (E.x(4).half() * 2).float())
C("x.int() // 2 (int arithmetic)", lambda E: E.T.tensor([7, -7]) // 2)
C("int tensor / 2 (true division)", lambda E: E.T.tensor([7, -7]) / 2)
C("x.float().mean() on int", lambda E: E.T.tensor([1, 2]).float().mean())
C("x.sum() on bool", lambda E: E.b(5).sum())
C("x.cumprod", lambda E: E.x(4, grad=True).cumprod(0), unsupported="cumprod")
C("x.erf", lambda E: E.x(4, grad=True).erf())
C("x.log_() / sqrt_()", lambda E: [E.x(3, positive=True).log_(), E.x(3, positive=True).sqrt_()])
C("x.chunk(3, dim=-1)", lambda E: list(E.x(2, 6, grad=True).chunk(3, dim=-1)))
C("x.index_fill_", lambda E: E.T.zeros(3).index_fill_(0, E.T.tensor([1]), 5.0), unsupported="index_fill_")
C("x.sort(stable=True)", lambda E: tuple(E.T.tensor([2, 1, 2, 0]).sort(stable=True)))

# torch.nn modules: constructor + forward (parameters copied, gradients compared)
C("nn.Linear", lambda E: E.lin(4, 3)(E.x(5, 4, grad=True)))
C("nn.Linear(bias=False) 3-D input", lambda E: E.mod(E.nn.Linear(4, 2, bias=False))(E.x(2, 3, 4, grad=True)))
C("nn.Bilinear", lambda E: E.mod(E.nn.Bilinear(3, 2, 4))(E.x(5, 3, grad=True), E.x(5, 2, grad=True)))
C("nn.Conv1d", lambda E: E.mod(E.nn.Conv1d(2, 3, 3, padding=1))(E.x(2, 2, 7, grad=True)))
C("nn.Conv2d", lambda E: E.mod(E.nn.Conv2d(2, 3, 3))(E.x(2, 2, 6, 5, grad=True)))
C("nn.Conv2d(stride, padding, dilation, groups)", lambda E: E.mod(E.nn.Conv2d(4, 4, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2))(E.x(1, 4, 7, 6, grad=True)))
C("nn.Conv2d(padding='same')", lambda E: E.mod(E.nn.Conv2d(2, 2, 3, padding="same", bias=False))(E.x(1, 2, 5, 5, grad=True)))
C("nn.Conv2d(padding_mode='reflect')", lambda E: E.mod(E.nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"))(E.x(1, 1, 4, 4, grad=True)))
C("nn.ConvTranspose2d", lambda E: E.mod(E.nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1))(E.x(1, 2, 3, 3, grad=True)))
C("nn.Conv3d", lambda E: E.mod(E.nn.Conv3d(1, 2, 2))(E.x(1, 1, 3, 3, 3, grad=True)), unsupported="Conv3d")
C("nn.ConvTranspose1d", lambda E: E.mod(E.nn.ConvTranspose1d(2, 3, 3, stride=2))(E.x(1, 2, 4, grad=True)))
C("nn.ConvTranspose1d(padding, output_padding, groups, dilation) + repr", lambda E: (lambda m: [m(E.x(2, 4, 5, grad=True)), repr(m)])(E.mod(E.nn.ConvTranspose1d(4, 2, 3, stride=3, padding=1, output_padding=1, groups=2, dilation=2))))
C("nn.MaxPool2d", lambda E: E.nn.MaxPool2d(2)(E.x(1, 2, 5, 4, grad=True)))
C("nn.MaxPool2d(3, 2, 1)", lambda E: E.nn.MaxPool2d(3, stride=2, padding=1)(E.x(2, 1, 7, 7, grad=True)))
C("nn.MaxPool1d / AvgPool1d", lambda E: [E.nn.MaxPool1d(2)(E.x(1, 2, 7, grad=True)), E.nn.AvgPool1d(3, 2)(E.x(1, 2, 7, grad=True))])
C("nn.AvgPool2d", lambda E: E.nn.AvgPool2d(2, stride=1)(E.x(1, 2, 4, 5, grad=True)))
C("nn.AdaptiveAvgPool2d((1, 1))", lambda E: E.nn.AdaptiveAvgPool2d((1, 1))(E.x(2, 3, 5, 4, grad=True)))
C("nn.AdaptiveAvgPool2d(3) / AdaptiveMaxPool2d", lambda E: [E.nn.AdaptiveAvgPool2d(3)(E.x(1, 2, 7, 5, grad=True)), E.nn.AdaptiveMaxPool2d((2, 2))(E.x(1, 2, 5, 5, grad=True))])
C("nn.AdaptiveAvgPool1d", lambda E: E.nn.AdaptiveAvgPool1d(3)(E.x(1, 2, 7, grad=True)))
C("nn.MaxPool3d", lambda E: E.nn.MaxPool3d(2)(E.x(1, 1, 4, 4, 4)), unsupported="MaxPool3d")
C("nn.BatchNorm1d (train)", lambda E: E.mod(E.nn.BatchNorm1d(3))(E.x(5, 3, grad=True)))
C("nn.BatchNorm1d (N, C, L)", lambda E: E.mod(E.nn.BatchNorm1d(3))(E.x(4, 3, 5, grad=True)))
C("nn.BatchNorm2d (train) + running stats", lambda E: (lambda m: [m(E.x(3, 2, 4, 4, grad=True)), m.running_mean, m.running_var, m.num_batches_tracked])(E.mod(E.nn.BatchNorm2d(2))))
C("nn.BatchNorm2d (eval)", lambda E: E.mod(E.nn.BatchNorm2d(2)).eval()(E.x(2, 2, 3, 3, grad=True)))
C("nn.BatchNorm2d(affine=False, momentum=None)", lambda E: (lambda m: [m(E.x(3, 2, 2, 2, grad=True)), m(E.x(3, 2, 2, 2)), m.running_mean])(E.nn.BatchNorm2d(2, affine=False, momentum=None)))
C("nn.BatchNorm3d", lambda E: E.mod(E.nn.BatchNorm3d(2))(E.x(2, 2, 2, 2, 2, grad=True)))
C("nn.LayerNorm", lambda E: E.mod(E.nn.LayerNorm(4))(E.x(2, 3, 4, grad=True)))
C("nn.LayerNorm(shape, elementwise_affine=False)", lambda E: E.nn.LayerNorm((3, 4), elementwise_affine=False)(E.x(2, 3, 4, grad=True)))
C("nn.GroupNorm", lambda E: E.mod(E.nn.GroupNorm(2, 4))(E.x(2, 4, 3, 3, grad=True)))
C("nn.InstanceNorm2d", lambda E: E.nn.InstanceNorm2d(2)(E.x(2, 2, 3, 3, grad=True)))
C("nn.Embedding", lambda E: E.mod(E.nn.Embedding(10, 3))(E.i(10, 2, 5)))
C("nn.Embedding(padding_idx)", lambda E: E.mod(E.nn.Embedding(6, 3, padding_idx=0))(E.T.tensor([[0, 2, 0, 5]])))
C("nn.Embedding.from_pretrained", lambda E: E.nn.Embedding.from_pretrained(E.x(5, 2))(E.T.tensor([4, 1])))
C("nn.EmbeddingBag", lambda E: E.mod(E.nn.EmbeddingBag(10, 3))(E.i(10, 2, 4)), unsupported="EmbeddingBag")
C("nn.LSTM", lambda E: tuple(E.mod(E.nn.LSTM(3, 4))(E.x(5, 2, 3, grad=True))))
C("nn.LSTM(batch_first, 2 layers) + (h0, c0)", lambda E: tuple(E.mod(E.nn.LSTM(3, 4, num_layers=2, batch_first=True))(E.x(2, 5, 3, grad=True), (E.x(2, 2, 4, grad=True), E.x(2, 2, 4, grad=True)))))
C("nn.LSTM(bidirectional)", lambda E: tuple(E.mod(E.nn.LSTM(3, 2, bidirectional=True))(E.x(4, 2, 3, grad=True))))
C("nn.GRU", lambda E: tuple(E.mod(E.nn.GRU(3, 4, batch_first=True))(E.x(2, 5, 3, grad=True))))
C("nn.RNN(tanh/relu)", lambda E: [tuple(E.mod(E.nn.RNN(3, 4))(E.x(5, 2, 3, grad=True))), tuple(E.mod(E.nn.RNN(3, 2, nonlinearity="relu"))(E.x(3, 1, 3, grad=True)))])
C("nn.LSTMCell / GRUCell / RNNCell", lambda E: [tuple(E.mod(E.nn.LSTMCell(3, 4))(E.x(2, 3, grad=True))), E.mod(E.nn.GRUCell(3, 4))(E.x(2, 3, grad=True)), E.mod(E.nn.RNNCell(3, 2))(E.x(2, 3, grad=True))])
C("nn.LSTM(proj_size)", lambda E: tuple(E.mod(E.nn.LSTM(3, 4, proj_size=2))(E.x(5, 2, 3, grad=True))))
C("nn.Dropout (eval is identity)", lambda E: E.nn.Dropout(0.5).eval()(E.x(3, 4, grad=True)))
C("nn.Dropout(p=0) train", lambda E: E.nn.Dropout(0.0)(E.x(3, 4, grad=True)))
C("nn.Dropout (train) shape", lambda E: E.nn.Dropout(0.3)(E.x(3, 4)), check="meta")
C("nn.Dropout2d (eval)", lambda E: E.nn.Dropout2d(0.2).eval()(E.x(1, 2, 3, 3, grad=True)))
C("nn.AlphaDropout (eval)", lambda E: E.nn.AlphaDropout(0.2).eval()(E.x(3, grad=True)), unsupported="AlphaDropout")
C("nn.ReLU / ReLU(inplace=True)", lambda E: [E.nn.ReLU()(E.x(4, grad=True)), E.nn.ReLU(inplace=True)(E.x(4, grad=True) * 1)])
C("nn.LeakyReLU(0.2)", lambda E: E.nn.LeakyReLU(0.2)(E.x(5, grad=True)))
C("nn.GELU / GELU('tanh')", lambda E: [E.nn.GELU()(E.x(5, grad=True)), E.nn.GELU(approximate="tanh")(E.x(5, grad=True))])
C("nn.ELU / SiLU / Mish / Softplus", lambda E: [E.nn.ELU()(E.x(5, grad=True)), E.nn.SiLU()(E.x(5, grad=True)), E.nn.Mish()(E.x(5, grad=True)), E.nn.Softplus(beta=2)(E.x(5, grad=True))])
C("nn.Hardtanh / ReLU6", lambda E: [E.nn.Hardtanh()(E.x(5, grad=True) * 2), E.nn.ReLU6()(E.x(5, grad=True) * 4)])
C("nn.Sigmoid / Tanh", lambda E: [E.nn.Sigmoid()(E.x(5, grad=True)), E.nn.Tanh()(E.x(5, grad=True))])
C("nn.Softmax / LogSoftmax(dim)", lambda E: [E.nn.Softmax(dim=1)(E.x(2, 3, grad=True)), E.nn.LogSoftmax(dim=-1)(E.x(2, 3, grad=True))])
C("nn.PReLU", lambda E: E.mod(E.nn.PReLU())(E.x(2, 3, grad=True)))
C("nn.Hardswish / Hardsigmoid", lambda E: [E.nn.Hardswish()(E.x(6, grad=True) * 3), E.nn.Hardsigmoid()(E.x(6, grad=True) * 3)])
C("nn.LogSigmoid / Softsign / Tanhshrink", lambda E: [E.nn.LogSigmoid()(E.x(5, grad=True)), E.nn.Softsign()(E.x(5, grad=True)), E.nn.Tanhshrink()(E.x(5, grad=True))])
C("nn.Softmin / GLU / Threshold", lambda E: [E.nn.Softmin(dim=1)(E.x(2, 3, grad=True)), E.nn.GLU()(E.x(2, 4, grad=True)), E.nn.Threshold(0.1, 20.0)(E.x(5, grad=True))])
C("nn.SELU / CELU", lambda E: [E.nn.SELU()(E.x(5, grad=True)), E.nn.CELU()(E.x(5, grad=True))])
C("nn.Flatten / Unflatten", lambda E: [E.nn.Flatten()(E.x(2, 3, 4, grad=True)), E.nn.Unflatten(1, (2, 3))(E.x(2, 6, grad=True))])
C("nn.Identity", lambda E: E.nn.Identity(54, unused="x")(E.x(3, grad=True)))
C("nn.PixelShuffle / PixelUnshuffle", lambda E: [E.nn.PixelShuffle(2)(E.x(1, 4, 2, 3, grad=True)), E.nn.PixelUnshuffle(2)(E.x(1, 1, 4, 2, grad=True))])
C("nn.Upsample(nearest)", lambda E: E.nn.Upsample(scale_factor=2, mode="nearest")(E.x(1, 2, 2, 3, grad=True)))
C("nn.Upsample(bilinear)", lambda E: E.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)(E.x(1, 1, 3, 3, grad=True)))
C("nn.ZeroPad2d / ConstantPad2d", lambda E: [E.nn.ZeroPad2d((1, 0, 2, 1))(E.x(1, 1, 2, 2, grad=True)), E.nn.ConstantPad2d(1, 0.5)(E.x(1, 1, 2, 2, grad=True))])
C("nn.ReflectionPad2d", lambda E: E.nn.ReflectionPad2d(1)(E.x(1, 1, 3, 3, grad=True)))
C("nn.CosineSimilarity / PairwiseDistance", lambda E: [E.nn.CosineSimilarity(dim=1)(E.x(3, 4, grad=True), E.x(3, 4, grad=True)), E.nn.PairwiseDistance()(E.x(3, 4, grad=True), E.x(3, 4, grad=True))])
C("nn.MultiheadAttention (self-attention, weights)", lambda E: list(E.mod(E.nn.MultiheadAttention(4, 2))(*[E.x(3, 2, 4, grad=True)] * 3)))
C("nn.MultiheadAttention(batch_first, masks, per-head weights)", lambda E: _mha_masks(E))
C("nn.MultiheadAttention(need_weights=False, unbatched)", lambda E: list(E.mod(E.nn.MultiheadAttention(6, 3, bias=False))(E.x(4, 6, grad=True), E.x(5, 6, grad=True), E.x(5, 6, grad=True), need_weights=False)))
C("nn.TransformerEncoderLayer (train, dropout 0)", lambda E: E.mod(E.nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0))(E.x(5, 2, 4, grad=True)))
C("nn.TransformerEncoderLayer(batch_first, norm_first, gelu) + causal mask", lambda E: E.mod(E.nn.TransformerEncoderLayer(4, 2, 6, 0.0, "gelu", batch_first=True, norm_first=True))(E.x(2, 5, 4, grad=True), src_mask=E.T.triu(E.T.ones(5, 5), 1).bool()))
C("nn.TransformerEncoder(num_layers, norm) (train, dropout 0)", lambda E: E.mod(E.nn.TransformerEncoder(E.nn.TransformerEncoderLayer(4, 2, 8, 0.0), 2, norm=E.nn.LayerNorm(4)))(E.x(3, 2, 4, grad=True)))
C("nn.TransformerEncoderLayer state_dict keys", lambda E: list(E.nn.TransformerEncoderLayer(4, 2, 8).state_dict()))
C("nn.TransformerDecoderLayer", lambda E: E.nn.TransformerDecoderLayer(4, 2), unsupported="TransformerDecoderLayer")
C("nn.Unfold (im2col)", lambda E: E.nn.Unfold(2)(E.x(1, 1, 3, 3)), unsupported="Unfold")
C("nn.CrossEntropyLoss", lambda E: E.nn.CrossEntropyLoss()(E.x(4, 5, grad=True), E.i(5, 4)))
C("nn.CrossEntropyLoss(label_smoothing, ignore_index)", lambda E: E.nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=2)(E.x(6, 3, grad=True), E.T.tensor([0, 2, 1, 1, 2, 0])))
C("nn.CrossEntropyLoss(weight, reduction='sum') (N, C, L)", lambda E: E.nn.CrossEntropyLoss(weight=E.p(3), reduction="sum")(E.x(2, 3, 4, grad=True), E.i(3, 2, 4)))
C("nn.NLLLoss", lambda E: E.nn.NLLLoss()(E.x(4, 3, grad=True).log_softmax(1), E.i(3, 4)))
C("nn.MSELoss / L1Loss", lambda E: [E.nn.MSELoss()(E.x(3, 4, grad=True), E.x(3, 4)), E.nn.L1Loss(reduction="sum")(E.x(3, 4, grad=True), E.x(3, 4))])
C("nn.SmoothL1Loss / HuberLoss", lambda E: [E.nn.SmoothL1Loss(beta=0.5)(E.x(6, grad=True), E.x(6)), E.nn.HuberLoss(delta=0.7)(E.x(6, grad=True), E.x(6))])
C("nn.BCELoss", lambda E: E.nn.BCELoss()(E.x(5, grad=True).sigmoid(), E.p(5)))
C("nn.BCEWithLogitsLoss(pos_weight)", lambda E: E.nn.BCEWithLogitsLoss(pos_weight=E.p(3))(E.x(4, 3, grad=True), E.p(4, 3)))
C("nn.KLDivLoss(batchmean)", lambda E: E.nn.KLDivLoss(reduction="batchmean")(E.x(3, 4, grad=True).log_softmax(1), E.x(3, 4).softmax(1)))
C("nn.CosineEmbeddingLoss / MarginRankingLoss", lambda E: [E.nn.MarginRankingLoss(margin=0.1)(E.x(4, grad=True), E.x(4, grad=True), E.T.tensor([1.0, -1.0, 1.0, -1.0]))])
C("nn.TripletMarginLoss", lambda E: E.nn.TripletMarginLoss()(E.x(3, 4, grad=True), E.x(3, 4, grad=True), E.x(3, 4, grad=True)))
C("nn.CTCLoss", lambda E: E.nn.CTCLoss(), unsupported="CTCLoss")
C("nn.Sequential", lambda E: E.mod(E.nn.Sequential(E.nn.Linear(3, 4), E.nn.ReLU(), E.nn.Linear(4, 2)))(E.x(2, 3, grad=True)))
C("nn.Sequential(OrderedDict)", lambda E: list(E.mod(E.nn.Sequential(collections.OrderedDict([("fc", E.nn.Linear(2, 2)), ("act", E.nn.Tanh())]))).state_dict()))
C("nn.Sequential indexing / len / slicing", lambda E: (lambda s: [len(s), type(s[1]).__name__, len(s[:2]), type(s[-1]).__name__])(E.nn.Sequential(E.nn.Linear(2, 2), E.nn.ReLU(), E.nn.Linear(2, 1))))
C("nn.Sequential.append", lambda E: len(E.nn.Sequential(E.nn.ReLU()).append(E.nn.Tanh())))
C("nn.ModuleList", lambda E: (lambda ml: [len(ml), len(list(ml.parameters())), type(ml[-1]).__name__])(E.nn.ModuleList([E.nn.Linear(2, 2) for _ in range(3)])))
C("nn.ModuleList.append / extend", lambda E: (lambda ml: (ml.append(E.nn.ReLU()), ml.extend([E.nn.Tanh()]), len(ml))[-1])(E.nn.ModuleList()))
C("nn.ModuleDict", lambda E: (lambda md: [list(md.keys()), type(md["b"]).__name__, "a" in md])(E.nn.ModuleDict({"a": E.nn.ReLU(), "b": E.nn.Tanh()})))
C("nn.ParameterList / ParameterDict", lambda E: [len(E.nn.ParameterList([E.nn.Parameter(E.T.ones(2))])), list(E.nn.ParameterDict({"w": E.nn.Parameter(E.T.ones(2))}).keys())])
C("nn.Parameter", lambda E: (lambda p: [p.requires_grad, isinstance(p, E.T.Tensor), p * 2])(E.nn.Parameter(E.T.ones(2))))
C("nn.Parameter(requires_grad=False)", lambda E: E.nn.Parameter(E.T.ones(2), requires_grad=False).requires_grad)

# torch.nn.functional
C("F.relu / leaky_relu / gelu / elu / silu", lambda E: [E.F.relu(E.x(5, grad=True)), E.F.leaky_relu(E.x(5, grad=True), 0.1), E.F.gelu(E.x(5, grad=True)), E.F.elu(E.x(5, grad=True)), E.F.silu(E.x(5, grad=True))])
C("F.softplus / mish / hardtanh / sigmoid / tanh", lambda E: [E.F.softplus(E.x(5, grad=True)), E.F.mish(E.x(5, grad=True)), E.F.hardtanh(E.x(5, grad=True), -0.5, 0.5), E.F.sigmoid(E.x(5, grad=True)), E.F.tanh(E.x(5, grad=True))])
C("F.relu6 / hardswish / hardsigmoid", lambda E: [E.F.relu6(E.x(5, grad=True) * 4), E.F.hardswish(E.x(5, grad=True) * 3), E.F.hardsigmoid(E.x(5, grad=True) * 3)])
C("F.logsigmoid / softsign / glu / softmin", lambda E: [E.F.logsigmoid(E.x(5, grad=True)), E.F.softsign(E.x(5, grad=True)), E.F.glu(E.x(2, 4, grad=True), dim=-1), E.F.softmin(E.x(2, 3, grad=True), dim=1)])
C("F.selu / celu / prelu / threshold", lambda E: [E.F.selu(E.x(5, grad=True)), E.F.celu(E.x(5, grad=True)), E.F.prelu(E.x(2, 3, grad=True), E.x(1, grad=True)), E.F.threshold(E.x(5, grad=True), 0.0, -1.0)])
C("F.softmax / log_softmax(dim)", lambda E: [E.F.softmax(E.x(2, 3, grad=True), dim=1), E.F.log_softmax(E.x(2, 3, grad=True), dim=0)])
C("F.linear", lambda E: E.F.linear(E.x(3, 4, grad=True), E.x(2, 4, grad=True), E.x(2, grad=True)))
C("F.conv1d / conv2d / conv_transpose2d", lambda E: [E.F.conv1d(E.x(1, 2, 6, grad=True), E.x(3, 2, 3, grad=True)), E.F.conv2d(E.x(1, 2, 5, 5, grad=True), E.x(3, 2, 3, 3, grad=True), E.x(3, grad=True), padding=1), E.F.conv_transpose2d(E.x(1, 2, 3, 3, grad=True), E.x(2, 1, 3, 3, grad=True), stride=2)])
C("F.conv_transpose1d", lambda E: E.F.conv_transpose1d(E.x(1, 2, 4, grad=True), E.x(2, 3, 3, grad=True), E.x(3, grad=True), stride=2))
C("F.max_pool2d / avg_pool2d", lambda E: [E.F.max_pool2d(E.x(1, 2, 6, 5, grad=True), 2), E.F.avg_pool2d(E.x(1, 2, 4, 4, grad=True), 2, stride=1, padding=1)])
C("F.max_pool2d(return_indices=True)", lambda E: tuple(E.F.max_pool2d(E.x(1, 1, 4, 4, grad=True), 2, return_indices=True)))
C("F.adaptive_avg_pool2d / adaptive_max_pool2d", lambda E: [E.F.adaptive_avg_pool2d(E.x(1, 2, 5, 7, grad=True), (2, 3)), E.F.adaptive_max_pool2d(E.x(1, 2, 5, 5, grad=True), 1)])
C("F.max_pool1d / avg_pool1d / adaptive_avg_pool1d", lambda E: [E.F.max_pool1d(E.x(1, 2, 7, grad=True), 3), E.F.avg_pool1d(E.x(1, 2, 7, grad=True), 2), E.F.adaptive_avg_pool1d(E.x(1, 2, 7, grad=True), 1)])
C("F.dropout(training=False)", lambda E: E.F.dropout(E.x(3, 4, grad=True), 0.5, training=False))
C("F.dropout (train) shape", lambda E: E.F.dropout(E.x(3, 4), 0.5), check="meta")
C("F.cross_entropy", lambda E: E.F.cross_entropy(E.x(4, 5, grad=True), E.i(5, 4)))
C("F.cross_entropy(probability targets)", lambda E: E.F.cross_entropy(E.x(4, 5, grad=True), E.x(4, 5).softmax(1)))
C("F.cross_entropy(ignore_index=-100 rows)", lambda E: E.F.cross_entropy(E.x(4, 3, grad=True), E.T.tensor([0, -100, 2, -100]), reduction="mean"))
C("F.nll_loss / mse_loss / l1_loss", lambda E: [E.F.nll_loss(E.x(4, 3, grad=True).log_softmax(1), E.i(3, 4)), E.F.mse_loss(E.x(4, grad=True), E.x(4)), E.F.l1_loss(E.x(4, grad=True), E.x(4), reduction="none")])
C("F.smooth_l1_loss / huber_loss", lambda E: [E.F.smooth_l1_loss(E.x(6, grad=True), E.x(6)), E.F.huber_loss(E.x(6, grad=True), E.x(6), delta=0.5)])
C("F.binary_cross_entropy / _with_logits", lambda E: [E.F.binary_cross_entropy(E.x(5, grad=True).sigmoid(), E.p(5)), E.F.binary_cross_entropy_with_logits(E.x(5, grad=True), E.p(5))])
C("F.kl_div(log_target)", lambda E: E.F.kl_div(E.x(3, 4, grad=True).log_softmax(1), E.x(3, 4).log_softmax(1), reduction="batchmean", log_target=True))
C("F.cosine_similarity / pairwise_distance", lambda E: [E.F.cosine_similarity(E.x(3, 4, grad=True), E.x(3, 4, grad=True)), E.F.pairwise_distance(E.x(3, 4, grad=True), E.x(3, 4, grad=True))])
C("F.margin_ranking_loss / triplet_margin_loss", lambda E: [E.F.margin_ranking_loss(E.x(4, grad=True), E.x(4, grad=True), E.T.tensor([1.0, -1.0, 1.0, -1.0]))])
C("F.one_hot", lambda E: E.F.one_hot(E.T.tensor([0, 2, 1]), num_classes=4))
C("F.one_hot (inferred classes)", lambda E: E.F.one_hot(E.T.tensor([[0, 2], [3, 1]])))
C("F.normalize", lambda E: E.F.normalize(E.x(3, 4, grad=True), dim=1))
C("F.pad (constant)", lambda E: E.F.pad(E.x(1, 2, 3, grad=True), (1, 2), value=0.5))
C("F.pad (4-d, reflect/replicate)", lambda E: [E.F.pad(E.x(1, 1, 3, 3, grad=True), (1, 1, 1, 1), mode="reflect"), E.F.pad(E.x(1, 1, 3, 3, grad=True), (1, 0, 0, 2), mode="replicate")])
C("F.interpolate(nearest)", lambda E: E.F.interpolate(E.x(1, 2, 3, 2, grad=True), scale_factor=2))
C("F.interpolate(size, bilinear)", lambda E: E.F.interpolate(E.x(1, 1, 3, 4, grad=True), size=(5, 6), mode="bilinear", align_corners=True))
C("F.batch_norm / layer_norm / group_norm", lambda E: [E.F.batch_norm(E.x(4, 3, grad=True), E.T.zeros(3), E.T.ones(3), training=True), E.F.layer_norm(E.x(2, 4, grad=True), (4,)), E.F.group_norm(E.x(2, 4, 3, grad=True), 2)])
C("F.embedding", lambda E: E.F.embedding(E.i(5, 3), E.x(5, 2, grad=True)))
C("F.pixel_shuffle", lambda E: E.F.pixel_shuffle(E.x(1, 4, 2, 2, grad=True), 2))
C("F.scaled_dot_product_attention", lambda E: E.F.scaled_dot_product_attention(E.x(2, 3, 4, grad=True), E.x(2, 5, 4, grad=True), E.x(2, 5, 2, grad=True)))
C("F.scaled_dot_product_attention(is_causal)", lambda E: E.F.scaled_dot_product_attention(E.x(1, 4, 3, grad=True), E.x(1, 4, 3, grad=True), E.x(1, 4, 3, grad=True), is_causal=True))
C("F.unfold", lambda E: E.F.unfold(E.x(1, 1, 3, 3), 2), unsupported="unfold")
C("F.grid_sample", lambda E: E.F.grid_sample(E.x(1, 1, 3, 3), E.x(1, 2, 2, 2), align_corners=False), unsupported="grid_sample")
C("F.gumbel_softmax", lambda E: E.F.gumbel_softmax(E.x(2, 3), tau=1.0), check="meta")
C("F.instance_norm", lambda E: E.F.instance_norm(E.x(2, 2, 3, 3, grad=True)))

# torch.nn.init
C("init.zeros_ / ones_ / constant_", lambda E: [E.init.zeros_(E.T.empty(2, 3)), E.init.ones_(E.T.empty(3)), E.init.constant_(E.T.empty(2), 0.3)])
C("init.normal_ / uniform_ (shape)", lambda E: [E.init.normal_(E.T.empty(3, 4), 0, 0.02), E.init.uniform_(E.T.empty(3), -0.1, 0.1)], check="meta")
C("init.uniform_ bounds", lambda E: bool((E.init.uniform_(E.T.empty(200), -0.1, 0.1).abs() <= 0.1).all()))
C("init.xavier_uniform_ / xavier_normal_", lambda E: [E.init.xavier_uniform_(E.T.empty(3, 4)), E.init.xavier_normal_(E.T.empty(3, 4), gain=2.0)], check="meta")
C("init.xavier_uniform_ bound", lambda E: bool((E.init.xavier_uniform_(E.T.empty(30, 20)).abs() <= math.sqrt(6 / 50)).all()))
C("init.kaiming_uniform_(a=sqrt(5)) bound", lambda E: bool((E.init.kaiming_uniform_(E.T.empty(30, 20), a=math.sqrt(5)).abs() <= 1 / math.sqrt(20)).all()))
C("init.kaiming_normal_(fan_out, relu)", lambda E: E.init.kaiming_normal_(E.T.empty(4, 3, 3, 3), mode="fan_out", nonlinearity="relu"), check="meta")
C("init.trunc_normal_ bounds", lambda E: bool((E.init.trunc_normal_(E.T.empty(500), std=1.0, a=-0.5, b=0.5).abs() <= 0.5).all()))
C("init.orthogonal_", lambda E: (lambda w: E.T.allclose(w @ w.t(), E.T.eye(3), atol=1e-5))(E.init.orthogonal_(E.T.empty(3, 5))))
C("init.eye_ / dirac_", lambda E: E.init.eye_(E.T.empty(2, 3)))
C("init.calculate_gain", lambda E: [E.init.calculate_gain("relu"), E.init.calculate_gain("leaky_relu", 0.2), E.init.calculate_gain("tanh")])
C("init._calculate_fan_in_and_fan_out", lambda E: E.init._calculate_fan_in_and_fan_out(E.T.empty(4, 3, 2, 2)))
C("init.* on a Parameter under autograd", lambda E: (lambda m: (E.init.constant_(m.weight, 0.1), E.init.zeros_(m.bias), m(E.T.ones(1, 2)))[-1])(E.nn.Linear(2, 2)))

# torch.optim
C("optim.SGD", lambda E: _train_linear(E, lambda E, p: E.optim.SGD(p, lr=0.1)))
C("optim.SGD(momentum, nesterov, weight_decay)", lambda E: _train_linear(E, lambda E, p: E.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)))
C("optim.SGD(dampening)", lambda E: _train_linear(E, lambda E, p: E.optim.SGD(p, lr=0.1, momentum=0.5, dampening=0.1)))
C("optim.Adam", lambda E: _train_linear(E, lambda E, p: E.optim.Adam(p, lr=1e-2)))
C("optim.Adam(betas, weight_decay, amsgrad)", lambda E: _train_linear(E, lambda E, p: E.optim.Adam(p, lr=1e-2, betas=(0.5, 0.99), weight_decay=0.1, amsgrad=True)))
C("optim.AdamW", lambda E: _train_linear(E, lambda E, p: E.optim.AdamW(p, lr=1e-2, weight_decay=0.05)))
C("optim.RMSprop(momentum, centered)", lambda E: _train_linear(E, lambda E, p: E.optim.RMSprop(p, lr=1e-2, momentum=0.5, centered=True)))
C("optim.Adagrad", lambda E: _train_linear(E, lambda E, p: E.optim.Adagrad(p, lr=0.1)))
C("optim.Adadelta", lambda E: _train_linear(E, lambda E, p: E.optim.Adadelta(p, lr=1.0)))
C("optim.Adamax", lambda E: _train_linear(E, lambda E, p: E.optim.Adamax(p, lr=1e-2)))
C("optim.Adamax(weight_decay, maximize)", lambda E: _train_linear(E, lambda E, p: E.optim.Adamax(p, lr=1e-2, weight_decay=0.1, maximize=True)))
C("optim.NAdam", lambda E: _train_linear(E, lambda E, p: E.optim.NAdam(p, lr=1e-2), steps=5))
C("optim.NAdam(weight_decay, momentum_decay, decoupled)", lambda E: [_train_linear(E, lambda E, p: E.optim.NAdam(p, lr=1e-2, weight_decay=0.1, momentum_decay=0.01)), _train_linear(E, lambda E, p: E.optim.NAdam(p, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True))])
C("optim.RAdam (both branches: rho_t <= 5, then > 5)", lambda E: _train_linear(E, lambda E, p: E.optim.RAdam(p, lr=1e-2), steps=9))
C("optim.RAdam(betas, weight_decay, decoupled)", lambda E: [_train_linear(E, lambda E, p: E.optim.RAdam(p, lr=1e-2, betas=(0.8, 0.9), weight_decay=0.1), steps=6), _train_linear(E, lambda E, p: E.optim.RAdam(p, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True))])
C("optim.LBFGS", lambda E: E.optim.LBFGS([E.nn.Parameter(E.T.ones(2))]), unsupported="LBFGS")
C("optim param groups (per-group lr)", lambda E: _train_linear(E, lambda E, p: (lambda ps: E.optim.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.5}], lr=0.1, momentum=0.9))(list(p))))
C("optimizer.param_groups[0]['lr'] = ...", lambda E: _train_linear(E, lambda E, p: (lambda o: (o.param_groups[0].__setitem__("lr", 0.3), o)[1])(E.optim.SGD(p, lr=0.1))))
C("optimizer.zero_grad(set_to_none) default", lambda E: (lambda m, o: ((m(E.x(2, 4)) ** 2).sum().backward(), o.zero_grad(), m.weight.grad)[-1])(*(lambda m: (m, E.optim.SGD(m.parameters(), lr=0.1)))(E.lin())))
C("optimizer.state_dict / load_state_dict", lambda E: _optimizer_state(E))
C("optimizer.add_param_group", lambda E: (lambda o: (o.add_param_group({"params": [E.nn.Parameter(E.T.ones(2))], "lr": 0.5}), [g["lr"] for g in o.param_groups])[1])(E.optim.SGD([E.nn.Parameter(E.T.ones(2))], lr=0.1)))
C("optimizer.step(closure)", lambda E: (lambda m: (lambda o: o.step(lambda: (o.zero_grad(), (m(E.x(2, 4)) ** 2).sum(), )[1].backward() or E.T.tensor(1.0)))(E.optim.SGD(m.parameters(), lr=0.1)))(E.lin()))

# torch.optim.lr_scheduler
C("lr_scheduler.StepLR", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)))
C("lr_scheduler.MultiStepLR", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5], gamma=0.1)))
C("lr_scheduler.ExponentialLR", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)))
C("lr_scheduler.CosineAnnealingLR", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.01)))
C("lr_scheduler.CosineAnnealingWarmRestarts", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2)))
C("lr_scheduler.LambdaLR", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.LambdaLR(o, lambda ep: 1 / (ep + 1))))
C("lr_scheduler.MultiplicativeLR", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.MultiplicativeLR(o, lambda ep: 0.9)))
C("lr_scheduler.LinearLR / ConstantLR", lambda E: [_lrs(E, lambda E, o: E.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=4)), _lrs(E, lambda E, o: E.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=3))])
C("lr_scheduler.PolynomialLR", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.PolynomialLR(o, total_iters=6, power=2.0)))
C("lr_scheduler.OneCycleLR", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10)))
C("lr_scheduler.SequentialLR (warmup + cosine)", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.SequentialLR(o, [E.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=3), E.optim.lr_scheduler.CosineAnnealingLR(o, T_max=6)], milestones=[3])))
C("lr_scheduler.ReduceLROnPlateau", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.ReduceLROnPlateau(o, patience=1, factor=0.5), metrics=[1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8]))
C("lr_scheduler.CyclicLR", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2)), unsupported="CyclicLR")
C("lr_scheduler.ChainedScheduler", lambda E: _lrs(E, lambda E, o: E.optim.lr_scheduler.ChainedScheduler([E.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=2), E.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)])), unsupported="ChainedScheduler")
C("scheduler.get_last_lr / state_dict", lambda E: (lambda s: (s.optimizer.step(), s.step(), s.get_last_lr(), s.state_dict()["last_epoch"])[2:])(E.optim.lr_scheduler.StepLR(E.optim.SGD([E.nn.Parameter(E.T.ones(1))], lr=0.1), 1, 0.5)))

# torch.utils.data
C("data.TensorDataset + DataLoader", lambda E: list(E.data.DataLoader(E.data.TensorDataset(E.x(7, 2), E.T.arange(7)), batch_size=3)))
C("DataLoader(drop_last=True) / len", lambda E: (lambda dl: [len(dl), len(list(dl))])(E.data.DataLoader(E.data.TensorDataset(E.x(7, 2)), batch_size=3, drop_last=True)))
C("DataLoader(shuffle=True) shapes", lambda E: [b[0].shape for b in E.data.DataLoader(E.data.TensorDataset(E.x(7, 2)), batch_size=3, shuffle=True)])
C("DataLoader(custom Dataset, int labels)", _dataset_class)
C("DataLoader(dict samples)", lambda E: list(E.data.DataLoader([{"x": E.T.tensor([float(i)]), "y": i} for i in range(4)], batch_size=2)))
C("DataLoader(collate_fn)", lambda E: list(E.data.DataLoader(list(range(5)), batch_size=2, collate_fn=lambda b: sum(b))))
C("DataLoader(num_workers=0, batch_size=None)", lambda E: list(E.data.DataLoader(E.data.TensorDataset(E.T.arange(3)), batch_size=None)))
C("IterableDataset", _iterable_dataset)
C("data.random_split lengths", lambda E: [len(s) for s in E.data.random_split(list(range(10)), [7, 3])])
C("data.random_split fractions", lambda E: [len(s) for s in E.data.random_split(list(range(10)), [0.5, 0.5])])
C("data.Subset / ConcatDataset", lambda E: [E.data.Subset(list(range(10)), [3, 1])[1], len(E.data.ConcatDataset([list(range(3)), list(range(4))])), E.data.ConcatDataset([[0, 1], [5, 6]])[3]])
C("data.SequentialSampler / BatchSampler", lambda E: [list(E.data.SequentialSampler(range(4))), list(E.data.BatchSampler(E.data.SequentialSampler(range(5)), 2, drop_last=False))])
C("data.RandomSampler / SubsetRandomSampler", lambda E: [sorted(E.data.RandomSampler(range(5))), sorted(E.data.SubsetRandomSampler([1, 4, 2]))])
C("data.WeightedRandomSampler", lambda E: len(list(E.data.WeightedRandomSampler([0.1, 0.9], 6))))
C("data.DistributedSampler + set_epoch", lambda E: (lambda s: [list(s), s.set_epoch(1), list(s), len(s)])(E.data.DistributedSampler(list(range(11)), num_replicas=3, rank=2, seed=4)))
C("data.distributed.DistributedSampler(drop_last, shuffle=False) + DataLoader", lambda E: list(E.data.DataLoader(E.data.TensorDataset(E.T.arange(10)), batch_size=2, sampler=E.data.distributed.DistributedSampler(range(10), num_replicas=4, rank=1, shuffle=False, drop_last=True))))
C("data.default_collate", lambda E: E.data.default_collate([(E.T.tensor([1.0]), 2), (E.T.tensor([3.0]), 4)]))
C("data.get_worker_info (main process)", lambda E: E.data.get_worker_info())

# torch.autograd
C("Tensor.register_post_accumulate_grad_hook", lambda E: (lambda x, seen: [(x * 3).sum().backward(), (x * x).sum().backward(), seen])(*(lambda x: (x, (lambda seen: [x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.clone())), seen][1])([])))(E.x(3, grad=True))))
C("autograd.Variable._execution_engine.queue_callback", lambda E: (lambda x, out: [x.register_hook(lambda g: E.T.autograd.Variable._execution_engine.queue_callback(lambda: out.append(x.grad.clone()))), (x * 2).sum().backward(), out][2])(E.x(2, grad=True), []))
C("autograd.grad", lambda E: (lambda x: list(E.T.autograd.grad((x ** 3).sum(), x)))(E.x(3, grad=True)))
C("autograd.grad(create_graph=True)", lambda E: (lambda x: E.T.autograd.grad(E.T.autograd.grad((x ** 3).sum(), x, create_graph=True)[0].sum(), x)[0])(E.x(3, grad=True)), unsupported="create_graph")
C("autograd.backward(retain_graph=True) twice", lambda E: (lambda x: (lambda y: (y.backward(retain_graph=True), y.backward(), x.grad)[-1])((x.exp()).sum()))(E.x(3, grad=True)))
C("with torch.no_grad() block", lambda E: _no_grad_block(E))
C("@torch.no_grad() decorator", lambda E: E.T.no_grad()(lambda x: (x * 2).requires_grad)(E.x(2, grad=True)))
C("torch.enable_grad / set_grad_enabled / is_grad_enabled", lambda E: _grad_modes(E))
C("torch.inference_mode", lambda E: _inference(E))
C("autograd.Function (ctx.save_for_backward)", _custom_function)
C("Tensor.register_hook", _hooked)
C("autograd.Variable (legacy)", lambda E: E.T.autograd.Variable(E.T.ones(2), requires_grad=True).requires_grad)
C("autograd.set_detect_anomaly", lambda E: (E.T.autograd.set_detect_anomaly(False), 1)[1], unsupported="set_detect_anomaly")
C("autograd.functional.jacobian", lambda E: E.T.autograd.functional.jacobian(lambda x: x * 2, E.x(2)), unsupported="functional")
C("torch.autograd.gradcheck", lambda E: E.T.autograd.gradcheck(lambda x: x * 2, (E.T.ones(2, dtype=E.T.float64, requires_grad=True),)), unsupported="gradcheck")
C("backward on a non-scalar raises", lambda E: _raises(lambda: E.x(3, grad=True).exp().backward(), RuntimeError))

# torch.nn.utils
C("utils.clip_grad_norm_", lambda E: (lambda m: ((m(E.x(5, 4)) ** 2).sum().backward(), E.nn.utils.clip_grad_norm_(m.parameters(), 0.5), [p.grad for p in m.parameters()])[1:])(E.lin()))
C("utils.clip_grad_norm_(norm_type=inf)", lambda E: (lambda m: ((m(E.x(5, 4)) ** 2).sum().backward(), E.nn.utils.clip_grad_norm_(m.parameters(), 0.5, norm_type=float("inf")), m.weight.grad)[1:])(E.lin()))
C("utils.clip_grad_value_", lambda E: (lambda m: ((m(E.x(5, 4)) ** 2).sum().backward(), E.nn.utils.clip_grad_value_(m.parameters(), 0.1), m.weight.grad)[1:])(E.lin()))
C("utils.parameters_to_vector / vector_to_parameters", lambda E: (lambda m: (E.nn.utils.parameters_to_vector(m.parameters()), E.nn.utils.vector_to_parameters(E.T.arange(15.0), m.parameters()), m.weight.detach())[::2])(E.lin(4, 3)))
C("utils.rnn.pad_sequence", lambda E: E.nn.utils.rnn.pad_sequence([E.x(3, 2, grad=True), E.x(1, 2, grad=True)], batch_first=True))
C("utils.rnn.pack_padded_sequence + LSTM + pad_packed_sequence", lambda E: _packed_lstm(E))
C("utils.rnn.pack_sequence(enforce_sorted=False)", lambda E: list(E.nn.utils.rnn.pack_sequence([E.x(2, 1), E.x(3, 1)], enforce_sorted=False))[:2])
C("utils.weight_norm", lambda E: E.nn.utils.weight_norm(E.nn.Linear(2, 2)), unsupported="weight_norm")
C("utils.spectral_norm", lambda E: E.nn.utils.spectral_norm(E.nn.Linear(2, 2)), unsupported="spectral_norm")

# Module methods
C("Module.train / eval / training", lambda E: (lambda m: [m.training, m.eval().training, m.fc[1].training, m.train().training, m.train(False).training])(_Net.build(E)))
C("Module subclass forward + backward", lambda E: _Net.build(E)(E.x(2, 1, 4, 4, grad=True)))
C("Module.state_dict keys and values", lambda E: dict(_Net.build(E).state_dict()))
C("Module.load_state_dict", lambda E: (lambda a, b: (b.load_state_dict(a.state_dict()), dict(b.state_dict()))[1])(_Net.build(E), _Net.build(E)))
C("Module.load_state_dict(strict=False) result", lambda E: (lambda r: [sorted(r.missing_keys), sorted(r.unexpected_keys)])(E.nn.Linear(2, 2).load_state_dict({"weight": E.T.ones(2, 2), "extra": E.T.ones(1)}, strict=False)))
C("Module.load_state_dict(strict) raises on missing", lambda E: _raises(lambda: E.nn.Linear(2, 2).load_state_dict({"weight": E.T.ones(2, 2)}), RuntimeError))
C("Module.named_modules / modules / children", lambda E: (lambda m: [[n for n, _ in m.named_modules()], len(list(m.modules())), [type(c).__name__ for c in m.children()], [n for n, _ in m.named_children()]])(_Net.build(E)))
C("Module.named_parameters / parameters", lambda E: (lambda m: [[n for n, _ in m.named_parameters()], sum(p.numel() for p in m.parameters())])(_Net.build(E)))
C("Module.named_buffers / buffers", lambda E: (lambda m: [[n for n, _ in m.named_buffers()], len(list(m.buffers()))])(_Net.build(E)))
C("Module.apply(init fn)", lambda E: (lambda m: (m.apply(lambda s: E.init.constant_(s.weight, 0.5) if isinstance(s, E.nn.Linear) else None), m.fc[1].weight)[1])(_Net.build(E)))
C("Module.zero_grad", lambda E: (lambda m: (m(E.x(2, 1, 4, 4)).sum().backward(), m.zero_grad(), [p.grad for p in m.parameters()])[-1])(_Net.build(E)))
C("Module.requires_grad_(False)", lambda E: [p.requires_grad for p in _Net.build(E).requires_grad_(False).parameters()])
C("Module.half / float / double / to(dtype)", lambda E: [_Net.build(E).double().conv.weight.dtype, _Net.build(E).half().fc[1].bias.dtype, _Net.build(E).half().float().bn.weight.dtype, E.nn.Linear(2, 2).to(E.T.float64).weight.dtype])
C("Module.to(device) / cpu()", lambda E: [type(E.nn.Linear(2, 2).to("cpu")).__name__, type(E.nn.Linear(2, 2).to(E.T.device("cpu")).cpu()).__name__])
C("Module.register_buffer (persistent=False)", lambda E: _buffers(E))
C("Module.register_parameter / add_module", lambda E: _register(E))
C("Module.extra_repr / repr", lambda E: [repr(E.nn.Linear(3, 2)), repr(E.nn.Conv2d(1, 2, 3, stride=2)), repr(E.nn.Sequential(E.nn.ReLU(), E.nn.Dropout(0.1)))])
C("repr of norm / pool / loss modules", lambda E: [repr(E.nn.BatchNorm2d(3)), repr(E.nn.MaxPool2d(2)), repr(E.nn.LayerNorm(4)), repr(E.nn.CrossEntropyLoss()), repr(E.nn.LSTM(2, 3, batch_first=True)), repr(E.nn.Embedding(5, 2))])
C("Module.get_submodule", lambda E: type(_Net.build(E).get_submodule("fc.1")).__name__)
C("Module attribute assignment registers", lambda E: _setattr(E))
C("Module.register_forward_hook", lambda E: _fwd_hook(E))
C("copy.deepcopy(module)", lambda E: (lambda m: dict(copy.deepcopy(m).state_dict()))(_Net.build(E)))
C("Module.parameters() into an optimizer after .to()", lambda E: _train_linear(E, lambda E, p: E.optim.SGD(p, lr=0.1)))
C("Module.__call__ with kwargs", lambda E: E.lin()(input=E.x(2, 4, grad=True)))
C("Module.state_dict() of BatchNorm has num_batches_tracked", lambda E: list(E.nn.BatchNorm1d(2).state_dict()))
C("Module.modules() isinstance init loop", lambda E: _init_loop(E))
C("torch.save / torch.load state_dict", lambda E: _save_load(E))

# everyday idioms of training scripts
C("device = cuda if available else cpu", lambda E: E.x(2).to(E.T.device("cuda" if E.T.cuda.is_available() else "cpu")).device)
C("x.view(x.size(0), -1)", lambda E: (lambda x: x.view(x.size(0), -1))(E.x(2, 3, 4, grad=True)))
C("correct += (pred == y).sum().item()", lambda E: (E.x(6, 3).argmax(dim=1) == E.i(3, 6)).sum().item())
C("(pred == y).float().mean()", lambda E: (E.x(6, 3).argmax(1) == E.i(3, 6)).float().mean())
C("loss.item() / float(loss)", lambda E: (lambda l: [l.item(), float(l)])(E.F.mse_loss(E.x(3), E.x(3))))
C("torch.sigmoid(x) > 0.5", lambda E: (E.T.sigmoid(E.x(5)) > 0.5).float())
C("torch.where(cond) (indices)", lambda E: list(E.T.where(E.T.tensor([[1, 0], [0, 2]]) > 0)))
C("x.nonzero(as_tuple=True)", lambda E: list(E.T.tensor([0, 3, 0, 1]).nonzero(as_tuple=True)))
C("torch.round(decimals=)", lambda E: E.T.round(E.T.tensor([1.2345, -2.5678]), decimals=2))
C("causal mask: triu(ones, 1).bool()", lambda E: E.T.triu(E.T.ones(4, 4), diagonal=1).bool())
C("scores.masked_fill(mask == 0, -1e9).softmax(-1)", lambda E: E.x(3, 3, grad=True).masked_fill(E.T.tril(E.T.ones(3, 3)) == 0, -1e9).softmax(-1))
C("arange(n).unsqueeze(0).expand(b, n)", lambda E: E.T.arange(4).unsqueeze(0).expand(3, 4))
C("x.transpose(1, 2).contiguous().view(b, t, -1)", lambda E: E.x(2, 3, 4, 5, grad=True).transpose(1, 2).contiguous().view(2, 4, -1))
C("torch.stack(list).mean(0)", lambda E: E.T.stack([E.x(3, grad=True) for _ in range(4)]).mean(0))
C("p.grad.data.norm(2).item()", lambda E: (lambda m: ((m(E.x(5, 4)) ** 2).sum().backward(), m.weight.grad.data.norm(2).item())[1])(E.lin()))
C("emb.weight.data.uniform_(-0.1, 0.1)", lambda E: bool((E.nn.Embedding(50, 4).weight.data.uniform_(-0.1, 0.1).abs() <= 0.1).all()))
C("F.one_hot(y, 10).float()", lambda E: E.F.one_hot(E.i(10, 5), 10).float())
C("x.scatter_(1, idx, src tensor)", lambda E: E.T.zeros(2, 4).scatter_(1, E.T.tensor([[1, 3], [0, 2]]), E.x(2, 2)))
C("torch.tensor(np.float64 array)", lambda E: E.T.tensor(np.array([0.5, 1.5])))
C("torch.tensor(np array, dtype=float32)", lambda E: E.T.tensor(np.array([0.1, 1.7]), dtype=E.T.float32))
C("torch.from_numpy(float64 / int32)", lambda E: [E.T.from_numpy(np.array([0.1, 2.0])), E.T.from_numpy(np.array([1, 2], dtype=np.int32))])
C("torch.zeros(dtype=torch.bool)", lambda E: E.T.zeros(3, dtype=E.T.bool))
C("x.to(device, dtype)", lambda E: E.x(3).to(E.T.device("cpu"), E.T.float64))
C("torch.Generator().manual_seed + randn(generator=)", lambda E: (lambda g: E.T.randn(3, generator=g).shape)(E.T.Generator().manual_seed(0)))
C("torch.randperm(n, generator=)", lambda E: E.T.randperm(5, generator=E.T.Generator().manual_seed(1)).sort()[0])
C("torch.cuda.manual_seed_all / synchronize / empty_cache", lambda E: [E.T.cuda.manual_seed_all(0), E.T.cuda.empty_cache()])
C("torch.backends.cudnn.benchmark = True", lambda E: (setattr(E.T.backends.cudnn, "benchmark", False), E.T.backends.cudnn.benchmark)[1])
C("torch.__version__ is a string", lambda E: isinstance(E.T.__version__, str))
C("torch.load(map_location, weights_only=True)", lambda E: _load_weights_only(E))
C("optimizer.zero_grad(set_to_none=False)", lambda E: (lambda m, o: ((m(E.x(2, 4)) ** 2).sum().backward(), o.zero_grad(set_to_none=False), m.weight.grad)[-1])(*(lambda m: (m, E.optim.SGD(m.parameters(), lr=0.1)))(E.lin())))
C("model.parameters() filtered by requires_grad", lambda E: (lambda m: (m.fc.requires_grad_(False), [tuple(p.shape) for p in m.parameters() if p.requires_grad])[1])(_Net.build(E)))
C("Module.parameters(recurse=False)", lambda E: (lambda m: (m.register_parameter("s", E.nn.Parameter(E.T.ones(1))), len(list(m.parameters(recurse=False))))[1])(_Net.build(E)))
C("nn.Module eval + no_grad inference loop", lambda E: _eval_loop(E))
C("sum(p.numel() for p in model.parameters() if p.requires_grad)", lambda E: sum(p.numel() for p in _Net.build(E).parameters() if p.requires_grad))
C("torch.manual_seed returns a Generator", lambda E: [isinstance(E.T.manual_seed(0), E.T.Generator), E.T.default_generator.initial_seed()])
C("torch.Tensor(*sizes) (legacy constructor)", lambda E: E.T.Tensor(2, 3), unsupported="legacy constructor")
C("torch.FloatTensor (legacy type)", lambda E: E.T.FloatTensor([1.0]), unsupported="FloatTensor")
C("torch.autocast / GradScaler (mixed precision)", lambda E: E.T.autocast("cpu"), unsupported="autocast")
C("torch.cuda.amp.GradScaler", lambda E: E.T.cuda.amp.GradScaler(), unsupported="amp")
C("torch.set_default_dtype", lambda E: E.T.set_default_dtype(E.T.float32), unsupported="set_default_dtype")
C("torch.compile", lambda E: E.T.compile, unsupported="compile")
C("x.float().div_(255) (image scaling)", lambda E: E.T.tensor(np.array([[0, 128], [255, 7]], dtype=np.uint8)).float().div_(255))
C("x.permute(0, 3, 1, 2) (NHWC -> NCHW)", lambda E: E.x(2, 3, 4, 5, grad=True).permute(0, 3, 1, 2))
C("log_softmax(1).gather(1, y.unsqueeze(1)) (NLL by hand)", lambda E: -E.F.log_softmax(E.x(4, 5, grad=True), dim=1).gather(1, E.i(5, 4).unsqueeze(1)).mean())
C("x.detach().cpu().numpy()", lambda E: E.x(3, grad=True).detach().cpu().numpy().tolist())
C("torch.tensor([]) / empty ops", lambda E: [E.T.tensor([]), E.T.zeros(0, 3).sum(0), E.T.cat([E.T.zeros(0, 2), E.x(1, 2)])])
C("x.argmax() without dim (flat index)", lambda E: E.x(3, 4).argmax())
C("torch.max on an int tensor", lambda E: [E.T.max(E.T.tensor([[3, 9], [4, 1]])), E.T.tensor([[3, 9], [4, 1]]).max(1).values])
C("F.max_pool2d(ceil_mode=True) / avg_pool2d(ceil_mode, count_include_pad=False)", lambda E: [E.F.max_pool2d(E.x(1, 1, 5, 5, grad=True), 2, ceil_mode=True), E.F.avg_pool2d(E.x(1, 1, 5, 5, grad=True), 2, padding=1, ceil_mode=True, count_include_pad=False)])
C("torch.clamp(x, min=tensor, max=tensor)", lambda E: E.T.clamp(E.x(4, grad=True), min=E.x(4) - 1, max=E.x(4) + 1))
C("torch.split(x, 2, dim=1)", lambda E: list(E.T.split(E.x(2, 5, grad=True), 2, dim=1)))
C("nn.CrossEntropyLoss on [N, C, H, W] (segmentation)", lambda E: E.nn.CrossEntropyLoss()(E.x(2, 3, 4, 4, grad=True), E.i(3, 2, 4, 4)))
C("nn.Upsample(size=)", lambda E: E.nn.Upsample(size=(4, 6))(E.x(1, 2, 2, 3, grad=True)))
C("x.std() of a single element (NaN)", lambda E: E.T.tensor([1.0]).std())
C("x.sum(dim=-1, keepdim=True) / x.mean(-1)", lambda E: [E.x(2, 3, grad=True).sum(dim=-1, keepdim=True), E.x(2, 3, grad=True).mean(-1)])
C("torch.arange(n) % k == 0 (masks)", lambda E: E.T.arange(10) % 3 == 0)
C("x.expand(...).clone() then in-place", lambda E: E.x(3, 1).expand(3, 2).clone().add_(1))
C("x.repeat(1, 2) vs x.repeat_interleave(2, dim=1)", lambda E: [E.x(2, 2, grad=True).repeat(1, 2), E.x(2, 2, grad=True).repeat_interleave(2, dim=1)])
C("torch.einsum('bhqd,bhkd->bhqk') (attention scores)", lambda E: E.T.einsum("bhqd,bhkd->bhqk", E.x(1, 2, 3, 4, grad=True), E.x(1, 2, 5, 4, grad=True)))
C("nn.Embedding(max_norm)", lambda E: E.mod(E.nn.Embedding(5, 3, max_norm=1.0))(E.T.tensor([1, 3, 1])))
C("nn.LSTM hidden state .detach() between batches (TBPTT)", lambda E: _tbptt(E))
C("torch.tensor(3) + 2.5 / int tensor + float", lambda E: [E.T.tensor(3) + 2.5, E.T.arange(3) + 0.5, E.T.arange(3) * E.x(3)])
C("torch.full((2,), True) / zeros_like(dtype=bool)", lambda E: [E.T.full((2,), True), E.T.zeros_like(E.x(2), dtype=E.T.bool)])
C("x.int().sum() / x.long() / 2", lambda E: [E.T.tensor([1.7, 2.2]).int().sum(), E.T.tensor([3, 4]).long() / 2])
C("torch.arange(0, 1, 0.1) length / linspace(steps=1)", lambda E: [E.T.arange(0, 1, 0.1), E.T.linspace(0, 1, steps=1)])
C("x[x > 0].sum()", lambda E: (lambda x: x[x > 0].sum())(E.x(3, 4, grad=True)))
C("x[:, None, :] - y[None, :, :] (pairwise)", lambda E: (E.x(3, 2, grad=True)[:, None, :] - E.x(4, 2, grad=True)[None, :, :]).pow(2).sum(-1))
C("torch.cat of int and float (promotion)", lambda E: E.T.cat([E.T.arange(2), E.x(2)]))
C("torch.stack of 0-d tensors", lambda E: E.T.stack([E.x(1, grad=True)[0], E.x(1, grad=True)[0]]))
C("optimizer.param_groups[0]['params'] / lr decay loop", lambda E: (lambda o: ([g.__setitem__("lr", g["lr"] * 0.1) for g in o.param_groups], len(o.param_groups[0]["params"]), round(o.param_groups[0]["lr"], 12))[1:])(E.optim.SGD(E.lin().parameters(), lr=0.1)))
C("model.half() forward (float16 on cpu)", lambda E: (lambda m: m(E.x(2, 4).half()).float())(E.lin().half()))
C("conv2d in float64 (model.double())", lambda E: E.mod(E.nn.Conv2d(1, 2, 3)).double()(E.x(1, 1, 4, 4).double()))
C("torch.save(whole module) (pickling a Module)", lambda E: _save_module(E), unsupported="Linear")
C("torch.no_grad() + x.requires_grad_() toggle", lambda E: (lambda x: [x.requires_grad_(False).requires_grad, x.requires_grad_().requires_grad])(E.T.ones(2)))
C("module(x).shape / type(module).__name__", lambda E: [tuple(E.lin()(E.x(5, 4)).shape), type(E.nn.Conv2d(1, 1, 1)).__name__])
C("nn.functional.dropout(x, p, training=self.training) in eval", lambda E: (lambda m: E.F.dropout(E.x(3, grad=True), 0.5, training=m.training))(E.lin().eval()))
  # not called: torch would load dynamo (1.6 s)


def _sgd_by_hand(E):
    p = E.x(3, grad=True)
    (p * p).sum().backward()
    with E.T.no_grad():
        p -= 0.1 * p.grad
    return [p, p.requires_grad, p.is_leaf]


def _optimizer_state(E):
    """An Adam state dict after one step, loaded into a fresh Adam. The ``step`` entry is a number here
    (PyTorch keeps a 0-d tensor), so it is compared as ``float(step)``, which reads both."""
    m = E.lin(4, 3)
    opt = E.optim.Adam(m.parameters(), lr=0.01)
    (m(E.x(2, 4)) ** 2).sum().backward()
    opt.step()
    fresh = E.optim.Adam(m.parameters(), lr=0.5)
    fresh.load_state_dict(opt.state_dict())
    state = fresh.state_dict()
    per_param = {k: {n: (float(v) if n == "step" else v) for n, v in s.items()} for k, s in state["state"].items()}
    return [per_param, state["param_groups"][0]["lr"], state["param_groups"][0]["params"]]


def _load_weights_only(E):
    import tempfile

    m = E.lin()
    with tempfile.TemporaryDirectory() as d:
        E.T.save(m.state_dict(), f"{d}/w.pt")
        state = E.T.load(f"{d}/w.pt", map_location="cpu", weights_only=True)
    fresh = E.nn.Linear(4, 3)
    fresh.load_state_dict(state)
    return dict(fresh.state_dict())


def _eval_loop(E):
    net = _Net.build(E)
    net.eval()
    total, correct = 0.0, 0
    with E.T.no_grad():
        for _ in range(2):
            x, y = E.x(3, 1, 4, 4), E.i(3, 3)
            out = net(x)
            total += E.F.cross_entropy(out, y, reduction="sum").item()
            correct += out.argmax(dim=1, keepdim=True).eq(y.view_as(out.argmax(dim=1, keepdim=True))).sum().item()
    return [round(total, 4), correct, net.training]


def _mha_masks(E):
    mha = E.mod(E.nn.MultiheadAttention(4, 2, batch_first=True))
    q, kv = E.x(2, 3, 4, grad=True), E.x(2, 5, 4, grad=True)
    padding = E.T.tensor([[False, False, False, True, True], [False, False, False, False, False]])
    attn = E.T.tensor(E.rng.standard_normal((3, 5)).astype(np.float32).astype(E.fdt))  # a float (additive) mask
    out, weights = mha(q, kv, kv, key_padding_mask=padding, attn_mask=attn, average_attn_weights=False)
    return [out, weights]


def _tbptt(E):
    lstm, head = E.mod(E.nn.LSTM(3, 4)), E.lin(4, 2)
    hidden = None
    losses = []
    for _ in range(2):
        out, hidden = lstm(E.x(5, 2, 3), hidden)
        hidden = tuple(h.detach() for h in hidden)
        loss = E.F.mse_loss(head(out), E.x(5, 2, 2))
        loss.backward()
        losses.append(loss.item())
    return [losses, [p.grad for p in lstm.parameters()]]


def _save_module(E):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        E.T.save(E.nn.Linear(2, 2), f"{d}/m.pt")
        return type(E.T.load(f"{d}/m.pt", weights_only=False)).__name__


def _no_grad_block(E):
    x = E.x(2, grad=True)
    with E.T.no_grad():
        y = x * 2
    return [y.requires_grad, (x * 2).requires_grad, y]


def _grad_modes(E):
    x = E.x(2, grad=True)
    out = []
    with E.T.no_grad():
        with E.T.enable_grad():
            out.append((x * 2).requires_grad)
        out.append(E.T.is_grad_enabled())
    with E.T.set_grad_enabled(False):
        out.append((x * 2).requires_grad)
    out.append(E.T.is_grad_enabled())
    return out


def _inference(E):
    x = E.x(2, grad=True)
    with E.T.inference_mode():
        y = x * 2
    return [y.requires_grad, y]


def _raises(fn, exc_type):
    """The name of the exception ``fn`` raises ('none' if it returns)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 — the type is the result
        return "raises" if isinstance(exc, exc_type) else type(exc).__name__
    return "none"


def _packed_lstm(E):
    rnn = E.nn.utils.rnn
    lstm = E.mod(E.nn.LSTM(2, 3, batch_first=True))
    x = E.x(3, 4, 2, grad=True)
    packed = rnn.pack_padded_sequence(x, E.T.tensor([4, 2, 3]), batch_first=True, enforce_sorted=False)
    out, (h, c) = lstm(packed)
    padded, lengths = rnn.pad_packed_sequence(out, batch_first=True)
    return [padded, lengths, h, c]


def _buffers(E):
    m = E.nn.Module()
    m.register_buffer("a", E.T.ones(2))
    m.register_buffer("b", E.T.zeros(1), persistent=False)
    return [list(m.state_dict()), [n for n, _ in m.named_buffers()], m.a]


def _register(E):
    m = E.nn.Module()
    m.register_parameter("w", E.nn.Parameter(E.T.ones(2)))
    m.add_module("lin", E.nn.Linear(2, 1))
    return [[n for n, _ in m.named_parameters()], list(m.state_dict())]


def _setattr(E):
    m = E.nn.Module()
    m.layer = E.nn.Linear(2, 2)
    m.scale = E.nn.Parameter(E.T.ones(1))
    m.plain = E.T.ones(1)  # a plain tensor attribute is neither a parameter nor a buffer
    return [[n for n, _ in m.named_parameters()], list(m.state_dict())]


def _fwd_hook(E):
    m = E.lin()
    seen = []
    handle = m.register_forward_hook(lambda mod, inp, out: seen.append(tuple(out.shape)) or out * 2)
    y = m(E.x(2, 4, grad=True))
    handle.remove()
    m(E.x(1, 4))
    return [y, seen]


def _init_loop(E):
    net = E.nn.Sequential(E.nn.Conv2d(1, 2, 3), E.nn.BatchNorm2d(2), E.nn.Linear(2, 2))
    for m in net.modules():
        if isinstance(m, (E.nn.Conv2d, E.nn.Linear)):
            E.init.constant_(m.weight, 0.25)
            E.init.zeros_(m.bias)
        elif isinstance(m, E.nn.BatchNorm2d):
            E.init.constant_(m.weight, 1.5)
    return dict(net.state_dict())


def _save_load(E):
    import io
    import tempfile

    m = E.lin()
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/m.pt"
        E.T.save({"model": m.state_dict(), "epoch": 3}, path)
        state = E.T.load(path)
    del io
    return [state["epoch"], dict(state["model"])]


# ---- the tests ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_call_matches_torch_or_refuses_clearly(entry, test_seed):
    """A supported call gives torch's answer; an unsupported one raises a clear error naming it."""
    status, detail = classify(entry, test_seed)
    if entry.unsupported:
        assert status == "clear error", f"{entry.name} is marked unsupported but gave: {status} {detail}"
    else:
        assert status == "worked", f"{entry.name}: {status}: {detail}"


def test_table_is_large_and_names_are_unique():
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names))
    assert len(names) >= 250
