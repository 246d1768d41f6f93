"""The ``kernelgrad`` command line: ``kernelgrad train MODEL``, ``devices``, ``bench``, ``gpu-check`` and the others.

Each command lives in a module of :mod:`framework.commands` that defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(parser, args) -> exit status``; this file only lists them
(:data:`TRAIN_COMMANDS` become ``kernelgrad train NAME``, :data:`OTHER_COMMANDS` top-level commands).
Command modules import the framework lazily, inside ``run``, so ``kernelgrad --help`` stays fast.
``python -m framework.cli`` (or ``python -m framework``) runs the same command line.
"""

from __future__ import annotations

import argparse
import re
import sys

from .commands import (
    cv,
    gpu_check,
    style,
    train_autoencoder,
    train_cnn,
    train_gan,
    train_rnn,
    train_superres,
    train_vae,
    visualize,
)

__all__ = ["main", "TRAIN_COMMANDS", "OTHER_COMMANDS"]

#: ``kernelgrad train <NAME>`` commands.
TRAIN_COMMANDS = [train_cnn, train_autoencoder, train_vae, train_gan, train_rnn, train_superres]
#: Other top-level commands (besides ``devices`` and ``bench``).
OTHER_COMMANDS: list = [cv, visualize, gpu_check, style]


def _description(module) -> str:
    """The first paragraph of a command module's docstring, without reStructuredText markup (for --help)."""
    text = module.__doc__.split("\n\n")[0]
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)  # :func:`name` -> name
    return text.replace("``", "")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kernelgrad", description="kernelgrad: train models and inspect devices.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser("train", help="train a model and write a run folder",
                                description="Train a model and write a run folder.")
    models = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    for module in TRAIN_COMMANDS:
        sub = models.add_parser(module.NAME, help=module.HELP, description=_description(module))
        sub.set_defaults(parser=sub, run=module.run)  # errors found after parsing print this command's usage
        module.add_arguments(sub)
    for module in OTHER_COMMANDS:
        sub = commands.add_parser(module.NAME, help=module.HELP, description=_description(module))
        sub.set_defaults(parser=sub, run=module.run)
        module.add_arguments(sub)

    commands.add_parser("devices", help="list devices and whether they work here",
                        description="List registered devices, their availability and what 'cuda' resolves to.")

    # The options mirror benchmarks/kernels.py's build_parser; they are spelled out here so that parsing
    # (and --help) does not import torch or the benchmarks package.
    bench = commands.add_parser("bench", help="benchmark the GPU kernels against PyTorch",
                                description="Time every kernel family, forward and forward+backward, for each GPU "
                                            "kernel backend against PyTorch eager; print a table and write JSON.")
    bench.add_argument("--family", action="append", default=None,
                       choices=["conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout"],
                       help="benchmark only this family (repeatable; default: all five)")
    bench.add_argument("--backends", default="triton,cupy",
                       help="comma-separated kernel backends (default triton,cupy; "
                            "one that fails to import is skipped)")
    bench.add_argument("--quick", action="store_true", help="one shape per family instead of the full suite")
    bench.add_argument("--out", default=None, help="JSON path (default benchmarks/results/kernels-<gpu>-<date>.json)")
    bench.add_argument("--allow-cpu", action="store_true",
                       help="without a GPU, run a tiny smoke suite on the CPU (tests the harness; not a benchmark)")
    # Not restricted with choices=: the families are the ladder packages on disk, which benchmarks/ladder.py
    # finds (and refuses an unknown one with exit 2) without parsing having to import anything.
    bench.add_argument("--ladder", metavar="FAMILY", default=None,
                       help="benchmark every rung of FAMILY's optimisation ladders (kernels/{triton,cupy}/ladder/"
                            "FAMILY, e.g. conv2d) against cuDNN instead; without a GPU a dry run: FLOPs, bytes, "
                            "predictions and static facts, no times (uses --backends, --out; --quick: batch 32 only)")
    bench.add_argument("--train-step", action="store_true",
                       help="time whole training steps instead (benchmarks/train_step.py): DigitsCNN and a ResNet-ish "
                            "CNN, kernelgrad eager and CUDA graph (the --backends' variants) against PyTorch eager "
                            "and torch.compile; without a GPU the CPU comparison of benchmarks/cpu_train_step.py "
                            "(uses --backends, --out; --quick: DigitsCNN only, 50 steps, no torch.compile)")
    bench.add_argument("--dry-run", action="store_true",
                       help="with --train-step: tiny shapes on the CPU (interpreter, emulator, stand-in graph), one "
                            "step per variant: checks the harness, its numbers mean nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kernelgrad`` console script.

    Args:
        argv: arguments without the program name (None: ``sys.argv[1:]``).

    Returns:
        the exit status (0; ``bench`` returns 2 when there is no GPU and no ``--allow-cpu``, except
        ``bench --ladder``, whose CPU dry run prints predictions and static facts and returns 0, and
        ``bench --train-step``, which without a GPU runs the CPU comparison and returns 0).

    Raises:
        SystemExit: code 2 for a usage error, an unknown or unavailable device, or unusable data.
    """
    parser = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # what a command that starts worker processes hands them (--nproc-per-node)
    if args.command == "devices":
        return _devices()
    if args.command == "bench":
        return _bench(args)
    return args.run(args.parser, args)


# ------------------------------------------------------------------------------------------ devices


def _devices() -> int:
    from . import backend

    available = [name for name in backend.available_devices() if name != "cuda"]
    unavailable = backend.unavailable_devices()
    width = max(len(name) for name in [*available, *unavailable, "cuda"])
    for name in available:
        print(f"{name:<{width}}  available")
    for name, reason in unavailable.items():
        print(f"{name:<{width}}  unavailable  ({reason})")
    try:
        target = backend.get_backend("cuda").name
        print(f"{'cuda':<{width}}  -> {target}")
    except RuntimeError:
        print(f"{'cuda':<{width}}  -> unavailable (no GPU backend works here)")
    print(f"best device: {backend.best_device()}")
    return 0


# -------------------------------------------------------------------------------------------- bench


def _bench(args: argparse.Namespace) -> int:
    try:
        # Imported here, not at the top: it imports torch, which `kernelgrad --help` should not wait for.
        from benchmarks import kernels as kernel_bench
    except ImportError as exc:
        print(f"kernelgrad bench: cannot import the benchmarks package ({exc}). It ships with kernelgrad; an "
              "editable install made before it did needs `pip install -e .` again.", file=sys.stderr)
        return 2
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    if args.dry_run and not args.train_step:
        print("kernelgrad bench: --dry-run goes with --train-step (bench --ladder is a dry run by itself without a "
              "GPU)", file=sys.stderr)
        return 2
    if args.train_step:
        if args.ladder is not None or args.family:
            print("kernelgrad bench: --train-step does not combine with --ladder or --family (it times whole "
                  "training steps, not one family)", file=sys.stderr)
            return 2
        from benchmarks import train_step

        train_step.main(train_step_argv(backends, quick=args.quick, out=args.out, dry_run=args.dry_run))
        return 0
    if args.ladder is not None:
        if args.family:
            print("kernelgrad bench: --ladder and --family do not combine (the ladder benchmark covers one family)",
                  file=sys.stderr)
            return 2
        from benchmarks import ladder

        return ladder.run_ladder(args.ladder, backends=backends, quick=args.quick, out=args.out)
    return kernel_bench.run_bench(families=args.family, backends=backends, quick=args.quick, out=args.out,
                                  allow_cpu=args.allow_cpu)


def train_step_argv(backends: list[str], *, quick: bool, out: str | None, dry_run: bool) -> list[str]:
    """``bench --train-step``'s options as ``python -m benchmarks.train_step`` arguments: the kernelgrad variants of
    ``backends`` (triton: eager and CUDA graph; cupy: eager; others have none) and PyTorch's always; ``quick``:
    DigitsCNN only, 50 timed steps after 10 warm-up ones, no torch.compile (its compile time dominates a quick
    run). Without a GPU train_step itself runs the CPU comparison (its --steps / --warmup), or the dry run."""
    variants = {"triton": ["kernelgrad-triton-eager", "kernelgrad-triton-graph"], "cupy": ["kernelgrad-cupy-eager"]}
    chosen = [v for name in backends for v in variants.get(name, [])]
    chosen += ["torch-eager"] + ([] if quick else ["torch-compile"])
    argv = [a for v in chosen for a in ("--variant", v)]
    if quick:
        argv += ["--model", "digits"] + ([] if dry_run else ["--steps", "50", "--warmup", "10"])
    if out is not None:
        argv += ["--out", out]
    if dry_run:
        argv.append("--dry-run")
    return argv


if __name__ == "__main__":
    sys.exit(main())
