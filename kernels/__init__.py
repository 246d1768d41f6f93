"""Raw compute kernels, no autograd; subpackages ``numpy``, ``triton``, ``cupy`` share function names."""
