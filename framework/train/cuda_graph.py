"""A training step recorded once as a CUDA graph and replayed for every batch: ``fit(..., cuda_graph=True)``.

Why: a DigitsCNN step at batch 256 is a few dozen small kernels, and eager kernelgrad should spend more time in
Python launching them than the GPU spends running them (a prediction: no GPU has measured it). A CUDA graph
records the launches of one step -- forward, backward and the optimizer update -- and a replay submits all of them
with one call.

How (:class:`GraphStep`, the ``step`` :func:`~.loop.fit` calls per batch):

1. **Warm-up.** The first ``warmup`` batches (default 3) train eagerly, on a side stream (torch's recipe): Triton
   compiles and autotunes every kernel for these shapes, and the optimizer makes its state -- nothing of that
   may happen while recording.
2. **Capture.** The next batch is copied into static input buffers and one step on them is recorded
   (``torch.cuda.graph``), as two graphs: ``zero_grad``, forward, loss, backward; then ``optimizer.step()``.
   Between the two the optimizer prepares the step for the gradients the first recording made
   (:meth:`~framework.optim.Optimizer.prepare_capture`: the fused capturable Adam uploads its launch table, which
   holds the gradients' addresses -- known only once the backward pass was recorded, and an upload is host work a
   recording must not contain). Recording runs the Python once and the GPU not at all; the graphs are then
   replayed for that batch.
3. **Replay.** Every later batch of the same shape is copied into the static buffers and both graphs replayed
   (two ``replay()`` calls: a few microseconds of host time more than one graph, a prediction).
   The step's loss, logits and gradients land in the tensors made while recording, which the step returns
   (fit accumulates the loss and accuracy on the device and reads them once per epoch; the progress bar, when
   shown, reads the loss every 10 batches).

What a replay cannot do is run Python, so everything the step reads from the host had to move to the device:

* dropout's Philox offset: :class:`framework.random.DevicePhilox` -- each dropout call takes a device offset,
  the step's end advances it on the device, and the host keeps the same count without reading it; the masks
  are bit-identical to eager training's;
* the optimizer's step count and learning rate: ``capturable=True`` (Adam, AdamW); a scheduler's new ``lr`` is
  written into the device copy before the next replay (:meth:`~framework.optim.Optimizer.sync_device_lr`), no
  new capture. With ``fused=True`` as well (what ``--cuda-graph`` builds) the recorded update is about a dozen
  launches whatever the model -- one fused ``optim_step`` kernel and the tiny device operations forming its
  bias corrections -- instead of about 13 per parameter (``capturable=True`` alone).

Anything else the step reads on the host is fixed at capture: module attributes (dropout's ``p``), train/eval
modes, which parameters require grad, the other hyperparameters, the dropout seed. A change to any of the last four
is noticed before the next replay: that batch trains eagerly and the next one records the step again (logged); a
module attribute changed in place is not noticed. A batch of another shape -- an epoch's
last, partial batch -- runs eagerly (logged once): capturing a second graph for it would cost more than it saves
on one batch per epoch, and ``drop_last=True`` on the loader avoids it altogether.

Where the step cannot be captured it trains eagerly and says why, once (a ``UserWarning``): on the ``cpu``
device (numpy on the host: no GPU work to record), on ``cupy`` (CuPy launches on its own streams, which this
does not record), under Triton's CPU interpreter, with an optimizer whose step reads the host (not
``capturable=True``), or when recording itself fails -- e.g. a model whose forward reads a value on the host
(``.item()``, ``if tensor:``), which CUDA refuses during capture. This is what a PyTorch user gets from
``torch.compile(mode="reduce-overhead")``, which skips CUDA graphs for CPU tensors with a message rather than
failing.

The graph is made by ``graphs`` (:class:`TorchCUDAGraphs` by default); :class:`RerunGraphs` is a stand-in that
records the step by running it and "replays" it by running the recorded function again, on any device -- how the
capture logic is checked on the CPU (tests/test_cuda_graph_step.py, ``benchmarks/train_step.py --dry-run``).
Unverified on a GPU: no GPU was available when this was written.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from .. import random as _random
from ..autograd import no_grad

__all__ = ["GraphStep", "RerunGraphs", "TorchCUDAGraphs", "capture_problem"]

#: Eager steps before the capture (torch's examples use 3; Triton needs one per shape to compile and tune).
DEFAULT_WARMUP = 3


class Graph(Protocol):
    """One recorded step: ``capture(fn)`` records ``fn``, ``replay()`` runs the recording again.
    ``ran_during_capture``: whether capturing also ran ``fn``'s work (a CUDA graph does not)."""

    ran_during_capture: bool

    def capture(self, fn: Callable[[], None]) -> None: ...

    def replay(self) -> None: ...


class Graphs(Protocol):
    """What :class:`GraphStep` needs from a graph implementation."""

    def new_graph(self) -> Graph: ...

    def warmup(self) -> contextlib.AbstractContextManager: ...

    def problem(self, param: Any) -> str | None: ...


class _TorchGraph:
    ran_during_capture = False

    def __init__(self) -> None:
        import torch

        self._torch = torch
        self._graph = torch.cuda.CUDAGraph()

    def capture(self, fn: Callable[[], None]) -> None:
        with self._torch.cuda.graph(self._graph):  # its own side stream; Triton launches on torch's current one
            fn()

    def replay(self) -> None:
        self._graph.replay()


class TorchCUDAGraphs:
    """CUDA graphs through ``torch.cuda.CUDAGraph`` for the ``triton`` device (its arrays are torch CUDA tensors
    and Triton launches on torch's current stream, so torch's capture records them)."""

    def new_graph(self) -> Graph:
        return _TorchGraph()

    @contextlib.contextmanager
    def warmup(self) -> Iterator[None]:
        """Eager warm-up steps on a side stream (``torch.cuda.graph``'s documented recipe)."""
        import torch

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            yield
        torch.cuda.current_stream().wait_stream(side)

    def problem(self, param: Any) -> str | None:
        """Why a step over parameters like ``param`` (a Tensor) cannot be captured here; None if it can."""
        device = param.backend.name
        if device == "cpu":
            return ("the cpu device computes with numpy on the host: there is no GPU work to capture (CUDA graphs "
                    "need the triton device on an NVIDIA GPU)")
        if device == "cupy":
            return ("the cupy device launches its kernels on CuPy's streams, which this capture does not record "
                    "(only the triton device is captured)")
        if device != "triton":
            return f"the {device} device has no CUDA-graph capture here (only the triton device is captured)"
        if not getattr(param._data, "is_cuda", False):  # the triton device's tensors live on the CPU
            return ("the triton device is running under Triton's CPU interpreter (TRITON_INTERPRET=1, no GPU): "
                    "there is no CUDA stream to capture")
        return None


class _RerunGraph:
    ran_during_capture = True

    def capture(self, fn: Callable[[], None]) -> None:
        fn()
        self._fn = fn

    def replay(self) -> None:
        self._fn()


class RerunGraphs:
    """A stand-in for CUDA graphs on any device: "capture" runs the step (and keeps the function), "replay" runs
    it again. Every replay then does what a CUDA graph's would -- the same step on the static buffers, with the
    device-side dropout offset and optimizer state -- but with all of the host's launch cost, so it checks
    :class:`GraphStep`'s logic, never its speed or whether CUDA accepts the recording."""

    def new_graph(self) -> Graph:
        return _RerunGraph()

    def warmup(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def problem(self, param: Any) -> str | None:
        return None


def capture_problem(model: Any, optimizer: Any, graphs: Graphs | None = None) -> str | None:
    """Why the default training step of ``model`` with ``optimizer`` cannot be captured by ``graphs`` (default
    :class:`TorchCUDAGraphs`), or None when it can. The reasons are the ones :class:`GraphStep` warns with."""
    param = next(iter(model.parameters()), None)
    if param is None:
        return "the model has no parameters"
    problem = (graphs or TorchCUDAGraphs()).problem(param)
    if problem is None and optimizer is not None:
        problem = optimizer.capture_problem()
    return problem


class GraphStep:
    """The default training step (``zero_grad``, ``loss_fn(model(inputs), targets)``, backward,
    ``optimizer.step()``) as a CUDA graph: warm-up, capture, replay (module docstring). A ``step`` for
    :func:`~.loop.fit`: ``step(batch) -> {"loss": 0-d Tensor, "output": logits, "target": targets}`` -- the
    loss stays on the device (no host sync per batch).

    Args:
        model, loss_fn, optimizer: as :func:`~.loop.loss_step`; the optimizer must be ``capturable=True``.
        warmup: eager steps before the capture (>= 1: the optimizer's state is made there).
        graphs: the graph implementation (default :class:`TorchCUDAGraphs`).
        log: called with the informational lines (a recapture, the eager partial batch); None: silent.

    Attributes:
        reason: why the step trains eagerly (None while it captures).
        captures: how many times the step was recorded; replays: how many replays ran.

    Raises:
        ValueError: ``warmup`` < 1.
    """

    def __init__(self, model: Any, loss_fn: Callable, optimizer: Any, *, warmup: int = DEFAULT_WARMUP,
                 graphs: Graphs | None = None, log: Callable[[str], Any] | None = None):
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
            raise ValueError(f"GraphStep: warmup must be an int >= 1 (the optimizer's state is made in the eager "
                             f"warm-up steps), got {warmup!r}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.warmup = warmup
        self.graphs = graphs if graphs is not None else TorchCUDAGraphs()
        self.log = log
        self.reason: str | None = None
        self.captures = 0
        self.replays = 0
        self._warmed = 0
        self._graph: list[Graph] | None = None  # the recorded forward+backward, then the optimizer step
        self._said: set[str] = set()
        problem = capture_problem(model, optimizer, self.graphs)
        if problem is not None:
            self._give_up(problem)

    # ----------------------------------------------------------------------------------- the step

    def __call__(self, batch: Sequence[Any]) -> dict[str, Any]:
        if self.reason is not None:
            return self._eager(batch)
        inputs, targets = batch
        shapes, settings = self._signature(inputs, targets)
        if self._graph is not None and (shapes, settings) != self._key:
            if settings == self._key[1]:
                self._say("shape", f"cuda_graph: a batch of {tuple(inputs.shape)} is not the captured "
                                   f"{tuple(self._x.shape)}: such batches run eagerly (an epoch's last, partial "
                                   "batch; drop_last=True avoids it)")
                return self._eager(batch)
            self._say(f"again{self.captures}", "cuda_graph: the step's host-side settings changed (modes, "
                                              "requires_grad, hyperparameters other than lr, or the seed): "
                                              "recording it again after one eager step")
            # one eager step first: a parameter that now requires grad gets its optimizer state outside the
            # recording (made inside it, the state's zero-fill would be replayed every step)
            self._graph = None
            self._warmed = self.warmup - 1
        if self._graph is None:
            if self._warmed < self.warmup:
                with self.graphs.warmup():
                    values = self._eager(batch)
                self._warmed += 1
                return values
            return self._capture(batch, (shapes, settings))
        return self._replay(batch)

    def _eager(self, batch: Sequence[Any]) -> dict[str, Any]:
        inputs, targets = batch
        self.optimizer.zero_grad()
        output = self.model(inputs)
        loss = self.loss_fn(output, targets)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), "output": output, "target": targets}

    def _capture(self, batch: Sequence[Any], key: tuple) -> dict[str, Any]:
        inputs, targets = batch
        with no_grad():
            self._x, self._y = inputs.detach().clone(), targets.detach().clone()
        self._rng = _random.DevicePhilox(inputs.backend)
        self.optimizer.sync_device_lr()  # nothing may be written from the host while recording
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        outputs: dict[str, Any] = {}

        def forward_backward() -> None:  # recorded once; a stand-in graph runs it again per replay
            with _random.use_device_philox(self._rng):
                self.optimizer.zero_grad(set_to_none=True)  # backward then writes fresh gradients, no accumulation
                output = self.model(self._x)
                loss = self.loss_fn(output, self._y)
                loss.backward()
            outputs.update(loss=loss.detach(), output=output.detach(), target=self._y)
            self._grads = [(p, p.grad) for p in params]

        def optimizer_step() -> None:
            self.optimizer.step()

        graphs = [self.graphs.new_graph(), self.graphs.new_graph()]
        try:
            graphs[0].capture(forward_backward)
            # the gradients now exist (made by the recording, at the addresses every replay writes): the fused
            # capturable optimizer uploads its launch table for them here, between the two recordings
            held = self.optimizer.prepare_capture()
            graphs[1].capture(optimizer_step)
        except Exception as exc:  # noqa: BLE001 -- any failure to record means: train eagerly, and say why
            for p in params:  # gradients made while recording point at memory no kernel has written
                p.grad = None
            hint = "; KERNELGRAD_SYNC_CHECKS=1 reads values on the host, which no capture allows" \
                if os.environ.get("KERNELGRAD_SYNC_CHECKS") == "1" else ""
            self._give_up(f"recording the step failed ({type(exc).__name__}: {exc}{hint})")
            return self._eager(batch)
        self._graph, self._key, self._outputs, self._held = graphs, key, outputs, held
        self.captures += 1
        if not graphs[0].ran_during_capture:
            for graph in graphs:
                graph.replay()
            self.replays += 1
        self._rng.replayed()
        return dict(outputs)

    def _replay(self, batch: Sequence[Any]) -> dict[str, Any]:
        inputs, targets = batch
        with no_grad():
            self._x.copy_(inputs)
            self._y.copy_(targets)
        self._rng.sync()
        self.optimizer.sync_device_lr()
        for graph in self._graph:
            graph.replay()
        self.replays += 1
        self._rng.replayed()
        for p, grad in self._grads:  # an eager step in between set them to its own
            p.grad = grad
        return dict(self._outputs)

    # ------------------------------------------------------------------------------- bookkeeping

    def _signature(self, inputs: Any, targets: Any) -> tuple[tuple, tuple]:
        """(the batch's shapes and dtypes, everything else the recording fixed on the host)."""
        shapes = (tuple(inputs.shape), str(inputs.dtype), tuple(targets.shape), str(targets.dtype))
        modes = tuple(m.training for m in self.model.modules())
        grads = tuple(p.requires_grad for p in self.model.parameters())
        hyper = tuple((k, repr(v)) for group in self.optimizer.param_groups for k, v in group.items()
                      if k not in ("params", "lr", "initial_lr"))
        return shapes, (modes, grads, hyper, _random._philox_seed)

    def _give_up(self, reason: str) -> None:
        self.reason = reason
        self._graph = None
        warnings.warn(f"cuda_graph: {reason}; training eagerly", UserWarning, stacklevel=3)

    def _say(self, key: str, line: str) -> None:
        if key not in self._said:
            self._said.add(key)
            if self.log is not None:
                self.log(line)
