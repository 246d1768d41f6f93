"""``fit(cuda_graph=True)`` / :class:`framework.train.GraphStep` checked on the CPU against a stand-in graph.

No GPU here, so no CUDA graph: :class:`FakeGraphs` records the step by running it once (refusing host reads while
it does, as CUDA refuses a sync during capture) and "replays" it by running the recorded function again. What that
checks is everything on this side of CUDA: the warm-up / capture / replay logic, the static input buffers, the
dropout offsets in device memory (fresh masks per replay, equal to eager training's), ``capturable=True`` Adam
against the eager fused step, learning-rate changes without a new capture, the fallback messages, and
``kernelgrad train cnn --cuda-graph`` on the cpu device. Most of it runs on the ``cpu`` device, whose numpy arrays
take device offsets and the capturable step too (fast); the dropout offsets also on ``triton`` under the
interpreter (the Triton kernel's device-offset path). Whether CUDA accepts the recording is not checked: GPU only.
"""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest

import framework as fw
from framework import nn, optim
from framework import random as fw_random
from framework.data import DataLoader, TensorDataset
from framework.nn import functional as F
from framework.tensor import Tensor
from framework.train import GraphStep, fit
from framework.train.cuda_graph import RerunGraphs, TorchCUDAGraphs, _RerunGraph, capture_problem


class FakeGraph(_RerunGraph):
    """Records ``fn`` by running it (host reads refused meanwhile, as CUDA refuses a sync while capturing); a
    replay runs it again."""

    def capture(self, fn):
        with _no_host_reads():
            super().capture(fn)


class FakeGraphs(RerunGraphs):
    """framework's RerunGraphs, counting the graphs it made and the warm-up steps, refusing host reads."""

    def __init__(self):
        self.graphs, self.warmups = [], 0

    def new_graph(self):
        self.graphs.append(FakeGraph())
        return self.graphs[-1]

    @contextlib.contextmanager
    def warmup(self):
        self.warmups += 1
        yield


@contextlib.contextmanager
def _no_host_reads():
    def refuse(self):
        raise RuntimeError("operation not permitted when stream is capturing (a host read)")

    saved, Tensor.numpy = Tensor.numpy, refuse
    try:
        yield
    finally:
        Tensor.numpy = saved


@pytest.fixture(autouse=True)
def _gpu_value_checks(monkeypatch):
    """The value checks a GPU skips (a target's class range: a host read, refused while recording) are off here
    too, as on a GPU without KERNELGRAD_SYNC_CHECKS=1; the stand-in graph would refuse them like CUDA does."""
    monkeypatch.setenv("KERNELGRAD_SYNC_CHECKS", "0")


def _data(n=14, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


def _model(device, seed, capturable, dropout=0.5):
    fw.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(dropout), nn.Linear(8, 3)).to(device).double()
    return model, optim.Adam(model.parameters(), lr=0.05, fused=True, capturable=capturable)


def _flat(model):
    return np.concatenate([p.numpy().ravel() for p in model.parameters()])


# ------------------------------------------------------------------------------------ dropout offsets

@pytest.mark.parametrize("device", ["cpu", "triton"])
def test_replays_draw_fresh_masks_equal_to_eager_ones(device, test_seed):
    if device not in fw.available_devices():
        pytest.skip(f"device {device} is not available here")
    x, z = fw.ones(3, 8, device=device), fw.ones(6, device=device)

    fw.manual_seed(test_seed)
    eager = [(F.dropout(x, 0.5), F.dropout(z, 0.5)) for _ in range(3)]  # three steps of two calls
    extra = F.dropout(z, 0.5)  # an eager draw between steps
    eager.append((F.dropout(x, 0.5), F.dropout(z, 0.5)))
    host_offset = fw_random._philox_offset

    fw.manual_seed(test_seed)
    stream = fw_random.DevicePhilox(fw.ones(1, device=device).backend)
    out = {}

    def step():
        with fw_random.use_device_philox(stream):
            out["a"], out["b"] = F.dropout(x, 0.5), F.dropout(z, 0.5)

    graph = FakeGraph()
    graph.capture(step)
    stream.replayed()
    got = [(out["a"].numpy(), out["b"].numpy())]
    for _ in range(2):
        stream.sync()
        graph.replay()
        stream.replayed()
        got.append((out["a"].numpy(), out["b"].numpy()))
    np.testing.assert_array_equal(F.dropout(z, 0.5).numpy(), extra.numpy())  # eager draws continue the stream
    stream.sync()  # which moved the host's offset: the device position is rewritten before the next replay
    graph.replay()
    stream.replayed()
    got.append((out["a"].numpy(), out["b"].numpy()))

    for (a, b), (ea, eb) in zip(got, eager):
        np.testing.assert_array_equal(a, ea.numpy())
        np.testing.assert_array_equal(b, eb.numpy())
    masks = [a != 0 for a, _ in got]
    assert all(not np.array_equal(masks[0], m) for m in masks[1:])  # a fresh mask every replay
    assert fw_random._philox_offset == host_offset


def test_device_philox_misuse_raises():
    stream = fw_random.DevicePhilox(fw.ones(1).backend)
    with pytest.raises(RuntimeError, match="no step has been recorded"):
        stream.replayed()
    with fw_random.use_device_philox(stream), pytest.raises(RuntimeError, match="do not nest"):
        with fw_random.use_device_philox(stream):
            pass
    fw.manual_seed(12345)
    with pytest.raises(RuntimeError, match="seed changed"), fw_random.use_device_philox(stream):
        pass


# ------------------------------------------------------------------------------- the step, on a stand-in

def test_graph_step_follows_the_eager_fused_step_batch_by_batch(test_seed):
    """Triton under the interpreter, float64: every step's loss and logits, the static buffers, the parameters and
    the optimizer state against eager training with ``fused=True`` (non-capturable) on the same batches."""
    x, y = _data(10)
    batches = [(fw.tensor(x[i:i + 4], device="triton"), fw.tensor(y[i:i + 4], device="triton"))
               for i in range(0, 10, 4)] * 2  # 4, 4, 2 rows, twice
    loss_fn, lines = nn.CrossEntropyLoss(), []
    eager_model, eager_opt = _model("triton", test_seed, capturable=False)  # seeds the dropout stream too
    eager = []
    for i, batch in enumerate(batches):
        if i == 3:  # a scheduler's step between epochs
            eager_opt.param_groups[0]["lr"] = 0.02
        eager_opt.zero_grad()
        out = eager_model(batch[0])
        loss = loss_fn(out, batch[1])
        loss.backward()
        eager_opt.step()
        eager.append((float(loss), out.numpy(), _flat(eager_model)))

    model, opt = _model("triton", test_seed, capturable=True)  # the same weights and dropout stream
    graphs = FakeGraphs()
    step = GraphStep(model, loss_fn, opt, warmup=1, graphs=graphs, log=lines.append)
    for i, (batch, (loss, out, weights)) in enumerate(zip(batches, eager)):
        if i == 3:  # the device copy of lr follows, no new capture
            opt.param_groups[0]["lr"] = 0.02
        values = step(batch)
        if batch[0].shape[0] == 4 and step.captures:
            np.testing.assert_array_equal(step._x.numpy(), batch[0].numpy())  # the static buffers hold the batch
            np.testing.assert_array_equal(step._y.numpy(), batch[1].numpy())
        np.testing.assert_allclose(float(values["loss"]), loss, rtol=1e-12)
        np.testing.assert_allclose(values["output"].numpy(), out, rtol=1e-12)
        np.testing.assert_allclose(_flat(model), weights, rtol=1e-12, atol=1e-15)

    # warm-up, capture on batch 2 (this stand-in runs the step while recording it) as two graphs (forward+backward,
    # the optimizer step), replays of the next epoch's full batches, the 2-row batches eager
    assert (graphs.warmups, step.captures, step.replays, len(graphs.graphs)) == (1, 1, 2, 2)
    assert step.reason is None
    assert lines == ["cuda_graph: a batch of (2, 4) is not the captured (4, 4): such batches run eagerly (an "
                     "epoch's last, partial batch; drop_last=True avoids it)"]
    for p, q in zip(model.parameters(), eager_model.parameters()):
        state, eager_state = opt.state[p], eager_opt.state[q]
        assert float(state["step"]) == eager_state["step"] == 6
        np.testing.assert_allclose(state["exp_avg_sq"].numpy(), eager_state["exp_avg_sq"].numpy(), rtol=1e-12)
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    assert fw_random._philox_offset > 0


def test_fit_cuda_graph_trains_as_eager_fit(test_seed):
    """fit with a GraphStep (cpu device, stand-in graph) gives eager fit's history and weights, across a
    scheduler's lr changes and partial batches; the loss is read once per epoch."""
    x, y = _data(18)
    histories, weights = [], []
    for graph in (False, True):
        model, opt = _model("cpu", test_seed, capturable=graph)
        loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=test_seed)
        scheduler = optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
        step = GraphStep(model, nn.CrossEntropyLoss(), opt, warmup=2, graphs=FakeGraphs(), log=None) if graph \
            else None
        histories.append(fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=3, scheduler=scheduler,
                             progress=False, log=None, step=step))
        weights.append(_flat(model))
    assert step.captures == 1 and step.replays == 3 * 4 - 3  # 4 full batches per epoch, 2 warm-up, 1 capture
    np.testing.assert_allclose(weights[1], weights[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(histories[1].train_loss, histories[0].train_loss, rtol=1e-12)
    assert histories[1].train_acc == histories[0].train_acc
    assert histories[1].lr == histories[0].lr == [0.05, 0.025, 0.0125]


def test_changed_settings_record_the_step_again(test_seed):
    x, y = _data(8)
    batch = (fw.tensor(x[:4]), fw.tensor(y[:4]))
    model, opt = _model("cpu", test_seed, capturable=True)
    lines = []
    step = GraphStep(model, nn.CrossEntropyLoss(), opt, warmup=1, graphs=FakeGraphs(), log=lines.append)
    for _ in range(3):
        step(batch)
    assert step.captures == 1
    opt.param_groups[0]["weight_decay"] = 0.1  # fixed in the recording: one eager step, then a new recording
    step(batch)
    assert step.captures == 1
    step(batch)
    assert step.captures == 2
    model[0].weight.requires_grad_(False)
    step(batch)
    step(batch)
    assert step.captures == 3 and len(lines) == 2 and "recording it again after one eager step" in lines[0]


# ------------------------------------------------------------------------------------ fallbacks

def test_cpu_device_warns_and_trains_eagerly(test_seed):
    x, y = _data(12)
    weights = []
    for cuda_graph in (False, True):
        model, opt = _model("cpu", test_seed, capturable=cuda_graph)
        loader = DataLoader(TensorDataset(x, y), batch_size=4)
        context = pytest.warns(UserWarning, match="cuda_graph: the cpu device computes with numpy on the host.*"
                                                  "training eagerly") if cuda_graph else contextlib.nullcontext()
        with context:
            fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1, progress=False, log=None, cuda_graph=cuda_graph)
        weights.append(_flat(model))
    np.testing.assert_allclose(weights[1], weights[0], rtol=1e-12, atol=1e-15)


class _HostBranch(nn.Module):
    """A forward whose control flow reads the device (``.item()``): CUDA refuses to record it."""

    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(4, 3)

    def forward(self, x):
        out = self.inner(x)
        return out * 2 if out.sum().item() > 0 else out


def test_a_step_that_reads_the_host_falls_back_with_the_reason(test_seed):
    x, y = _data(12)
    batches = [(fw.tensor(x[i:i + 4]), fw.tensor(y[i:i + 4])) for i in range(0, 12, 4)]
    results = []
    for graph in (False, True):
        fw.manual_seed(test_seed)
        model = _HostBranch().double()
        opt = optim.Adam(model.parameters(), lr=0.05, capturable=True)
        step = GraphStep(model, nn.CrossEntropyLoss(), opt, warmup=1, graphs=FakeGraphs()) if graph else None
        for batch in batches:
            if graph and batch is batches[1]:
                with pytest.warns(UserWarning, match=r"recording the step failed \(RuntimeError: operation not "
                                                     r"permitted when stream is capturing.*training eagerly"):
                    step(batch)
            elif graph:
                step(batch)
            else:
                opt.zero_grad()
                nn.CrossEntropyLoss()(model(batch[0]), batch[1]).backward()
                opt.step()
        results.append(_flat(model))
    assert step.captures == 0 and "recording the step failed" in step.reason
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-15)


class _Param:
    def __init__(self, name):
        self.backend = type("B", (), {"name": name})()
        self._data = np.zeros(1)


def test_the_reasons_for_training_eagerly():
    graphs = TorchCUDAGraphs()
    assert "cpu device" in graphs.problem(_Param("cpu"))
    assert "CuPy's streams" in graphs.problem(_Param("cupy"))
    if "triton" in fw.available_devices():
        model, _ = _model("triton", 0, capturable=True)
        if not fw.cuda.is_available():
            assert "Triton's CPU interpreter" in capture_problem(model, None)
    model, _ = _model("cpu", 0, capturable=True)
    assert "capturable=True" in capture_problem(model, optim.Adam(model.parameters()), FakeGraphs())
    assert "Adam and AdamW" in capture_problem(model, optim.SGD(model.parameters(), lr=0.1), FakeGraphs())
    assert capture_problem(model, optim.AdamW(model.parameters(), capturable=True), FakeGraphs()) is None
    assert capture_problem(nn.ReLU(), None, FakeGraphs()) == "the model has no parameters"
    with pytest.warns(UserWarning, match="construct it with capturable=True"):
        step = GraphStep(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()), graphs=FakeGraphs())
    assert step.reason is not None
    with pytest.raises(ValueError, match="warmup must be an int >= 1"):
        GraphStep(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), capturable=True), warmup=0)
    x, y = _data(4)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    opt = optim.Adam(model.parameters(), capturable=True)
    custom = lambda batch: {"loss": 0.0, "output": model(batch[0]), "target": batch[1]}  # noqa: E731
    with pytest.warns(UserWarning, match="records its default step only"):
        fit(model, nn.CrossEntropyLoss(), opt, loader, progress=False, log=None, step=custom, cuda_graph=True)


# --------------------------------------------------------------------------------- capturable Adam

def test_capturable_adam_state_dict_round_trip_and_lr_copies(test_seed):
    rng = np.random.default_rng(test_seed)
    init = rng.standard_normal((3, 5))

    def run(capturable, steps, opt=None, p=None, start=0):
        if p is None:
            p = nn.Parameter(fw.tensor(init))
            opt = optim.AdamW([p], lr=0.05, amsgrad=True, fused=True, capturable=capturable)
        for t in range(start, start + steps):
            p.grad = fw.tensor(np.sin(3 * p.numpy()) + t)
            opt.step()
            opt.param_groups[0]["lr"] *= 0.9
        return p, opt

    p_ref, _ = run(False, 6)
    p, opt = run(True, 3)
    state = opt.state_dict()
    assert isinstance(state["state"][0]["step"], Tensor) and float(state["state"][0]["step"]) == 3
    opt.sync_device_lr()
    lr_copy = next(iter(opt._lr_arrays.values()))[2]
    assert float(lr_copy) == opt.param_groups[0]["lr"]  # rewritten: the float changed after the last step
    q = nn.Parameter(fw.tensor(p.numpy()))
    resumed = optim.AdamW([q], lr=0.05, amsgrad=True, fused=True, capturable=True)
    resumed.load_state_dict(state)
    assert resumed.state[q]["step"] == 3  # an int from a state dict, moved to the device at the next step
    run(True, 3, resumed, q, start=3)
    np.testing.assert_allclose(q.numpy(), p_ref.numpy(), rtol=1e-12)
    assert float(resumed.state[q]["step"]) == 6 and float(state["state"][0]["step"]) == 3  # the dict holds copies


def test_graph_step_records_the_fused_capturable_kernel_with_its_table_built_before(test_seed, monkeypatch):
    """``fused=True, capturable=True`` under the stand-in graph (triton, interpreter): the optimizer step is its own
    recording, made after ``prepare_capture`` built the launch table for the gradients the first recording made --
    so recording it uploads nothing -- and every step is ONE ``optim_step.adam_step`` call reading device step
    counts and lr (the per-parameter array operations never run)."""
    from framework.optim import adam
    from kernels.triton import optim_step

    if "triton" not in fw.available_devices():
        pytest.skip("the triton device is not available here")
    recording, calls, uploads = [False], [], []
    monkeypatch.setattr(adam.Adam, "_capturable_update_each", lambda *a: pytest.fail("per-parameter path"))
    monkeypatch.setattr(optim_step, "_table", lambda *a, _t=optim_step._table: uploads.append(recording[0]) or _t(*a))
    original = optim_step.adam_step
    monkeypatch.setattr(optim_step, "adam_step", lambda *a, **k: calls.append(k) or original(*a, **k))

    class Recording(FakeGraphs):
        def new_graph(self):
            graph = super().new_graph()
            capture = graph.capture

            def flagged(fn):
                recording[0] = True
                try:
                    capture(fn)
                finally:
                    recording[0] = False

            graph.capture = flagged
            return graph

    x, y = _data(8)
    batch = (fw.tensor(x[:4], device="triton"), fw.tensor(y[:4], device="triton"))
    model, opt = _model("triton", test_seed, capturable=True)
    step = GraphStep(model, nn.CrossEntropyLoss(), opt, warmup=1, graphs=Recording(), log=None)
    step(batch)  # warm-up: state, step vector, table (one upload)
    assert uploads == [False] and len(calls) == 1
    step(batch)  # capture: prepare_capture uploads between the recordings, the recorded step reuses it
    assert uploads == [False, False] and step.captures == 1
    assert [k["launch"] for k in calls] == [True, False, True]
    assert all(not isinstance(k["step"], int) and k["table_cache"] is not None for k in calls)
    assert step._held and all(table is not None for _, table in step._held)  # kept for the recording's lifetime
    step(batch)  # a replay (the stand-in reruns the Python: its new gradients would need a new table)
    assert step.replays == 1 and [float(opt.state[p]["step"]) for p in model.parameters()] == [3.0] * 4


# ----------------------------------------------------------------------------------------- the CLI

def test_train_cnn_cuda_graph_on_cpu_says_why_and_trains(tmp_path, capsys):
    from framework.cli import main

    out = tmp_path / "run"
    assert main(["train", "cnn", "--device", "cpu", "--cuda-graph", "--epochs", "1", "--limit", "48",
                 "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "cuda_graph: the cpu device computes with numpy on the host" in text and "training eagerly" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["cuda_graph"]["requested"] is True and metrics["cuda_graph"]["captured"] is False
    assert "cpu device" in metrics["cuda_graph"]["reason"]
