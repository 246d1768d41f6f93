"""kernels/cupy/_runtime.py: every launch checked against its kernel's C signature, and the GPU path's glue.

* The signatures ``_signatures`` reads from the ``.cu`` sources agree with the compiler: g++ (with the
  emulator header) checks ``decltype(&kernel<...>)`` of every declared name expression against them.
* ``SourceModule.launch`` refuses an argument of the wrong width or dtype, a wrong count, a bare Python
  number, and a block larger than the kernel's ``__launch_bounds__`` — on both runtimes, so every launch
  the kernel tests make is checked.
* The GPU path (NVRTC image -> disk cache -> ``cupy.RawModule(path=...)`` -> kernel by mangled name) with
  CuPy's loader replaced by a recorder: no GPU here, so loading and launching for real is unverified.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import types

import numpy as np
import pytest

from kernels.cupy import _runtime, _signatures
from kernels.cupy.emulator import HEADER, available, cuda_include_dir

FAMILIES = ("conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout")


def _modules():
    out = []
    for family in FAMILIES:
        try:
            module = importlib.import_module(f"kernels.cupy.{family}")
        except ImportError as exc:
            pytest.skip(f"kernels.cupy not importable: {exc}")
        out += [v for v in vars(module).values() if isinstance(v, _runtime.SourceModule)]
    return out


# ----------------------------------------------------------------------------------- signatures


def test_every_declared_name_expression_has_a_signature():
    for sm in _modules():
        for expr in sm.name_expressions:
            sig = sm.signature(expr)
            assert sig.params and all(p.dtype is not None for p in sig.params), expr


def _norm_decl(param: _signatures.Param) -> str:
    return f"{param.ctype}{'*' if param.pointer else ''}"


@pytest.mark.skipif(not available()[0], reason=f"g++ or the CUDA headers missing: {available()[1]}")
@pytest.mark.parametrize("family", FAMILIES)
def test_parsed_signatures_match_the_compiler(family, tmp_path):
    """g++ compiles a static_assert per name expression: the parsed parameter types are the real ones."""
    sms = [sm for sm in _modules() if sm.path.stem == family]
    lines = ["#include <tuple>", "#include <type_traits>", f'#include "{sms[0].path}"',
             "template <typename A> using kg_norm = std::conditional_t<std::is_pointer_v<A>,",
             "    std::remove_cv_t<std::remove_pointer_t<A>>*, std::remove_cv_t<A>>;",
             "template <typename F> struct kg_params;",
             "template <typename... A> struct kg_params<void (*)(A...)> { using type = std::tuple<kg_norm<A>...>; };"]
    for sm in sms:
        for expr in sm.name_expressions:
            want = ", ".join(_norm_decl(p) for p in sm.signature(expr).params)
            lines.append(f"static_assert(std::is_same_v<kg_params<decltype(&{expr})>::type, std::tuple<{want}>>, "
                         f'"{expr}");')
    unit = tmp_path / "signatures.cpp"
    unit.write_text("\n".join(lines) + "\n")
    cmd = [shutil.which("g++") or "g++", "-std=c++20", "-fsyntax-only", "-w", "-include", str(HEADER),
           f"-I{_runtime.KERNEL_DIR}", f"-I{cuda_include_dir()}", str(unit)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_parser_reads_template_ints_constants_and_launch_bounds():
    source = """
    constexpr int THREADS = 4 * 64;   // 256
    template <typename T, int ROWS>
    __global__ void __launch_bounds__(ROWS * 32) k(const T* __restrict__ x, kg::acc_t<T>* acc, long long n,
                                                   unsigned long long seed) { }
    template __global__ void k<float, 2>(const float*, float*, long long, unsigned long long);
    extern "C" __global__ void __launch_bounds__(THREADS) plain(int* out, float s) { }
    """
    kernels = _signatures.parse_kernels(source)
    assert set(kernels) == {"k", "plain"}
    sig = _signatures.resolve(kernels["k"], "k<__half, 4>", _signatures.constants(source))
    assert [(_norm_decl(p), p.dtype) for p in sig.params] == [
        ("__half*", np.float16), ("float*", np.float32), ("long long", np.int64), ("unsigned long long", np.uint64)]
    assert sig.max_threads == 128
    sig = _signatures.resolve(kernels["k"], "k<double, 1>", {})
    assert sig.params[1].dtype == np.float64 and sig.max_threads == 32
    assert _signatures.resolve(kernels["plain"], "plain", _signatures.constants(source)).max_threads == 256
    with pytest.raises(ValueError, match="template arguments"):
        _signatures.resolve(kernels["k"], "k<float>", {})
    with pytest.raises(ValueError, match="unsupported parameter type"):
        _signatures.resolve(_signatures.parse_kernels("__global__ void f(size_t n) {}")["f"], "f", {})


# --------------------------------------------------------------------------------- launch checks


@pytest.fixture
def emulated(monkeypatch):
    monkeypatch.setenv(_runtime.EMULATE_ENV, "1")


def _conv_forward_args(dtype=np.float32, **replace):
    x = np.zeros((1, 1, 3, 3), dtype)
    args = [x, np.zeros((1, 1, 1, 1), dtype), np.zeros(1, dtype), np.zeros((1, 1, 3, 3), dtype)]
    args += [np.int32(v) for v in (1, 1, 3, 3, 1, 1, 1, 3, 3, 1, 1, 0, 0, 0)]
    for i, v in replace.items():
        args[int(i[1:])] = v
    return args


def test_launch_refuses_arguments_that_do_not_match_the_kernel(emulated):
    conv = importlib.import_module("kernels.cupy.conv2d")
    sig = conv.MODULE.signature("conv2d_forward_kernel<float>")
    _runtime.check_kernel_args(sig, _conv_forward_args(), (256, 1, 1))  # the wrapper's own launch: fine
    with pytest.raises(TypeError, match=r"argument 4 \(int N\) needs a numpy.int32 scalar.*got numpy.int64"):
        _runtime.check_kernel_args(sig, _conv_forward_args(a4=np.int64(1)))
    with pytest.raises(TypeError, match=r"argument 17 \(int has_bias\).*got int"):
        _runtime.check_kernel_args(sig, _conv_forward_args(a17=0))
    with pytest.raises(TypeError, match=r"argument 0 \(float\* x\) needs a float32 array, got dtype float64"):
        _runtime.check_kernel_args(sig, _conv_forward_args(a0=np.zeros(9)))
    with pytest.raises(TypeError, match=r"argument 1 \(float\* w_packed\) must be an array"):
        _runtime.check_kernel_args(sig, _conv_forward_args(a1=np.float32(0)))
    with pytest.raises(TypeError, match="takes 18 arguments"):
        _runtime.check_kernel_args(sig, _conv_forward_args()[:-1])
    # through SourceModule.launch: refused before anything is compiled or run
    with pytest.raises(TypeError, match="needs a numpy.int32"):
        conv.MODULE.launch("conv2d_forward_kernel<float>", (1,), (256,), _conv_forward_args(a5=np.int64(1)))


def test_launch_respects_launch_bounds(emulated):
    sx = importlib.import_module("kernels.cupy.softmax_xent")
    name = sx._forward_name("float", 32, 4)
    assert sx.MODULE.signature(name).max_threads == 128
    with pytest.raises(ValueError, match=r"__launch_bounds__\(128\)"):
        sx.MODULE.launch(name, (1,), (256,), ())
    lin = importlib.import_module("kernels.cupy.linear_relu")
    assert lin.MODULE.signature("linear_forward_kernel<__half>").max_threads == lin.THREADS


def test_wrapper_launch_constants_match_the_cu_files():
    lin = importlib.import_module("kernels.cupy.linear_relu")
    sx = importlib.import_module("kernels.cupy.softmax_xent")
    consts = _signatures.constants(lin.MODULE.path.read_text())
    assert (consts["TILE_M"], consts["TILE_N"], consts["THREADS"]) == (lin.TILE_M, lin.TILE_N, lin.THREADS)
    consts = _signatures.constants(sx.MODULE.path.read_text())
    assert (consts["ITEMS"], consts["MEAN_THREADS"]) == (sx.ITEMS, sx.MEAN_THREADS)


# ----------------------------------------------------------------------------------- NVRTC glue


def test_nvrtc_options_keep_subnormals():
    pytest.importorskip("cupy")
    options = _runtime.nvrtc_options(("KG_TEST=1",))
    assert f"-I{_runtime.KERNEL_DIR}" in options and _runtime.NVRTC_STD in options and "-DKG_TEST=1" in options
    assert options[-1] == "-ftz=false" and "-ftz=true" not in options


class _FakeRawModule:
    loaded: list[str] = []

    def __init__(self, *, path):
        self.path = path
        _FakeRawModule.loaded.append(path)
        self.calls = []

    def get_function(self, name):
        return lambda grid, block, args: self.calls.append((name, grid, block, args))


def test_gpu_path_compiles_once_caches_and_launches_by_mangled_name(monkeypatch, tmp_path):
    """NVRTC -> disk cache -> RawModule(path=...) -> get_function(mangled), with CuPy's loader recorded."""
    cupy = pytest.importorskip("cupy")
    monkeypatch.delenv(_runtime.EMULATE_ENV, raising=False)
    monkeypatch.setenv("KERNELGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cupy, "RawModule", _FakeRawModule)
    monkeypatch.setattr(cupy.cuda, "Device", lambda: types.SimpleNamespace(id=0, compute_capability="90"))
    monkeypatch.setattr(_runtime, "array_type", lambda: np.ndarray)
    monkeypatch.setattr(_runtime, "nvrtc_options", lambda defines=(): ("-ftz=false",))
    compiles = []

    def fake_compile(path, name_expressions, arch=None, defines=(), extra_options=(), log_stream=None):
        compiles.append((path.name, tuple(name_expressions), arch))
        return b"\x7fELF fake cubin", {e: f"_Z_mangled_{i}" for i, e in enumerate(name_expressions)}

    monkeypatch.setattr(_runtime, "nvrtc_compile", fake_compile)
    do = importlib.import_module("kernels.cupy.dropout")
    args = [np.zeros(4, np.float32), np.zeros(4, np.float32), np.int64(4), np.float32(0.5), np.float32(2.0),
            np.uint64(1), np.uint64(0)]
    for _ in range(2):
        sm = _runtime.SourceModule("dropout.cu", do.MODULE.name_expressions)  # a fresh process, twice
        sm.launch("dropout_kernel<float>", (1,), (32,), args)
    assert compiles == [("dropout.cu", do.MODULE.name_expressions, None)]  # arch None: the current GPU's
    cubins = list((tmp_path / "nvrtc").glob("dropout-*.cubin"))
    assert len(cubins) == 1 and cubins[0].read_bytes() == b"\x7fELF fake cubin"
    assert _FakeRawModule.loaded[-2:] == [str(cubins[0])] * 2
    raw = sm._module()._raw
    index = do.MODULE.name_expressions.index("dropout_kernel<float>")
    assert raw.calls == [(f"_Z_mangled_{index}", (1, 1, 1), (32, 1, 1), tuple(args))]


def test_missing_crt_headers_name_the_fix(monkeypatch):
    compiler = pytest.importorskip("cupy.cuda.compiler")

    def fail(*args, **kwargs):
        raise compiler.CompileException('mma.h(55): catastrophic error: cannot open source file "crt/mma.h"',
                                        "", "conv2d.cu", ())

    monkeypatch.setattr(compiler, "compile_using_nvrtc", fail)
    monkeypatch.setattr(_runtime, "nvrtc_options", lambda defines=(): ())
    with pytest.raises(RuntimeError, match=r"nvidia-cuda-nvcc-cu12.*kernelgrad\[cupy\]"):
        _runtime.nvrtc_compile(_runtime.KERNEL_DIR / "conv2d.cu", ["conv2d_forward_kernel<float>"], arch="90")



def test_gpu_cache_key_covers_sources_in_ladder_subfolders(monkeypatch, tmp_path):
    """A rung's .cu may include another rung's from a subfolder: editing that one must re-key the NVRTC cache."""
    cupy = pytest.importorskip("cupy")
    kernels = tmp_path / "kernels"
    (kernels / "ladder" / "fam").mkdir(parents=True)
    for f in _runtime.KERNEL_DIR.glob("*.cu*"):
        (kernels / f.name).write_bytes(f.read_bytes())
    included = kernels / "ladder" / "fam" / "rung.cu"
    included.write_text("// rung 1\n")
    monkeypatch.setattr(_runtime, "KERNEL_DIR", kernels)
    monkeypatch.delenv(_runtime.EMULATE_ENV, raising=False)
    monkeypatch.setenv("KERNELGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cupy, "RawModule", _FakeRawModule)
    monkeypatch.setattr(cupy.cuda, "Device", lambda: types.SimpleNamespace(id=0, compute_capability="90"))
    monkeypatch.setattr(_runtime, "nvrtc_options", lambda defines=(): ("-ftz=false",))
    compiles = []

    def fake_compile(path, name_expressions, arch=None, defines=(), extra_options=(), log_stream=None):
        compiles.append(path.name)
        return b"\x7fELF fake cubin", {e: f"_Z_mangled_{i}" for i, e in enumerate(name_expressions)}

    monkeypatch.setattr(_runtime, "nvrtc_compile", fake_compile)
    names = ("dropout_kernel<float>",)
    _runtime.SourceModule("dropout.cu", names)._module()
    _runtime.SourceModule("dropout.cu", names)._module()
    assert compiles == ["dropout.cu"]  # cached
    included.write_text("// rung 1, edited\n")
    _runtime.SourceModule("dropout.cu", names)._module()
    assert compiles == ["dropout.cu", "dropout.cu"]
