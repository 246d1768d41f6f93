"""Compile every CUDA C kernel through NVRTC for Hopper (sm_90) and Ampere (sm_80) — no GPU needed.

The CPU emulator that CI runs the CUDA C kernels on checks their arithmetic with g++, not what NVRTC
does with them on a GPU: which headers it finds, which template instantiations it can build, how many
registers ptxas gives each kernel, whether anything spills, whether the half-precision GEMMs became
tensor-core instructions.  This script does what the first launch on a GPU does, on a CPU machine:

1. **Collect.** Every ``SourceModule`` that a wrapper of ``kernels/cupy`` declares (``conv2d.py``'s
   ``MODULE``, ...) with its ``.cu`` file and *name expressions* — the instantiations the wrappers launch,
   so a new one is covered without touching this file — and likewise every optimisation-ladder rung with a
   ``.cu`` of its own (``kernels/cupy/ladder/<family>/rung*.py`` + ``.cu``: :func:`ladder_modules`).
2. **Compile.** ``kernels.cupy._runtime.nvrtc_compile`` — the function the GPU path calls: CuPy's own
   option assembly (``assemble_cupy_compiler_options``), kernelgrad's options (C++17, the kernel
   directory, the ``crt/`` headers of a pip-wheel CUDA, ``-ftz=false``), and CuPy's
   ``compile_using_nvrtc``, which adds ``-arch=sm_90`` / ``sm_80`` and produces the cubin a GPU would
   load.  The only differences from a GPU run: the architecture is given instead of read from a GPU, and
   ``--ptxas-options=-v`` is added so NVRTC's own ptxas reports registers, spills and shared memory.
3. **Read the result.** The PTX of the same program says whether a kernel uses tensor-core
   instructions (``wmma.mma`` / ``mma.sync`` / ``wgmma``) and whether any float32 instruction flushes
   subnormals (``.ftz``).

Two CUDA header setups, each in its own process (CuPy caches what it found): ``wheels`` — the pip wheels
only (``nvidia-cuda-runtime-cu12``, ``nvidia-cuda-nvrtc-cu12``, ``nvidia-cuda-nvcc-cu12``: the usual
case next to a CUDA build of torch; no toolkit is searched); ``toolkit`` — a CUDA toolkit through
``CUDA_PATH`` (``$KERNELGRAD_CUDA_TOOLKIT``, ``$CUDA_PATH``, ``/usr/local/cuda`` or ``nvcc``'s), with the
wheels' headers hidden.

Output: a table on stdout and ``<--out>/aot-cuda.json`` / ``.md`` (default ``runs/aot/``; the committed
report is ``benchmarks/results/``) (one row per kernel
instantiation x arch).  ``tests/kernels/test_nvrtc_compile.py`` runs the same compile and fails on a
compile error, a declared name expression that did not compile, a spill in a float16 / bfloat16 /
float32 kernel, an ``.ftz`` instruction, a half-precision GEMM without tensor-core instructions, or more
than 48 KB of static shared memory.  float64 spills are reported, not failed.

Regenerate the committed report (about a minute on 2 cores)::

    python -m benchmarks.aot_cuda --out benchmarks/results         # both archs, the wheels setup
    python -m benchmarks.aot_cuda --setup toolkit --arch 90 --family conv2d --out /tmp/aot

What this cannot tell: speed, occupancy at real launch sizes, or whether the kernels give the right
numbers on a GPU.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import io
import json
import multiprocessing
import os
import platform
import re
import sys
import time
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks._io import write_text

ROOT = Path(__file__).resolve().parents[1]
KERNEL_DIR = ROOT / "kernels" / "cupy"
#: Default output: git-ignored, so a run never overwrites the committed report in benchmarks/results/
#: (refresh that one on purpose with ``--out benchmarks/results``).
RESULTS = Path("runs") / "aot"
ARCHS = ("90", "80")
SETUPS = ("wheels", "toolkit")
#: Spills fail the check for these storage types; float64 runs on the FMA path and is reported only.
SPILL_CHECKED_TYPES = ("__half", "__nv_bfloat16", "float")
#: Static shared memory a block may use without opting in (every architecture).
STATIC_SMEM_LIMIT = 48 * 1024
#: The GEMM kernels whose __half / __nv_bfloat16 instantiations must use tensor cores (WMMA) on sm_80 and sm_90.
TENSOR_CORE_KERNELS = (
    "conv2d_forward_kernel", "conv2d_backward_input_kernel", "conv2d_backward_weight_kernel",
    "conv2d_gather_backward_input_kernel",  # the conv2d ladder's rung 2 (rung2_register_wmma.cu)
    # the conv2d ladder's rung 3 (rung3_stride_phase.cu: production's single-stage loop before cp.async)
    "conv2d_phase_forward_kernel", "conv2d_phase_backward_input_kernel", "conv2d_phase_backward_weight_kernel",
    # the conv2d ladder's rung 4 (rung4_cp_async.cu: the pipelined loop with element-wise weight gathers)
    "conv2d_cpasync_forward_kernel", "conv2d_cpasync_backward_input_kernel", "conv2d_cpasync_backward_weight_kernel",
    "linear_forward_kernel", "linear_backward_input_kernel", "linear_backward_weight_kernel",
    "linear_relu_dropout_forward_kernel",  # the dropout ladder's rung 3: the same GEMM, dropout in its epilogue
    # the linear_relu ladder's rung 2 (rung2_register_wmma.cu: production's single-stage loop before cp.async)
    "linear_regtile_forward_kernel", "linear_regtile_backward_input_kernel", "linear_regtile_backward_weight_kernel",
)
#: Kernels that exist to run on tensor cores in every storage type (conv2d's TF32 path for float32, ALLOW_TF32).
TF32_KERNELS = ("conv2d_forward_tf32_kernel", "conv2d_backward_input_tf32_kernel", "conv2d_backward_weight_tf32_kernel")
#: .ftz instructions that flush nothing of ours: libdevice's expf and double division start from an
#: approximation (ex2.approx / rcp.approx exist only with .ftz) on a range-reduced operand that is never
#: subnormal, then scale and refine without .ftz, so subnormal inputs and results survive.
FTZ_ALLOWED = ("ex2.approx.ftz.f32", "rcp.approx.ftz.f64")
_FTZ = re.compile(r"^\s*(?:@!?%\w+\s+)?([\w.]*\.ftz\b[\w.]*)", re.M)
_TENSOR_CORE_PTX = re.compile(r"\b(wmma\.mma\S*|mma\.sync\S*|wgmma\.mma_async\S*)")
_STORAGE_TYPE = re.compile(r"^_Z\d+\w+?I(6__half|13__nv_bfloat16|f|d)")
_MANGLED_TYPES = {"6__half": "__half", "13__nv_bfloat16": "__nv_bfloat16", "f": "float", "d": "double"}


_MANGLED_ARG = re.compile(r"6__half|13__nv_bfloat16|L[ia]\d+E|[fdasi]")
_ARG_NAMES = {"6__half": "__half", "13__nv_bfloat16": "__nv_bfloat16", "f": "float", "d": "double",
              "a": "signed char", "s": "short", "i": "int"}


def readable(mangled: str) -> str:
    """``_Z21conv2d_forward_kernelI13__nv_bfloat16Ev...`` -> ``conv2d_forward_kernel<__nv_bfloat16>``."""
    m = re.match(r"_Z(\d+)", mangled)
    if m is None:
        return mangled
    start = m.end()
    name = mangled[start : start + int(m.group(1))]
    rest = mangled[start + int(m.group(1)) :]
    if not rest.startswith("I"):
        return name
    args, i = [], 1
    while i < len(rest) and rest[i] != "E":
        tok = _MANGLED_ARG.match(rest, i)
        if tok is None:
            return mangled
        t = tok.group(0)
        args.append(t[2:-1] if t.startswith("L") else _ARG_NAMES[t])
        i = tok.end()
    return f"{name}<{', '.join(args)}>"


def families() -> tuple[str, ...]:
    """Every ``kernels/cupy/<family>.cu`` that has a wrapper module of the same name."""
    return tuple(p.stem for p in sorted(KERNEL_DIR.glob("*.cu")) if (KERNEL_DIR / f"{p.stem}.py").is_file())


def ladder_modules() -> tuple[str, ...]:
    """Every ladder rung with CUDA C of its own (``kernels/cupy/ladder/<family>/<rung>.cu`` next to its ``.py``),
    as a module name under ``kernels.cupy`` (``ladder.conv2d.rung0_direct``); a rung that re-exports the
    production kernel has no ``.cu`` and is covered by its family."""
    return tuple(".".join(p.relative_to(KERNEL_DIR).with_suffix("").parts)
                 for p in sorted(KERNEL_DIR.glob("ladder/*/*.cu")) if p.with_suffix(".py").is_file())


def toolkit_root() -> Path | None:
    """A CUDA toolkit for the ``toolkit`` setup: its root holds ``include/crt/mma.h``."""
    candidates = [os.environ.get(v) for v in ("KERNELGRAD_CUDA_TOOLKIT", "CUDA_PATH", "CUDA_HOME")]
    candidates.append("/usr/local/cuda")
    nvcc = __import__("shutil").which("nvcc")
    if nvcc:
        candidates.append(str(Path(nvcc).resolve().parent.parent))
    for c in candidates:
        if c and (Path(c) / "include" / "crt" / "mma.h").is_file() and (Path(c) / "include" / "cuda_fp16.h").is_file():
            return Path(c).resolve()
    return None


def nvrtc_unavailable() -> str | None:
    """Why NVRTC cannot be used through CuPy here, or None."""
    try:
        from cupy.cuda import nvrtc

        nvrtc.getVersion()
    except Exception as exc:  # ImportError, or NVRTC's shared library missing
        return f"CuPy's NVRTC is not usable: {type(exc).__name__}: {exc}"
    return None


@dataclass
class KernelRow:
    """One compiled kernel entry (an instantiation) for one architecture."""

    family: str
    arch: str
    mangled: str
    name_expression: str | None  # None: instantiated by the .cu but not launched by a wrapper
    storage_type: str | None
    registers: int | None = None
    spill_stores: int | None = None
    spill_loads: int | None = None
    stack_frame: int | None = None
    shared_bytes: int = 0
    tensor_core: list[str] = field(default_factory=list)  # tensor-core PTX instructions, distinct
    ftz: int = 0  # PTX instructions with .ftz, except FTZ_ALLOWED


@dataclass
class ModuleResult:
    """One ``.cu`` for one architecture in one header setup."""

    family: str  # a family (conv2d) or a ladder rung's module (ladder.conv2d.rung0_direct)
    arch: str
    setup: str
    source: str  # the .cu, relative to kernels/cupy (what the SourceModule names)
    name_expressions: list[str]
    lowered: dict[str, str] = field(default_factory=dict)
    options: list[str] = field(default_factory=list)
    header_options: list[str] = field(default_factory=list)
    image_kind: str = ""
    kernels: list[KernelRow] = field(default_factory=list)
    error: str | None = None
    compile_s: float = 0.0


# ------------------------------------------------------------------------------------------ worker


def _init_worker(setup: str, toolkit: str | None) -> None:
    """Make this process see one header setup, before CuPy looks for headers (it caches the answer)."""
    for var in ("CUDA_PATH", "CUDA_HOME"):
        os.environ.pop(var, None)
    if setup == "toolkit":
        os.environ["CUDA_PATH"] = str(toolkit)
    try:
        import cuda.pathfinder._headers.find_nvidia_headers as finder
    except ImportError:  # CuPy 13: no cuda-pathfinder; the environment alone decides
        pass
    else:
        wheels = finder.find_in_site_packages
        finder.FIND_STEPS = (wheels,) if setup == "wheels" else tuple(s for s in finder.FIND_STEPS if s is not wheels)
        finder.locate_nvidia_header_directory.cache_clear()
    os.environ["CUPY_CACHE_IN_MEMORY"] = "1"


def _wrapper_module(family: str) -> types.ModuleType:
    """``kernels.cupy.<family>`` without ``kernels/cupy/__init__.py``'s check for a GPU or the emulator:
    the wrappers only declare their SourceModules at import."""
    if "kernels.cupy" not in sys.modules:
        import kernels

        package = types.ModuleType("kernels.cupy")
        package.__path__ = [str(KERNEL_DIR)]
        package.__package__ = "kernels.cupy"
        sys.modules["kernels.cupy"] = package
        kernels.cupy = package  # type: ignore[attr-defined]
    return importlib.import_module(f"kernels.cupy.{family}")


def _ptx_functions(ptx: str) -> dict[str, str]:
    """Body of every ``.entry`` / ``.func`` of a PTX module, by name."""
    bodies: dict[str, str] = {}
    for m in re.finditer(r"^\s*(?:\.visible\s+|\.weak\s+)?\.(?:entry|func)\s+(?:\([^)]*\)\s*)?(\w+)", ptx, re.M):
        start = ptx.find("{", m.end())
        depth, i = 0, start
        while i < len(ptx):
            depth += ptx[i] == "{"
            depth -= ptx[i] == "}"
            if depth == 0:
                break
            i += 1
        bodies[m.group(1)] = ptx[start : i + 1]
    return bodies


def _reachable(entry: str, bodies: dict[str, str]) -> str:
    """An entry's body and those of the functions it calls."""
    seen, todo, text = {entry}, [entry], []
    while todo:
        body = bodies.get(todo.pop(), "")
        text.append(body)
        for callee in re.findall(r"call(?:\.uni)?\s*(?:\([^)]*\),\s*)?(\w+)", body):
            if callee not in seen:
                seen.add(callee)
                todo.append(callee)
    return "\n".join(text)


def parse_ptxas_log(log: str) -> dict[str, dict[str, int]]:
    """``ptxas -v`` lines per entry function: registers, spills, stack frame, shared memory."""
    info: dict[str, dict[str, int]] = {}
    current = None
    for line in log.splitlines():
        if m := re.search(r"Compiling entry function '(\w+)'", line):
            current = info.setdefault(m.group(1), {})
        elif m := re.search(r"Function properties for (\w+)", line):
            current = info.get(m.group(1))  # None for device functions: their lines are skipped
        elif current is not None and (m := re.search(
                r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)):
            current.update(stack_frame=int(m.group(1)), spill_stores=int(m.group(2)), spill_loads=int(m.group(3)))
        elif current is not None and (m := re.search(r"Used (\d+) registers", line)):
            current["registers"] = int(m.group(1))
            smem = re.search(r"(\d+) bytes smem", line)
            current["shared_bytes"] = int(smem.group(1)) if smem else 0
    return info


def compile_family(family: str, arch: str, setup: str) -> list[ModuleResult]:
    """Compile every SourceModule of one wrapper for one architecture (runs in a worker process)."""
    from cupy.cuda import compiler, nvrtc

    module = _wrapper_module(family)
    from kernels.cupy import _runtime

    # The architecture is given, not read from a GPU: bypass the per-device memoisation of CuPy's
    # architecture-option helper (its body is unchanged).
    compiler._get_arch_for_options_for_nvrtc = getattr(
        compiler._get_arch_for_options_for_nvrtc, "__wrapped__", compiler._get_arch_for_options_for_nvrtc)
    captured: list[str] = []
    original = compiler._NVRTCProgram.compile

    def compile_and_keep_ptx(self, options=(), log_stream=None):
        out = original(self, options, log_stream)
        captured.append(nvrtc.getPTX(self.ptr).decode(errors="replace").rstrip("\0"))
        return out

    compiler._NVRTCProgram.compile = compile_and_keep_ptx
    results = []
    for source_module in [v for v in vars(module).values() if isinstance(v, _runtime.SourceModule)]:
        res = ModuleResult(family, arch, setup, source_module.path.relative_to(KERNEL_DIR).as_posix(),
                           list(source_module.name_expressions))
        log = io.StringIO()
        captured.clear()
        start = time.perf_counter()
        try:
            res.header_options = list(_runtime.cuda_header_options())
            res.options = list(_runtime.nvrtc_options(source_module.defines))
            image, lowered = _runtime.nvrtc_compile(
                source_module.path, source_module.name_expressions, arch=arch, defines=source_module.defines,
                extra_options=("--ptxas-options=-v",), log_stream=log)
        except Exception as exc:
            res.error = f"{type(exc).__name__}: {exc}"
            results.append(res)
            continue
        res.compile_s = time.perf_counter() - start
        res.lowered = lowered
        res.image_kind = "cubin" if image.startswith(b"\x7fELF") else "ptx"
        by_mangled = {v: k for k, v in lowered.items()}
        bodies = _ptx_functions(captured[-1] if captured else "")
        for mangled, props in sorted(parse_ptxas_log(log.getvalue()).items()):
            typ = _STORAGE_TYPE.match(mangled)
            text = _reachable(mangled, bodies)
            res.kernels.append(KernelRow(
                family, arch, mangled, by_mangled.get(mangled), _MANGLED_TYPES[typ.group(1)] if typ else None,
                props.get("registers"), props.get("spill_stores"), props.get("spill_loads"), props.get("stack_frame"),
                props.get("shared_bytes", 0), sorted(set(_TENSOR_CORE_PTX.findall(text))),
                sum(op not in FTZ_ALLOWED for op in _FTZ.findall(text)),
            ))
        results.append(res)
    return results


# ---------------------------------------------------------------------------------------- driver


def run(archs=ARCHS, setups=("wheels",), family_names=None, jobs: int | None = None) -> list[ModuleResult]:
    """Compile every family and ladder rung for every arch in every setup: one process pool per setup."""
    family_names = tuple(family_names or families() + ladder_modules())
    return run_plan({setup: [(f, a) for f in family_names for a in archs] for setup in setups}, jobs)


def ci_plan(setups=SETUPS) -> dict[str, list[tuple[str, str]]]:
    """What the CI test compiles, per setup: ``(module, arch)`` pairs.

    ``wheels`` (the usual install): the production families for sm_90 and sm_80, the ladder rungs below
    production for sm_90 only (teaching code, benchmarked on Hopper; the Triton rungs follow the same rule);
    ``toolkit`` (a CUDA toolkit's headers instead of the wheels'): everything for sm_90 only -- the setup
    checks which headers NVRTC finds, which the architecture does not change.  ``run()`` / the command line
    still compile any combination."""
    plan = {"wheels": [(f, a) for f in families() for a in ARCHS] + [(m, "90") for m in ladder_modules()],
            "toolkit": [(m, "90") for m in families() + ladder_modules()]}
    return {setup: plan[setup] for setup in setups}


def run_plan(plan: dict[str, list[tuple[str, str]]], jobs: int | None = None) -> list[ModuleResult]:
    """Compile each setup's ``(module, arch)`` pairs (:func:`ci_plan`'s shape): one process pool per setup."""
    jobs = jobs or os.cpu_count() or 1
    toolkit = toolkit_root()
    results: list[ModuleResult] = []
    ctx = multiprocessing.get_context("spawn")  # a fresh CuPy per worker: it caches the headers it found
    for setup, pairs in plan.items():
        if setup == "toolkit" and toolkit is None:
            raise RuntimeError("the toolkit setup needs a CUDA toolkit (KERNELGRAD_CUDA_TOOLKIT or CUDA_PATH)")
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                                                    initargs=(setup, str(toolkit) if toolkit else None)) as pool:
            futures = [pool.submit(compile_family, f, a, setup) for f, a in pairs]
            for fut in futures:
                results.extend(fut.result())
    return results


def problems(results: list[ModuleResult]) -> list[str]:
    """What fails the CI check (see the module docstring); empty when everything is fine."""
    out = []
    for res in results:
        where = f"{res.setup} sm_{res.arch} {res.source}"
        if res.error:
            out.append(f"{where}: compile error: {res.error[:3000]}")
            continue
        compiled = {k.name_expression for k in res.kernels}
        for expr in res.name_expressions:
            if expr not in res.lowered or expr not in compiled:
                out.append(f"{where}: {expr} was not compiled (no lowered name or no ptxas report)")
        for k in res.kernels:
            name = k.name_expression or readable(k.mangled)
            if k.storage_type in SPILL_CHECKED_TYPES and (k.spill_stores or k.spill_loads):
                out.append(f"{where}: {name} spills ({k.spill_stores} B stored, {k.spill_loads} B loaded)")
            if k.ftz:
                out.append(f"{where}: {name} has {k.ftz} .ftz instructions (subnormals would flush)")
            if k.shared_bytes > STATIC_SMEM_LIMIT:
                out.append(f"{where}: {name} uses {k.shared_bytes} B of static shared memory (> 48 KB)")
            base = (k.name_expression or "").split("<")[0]
            must_use = (base in TENSOR_CORE_KERNELS and k.storage_type in ("__half", "__nv_bfloat16")) or (
                base in TF32_KERNELS)
            if must_use and not k.tensor_core:
                out.append(f"{where}: {name} has no tensor-core instruction in its PTX")
    return out


def _path_labels() -> dict[str, str]:
    import sysconfig

    labels = {sysconfig.get_paths()["purelib"]: "<site-packages>", str(ROOT): "<repo>"}
    toolkit = toolkit_root()
    if toolkit is not None:
        labels[str(toolkit)] = "<toolkit>"
    return labels


def versions() -> dict[str, str]:
    import cupy
    from cupy.cuda import nvrtc

    return {"python": platform.python_version(), "cupy": cupy.__version__,
            "nvrtc": ".".join(map(str, nvrtc.getVersion())), "platform": platform.platform()}


def markdown(results: list[ModuleResult], meta: dict) -> str:
    lines = [
        "# Ahead-of-time NVRTC compile of the CUDA C kernels",
        "",
        f"Generated by `python -m benchmarks.aot_cuda` on {meta['date']} (no GPU: compiled only, nothing ran). "
        f"NVRTC {meta['versions']['nvrtc']}, CuPy {meta['versions']['cupy']}, header setup `{meta['setups']}`. "
        "Registers, spills and static shared memory are NVRTC's own ptxas (`--ptxas-options=-v`) on the "
        "cubin a GPU of that architecture would load; *tensor cores* lists the tensor-core PTX instructions "
        "of the kernel (WMMA compiles to `wmma.mma.sync`, HMMA in SASS); *ftz* counts `.ftz` instructions "
        "other than libdevice's `ex2.approx.ftz.f32` / `rcp.approx.ftz.f64` on range-reduced operands "
        "(compiled with `-ftz=false`; CuPy's default `-ftz=true` would flush in nearly every float32 "
        "instruction). Rows without a name expression are instantiated by "
        "the .cu but not launched by a wrapper (bfloat16 of the families other than conv2d, whose wrappers refuse "
        "it; conv2d's take bfloat16 as `BFloat16Array`).",
        "",
        f"Problems found by the CI check: {len(meta['problems'])}" + "".join(f"\n- {p}" for p in meta["problems"]),
        "",
    ]
    for arch in sorted({r.arch for r in results}, reverse=True):
        lines += [f"## sm_{arch}", "",
                  "| kernel | regs | spill st/ld (B) | stack (B) | smem (B) | tensor cores | ftz |",
                  "|---|---|---|---|---|---|---|"]
        for res in results:
            if res.arch != arch or res.setup != meta["setups"].split(",")[0]:
                continue
            if res.error:
                lines.append(f"| {res.source}: **compile error** | | | | | | |")
                continue
            for k in sorted(res.kernels, key=lambda k: (k.name_expression is None, k.name_expression or k.mangled)):
                name = f"`{k.name_expression}`" if k.name_expression else f"`{readable(k.mangled)}` (not launched)"
                lines.append(f"| {name} | {k.registers} | {k.spill_stores}/{k.spill_loads} | {k.stack_frame} | "
                             f"{k.shared_bytes} | {', '.join(k.tensor_core) or '-'} | {k.ftz} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", nargs="+", default=list(ARCHS), choices=ARCHS)
    parser.add_argument("--setup", nargs="+", default=["wheels"], choices=SETUPS)
    parser.add_argument("--family", nargs="+", default=None, choices=families() + ladder_modules())
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"output folder (default {RESULTS})")
    args = parser.parse_args(argv)
    why = nvrtc_unavailable()
    if why:
        print(why, file=sys.stderr)
        return 2
    start = time.perf_counter()
    results = run(args.arch, args.setup, args.family, args.jobs)
    found = problems(results)
    meta = {"date": time.strftime("%Y-%m-%d"), "device": "none (ahead-of-time compile; no GPU)",
            "versions": versions(), "setups": ",".join(args.setup), "archs": args.arch,
            "wall_s": round(time.perf_counter() - start, 1), "problems": found}
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps({**meta, "modules": [asdict(r) for r in results]}, indent=1)
    for path, label in _path_labels().items():  # machine-independent paths in the committed record
        text = text.replace(path, label)
    write_text(args.out / "aot-cuda.json", text)
    write_text(args.out / "aot-cuda.md", markdown(results, meta))
    print(f"{'setup':8} {'arch':5} {'kernel':58} {'regs':>4} {'spill':>9} {'smem':>6} tensor-cores")
    for res in results:
        if res.error:
            print(f"{res.setup:8} {res.arch:5} {res.source}: COMPILE ERROR")
            continue
        for k in res.kernels:
            if k.name_expression:
                print(f"{res.setup:8} {res.arch:5} {k.name_expression:58} {k.registers:>4} "
                      f"{k.spill_stores:>4}/{k.spill_loads:<4} {k.shared_bytes:>6} {','.join(k.tensor_core) or '-'}")
    print(f"\n{len(found)} problem(s) in {meta['wall_s']} s; wrote {args.out / 'aot-cuda.json'} and .md")
    for p in found:
        print(" -", p)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
