"""Every CUDA C kernel compiles through NVRTC exactly as kernels/cupy/_runtime.py compiles it on a GPU.

No GPU needed: ``benchmarks/aot_cuda.py`` calls ``_runtime.nvrtc_compile`` — CuPy's own option assembly,
kernelgrad's options, CuPy's ``compile_using_nvrtc`` — with an explicit ``-arch=sm_90`` / ``sm_80`` for
every name expression that the wrappers' ``SourceModule``s declare, the optimisation-ladder rungs' with
their own ``.cu`` included (a new instantiation or rung is covered automatically), in two CUDA header
setups, each in its own process:

* ``wheels``: the pip wheels only (``nvidia-cuda-runtime-cu12``, ``-nvrtc-cu12``, ``-nvcc-cu12``;
  ``CUDA_PATH`` unset, no toolkit searched): the usual case next to a CUDA build of torch;
* ``toolkit``: a CUDA toolkit through ``CUDA_PATH``, the wheels' headers hidden.

What is compiled is ``aot_cuda.ci_plan``: the production families for sm_90 and sm_80, the ladder rungs
below production and the toolkit setup for sm_90 only (the header setup does not depend on the architecture;
rungs are benchmarked on Hopper).  The compile runs once per test session (module fixture, a process per
core) and each test reads its part.  Fails on: a compile error; a declared name expression that was not
compiled; a spill in a float16 / bfloat16 / float32 kernel (float64 spills are reported in
benchmarks/results/aot-cuda.md, not failed); a flush-to-zero instruction (the kernels keep subnormals); a
half-precision GEMM without tensor-core instructions; static shared memory over 48 KB.  Skips with the reason
when CuPy or its NVRTC is not installed (``pip install -e '.[aot]'``) or, for the toolkit setup, when no
toolkit is found.
"""

from __future__ import annotations

import pytest

from benchmarks import aot_cuda

WHY_NOT = aot_cuda.nvrtc_unavailable()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"{WHY_NOT} (pip install -e '.[aot]')")

FAMILIES = aot_cuda.families()
TOOLKIT = aot_cuda.toolkit_root()
#: (setup, arch, module) compiled: aot_cuda.ci_plan -- production for sm_90 and sm_80, ladder rungs and the
#: toolkit setup for sm_90 only; the toolkit setup where a toolkit is found.
PLAN = aot_cuda.ci_plan(("wheels", "toolkit") if TOOLKIT is not None else ("wheels",))
COMBOS = [pytest.param(setup, arch, module, id=f"{setup}-sm_{arch}-{module}")
          for setup, pairs in PLAN.items() for module, arch in pairs]


@pytest.fixture(scope="module")
def compiled() -> dict[tuple[str, str, str], list[aot_cuda.ModuleResult]]:
    """(setup, arch, family) -> that family's compiled modules, for every setup present (compiled once)."""
    out: dict[tuple[str, str, str], list[aot_cuda.ModuleResult]] = {}
    for res in aot_cuda.run_plan(PLAN):
        out.setdefault((res.setup, res.arch, res.family), []).append(res)
    return out


def test_every_family_is_checked():
    assert set(FAMILIES) == {"conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout", "optim_step"}
    assert "ladder.conv2d.rung0_direct" in aot_cuda.ladder_modules()
    plan = aot_cuda.ci_plan()
    assert {(f, a) for f in FAMILIES for a in ("90", "80")} <= set(plan["wheels"])  # production: both archs
    every = FAMILIES + aot_cuda.ladder_modules()
    for setup in plan:  # every module for sm_90 in every setup
        assert {(m, "90") for m in every} <= set(plan[setup]), setup


@pytest.mark.parametrize(("setup", "arch", "family"), COMBOS)
def test_nvrtc_compiles_every_name_expression(compiled, setup, arch, family):
    results = compiled[(setup, arch, family)]
    assert results, f"{family}.py declares no SourceModule"
    for res in results:
        assert res.error is None, f"NVRTC failed on {res.source} ({setup}, sm_{arch}):\n{res.error}"
        assert "-ftz=false" in res.options and "-ftz=true" not in res.options
        assert res.image_kind == "cubin"  # -arch=sm_XY: the image a GPU of that architecture loads
    found = aot_cuda.problems(results)
    assert not found, "\n".join(found)
    every = [k for res in results for k in res.kernels]
    assert {k.name_expression for k in every} >= {e for res in results for e in res.name_expressions}


def test_wheel_headers_get_crt_from_the_nvcc_wheel(compiled):
    """The pip-wheel setup: the runtime wheel has mma.h but not crt/mma.h, so the nvcc wheel's include is added."""
    res = compiled[("wheels", "90", "conv2d")][0]
    assert res.error is None, res.error
    assert len(res.header_options) == 1 and res.header_options[0].endswith("include"), res.header_options
    assert res.header_options[0] in res.options


@pytest.mark.skipif(TOOLKIT is None, reason="no CUDA toolkit (set CUDA_PATH)")
def test_toolkit_headers_need_nothing_extra(compiled):
    res = compiled[("toolkit", "90", "conv2d")][0]
    assert res.header_options == [] and f"-I{TOOLKIT / 'include'}" in res.options


def test_half_gemms_use_tensor_cores(compiled):
    for setup, arch, family in compiled:
        for res in compiled[(setup, arch, family)]:
            for k in res.kernels:
                if k.name_expression and k.name_expression.split("<")[0] in aot_cuda.TENSOR_CORE_KERNELS:
                    if k.storage_type in ("__half", "__nv_bfloat16"):  # conv2d launches bfloat16 (BFloat16Array)
                        assert any(i.startswith("wmma.mma") for i in k.tensor_core), (setup, arch, k)
                    else:
                        assert not k.tensor_core, (setup, arch, k)  # fp32 stays IEEE FMA (no TF32)


def test_the_checks_can_fail():
    """problems() reports each kind of finding on a doctored result (the compile is not needed for this)."""
    row = dict(family="f", arch="90", mangled="_Z1kIfEvv", name_expression="conv2d_forward_kernel<__half>",
               storage_type="__half", registers=255, spill_stores=8, spill_loads=8, stack_frame=8,
               shared_bytes=64 * 1024, tensor_core=[], ftz=2)
    res = aot_cuda.ModuleResult("f", "90", "wheels", "f.cu", ["conv2d_forward_kernel<__half>", "missing<float>"],
                                lowered={"conv2d_forward_kernel<__half>": "_Z1kIfEvv"},
                                kernels=[aot_cuda.KernelRow(**row)])
    text = "\n".join(aot_cuda.problems([res]))
    for expected in ("missing<float> was not compiled", "spills", ".ftz", "static shared memory", "tensor-core"):
        assert expected in text
    row.update(storage_type="double", name_expression="conv2d_forward_kernel<double>", ftz=0, shared_bytes=0)
    res.kernels = [aot_cuda.KernelRow(**row)]
    res.name_expressions = ["conv2d_forward_kernel<double>"]
    res.lowered = {"conv2d_forward_kernel<double>": "_Z1kIfEvv"}
    assert aot_cuda.problems([res]) == []  # float64 spills are reported, not failed
    # a TF32 kernel (ALLOW_TF32's float32 path) must show tensor-core instructions in every storage type
    row.update(storage_type="float", name_expression="conv2d_forward_tf32_kernel<float>", spill_stores=0,
               spill_loads=0)
    res.kernels = [aot_cuda.KernelRow(**row)]
    res.name_expressions = ["conv2d_forward_tf32_kernel<float>"]
    res.lowered = {"conv2d_forward_tf32_kernel<float>": "_Z1kIfEvv"}
    assert "tensor-core" in "\n".join(aot_cuda.problems([res]))


def test_ftz_detection_on_real_ptx():
    """The .ftz scan flags CuPy's default (-ftz=true) and passes -ftz=false, on NVRTC's own PTX."""
    from cupy.cuda import nvrtc

    source = ('extern "C" __global__ void k(const float* x, float* y) '
              "{ y[0] = x[0] * x[1] > x[2] ? __expf(x[3]) : x[4]; }")

    def flushed(option: str) -> list[str]:
        prog = nvrtc.createProgram(source, "k.cu", (), ())
        try:
            nvrtc.compileProgram(prog, (option, "-arch=compute_90"))
            ptx = nvrtc.getPTX(prog).decode(errors="replace")
        finally:
            nvrtc.destroyProgram(prog)
        return [op for op in aot_cuda._FTZ.findall(ptx) if op not in aot_cuda.FTZ_ALLOWED]

    assert flushed("-ftz=true")  # mul.ftz.f32 / setp.gt.ftz.f32
    assert flushed("-ftz=false") == []


def test_ptxas_log_parser():
    log = """ptxas info    : Compiling entry function '_Z1kIfEvv' for 'sm_90'
ptxas info    : Function properties for _Z1kIfEvv
ptxas         .     16 bytes stack frame, 12 bytes spill stores, 8 bytes spill loads
ptxas info    : Used 40 registers, used 1 barriers, 8320 bytes smem, 400 bytes cmem[0]
ptxas info    : Function properties for helper
ptxas         .     99 bytes stack frame, 99 bytes spill stores, 99 bytes spill loads
"""
    assert aot_cuda.parse_ptxas_log(log) == {
        "_Z1kIfEvv": {"stack_frame": 16, "spill_stores": 12, "spill_loads": 8, "registers": 40, "shared_bytes": 8320}
    }
