"""``nn.parallel``: ``DistributedDataParallel`` (one process per device, on torch.distributed) and the
single-device ``DataParallel`` / ``data_parallel`` that scripts written for several GPUs call."""

from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
