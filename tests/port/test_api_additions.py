"""The calls added for the API coverage table (tests/port/test_api_coverage.py), where their code path differs
per device or their edges need more than the table's one random draw: values and gradients against PyTorch
in float64 on every device, plus the clear errors of what stays unsupported."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
from tests.conftest import pair, rel_err


def _backward_both(ours, ref, rng):
    g = rng.standard_normal(tuple(ref.shape))
    ours.backward(fw.tensor(g.astype(np.float32), device=ours.device))
    ref.backward(torch.tensor(g))


def test_erf_matches_torch(device, rng):
    a = np.concatenate([rng.standard_normal(13) * 2, [0.0, -4.5, 6.0, 1e-3]])
    x, xr = pair(a, device)
    out, ref = fw.erf(x), torch.erf(xr)
    assert out.dtype == fw.float32 and rel_err(out, ref) <= 1e-6
    _backward_both(out, ref, rng)
    assert rel_err(x.grad, xr.grad) <= 1e-5
    assert fw.erf(fw.tensor([0, 1], device=device)).dtype == fw.float32  # integers compute in float32


@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid", "relu6", "logsigmoid", "softsign", "selu", "celu",
                                  "tanhshrink"])
def test_composite_activations_match_torch(device, rng, name):
    a = rng.standard_normal((3, 7)) * 4
    x, xr = pair(a, device)
    out, ref = getattr(fw.nn.functional, name)(x), getattr(torch.nn.functional, name)(xr)
    assert rel_err(out, ref) <= 1e-5
    _backward_both(out, ref, rng)
    assert rel_err(x.grad, xr.grad) <= 1e-5


def test_attention_masks_match_torch(device, rng):
    (q, qr), (k, kr), (v, vr) = (pair(rng.standard_normal(s), device) for s in ((2, 5, 3), (2, 5, 3), (2, 5, 4)))
    mask = rng.random((5, 5)) < 0.7
    np.fill_diagonal(mask, True)  # every row keeps a key (an all-masked row is NaN in both)
    F, TF = fw.nn.functional, torch.nn.functional
    outs = [F.scaled_dot_product_attention(q, k, v, is_causal=True),
            F.scaled_dot_product_attention(q, k, v, attn_mask=fw.tensor(mask, device=device), scale=0.3)]
    refs = [TF.scaled_dot_product_attention(qr, kr, vr, is_causal=True),
            TF.scaled_dot_product_attention(qr, kr, vr, attn_mask=torch.tensor(mask), scale=0.3)]
    for out, ref in zip(outs, refs):
        assert rel_err(out, ref) <= 1e-5
    _backward_both(outs[0] + outs[1], refs[0] + refs[1], rng)
    for ours, theirs in ((q, qr), (k, kr), (v, vr)):
        assert rel_err(ours.grad, theirs.grad) <= 1e-5
    with pytest.raises(NotImplementedError, match="enable_gqa"):
        F.scaled_dot_product_attention(q, k, v, enable_gqa=True)


def test_distances_norms_and_prelu_match_torch(device, rng):
    (a, ar), (b, br) = pair(rng.standard_normal((4, 3)), device), pair(rng.standard_normal((5, 3)), device)
    b_same = fw.cat([b[:2], a[:1].detach()])  # a zero distance: gradient 0 there, as PyTorch
    outs = [fw.cdist(a, b_same), fw.nn.functional.cosine_similarity(a, b[:4]), fw.linalg.norm(a, dim=1)]
    refs = [torch.cdist(ar, torch.cat([br[:2], ar[:1].detach()])), torch.nn.functional.cosine_similarity(ar, br[:4]),
            torch.linalg.norm(ar, dim=1)]
    total, ref_total = outs[0].sum() + outs[1].sum() + outs[2].sum(), refs[0].sum() + refs[1].sum() + refs[2].sum()
    for out, ref in zip(outs, refs):
        assert rel_err(out, ref) <= 1e-5
    total.backward()
    ref_total.backward()
    assert rel_err(a.grad, ar.grad) <= 1e-5 and rel_err(b.grad, br.grad) <= 1e-5
    (x, xr), (w, wr) = pair(rng.standard_normal((2, 3, 4)), device), pair(np.array([0.1, -0.3, 2.0]), device)
    out, ref = fw.nn.functional.prelu(x, w), torch.nn.functional.prelu(xr, wr)
    assert rel_err(out, ref) <= 1e-6
    _backward_both(out, ref, rng)
    assert rel_err(x.grad, xr.grad) <= 1e-6 and rel_err(w.grad, wr.grad) <= 1e-5
    with pytest.raises(NotImplementedError, match="matrix norm"):
        fw.linalg.norm(fw.ones(2, 2), ord="nuc")


def test_batchnorm3d_and_instance_norm_match_torch(device, rng):
    a = rng.standard_normal((2, 3, 2, 3, 2))
    x, xr = pair(a, device)
    bn, bn_ref = fw.nn.BatchNorm3d(3).to(device), torch.nn.BatchNorm3d(3).double()
    out, ref = bn(x) + fw.nn.functional.instance_norm(x), bn_ref(xr) + torch.nn.functional.instance_norm(xr)
    assert rel_err(out, ref) <= 1e-5
    assert rel_err(bn.running_var, bn_ref.running_var) <= 1e-6
    _backward_both(out, ref, rng)
    assert rel_err(x.grad, xr.grad) <= 1e-4
    with pytest.raises(ValueError, match="5-D"):
        bn(fw.ones(2, 3, 4, 4, device=device))
    with pytest.raises(NotImplementedError, match="track_running_stats"):
        fw.nn.InstanceNorm2d(3, track_running_stats=True)


def test_median_unique_bucketize_match_torch(device, rng):
    a = rng.integers(0, 5, (4, 7)).astype(np.float64) + rng.standard_normal((4, 7)) * 0.01
    x, xr = pair(a, device)
    out, ref = fw.median(x, dim=1), torch.median(xr, dim=1)
    assert rel_err(out.values, ref.values) <= 1e-6 and out.indices.tolist() == ref.indices.tolist()
    _backward_both(out.values + fw.median(x), ref.values + torch.median(xr), rng)
    assert rel_err(x.grad, xr.grad) <= 1e-6
    ints = rng.integers(0, 6, 15)
    ours = fw.unique(fw.tensor(ints, device=device), return_inverse=True, return_counts=True)
    theirs = torch.unique(torch.tensor(ints), return_inverse=True, return_counts=True)
    assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    bounds, values = [-1.0, 0.0, 0.0, 2.0], [-2.0, -1.0, 0.0, 0.5, 2.0, 3.0]
    for right in (False, True):
        got = fw.bucketize(fw.tensor(values, device=device), fw.tensor(bounds, device=device), right=right)
        assert got.tolist() == torch.bucketize(torch.tensor(values), torch.tensor(bounds), right=right).tolist()


def test_init_eye_dirac_and_parameter_vectors(device):
    for shape, groups in (((4, 2, 3), 1), ((6, 2, 3, 3), 2), ((2, 3, 1, 3, 3), 1)):
        w, wr = fw.empty(*shape, device=device), torch.empty(*shape)
        fw.nn.init.dirac_(w, groups)
        torch.nn.init.dirac_(wr, groups)
        assert np.array_equal(w.numpy(), wr.numpy())
    assert np.array_equal(fw.nn.init.eye_(fw.empty(2, 3, device=device)).numpy(), np.eye(2, 3))
    m = fw.nn.Linear(3, 2).to(device)
    vec = fw.nn.utils.parameters_to_vector(m.parameters())
    assert vec.shape == (8,) and vec.requires_grad
    fw.nn.utils.vector_to_parameters(fw.arange(8.0, device=device), m.parameters())
    assert m.weight.tolist() == [[0, 1, 2], [3, 4, 5]] and m.bias.tolist() == [6, 7] and m.weight.is_leaf
    with pytest.raises(ValueError, match="8 elements"):
        fw.nn.utils.vector_to_parameters(fw.zeros(7, device=device), m.parameters())


def test_to_other_tensor_takes_its_dtype_and_device(device):
    other = fw.zeros(1, dtype=fw.float64, device=device)
    out = fw.ones(2).to(other)
    assert out.dtype == fw.float64 and out.device == other.device


def test_small_lookups_match_torch():
    for dt in ("float16", "float32", "float64", "bfloat16"):
        ours, theirs = fw.finfo(getattr(fw, dt)), torch.finfo(getattr(torch, dt))
        assert (ours.bits, ours.eps, ours.max, ours.min, ours.tiny) == (theirs.bits, theirs.eps, theirs.max,
                                                                          theirs.min, theirs.tiny)
    for dt in ("uint8", "int8", "int32", "int64"):
        assert (fw.iinfo(getattr(fw, dt)).max, fw.iinfo(getattr(fw, dt)).min) == (
            torch.iinfo(getattr(torch, dt)).max, torch.iinfo(getattr(torch, dt)).min)
    with pytest.raises(TypeError, match="not an integer dtype"):
        fw.iinfo(fw.float32)


def test_unsupported_names_say_so():
    for owner, name in ((fw.nn, "Conv3d"), (fw.nn.functional, "grid_sample"), (fw.optim, "LBFGS"),
                        (fw.optim.lr_scheduler, "CyclicLR"), (fw.nn.utils, "weight_norm"), (fw, "fft")):
        with pytest.raises(AttributeError, match=f"{name} is not supported"):
            getattr(owner, name)
        assert not hasattr(owner, name)
    with pytest.raises(AttributeError, match="has no attribute 'Conv4d'"):
        fw.nn.Conv4d  # noqa: B018 - a plain typo keeps Python's usual message
    net = fw.nn.Sequential(fw.nn.Linear(2, 2), fw.nn.Sequential(fw.nn.ReLU()))
    assert isinstance(net.get_submodule("1.0"), fw.nn.ReLU) and net.get_parameter("0.bias") is net[0].bias
    with pytest.raises(AttributeError, match="no submodule '1.3'"):
        net.get_submodule("1.3")


def test_transformer_encoder_layer_matches_torch(device, rng):
    torch_layer = torch.nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True).double()
    ours = fw.nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True)
    ours.load_state_dict({k: v.float() for k, v in torch_layer.state_dict().items()})
    ours = ours.to(device)
    x, xr = pair(rng.standard_normal((2, 5, 4)), device)
    padding = np.array([[False] * 5, [False, False, False, True, True]])
    out = ours(x, src_key_padding_mask=fw.tensor(padding, device=device))
    ref = torch_layer(xr, src_key_padding_mask=torch.tensor(padding))
    assert rel_err(out, ref) <= 1e-5
    _backward_both(out, ref, rng)
    assert rel_err(x.grad, xr.grad) <= 1e-5
    assert rel_err(ours.self_attn.in_proj_weight.grad, torch_layer.self_attn.in_proj_weight.grad) <= 1e-5
    with pytest.raises(NotImplementedError, match="kdim"):
        fw.nn.MultiheadAttention(4, 2, kdim=3)


def test_atan2_and_fmod_match_torch(device, rng):
    (y, yr), (x, xr) = pair(rng.standard_normal((3, 5)), device), pair(rng.standard_normal(5), device)
    out, ref = fw.atan2(y, x), torch.atan2(yr, xr)
    assert rel_err(out, ref) <= 1e-6
    _backward_both(out, ref, rng)
    assert rel_err(y.grad, yr.grad) <= 1e-5 and rel_err(x.grad, xr.grad) <= 1e-5  # x broadcast: summed back
    divisors = rng.uniform(0.5, 2, 9) * rng.choice([-1, 1], 9)
    (a, ar), (b, br) = pair(rng.standard_normal(9) * 5, device), pair(divisors, device)
    out, ref = fw.fmod(a, b), torch.fmod(ar, br)
    assert rel_err(out, ref) <= 1e-5
    _backward_both(out, ref, rng)
    assert rel_err(a.grad, ar.grad) <= 1e-6 and rel_err(b.grad, br.grad) <= 1e-5
    ints = np.arange(-7, 8)
    for d in (3, -4):
        assert fw.fmod(fw.tensor(ints, device=device), d).tolist() == torch.fmod(torch.tensor(ints), d).tolist()


def test_conv_transpose1d_matches_torch(device, rng):
    (x, xr), (w, wr), (b, br) = (pair(rng.standard_normal(s), device) for s in ((2, 4, 5), (4, 3, 3), (6,)))
    out = fw.nn.functional.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1, groups=2, dilation=2)
    ref = torch.nn.functional.conv_transpose1d(xr, wr, br, stride=2, padding=1, output_padding=1, groups=2,
                                               dilation=2)
    assert rel_err(out, ref) <= 1e-5
    _backward_both(out, ref, rng)
    for ours, theirs in ((x, xr), (w, wr), (b, br)):
        assert rel_err(ours.grad, theirs.grad) <= 1e-5
    with pytest.raises(ValueError, match="output_padding"):
        fw.nn.ConvTranspose1d(2, 2, 3, stride=1, output_padding=1)


@pytest.mark.parametrize("name, kwargs", [("Adamax", dict(lr=0.05, weight_decay=0.1)),
                                          ("NAdam", dict(lr=0.05, decoupled_weight_decay=True, weight_decay=0.1)),
                                          ("RAdam", dict(lr=0.05, betas=(0.8, 0.9)))])
def test_adam_variants_match_torch(device, rng, name, kwargs):
    w0, b0 = rng.standard_normal((2, 3)), rng.standard_normal(2)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    (w, wr), (b, br) = pair(w0, device), pair(b0, device)
    ours = getattr(fw.optim, name)([w, b], **kwargs)
    theirs = getattr(torch.optim, name)([wr, br], **kwargs)
    xs, ys = fw.tensor(x.astype(np.float32), device=device), fw.tensor(y.astype(np.float32), device=device)
    for _ in range(7):  # RAdam with beta2=0.9 takes the rectified branch from step 6
        for opt, loss in ((ours, ((xs @ w.t() + b - ys) ** 2).mean()),
                          (theirs, ((torch.tensor(x) @ wr.t() + br - torch.tensor(y)) ** 2).mean())):
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert rel_err(w.detach(), wr) <= 1e-5 and rel_err(b.detach(), br) <= 1e-5
