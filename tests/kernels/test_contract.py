"""The kernel contract: ARCHITECTURE.md's table is exactly what every backend's family module exports.

Read from the source (no backend is imported, so it runs where triton or cupy is missing): each
``kernels/<backend>/<family>.py`` has ``__all__`` equal to the table's functions for that family, and
each function takes the parameters the table names, in that order.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("numpy", "triton", "cupy")
FAMILIES = ("conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout", "optim_step")


def contract_table(text: str) -> dict[str, dict[str, list[str]]]:
    """``{family: {function: [parameter, ...]}}`` from the rows ``| `family.py` | `f(a, b[N], c=1) -> y`; ... |``."""
    table = {}
    for family, cell in re.findall(r"^\| `(\w+)\.py` \| (.*) \|$", text, flags=re.MULTILINE):
        functions = {}
        for name, args in re.findall(r"`(\w+)\(([^`]*?)\)(?: ->[^`]*)?`", cell):
            args = re.sub(r"\[[^\]]*\]", "", args)  # shapes such as x[M,K] hold commas
            functions[name] = [re.match(r"\s*(\w+)", a).group(1) for a in args.split(",") if a.strip()]
        table[family] = functions
    return table


def exported(path: Path) -> dict[str, list[str]]:
    """``{name: [parameter, ...]}`` for every name in the module's ``__all__``."""
    tree = ast.parse(path.read_text())
    (names,) = [ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]]
    return {name: parameters(path, tree, name) for name in names}


def parameters(path: Path, tree: ast.Module, name: str) -> list[str]:
    """The parameters of function ``name`` defined in the module, or imported by a relative import."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return [a.arg for a in node.args.args]
        if isinstance(node, ast.ImportFrom) and node.level and name in [a.name for a in node.names]:
            source = path.parents[node.level - 1].joinpath(*node.module.split(".")).with_suffix(".py")
            return parameters(source, ast.parse(source.read_text()), name)
    raise AssertionError(f"{path.name} exports {name} but defines no such function")


CONTRACT = contract_table((ROOT / "ARCHITECTURE.md").read_text())


def test_the_table_lists_every_family():
    assert set(CONTRACT) == set(FAMILIES)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_backend_exports_exactly_the_contract(backend, family):
    assert exported(ROOT / "kernels" / backend / f"{family}.py") == CONTRACT[family]


def test_table_parser_reads_names_and_parameters():
    row = "| `f.py` | `g(x[M,K], b[N] or None, k=-1) -> y`; `h(dy)` (note) |"
    assert contract_table(row) == {"f": {"g": ["x", "b", "k"], "h": ["dy"]}}
