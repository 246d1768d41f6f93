"""``DistributedDataParallel``: data-parallel training on torch.distributed (gloo on CPUs, NCCL on GPUs).

One process per device (``torchrun`` starts them; ``torch.distributed.init_process_group`` joins them). Each
process holds a full replica of the model and a shard of every global batch; after backward every replica
holds the same averaged gradient, so identical optimizer steps keep the replicas identical. Nothing of the
communication is re-implemented here: the collectives are torch.distributed's, run on kernelgrad's own
storage without a copy (a ``cpu`` array through ``torch.from_numpy``, a ``triton`` array *is* a torch tensor,
a ``cupy`` array through DLPack).

How a step goes (PyTorch's design, in miniature):

* **Construction** checks that every rank has the same parameters (names, shapes, dtypes) and broadcasts
  parameters and buffers from rank 0, so replicas start equal whatever each process initialised.
* **Buckets.** The parameters that require grad, in *reverse* registration order (roughly the order backward
  produces their gradients), are packed into buckets of up to ``bucket_cap_mb`` MiB (by default 25, and
  then the first bucket only 1 MiB, as in PyTorch), one dtype per bucket, each with a flat buffer
  allocated once.
* **Overlap.** A post-accumulate-grad hook on every parameter (the autograd engine calls it as soon as that
  leaf's gradient is complete, while backward goes on) marks it ready; when a bucket's last parameter is
  ready its gradients are copied into the flat buffer, divided by the world size and all-reduced with
  ``async_op=True`` -- the communication runs while backward computes earlier layers. Buckets launch in
  index order on every rank, the order collectives must match in. The first hook of a pass queues an engine
  callback (:func:`framework.autograd.queue_callback`) that runs when backward ends: it waits for every
  bucket and copies the averaged gradients back into each ``.grad``.
* **no_sync()** skips all of that: gradients accumulate locally, and the first backward after the block
  (whose forward ran outside it) reduces the accumulated sum -- gradient accumulation without
  communication on every micro-batch. The decision is taken at forward, as in PyTorch.
* **Unused parameters.** With ``find_unused_parameters=False`` (the default) a parameter that gets no
  gradient in a pass makes the pass end with a RuntimeError naming it (PyTorch reports it at the next
  forward). With ``True`` the missing gradients count as zeros in the average, their buckets are reduced
  when backward ends (no overlap for them), and a parameter that no rank used keeps ``.grad`` untouched
  (None if it was), as in PyTorch; one extra small all-reduce per pass finds those.
* **Dropout.** The forward runs inside :func:`framework.random.sample_shard`, so each row's dropout mask
  is the one its global sample gets in a single process with the global batch (rank ``r``'s row ``j`` is
  global row ``r + world_size * j``: the layout :class:`~framework.utils.data.DistributedSampler` gives).
  Together with the averaged gradient this makes N processes train exactly like one process with the
  global batch, up to the rounding of the all-reduce's sums.
* **Buffers** (BatchNorm's running statistics) are broadcast from rank 0 before each forward when
  ``broadcast_buffers`` is true. BatchNorm still normalises with each process's local batch statistics
  (there is no SyncBatchNorm), so a model with BatchNorm does not match the single-process run exactly.
* **Streams** (the ``cupy`` device on a GPU): CuPy queues its kernels on its own stream and NCCL reads the
  buffers from torch's; before a collective torch's current stream waits for CuPy's, and after it CuPy's
  waits for torch's (:class:`StreamBridge`). No host synchronisation is added.

Verified here (CPU, gloo, world sizes 1-3, in CI): parameters after k steps equal the single-process run's
with the global batch, ``no_sync`` accumulation, uneven last batches, unused parameters, the ``cpu`` and
``triton`` (interpreter) devices and the ``cupy`` device on its emulator; the stream ordering on fakes.
NCCL and the GPU stream bridge have not run on a GPU yet.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ... import autograd
from ... import random as _random
from ..module import Module

__all__ = ["DistributedDataParallel", "StreamBridge", "as_torch"]

#: PyTorch's ``dist._DEFAULT_FIRST_BUCKET_BYTES``: a small first bucket starts communication early.
FIRST_BUCKET_BYTES = 1 << 20
DEFAULT_BUCKET_CAP_MB = 25


def as_torch(array: Any) -> Any:
    """A torch tensor sharing ``array``'s memory (numpy through ``from_numpy``, others through DLPack).

    Raises: TypeError for an array torch cannot view (a dtype it lacks).
    """
    import torch

    if isinstance(array, torch.Tensor):
        return array
    try:
        if isinstance(array, np.ndarray):
            return torch.from_numpy(array)
        return torch.from_dlpack(array)
    except (TypeError, RuntimeError, BufferError) as exc:
        raise TypeError(f"DistributedDataParallel: torch.distributed cannot reduce a {type(array).__name__} of "
                        f"dtype {getattr(array, 'dtype', '?')} ({exc})") from None


class StreamBridge:
    """Orders CuPy's stream and torch's around a collective on CuPy memory (the ``cupy`` device on a GPU).

    ``before_collective``: torch's current stream (where NCCL's work is ordered) waits for everything CuPy has
    queued (the gradients, the bucket copy). ``after_collective``: CuPy's current stream waits for the
    collective's result, which ``work.wait()`` has put on torch's current stream. Both are device-side waits.
    ``cupy`` and ``torch`` are the modules (tests pass fakes that record the calls).
    """

    def __init__(self, cupy: Any, torch: Any) -> None:
        self.cupy, self.torch = cupy, torch

    def before_collective(self) -> None:
        producer = self.torch.cuda.ExternalStream(self.cupy.cuda.get_current_stream().ptr)
        self.torch.cuda.current_stream().wait_stream(producer)

    def after_collective(self) -> None:
        event = self.cupy.cuda.Event(disable_timing=True)
        event.record(self.cupy.cuda.ExternalStream(self.torch.cuda.current_stream().cuda_stream))
        self.cupy.cuda.get_current_stream().wait_event(event)


class _Bucket:
    """Parameters reduced together: ``slices[i]`` is parameter ``i``'s ``(start, stop)`` in ``flat``."""

    def __init__(self, params: list, xp: Any) -> None:
        self.params = params
        self.slices, start = [], 0
        for p in params:
            self.slices.append((start, start + p.numel()))
            start += p.numel()
        self.flat = xp.concat([xp.reshape(p._data, (-1,)) for p in params])  # on the parameters' device
        self.view = as_torch(self.flat)
        self.pending = len(params)
        self.work: Any = None


def _buckets(params: list, first_cap_bytes: int, cap_bytes: int, xp: Any) -> list[_Bucket]:
    """Pack ``params`` (in the order given) into buckets: the first up to ``first_cap_bytes``, then ``cap_bytes``
    (a parameter larger than the cap gets a bucket of its own)."""
    buckets, current, size = [], [], 0
    for p in params:
        nbytes = p.numel() * p.element_size()
        limit = first_cap_bytes if not buckets else cap_bytes
        if current and (size + nbytes > limit or p.dtype != current[0].dtype):
            buckets.append(_Bucket(current, xp))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current, xp))
    return buckets


class DistributedDataParallel(Module):
    """PyTorch's ``DistributedDataParallel(module, ...)``: averages gradients over the processes of the group.

    ``torch.distributed.init_process_group`` must have run (``torchrun`` sets the environment); ``gloo`` takes
    every device, ``nccl`` GPU memory only. The wrapped model is ``self.module`` (state_dict keys get the
    ``module.`` prefix, as in PyTorch). See the module docstring for buckets, overlap, ``no_sync`` and
    unused parameters.

    Args:
        module: the model (its parameters on one device).
        device_ids, output_device, dim: accepted as in PyTorch for one device per process (at most one id).
        broadcast_buffers: broadcast rank 0's buffers before every forward (None: True).
        init_sync: check the ranks' parameters and broadcast rank 0's at construction.
        process_group: a torch.distributed group (None: the default group).
        bucket_cap_mb: bucket size in MiB (None: 25).
        find_unused_parameters: allow parameters without a gradient in a pass (see above).
        check_reduction, gradient_as_bucket_view, static_graph: accepted; they change no result here
            (gradients are copied out of the buckets; the graph is not cached).

    Raises:
        RuntimeError: no process group is initialised, or the ranks' parameters differ.
        TypeError: ``module`` is not a Module.
        ValueError: several device ids, parameters on several devices, host memory under NCCL, a
            non-positive ``bucket_cap_mb``, or an option kernelgrad does not support (``mixed_precision``,
            ``device_mesh``, ``delay_all_reduce_named_params``, ``param_to_hook_all_reduce``,
            ``skip_all_reduce_unused_params``).
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0,
                 broadcast_buffers: bool | None = True, init_sync: bool = True, process_group: Any = None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 delay_all_reduce_named_params: Any = None, param_to_hook_all_reduce: Any = None,
                 mixed_precision: Any = None, device_mesh: Any = None,
                 skip_all_reduce_unused_params: bool = False) -> None:
        super().__init__()
        import torch.distributed as dist

        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a framework.nn.Module, got "
                            f"{type(module).__name__}")
        unsupported = {"delay_all_reduce_named_params": delay_all_reduce_named_params,
                       "param_to_hook_all_reduce": param_to_hook_all_reduce, "mixed_precision": mixed_precision,
                       "device_mesh": device_mesh,
                       "skip_all_reduce_unused_params": skip_all_reduce_unused_params or None}
        for name, value in unsupported.items():
            if value is not None:
                raise ValueError(f"DistributedDataParallel: {name} is not supported by kernelgrad (got {value!r})")
        if device_ids is not None and len(list(device_ids)) > 1:
            raise ValueError(f"DistributedDataParallel: one device per process; got device_ids={list(device_ids)}")
        default_cap = bucket_cap_mb is None
        if default_cap:
            bucket_cap_mb = DEFAULT_BUCKET_CAP_MB
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, int | float) or not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError("DistributedDataParallel: the default process group has not been initialized; call "
                               "torch.distributed.init_process_group first (torchrun sets its environment)")

        self.module = module
        self.device_ids = None if device_ids is None else list(device_ids)
        self.output_device, self.dim = output_device, dim
        self.broadcast_buffers = True if broadcast_buffers is None else bool(broadcast_buffers)
        self.process_group = process_group
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view, self.static_graph = bool(gradient_as_bucket_view), bool(static_graph)
        self.bucket_bytes_cap = int(bucket_cap_mb * (1 << 20))
        #: False inside :meth:`no_sync`: the next backward keeps its gradients local.
        self.require_backward_grad_sync = True
        self.rank = dist.get_rank(process_group)
        self.world_size = dist.get_world_size(process_group)
        self._src = dist.get_global_rank(process_group, 0) if process_group is not None else 0

        named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        self._names = {id(p): name for name, p in named}
        devices = {p.backend.name for _, p in named} | {b.backend.name for b in module.buffers()}
        if len(devices) > 1:
            raise ValueError(f"DistributedDataParallel: the module's parameters and buffers are on several devices "
                             f"({sorted(devices)}); move it to one with module.to(device)")
        backend = named[0][1].backend if named else None
        if backend is not None and dist.get_backend(process_group) == "nccl" and not backend.is_gpu:
            raise ValueError(f"DistributedDataParallel: the {backend.name!r} device keeps its arrays in host memory, "
                             "which NCCL cannot reduce; init_process_group('gloo') for it")
        self._bridge = None
        if backend is not None and backend.name == "cupy" and backend.is_gpu:
            import cupy
            import torch

            self._bridge = StreamBridge(cupy, torch)
        if init_sync:
            self._check_same_parameters(dist, module)
            for array in [p._data for p in module.parameters()] + [b._data for b in module.buffers()]:
                self._broadcast(dist, array)

        params = [p for _, p in reversed(named)]
        first_cap = FIRST_BUCKET_BYTES if default_cap else self.bucket_bytes_cap  # PyTorch's rule
        self._buckets = _buckets(params, first_cap, self.bucket_bytes_cap, backend.xp) if params else []
        self._bucket_of = {id(p): bucket for bucket in self._buckets for p in bucket.params}
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params]
        self._reset_pass(sync=False)

    # ------------------------------------------------------------------------------------------- forward

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        import torch.distributed as dist

        if self.broadcast_buffers:
            for buffer in self.module.buffers():
                self._broadcast(dist, buffer._data)
        self._reset_pass(sync=autograd.is_grad_enabled() and self.require_backward_grad_sync)
        shard = contextlib.nullcontext() if _random.current_shard() is not None else \
            _random.sample_shard(self.rank, self.world_size)
        with shard:
            return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Within the block, forward passes are not followed by gradient reduction: gradients accumulate
        locally; the next backward of a forward outside the block reduces the accumulated sum."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ------------------------------------------------------------------------------------------ the pass

    def _reset_pass(self, sync: bool) -> None:
        for bucket in self._buckets:
            if bucket.work is not None:  # a pass that raised midway: let its collective finish first
                with contextlib.suppress(Exception):
                    bucket.work.wait()
            bucket.work, bucket.pending = None, len(bucket.params)
        self._sync = sync
        self._ready: set[int] = set()
        self._next_bucket = 0

    def _grad_ready(self, param: Any) -> None:
        """Post-accumulate-grad hook: ``param.grad`` is complete for this pass."""
        if not self._sync:
            return
        if id(param) in self._ready:
            raise RuntimeError(f"DistributedDataParallel: parameter {self._names[id(param)]!r} got a gradient twice "
                               "after one forward (a second backward through the same graph); run forward again")
        if not self._ready:
            autograd.queue_callback(self._finish_pass)
        self._ready.add(id(param))
        self._bucket_of[id(param)].pending -= 1
        self._launch_ready_buckets()

    def _launch_ready_buckets(self) -> None:
        import torch.distributed as dist

        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0:
            bucket = self._buckets[self._next_bucket]
            for p, (start, stop) in zip(bucket.params, bucket.slices):
                bucket.flat[start:stop] = 0 if p.grad is None else p.grad._data.reshape(-1)
            if self._bridge is not None:
                self._bridge.before_collective()
            bucket.view.div_(self.world_size)  # PyTorch's default hook: divide, then sum
            bucket.work = dist.all_reduce(bucket.view, op=dist.ReduceOp.SUM, group=self.process_group,
                                          async_op=True)
            self._next_bucket += 1

    def _finish_pass(self) -> None:
        """Engine callback at the end of backward: reduce what is left, wait, write the averages to ``.grad``."""
        import torch
        import torch.distributed as dist

        locally_used = set(self._ready)
        missing = [p for bucket in self._buckets for p in bucket.params if id(p) not in self._ready]
        globally_unused: set[int] = set()
        if missing:
            if not self.find_unused_parameters:
                self._sync = False
                names = ", ".join(repr(self._names[id(p)]) for p in missing[:10])
                raise RuntimeError(
                    f"DistributedDataParallel: {len(missing)} parameter(s) got no gradient in this backward pass "
                    f"({names}{', ...' if len(missing) > 10 else ''}). Every rank must reduce every parameter: "
                    "pass find_unused_parameters=True to DistributedDataParallel if some parameters do not "
                    "take part in producing the loss, or make sure all forward outputs enter the loss")
            for p in missing:
                self._bucket_of[id(p)].pending -= 1
            self._launch_ready_buckets()
            # One flag per parameter summed over the ranks: zero means no rank used it (its .grad stays as is).
            params = [p for bucket in self._buckets for p in bucket.params]
            used = torch.tensor([float(id(p) in locally_used) for p in params],
                                device=self._buckets[0].view.device)  # NCCL reduces device memory only
            dist.all_reduce(used, op=dist.ReduceOp.SUM, group=self.process_group)
            globally_unused = {id(p) for p, count in zip(params, used.tolist()) if count == 0}
        for bucket in self._buckets:
            bucket.work.wait()
            bucket.work = None
        if self._bridge is not None:
            self._bridge.after_collective()
        self._sync = False
        for bucket in self._buckets:
            xp = bucket.params[0].backend.xp
            for p, (start, stop) in zip(bucket.params, bucket.slices):
                if id(p) in globally_unused:
                    continue
                average = xp.reshape(bucket.flat[start:stop], tuple(p.shape))
                if p.grad is None:
                    p._accumulate_grad(average)  # copies: the bucket is reused next pass
                else:
                    p.grad._write("DistributedDataParallel", ..., average)

    # ------------------------------------------------------------------------------------------- helpers

    def _broadcast(self, dist: Any, array: Any) -> None:
        if self._bridge is not None:  # CuPy wrote the array (a BatchNorm buffer, say) on its own stream
            self._bridge.before_collective()
        dist.broadcast(as_torch(array), src=self._src, group=self.process_group)
        if self._bridge is not None:
            self._bridge.after_collective()

    def _check_same_parameters(self, dist: Any, module: Module) -> None:
        """Every rank must hold the same parameters; each rank compares all ranks' lists, so all raise alike."""
        mine = [(name, tuple(p.shape), str(p.dtype)) for name, p in module.named_parameters()]
        everyone: list[Any] = [None] * self.world_size
        dist.all_gather_object(everyone, mine, group=self.process_group)
        for rank, theirs in enumerate(everyone):
            if theirs != everyone[0]:
                diff = next(((a, b) for a, b in zip(everyone[0], theirs) if a != b), (len(everyone[0]), len(theirs)))
                raise RuntimeError(f"DistributedDataParallel: rank {rank}'s parameters differ from rank 0's "
                                   f"(rank 0 {diff[0]}, rank {rank} {diff[1]}); every process must build the "
                                   "same model")

    def extra_repr(self) -> str:
        return f"world_size={self.world_size}, buckets={len(self._buckets)}"
