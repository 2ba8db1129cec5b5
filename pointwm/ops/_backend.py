"""Kernel backends and dispatch for ``pointwm.ops``: cupy on CUDA, a host emulation for tests.

Each op in ``pointwm.ops`` writes its kernel path once against the small :class:`Backend`
protocol (``launch(module, kernel, n, *args)``) and has a PyTorch reference. Two backends
implement the protocol:

* :class:`CupyBackend` compiles ``cuda/<module>.cu`` with NVRTC through ``cupy.RawModule``
  at first use on each device and launches on torch CUDA tensors zero-copy through DLPack,
  on PyTorch's current stream. Needs the optional ``cupy-cuda12x`` package.
* :class:`HostBackend` loads the same ``.cu`` sources compiled by g++ with
  ``cuda/host_emulation.h`` (see :func:`build_host_backend`) and runs each launch as a
  sequential loop over emulated blocks and threads on CPU tensors' memory (ctypes). The
  test suite uses it to run the kernels' indexing and reduction logic without a GPU.

Kernel arguments: a tensor becomes a pointer to its (contiguous) data, a Python ``int`` a
``long long``, a Python ``float`` a ``double``; ``n`` is the number of work items of the
kernel's grid-stride loop.

:func:`kernel_backend` picks the backend for an op and a device: ``None`` (use the
reference) when ``POINTWM_OPS_REFERENCE=1``, on CPU tensors, when cupy or the ``cuda/``
sources are missing, or when the op's first-call self-check against the reference failed
on that device (each of these warns once).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import math
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from pointwm.errors import InputError
from pointwm.paths import CUDA_SOURCES

__all__ = [
    "Backend",
    "CupyBackend",
    "HostBackend",
    "build_host_backend",
    "cuda_source_dir",
    "kernel_backend",
    "load_source",
    "reference_forced",
    "register_self_check",
    "reset_self_checks",
]

log = logging.getLogger(__name__)

ENV_REFERENCE = "POINTWM_OPS_REFERENCE"
ENV_CUDA_DIR = "POINTWM_CUDA_DIR"
MODULES = ("scatter", "segment_reduce", "voxel", "subm_conv")


class Backend(Protocol):
    """Something that runs the kernels of ``cuda/<module>.cu`` on tensors' memory."""

    name: str

    def launch(self, module: str, kernel: str, n: int, *args: Tensor | int | float) -> None:
        """Run ``kernel`` of ``cuda/<module>.cu`` over ``n`` work items with ``args``."""
        ...


def cuda_source_dir() -> Path:
    """The folder holding the ``.cu`` sources: ``$POINTWM_CUDA_DIR``, else the shipped ``cuda/``.

    The shipped folder is the checkout's ``cuda/`` or an installed wheel's copy
    (``pointwm.paths.CUDA_SOURCES``).
    """
    env = os.environ.get(ENV_CUDA_DIR)
    return Path(env) if env else CUDA_SOURCES


_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.MULTILINE)


def load_source(module: str, source_dir: Path | None = None) -> str:
    """The CUDA source of ``cuda/<module>.cu`` with its local ``#include "*.cuh"`` inlined.

    NVRTC gets one self-contained string, so cupy's compile cache (keyed on the source
    text) is invalidated when a shared header changes, and no include path is needed.
    Each header is inlined once (they all use ``#pragma once``).
    """
    source_dir = source_dir or cuda_source_dir()
    seen: set[str] = set()

    def expand(path: Path) -> str:
        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if not name.endswith(".cuh") or not (source_dir / name).is_file():
                return m.group(0)  # host_emulation.h sits in an #ifndef __CUDACC__ block
            if name in seen:
                return f"// {name} already included"
            seen.add(name)
            return f"// begin {name}\n{expand(source_dir / name)}\n// end {name}"

        return _INCLUDE.sub(repl, path.read_text())

    return expand(source_dir / f"{module}.cu")


def reference_forced() -> bool:
    """True when ``POINTWM_OPS_REFERENCE`` is set to a true value (1, true, yes, on)."""
    return os.environ.get(ENV_REFERENCE, "").strip().lower() in ("1", "true", "yes", "on")


def _check_tensor_arg(module: str, kernel: str, i: int, a: Tensor, device: torch.device) -> None:
    if not a.is_contiguous():
        raise InputError(f"{module}.{kernel}: tensor argument {i} is not contiguous")
    if a.device != device:
        raise InputError(f"{module}.{kernel}: tensor argument {i} on {a.device}, expected {device}")


# --------------------------------------------------------------------------------------
# CUDA through cupy (NVRTC + DLPack). Not exercised without a GPU.
# --------------------------------------------------------------------------------------


class CupyBackend:
    """Launch ``cuda/*.cu`` kernels on torch CUDA tensors through cupy (NVRTC, DLPack).

    Modules are compiled once per (module, device) on first use. Launches go on
    ``torch.cuda.current_stream(device)``, so they order correctly with surrounding torch
    work without synchronisation; cupy raises if the launch itself fails.
    """

    name = "cupy"
    block = 256
    device_type = "cuda"  # tests substitute a fake cupy and CPU tensors

    def __init__(self, source_dir: Path | None = None) -> None:
        import cupy  # noqa: F401  (fail here, not at the first launch)

        self.source_dir = source_dir or cuda_source_dir()
        self._modules: dict[tuple[str, int], Any] = {}

    def _function(self, module: str, kernel: str, device_index: int) -> Any:
        import cupy

        key = (module, device_index)
        mod = self._modules.get(key)
        if mod is None:
            code = load_source(module, self.source_dir)
            mod = cupy.RawModule(code=code, backend="nvrtc")
            self._modules[key] = mod
        return mod.get_function(kernel)

    def launch(self, module: str, kernel: str, n: int, *args: Tensor | int | float) -> None:
        import cupy

        if n <= 0:
            return
        tensors = [a for a in args if isinstance(a, Tensor)]
        device = tensors[0].device
        if device.type != self.device_type:
            raise InputError(f"{module}.{kernel}: CupyBackend needs CUDA tensors, got {device}")
        index, stream_ptr, sms = self._device_info(device)
        with cupy.cuda.Device(index):
            with cupy.cuda.ExternalStream(stream_ptr):
                fn = self._function(module, kernel, index)
                cargs: list[Any] = []
                for i, a in enumerate(args):
                    if isinstance(a, Tensor):
                        _check_tensor_arg(module, kernel, i, a, device)
                        cargs.append(cupy.from_dlpack(a.detach()))
                    elif isinstance(a, bool):
                        raise TypeError(f"{module}.{kernel}: argument {i} is a bool")
                    elif isinstance(a, int):
                        cargs.append(np.int64(a))
                    elif isinstance(a, float):
                        cargs.append(np.float64(a))
                    else:
                        raise TypeError(f"{module}.{kernel}: argument {i} has type {type(a)}")
                grid = max(1, min(math.ceil(n / self.block), sms * 32))
                fn((grid,), (self.block,), tuple(cargs))

    @staticmethod
    def _device_info(device: torch.device) -> tuple[int, int, int]:
        """(device index, torch's current stream handle on it, multiprocessor count)."""
        index = device.index if device.index is not None else torch.cuda.current_device()
        stream = torch.cuda.current_stream(index).cuda_stream
        return index, stream, torch.cuda.get_device_properties(index).multi_processor_count


# --------------------------------------------------------------------------------------
# Host emulation (g++ + cuda/host_emulation.h + ctypes): the CPU test harness.
# --------------------------------------------------------------------------------------


class HostBackend:
    """Run the host-compiled ``.cu`` kernels on CPU tensors, one emulated thread at a time.

    ``grid`` x ``block`` emulated threads each run the kernel's grid-stride loop in turn,
    so the kernels' indexing is exercised with more than one thread (stride > 1). For
    tests only: single-threaded and not fast.
    """

    name = "host"

    def __init__(self, libraries: dict[str, Path], grid: int = 3, block: int = 4) -> None:
        self.grid, self.block = grid, block
        self._libs = {name: ctypes.CDLL(str(path)) for name, path in libraries.items()}

    def launch(self, module: str, kernel: str, n: int, *args: Tensor | int | float) -> None:
        if n <= 0:
            return
        lib = self._libs[module]
        fn = getattr(lib, kernel)
        fn.restype = None
        cargs: list[Any] = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                _check_tensor_arg(module, kernel, i, a, torch.device("cpu"))
                cargs.append(ctypes.c_void_p(a.data_ptr()))
            elif isinstance(a, bool):
                raise TypeError(f"{module}.{kernel}: argument {i} is a bool")
            elif isinstance(a, int):
                cargs.append(ctypes.c_longlong(a))
            elif isinstance(a, float):
                cargs.append(ctypes.c_double(a))
            else:
                raise TypeError(f"{module}.{kernel}: argument {i} has type {type(a)}")
        grid = max(1, min(self.grid, math.ceil(n / self.block)))
        set_thread = lib.pwm_set_thread
        set_thread.argtypes = [ctypes.c_longlong] * 4
        for b in range(grid):
            for t in range(self.block):
                set_thread(b, t, grid, self.block)
                fn(*cargs)


def build_host_library(source: Path, out_dir: Path, compiler: str = "g++") -> Path:
    """Compile one ``.cu`` file for the host into ``out_dir`` (cached by source hash).

    Uses ``-Wall -Wextra -Werror``; raises ``RuntimeError`` with the compiler's output.
    """
    src_dir = source.parent
    digest = hashlib.sha256()
    for p in sorted([source, *src_dir.glob("*.cuh"), *src_dir.glob("*.h")]):
        digest.update(p.name.encode() + p.read_bytes())
    out = out_dir / f"{source.stem}-{digest.hexdigest()[:16]}.so"
    if out.exists():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    cmd = [compiler, "-std=c++17", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror",
           "-x", "c++", f"-I{src_dir}", str(source), "-o", str(tmp)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"host build of {source} failed:\n{' '.join(cmd)}\n{res.stderr}")
    tmp.replace(out)
    return out


def build_host_backend(out_dir: Path, source_dir: Path | None = None, **kw: int) -> HostBackend:
    """Compile every kernel module with g++ into ``out_dir`` and load them as a HostBackend."""
    source_dir = source_dir or cuda_source_dir()
    if shutil.which("g++") is None:
        raise RuntimeError("g++ not found: cannot build the host-emulated kernels")
    libs = {m: build_host_library(source_dir / f"{m}.cu", out_dir) for m in MODULES}
    return HostBackend(libs, **kw)


# --------------------------------------------------------------------------------------
# Dispatch with a first-call self-check per (op, device).
# --------------------------------------------------------------------------------------

SelfCheck = Callable[[Backend, torch.device], None]
_SELF_CHECKS: dict[str, SelfCheck] = {}
_checked: dict[tuple[str, str, str], bool] = {}
_warned: set[str] = set()
_cupy_backend: CupyBackend | None = None


def register_self_check(op: str, check: SelfCheck) -> None:
    """Register ``check(backend, device)``: raises (any exception) if the kernel disagrees."""
    _SELF_CHECKS[op] = check


def reset_self_checks() -> None:
    """Forget self-check results and issued warnings (tests)."""
    _checked.clear()
    _warned.clear()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def _device_backend(device: torch.device) -> Backend | None:
    """The kernel backend for tensors on ``device``, or None (CPU, or CUDA without cupy)."""
    global _cupy_backend
    if device.type != "cuda":
        return None
    if _cupy_backend is None:
        if not cuda_source_dir().is_dir():
            _warn_once("no-sources", f"pointwm.ops: kernel sources not found at {cuda_source_dir()} "
                       f"(set {ENV_CUDA_DIR}); using the PyTorch reference on CUDA")
            return None
        try:
            _cupy_backend = CupyBackend()
        except ImportError:
            _warn_once("no-cupy", "pointwm.ops: cupy is not installed, using the PyTorch "
                       "reference on CUDA (pip install 'pointwm[cuda]' for the kernels)")
            return None
    return _cupy_backend


def kernel_backend(op: str, device: torch.device) -> Backend | None:
    """The backend to run ``op`` on ``device``, or None to use the PyTorch reference.

    The first call per (op, backend, device) runs the op's registered self-check; if it
    raises, the op falls back to the reference on that device with one RuntimeWarning.
    """
    if reference_forced():
        return None
    backend = _device_backend(device)
    if backend is None:
        return None
    key = (op, backend.name, str(device))
    ok = _checked.get(key)
    if ok is None:
        _checked[key] = False  # a failing or re-entrant check never recurses into the kernel
        try:
            _SELF_CHECKS[op](backend, device)
            ok = True
        except Exception as exc:  # noqa: BLE001  (any failure means: do not trust the kernel)
            ok = False
            _warn_once(f"check:{key}", f"pointwm.ops.{op}: the {backend.name} kernel failed its "
                       f"self-check on {device} ({type(exc).__name__}: {exc}); using the PyTorch "
                       "reference instead")
        _checked[key] = ok
        log.debug("pointwm.ops.%s self-check on %s via %s: %s", op, device, backend.name, ok)
    return backend if ok else None


def assert_close(op: str, got: Tensor, want: Tensor, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Self-check comparison raising AssertionError with the largest difference."""
    if got.shape != want.shape or got.dtype != want.dtype:
        raise AssertionError(f"{op}: got {tuple(got.shape)} {got.dtype}, "
                             f"expected {tuple(want.shape)} {want.dtype}")
    if got.is_floating_point():
        if not torch.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
            diff = (got - want).abs().max().item()
            raise AssertionError(f"{op}: max abs difference {diff:.3g} from the reference")
    elif not torch.equal(got, want):
        raise AssertionError(f"{op}: {(got != want).sum().item()} entries differ from the reference")
