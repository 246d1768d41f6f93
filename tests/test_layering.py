"""The package's layering, read from the source (ARCHITECTURE.md's diagram): imports point down only.

kernels never import framework; framework.ops never imports nn (nor the Tensor layer above it); tensor and
autograd import nothing above ops; nn.functional composes ops and never touches ``.data``, ``._data`` or an
array namespace (``xp``); every module imports only from its own rank in ARCHITECTURE.md's diagram or
below; and no module imports, at any depth (a function-level import counts: it is a hidden cycle), a module
that imports it back.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# module prefix -> prefixes it must never import (a prefix matches the module and its submodules)
FORBIDDEN = {
    "kernels": ("framework",),
    "framework.ops": ("framework.nn", "framework.tensor", "framework.functions"),
    "framework.autograd": ("framework.tensor", "framework.nn", "framework.functions", "framework.ops"),
    "framework.tensor": ("framework.nn", "framework.functions", "framework.optim", "framework.train"),
}
RAW_ARRAY_NAMES = {"data", "_data", "xp", "_wrap"}  # names that mean "below the Tensor API"
# ARCHITECTURE.md's diagram, bottom up: a module imports only from its own rank or below (the longest prefix wins).
RANKS = [("kernels",), ("framework.backend", "framework.dtypes", "framework.random", "framework.atomic",
         "framework.unsupported", "framework.cpu_allocator"),
         ("framework.autograd", "framework.cuda", "framework.accelerator", "framework.backends"), ("framework.ops",),
         ("framework.tensor",), ("framework.functions", "framework.linalg"),
         ("framework.nn.functional",), ("framework.nn", "framework.optim", "framework.utils", "framework.data"),
         ("framework.train", "framework.checkpoint", "framework.serialization"), ("framework",),
         ("framework.models", "framework.commands", "framework.cli", "framework.__main__")]


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def read_sources(root: pathlib.Path = ROOT) -> dict[str, str]:
    """{dotted module name: source} of every module in framework/ and kernels/."""
    sources = {}
    for package in ("framework", "kernels"):
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            sources[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path.read_text()
    return sources


def imported_modules(module: str, source: str, known: set[str]) -> set[str]:
    """Every framework/kernels module ``module`` imports anywhere in its body (functions included)."""
    package = module if f"{module}.__init__" in known or any(k.startswith(module + ".") for k in known) \
        else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m in known and m != module}


def _rank(module: str) -> int:
    matches = [(len(prefix), rank) for rank, prefixes in enumerate(RANKS) for prefix in prefixes
               if _within(module, prefix)]
    return max(matches)[1]


def layering_violations(sources: dict[str, str]) -> list[str]:
    """What breaks the layering in ``sources`` ({module: source}); empty when the rules hold."""
    known = set(sources)
    graph = {m: imported_modules(m, src, known) for m, src in sources.items()}
    problems = [f"{m} imports {dep} (forbidden: {bad})"
                for m, deps in graph.items() for layer, forbidden in FORBIDDEN.items() if _within(m, layer)
                for dep in sorted(deps) for bad in forbidden if _within(dep, bad)]
    problems += [f"{m} imports {dep}, a layer above it" for m, deps in graph.items() for dep in sorted(deps)
                 if _rank(dep) > _rank(m)]
    for m, src in sources.items():
        if _within(m, "framework.nn.functional"):
            raw = {(node.lineno, name) for node in ast.walk(ast.parse(src))
                   for name in [getattr(node, "attr", None) or getattr(node, "id", None)] if name in RAW_ARRAY_NAMES}
            problems += [f"{m}:{line} touches raw arrays ({name!r})" for line, name in sorted(raw)]
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in _cycles(graph)]
    return problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each module that can reach itself (depth-first, explicit stack)."""
    cycles, reported = [], set()
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for dep in sorted(graph[node]):
                if dep == start and not reported & set(path):
                    cycles.append(path + [start])
                    reported.update(path)
                elif dep not in seen:
                    seen.add(dep)
                    stack.append((dep, path + [dep]))
    return cycles


def test_the_package_is_layered():
    assert layering_violations(read_sources()) == []


@pytest.mark.parametrize("module, line", [
    ("kernels.numpy.conv2d", "from framework.tensor import Tensor"),
    ("framework.ops.elementwise", "from ..nn import functional"),
    ("framework.autograd", "def f():\n    from .tensor import Tensor"),
    ("framework.tensor", "from .nn.functional import softmax"),
    ("framework.backend", "from . import optim"),  # optim imports tensor imports backend: a cycle
    ("framework.nn.functional.loss", "def f(t):\n    return t._data"),
    ("framework.nn.functional.conv", "from ...train import fit"),  # up the diagram, no cycle
])
def test_a_forbidden_import_is_caught(module, line):
    sources = read_sources()
    sources[module] += "\n" + line + "\n"
    assert layering_violations(sources), f"adding {line!r} to {module} was not reported"
