"""Dispatch: reference forcing, kernel use, self-check fallback with one warning."""

from __future__ import annotations

import importlib.util
import warnings

import pytest
import torch

from pointwm import ops
from pointwm.ops import _backend
from pointwm.ops.scatter import scatter_reference


class Recording:
    """Backend proxy that records the kernels it launches."""

    def __init__(self, inner, corrupt: bool = False, fail: bool = False):
        self.inner, self.corrupt, self.fail = inner, corrupt, fail
        self.name = "recording"
        self.launched: list[str] = []

    def launch(self, module, kernel, n, *args):
        self.launched.append(kernel)
        if self.fail:
            raise RuntimeError("NVRTC compilation failed (simulated)")
        self.inner.launch(module, kernel, n, *args)
        if self.corrupt:
            next(a for a in args if isinstance(a, torch.Tensor) and a.dtype.is_floating_point
                 and a is not args[0]).add_(1)  # perturb the output


@pytest.fixture()
def use_backend(monkeypatch):
    monkeypatch.delenv(_backend.ENV_REFERENCE, raising=False)
    _backend.reset_self_checks()

    def install(backend):
        monkeypatch.setattr(_backend, "_device_backend", lambda d: backend)
        return backend

    yield install
    _backend.reset_self_checks()


def test_kernels_are_used(use_backend, host_backend):
    rec = use_backend(Recording(host_backend))
    src, index = torch.randn(100, 3), torch.randint(0, 10, (100,))
    ops.scatter(src, index, 10, "max")
    assert {"scatter_max_f32", "scatter_arg_f32"} <= set(rec.launched)
    ops.segment_reduce(src, torch.tensor([0, 50, 100]), "mean")
    assert "segment_reduce_f32" in rec.launched
    ops.subm_rulebook(torch.randint(0, 4, (30, 3)))
    assert {"voxel_key_i64", "voxel_unpack_i64", "subm_neighbor_map_i64"} <= set(rec.launched)


def test_env_forces_reference(use_backend, host_backend, monkeypatch):
    use_backend(host_backend)
    assert _backend.kernel_backend("scatter", torch.device("cpu")) is host_backend
    monkeypatch.setenv(_backend.ENV_REFERENCE, "1")
    assert _backend.kernel_backend("scatter", torch.device("cpu")) is None


@pytest.mark.parametrize("mode", ["corrupt", "fail"])
def test_self_check_failure_falls_back_with_one_warning(use_backend, host_backend, mode):
    rec = use_backend(Recording(host_backend, corrupt=mode == "corrupt", fail=mode == "fail"))
    src, index = torch.randn(100, 3), torch.randint(0, 10, (100,))
    with pytest.warns(RuntimeWarning, match="failed its self-check") as record:
        got = ops.scatter(src, index, 10, "sum")
    assert len(record) == 1
    torch.testing.assert_close(got, scatter_reference(src, index, 10, "sum"))
    launched = len(rec.launched)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reduce in ("sum", "mean", "max"):
            ops.scatter(src, index, 10, reduce)  # no second warning, no more kernel launches
    assert len(rec.launched) == launched


def test_self_check_runs_once(use_backend, host_backend):
    rec = use_backend(Recording(host_backend))
    src, index = torch.randn(10, 2), torch.randint(0, 3, (10,))
    ops.scatter(src, index, 3)
    first = len(rec.launched)
    ops.scatter(src, index, 3)
    assert len(rec.launched) - first == 1  # one scatter_sum launch, no self-check


def test_cpu_uses_reference_without_override():
    assert _backend.kernel_backend("scatter", torch.device("cpu")) is None


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="cupy is installed")
def test_cuda_without_cupy_warns_once(monkeypatch):
    monkeypatch.delenv(_backend.ENV_REFERENCE, raising=False)
    monkeypatch.setattr(_backend, "_cupy_backend", None)
    _backend.reset_self_checks()
    with pytest.warns(RuntimeWarning, match="cupy is not installed") as record:
        assert _backend._device_backend(torch.device("cuda")) is None
        assert _backend._device_backend(torch.device("cuda")) is None
    assert len(record) == 1
    _backend.reset_self_checks()


def test_cuda_sources_layout():
    src = _backend.cuda_source_dir()
    assert not (src / "__init__.py").exists(), "cuda/ must not be an importable package"
    assert sorted(p.stem for p in src.glob("*.cu")) == sorted(_backend.MODULES)


# ---- the CupyBackend's own code, run against a stand-in cupy on CPU memory -------------


class _FakeKernel:
    def __init__(self, lib, name, log):
        self.fn, self.lib, self.name, self.log = getattr(lib, name), lib, name, log

    def __call__(self, grid, block, args):
        import ctypes

        import numpy as np

        cargs = []
        for a in args:  # exactly the types cupy accepts for `long long`, `double`, pointers
            if isinstance(a, _FakeArray):
                cargs.append(ctypes.c_void_p(a.tensor.data_ptr()))
            elif isinstance(a, np.int64):
                cargs.append(ctypes.c_longlong(int(a)))
            elif isinstance(a, np.float64):
                cargs.append(ctypes.c_double(float(a)))
            else:
                raise TypeError(f"{self.name}: cupy would not take {type(a)}")
        self.log.append((self.name, grid, block))
        self.fn.restype = None
        self.lib.pwm_set_thread.argtypes = [ctypes.c_longlong] * 4
        for b in range(grid[0]):  # every thread of the real launch configuration
            for t in range(block[0]):
                self.lib.pwm_set_thread(b, t, grid[0], block[0])
                self.fn(*cargs)


class _FakeArray:
    def __init__(self, tensor):
        assert not tensor.requires_grad, "DLPack export of a tensor that requires grad"
        self.tensor = tensor


class _FakeCupy:
    """Just enough of cupy for CupyBackend: RawModule, from_dlpack, cuda.Device/ExternalStream."""

    def __init__(self, host):
        from contextlib import nullcontext
        from types import SimpleNamespace

        self.host, self.compiled, self.launches, self.streams = host, [], [], []

        def stream(ptr):
            self.streams.append(ptr)
            return nullcontext()

        self.cuda = SimpleNamespace(Device=lambda i: nullcontext(), ExternalStream=stream)

    def RawModule(self, code, backend):  # noqa: N802 (cupy's name)
        assert backend == "nvrtc" and '#include "common.cuh"' not in code
        module = next(m for m in _backend.MODULES if _backend.load_source(m) == code)
        self.compiled.append(module)
        lib, log = self.host._libs[module], self.launches
        return type("Mod", (), {"get_function": lambda _, name: _FakeKernel(lib, name, log)})()

    def from_dlpack(self, tensor):
        return _FakeArray(tensor)


def test_cupy_backend_with_stand_in_cupy(use_backend, host_backend, monkeypatch):
    """Marshalling, launch configuration, module cache, stream hand-off and dispatch of the
    CupyBackend, with a stand-in cupy that runs the host-compiled kernels (no GPU here)."""
    import sys

    fake = _FakeCupy(host_backend)
    monkeypatch.setitem(sys.modules, "cupy", fake)

    class CpuCupyBackend(_backend.CupyBackend):
        device_type = "cpu"

        @staticmethod
        def _device_info(device):
            return 0, 1234, 1  # index, stream handle, 1 SM -> at most 32 blocks

    use_backend(CpuCupyBackend())
    gen = torch.Generator().manual_seed(15)
    src = torch.randn(3000, 4, generator=gen, dtype=torch.float64).requires_grad_()
    index = torch.randint(0, 90, (3000,), generator=gen)
    for reduce in ("sum", "mean", "max", "min"):
        got = ops.scatter(src, index, 90, reduce)
        want = scatter_reference(src.detach(), index, 90, reduce)
        for a, b in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,), strict=True):
            torch.testing.assert_close(a.detach(), b)
    got[0].sum().backward()  # autograd around the kernel path
    assert src.grad is not None and int((src.grad != 0).sum()) <= 90 * 4
    indptr = torch.tensor([0, 10, 10, 2000, 3000])
    torch.testing.assert_close(ops.segment_reduce(src.detach(), indptr, "mean"),
                               ops.scatter(src.detach(), torch.repeat_interleave(
                                   torch.arange(4), indptr.diff()), 4, "mean"))
    coord = ops.grid_coords(src.detach()[:, :3].float(), 0.2)
    rb = ops.subm_rulebook(coord)
    assert torch.equal(rb.coord[rb.inverse], coord)
    assert not any(not ok for ok in _backend._checked.values()), _backend._checked
    assert sorted(set(fake.compiled)) == sorted(fake.compiled)  # compiled once per module
    assert set(fake.streams) == {1234}  # every launch on torch's current stream
    scatter_launches = [(g, b) for name, g, b in fake.launches if name == "scatter_sum_f64"]
    assert ((32,), (256,)) in scatter_launches  # 3000*4 items: grid capped at 32 * SMs
