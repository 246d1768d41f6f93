"""The module-level ``torch`` namespaces scripts touch before any tensor exists: ``torch.accelerator``,
``torch.backends.cudnn`` / ``torch.backends.mps``, and ``nn.parallel`` (``DataParallel``,
``data_parallel``), which kernelgrad runs on one device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
import framework.backends.cudnn as cudnn
import framework.nn.parallel


def test_accelerator_agrees_with_cuda():
    assert fw.accelerator.is_available() is fw.cuda.is_available()
    assert fw.accelerator.device_count() == fw.cuda.device_count()
    if fw.cuda.is_available():
        assert fw.accelerator.current_accelerator() == "cuda"
        assert fw.accelerator.current_device_index() == 0
    else:
        assert fw.accelerator.current_accelerator() is None
        assert fw.accelerator.current_device_index() == -1


def test_backends_flags_are_settable_and_report_no_cudnn_or_mps():
    saved = cudnn.benchmark, cudnn.deterministic
    try:
        cudnn.benchmark = True
        fw.backends.cudnn.deterministic = True
        assert fw.backends.cudnn.benchmark is True and cudnn.deterministic is True
    finally:
        cudnn.benchmark, cudnn.deterministic = saved
    assert fw.backends.cudnn.is_available() is False and fw.backends.cudnn.version() is None
    assert fw.backends.mps.is_available() is False and fw.backends.mps.is_built() is False


def test_data_parallel_wraps_like_torch(device, rng):
    ours = fw.nn.Linear(5, 3).to(device)
    ref = torch.nn.Linear(5, 3)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(ours.weight.detach().numpy()))
        ref.bias.copy_(torch.from_numpy(ours.bias.detach().numpy()))
    wrapped, wrapped_ref = fw.nn.DataParallel(ours), torch.nn.DataParallel(ref)
    assert list(wrapped.state_dict()) == list(wrapped_ref.state_dict()) == ["module.weight", "module.bias"]
    assert [n for n, _ in wrapped.named_parameters()] == [n for n, _ in wrapped_ref.named_parameters()]
    x = rng.standard_normal((4, 5)).astype(np.float32)
    out = wrapped(fw.tensor(x, device=device))
    np.testing.assert_allclose(out.numpy(), wrapped_ref(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    fn_out = fw.nn.parallel.data_parallel(ours, fw.tensor(x, device=device), range(1))
    np.testing.assert_array_equal(fn_out.numpy(), out.numpy())
    assert fw.nn.parallel.data_parallel(ours, (fw.tensor(x, device=device),)).shape == (4, 3)


def test_data_parallel_refuses_several_devices():
    with pytest.raises(ValueError, match="one device per process"):
        fw.nn.DataParallel(fw.nn.Linear(2, 2), device_ids=[0, 1])
    with pytest.raises(ValueError, match=r"device_ids=\[0, 1\]"):
        framework.nn.parallel.data_parallel(fw.nn.Linear(2, 2), fw.ones(1, 2), range(2))
