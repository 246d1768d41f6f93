"""The optimisation ladders' structure: every rung exports the family's contract with the production
signatures, and the top rung is the production kernel (its values are tested by the family's shared tests,
which run every rung: see ``ladder_params`` in conftest.py)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from .conftest import ladder_params

CONTRACT = {"conv2d": ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"),
            "maxpool2d": ("maxpool2d_forward", "maxpool2d_backward"),
            "dropout": ("dropout_forward", "dropout_backward"),
            "softmax_xent": ("softmax_cross_entropy_forward", "softmax_cross_entropy_backward"),
            "linear_relu": ("linear_forward", "linear_backward")}


@pytest.mark.parametrize("backend", ["triton", "cupy"])
@pytest.mark.parametrize("family", sorted(CONTRACT))
def test_every_rung_has_the_contract_and_the_top_rung_is_production(backend, family):
    try:
        production = importlib.import_module(f"kernels.{backend}.{family}")
        ladder = importlib.import_module(f"kernels.{backend}.ladder.{family}")
    except ImportError as exc:
        pytest.skip(f"kernels.{backend} not importable: {exc}")
    assert ladder.RUNGS and len(set(ladder.RUNGS)) == len(ladder.RUNGS)
    for name in ladder.RUNGS:
        rung = ladder.load(name)
        assert (rung.__doc__ or "").strip(), f"{name} has no header"
        for fn in CONTRACT[family]:
            assert inspect.signature(getattr(rung, fn)) == inspect.signature(getattr(production, fn)), (name, fn)
    top = ladder.load(ladder.RUNGS[-1])
    assert all(getattr(top, fn) is getattr(production, fn) for fn in CONTRACT[family])
    with pytest.raises(ValueError, match="unknown rung"):
        ladder.load("rung99_nothing")


@pytest.mark.parametrize("family", sorted(CONTRACT))
def test_ladder_params_name_every_rung_below_the_top(family):
    params = ladder_params(family)
    assert params[:3] == ["numpy", "triton", "cupy"]
    for backend in ("triton", "cupy"):
        try:
            ladder = importlib.import_module(f"kernels.{backend}.ladder.{family}")
        except ImportError:
            continue
        assert [p for p in params if p.startswith(f"{backend}/")] == [f"{backend}/{r}" for r in ladder.RUNGS[:-1]]


def test_every_ladder_package_is_in_the_contract():
    """A ladder folder missing from CONTRACT would have no rung tested for its signatures."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "kernels"
    found = {p.parent.name for backend in ("triton", "cupy") for p in (root / backend / "ladder").glob("*/__init__.py")}
    assert found == set(CONTRACT)
