"""Optimisation ladders: for a kernel family, numbered versions of its kernels, each adding one idea.

``kernels/triton/ladder/<family>/`` holds one module per rung (``rung<N>_<idea>.py``), each exporting the
family's contract functions (ARCHITECTURE.md), so every rung runs through the family's shared tests and
benchmark. The package's ``RUNGS`` lists them bottom to top; the top rung is the production kernel
(``kernels/triton/<family>.py``). A rung's header says what changed from the rung below, the prediction
written before measuring, and -- once a GPU has measured it -- the outcome and why the two differ.
"""
