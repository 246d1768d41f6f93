"""fw.save / fw.load: round trips of state dicts and nested containers, a safe format, atomic writes."""

from __future__ import annotations

import io
import json
import math
import os
import struct
from collections import OrderedDict

import numpy as np
import pytest
import torch

import framework as fw
from framework import nn, optim


def _assert_same_tensor(a, b):
    assert isinstance(b, fw.Tensor) and a.dtype == b.dtype and a.shape == b.shape and a.device == b.device
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_round_trip_nested(device, rng, tmp_path):
    shared = fw.tensor(rng.standard_normal((2, 3)).astype(np.float32), device=device)
    obj = {
        "weights": OrderedDict([("a", shared), ("b", fw.tensor(rng.integers(0, 9, (4,)), device=device))]),
        "again": shared,  # the same tensor twice: stored once, loaded as one object
        "scalar": fw.tensor(3.5, dtype=fw.float64, device=device),
        "flags": fw.tensor([True, False], device=device),
        "leaf": fw.ones(2, device=device, requires_grad=True),
        "half": fw.tensor([0.5, -2.0], dtype=fw.float16, device=device),
        "numbers": [1, -2.5, float("nan"), float("inf"), None, True, "text", (1, (2, "x"))],
        3: {"int keys": 1, (1, 2): "tuple key"},
        "array": rng.standard_normal(3),
        "meta": {"dtype": fw.long, "device": fw.device(device)},
        "empty": fw.zeros(0, 3, device=device),
    }
    fw.save(obj, tmp_path / "obj.pt")
    back = fw.load(tmp_path / "obj.pt")
    assert isinstance(back["weights"], OrderedDict) and list(back["weights"]) == ["a", "b"]
    _assert_same_tensor(shared, back["weights"]["a"])
    assert back["again"] is back["weights"]["a"]
    for key in ("scalar", "flags", "half", "empty"):
        _assert_same_tensor(obj[key], back[key])
    _assert_same_tensor(obj["weights"]["b"], back["weights"]["b"])
    assert back["leaf"].requires_grad and back["leaf"].is_leaf and not back["scalar"].requires_grad
    numbers = back["numbers"]
    assert numbers[:2] == [1, -2.5] and math.isnan(numbers[2]) and numbers[3:] == [math.inf, None, True, "text",
                                                                                     (1, (2, "x"))]
    assert type(numbers[5]) is bool and type(numbers[0]) is int
    assert back[3] == {"int keys": 1, (1, 2): "tuple key"}
    np.testing.assert_array_equal(back["array"], obj["array"])
    assert back["meta"]["dtype"] == "int64" and isinstance(back["meta"]["dtype"], fw.DType)
    assert isinstance(back["meta"]["device"], fw.device) and back["meta"]["device"] == device
    assert os.listdir(tmp_path) == ["obj.pt"]  # no temporaries left


def test_map_location(device, tmp_path):
    t = fw.arange(4, device=device).float()
    fw.save({"t": t}, tmp_path / "t.pt")
    for where in ("cpu", fw.device("cpu"), {device: "cpu"}, lambda storage, loc: storage):
        moved = fw.load(tmp_path / "t.pt", map_location=where)["t"]
        assert moved.device == "cpu" and moved.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert fw.load(tmp_path / "t.pt", map_location={"elsewhere": "cpu"})["t"].device == device
    assert fw.load(tmp_path / "t.pt", map_location=device, weights_only=True)["t"].device == device
    with pytest.raises(TypeError, match="map_location must be"):
        fw.load(tmp_path / "t.pt", map_location=3)


def test_model_and_adam_state_dict(rng, tmp_path):
    """A model and its Adam state after a step survive save/load: the restored pair takes the same next step.
    (cpu only: the per-device part, tensors placed back on their device, is test_round_trip_nested's.)"""
    device = "cpu"
    fw.manual_seed(int(rng.integers(2**31)))
    x = fw.tensor(rng.standard_normal((5, 4)).astype(np.float32), device=device)

    def make():
        model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).to(device)
        return model, optim.Adam(model.parameters(), lr=0.05, betas=(0.8, 0.9))

    def step(model, opt):
        opt.zero_grad()
        (model(x) ** 2).sum().backward()
        opt.step()

    model, opt = make()
    step(model, opt)
    fw.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1}, tmp_path / "ckpt.pt")
    loaded = fw.load(tmp_path / "ckpt.pt")
    assert loaded["epoch"] == 1 and loaded["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.9)
    assert set(loaded["optimizer"]["state"]) == {0, 1, 2, 3}  # int keys, as torch's optimizer state

    model2, opt2 = make()
    model2.load_state_dict(fw.load(tmp_path / "ckpt.pt")["model"])
    opt2.load_state_dict(loaded["optimizer"])
    for p, q in zip(model.parameters(), model2.parameters(), strict=True):
        _assert_same_tensor(p.detach(), q.detach())
    step(model, opt)
    step(model2, opt2)
    for p, q in zip(model.parameters(), model2.parameters(), strict=True):
        np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=1e-6, atol=1e-7)
        assert np.abs(p.numpy()).sum() > 0


def test_file_objects_and_parameters():
    buffer = io.BytesIO()
    p = nn.Parameter(fw.randn(3))
    fw.save([p, {"frozen": nn.Parameter(fw.ones(1), requires_grad=False)}], buffer)
    buffer.seek(0)
    q, rest = fw.load(buffer)
    assert isinstance(q, nn.Parameter) and q.requires_grad and q.tolist() == p.tolist()
    assert isinstance(rest["frozen"], nn.Parameter) and not rest["frozen"].requires_grad


def test_unsupported_objects_raise_and_leave_nothing(tmp_path):
    class Config:
        pass

    with pytest.raises(TypeError, match=r"Config \(at obj\['model'\]\['cfg'\]\)"):
        fw.save({"model": {"cfg": Config()}}, tmp_path / "bad.pt")
    with pytest.raises(TypeError, match="type builtins.set"):
        fw.save([{1, 2}], tmp_path / "bad.pt")
    with pytest.raises(TypeError, match="dtype <U1"):
        fw.save(np.array(["a"]), tmp_path / "bad.pt")
    assert os.listdir(tmp_path) == []
    fw.save({"ok": 1}, tmp_path / "keep.pt")
    with pytest.raises(TypeError):
        fw.save({"ok": object()}, tmp_path / "keep.pt")  # a failed save keeps the previous file intact
    assert fw.load(tmp_path / "keep.pt") == {"ok": 1} and os.listdir(tmp_path) == ["keep.pt"]


def test_load_refuses_foreign_files(tmp_path):
    from safetensors.numpy import save_file

    (tmp_path / "junk.pt").write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(ValueError, match="not a file written by fw.save"):
        fw.load(tmp_path / "junk.pt")
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="looks like a torch.save pickle, which kernelgrad never unpickles"):
        fw.load(buffer)
    save_file({"w": np.ones(2, np.float32)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ValueError, match="not a file written by fw.save"):
        fw.load(tmp_path / "plain.safetensors")
    # a newer format version is refused by name, not misread
    fw.save({"a": 1}, tmp_path / "new.pt")
    data = (tmp_path / "new.pt").read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    meta = json.loads(header["__metadata__"]["kernelgrad.save"])
    meta["version"] = 99
    header["__metadata__"]["kernelgrad.save"] = json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    (tmp_path / "new.pt").write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + size:])
    with pytest.raises(ValueError, match="format version 99"):
        fw.load(tmp_path / "new.pt")


def test_header_that_starts_like_a_pickle_loads():
    """A header length whose low byte is 0x80 (a pickle's first byte) is still our file, not a pickle."""
    for n in range(300):
        buffer = io.BytesIO()
        fw.save({"s": "x" * n}, buffer)
        if buffer.getvalue()[:1] == b"\x80":
            buffer.seek(0)
            assert fw.load(buffer) == {"s": "x" * n}
            return
    raise AssertionError("no header length ending in 0x80 was produced")
