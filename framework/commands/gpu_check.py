"""``kernelgrad gpu-check``: verify every GPU kernel against PyTorch float64, then benchmark and train, in one call.

The one command to run on a GPU machine. Six stages, each in its own subprocess with its own timeout
taken from ``--budget-s``: device facts and measured ceilings; a correctness check of every kernel family x
backend (triton, cupy) x dtype at realistic shapes; ``kernelgrad bench --quick``; ``kernelgrad train cnn``
on ``triton`` and on ``cupy``; and ``train cnn --device cuda`` data-parallel under torchrun (min(2, GPUs)
processes, NCCL). Results are written as each stage ends (``gpu-check.json``, ``gpu-check.md``,
``gpu-check.log``, ``bench.json`` under ``--out``); a short table is printed last; the exit status is 1 when
any check failed or any stage failed or timed out. ``--dry-run`` runs the same orchestration on the CPU
(Triton's interpreter, the CUDA emulator, tiny shapes, gloo for the data-parallel run): no measurements.
The stages live in :mod:`benchmarks.gpu_check`.
"""

from __future__ import annotations

import argparse
import sys

NAME = "gpu-check"
HELP = "verify, benchmark and train on a GPU in one call (--dry-run: the same on the CPU, no measurements)"

#: benchmarks.gpu_check.STAGES's names, spelled out so --help imports nothing
STAGE_NAMES = ("facts", "correctness", "bench", "train-triton", "train-cupy", "train-ddp")
DEFAULT_BUDGET_S = 390.0  # benchmarks.gpu_check.DEFAULT_BUDGET_S; spelled out so --help imports nothing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None,
                        help="output folder (default benchmarks/results/gpu-check-<gpu>-<date>/; "
                             "with --dry-run runs/gpu-check-dry-run-<time>/)")
    parser.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S,
                        help=f"seconds for the whole call, shared out among the stages (default {DEFAULT_BUDGET_S:g}: "
                             "under 7 minutes on an H100/H200 with Python's start)")
    parser.add_argument("--dry-run", action="store_true",
                        help="exercise every stage on the CPU (TRITON_INTERPRET=1, KERNELGRAD_CUDA_EMULATE=1, tiny "
                             "shapes); the files say DRY RUN and hold no measurements")
    parser.add_argument("--only", action="append", choices=STAGE_NAMES, default=None,
                        help="run only this stage (repeatable): to rerun the stages that failed; their results "
                             "replace those stages in the report already under --out")
    parser.add_argument("--seed", type=int, default=None,
                        help="base seed of the correctness checks' inputs (default: fresh, recorded in the report)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="correctness workers run at once (default: the number of CPUs)")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.budget_s <= 0:
        parser.error("--budget-s must be > 0")
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be >= 1")
    try:
        import torch
    except ImportError as exc:
        print(f"kernelgrad gpu-check: {exc}", file=sys.stderr)
        return 2
    if not args.dry_run and not torch.cuda.is_available():
        print("kernelgrad gpu-check: no CUDA GPU found (torch.cuda.is_available() is False). Run it on a GPU "
              "machine, or pass --dry-run to exercise it on the CPU (no measurements).", file=sys.stderr)
        return 2
    try:
        from benchmarks.gpu_check import run_gpu_check
    except ImportError as exc:
        print(f"kernelgrad gpu-check: cannot import the benchmarks package ({exc}). It ships with kernelgrad; an "
              "editable install made before it did needs `pip install -e .` again.", file=sys.stderr)
        return 2
    return run_gpu_check(out=args.out, budget_s=args.budget_s, dry_run=args.dry_run, seed=args.seed,
                         only=args.only, jobs=args.jobs)
