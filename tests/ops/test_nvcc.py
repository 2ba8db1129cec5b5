"""Every cuda/*.cu compiles with nvcc (cubin, sm_80 and sm_90) with warnings as errors.

Runs scripts/check_cuda.sh's nvcc step; skipped with a reason when nvcc is absent.
The host (g++) build with -Wall -Wextra -Werror is covered by the host_backend fixture.
"""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from pointwm.ops._backend import cuda_source_dir, load_source

ARCHS = ("sm_80", "sm_90")
SOURCES = sorted(cuda_source_dir().glob("*.cu"))


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
def test_nvcc_compiles_every_kernel(tmp_path):
    assert SOURCES, f"no .cu files under {cuda_source_dir()}"

    def compile_one(job):
        src, arch = job
        cmd = ["nvcc", "-cubin", f"-arch={arch}", "-Werror", "all-warnings",
               f"-I{src.parent}", str(src), "-o", str(tmp_path / f"{src.stem}.{arch}.cubin")]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        return src.name, arch, res.returncode, res.stdout + res.stderr

    jobs = [(s, a) for s in SOURCES for a in ARCHS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(compile_one, jobs))
    failures = [f"{name} [{arch}]:\n{out}" for name, arch, rc, out in results if rc or out.strip()]
    assert not failures, "\n".join(failures)


def _load_nvrtc():
    """libnvrtc (the compiler cupy uses at run time), or None. No GPU needed."""
    import ctypes
    import ctypes.util
    import importlib.util
    from pathlib import Path

    candidates = []
    try:
        spec = importlib.util.find_spec("nvidia.cuda_nvrtc")  # pip nvidia-cuda-nvrtc-cu12
    except ModuleNotFoundError:  # no `nvidia` namespace package at all
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            candidates += sorted(Path(loc, "lib").glob("libnvrtc.so*"))
    found = ctypes.util.find_library("nvrtc")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        try:
            return ctypes.CDLL(str(path))
        except OSError:
            continue
    return None


NVRTC = _load_nvrtc()


@pytest.mark.skipif(NVRTC is None, reason="libnvrtc not found (pip install nvidia-cuda-nvrtc-cu12)")
@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
def test_nvrtc_compiles_every_kernel(arch):
    """The runtime path: the same self-contained source string the CupyBackend gives NVRTC."""
    import ctypes

    failures = []
    for src in SOURCES:
        prog = ctypes.c_void_p()
        code = load_source(src.stem).encode()  # exactly the string CupyBackend compiles
        assert b"#include" not in code.replace(b'#include "host_emulation.h"', b"")
        rc = NVRTC.nvrtcCreateProgram(ctypes.byref(prog), code, src.name.encode(), 0, None, None)
        assert rc == 0, f"nvrtcCreateProgram({src.name}) -> {rc}"
        opts = [f"--gpu-architecture={arch}"]  # no include path: headers are inlined
        arr = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
        rc = NVRTC.nvrtcCompileProgram(prog, len(opts), arr)
        size = ctypes.c_size_t()
        NVRTC.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        buf = ctypes.create_string_buffer(size.value)
        NVRTC.nvrtcGetProgramLog(prog, buf)
        NVRTC.nvrtcDestroyProgram(ctypes.byref(prog))
        text = buf.value.decode(errors="replace").strip()
        if rc != 0 or "warning" in text or "error" in text:
            failures.append(f"{src.name} [{arch}] rc={rc}:\n{text}")
    assert not failures, "\n".join(failures)
