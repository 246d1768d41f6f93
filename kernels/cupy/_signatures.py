"""The C parameter types of every kernel in a ``.cu`` file, so a launch can be checked against them.

A CUDA launch passes its arguments as untyped bytes: a ``long long`` parameter given a 4-byte
``np.int32`` reads 4 bytes of garbage, a ``float*`` given a float64 array reads every value wrong, and
neither the GPU nor the emulator notices.  :func:`parse_kernels` reads the kernel *definitions* of a
``.cu`` file (``[template <...>] __global__ void [__launch_bounds__(...)] name(params) {``), and
:func:`resolve` turns one name expression (``"maxpool2d_forward_kernel<__half, signed char>"``) into
the numpy dtype every argument must have and the ``__launch_bounds__`` thread limit (a launch with
more threads fails on a GPU; the emulator would run it).  ``SourceModule.launch`` checks every launch
against this, on both runtimes; the result is cached per name expression.

The parser knows exactly the C++ this project's kernels use: template type and int parameters,
``kg::acc_t<T>`` (float, or double for double), pointers, ``const`` / ``__restrict__``, and
``constexpr int`` constants at file scope for the launch bounds.  Anything else raises ValueError
naming the kernel, so a new construct fails loudly in the tests instead of passing unchecked.
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

__all__ = ["KernelDecl", "KernelSignature", "Param", "parse_kernels", "resolve", "signature", "C_DTYPES"]

#: numpy dtype of each C type a kernel parameter may have.  bfloat16 has no numpy dtype: None.
C_DTYPES: dict[str, np.dtype | None] = {
    "__half": np.dtype(np.float16),
    "__nv_bfloat16": None,
    "float": np.dtype(np.float32),
    "double": np.dtype(np.float64),
    "bool": np.dtype(np.bool_),
    "signed char": np.dtype(np.int8),
    "unsigned char": np.dtype(np.uint8),
    "short": np.dtype(np.int16),
    "unsigned short": np.dtype(np.uint16),
    "int": np.dtype(np.int32),
    "unsigned int": np.dtype(np.uint32),
    "long long": np.dtype(np.int64),
    "unsigned long long": np.dtype(np.uint64),
}

_KERNEL_HEAD = re.compile(r"__global__\s+void\s+(?:__launch_bounds__\s*\((?P<bounds>[^()]*)\)\s*)?(?P<name>\w+)\s*\(")
_TEMPLATE_TAIL = re.compile(r"template\s*<(?P<params>[^<>{};]*)>\s*$")
_CONSTEXPR = re.compile(r"constexpr\s+int\s+(\w+)\s*=\s*([^;]+);")
_QUALIFIERS = re.compile(r"\b(const|volatile|__restrict__|__restrict)\b")


@dataclass(frozen=True)
class KernelDecl:
    """A kernel definition as written: template parameter names, ``(type, name)`` per parameter, bounds."""

    name: str
    template_params: tuple[tuple[str, str], ...]  # (kind: "typename" / "int", name)
    params: tuple[tuple[str, str], ...]  # (C type as written, without const / __restrict__; name)
    launch_bounds: str | None


@dataclass(frozen=True)
class Param:
    name: str
    ctype: str  # resolved C type of the value or of the pointee
    pointer: bool
    dtype: np.dtype | None  # None: no numpy dtype (bfloat16)

    def describe(self) -> str:
        return f"{self.ctype}{'*' if self.pointer else ''} {self.name}"


@dataclass(frozen=True)
class KernelSignature:
    """One instantiation: what each argument must be, and the most threads a block may have."""

    name_expression: str
    params: tuple[Param, ...]
    max_threads: int | None  # from __launch_bounds__, None when the kernel has none


def _strip_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", " ", source, flags=re.S)
    return re.sub(r"//[^\n]*", " ", source)


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside (), <> and []."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "(<[":
            depth += 1
        elif ch in ")>]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _closing_paren(text: str, open_index: int) -> int:
    depth = 0
    for i in range(open_index, len(text)):
        depth += text[i] == "("
        depth -= text[i] == ")"
        if depth == 0:
            return i
    raise ValueError("unbalanced parentheses in a kernel parameter list")


def parse_kernels(source: str) -> dict[str, KernelDecl]:
    """Every kernel *definition* in a CUDA C source, by name (declarations and instantiations skipped)."""
    text = _strip_comments(source)
    kernels: dict[str, KernelDecl] = {}
    for head in _KERNEL_HEAD.finditer(text):
        close = _closing_paren(text, head.end() - 1)
        if not text[close + 1 :].lstrip().startswith("{"):
            continue  # a declaration
        name = head.group("name")
        template = _TEMPLATE_TAIL.search(text[: head.start()])
        template_params = ()
        if template is not None:
            template_params = tuple(_template_param(p, name) for p in _split_top_level(template.group("params")))
        params = tuple(_param(p, name) for p in _split_top_level(text[head.end() : close]))
        bounds = head.group("bounds")
        kernels[name] = KernelDecl(name, template_params, params, bounds.strip() if bounds else None)
    return kernels


def _template_param(text: str, kernel: str) -> tuple[str, str]:
    match = re.fullmatch(r"(typename|class|int|bool)\s+(\w+)", text.strip())
    if match is None:
        raise ValueError(f"{kernel}: unsupported template parameter {text!r}")
    kind = "typename" if match.group(1) in ("typename", "class") else "int"  # bool: true / false as 1 / 0
    return kind, match.group(2)


def _param(text: str, kernel: str) -> tuple[str, str]:
    text = " ".join(_QUALIFIERS.sub(" ", text).split())
    match = re.fullmatch(r"(.+?)\s*(\w+)", text)
    if match is None or not match.group(1).strip():
        raise ValueError(f"{kernel}: cannot read parameter {text!r} (every parameter needs a name)")
    return " ".join(match.group(1).replace("*", " * ").split()).replace(" *", "*"), match.group(2)


def constants(source: str) -> dict[str, int]:
    """``constexpr int NAME = expr;`` at any scope, evaluated in order (used by launch bounds)."""
    values: dict[str, int] = {}
    for name, expr in _CONSTEXPR.findall(_strip_comments(source)):
        try:
            values[name] = _eval_int(expr, values)
        except ValueError:
            continue  # a constant that depends on a template argument: not a launch bound here
    return values


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
           ast.Div: operator.floordiv}


def _eval_int(expr: str, names: dict[str, int]) -> int:
    """An integer constant expression of literals, names and + - * / (C's int division for positives)."""

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.Name) and node.id in ("true", "false"):
            return int(node.id == "true")
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        raise ValueError(f"cannot evaluate {expr!r}")

    try:
        tree = ast.parse(expr.strip().rstrip("u").rstrip("U"), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot evaluate {expr!r}") from None
    return ev(tree.body)


def _split_name_expression(expr: str) -> tuple[str, list[str]]:
    match = re.fullmatch(r"\s*(\w+)\s*(?:<(.*)>)?\s*", expr)
    if match is None:
        raise ValueError(f"cannot read the name expression {expr!r}")
    return match.group(1), _split_top_level(match.group(2) or "")


def _resolve_type(ctype: str, types: dict[str, str], kernel: str) -> str:
    ctype = ctype.strip()
    acc = re.fullmatch(r"(?:kg::)?acc_t\s*<\s*(.+?)\s*>", ctype)
    if acc is not None:
        inner = _resolve_type(acc.group(1), types, kernel)
        return "double" if inner == "double" else "float"
    ctype = types.get(ctype, ctype)
    if ctype not in C_DTYPES:
        raise ValueError(f"{kernel}: unsupported parameter type {ctype!r}")
    return ctype


def resolve(decl: KernelDecl, name_expression: str, file_constants: dict[str, int]) -> KernelSignature:
    """The signature of one instantiation of ``decl`` (template arguments from ``name_expression``)."""
    name, args = _split_name_expression(name_expression)
    if name != decl.name or len(args) != len(decl.template_params):
        raise ValueError(f"{name_expression!r} does not instantiate {decl.name} with {len(decl.template_params)} "
                         f"template arguments")
    types: dict[str, str] = {}
    ints = dict(file_constants)
    for (kind, pname), arg in zip(decl.template_params, args):
        if kind == "typename":
            types[pname] = " ".join(arg.split())
        else:
            ints[pname] = _eval_int(arg, file_constants)
    params = []
    for ctype, pname in decl.params:
        pointer = ctype.endswith("*")
        base = _resolve_type(ctype.rstrip("*"), types, name_expression)
        params.append(Param(pname, base, pointer, C_DTYPES[base]))
    max_threads = _eval_int(decl.launch_bounds.split(",")[0], ints) if decl.launch_bounds else None
    return KernelSignature(name_expression, tuple(params), max_threads)


@cache
def _parsed(path: Path, mtime_ns: int) -> tuple[dict[str, KernelDecl], dict[str, int]]:
    source = path.read_text()
    return parse_kernels(source), constants(source)


def signature(path: Path, name_expression: str) -> KernelSignature:
    """:func:`resolve` for a name expression of the ``.cu`` file at ``path``."""
    path = Path(path)
    kernels, file_constants = _parsed(path, path.stat().st_mtime_ns)
    name, _ = _split_name_expression(name_expression)
    if name not in kernels:
        raise ValueError(f"{path.name} defines no kernel {name!r} (found {sorted(kernels)})")
    return resolve(kernels[name], name_expression, file_constants)
