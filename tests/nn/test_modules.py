"""framework.nn modules against torch.nn: outputs and every parameter gradient after loading torch's
weights (float32 here vs float64 torch), PyTorch's naming, state dicts, init, modes and validation."""

from __future__ import annotations

import copy
import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as tnn

import framework as fw
from framework import nn, optim
from framework.nn import functional as F
from framework.nn import init

from ..conftest import rel_err

TOL = 1e-4  # float32 against a float64 reference
TOL64 = 1e-10


def _torch_weights(tm: tnn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy() for k, v in tm.state_dict().items()}


def _check_against_torch(ours: nn.Module, theirs: tnn.Module, x: np.ndarray, device: str, rng,
                         dtype=fw.float32, tol: float = TOL):
    """Load torch's weights into ``ours``, run both on ``x``, backprop the same upstream gradient and
    compare the output, the input gradient and every parameter gradient (matched by name)."""
    theirs = theirs.double()
    ours.to(device, dtype)
    ours.load_state_dict(_torch_weights(theirs))
    xo = fw.tensor(x, dtype=dtype, device=device, requires_grad=True)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out, ref = ours(xo), theirs(xt)
    assert rel_err(out, ref) < tol
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(g, dtype=dtype, device=device))
    ref.backward(torch.tensor(g))
    assert rel_err(xo.grad, xt.grad) < tol
    their_params = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(their_params)
    for name, p in ours.named_parameters():
        assert p.grad is not None, f"no gradient for {name}"
        assert rel_err(p.grad, their_params[name].grad) < tol, name
    return out


# ------------------------------------------------------------------------------------ layers vs torch


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7), (1, 7)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(device, rng, shape, bias):
    _check_against_torch(nn.Linear(7, 13, bias=bias), tnn.Linear(7, 13, bias=bias), rng.standard_normal(shape),
                         device, rng)


def test_linear_float64_is_tight(device, rng):
    _check_against_torch(nn.Linear(7, 3), tnn.Linear(7, 3), rng.standard_normal((4, 7)), device, rng,
                         dtype=fw.float64, tol=TOL64)


CONV_CASES = [
    # (N, C_in, H, W), C_out, kwargs
    ((2, 3, 9, 11), 4, dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 7, 13), 3, dict(kernel_size=(3, 2), padding=(1, 0))),  # non-square kernel, batch 1
    ((2, 4, 7, 7), 6, dict(kernel_size=3, padding=1, groups=2)),
    ((2, 3, 13, 9), 5, dict(kernel_size=3, dilation=2, padding=2)),
    ((1, 3, 7, 6), 2, dict(kernel_size=(2, 3), padding="same")),
    ((3, 2, 8, 7), 4, dict(kernel_size=3, padding="valid", bias=False)),
    ((2, 3, 7, 8), 4, dict(kernel_size=3, padding=(2, 1), padding_mode="reflect")),
    ((1, 2, 6, 5), 3, dict(kernel_size=(2, 3), stride=2, padding=1, padding_mode="replicate")),
    ((2, 2, 5, 6), 2, dict(kernel_size=3, padding=(1, 2), padding_mode="circular")),
    ((1, 2, 6, 7), 3, dict(kernel_size=(2, 3), padding="same", padding_mode="reflect")),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own notice
@pytest.mark.parametrize("xshape, out_channels, kwargs", CONV_CASES)
def test_conv2d_matches_torch(device, rng, xshape, out_channels, kwargs):
    ours = nn.Conv2d(xshape[1], out_channels, **kwargs)
    theirs = tnn.Conv2d(xshape[1], out_channels, **kwargs)
    _check_against_torch(ours, theirs, rng.standard_normal(xshape), device, rng)


CONV_T_CASES = [
    ((2, 3, 5, 7), 4, dict(kernel_size=3, stride=2, padding=1, output_padding=1)),
    ((1, 4, 4, 5), 6, dict(kernel_size=(3, 2), stride=2, groups=2)),
    ((2, 2, 5, 5), 3, dict(kernel_size=3, dilation=2, bias=False)),
]


@pytest.mark.parametrize("xshape, out_channels, kwargs", CONV_T_CASES)
def test_conv_transpose2d_matches_torch(device, rng, xshape, out_channels, kwargs):
    ours = nn.ConvTranspose2d(xshape[1], out_channels, **kwargs)
    theirs = tnn.ConvTranspose2d(xshape[1], out_channels, **kwargs)
    assert ours.weight.shape == tuple(theirs.weight.shape)  # [C_in, C_out/groups, R, S]
    _check_against_torch(ours, theirs, rng.standard_normal(xshape), device, rng)


def test_conv_transpose2d_output_size(device, rng):
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).to(device)
    theirs = tnn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours.load_state_dict(_torch_weights(theirs))
    x = rng.standard_normal((1, 2, 4, 4))
    out = ours(fw.tensor(x, dtype=fw.float32, device=device), output_size=(8, 8))
    ref = theirs(torch.tensor(x), output_size=(8, 8))
    assert out.shape == (1, 3, 8, 8)
    assert rel_err(out, ref) < TOL
    with pytest.raises(ValueError, match="output_size"):
        ours(fw.tensor(x, dtype=fw.float32, device=device), output_size=(11, 8))


@pytest.mark.parametrize("xshape, kwargs", [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((1, 2, 9, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 1, 7, 10), dict(kernel_size=(2, 3), stride=(1, 2))),
])
def test_maxpool2d_matches_torch(device, rng, xshape, kwargs):
    _check_against_torch(nn.MaxPool2d(**kwargs), tnn.MaxPool2d(**kwargs), rng.standard_normal(xshape), device, rng)


def test_maxpool2d_return_indices(device, rng):
    x = rng.standard_normal((2, 3, 7, 6))
    out, idx = nn.MaxPool2d(3, 2, 1, return_indices=True)(fw.tensor(x, dtype=fw.float32, device=device))
    ref, ref_idx = tnn.MaxPool2d(3, 2, 1, return_indices=True)(torch.tensor(x))
    assert rel_err(out, ref) < TOL
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())


@pytest.mark.parametrize("ours, theirs", [
    (nn.ReLU(), tnn.ReLU()),
    (nn.ReLU(inplace=True), tnn.ReLU()),
    (nn.LeakyReLU(0.2), tnn.LeakyReLU(0.2)),
    (nn.Sigmoid(), tnn.Sigmoid()),
    (nn.Tanh(), tnn.Tanh()),
    (nn.Softmax(dim=1), tnn.Softmax(dim=1)),
    (nn.LogSoftmax(dim=-1), tnn.LogSoftmax(dim=-1)),
    (nn.Identity(3, foo=1), tnn.Identity()),
], ids=lambda m: repr(m))
def test_activations_match_torch(device, rng, ours, theirs):
    _check_against_torch(ours, theirs, rng.standard_normal((3, 5, 2)), device, rng)


# -------------------------------------------------------------------------------- Sequential fusion


class _CountCalls:
    """Wraps a function and counts its calls (to see which path Sequential took)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def test_sequential_fuses_linear_relu_and_matches_torch(device, rng, monkeypatch):
    fused = _CountCalls(F.linear_relu)
    plain_relu = _CountCalls(F.relu)
    monkeypatch.setattr(F, "linear_relu", fused)
    monkeypatch.setattr(F, "relu", plain_relu)
    ours = nn.Sequential(nn.Linear(6, 9), nn.ReLU(), nn.Linear(9, 8), nn.ReLU(), nn.Linear(8, 5), nn.ReLU(),
                         nn.Sigmoid(), nn.Linear(5, 2))
    theirs = tnn.Sequential(tnn.Linear(6, 9), tnn.ReLU(), tnn.Linear(9, 8), tnn.ReLU(), tnn.Linear(8, 5),
                            tnn.ReLU(), tnn.Sigmoid(), tnn.Linear(5, 2))
    # Positive biases and a batch of 32 keep every ReLU alive for some sample, so no reference gradient is all zeros
    # (with PyTorch's default init, seed 3771841167 left all five units of the third layer dead for the whole batch).
    with torch.no_grad():
        for layer in theirs:
            if isinstance(layer, tnn.Linear):
                layer.bias.uniform_(0.05, 0.2)
    out = _check_against_torch(ours, theirs, rng.standard_normal((32, 6)), device, rng)
    assert fused.calls == 3, "each Linear directly followed by ReLU must run as one fused call"
    assert plain_relu.calls == 0, "a fused ReLU must not run again on its own"
    assert out.shape == (32, 2)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # fusion leaves PyTorch's names alone


def test_sequential_does_not_fuse_other_pairs(device, rng, monkeypatch):
    fused = _CountCalls(F.linear_relu)
    monkeypatch.setattr(F, "linear_relu", fused)
    ours = nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(), nn.ReLU())
    theirs = tnn.Sequential(tnn.Linear(4, 4), tnn.LeakyReLU(), tnn.ReLU(), tnn.Linear(4, 4), tnn.Tanh(), tnn.ReLU())
    # 16 rows: after Tanh -> ReLU each output is 0 half the time, and 3 rows were all zero ~1 draw in 4096
    _check_against_torch(ours, theirs, rng.standard_normal((16, 4)), device, rng)
    assert fused.calls == 0


class _TorchLinearReLU(tnn.Linear):
    def forward(self, x):
        return torch.relu(super().forward(x))


def test_linear_relu_module_matches_torch(device, rng, monkeypatch):
    fused = _CountCalls(F.linear_relu)
    monkeypatch.setattr(F, "linear_relu", fused)
    _check_against_torch(nn.LinearReLU(5, 7), _TorchLinearReLU(5, 7), rng.standard_normal((4, 5)), device, rng)
    assert fused.calls == 1


# ---------------------------------------------------------------------------- dropout and reshaping


def test_dropout_eval_is_identity_and_train_scales(device, rng):
    drop = nn.Dropout(0.3).to(device)
    x = fw.tensor(rng.uniform(1.0, 2.0, (200, 100)), dtype=fw.float32, device=device, requires_grad=True)
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    drop.train()
    y = drop(x)
    kept = y.numpy() != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7, rtol=1e-6)  # the same mask in backward


def test_flatten_and_unflatten(device, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    flat = nn.Flatten()(fw.tensor(x, device=device))
    assert flat.shape == (2, 60)
    np.testing.assert_array_equal(flat.numpy(), x.reshape(2, 60))
    assert nn.Flatten(0, 1)(fw.tensor(x, device=device)).shape == (6, 4, 5)
    xt = fw.tensor(x.reshape(2, 60), device=device, requires_grad=True)
    back = nn.Unflatten(1, (3, -1, 5))(xt)
    assert back.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(back.numpy(), x)
    assert nn.Unflatten(-1, (6, 10))(xt).shape == (2, 6, 10)
    (back * 2).sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), np.full((2, 60), 2.0))
    with pytest.raises(ValueError, match="unflattened_size"):
        nn.Unflatten(1, (7, 8))(xt)


# ----------------------------------------------------------------------------------- end to end CNN


def _cnn_pair():
    ours = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, (3, 2), stride=1, padding=(1, 0), groups=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(6 * 2 * 1, 16), nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 5),
    )
    theirs = tnn.Sequential(
        tnn.Conv2d(1, 4, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(4, 6, (3, 2), stride=1, padding=(1, 0), groups=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(6 * 2 * 1, 16), tnn.ReLU(), tnn.Dropout(0.25), tnn.Linear(16, 5),
    )
    return ours, theirs


def test_small_cnn_end_to_end(device, rng):
    ours, theirs = _cnn_pair()
    ours.eval()
    theirs.eval()
    _check_against_torch(ours, theirs, rng.standard_normal((3, 1, 9, 7)), device, rng)


def test_small_cnn_training_steps_match_torch(device, rng):
    ours, theirs = _cnn_pair()
    ours.eval().to(device, fw.float64)  # eval: dropout masks are not comparable across frameworks
    theirs.eval().double()
    ours.load_state_dict(_torch_weights(theirs))
    our_opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    their_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    x = rng.standard_normal((6, 1, 9, 7))
    y = rng.integers(0, 5, 6)
    loss_fn, their_loss_fn = nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()
    for _ in range(3):
        our_opt.zero_grad()
        their_opt.zero_grad()
        loss = loss_fn(ours(fw.tensor(x, dtype=fw.float64, device=device)), fw.tensor(y, device=device))
        ref = their_loss_fn(theirs(torch.tensor(x)), torch.tensor(y))
        assert abs(loss.item() - ref.item()) < 1e-10 * abs(ref.item())
        loss.backward()
        ref.backward()
        our_opt.step()
        their_opt.step()
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert rel_err(p, their_params[name]) < TOL64, name


# ------------------------------------------------------------------------------------ initialisation


@pytest.mark.parametrize("make, bound", [
    (lambda: nn.Linear(50, 400), 1 / math.sqrt(50)),
    (lambda: nn.Conv2d(6, 40, 3, groups=2), 1 / math.sqrt(3 * 9)),
    (lambda: nn.ConvTranspose2d(40, 6, 3, groups=2), 1 / math.sqrt(3 * 9)),  # fan_in from weight dim 1
])
def test_default_init_is_pytorchs(make, bound):
    fw.manual_seed(0)
    layer = make()
    w, b = layer.weight.numpy(), layer.bias.numpy()
    # kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert abs(w.mean()) < 0.05 * bound
    assert np.abs(b).max() <= bound and np.ptp(b) > 0
    torch_layer = {nn.Linear: lambda: tnn.Linear(50, 400), nn.Conv2d: lambda: tnn.Conv2d(6, 40, 3, groups=2),
                   nn.ConvTranspose2d: lambda: tnn.ConvTranspose2d(40, 6, 3, groups=2)}[type(layer)]()
    assert init._calculate_fan_in_and_fan_out(layer.weight) == tnn.init._calculate_fan_in_and_fan_out(
        torch_layer.weight)


def test_init_is_reproducible_with_manual_seed():
    fw.manual_seed(123)
    a = nn.Linear(4, 3)
    fw.manual_seed(123)
    b = nn.Linear(4, 3)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    assert not np.array_equal(a.weight.numpy(), nn.Linear(4, 3).weight.numpy())


def test_init_functions():
    fw.manual_seed(1)
    w = fw.zeros(300, 200)
    before = w._data
    assert init.xavier_uniform_(w, gain=2.0) is w and w._data is before  # written in place
    bound = 2.0 * math.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.95 * bound
    init.xavier_normal_(w)
    assert abs(w.numpy().std() - math.sqrt(2 / 500)) < 0.05 * math.sqrt(2 / 500)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 300)) < 0.05 * math.sqrt(2 / 300)
    init.normal_(w, 3.0, 0.5)
    assert abs(w.numpy().mean() - 3.0) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    init.uniform_(w, -1, 2)
    assert w.numpy().min() >= -1 and w.numpy().max() < 2 and w.dtype == fw.float32
    init.zeros_(w)
    assert not w.numpy().any()
    init.ones_(w)
    assert (w.numpy() == 1).all()
    init.constant_(w, 0.5)
    assert (w.numpy() == 0.5).all()
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(tnn.init.calculate_gain(name, param))
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_uniform_(w, mode="fan_sideways")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(fw.zeros(5))


# ------------------------------------------------------------------------------ naming, state dicts


class _OurNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 1))
        self.blocks = [nn.Linear(3, 3), nn.Linear(3, 3, bias=False)]  # a plain list is discovered too
        self.heads = nn.ModuleDict({"a": nn.Linear(3, 1), "b": nn.Linear(3, 2)})
        self.scale = nn.Parameter(fw.ones(3))
        self.loss = nn.CrossEntropyLoss(weight=fw.ones(2))
        self.register_buffer("running", fw.zeros(3))
        self.register_buffer("scratch", fw.zeros(3), persistent=False)
        self.tail = nn.ModuleList([nn.Linear(2, 2)])


class _TheirNet(tnn.Module):
    def __init__(self):
        super().__init__()
        self.features = tnn.Sequential(tnn.Conv2d(1, 2, 3), tnn.ReLU(), tnn.Conv2d(2, 2, 1))
        self.blocks = tnn.ModuleList([tnn.Linear(3, 3), tnn.Linear(3, 3, bias=False)])
        self.heads = tnn.ModuleDict({"a": tnn.Linear(3, 1), "b": tnn.Linear(3, 2)})
        self.scale = tnn.Parameter(torch.ones(3))
        self.loss = tnn.CrossEntropyLoss(weight=torch.ones(2))
        self.register_buffer("running", torch.zeros(3))
        self.register_buffer("scratch", torch.zeros(3), persistent=False)
        self.tail = tnn.ModuleList([tnn.Linear(2, 2)])


def test_names_match_torch():
    ours, theirs = _OurNet(), _TheirNet()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules() if "blocks" not in n] == \
        [n for n, _ in theirs.named_modules() if "blocks" not in n]  # (torch lists the ModuleList itself)
    assert "scratch" not in ours.state_dict() and "scratch" in dict(ours.named_buffers())
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())


def test_torch_state_dict_loads_as_numpy_and_as_torch_tensors():
    ours, theirs = _OurNet(), _TheirNet()
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-1, 1)
        theirs.running.fill_(7)
    result = ours.load_state_dict(_torch_weights(theirs))
    assert result.missing_keys == [] and result.unexpected_keys == []
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), theirs.state_dict()[name].numpy(), rtol=1e-7)
        assert value.dtype == fw.float32
    ours2 = _OurNet()
    ours2.load_state_dict(dict(theirs.state_dict()))  # torch tensors directly (some require grad)
    np.testing.assert_array_equal(ours2.blocks[0].weight.numpy(), ours.blocks[0].weight.numpy())


def test_load_state_dict_copies_and_keeps_objects():
    m = nn.Linear(3, 2)
    weight = m.weight
    values = {"weight": np.ones((2, 3)), "bias": np.zeros(2)}
    m.load_state_dict(values)
    values["weight"][0, 0] = 5  # the module must not alias the caller's array
    assert m.weight is weight and m.weight.numpy()[0, 0] == 1
    other = nn.Linear(3, 2)
    other.load_state_dict(m.state_dict())
    other.weight._data[0, 0] = 9  # in-place on cpu: must not reach the source module
    assert m.weight.numpy()[0, 0] == 1


def test_load_state_dict_errors_are_clear():
    m = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    good = m.state_dict()
    before = {k: v.numpy().copy() for k, v in good.items()}

    missing = {k: v for k, v in good.items() if k != "2.bias"}
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "2.bias"'):
        m.load_state_dict(missing)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "3.weight"'):
        m.load_state_dict({**good, "3.weight": np.zeros(1)})
    wrong = {**{k: np.zeros(v.shape) for k, v in good.items()}, "0.weight": np.zeros((2, 4))}
    with pytest.raises(RuntimeError, match=r'size mismatch for "0.weight".*\(2, 4\).*\(2, 3\)'):
        m.load_state_dict(wrong)
    for k, v in m.state_dict().items():  # nothing was half-loaded by the failed calls
        np.testing.assert_array_equal(v.numpy(), before[k])

    result = m.load_state_dict({**missing, "extra": np.zeros(1)}, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict(wrong, strict=False)  # shapes are checked even when not strict, as in torch


def test_state_dict_values_are_detached():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert all(not v.requires_grad and type(v) is fw.Tensor for v in sd.values())
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


# ----------------------------------------------------------------------- dtype, device, grads, modes


def test_to_dtype_keeps_parameter_identity(device):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.CrossEntropyLoss(weight=fw.ones(2)))
    params = list(m.parameters())
    opt = optim.SGD(m.parameters(), lr=0.1)
    assert m.to(device) is m
    m.to(fw.float64)
    assert all(a is b for a, b in zip(m.parameters(), params))
    assert all(p.dtype == fw.float64 and p.device == device for p in m.parameters())
    assert m[3].weight.dtype == fw.float64  # floating buffers follow
    before = m[0].weight.numpy().copy()
    out = m[:3](fw.randn(5, 3, dtype=fw.float64, device=device))
    out.sum().backward()
    opt.step()  # the optimizer built before the move still updates the same objects
    assert not np.array_equal(m[0].weight.numpy(), before)
    m.float()
    assert m[0].weight.dtype == fw.float32 and m[0].weight.grad.dtype == fw.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(fw.int64)


def test_freeze_and_requires_grad():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert m.freeze() is m
    assert all(not p.requires_grad for p in m.parameters())
    x = fw.randn(2, 3, requires_grad=True)
    m(x).sum().backward()
    assert x.grad is not None and all(p.grad is None for p in m.parameters())
    m.unfreeze()
    m[0].requires_grad_(False)
    m(fw.randn(2, 3)).sum().backward()
    assert m[0].weight.grad is None and m[2].weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert not m[2].weight.grad.numpy().any()
    m.zero_grad()
    assert m[2].weight.grad is None


def test_train_eval_recurse():
    net = _OurNet()
    assert all(mod.training for mod in net.modules())
    assert net.eval() is net
    assert not any(mod.training for mod in net.modules())
    assert not net.blocks[1].training  # modules in a plain list too
    net.features.train()
    assert net.features[2].training and not net.heads["a"].training
    with pytest.raises(ValueError, match="bool"):
        net.train("yes")


def test_apply_and_modules():
    m = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.Linear(4, 4), nn.Tanh()))
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Linear", "Tanh", "Sequential", "Sequential"]
    m.apply(lambda mod: init.zeros_(mod.bias) if isinstance(mod, nn.Linear) else None)
    assert not m[1][0].bias.numpy().any()
    assert [n for n, _ in m.named_modules()] == ["", "0", "1", "1.0", "1.1"]
    assert [n for n, _ in m.named_children()] == ["0", "1"]


def test_shared_parameters_are_listed_once():
    m = nn.Module()
    m.a = nn.Linear(2, 2)
    m.b = m.a
    assert len(list(m.parameters())) == 2
    assert list(m.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]  # as in torch


# ---------------------------------------------------------------------------- Parameter, registration


def test_parameter():
    t = fw.randn(3, 2)
    p = nn.Parameter(t)
    assert p._data is t._data and p.requires_grad and p.is_leaf and isinstance(p, fw.Tensor)
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(fw.zeros(2), requires_grad=False).requires_grad
    assert nn.Parameter(np.ones(3)).dtype == fw.float64
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(fw.zeros(2, dtype=fw.int64))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q._data is not p._data
    np.testing.assert_array_equal(q.numpy(), p.numpy())
    assert type(p * 2) is fw.Tensor  # ops on a Parameter give plain tensors


def test_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(fw.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.w = None
    assert "w" not in m.state_dict() and m.w is None
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = fw.zeros(2)
    del m.sub
    assert not hasattr(m, "sub") and list(m.state_dict()) == []
    m.register_buffer("stats", fw.zeros(2))
    m.stats = fw.ones(2)
    assert m.state_dict()["stats"].numpy().tolist() == [1, 1]
    with pytest.raises(TypeError, match="buffer"):
        m.stats = 3
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("forward", fw.zeros(1))
    with pytest.raises(KeyError, match=r"'\.'"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing  # noqa: B018

    class Forgot(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\)"):
        Forgot()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(fw.zeros(1))


def test_plain_containers_keep_assignment_order():
    m = nn.Module()
    m.first = nn.Linear(1, 1)
    m.group = []
    m.last = nn.Linear(1, 1)
    m.group.append(nn.Linear(1, 1))  # appended after assignment: still found, at the list's position
    m.params = {"x": nn.Parameter(fw.zeros(1))}
    assert list(m.state_dict()) == ["first.weight", "first.bias", "group.0.weight", "group.0.bias",
                                    "last.weight", "last.bias", "params.x"]
    m.group = 5  # no longer a container
    assert "group.0.weight" not in m.state_dict()


def test_sequential_module_list_module_dict_api():
    a, b, c = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3)
    s = nn.Sequential(a, b)
    assert len(s) == 2 and s[0] is a and s[-1] is b and list(s) == [a, b]
    s.append(c)
    assert s[2] is c and isinstance(s[1:], nn.Sequential) and list(s[1:]) == [b, c]
    s.insert(0, nn.Identity())
    assert [n for n, _ in s.named_children()] == ["0", "1", "2", "3"] and s[1] is a
    del s[0]
    assert list(s) == [a, b, c] and list(s.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(IndexError):
        s[3]  # noqa: B018
    d = nn.Linear(2, 2)
    s[0] = d  # replaced in place, as in PyTorch (it used to move to the end: the layers then ran out of order)
    assert list(s) == [d, b, c] and [n for n, _ in s.named_children()] == ["0", "1", "2"]
    assert list(s.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert s(fw.randn(4, 2)).shape == (4, 3)
    lin = nn.Linear(2, 2)
    lin.weight = nn.Parameter(fw.zeros(2, 2))  # a rebound parameter keeps its place too
    assert list(lin.state_dict()) == ["weight", "bias"] and [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    named = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.ReLU()))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)

    ml = nn.ModuleList([a, b])
    ml += [c]
    ml.insert(1, nn.Tanh())
    assert len(ml) == 4 and ml[2] is b and list(ml.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    del ml[1]
    assert list(ml) == [a, b, c]
    ml[0] = d
    assert list(ml) == [d, b, c]

    md = nn.ModuleDict({"x": a})
    md["y"] = c
    assert "y" in md and list(md) == ["x", "y"] and md["y"] is c and len(md) == 2
    assert list(md.state_dict()) == ["x.weight", "x.bias", "y.weight", "y.bias"]
    assert md.pop("x") is a and list(md.keys()) == ["y"]


def test_repr_matches_torch():
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64, 8, bias=False), nn.Dropout(0.1), nn.Softmax(dim=1),
                         nn.ConvTranspose2d(2, 4, 3, stride=2, output_padding=1, groups=2))
    theirs = tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                            tnn.Linear(64, 8, bias=False), tnn.Dropout(0.1), tnn.Softmax(dim=1),
                            tnn.ConvTranspose2d(2, 4, 3, stride=2, output_padding=1, groups=2))
    assert repr(ours) == repr(theirs)


# ---------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("make, exc, match", [
    (lambda: nn.Linear(0, 3), ValueError, "in_features"),
    (lambda: nn.Linear(3, -1), ValueError, "out_features"),
    (lambda: nn.Linear(3, 2, dtype=fw.int32), TypeError, "floating point"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError, "out_channels"),
    (lambda: nn.Conv2d(3, 4, 0), ValueError, "kernel_size"),
    (lambda: nn.Conv2d(3, 4, 3, stride=0), ValueError, "stride"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), ValueError, "padding"),
    (lambda: nn.Conv2d(3, 4, 3, padding="full"), ValueError, "padding"),
    (lambda: nn.Conv2d(3, 4, 3, padding="same", stride=2), ValueError, "same"),
    (lambda: nn.Conv2d(3, 4, 3, dilation=0), ValueError, "dilation"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), ValueError, "padding_mode='mirror' is not supported"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding_mode="circular"), ValueError, "padding_mode"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=2), ValueError, "output_padding"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding="same"), ValueError, "padding"),
    (lambda: nn.MaxPool2d(0), ValueError, "kernel_size"),
    (lambda: nn.MaxPool2d(2, stride=0), ValueError, "stride"),
    (lambda: nn.Dropout(1.5), ValueError, "p must"),
    (lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError, "reduction"),
    (lambda: nn.Unflatten(1, (2, -1, -1)), ValueError, "unflattened_size"),
])
def test_constructor_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# -------------------------------------------------------------------------------------------- losses


def test_loss_modules_match_torch(device, rng):
    logits = rng.standard_normal((6, 4))
    target = rng.integers(0, 4, 6)
    target[2] = -100
    w = rng.uniform(0.5, 2.0, 4)
    probs = rng.uniform(0.05, 0.95, (6, 4))
    labels = (rng.uniform(size=(6, 4)) > 0.5).astype(np.float64)
    pos_weight = rng.uniform(0.5, 3.0, 4)

    def ours(a):
        return fw.tensor(a, dtype=fw.float32 if a.dtype.kind == "f" else fw.int64, device=device)

    cases = [
        (nn.CrossEntropyLoss(), tnn.CrossEntropyLoss(), logits, target),
        (nn.CrossEntropyLoss(weight=ours(w), label_smoothing=0.1, reduction="sum"),
         tnn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1, reduction="sum"), logits, target),
        (nn.NLLLoss(weight=ours(w)), tnn.NLLLoss(weight=torch.tensor(w)), np.log(probs), target),
        (nn.MSELoss(reduction="none"), tnn.MSELoss(reduction="none"), logits, probs),
        (nn.BCELoss(), tnn.BCELoss(), probs, labels),
        (nn.BCEWithLogitsLoss(pos_weight=ours(pos_weight)), tnn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight)),
         logits, labels),
    ]
    for our_loss, their_loss, x, t in cases:
        xo = fw.tensor(x, dtype=fw.float32, device=device, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        out, ref = our_loss(xo, ours(t)), their_loss(xt, torch.tensor(t))
        assert rel_err(out, ref) < TOL, repr(our_loss)
        out.sum().backward()
        ref.sum().backward()
        assert rel_err(xo.grad, xt.grad) < TOL, repr(our_loss)
    assert list(nn.BCEWithLogitsLoss(weight=fw.ones(4), pos_weight=fw.ones(4)).state_dict()) == \
        list(tnn.BCEWithLogitsLoss(weight=torch.ones(4), pos_weight=torch.ones(4)).state_dict())
