"""PyTorch names kernelgrad deliberately does not have, so that reaching one gives a clear error.

A package's module-level ``__getattr__`` (made by :func:`module_getattr`) turns ``fw.nn.Conv3d`` into an
AttributeError that says the name is PyTorch's and not supported here (rather than a bare "has no
attribute", which reads like a typo). It stays an AttributeError so ``hasattr`` and ``getattr(m, n, None)``
keep working.
"""

from __future__ import annotations

from collections.abc import Callable

#: module (as ``framework`` spells it) -> the torch names it deliberately lacks (the API coverage table's).
UNSUPPORTED: dict[str, tuple[str, ...]] = {
    "framework": ("cumprod", "cummax", "kron", "fft", "stft", "searchsorted", "histc",
                  "sparse_coo_tensor", "compile", "jit", "distributions", "autocast", "amp", "set_default_dtype",
                  "set_num_threads", "use_deterministic_algorithms", "FloatTensor", "LongTensor", "DoubleTensor",
                  "IntTensor", "ByteTensor", "BoolTensor", "HalfTensor"),
    "framework.cuda": ("amp", "Stream", "Event", "memory_allocated", "max_memory_allocated", "get_device_name"),
    "framework.nn": ("Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "EmbeddingBag",
                     "AlphaDropout", "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "Unfold", "Fold",
                     "CTCLoss", "MaxUnpool2d", "LocalResponseNorm", "SyncBatchNorm", "LazyLinear", "LazyConv2d"),
    "framework.nn.functional": ("conv3d", "unfold", "fold", "grid_sample", "affine_grid",
                                "ctc_loss", "max_unpool2d", "multi_head_attention_forward"),
    "framework.nn.utils": ("weight_norm", "spectral_norm", "prune", "parametrize", "parametrizations"),
    "framework.optim": ("LBFGS", "SparseAdam", "ASGD", "Rprop"),
    "framework.optim.lr_scheduler": ("CyclicLR", "ChainedScheduler"),
}


def module_getattr(module: str) -> Callable[[str], object]:
    """The ``__getattr__`` for ``module``: a clear AttributeError for PyTorch names it lacks."""
    torch_name = module.replace("framework", "torch", 1)
    known = frozenset(UNSUPPORTED.get(module, ()))

    def __getattr__(name: str) -> object:
        if name in known:
            raise AttributeError(f"{module}.{name} is not supported: kernelgrad has no counterpart of "
                                 f"{torch_name}.{name} (see README, porting)")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
