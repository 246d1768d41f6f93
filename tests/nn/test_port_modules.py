"""Modules a PyTorch model ports with: ``nn.Conv1d`` / ``F.conv1d``, the 1-D poolings, ``nn.ParameterList`` and
``nn.ParameterDict`` (loaded from the equivalent torch module's ``state_dict`` and compared, values and
gradients, with PyTorch in float64 on every device), and ``nn.init.trunc_normal_`` / ``orthogonal_`` (checked
by statistics that fail when the distribution is wrong)."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch

import framework as fw
import framework.nn as nn
import framework.nn.functional as F
from tests.conftest import rel_err

TOL = 1e-4


@pytest.fixture
def seeded(test_seed):
    """The root conftest's printed ``test_seed`` (it has seeded fw and torch too) as a numpy Generator."""
    return np.random.default_rng(test_seed)


def _load_from_torch(ours: nn.Module, ref: torch.nn.Module, device: str) -> None:
    """Our module takes the torch module's state_dict (float32), then the reference becomes float64."""
    result = ours.load_state_dict(ref.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    ours.to(device)
    ref.double()


def _compare_forward_backward(ours, ref, x_np, device, seeded):
    x = fw.tensor(x_np.astype(np.float32), device=device, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    y, yt = ours(x), ref(xt)
    assert y.shape == tuple(yt.shape)
    assert rel_err(y, yt) < TOL
    g = seeded.standard_normal(tuple(yt.shape))
    y.backward(fw.tensor(g.astype(np.float32), device=device))
    yt.backward(torch.tensor(g))
    assert rel_err(x.grad, xt.grad) < TOL
    ours_params = dict(ours.named_parameters())
    for name, p in ref.named_parameters():
        # A parameter's gradient sums many float32 products; when they cancel (a scalar parameter whose float64
        # gradient is -0.0017 from terms of order 1: seed 107034334) float32 rounding alone is ~1e-4 of the
        # result. So the error is measured against max(|ref|, 1e-2 |upstream grad|): a wrong gradient is still
        # off by the size of its terms, far past TOL; a right one passes on every seed.
        ref_norm = float(np.linalg.norm(p.grad.numpy()))
        scale = max(ref_norm, 1e-2 * float(np.linalg.norm(g)))
        assert rel_err(ours_params[name].grad, p.grad) * ref_norm / scale < TOL, name


# --------------------------------------------------------------------------------------------- Conv1d

# (in, out, kernel, kwargs, input shape): awkward lengths, stride > 1, dilation, groups, 'same' with an
# even dilated kernel (the extra zero on the right), padding modes, batch 1 and unbatched input.
CONV1D_CASES = [
    (3, 5, 3, {}, (2, 3, 13)),
    (4, 6, 4, {"stride": 2, "padding": 3, "dilation": 2, "groups": 2}, (1, 4, 11)),
    (2, 3, 4, {"padding": "same", "dilation": 1, "bias": False}, (2, 2, 7)),
    (2, 4, 3, {"padding": 2, "padding_mode": "reflect", "stride": 3}, (3, 2, 9)),
    (3, 2, 2, {"padding": "same", "padding_mode": "circular"}, (3, 7)),
    (1, 2, 5, {"padding": "valid", "padding_mode": "replicate"}, (2, 1, 5)),
]


@pytest.mark.parametrize("case", range(len(CONV1D_CASES)))
def test_conv1d_module_matches_torch(device, case, seeded):
    cin, cout, k, kwargs, shape = CONV1D_CASES[case]
    ref = torch.nn.Conv1d(cin, cout, k, **kwargs)
    ours = nn.Conv1d(cin, cout, k, **kwargs)
    assert repr(ours) == repr(ref)
    assert ours.weight.shape == tuple(ref.weight.shape)
    _load_from_torch(ours, ref, device)
    _compare_forward_backward(ours, ref, seeded.standard_normal(shape), device, seeded)


def test_conv1d_functional_and_errors(seeded):
    x = seeded.standard_normal((2, 4, 9))
    w = seeded.standard_normal((6, 2, 3))
    y = F.conv1d(fw.tensor(x.astype(np.float32)), fw.tensor(w.astype(np.float32)), None, (2,), (1,), (2,), 2)
    yt = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), None, 2, 1, 2, 2)
    assert rel_err(y, yt) < TOL
    xf, wf = fw.tensor(x.astype(np.float32)), fw.tensor(w.astype(np.float32))
    with pytest.raises(ValueError, match=r"conv1d\(\): input has 4 channels"):
        F.conv1d(xf, wf)  # groups=1 needs weight.shape[1] == 4
    with pytest.raises(ValueError, match="weight must be 3-D"):
        F.conv1d(xf, fw.zeros(6, 4, 3, 3))
    with pytest.raises(ValueError, match="strided"):
        F.conv1d(xf, wf, stride=2, padding="same", groups=2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv1d(xf, fw.zeros(6, 2, 12), groups=2)
    with pytest.raises(TypeError, match="stride must be an int or a 1-tuple"):
        F.conv1d(xf, wf, stride=(1, 1), groups=2)
    with pytest.raises(ValueError, match="groups must be a positive int"):
        F.conv1d(xf, wf, groups=0)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv1d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="in_channels"):
        nn.Conv1d(3, 4, 3, groups=2)


# ------------------------------------------------------------------------------------- 1-D pooling

# (module name, args, input shape): the pool after a Conv1d in a 1-D CNN; awkward lengths, padding,
# dilation, ceil mode (a last partial window), count_include_pad=False, unbatched input.
POOL1D_CASES = [
    ("MaxPool1d", (3, 2, 1), {}, (2, 3, 10)),
    ("MaxPool1d", (2,), {"dilation": 2, "ceil_mode": True, "return_indices": True}, (1, 2, 9)),
    ("AvgPool1d", (4, 3, 2), {"ceil_mode": True, "count_include_pad": False}, (2, 3, 11)),
    ("AdaptiveAvgPool1d", (4,), {}, (3, 7)),
    ("AdaptiveMaxPool1d", (3,), {"return_indices": True}, (2, 2, 8)),
]


@pytest.mark.parametrize("case", range(len(POOL1D_CASES)))
def test_pool1d_matches_torch(device, case, seeded):
    name, args, kwargs, shape = POOL1D_CASES[case]
    ours, ref = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(ref)
    x_np = seeded.standard_normal(shape)
    x = fw.tensor(x_np.astype(np.float32), device=device, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    y, yt = ours(x), ref(xt)
    if kwargs.get("return_indices"):
        (y, idx), (yt, idxt) = y, yt
        np.testing.assert_array_equal(idx.numpy(), idxt.numpy())
        assert idx.dtype == fw.int64
    assert rel_err(y, yt) < TOL
    g = seeded.standard_normal(tuple(yt.shape))
    y.backward(fw.tensor(g.astype(np.float32), device=device))
    yt.backward(torch.tensor(g))
    assert rel_err(x.grad, xt.grad) < TOL


def test_pool1d_errors_name_the_1d_call():
    x = fw.zeros(2, 3, 5)
    with pytest.raises(ValueError, match=r"max_pool1d\(\): padding 2 must be at most half the kernel size 3"):
        F.max_pool1d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool1d\(\): kernel_size 7 is larger than the padded input length 5"):
        F.avg_pool1d(x, 7)
    with pytest.raises(TypeError, match="kernel_size must be an int or a 1-tuple"):
        F.max_pool1d(x, (2, 2))
    with pytest.raises(ValueError, match="input must be 2 or 3-D"):
        F.adaptive_avg_pool1d(fw.zeros(1, 2, 3, 4), 2)
    with pytest.raises(ValueError, match="output_size must be >= 1"):
        nn.AdaptiveMaxPool1d(0)


# ------------------------------------------------------------------------------ ParameterList / Dict


def _param_net(lib):
    """A model using a ParameterList and a ParameterDict, with the same code for both libraries."""

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(4)), lib.ones(4) * 0.5])
            self.scales.append(lib.nn.Parameter(lib.zeros(3, 4)))
            # A plain dict is inserted in sorted key order (PyTorch's rule), so 'a' comes before 'b'.
            self.table = lib.nn.ParameterDict({"b": lib.nn.Parameter(lib.zeros(4)), "a": lib.zeros(3)})
            self.table.update([("c", lib.nn.Parameter(lib.zeros(1)))])

        def forward(self, x):
            h = lib.tanh(x * self.scales[0] + self.table["b"]) * self.scales[1]
            h = h @ self.scales[2].T + self.table["a"]
            return h * self.table["c"] + h * h

    return Net()


def test_parameter_containers_load_torch_state_and_match(device, seeded):
    ref = _param_net(torch)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape))
    ours = _param_net(fw)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert len(list(ours.parameters())) == 6
    _load_from_torch(ours, ref, device)
    _compare_forward_backward(ours, ref, seeded.standard_normal((5, 4)), device, seeded)


def test_parameter_list_api():
    plist = nn.ParameterList()
    t = fw.ones(2)
    plist.append(t).extend([fw.zeros(3)])
    plist += [nn.Parameter(fw.zeros(1))]
    assert len(plist) == 3 and isinstance(plist[0], nn.Parameter) and plist[0].requires_grad
    assert plist[-1].shape == (1,) and [p.shape for p in plist] == [(2,), (3,), (1,)]
    assert isinstance(plist[1:], nn.ParameterList) and plist[1:][0] is plist[1]
    replacement = nn.Parameter(fw.zeros(5))
    plist[0] = replacement
    assert list(plist)[0] is replacement and list(plist.state_dict()) == ["0", "1", "2"]
    with pytest.raises(IndexError):
        plist[3]
    with pytest.raises(TypeError, match="Parameters or Tensors"):
        plist.append(3.0)
    with pytest.raises(TypeError, match="iterable"):
        plist.extend(fw.zeros(2))


def test_parameter_dict_api():
    pdict = nn.ParameterDict(OrderedDict([("z", fw.zeros(1)), ("y", fw.zeros(2))]))  # ordered: kept as is
    pdict["x"] = fw.zeros(3)
    pdict.update({"w": fw.zeros(1), "v": fw.zeros(1)})  # plain dict: sorted
    assert list(pdict) == ["z", "y", "x", "v", "w"]
    pdict["y"] = nn.Parameter(fw.zeros(7))  # replacing keeps the place
    assert list(pdict.keys()) == ["z", "y", "x", "v", "w"] and pdict["y"].shape == (7,)
    assert "x" in pdict and pdict.get("nope") is None and pdict.x is pdict["x"]
    assert pdict.pop("z").shape == (1,) and "z" not in pdict and len(pdict) == 4
    assert list(dict(nn.Module.named_parameters(pdict))) == ["y", "x", "v", "w"]
    with pytest.raises(KeyError):
        pdict["missing"]
    with pytest.raises(TypeError, match="keys must be str"):
        pdict[1] = fw.zeros(1)
    with pytest.raises(KeyError, match="already exists"):
        pdict["keys"] = fw.zeros(1)
    with pytest.raises(ValueError, match="pair"):
        pdict.update([("a", fw.zeros(1), 3)])
    pdict.clear()
    assert len(pdict) == 0 and list(pdict.parameters()) == []


# ---------------------------------------------------------------------------------------------- init


def _truncnorm_cdf(x: np.ndarray, mean: float, std: float, a: float, b: float) -> np.ndarray:
    phi = np.vectorize(lambda z: 0.5 * math.erfc(-z / math.sqrt(2.0)))
    lo, hi = phi((a - mean) / std), phi((b - mean) / std)
    return (phi((x - mean) / std) - lo) / (hi - lo)


@pytest.mark.parametrize("mean,std,a,b", [
    (0.0, 1.0, -2.0, 2.0),     # PyTorch's defaults
    (1.0, 0.5, 0.0, 1.2),      # asymmetric, the bounds in values (not standard deviations)
    (0.0, 1.0, 3.0, 4.5),      # a far tail: the inverse-CDF path
    (-2.0, 0.02, -2.1, -1.99),  # a narrow, off-centre window
])
def test_trunc_normal_distribution(mean, std, a, b, seeded):
    t = fw.zeros(100, 60)
    nn.init.trunc_normal_(t, mean=mean, std=std, a=a, b=b)
    values = np.sort(t.numpy().astype(np.float64).ravel())
    assert values.min() >= np.float32(a) and values.max() <= np.float32(b)
    assert np.unique(values).size > values.size * 0.9  # no point masses from clipping
    # Kolmogorov-Smirnov distance to the exact truncated-normal CDF; 2.6/sqrt(n) fails by chance ~3e-6 (2.2, ~1e-4,
    # failed on seed 2988530450 with 2.40; 3000 seeds gave the KS tail's nominal rates); it still sees a CDF off 0.034
    n = values.size
    cdf = _truncnorm_cdf(values, mean, std, a, b)
    distance = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert distance < 2.6 / math.sqrt(n), distance


def test_trunc_normal_errors():
    with pytest.raises(ValueError, match="std must be > 0"):
        nn.init.trunc_normal_(fw.zeros(3), std=0.0)
    with pytest.raises(ValueError, match="a must be <= b"):
        nn.init.trunc_normal_(fw.zeros(3), a=2.0, b=1.0)
    with pytest.raises(TypeError, match="floating point"):
        nn.init.trunc_normal_(fw.zeros(3, dtype="int64"))


@pytest.mark.parametrize("shape,gain", [((5, 12), 1.0), ((12, 5), 2.0), ((4, 3, 2, 2), math.sqrt(2.0)), ((7, 7), 0.5)])
def test_orthogonal(shape, gain, seeded):
    t = fw.zeros(*shape)
    nn.init.orthogonal_(t, gain=gain)
    rows = shape[0]
    w = t.numpy().astype(np.float64).reshape(rows, -1) / gain
    small = w @ w.T if rows <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(small, np.eye(small.shape[0]), atol=1e-5)
    first = w.copy()
    nn.init.orthogonal_(t, gain=gain)
    assert not np.allclose(first, t.numpy().reshape(rows, -1) / gain)  # a fresh random draw
    with pytest.raises(ValueError, match="2 or more dimensions"):
        nn.init.orthogonal_(fw.zeros(4))
