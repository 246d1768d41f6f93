"""DLPack interop: kernelgrad tensors and torch/numpy arrays share memory without copies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw


def test_torch_reads_a_tensor_without_copying(device, rng):
    t = fw.tensor(rng.standard_normal((3, 5)).astype(np.float32), device=device)
    view = torch.from_dlpack(t)  # a CUDA tensor when t lives on a GPU
    np.testing.assert_array_equal(view.cpu().numpy(), t.numpy())
    view[1, 2] = 42.0
    assert t.numpy()[1, 2] == 42.0  # same memory, on the host or on the GPU


def test_from_dlpack_shares_host_memory():
    src = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    t = fw.from_dlpack(src)
    assert t.device == "cpu" and t.shape == (3, 4) and t.dtype == "float32"
    src[0, 0] = -5.0
    assert t.numpy()[0, 0] == -5.0
    a = np.arange(6, dtype=np.float64)
    t2 = fw.from_dlpack(a)
    a[3] = 9.5
    assert t2.numpy()[3] == 9.5


def test_from_dlpack_onto_another_device_copies(device):
    src = torch.arange(6, dtype=torch.float32)
    t = fw.from_dlpack(src, device=device)
    np.testing.assert_array_equal(t.numpy(), np.arange(6, dtype=np.float32))
    (t * 2).sum().item()  # usable on that device


def test_from_dlpack_rejects_non_dlpack_objects():
    with pytest.raises(TypeError, match="DLPack"):
        fw.from_dlpack([1.0, 2.0])


def test_round_trip_through_numpy(device, rng):
    x = rng.standard_normal(7).astype(np.float32)
    t = fw.tensor(x, device=device)
    back = fw.from_dlpack(t, device=device)
    np.testing.assert_array_equal(back.numpy(), x)


def test_cupy_is_optional_at_import():
    """Without cupy (and without the emulator) the cupy device is unavailable with a reason; cpu still works."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("cupy is installed here")
    code = ("import framework as fw; from framework.backend import unavailable_devices; "
            "t = fw.tensor([1.0, 2.0]); assert (t * 2).sum().item() == 6.0; "
            "assert 'cupy' not in fw.available_devices(); print(unavailable_devices()['cupy'])")
    env = dict(os.environ, KERNELGRAD_CUDA_EMULATE="0")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "cupy" in proc.stdout.lower()
